"""Social sessions inferred from the events, measured against the simulator's ground truth.

Six seeded days (about a fifth of the joins arrive without their invite or share id,
and creators share the same game several times within minutes). Precision and recall
of instances and of participants must both reach 0.95.
"""

import json
from datetime import datetime

import duckdb
import pytest

from product_analytics.ingestion.load import load_events_day
from product_analytics.simulator.landing import events_file
from product_analytics_tests.conftest import SIM_DAYS
from product_analytics_tests.harness import VARS, Warehouse

MODELS = "int_identity_map int_social_joins fct_social_session_participants fct_social_sessions"


@pytest.fixture(scope="module")
def social(landing, tmp_path_factory):
    warehouse = Warehouse(tmp_path_factory.mktemp("social") / "warehouse.duckdb")
    with duckdb.connect(str(warehouse.path)) as conn:
        for day in SIM_DAYS:
            load_events_day(conn, day, events_file(landing / "landing", day), datetime(2026, 6, 1))
    warehouse.build_days(SIM_DAYS[0], SIM_DAYS[-1])
    warehouse.dbt("build", "--select", MODELS, "--vars", json.dumps(VARS))
    conn = duckdb.connect()
    for name in ("intermediate.int_social_joins", "marts.fct_social_sessions", "staging.stg_app__events"):
        conn.register(name.split(".")[1], warehouse.table(name))
    truth = landing / "truth"
    conn.execute(f"create view truth_instances as select * from read_parquet('{truth}/instances/*.parquet')")
    conn.execute(f"create view truth_members as select * from read_parquet('{truth}/members/*.parquet')")
    # The truth of what the loaded events can show: instances created and joins made in the loaded days.
    conn.execute("create view loaded as select event_id from stg_app__events")
    yield conn
    conn.close()


def precision_recall(conn, predicted: str, expected: str) -> tuple[float, float, int]:
    correct, n_predicted, n_expected = conn.sql(
        f"""select (select count(*) from ({predicted}) intersect_all_placeholder),
                   (select count(*) from ({predicted})), (select count(*) from ({expected}))""".replace(
            f"(select count(*) from ({predicted}) intersect_all_placeholder)",
            f"(select count(*) from (select * from ({predicted}) intersect select * from ({expected})))",
        )
    ).fetchall()[0]
    return correct / n_predicted, correct / n_expected, n_expected


def test_instances(social):
    precision, recall, n = precision_recall(
        social,
        "select instance_id from fct_social_sessions",
        "select instance_id from truth_instances where message_id in (select event_id from loaded)",
    )
    assert n > 100
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_participants_including_joins_without_their_id(social):
    inferred = social.sql("select count(*) from int_social_joins where matched_by = 'inferred'").fetchall()[0][0]
    assert inferred > 30, "joins without their id must be part of the measure"
    precision, recall, n = precision_recall(
        social,
        "select instance_id, join_event_id from int_social_joins",
        """select m.instance_id, m.message_id from truth_members m
           join truth_instances i using (instance_id)
           where m.message_id in (select event_id from loaded) and i.message_id in (select event_id from loaded)""",
    )
    assert n > 200
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    only_inferred = precision_recall(
        social,
        "select instance_id, join_event_id from int_social_joins where matched_by = 'inferred'",
        """select m.instance_id, m.message_id from truth_members m
           where m.message_id in (select join_event_id from int_social_joins where matched_by = 'inferred')""",
    )
    assert only_inferred[0] >= 0.8, f"inferred joins alone: precision {only_inferred[0]:.3f}"
