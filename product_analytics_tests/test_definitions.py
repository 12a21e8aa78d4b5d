"""The code location loads, and its graph is what the snapshot says (a graph change shows in review).

Update the snapshot after a deliberate change with:
    PA_UPDATE_SNAPSHOTS=1 make test
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetCheckKey, AssetKey, AssetsDefinition, Definitions
from dagster._core.remote_representation.external_data import RepositorySnap

from product_analytics.definitions import defs
from product_analytics.policies.owners import TEAM_BY_GROUP
from product_analytics.policies.pools import DUCKDB_WRITER_POOL

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions_graph.json"


def graph_description() -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "owners": sorted(node.owners),
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitioned": node.partitions_def is not None,
            "checks": sorted(c.name for c in node.check_keys),
        }
    return {
        "assets": assets,
        "jobs": sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_definitions_load():
    Definitions.validate_loadable(defs)


def test_graph_matches_snapshot():
    current = graph_description()
    if os.environ.get("PA_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_asset_that_writes_duckdb_is_in_the_single_writer_pool():
    executable = [a for a in defs.assets if isinstance(a, AssetsDefinition) and a.is_executable]
    assert len(executable) >= 6
    for assets_def in executable:
        assert assets_def.node_def.pool == DUCKDB_WRITER_POOL, assets_def.keys


def test_every_asset_has_its_groups_team_as_owner_and_code_references_to_files_that_exist():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners == [TEAM_BY_GROUP[node.group_name]], key
        references = node.metadata["dagster/code_references"].code_references
        assert references and all(Path(r.file_path).is_file() for r in references), key
    snapshots = [k for k in graph.get_all_asset_keys() if k.path[0] == "snapshots"]
    assert len(snapshots) == 3 and {graph.get(k).group_name for k in snapshots} == {"snapshots"}
    sql = graph.get(AssetKey(["marts", "fct_sessions"])).metadata["dagster/code_references"].code_references
    assert [Path(r.file_path).name for r in sql] == ["fct_sessions.sql"]


def test_every_schedule_sensor_job_and_check_says_what_it_does():
    repo = defs.get_repository_def()
    described = [*repo.schedule_defs, *repo.sensor_defs, *(j for j in repo.get_all_jobs() if not j.name.startswith("__"))]
    assert len(described) == 10 and all(d.description for d in described)
    checks = {spec.key: spec for assets_def in repo.assets_defs_by_key.values() for spec in assets_def.check_specs}
    assert len(checks) > 100
    assert [key for key, spec in checks.items() if not spec.description] == []
    plan = checks[AssetCheckKey(AssetKey(["marts", "dim_users"]), "accepted_values_dim_users_plan__free__pro")]
    assert plan.description == "`plan` is one of free, pro (or null)."
    singular = checks[AssetCheckKey(AssetKey(["marts", "fct_sessions"]), "assert_session_numbers_are_contiguous_per_visitor")]
    assert singular.description == "Each visitor's sessions are numbered exactly 1, 2, ..., n."


def test_the_dbt_project_object_is_not_among_the_metadata_the_ui_shows():
    snapshot = RepositorySnap.from_def(defs.get_repository_def())
    shown = {key for node in snapshot.asset_nodes for key, value in node.metadata.items() if "DbtProject" in repr(value)}
    assert shown == set()


def test_the_dashboard_exposure_sits_downstream_of_the_funnels():
    graph = defs.resolve_asset_graph()
    node = graph.get(AssetKey(["exposures", "product_dashboard"]))
    assert {k.to_user_string() for k in node.parent_keys} == {"marts/agg_product_funnel_daily", "marts/agg_purchase_funnel"}
    assert not node.is_materializable


def test_raw_assets_are_partitioned_daily_with_single_run_backfills():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key.path[0] == "raw":
            assert node.partitions_def.get_partition_keys()[0] == "2026-03-01"
            assert node.backfill_policy.max_partitions_per_run is None


def test_loading_the_definitions_opens_no_database(tmp_path):
    env = {**os.environ, "PA_DATA_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", "import product_analytics.definitions"], env=env, check=True)
    assert list(tmp_path.iterdir()) == []
