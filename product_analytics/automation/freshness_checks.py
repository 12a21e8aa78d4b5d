"""The *latest* expected partition exists: a time-window freshness policy looks at any
partition, so a backfill of old days would make an asset look fresh without this."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetKey, MetadataValue, asset_check

from product_analytics.ingestion.assets import RAW_EVENTS
from product_analytics.policies.partitions import daily_partitions
from product_analytics.transform.assets import model_key


def latest_partition_result(asset_key: AssetKey, materialized: set[str], expected: str | None) -> AssetCheckResult:
    """Passes when the latest partition that should exist (yesterday) has been materialized."""
    newest = max(materialized) if materialized else None
    return AssetCheckResult(
        asset_key=asset_key,
        check_name="latest_partition_loaded",
        passed=expected is None or expected in materialized,
        description=None if expected is None or expected in materialized else f"partition {expected} (yesterday) is missing",
        metadata={
            "expected_partition": MetadataValue.text(expected or "none yet"),
            "newest_materialized_partition": MetadataValue.text(newest or "none"),
        },
    )


def latest_partition_check(asset_key: AssetKey):
    @asset_check(asset=asset_key, name="latest_partition_loaded", description="Yesterday's partition has been materialized.")
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        materialized = context.instance.get_materialized_partitions(asset_key)
        return latest_partition_result(asset_key, set(materialized), daily_partitions.get_last_partition_key())

    return _check


latest_partition_checks = [
    latest_partition_check(RAW_EVENTS),
    latest_partition_check(model_key("int_sessions_aggregated")),
]
