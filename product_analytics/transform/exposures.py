"""dbt exposures (dashboards reading the marts) as external assets downstream of their models.

dagster-dbt turns models, seeds and snapshots into assets but not exposures; these
specs put each exposure in the asset graph, fed by the models it depends on.
"""

import json

from dagster import AssetKey, AssetSpec, CodeReferencesMetadataValue, LocalFileCodeReference

from product_analytics.project import dbt_project
from product_analytics.transform.assets import translator


def exposure_specs() -> list[AssetSpec]:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    specs = []
    for exposure in manifest.get("exposures", {}).values():
        deps = [translator.get_asset_spec(manifest, unique_id, dbt_project).key for unique_id in exposure["depends_on"]["nodes"]]
        specs.append(
            AssetSpec(
                AssetKey(["exposures", exposure["name"]]),
                deps=deps,
                group_name="exposures",
                kinds={"dashboard"},
                description=exposure.get("description") or exposure.get("label"),
                metadata={
                    "owner": exposure.get("owner", {}).get("name"),
                    "maturity": exposure.get("maturity"),
                    # where it is declared: the exposure's YAML file
                    "dagster/code_references": CodeReferencesMetadataValue(
                        code_references=[LocalFileCodeReference(file_path=str(dbt_project.project_dir / exposure["original_file_path"]))]
                    ),
                },
            )
        )
    return specs
