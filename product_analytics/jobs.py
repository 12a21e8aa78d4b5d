"""Jobs: the daily partitioned pipeline, and the refresh of what is not partitioned."""

from dagster import AssetSelection, define_asset_job

from product_analytics.ingestion.assets import RAW_GROUP
from product_analytics.transform.assets import dbt_daily_models, dbt_unpartitioned_models

daily_pipeline_job = define_asset_job(
    "daily_pipeline",
    selection=AssetSelection.groups(RAW_GROUP) | AssetSelection.assets(dbt_daily_models),
    description="Ingests and transforms a day or a range of days (one run, one dbt invocation).",
)

refresh_models_job = define_asset_job(
    "refresh_models",
    selection=AssetSelection.assets(dbt_unpartitioned_models),
    description="Builds and tests the models that are rebuilt whole: staging views, identity map, attributed marts.",
)
