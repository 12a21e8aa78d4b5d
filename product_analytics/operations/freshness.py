"""Freshness: time-window policies on the data that must arrive daily, and a check that
the *latest* expected partition exists (a backfill of old days must not look fresh)."""

from datetime import timedelta

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetKey, FreshnessPolicy, MetadataValue, asset_check

from product_analytics.partitions import daily_partitions

# The daily run starts at PA_SCHEDULE_HOUR: a day and a few hours without a
# materialization means a run was missed.
DAILY_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))

# The models whose freshness the UI shows (besides raw/events and retention_cohorts).
FRESH_MODELS = {"fct_sessions", "dim_users", "dim_users_current", "dim_posts", "dim_posts_current", "dim_user_properties"}


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


RAW_EVENTS = AssetKey(["raw", "events"])
SESSIONS = AssetKey(["intermediate", "int_sessions"])
latest_partition_checks = [latest_partition_check(RAW_EVENTS), latest_partition_check(SESSIONS)]
