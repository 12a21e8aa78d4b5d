"""The dbt project as assets: every model a Dagster asset, every dbt test an asset check.

One `@dbt_assets` definition per partitioning scheme: the daily (microbatch)
models, partitioned like the raw data; and the rest, unpartitioned, the SCD2
snapshots included (dbt builds them before the models that read them, and a failure
downstream does not undo them). Every dbt invocation of a run is served by the run's
warm dbt worker (resources/dbt_worker.py): dbt starts and parses once per run.
"""

import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from dagster import AssetCheckSpec, AssetExecutionContext, AssetKey, AssetSpec, Config, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject, dbt_assets, get_asset_key_for_model
from dagster_dbt.asset_utils import DAGSTER_DBT_PROJECT_METADATA_KEY
from dagster_duckdb import DuckDBResource
from dagster_shared.record import replace  # how AssetCheckSpec's own methods copy it

from product_analytics.ingestion.schema import raw_table_exists
from product_analytics.policies import audit_trail
from product_analytics.policies.freshness import FRESHNESS_POLICIES
from product_analytics.policies.partitions import daily_partitions, dbt_window_args, single_run_backfill
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.policies.table_figures import Window, drained, materializations_per_day, table_figures
from product_analytics.project import dbt_project
from product_analytics.resources.dbt import PRODUCTION_BUILD, DbtCli
from product_analytics.transform import restatements
from product_analytics.transform.active_users_chart import ACTIVE_USERS_MODEL, active_users_figures
from product_analytics.transform.funnel_chart import FUNNEL_MODEL, funnel_figures

DAILY_SELECTION = "tag:daily"
PROGRESS_PREFIX = "dbt "  # a dbt step's progress messages in the run's log
SNAPSHOT_SELECTION = "resource_type:snapshot tag:snapshot_input"


class ProductAnalyticsTranslator(DagsterDbtTranslator):
    """Groups models by their top folder (staging, intermediate, marts) and the snapshots in
    ``snapshots``; freshness from the model's ``meta.freshness``; a code reference to each
    model's SQL file. Owners are set by group for every asset (policies/owners.py)."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> AssetSpec:
        # dagster-dbt's lookups (get_asset_key_for_model) find no project among the metadata
        # (removed below): it is this one
        spec = super().get_asset_spec(manifest, unique_id, project or dbt_project)
        props = self.get_resource_props(manifest, unique_id)
        fqn = props.get("fqn", [])
        if props["resource_type"] == "model" and len(fqn) > 2:
            spec = spec.replace_attributes(group_name=fqn[1])
        elif props["resource_type"] == "snapshot":
            spec = spec.replace_attributes(group_name="snapshots")
        # dagster-dbt keeps the DbtProject object among the metadata, where the UI can only
        # show it as unserializable; its paths are this project's own (project.py)
        spec = spec.replace_attributes(metadata={k: v for k, v in spec.metadata.items() if k != DAGSTER_DBT_PROJECT_METADATA_KEY})
        freshness = props.get("meta", {}).get("freshness")
        if freshness is not None:
            if freshness not in FRESHNESS_POLICIES:
                raise ValueError(f"{unique_id}: meta.freshness={freshness!r} is not one of {', '.join(FRESHNESS_POLICIES)}")
            spec = spec.replace_attributes(freshness_policy=FRESHNESS_POLICIES[freshness])
        return spec

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetCheckSpec | None:
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        test = manifest["nodes"][unique_id]
        return replace(spec, description=test.get("description") or check_description(test))


def check_description(test: Mapping[str, Any]) -> str:
    """What a generic dbt test asserts, in words, from its kind and arguments (a test's own
    ``description`` in the YAML comes first; singular tests have theirs in tests/*.yml)."""
    kind = (test.get("test_metadata") or {}).get("name")
    kwargs = (test.get("test_metadata") or {}).get("kwargs", {})
    column = f"`{kwargs.get('column_name')}`"
    if kind == "not_null":
        text = f"{column} is never null"
    elif kind == "unique":
        text = f"No two rows have the same {column}"
    elif kind == "unique_combination":
        text = f"No two rows have the same ({', '.join(kwargs.get('columns', []))})"
    elif kind == "accepted_values":
        text = f"{column} is one of {', '.join(str(v) for v in kwargs.get('values', []))} (or null)"
    elif kind == "between":
        text = f"{column} lies between {kwargs.get('min_value')} and {kwargs.get('max_value')} (or is null)"
    elif kind == "relationships":
        target = str(kwargs.get("to", "")).removeprefix("ref('").removesuffix("')")
        text = f"Every {column} is a `{kwargs.get('field')}` of {target}"
    elif kind == "scd2_windows":
        text = f"Per `{kwargs.get('key')}`, no version's window is empty, reversed or overlapping the next; at most one is current"
    else:
        raise ValueError(f"{test['unique_id']}: a dbt test without a description; write one in its YAML")
    warns = str(test.get("config", {}).get("severity", "")).upper() == "WARN"
    return text + (" (warns only)" if warns else "") + "."


translator = ProductAnalyticsTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=True))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    select=DAILY_SELECTION,
    name="dbt_daily_models",
    partitions_def=daily_partitions,
    backfill_policy=single_run_backfill,
    dagster_dbt_translator=translator,
    pool=DUCKDB_WRITER_POOL,
)
def dbt_daily_models(context: AssetExecutionContext, dbt: DbtCli, duckdb: DuckDBResource):
    """Models partitioned by day (dbt microbatch): a run rebuilds the days of its window and
    the days of the margin on each side, whose sessions may reach into the window. Days
    outside them whose messages another day's load took away are rebuilt first."""
    # A "checks only" launch from the UI has no partition: then dbt only runs the tests.
    if not (context.has_partition_key or context.has_partition_key_range):
        yield from with_table_figures(context, duckdb, dbt, dbt.stream(PRODUCTION_BUILD, context))
        return
    window = context.partition_time_window
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    first, last = start.date(), end.date() - timedelta(days=1)
    start_date = date.fromisoformat(dbt.start_date)

    def rebuild_day(day: date) -> None:
        context.log.info(f"rebuilding {day}: a copy of one of its messages, received earlier, was loaded on another day")
        midnight = datetime.combine(day, datetime.min.time())
        dbt.run_quietly([*PRODUCTION_BUILD, "--select", DAILY_SELECTION, *dbt_window_args(midnight, midnight + timedelta(days=1))])

    restatements.rebuild_restated_first(duckdb.get_connection, first, last, start_date, rebuild_day)
    build = dbt.stream([*PRODUCTION_BUILD, *dbt_window_args(start, end)], context)
    yield from with_table_figures(context, duckdb, dbt, build, (first, last))
    with duckdb.get_connection() as conn:
        restatements.forget_run(conn, first, last, start_date)


# The models whose asset page shows a chart and a table of their own.
PICTURED = {FUNNEL_MODEL: funnel_figures, ACTIVE_USERS_MODEL: active_users_figures}


def with_table_figures(context: AssetExecutionContext, duckdb: DuckDBResource, dbt: DbtCli, events, days: tuple[date, date] | None = None):
    """The invocation's events once dbt has ended, each model's output with its row count and
    typed columns (a daily model's: of the run's days, each day on its own partition too),
    and the step's rows of the audit trail (policies/audit_trail.py). When dbt failed, what
    it built is reported without figures and its error raised."""
    received, error = drained(with_progress(context, events))
    manifest_nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"]
    if error is not None:
        outcomes = dbt_outcomes(context, received, error, dbt.last_run_results(), manifest_nodes)
        audit_trail.record_after_failure(context, duckdb.get_connection, outcomes)
        yield from received
        raise error
    nodes = {model_key(n["name"]): n for n in manifest_nodes.values() if n["resource_type"] in ("model", "snapshot")}
    reported, per_day_events = [], []
    with duckdb.get_connection() as conn:
        for event in received:
            node = nodes.get(context.assets_def.keys_by_output_name.get(event.output_name)) if isinstance(event, Output) else None
            if node is not None:
                config = node["config"]
                column = config.get("event_time") or config.get("meta", {}).get("window_column")
                window = Window(column, *days) if days and column else None
                descriptions = {name: c.get("description", "") for name, c in node["columns"].items()}
                relation = f"{node['schema']}.{node['alias']}"
                figures, per_day = table_figures(conn, relation, descriptions, window)
                pictured = PICTURED.get(node["name"])
                if pictured is not None:
                    figures.update(pictured(conn, relation, context.instance, context.run.run_id))
                event = event.with_metadata({**event.metadata, **figures})
                per_day_events += materializations_per_day(model_key(node["name"]), event.metadata, per_day)
            reported.append(event)
        audit_trail.record(conn, context, dbt_outcomes(context, reported, None, dbt.last_run_results(), manifest_nodes))
    yield from reported
    yield from per_day_events


def dbt_outcomes(
    context: AssetExecutionContext, events: list, error: Exception | None, run_results: Mapping[str, Any] | None, manifest_nodes: Mapping
) -> list[audit_trail.Outcome]:
    """The step's audit rows: Dagster's events (row counts, check results) and, per model or
    snapshot of the selection, dbt's status, message and time from ``run_results.json``."""
    outcomes = audit_trail.outcomes_from_events(context, events, error)
    for result in (run_results or {}).get("results", []):
        node = manifest_nodes.get(result["unique_id"])
        if node is None or node["resource_type"] not in ("model", "snapshot"):
            continue
        key = model_key(node["name"])
        if key not in context.selected_asset_keys:
            continue
        found = outcomes.setdefault(key.to_user_string(), audit_trail.Outcome(asset_key=key.to_user_string()))
        found.dbt_node, found.status = result["unique_id"], result["status"]
        found.message = None if result["status"] == "success" else (result.get("message") or found.message)
        found.seconds = round(float(result.get("execution_time") or 0.0), 3)
        found.rows_written = rows_written(node, found.row_count) if result["status"] == "success" else None
    return sorted(outcomes.values(), key=lambda o: o.asset_key)


def rows_written(node: Mapping[str, Any], row_count: int | None) -> int | None:
    """Rows a successful build of the node wrote, where that is known without the adapter
    (dbt-duckdb reports no rows affected): a view none; a table rebuilt whole all of its
    rows; a daily (microbatch) model the rows of the run's days, which it replaced. Models
    kept by key and snapshots change rows dbt does not count: unknown."""
    config = node["config"]
    if config.get("materialized") == "view":
        return 0
    if config.get("materialized") == "table" or config.get("incremental_strategy") == "microbatch":
        return row_count
    return None


def with_progress(context: AssetExecutionContext, events):
    """The events as they come, each model or snapshot dbt finishes logged at once
    (``dbt 12/35 int_sessions``): the run's log and `make demo` show where dbt is."""
    total, done = len(context.selected_asset_keys), 0
    for event in events:
        if isinstance(event, Output):
            done += 1
            context.log.info(f"{PROGRESS_PREFIX}{done}/{total} {context.assets_def.keys_by_output_name[event.output_name].path[-1]}")
        yield event


def pending_images(duckdb: DuckDBResource) -> list[date]:
    """Image days loaded since the last snapshot observation, oldest first (at least the latest)."""
    with duckdb.get_connection() as conn:
        conn.execute("create schema if not exists snapshots")
        conn.execute("create table if not exists snapshots.observed_images (snapshot_date date, observed_at timestamp)")
        if not raw_table_exists(conn, "users"):
            return []
        days = conn.sql(
            """select distinct snapshot_date from raw.users
               where snapshot_date > coalesce((select max(snapshot_date) from snapshots.observed_images), date '1900-01-01')
               order by 1"""
        ).fetchall()
        latest = conn.sql("select max(snapshot_date) from raw.users").fetchall()[0][0]
    return [d for (d,) in days] or ([latest] if latest else [])


def record_observation(duckdb: DuckDBResource, day: date) -> None:
    with duckdb.get_connection() as conn:
        conn.execute("insert into snapshots.observed_images values (?, ?)", [day, observation_time(day)])


def observation_time(day: date) -> datetime:
    """A snapshot of the image of ``day`` observes the tables at the end of that day."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


def snapshot_env(day: date) -> dict[str, str]:
    """Which image the snapshot inputs read, and when the snapshots observe it (dbt macros
    latest_daily_image and snapshot_get_time)."""
    return {"PA_SNAPSHOT_IMAGE_DATE": day.isoformat(), "PA_SNAPSHOT_OBSERVED_AT": observation_time(day).isoformat(sep=" ")}


# An older image is observed without the snapshots' tests, which the newest image's build runs.
REPLAY = ["build", "--select", SNAPSHOT_SELECTION, "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


class UnpartitionedBuildConfig(Config):
    """Run configuration of the unpartitioned dbt step."""

    full_refresh: bool = False
    """Rebuild the models kept by key (and every table) from the whole history, as dbt's
    --full-refresh does: after changing a dbt var that alters history. Snapshots keep their
    history."""


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=DAILY_SELECTION,
    name="dbt_unpartitioned_models",
    dagster_dbt_translator=translator,
    pool=DUCKDB_WRITER_POOL,
)
def dbt_unpartitioned_models(context: AssetExecutionContext, dbt: DbtCli, duckdb: DuckDBResource, config: UnpartitionedBuildConfig):
    """Models on the whole history (the identity map, attributed marts, dimensions: kept by
    key or rebuilt, see docs/partitions-and-late-data.md) and the SCD2 snapshots of users,
    posts and orders. When the snapshots are
    selected, each daily image loaded since their last run is observed in order, as if they
    had run at the end of each of those days: the older ones first (without tests), the
    newest in this build, with the snapshots' tests."""
    days: list[date] = []
    if SNAPSHOT_KEYS & set(context.selected_asset_keys):
        days = pending_images(duckdb)
    if len(days) > 1:
        context.log.info(f"snapshotting the images of {days[0]} .. {days[-2]}, then those of {days[-1]}")
        for day in days[:-1]:  # each recorded at once: a replay cut short resumes after it
            dbt.run_quietly(REPLAY, env=snapshot_env(day))
            record_observation(duckdb, day)
            context.log.info(f"observed the image of {day}")
    build = [*PRODUCTION_BUILD, "--full-refresh"] if config.full_refresh else PRODUCTION_BUILD
    yield from with_table_figures(context, duckdb, dbt, dbt.stream(build, context, env=snapshot_env(days[-1]) if days else None))
    if days:
        record_observation(duckdb, days[-1])


def _snapshot_nodes(with_inputs: bool) -> list[str]:
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
    return sorted(n["name"] for n in nodes if n["resource_type"] == "snapshot" or (with_inputs and "snapshot_input" in n.get("tags", [])))


def model_key(name: str) -> AssetKey:
    """The asset key of a dbt model or snapshot, as the translator gives it (every definition
    holds the whole manifest, so any of them answers for any model)."""
    return get_asset_key_for_model([dbt_unpartitioned_models], name)


def model_relation(name: str) -> str:
    """``schema.table`` of the relation a dbt model builds, from dbt's manifest (without the
    database, which is the warehouse file's stem)."""
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
    found = [f"{n['schema']}.{n['alias']}" for n in nodes if n["name"] == name and n["resource_type"] in ("model", "snapshot")]
    if len(found) != 1:
        raise KeyError(f"no dbt model named {name!r}")
    return found[0]


def public_models() -> list[str]:
    """The dbt models and snapshots that readers use: those built in ``marts`` and ``snapshots``."""
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"].values()
    public = [n["name"] for n in nodes if n["resource_type"] in ("model", "snapshot") and n["schema"] in ("marts", "snapshots")]
    return sorted(public)


# The snapshots, and with their inputs (views that read the image being observed): what the
# snapshot job builds.
SNAPSHOT_KEYS = frozenset(model_key(name) for name in _snapshot_nodes(with_inputs=False))
SNAPSHOT_JOB_KEYS = frozenset(model_key(name) for name in _snapshot_nodes(with_inputs=True))
