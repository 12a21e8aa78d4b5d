"""Jobs: the daily partitioned ingestion, and the refresh of what is not partitioned."""

from dagster import AssetSelection, define_asset_job

from product_analytics.ingestion.assets import RAW_GROUP
from product_analytics.transform.assets import dbt_unpartitioned_models

daily_ingestion_job = define_asset_job(
    "daily_ingestion",
    selection=AssetSelection.groups(RAW_GROUP),
    description="Loads the raw events and the operational tables' images for a day or a range of days.",
)

refresh_models_job = define_asset_job(
    "refresh_models",
    selection=AssetSelection.assets(dbt_unpartitioned_models),
    description="Builds and tests the dbt models that are not partitioned.",
)
