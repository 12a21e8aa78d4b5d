"""Python asset checks on dbt models."""

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue, asset_check
from dagster_duckdb import DuckDBResource

from product_analytics.config import settings
from product_analytics.resources import DUCKDB_WRITER_POOL
from product_analytics.simulator.evaluation import social_accuracy

MIN_SOCIAL_ACCURACY = 0.95


@asset_check(
    asset=AssetKey(["marts", "fct_social_sessions"]),
    additional_deps=[AssetKey(["intermediate", "int_social_joins"])],
    description="Precision and recall of the inferred social sessions against the simulator's ground truth.",
    pool=DUCKDB_WRITER_POOL,  # it opens the warehouse, which a writer may hold
)
def social_inference_matches_simulator_truth(duckdb: DuckDBResource) -> AssetCheckResult:
    truth_dir = settings().truth_dir
    if not (truth_dir / "members").exists():
        return AssetCheckResult(passed=True, description="No simulator ground truth: nothing to measure against.")
    with duckdb.get_connection() as conn:
        conn.execute("create or replace temp view int_social_joins as select * from intermediate.int_social_joins")
        conn.execute("create or replace temp view fct_social_sessions as select * from marts.fct_social_sessions")
        conn.execute("create or replace temp view stg_app__events as select * from staging.stg_app__events")
        accuracy = social_accuracy(conn, truth_dir)
    lowest = min(accuracy[k][m] for k in ("instances", "participants") for m in ("precision", "recall"))
    return AssetCheckResult(
        passed=lowest >= MIN_SOCIAL_ACCURACY,
        severity=AssetCheckSeverity.WARN,
        metadata={
            f"{kind}_{measure}": MetadataValue.float(round(values[measure], 4))
            for kind, values in accuracy.items()
            for measure in ("precision", "recall")
        },
    )
