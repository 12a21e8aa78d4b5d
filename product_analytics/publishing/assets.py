"""The readers' copy as the last asset of every run."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from product_analytics.config import settings
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.publishing.copy import publish
from product_analytics.resources.transient import retried_when_transient
from product_analytics.resources.warehouse import Warehouse
from product_analytics.retention.assets import RETENTION, RETENTION_BY_ATTRIBUTE
from product_analytics.transform.assets import model_key, public_models

READER_COPY = AssetKey(["published", "reader_copy"])


@asset(
    key=READER_COPY,
    group_name="published",
    deps=[*(model_key(name) for name in public_models()), RETENTION, RETENTION_BY_ATTRIBUTE],
    kinds={"duckdb", "python"},
    pool=DUCKDB_WRITER_POOL,
    description=(
        "A read-only copy of every table of the marts and snapshots schemas, in its own DuckDB file "
        "(PA_READER_COPY_PATH), for notebooks and BI tools: reading it never blocks a run "
        "(docs/operations.md, 'Reading the warehouse')."
    ),
)
def reader_copy(context: AssetExecutionContext, duckdb: Warehouse) -> MaterializeResult:
    target = settings().reader_copy_path
    with retried_when_transient(duckdb.lock_timeout_seconds), duckdb.get_connection() as conn:
        done = publish(conn, target, context.run.run_id)
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(done.path)),
            "tables": len(done.tables),
            "rows": sum(done.tables.values()),
            "size_mb": round(done.size_bytes / 2**20, 2),
            "seconds": round(done.seconds, 2),
            "rows_per_table": MetadataValue.md(
                "| table | rows |\n|---|---:|\n" + "\n".join(f"| {name} | {rows} |" for name, rows in done.tables.items())
            ),
        }
    )
