"""The UI for real: `dagster dev -w workspace.yaml` on a free port against a temporary
instance, driven through GraphQL, and pages rendered in headless Chromium: the asset
graph; fct_sessions' page with its row count, typed columns, owner and code link; retention's
and the funnel's pages with their pictures and tables; the audit trail's page with the run's rows.

The screenshot is kept as a test artifact in ``test-artifacts/`` at the repository root.
"""

import os
import re
import shutil
import signal
import struct
import subprocess
import time
import urllib.request

import duckdb
import pytest
from dagster import AssetRecordsFilter, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter

from product_analytics.config import PROJECT_ROOT
from product_analytics.definitions import defs
from product_analytics.ingestion.assets import raw_events, raw_source_tables
from product_analytics.instance import ensure_dagster_home
from product_analytics.resources.recovery import run_process_id
from product_analytics.transform.assets import dbt_daily_models
from product_analytics.ui import DagsterUI

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ASSET_NODES = """
{ assetNodes {
    assetKey { path } isMaterializable isPartitioned
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
} }
"""
WRITERS = ["raw/events", "raw/users", "raw/posts", "raw/orders"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1600,1000",
    "--virtual-time-budget=20000",
]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """The server on a temporary Dagster home and warehouse (the simulator at test scale)."""
    root = tmp_path_factory.mktemp("ui")
    env = {**os.environ, "PA_DATA_DIR": str(root / "data"), "DAGSTER_HOME": str(root / "dagster_home")}
    env.pop("PA_DUCKDB_PATH", None)
    home = ensure_dagster_home(root / "dagster_home")
    with DagsterUI(home, root / "dagster_dev.log", env=env) as server:
        server.root = root
        yield server


def test_the_asset_graph_has_every_asset_and_check(ui):
    nodes = ui.graphql(ASSET_NODES)["assetNodes"]
    served = {"/".join(n["assetKey"]["path"]): sorted(c["name"] for c in n["assetChecksOrError"].get("checks", [])) for n in nodes}
    graph = defs.resolve_asset_graph()
    expected = {key.to_user_string(): sorted(c.name for c in graph.get_check_keys_for_assets([key])) for key in graph.get_all_asset_keys()}
    assert served == expected
    assert len(served) > 40
    assert served["raw/events"] == [
        "every_input_row_accounted_for",
        "latest_partition_loaded",
        "no_events_later_than_the_lookback",
        "quarantine_rate_within_threshold",
    ]
    assert "unique_fct_sessions_session_id" in served["marts/fct_sessions"]
    partitioned = {"/".join(n["assetKey"]["path"]) for n in nodes if n["isPartitioned"]}
    assert {"raw/events", "raw/users", "intermediate/int_sessions_aggregated", "marts/fct_event_paths"} <= partitioned
    assert "marts/retention_cohorts" not in partitioned


def _step_windows(instance: DagsterInstance, run_id: str) -> list[tuple[float, float, str]]:
    """(start, end, step) of each step of a run, from its event log."""
    starts, ends = {}, {}
    for record in instance.get_records_for_run(run_id, limit=100000).records:
        entry = record.event_log_entry
        if entry.dagster_event is None or not entry.step_key:
            continue
        if entry.dagster_event.event_type == DagsterEventType.STEP_START:
            starts[entry.step_key] = entry.timestamp
        elif entry.dagster_event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            ends[entry.step_key] = entry.timestamp
    return [(starts[step], ends[step], step) for step in starts]


def test_two_runs_launched_together_succeed_one_writer_after_the_other(ui):
    days = ["2026-03-10", "2026-03-11"]
    keys = [w.split("/") for w in WRITERS]
    run_ids = [ui.launch_run("__ASSET_JOB", keys, tags={"dagster/partition": day}) for day in days]
    assert [ui.wait_for_run(run_id, timeout=600) for run_id in run_ids] == ["SUCCESS", "SUCCESS"]

    instance = DagsterInstance.from_config(str(ui.home))
    windows = sorted(w for run_id in run_ids for w in _step_windows(instance, run_id) if w[2] in ("raw__events", "raw_source_tables"))
    assert len(windows) == 4  # the two writers of each run
    for (_, end, first), (start, _, second) in zip(windows, windows[1:], strict=False):
        assert start >= end, f"{second} started before {first} ended: two writers at once"
    database = ui.root / "data" / "warehouse.duckdb"
    with duckdb.connect(str(database), read_only=True) as conn:
        loaded = conn.execute("select event_date::varchar, count(*) > 0 from raw.events group by 1 order by 1").fetchall()
        loads = conn.execute("select event_date::varchar from raw.event_loads order by 1").fetchall()
    assert loaded == [(days[0], True), (days[1], True)]
    assert loads == [(days[0],), (days[1],)]


def test_the_asset_graph_renders_in_headless_chromium(ui):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: `make setup` installs Debian's chromium package"
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "asset_graph.png"
    screenshot.unlink(missing_ok=True)
    flags = CHROMIUM_FLAGS
    location, _ = ui.location()
    url = f"{ui.url}/locations/{location}/asset-groups/ingestion"
    dom = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for name in ("events", "users", "posts", "orders", "stg_app__events"):
        assert f">{name}<" in dom.stdout, f"asset {name} not rendered"
    shot = subprocess.run([chromium, *flags, f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=180)
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def _rendered(url: str) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    dom = subprocess.run([chromium, *CHROMIUM_FLAGS, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout


def _screenshot(url: str, path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--window-size")] + ["--window-size=1600,2600"]  # the page's length
    shot = subprocess.run([chromium, *flags, f"--screenshot={path}", url], capture_output=True, text=True, timeout=180)
    assert shot.returncode == 0, shot.stderr[-2000:]


def test_asset_pages_show_row_counts_typed_columns_owners_code_references_and_pictures(ui):
    run_id = ui.launch_run("daily_pipeline", tags={"dagster/partition": "2026-03-11"})
    assert ui.wait_for_run(run_id, timeout=900) == "SUCCESS"
    with duckdb.connect(str(ui.root / "data" / "warehouse.duckdb"), read_only=True) as conn:
        rows = conn.execute("select count(*) from marts.fct_sessions").fetchone()[0]
    page = _rendered(f"{ui.url}/assets/marts/fct_sessions")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fct_sessions_page.html").write_text(page)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())  # the page's words, as a reader sees them
    assert rows > 0 and f"Row count {rows:,} " in text
    assert "Owners analytics " in text and "fct_sessions.sql" in page
    assert "unserializable" not in text  # no metadata row the UI cannot show
    listed = text[text.index("Column name Type Description") :]
    for column, kind in [("session_id", "varchar"), ("session_number", "bigint"), ("session_start_at", "timestamp")]:
        assert f" {column} {kind} " in listed, column

    # retention's page: the heatmap in place (an image the webserver serves) and the whole
    # cohort table; the funnel's and active users' pages: their charts and their tables
    for asset, picture, words in [
        ("marts/retention_cohorts", "retention_heatmap", "cohort users " + " ".join(f"day_{n}" for n in range(15)) + " "),
        ("marts/agg_product_funnel_daily", "session_funnel", "step latest_day latest_day_share to_date to_date_share page viewed "),
        (
            "marts/agg_active_users_daily",
            "active_users",
            "platform dau wau mau new_users returning_users resurrecting_users dormant_users stickiness all ",
        ),
    ]:
        page = _rendered(f"{ui.url}/assets/{asset}")
        (ARTIFACTS / f"{picture}_page.html").write_text(page)
        _screenshot(f"{ui.url}/assets/{asset}", ARTIFACTS / f"{picture}_page.png")
        address = f"/logs/pictures/{run_id}/{picture}/png"
        assert f'src="{address}"' in page, f"{picture} not shown on {asset}'s page"
        with urllib.request.urlopen(f"{ui.url}{address}", timeout=30) as response:
            png = response.read()
            assert response.headers["content-type"] == "image/png"
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] > 400
        assert words in " ".join(re.sub(r"<[^>]+>", " ", page).split()), f"{asset}'s table not shown"

    # the audit trail's page: the run's rows, one per step and asset, in place
    with duckdb.connect(str(ui.root / "data" / "warehouse.duckdb"), read_only=True) as conn:
        (audited,) = conn.execute("select count(*) from audit.audit_runs where run_id = ?", [run_id]).fetchone()
        events = conn.execute("select rows_loaded from audit.audit_runs where run_id = ? and asset_key = 'raw/events'", [run_id]).fetchone()
    page = _rendered(f"{ui.url}/assets/audit/audit_runs")
    (ARTIFACTS / "audit_runs_page.html").write_text(page)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "step asset_key status rows_loaded rows_quarantined rows_written row_count seconds checks_passed" in text
    assert f"raw__events raw/events success {events[0]} 0 {events[0]} {events[0]} " in text and audited > 40


def _run_building_the_daily_models(instance: DagsterInstance, backfill_id: str, timeout: float) -> str:
    """The backfill's run once its step ``dbt_daily_models`` has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id})):
            steps = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.STEP_START).records
            if any(r.event_log_entry.step_key == "dbt_daily_models" for r in steps):
                return run.run_id
        time.sleep(0.5)
    raise AssertionError(f"no run of backfill {backfill_id} reached dbt_daily_models within {timeout:.0f}s")


def test_a_backfill_finishes_after_dagster_dev_and_its_run_are_killed(ui):
    """Regression: a run killed under the daemon kept its writer slot, every later run stayed
    queued and the backfill never ended. Here `dagster dev` (webserver, daemon, code server)
    and the run's own process are killed while the run builds the daily models, as a crash
    or a reboot would; after a restart the dead run is failed and its slot freed
    (`dead_run_reaper`), Dagster retries it from its failed step, and the backfill completes.
    Runs last in this module: it restarts the module's server."""
    days = ["2026-03-12", "2026-03-13"]
    keys = [key.path for key in [*raw_events.keys, *raw_source_tables.keys, *dbt_daily_models.keys]]
    backfill_id = ui.launch_backfill(keys, days, title="killed under it")
    instance = DagsterInstance.from_config(str(ui.home))
    killed = _run_building_the_daily_models(instance, backfill_id, timeout=600)
    worker = run_process_id(instance, killed)
    os.killpg(ui.process.pid, signal.SIGKILL)
    ui.process.wait()
    os.kill(worker, signal.SIGKILL)
    ui.start()

    backfill = ui.wait_for_backfill(backfill_id, timeout=900)
    assert backfill["status"] == "COMPLETED_SUCCESS"
    runs = {run.run_id: run for run in instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))}
    assert runs[killed].status == DagsterRunStatus.FAILURE
    retries = [run for run in runs.values() if run.tags.get("dagster/parent_run_id") == killed]
    assert [run.status for run in retries] == [DagsterRunStatus.SUCCESS]
    retry = retries[0].run_id

    def materializing_runs(key, day: str) -> list[str]:
        records = instance.fetch_materializations(AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=100).records
        return [r.run_id for r in records]

    for day in days:
        # the ingestion steps had finished: the retry did not run them again (a run of two
        # days records the range, then each day: two records of one run)
        for key in [*raw_events.keys, *raw_source_tables.keys]:
            assert set(materializing_runs(key, day)) == {killed}, (key, day)
        # the daily models were rebuilt by the retry (whatever the dead run had reported)
        for key in dbt_daily_models.keys:
            assert materializing_runs(key, day)[0] == retry, (key, day)
    with duckdb.connect(str(ui.root / "data" / "warehouse.duckdb"), read_only=True) as conn:
        loads = conn.execute(
            "select event_date::varchar, count(*) from raw.event_loads where event_date in (?, ?) group by 1 order by 1", days
        ).fetchall()
        events, distinct = conn.execute(
            "select count(*), count(distinct message_id) from raw.events where event_date in (?, ?)", days
        ).fetchone()
        facts, distinct_facts = conn.execute(
            "select count(*), count(distinct event_id) from intermediate.int_events_sessionized where event_date in (?, ?)", days
        ).fetchone()
    assert loads == [(days[0], 1), (days[1], 1)]
    assert events == distinct > 0 and facts == distinct_facts > 0
