"""Python asset checks on dbt models."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check
from dagster_duckdb import DuckDBResource

from product_analytics.config import settings
from product_analytics.policies import audit_trail
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.simulator.evaluation import social_accuracy
from product_analytics.transform.assets import model_key, model_relation

MIN_SOCIAL_ACCURACY = 0.95
SOCIAL_SESSIONS = model_key("fct_social_sessions")


@asset_check(
    asset=SOCIAL_SESSIONS,
    additional_deps=[model_key("int_social_joins_inferred")],
    description="Precision and recall of the inferred social sessions against the simulator's ground truth.",
    pool=DUCKDB_WRITER_POOL,  # it opens the warehouse, which a writer may hold
)
def social_inference_matches_simulator_truth(context: AssetCheckExecutionContext, duckdb: DuckDBResource) -> AssetCheckResult:
    result = _social_accuracy(duckdb)
    with duckdb.get_connection() as conn:  # the check's row of the audit trail
        audit_trail.record(conn, context, audit_trail.outcomes_from_events(context, [result]).values())
    return result


def _social_accuracy(duckdb: DuckDBResource) -> AssetCheckResult:
    truth_dir = settings().truth_dir
    if not (truth_dir / "members").exists():
        return AssetCheckResult(
            asset_key=SOCIAL_SESSIONS, passed=True, description="No simulator ground truth: nothing to measure against."
        )
    with duckdb.get_connection() as conn:
        relations = {"joins": "int_social_joins_inferred", "instances": "fct_social_sessions", "events": "stg_app__events"}
        accuracy = social_accuracy(conn, truth_dir, **{role: model_relation(name) for role, name in relations.items()})
    lowest = min(accuracy[k][m] for k in ("instances", "participants") for m in ("precision", "recall"))
    return AssetCheckResult(
        asset_key=SOCIAL_SESSIONS,
        passed=lowest >= MIN_SOCIAL_ACCURACY,
        severity=AssetCheckSeverity.WARN,
        metadata={
            f"{kind}_{measure}": MetadataValue.float(round(values[measure], 4))
            for kind, values in accuracy.items()
            for measure in ("precision", "recall")
        },
    )
