"""Contracts of the dbt project that nothing in dbt itself enforces."""

import json
import os
import shutil
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunner

from product_analytics.config import DBT_PROJECT_DIR
from product_analytics.project import dbt_project
from product_analytics.transform.assets import dbt_daily_models, model_key
from product_analytics_tests.harness import Warehouse


def models() -> dict[str, dict]:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def reads_the_partition_window(node: dict) -> bool:
    """Microbatch models get a batch per day; others read the run's window themselves."""
    return node["config"].get("incremental_strategy") == "microbatch" or "in_run_window(" in node["raw_code"]


def test_every_model_that_reads_the_window_is_daily_and_only_those_or_views():
    """A model that reads the partition window but misses the tag would be built unpartitioned,
    without the window: silently a full rebuild, or today's batch only."""
    for name, node in models().items():
        daily = "daily" in node["tags"]
        if reads_the_partition_window(node):
            assert daily, f"{name} reads the partition window but is not tagged daily"
        elif daily:
            assert node["config"]["materialized"] == "view", f"{name} is tagged daily but neither reads the window nor is a view"


def test_the_daily_definition_holds_exactly_the_daily_models():
    daily = {model_key(name) for name, node in models().items() if "daily" in node["tags"]}
    assert daily and set(dbt_daily_models.keys) == daily


def test_a_singular_test_reads_daily_models_only_or_unpartitioned_ones_only():
    """Regression: a test reading a daily model and an unpartitioned one ran with the daily
    models, before the unpartitioned one existed on a new warehouse, and failed the run."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    nodes = manifest["nodes"]
    singular = [n for n in nodes.values() if n["resource_type"] == "test" and not n.get("test_metadata")]
    assert len(singular) >= 8
    for test in singular:
        read = [nodes[u] for u in test["depends_on"]["nodes"] if u in nodes and nodes[u]["resource_type"] == "model"]
        daily = {"daily" in n["tags"] for n in read}
        assert len(daily) == 1, f"{test['name']} reads daily and unpartitioned models: {sorted(n['name'] for n in read)}"


def test_every_model_has_a_description():
    for name, node in models().items():
        assert node["description"].strip(), f"{name} has no description"


def test_every_public_mart_describes_every_column_it_builds():
    """The UI shows the words beside each column's type; a mart's enforced contract lists
    every column it builds, so every listed column needs its words."""
    marts = {name: node for name, node in models().items() if node["original_file_path"].startswith("models/marts/")}
    assert len(marts) >= 18
    for name, node in marts.items():
        columns = node["columns"]
        assert node["config"]["contract"]["enforced"] and len(columns) >= 6, name
        assert [c for c, props in columns.items() if not props["description"].strip()] == [], name


def test_the_unit_tests_pass(tmp_path):
    """Production builds leave dbt's unit tests out (they check SQL, not data): they run here."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    # Unit tests read the columns of their inputs: build every relation, empty, one batch each.
    one_day = ["--event-time-start", "2026-03-01T00:00:00", "--event-time-end", "2026-03-02T00:00:00"]
    warehouse.dbt("build", "--empty", *one_day, "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
    warehouse.dbt("test", "--select", "resource_type:unit_test")
    results = json.loads((tmp_path / "dbt_target_warehouse" / "run_results.json").read_text())["results"]
    ran = [r for r in results if r["unique_id"].startswith("unit_test.")]  # the on-run-start hook is a result too
    assert len(ran) >= 14 and all(r["status"] == "pass" for r in ran), [(r["unique_id"], r["status"]) for r in ran]


@pytest.mark.parametrize(
    ("drift", "says"),
    [
        ("count(*)::varchar as session_count", "session_count"),  # a type changed
        ("count(*) as sessions", "session_count"),  # a column renamed
    ],
)
def test_a_public_mart_that_drifts_from_its_contract_fails_and_the_old_table_stays(tmp_path, drift, says):
    """Regression: a mart column changed to varchar or renamed built fine. Every public mart
    has an enforced contract: the build fails, naming the column, and the table built before
    stays as it was, readable."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    day = date(2026, 3, 10)
    with duckdb.connect(str(warehouse.path)) as conn:
        conn.executemany(
            """insert into raw.events (event_date, message_id, type, event, anonymous_id, "timestamp", received_at)
               values (?, ?, 'track', 'game_started', ?, ?, ?)""",
            [[day, f"m{i}", f"d{i % 2}", datetime(2026, 3, 10, 9, i), datetime(2026, 3, 10, 9, i)] for i in range(4)],
        )
    warehouse.build_days(day, day)
    warehouse.refresh_sessions()
    before = warehouse.table("marts.fct_user_sessions")
    assert before.column("session_count").to_pylist() == [1, 1]

    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "core" / "fct_user_sessions.sql"
    model.write_text(model.read_text().replace("count(*) as session_count", drift))
    saved = os.environ.get("PA_DUCKDB_PATH")
    os.environ["PA_DUCKDB_PATH"] = str(warehouse.path)
    try:
        result = dbtRunner().invoke(
            ["run", "--select", "fct_user_sessions", "--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
        )
    finally:
        os.environ.pop("PA_DUCKDB_PATH") if saved is None else os.environ.update(PA_DUCKDB_PATH=saved)
    assert not result.success
    (failed,) = [r for r in result.result.results if r.status == "error"]
    assert "contract" in failed.message.lower() and says in failed.message
    after = warehouse.table("marts.fct_user_sessions")
    assert after.schema == before.schema and after.to_pylist() == before.to_pylist()


def test_the_daily_run_tests_only_the_days_of_its_window(tmp_path):
    """A message without an anonymous id on day x breaks `not_null` of stg_app__events: the
    test of a run whose window (with its margin) lies days later passes, the same test
    without a window (the whole history) fails, and so does a window that holds day x."""
    x = date(2026, 3, 20)
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with duckdb.connect(str(warehouse.path)) as conn:
        conn.executemany(
            """insert into raw.events (event_date, message_id, type, event, anonymous_id, "timestamp", received_at)
               values (?, ?, 'track', 'app_opened', ?, ?, ?)""",
            [
                [x, "broken", None, datetime(2026, 3, 20, 9), datetime(2026, 3, 20, 9)],
                [date(2026, 3, 25), "fine", "d1", datetime(2026, 3, 25, 9), datetime(2026, 3, 25, 9)],
            ],
        )
    warehouse.dbt("run", "--select", "stg_app__events")
    test = ["build", "--select", "not_null_stg_app__events_anonymous_id"]  # as the daily run builds its tests

    def window(first: str, end: str) -> list[str]:
        return ["--event-time-start", f"{first}T00:00:00", "--event-time-end", f"{end}T00:00:00"]

    warehouse.dbt(*test, *window("2026-03-24", "2026-03-27"))
    with pytest.raises(AssertionError, match="failed"):
        warehouse.dbt(*test)
    with pytest.raises(AssertionError, match="failed"):
        warehouse.dbt(*test, *window("2026-03-19", "2026-03-22"))


def test_preparing_after_a_macro_changed_keeps_every_singular_tests_description(tmp_path, monkeypatch):
    """dbt's partial parse, after a change to a macro of the models singular tests read,
    drops those tests' descriptions from tests/singular_tests.yml; the project's preparation
    (make setup, and `dagster dev` at each load) parses from scratch then, so every check
    keeps its text."""
    from dagster_dbt import DbtProject

    from product_analytics.project import prepare, singular_tests_without_description

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")  # dbt of this environment
    copy = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=copy)
    prepare(project)
    assert singular_tests_without_description(project.manifest_path) == []

    macro = copy / "macros" / "incremental_changes.sql"
    opening = "{% macro changes_cursor() -%}"
    change = lambda text: macro.write_text(macro.read_text().replace(opening, opening + text))  # noqa: E731
    change("{#- changed -#}")
    project.preparer.prepare(project)  # dbt's partial parse alone
    lost = singular_tests_without_description(project.manifest_path)
    assert "test.product_analytics.assert_funnel_steps_never_increase" in lost, "dbt keeps them now: prepare's second parse may go"

    change("{#- changed again -#}")
    prepare(project)
    assert singular_tests_without_description(project.manifest_path) == []
    manifest = json.loads(project.manifest_path.read_text())
    assert "changed again" in manifest["macros"]["macro.product_analytics.changes_cursor"]["macro_sql"]
