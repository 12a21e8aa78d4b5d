"""A simulated incident through the whole pipeline: the metric changes, the warning check,
and the alert in the alert file, sent once however often the day runs again.

Fifteen days, the last an incident (returning visitors come back at 30% of their usual
rate). Only the last day has a baseline (the same weekday 1 and 2 weeks before; the rule
needs 2 of the 4 weeks), so it is the one day the rule judges.
"""

import json
from datetime import date, timedelta

import duckdb
import pytest
from dagster import AssetCheckSeverity, DagsterInstance, Definitions, build_sensor_context, in_process_executor

from product_analytics.automation.jobs import daily_pipeline_job
from product_analytics.automation.sensors import metric_change_alerts
from product_analytics.config import settings
from product_analytics.definitions import defs
from product_analytics.ingestion.sources import SimulatorSource
from product_analytics.monitoring.assets import COLUMNS, METRIC_CHANGES, check_name
from product_analytics.monitoring.rule import MIN_Z
from product_analytics.resources.dbt import dbt_cli
from product_analytics.resources.warehouse import Warehouse

DAYS = [date(2026, 3, 10) + timedelta(days=i) for i in range(15)]
INCIDENT = DAYS[-1]
RANGE_TAGS = {"dagster/asset_partition_range_start": DAYS[0].isoformat(), "dagster/asset_partition_range_end": DAYS[-1].isoformat()}


@pytest.fixture(scope="module")
def incident(tmp_path_factory):
    root = tmp_path_factory.mktemp("incident")
    env = {
        "PA_DUCKDB_PATH": str(root / "warehouse.duckdb"),  # dbt's profile reads it
        "PA_READER_COPY_PATH": str(root / "readers.duckdb"),
        "PA_ALERT_FILE": str(root / "alerts.jsonl"),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        s = settings()
        source = SimulatorSource(
            landing_dir=str(root / "landing"),
            truth_dir=str(root / "truth"),
            seed=s.sim_seed,
            daily_users=s.sim_daily_users,
            start_date=s.start_date.isoformat(),
            clock=s.ingest_clock.isoformat(),
            incident=f"{INCIDENT}:traffic:0.3",
            first_day=s.start_date.isoformat(),
        )
        run_defs = Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            jobs=[daily_pipeline_job],
            sensors=[metric_change_alerts],
            executor=in_process_executor,
            resources={**defs.resources, "duckdb": Warehouse(database=env["PA_DUCKDB_PATH"]), "dbt": dbt_cli(), "event_source": source},
        )
        instance = DagsterInstance.ephemeral()
        job = run_defs.resolve_job_def("daily_pipeline")
        backfill = job.execute_in_process(instance=instance, tags=RANGE_TAGS)
        first_tick = metric_change_alerts.evaluate_tick(build_sensor_context(instance=instance))
        first_lines = (root / "alerts.jsonl").read_text().splitlines()
        again = job.execute_in_process(instance=instance, partition_key=INCIDENT.isoformat())
        second_tick = metric_change_alerts.evaluate_tick(build_sensor_context(instance=instance, cursor=first_tick.cursor))
        yield {
            "root": root,
            "instance": instance,
            "runs": (backfill, again),
            "ticks": (first_tick, second_tick),
            "first_lines": first_lines,
            "warehouse": env["PA_DUCKDB_PATH"],
        }


def _table(path: str):
    with duckdb.connect(path, read_only=True) as conn:
        return conn.execute(
            "select metric, metric_date, value, sample_size, baseline, baseline_weeks, change, z_score, threshold, is_alert "
            "from marts.metric_changes order by metric, metric_date"
        ).fetchall()


def test_the_incident_day_is_an_alert_and_the_days_without_a_baseline_are_not(incident):
    assert all(run.success for run in incident["runs"])
    rows = _table(incident["warehouse"])
    dau = {r[1]: r for r in rows if r[0] == "dau"}
    assert sorted(dau) == DAYS  # one row per metric and day
    assert [d for d, r in dau.items() if r[4] is not None] == [INCIDENT]
    metric, day, value, sample, baseline, weeks, change, z, threshold, alert = dau[INCIDENT]
    with duckdb.connect(incident["warehouse"], read_only=True) as conn:
        held = dict(conn.execute("select activity_date, dau from marts.agg_active_users_daily where platform = 'all'").fetchall())
    assert value == sample == held[INCIDENT]
    assert baseline == (held[INCIDENT - timedelta(days=7)] + held[INCIDENT - timedelta(days=14)]) / 2 and weeks == 2
    assert change == pytest.approx(value / baseline - 1) and change < -0.3  # 70% of the returning visitors stayed away
    assert z == pytest.approx((value - baseline) / baseline**0.5) and z <= -MIN_Z
    assert (threshold, alert) == (0.25, True)
    assert {r[0] for r in rows} == {"dau", "session_to_order_conversion", "day_1_retention", "quarantine_rate"}
    assert not any(r[9] for r in rows if r[1] != INCIDENT)


def test_the_check_of_the_metric_warns_with_the_value_the_baseline_the_change_and_the_rule(incident):
    backfill, _ = incident["runs"]
    evaluations = {e.check_name: e for e in backfill.get_asset_check_evaluations() if e.asset_key == METRIC_CHANGES}
    assert set(evaluations) == {check_name(m) for m in ("dau", "session_to_order_conversion", "day_1_retention", "quarantine_rate")}
    dau = evaluations[check_name("dau")]
    assert (dau.passed, dau.severity) == (False, AssetCheckSeverity.WARN)
    shown = {k: v.value for k, v in dau.metadata.items()}
    row = next(r for r in _table(incident["warehouse"]) if r[0] == "dau" and r[1] == INCIDENT)
    assert shown["metric_date"] == INCIDENT.isoformat() and shown["alert_days"] == INCIDENT.isoformat()
    assert (shown["value"], shown["baseline"]) == (row[2], round(row[4], 6))
    assert shown["change"] == round(row[6], 6) and shown["days_checked"] == len(DAYS)
    assert shown["rule"].startswith("alert when the relative change from the median of the same weekday")
    quarantine = evaluations[check_name("quarantine_rate")]
    assert quarantine.passed and quarantine.metadata["alert_days"].value == "none"


def test_the_alert_is_in_the_alert_file_once_however_often_the_day_runs(incident):
    alerts = [json.loads(line) for line in incident["first_lines"]]
    rows = [r for r in _table(incident["warehouse"]) if r[9]]
    assert sorted((a["metric"], a["metric_date"]) for a in alerts) == sorted((r[0], r[1].isoformat()) for r in rows)
    dau = next(a for a in alerts if a["metric"] == "dau")
    backfill, again = incident["runs"]
    row = next(r for r in rows if r[0] == "dau")
    assert (dau["kind"], dau["metric_date"]) == ("metric_change", INCIDENT.isoformat())
    assert (dau["run_id"], dau["job"]) == (backfill.run_id, "daily_pipeline")
    assert (dau["value"], dau["baseline"], dau["change"], dau["threshold"]) == (row[2], row[4], row[6], 0.25)
    # the day's second run raises the same alert; the sensor sends nothing new
    second = [e for e in again.get_asset_materialization_events() if e.asset_key == METRIC_CHANGES]
    assert [a["metric"] for a in second[0].materialization.metadata["alerts"].value] == [a["metric"] for a in alerts]
    first_tick, second_tick = incident["ticks"]
    assert first_tick.skip_message == f"sent {len(alerts)} metric alerts"
    assert second_tick.skip_message == "no new metric alert"
    assert (incident["root"] / "alerts.jsonl").read_text().splitlines() == incident["first_lines"]
    assert json.loads(second_tick.cursor)["sent"] == [f"{a['metric']}:{a['metric_date']}" for a in alerts]


def test_each_metric_is_the_value_its_definition_gives_on_every_day(incident):
    rows = _table(incident["warehouse"])
    held = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    with duckdb.connect(incident["warehouse"], read_only=True) as conn:
        conversion = conn.execute(
            """select session_date, avg(case when order_completed_count > 0 then 1 else 0 end), count(*)
               from marts.fct_sessions group by 1"""
        ).fetchall()
        # day-1 retention written out over fct_events: of the visitors whose first day is D-1,
        # the share active on D (the first processed day has no cohort before it)
        retention = conn.execute(
            """with days as (select distinct visitor_id, event_date from marts.fct_events),
                    firsts as (select visitor_id, min(event_date) as first_day from days group by 1)
               select f.first_day + 1, count(d.visitor_id) / count(*), count(*)
               from firsts as f left join days as d on d.visitor_id = f.visitor_id and d.event_date = f.first_day + 1
               where f.first_day < (select max(event_date) from days) group by 1"""
        ).fetchall()
        loads = conn.execute("select event_date, quarantined_rows, input_rows from raw.event_loads").fetchall()
    assert {(d, round(v, 12), n) for d, v, n in conversion} == {
        (d, round(v, 12), n) for (m, d), (v, n) in held.items() if m == "session_to_order_conversion"
    }
    assert {(d, round(v, 12), n) for d, v, n in retention} == {
        (d, round(v, 12), n) for (m, d), (v, n) in held.items() if m == "day_1_retention"
    }
    assert len(retention) == len(DAYS) - 1
    assert {(d, q / n, n) for d, q, n in loads} == {(d, v, n) for (m, d), (v, n) in held.items() if m == "quarantine_rate"}
    assert len(loads) == len(DAYS)


def test_the_table_has_the_documented_columns_and_its_asset_shows_them(incident):
    with duckdb.connect(incident["warehouse"], read_only=True) as conn:
        found = conn.execute(
            "select column_name, lower(data_type) from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'metric_changes' order by ordinal_position"
        ).fetchall()
        rows = conn.execute("select count(*) from marts.metric_changes").fetchone()[0]
    assert found == [(name, kind) for name, (kind, _) in COLUMNS.items()]
    event = incident["instance"].get_latest_materialization_event(METRIC_CHANGES)
    metadata = event.asset_materialization.metadata
    shown = [(c.name, c.type, c.description) for c in metadata["dagster/column_schema"].schema.columns]
    assert shown == [(name, kind, text) for name, (kind, text) in COLUMNS.items()]
    assert metadata["dagster/row_count"].value == rows == 4 * len(DAYS) - 1  # day-1 retention starts a day later
