"""Contracts of the dbt project that nothing in dbt itself enforces."""

import json

from product_analytics.project import dbt_project
from product_analytics.transform.assets import dbt_daily_models, model_key
from product_analytics_tests.harness import Warehouse


def models() -> dict[str, dict]:
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def reads_the_partition_window(node: dict) -> bool:
    """Microbatch models get a batch per day; others read the run's window themselves."""
    return node["config"].get("incremental_strategy") == "microbatch" or "in_run_window(" in node["raw_code"]


def test_every_model_that_reads_the_window_is_daily_and_only_those_or_views():
    """A model that reads the partition window but misses the tag would be built unpartitioned,
    without the window: silently a full rebuild, or today's batch only."""
    for name, node in models().items():
        daily = "daily" in node["tags"]
        if reads_the_partition_window(node):
            assert daily, f"{name} reads the partition window but is not tagged daily"
        elif daily:
            assert node["config"]["materialized"] == "view", f"{name} is tagged daily but neither reads the window nor is a view"


def test_the_daily_definition_holds_exactly_the_daily_models():
    daily = {model_key(name) for name, node in models().items() if "daily" in node["tags"]}
    assert daily and set(dbt_daily_models.keys) == daily


def test_every_model_has_a_description_and_an_owner():
    for name, node in models().items():
        assert node["description"].strip(), f"{name} has no description"
        assert node["config"]["meta"].get("dagster", {}).get("owners"), f"{name} has no owner"


def test_the_unit_tests_pass(tmp_path):
    """Production builds leave dbt's unit tests out (they check SQL, not data): they run here."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    # Unit tests read the columns of their inputs: build every relation, empty, one batch each.
    one_day = ["--event-time-start", "2026-03-01T00:00:00", "--event-time-end", "2026-03-02T00:00:00"]
    warehouse.dbt("build", "--empty", *one_day, "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
    warehouse.dbt("test", "--select", "resource_type:unit_test")
    ran = json.loads((tmp_path / "dbt_target_warehouse" / "run_results.json").read_text())["results"]
    assert len(ran) >= 14 and all(r["status"] == "pass" for r in ran), [(r["unique_id"], r["status"]) for r in ran]
