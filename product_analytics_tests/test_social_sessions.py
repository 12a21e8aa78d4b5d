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
from product_analytics.ingestion.sources import simulator_export
from product_analytics.simulator.evaluation import social_accuracy
from product_analytics.simulator.landing import events_file
from product_analytics_tests.conftest import SIM_DAYS
from product_analytics_tests.harness import VARS, Warehouse

MODELS = "int_anonymous_ids_mapped int_social_joins_inferred fct_social_session_participants fct_social_sessions"


@pytest.fixture(scope="module")
def accuracy(landing, tmp_path_factory):
    warehouse = Warehouse(tmp_path_factory.mktemp("social") / "warehouse.duckdb")
    with duckdb.connect(str(warehouse.path)) as conn:
        for day in SIM_DAYS:
            load_events_day(conn, day, simulator_export(events_file(landing / "landing", day), day, datetime(2026, 6, 1)))
    warehouse.build_days(SIM_DAYS[0], SIM_DAYS[-1])
    warehouse.dbt("build", "--select", MODELS, "--vars", json.dumps(VARS))
    with duckdb.connect() as conn:
        for name in ("intermediate.int_social_joins_inferred", "marts.fct_social_sessions", "staging.stg_app__events"):
            conn.register(name.split(".")[1], warehouse.table(name))
        return social_accuracy(
            conn, landing / "truth", joins="int_social_joins_inferred", instances="fct_social_sessions", events="stg_app__events"
        )


def test_instances(accuracy):
    result = accuracy["instances"]
    assert result["expected"] > 100
    assert result["precision"] >= 0.95 and result["recall"] >= 0.95, result


def test_participants_including_joins_without_their_id(accuracy):
    result = accuracy["participants"]
    assert result["expected"] > 200
    assert result["precision"] >= 0.95 and result["recall"] >= 0.95, result
    inferred = accuracy["inferred_joins"]
    assert inferred["expected"] > 30, "joins without their id must be part of the measure"
    assert inferred["precision"] >= 0.8, inferred
