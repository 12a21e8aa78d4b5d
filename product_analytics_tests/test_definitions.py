"""The code location loads, and its graph is what the snapshot says (a graph change shows in review).

Update the snapshot after a deliberate change with:
    PA_UPDATE_SNAPSHOTS=1 make test
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, AssetsDefinition, Definitions

from product_analytics.definitions import defs
from product_analytics.policies.pools import DUCKDB_WRITER_POOL

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions_graph.json"


def graph_description() -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
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
