"""The readers' copy, and the audit trail as the last asset of every run."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, TableColumn, TableRecord, TableSchema, asset

from product_analytics.config import settings
from product_analytics.monitoring.assets import METRIC_CHANGES
from product_analytics.policies import audit_trail
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.policies.table_figures import table_figures
from product_analytics.publishing.copy import publish
from product_analytics.resources.transient import retried_when_transient
from product_analytics.resources.warehouse import Warehouse
from product_analytics.retention.assets import RETENTION, RETENTION_BY_ATTRIBUTE
from product_analytics.transform.assets import model_key, public_models

READER_COPY = AssetKey(["published", "reader_copy"])


@asset(
    key=READER_COPY,
    group_name="published",
    deps=[*(model_key(name) for name in public_models()), RETENTION, RETENTION_BY_ATTRIBUTE, METRIC_CHANGES],
    kinds={"duckdb", "python"},
    pool=DUCKDB_WRITER_POOL,
    description=(
        "A read-only copy of every table of the marts and snapshots schemas, in its own DuckDB file "
        "(PA_READER_COPY_PATH), for notebooks and BI tools: reading it never blocks a run "
        "(docs/operations.md, 'Reading the warehouse')."
    ),
)
def reader_copy(context: AssetExecutionContext, duckdb: Warehouse):
    yield from audit_trail.recorded(context, duckdb.get_connection, _publish(context, duckdb))


def _publish(context: AssetExecutionContext, duckdb: Warehouse):
    target = settings().reader_copy_path
    with retried_when_transient(duckdb.lock_timeout_seconds), duckdb.get_connection() as conn:
        done = publish(conn, target, context.run.run_id)
    yield MaterializeResult(
        metadata={
            "dagster/row_count": MetadataValue.int(sum(done.tables.values())),
            "path": MetadataValue.path(str(done.path)),
            "tables": len(done.tables),
            "size_mb": round(done.size_bytes / 2**20, 2),
            "seconds": round(done.seconds, 2),
            "rows_per_table": MetadataValue.md(
                "| table | rows |\n|---|---:|\n" + "\n".join(f"| {name} | {rows} |" for name, rows in done.tables.items())
            ),
        }
    )


AUDIT_RUNS = AssetKey(["audit", "audit_runs"])
RUNS_SHOWN = 20
SHOWN_COLUMNS = [  # the columns of this run's rows shown on the asset page
    ("step", "string"),
    ("asset_key", "string"),
    ("status", "string"),
    ("rows_loaded", "int"),
    ("rows_quarantined", "int"),
    ("rows_written", "int"),
    ("row_count", "int"),
    ("seconds", "float"),
    ("checks_passed", "int"),
    ("checks_failed", "int"),
    ("checks_warned", "int"),
]


@asset(
    key=AUDIT_RUNS,
    group_name="audit",
    deps=[READER_COPY],
    kinds={"duckdb", "python"},
    pool=DUCKDB_WRITER_POOL,
    description=(
        "The audit trail: one row per run, step and asset, written by each step when it ends, failed or "
        "not (days, rows loaded and quarantined, dbt's node status and time, rows written, checks passed "
        "and failed; policies/audit_trail.py). Materialized last in a run, it shows that run's rows and "
        "the latest runs'."
    ),
)
def audit_runs(context: AssetExecutionContext, duckdb: Warehouse) -> MaterializeResult:
    with retried_when_transient(duckdb.lock_timeout_seconds), duckdb.get_connection() as conn:
        audit_trail.ensure_audit_table(conn)
        names = [name for name, _ in SHOWN_COLUMNS]
        rows = conn.execute(
            f"select {', '.join(names)} from {audit_trail.AUDIT_TABLE} where run_id = ? order by recorded_at, step, asset_key",
            [context.run.run_id],
        ).fetchall()
        runs = conn.execute(
            f"""select run_id, any_value(job_name), min(first_day), max(last_day), count(*),
                       count(*) filter (where status not in ('success', 'pass')), sum(checks_failed), sum(checks_warned), min(recorded_at)
                from {audit_trail.AUDIT_TABLE} group by run_id order by min(recorded_at) desc limit ?""",
            [RUNS_SHOWN],
        ).fetchall()
        descriptions = {name: text for name, (_, text) in audit_trail.COLUMNS.items()}
        figures, _ = table_figures(conn, audit_trail.AUDIT_TABLE, descriptions)
    this_run = MetadataValue.table(
        [TableRecord(dict(zip(names, row, strict=True))) for row in rows],
        TableSchema([TableColumn(name, kind) for name, kind in SHOWN_COLUMNS]),
    )
    lines = ["| run | job | days | assets | not successful | checks failed | checks warned | recorded |", "|---" * 8 + "|"]
    lines += [
        f"| {run[:8]} | {job} | {'' if first is None else f'{first} .. {last}'} | {n} | {bad} | {failed} | {warned} | {at:%Y-%m-%d %H:%M} |"
        for run, job, first, last, n, bad, failed, warned, at in runs
    ]
    return MaterializeResult(
        metadata={
            **figures,
            "this_run": this_run,
            "assets_not_successful": MetadataValue.int(sum(1 for row in rows if row[2] != "success")),
            "checks_failed": MetadataValue.int(sum(row[9] or 0 for row in rows)),
            "latest_runs": MetadataValue.md("\n".join(lines)),
        }
    )
