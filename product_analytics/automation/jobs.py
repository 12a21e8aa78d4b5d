"""Jobs: the daily partitioned pipeline, the refresh of what is not partitioned, the snapshots,
and the evaluation of the freshness checks."""

from dagster import AssetSelection, define_asset_job

from product_analytics.automation.freshness_checks import latest_partition_checks
from product_analytics.transform.assets import SNAPSHOT_JOB_KEYS, dbt_unpartitioned_models

daily_pipeline_job = define_asset_job(
    "daily_pipeline",
    # Everything but the freshness checks, which the hourly sensor evaluates: a backfill of
    # old days has nothing to say about whether yesterday arrived.
    selection=AssetSelection.all() - AssetSelection.checks(*latest_partition_checks),
    description=(
        "Ingests and transforms a day or a range of days (one run, one dbt invocation for the "
        "partitioned models), then rebuilds the unpartitioned models once."
    ),
)

refresh_models_job = define_asset_job(
    "refresh_models",
    selection=AssetSelection.assets(dbt_unpartitioned_models) - AssetSelection.assets(*SNAPSHOT_JOB_KEYS),
    description=(
        "Builds and tests the unpartitioned models: staging views, identity map, attributed marts. "
        "They revisit only what changed; run config `full_refresh: true` rebuilds them whole."
    ),
)

snapshot_job = define_asset_job(
    "snapshots",
    selection=AssetSelection.assets(*SNAPSHOT_JOB_KEYS),
    description="Records the SCD2 history of users, posts and orders from their latest daily images.",
)

freshness_checks_job = define_asset_job(
    "freshness_checks",
    selection=AssetSelection.checks(*latest_partition_checks),
    description="Checks that yesterday's partitions exist.",
)
