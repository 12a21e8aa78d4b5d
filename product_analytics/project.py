"""The dbt project, as Dagster sees it, and its preparation (`python -m product_analytics.project`
parses it and writes the manifest Dagster loads: `make setup` does)."""

import json
from pathlib import Path

from dagster_dbt import DagsterDbtProjectPreparer, DbtProject
from dagster_dbt.dbt_project import using_dagster_dev

from product_analytics.config import DBT_PROJECT_DIR


def singular_tests_without_description(manifest_path: Path) -> list[str]:
    manifest = json.loads(manifest_path.read_text())
    return sorted(
        node["unique_id"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and "test_metadata" not in node and not node.get("description")
    )


def prepare(project: DbtProject) -> None:
    """dbt's parse, then a parse from scratch when the first lost a singular test's
    description: dbt 1.11's partial parse, after a change to a macro of the models a
    singular test reads, parses the test again from its SQL file alone and drops what
    tests/singular_tests.yml says of it (every asset check shows that description)."""
    project.preparer.prepare(project)
    if singular_tests_without_description(project.manifest_path):
        DagsterDbtProjectPreparer(["parse", "--quiet", "--no-partial-parse"]).prepare(project)


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR)
if using_dagster_dev():  # `dagster dev` (make ui) parses again at each load of the code
    prepare(dbt_project)

if __name__ == "__main__":
    prepare(dbt_project)
