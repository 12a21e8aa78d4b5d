"""The dbt project as assets: every model a Dagster asset, every dbt test an asset check."""

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from product_analytics.project import dbt_project
from product_analytics.resources import DUCKDB_WRITER_POOL


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


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    name="dbt_unpartitioned_models",
    dagster_dbt_translator=translator,
    pool=DUCKDB_WRITER_POOL,
)
def dbt_unpartitioned_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Models that read whatever the raw tables hold (staging views): no partition window."""
    yield from dbt.cli(["build"], context=context).stream()
