"""A mart kept by key rebuilt from scratch alone reaches every mart that reads it
(docs/partitions-and-late-data.md, "What a run revisits").

A full refresh of one model (its SQL fixed, a var it reads changed) records the key `*`,
not the keys that changed. Each case makes a producer's rows differ from what its SQL
gives (as an older version of it would have left them), rebuilds everything downstream
of it from those rows, then rebuilds the producer alone from scratch and runs its
readers incrementally: they must come back, row for row, to the warehouse built in one
go. Runs dbt in-process on four simulated days.
"""

import json
import shutil
from datetime import date, datetime, timedelta

import duckdb
import pytest

from product_analytics.ingestion.load import load_events_day
from product_analytics.ingestion.sources import simulator_export
from product_analytics.simulator import LandingWriter, SimulationConfig
from product_analytics.simulator.landing import events_file
from product_analytics_tests.conftest import START
from product_analytics_tests.harness import VARS, Warehouse

DAYS = [date(2026, 3, 20) + timedelta(days=i) for i in range(4)]
# The models kept by key, each after the models it reads.
KEPT = {
    "int_anonymous_ids_mapped": "intermediate",
    "int_devices_flagged_runaway": "intermediate",
    "fct_sessions": "marts",
    "fct_user_sessions": "marts",
    "agg_product_funnel_daily": "marts",
    "int_visitor_active_days": "intermediate",
    "agg_active_users_daily": "marts",
    "fct_conversion_attribution": "marts",
    "agg_attribution_daily": "marts",
}
# How a producer's rows are made to differ from what its SQL gives.
ALTERED = {
    # links of the first five mapped devices lost: their sessions stay anonymous
    "int_anonymous_ids_mapped": """
        delete from intermediate.int_anonymous_ids_mapped
        where anonymous_id in (select anonymous_id from intermediate.int_anonymous_ids_mapped order by anonymous_id limit 5)
    """,
    # the three devices with the most sessions flagged as runaway: left out downstream
    "int_devices_flagged_runaway": """
        insert into intermediate.int_devices_flagged_runaway by name
        select anonymous_id, min(session_date) as first_flagged_date, max(session_date) as last_flagged_date,
               1 as flagged_days, 1 as long_sessions, 0 as busy_days
        from intermediate.int_sessions_aggregated
        where anonymous_id in (
            select anonymous_id from intermediate.int_sessions_aggregated
            group by anonymous_id order by count(*) desc, anonymous_id limit 3
        )
        group by anonymous_id
    """,
    # the sessions of the first ten visitors who ordered lost
    "fct_sessions": """
        delete from marts.fct_sessions
        where visitor_id in (select distinct visitor_id from marts.fct_conversion_attribution order by visitor_id limit 10)
    """,
    # the active days of the first ten visitors lost
    "int_visitor_active_days": """
        delete from intermediate.int_visitor_active_days
        where visitor_id in (select distinct visitor_id from intermediate.int_visitor_active_days order by visitor_id limit 10)
    """,
    # the touches of the first conversion day lost
    "fct_conversion_attribution": """
        delete from marts.fct_conversion_attribution
        where conversion_date = (select min(conversion_date) from marts.fct_conversion_attribution)
    """,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The four days loaded and built in one go (each case works on a copy), and every kept
    model's rows then."""
    root = tmp_path_factory.mktemp("rebuilt_alone")
    LandingWriter(SimulationConfig(seed=11, epoch=START, daily_users=60), root / "landing", root / "truth").write_days(DAYS)
    warehouse = Warehouse(root / "warehouse.duckdb")
    clock = datetime.combine(DAYS[-1] + timedelta(days=2), datetime.min.time())
    with duckdb.connect(str(warehouse.path)) as conn:
        for day in DAYS:
            load_events_day(conn, day, simulator_export(events_file(root / "landing", day), day, clock))
    warehouse.build_days(DAYS[0], DAYS[-1], full_refresh=True, refresh=True)
    with duckdb.connect(str(warehouse.path)) as conn:
        conn.execute("checkpoint")  # the file whole, for each case's copy
    return warehouse.path, {model: rows(warehouse, model) for model in KEPT}


def rows(warehouse: Warehouse, model: str) -> list[tuple]:
    """The model's rows, sorted (None first)."""
    table = warehouse.table(f"{KEPT[model]}.{model}")
    return sorted((tuple(row.values()) for row in table.to_pylist()), key=lambda row: [(v is not None, str(v)) for v in row])


def differing(warehouse: Warehouse, expected: dict[str, list[tuple]]) -> list[str]:
    return [model for model in KEPT if rows(warehouse, model) != expected[model]]


@pytest.mark.parametrize("producer", list(ALTERED))
def test_readers_of_a_mart_rebuilt_alone_come_back_to_a_build_in_one_go(built, tmp_path, producer):
    path, expected = built
    shutil.copy(path, tmp_path / "warehouse.duckdb")
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    readers = [m for m in KEPT if m != producer]
    downstream = ["--select", *[f"{producer}+,{m}" for m in readers]]
    run = lambda *args: warehouse.dbt("run", *args, "--vars", json.dumps(VARS))  # noqa: E731

    with duckdb.connect(str(warehouse.path)) as conn:
        conn.execute(ALTERED[producer])
    run(*downstream, "--full-refresh")  # what the older version of the producer left downstream
    changed = differing(warehouse, expected)
    assert producer in changed and len(changed) > 1, f"altering {producer} must reach a reader: {changed}"

    run("--select", producer, "--full-refresh")
    run(*downstream)
    assert differing(warehouse, expected) == [], f"after {producer} was rebuilt alone and its readers ran"
