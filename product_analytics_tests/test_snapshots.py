"""SCD2 history, checked against the simulator's own record of the operational tables.

Six simulated days: users change country, plan and e-mail and are soft-deleted,
posts are edited, hidden and hard-deleted, orders move through their statuses.
The images are loaded and snapshotted day by day; every expected version and
validity window is derived independently from the simulator's daily tables.
"""

from datetime import datetime, timedelta

import duckdb
import pytest
from dagster import materialize

from product_analytics.ingestion.load import load_source_day
from product_analytics.ingestion.schema import ensure_raw_schema
from product_analytics.project import dbt_project
from product_analytics.resources.dbt import DBT_SHIM, DbtCli
from product_analytics.resources.warehouse import Warehouse as WarehouseResource
from product_analytics.simulator.landing import source_file
from product_analytics.simulator.world import orders_table, posts_table, users_table
from product_analytics.transform.assets import SNAPSHOT_JOB_KEYS, dbt_unpartitioned_models
from product_analytics_tests.conftest import SIM_DAYS
from product_analytics_tests.harness import Warehouse

TRACKED = {
    "users": ("user_id", ["email", "country", "plan", "deleted_at"]),
    "posts": ("post_id", ["body_length", "is_hidden"]),
    "orders": ("order_id", ["status", "revenue"]),
}
SIMULATED = {"users": users_table, "posts": posts_table, "orders": orders_table}


def expected_versions(sim_config, table: str) -> set[tuple]:
    """Versions as a timestamp-strategy snapshot taken at the end of each day must record them."""
    key, columns = TRACKED[table]
    current: dict[str, dict] = {}
    versions: dict[str, list[dict]] = {}
    for day in SIM_DAYS:
        observed_at = datetime.combine(day + timedelta(days=1), datetime.min.time())
        rows = {r["id"]: r for r in SIMULATED[table](sim_config, sim_config.day_index(day)).to_pylist()}
        for row_id, row in rows.items():
            if row_id not in current or row["updated_at"] > current[row_id]["updated_at"]:
                history = versions.setdefault(row_id, [])
                if history:
                    history[-1]["valid_to"] = row["updated_at"]
                history.append({**row, "valid_from": row["updated_at"], "valid_to": None, "deleted": False})
                current[row_id] = row
        for row_id in set(current) - set(rows):
            history = versions[row_id]
            if not history[-1]["deleted"]:  # gone from the image: a hard delete, seen at the end of the day
                history[-1]["valid_to"] = observed_at
                history.append({**history[-1], "valid_from": observed_at, "valid_to": None, "deleted": True})
    return {
        (row_id, *(v[c] for c in columns), v["valid_from"], v["valid_to"], v["deleted"])
        for row_id, history in versions.items()
        for v in history
    }


@pytest.fixture(scope="module")
def snapshotted(landing, tmp_path_factory):
    warehouse = Warehouse(tmp_path_factory.mktemp("snapshots") / "warehouse.duckdb")
    for day in SIM_DAYS:
        with duckdb.connect(str(warehouse.path)) as conn:
            for table in TRACKED:
                load_source_day(conn, table, day, source_file(landing / "landing", table, day))
        warehouse.snapshot(day)
    return warehouse


@pytest.mark.parametrize("table", sorted(TRACKED))
def test_snapshots_hold_exactly_the_expected_versions(snapshotted, sim_config, table):
    key, columns = TRACKED[table]
    actual = snapshotted.table(f"snapshots.snap_{table}").to_pylist()
    got = {(r[key], *(r[c] for c in columns), r["dbt_valid_from"], r["dbt_valid_to"], r.get("dbt_is_deleted") == "True") for r in actual}
    expected = expected_versions(sim_config, table)
    assert len(actual) == len(got)
    assert got == expected
    changed = sum(1 for v in expected if v[-3] != v[-2] and v[-2] is not None)
    assert changed > 0, "the simulated days must change some rows"


def test_the_history_has_every_kind_of_change(sim_config):
    users = expected_versions(sim_config, "users")
    by_user: dict[str, list] = {}
    for version in users:
        by_user.setdefault(version[0], []).append(version)
    assert any(len({v[2] for v in vs}) > 1 for vs in by_user.values()), "a country change"
    assert any(len({v[3] for v in vs}) > 1 for vs in by_user.values()), "a plan change"
    assert any(v[4] is not None for v in users), "a soft delete"
    assert any(v[-1] for v in expected_versions(sim_config, "posts")), "a hard delete"
    statuses = {v[1] for v in expected_versions(sim_config, "orders")}
    assert {"preparing", "shipped", "delivered"} <= statuses


def test_a_snapshot_with_no_source_change_adds_nothing(snapshotted):
    before = {t: snapshotted.table(f"snapshots.snap_{t}").num_rows for t in TRACKED}
    snapshotted.snapshot(SIM_DAYS[-1])
    assert {t: snapshotted.table(f"snapshots.snap_{t}").num_rows for t in TRACKED} == before


def test_one_run_replaying_every_image_records_the_day_by_day_history(snapshotted, landing, tmp_path):
    """The snapshot asset observes every image loaded since its last run in order, the older
    ones first, as if it had run at the end of each day: the history equals
    the one snapshotted day by day, and every image is recorded as observed."""
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as conn:
        ensure_raw_schema(conn)
        for day in SIM_DAYS:
            for table in TRACKED:
                load_source_day(conn, table, day, source_file(landing / "landing", table, day))
    dbt = DbtCli(project_dir=dbt_project, dbt_executable=str(DBT_SHIM), warehouse_path=str(database), start_date="2026-03-01")
    dbt.run_quietly(["run", "--select", "stg_app__users stg_app__posts stg_app__orders"])  # the snapshot inputs' inputs
    resources = {"dbt": dbt, "duckdb": WarehouseResource(database=str(database))}
    result = materialize([dbt_unpartitioned_models], selection=list(SNAPSHOT_JOB_KEYS), resources=resources)
    assert result.success
    with duckdb.connect(str(database), read_only=True) as conn:
        observed = conn.execute("select snapshot_date, observed_at from snapshots.observed_images order by 1").fetchall()
        replayed = {table: set(conn.execute(f"select * from snapshots.snap_{table}").fetchall()) for table in TRACKED}
    assert observed == [(day, datetime.combine(day + timedelta(days=1), datetime.min.time())) for day in SIM_DAYS]
    for table in TRACKED:
        day_by_day = {tuple(row.values()) for row in snapshotted.table(f"snapshots.snap_{table}").to_pylist()}
        assert replayed[table] == day_by_day and len(day_by_day) > 50, table
