"""The dbt project as assets: every model a Dagster asset, every dbt test an asset check.

One `@dbt_assets` definition per partitioning scheme: the daily (microbatch)
models, partitioned like the raw data, and the rest, unpartitioned.
"""

import json
from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from product_analytics.config import settings
from product_analytics.partitions import daily_partitions, single_run_backfill
from product_analytics.project import dbt_project
from product_analytics.resources import DUCKDB_WRITER_POOL
from product_analytics.transform.partition_window import dbt_window_args

DAILY_SELECTION = "tag:daily"


class ProductAnalyticsTranslator(DagsterDbtTranslator):
    """Groups models by their top folder (staging, intermediate, marts)."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        fqn = props.get("fqn", [])
        if props["resource_type"] == "model" and len(fqn) > 2:
            spec = spec.replace_attributes(group_name=fqn[1])
        return spec


translator = ProductAnalyticsTranslator()


def dbt_vars() -> dict:
    return {"start_date": settings().start_date.isoformat()}


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
def dbt_daily_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Models partitioned by day (dbt microbatch): a run rebuilds the days of its window and
    the day on each side of it, whose sessions may reach into the window."""
    args = ["build", "--vars", json.dumps(dbt_vars())]
    # A "checks only" launch from the UI has no partition: then dbt only runs the tests.
    if context.has_partition_key or context.has_partition_key_range:
        window = context.partition_time_window
        args = ["build", *dbt_window_args(window.start.replace(tzinfo=None), window.end.replace(tzinfo=None), dbt_vars())]
    yield from dbt.cli(args, context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    exclude=DAILY_SELECTION,
    name="dbt_unpartitioned_models",
    dagster_dbt_translator=translator,
    pool=DUCKDB_WRITER_POOL,
)
def dbt_unpartitioned_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Models rebuilt whole from their inputs: staging views, the identity map, attributed marts."""
    yield from dbt.cli(["build", "--vars", json.dumps(dbt_vars())], context=context).stream()
