"""Freshness of the latest partition, failure alerts (file and webhook), the snapshot schedule."""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

from dagster import (
    AssetKey,
    DagsterInstance,
    RunRequest,
    build_run_status_sensor_context,
    build_schedule_context,
    job,
    op,
)

from product_analytics.automation.freshness_checks import latest_partition_result
from product_analytics.automation.schedules import daily_snapshot_schedule
from product_analytics.automation.sensors import deliver, failure_alert, will_be_retried
from product_analytics.instance import ensure_dagster_home

RAW = AssetKey(["raw", "events"])


def test_a_missing_yesterday_fails_even_after_a_backfill_of_older_days():
    older = {"2026-03-01", "2026-03-02", "2026-03-03"}
    missing = latest_partition_result(RAW, older, "2026-03-20")
    assert not missing.passed
    assert missing.metadata["newest_materialized_partition"].value == "2026-03-03"
    assert "2026-03-20" in missing.description
    assert latest_partition_result(RAW, older | {"2026-03-20"}, "2026-03-20").passed


@op
def failing_step():
    raise RuntimeError("the warehouse is locked by another process")


@job
def failing_job():
    failing_step()


def _failed_run_context():
    instance = DagsterInstance.ephemeral()
    result = failing_job.execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={"dagster/asset_partition_range_start": "2026-03-10", "dagster/asset_partition_range_end": "2026-03-12"},
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    run = instance.get_run_by_id(result.run_id)
    return build_run_status_sensor_context(
        sensor_name="run_failure_alerts", dagster_instance=instance, dagster_run=run, dagster_event=failure
    ).for_run_failure(), result.run_id


def test_a_failed_run_becomes_one_json_line(tmp_path):
    context, run_id = _failed_run_context()
    alert = failure_alert(context)
    assert (alert["run_id"], alert["job"], alert["partition"]) == (run_id, "failing_job", "2026-03-10...2026-03-12")
    assert "the warehouse is locked by another process" in alert["error"]
    target = tmp_path / "alerts" / "alerts.jsonl"
    deliver(alert, target, None)
    deliver(alert, target, None)
    lines = target.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["run_id"] == run_id


def test_alerts_are_posted_to_a_webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server API)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        deliver(
            {"run_id": "r1", "job": "daily_pipeline", "partition": "2026-03-10", "error": "boom"},
            None,
            f"http://127.0.0.1:{server.server_port}/alerts",
        )
        thread.join(timeout=10)
    finally:
        server.server_close()
    assert received == [{"error": "boom", "job": "daily_pipeline", "partition": "2026-03-10", "run_id": "r1"}]


def test_the_snapshot_schedule_asks_for_one_run_a_day():
    request = daily_snapshot_schedule(build_schedule_context(scheduled_execution_time=datetime(2026, 3, 20, 2, 30, tzinfo=UTC)))
    assert isinstance(request, RunRequest) and request.run_key == "snapshot-2026-03-20"
    assert daily_snapshot_schedule.cron_schedule == "30 2 * * *"


def test_the_instance_configuration_limits_writers_and_retries_runs(tmp_path):
    from dagster import DagsterInstance as Instance

    from product_analytics.instance import ensure_dagster_home

    home = ensure_dagster_home(tmp_path / "home")
    instance = Instance.from_config(str(home))
    try:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
    finally:
        instance.dispose()


def test_a_failed_step_fails_its_run_once_and_a_dead_run_is_retried(tmp_path):
    """Regression: every failed run was retried twice, a failed dbt test as much as a lock,
    and each attempt alerted. Now a step failure is final (one alert), while a run that died
    without a failed step will be retried and alerts only from its last attempt."""
    instance = DagsterInstance.from_config(str(ensure_dagster_home(tmp_path / "home")))
    try:
        failed = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not failed.success
        assert instance.get_run_by_id(failed.run_id).tags.get("dagster/will_retry") == "false"
        assert not will_be_retried(instance, failed.run_id)

        died = instance.create_run_for_job(failing_job)
        instance.report_run_failed(died, "the run's process is gone")
        assert will_be_retried(instance, died.run_id)
    finally:
        instance.dispose()


def _metric_alert(metric: str, day: str, value: float) -> dict:
    return {"kind": "metric_change", "metric": metric, "metric_date": day, "value": value, "baseline": 100.0, "change": value / 100 - 1}


def test_metric_alerts_are_sent_once_per_metric_and_day_and_a_failed_send_is_retried(tmp_path, monkeypatch):
    from dagster import AssetMaterialization, MetadataValue, build_sensor_context

    from product_analytics.automation.sensors import metric_change_alerts
    from product_analytics.monitoring.assets import ALERTS, METRIC_CHANGES

    def materialize(*alerts):
        instance.report_runless_asset_event(AssetMaterialization(METRIC_CHANGES, metadata={ALERTS: MetadataValue.json(list(alerts))}))

    def tick(cursor):
        return metric_change_alerts.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))

    instance = DagsterInstance.ephemeral()
    sink = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("PA_ALERT_FILE", str(sink))
    materialize(_metric_alert("dau", "2026-03-10", 60.0), _metric_alert("day_1_retention", "2026-03-10", 0.1))
    materialize()  # a run without alerts
    first = tick(None)
    assert first.skip_message == "sent 2 metric alerts"
    # the same day again (a re-run), and a new day: only the new day is sent
    materialize(_metric_alert("dau", "2026-03-10", 60.0), _metric_alert("dau", "2026-03-11", 50.0))
    # the webhook is down: nothing is lost, nothing is sent twice
    monkeypatch.setenv("PA_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/alerts")  # the discard port: refused
    failed = tick(first.cursor)
    assert "dau:2026-03-11 failed" in failed.skip_message and "retried at the next tick" in failed.skip_message
    monkeypatch.delenv("PA_ALERT_WEBHOOK_URL")
    retried = tick(failed.cursor)
    assert retried.skip_message == "sent 1 metric alerts"
    assert tick(retried.cursor).skip_message == "no new metric alert"
    lines = [json.loads(line) for line in sink.read_text().splitlines()]
    assert [(a["metric"], a["metric_date"], a["value"]) for a in lines] == [
        ("dau", "2026-03-10", 60.0),
        ("day_1_retention", "2026-03-10", 0.1),
        ("dau", "2026-03-11", 50.0),
    ]
    assert all(a["kind"] == "metric_change" and a["at"] and a["job"] is None for a in lines)  # runless events have no job
