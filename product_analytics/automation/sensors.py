"""Sensors: alerts on failed runs, and the periodic evaluation of the freshness checks."""

import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetRecordsFilter,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from product_analytics.automation.jobs import freshness_checks_job
from product_analytics.config import settings
from product_analytics.monitoring.assets import ALERTS, METRIC_CHANGES
from product_analytics.policies.partitions import RANGE_END_TAG, RANGE_START_TAG
from product_analytics.resources.recovery import free_slots_of_dead_runs

# Set by Dagster on a failed run: "true" when its run retries will launch another attempt.
WILL_RETRY_TAG = "dagster/will_retry"


def _root_message(error) -> str:
    """The innermost error's message: what went wrong, not the framework's wrapper."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def failure_alert(context: RunFailureSensorContext) -> dict:
    """One alert: which run, job and partition failed, and why."""
    run = context.dagster_run
    tags = run.tags
    if "dagster/partition" in tags:
        partition = tags["dagster/partition"]
    elif RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        partition = f"{tags[RANGE_START_TAG]}...{tags[RANGE_END_TAG]}"
    else:
        partition = None
    step_errors = [
        f"{e.step_key}: {_root_message(e.event_specific_data.error)}"
        for e in context.get_step_failure_events()
        if e.event_specific_data.error
    ]
    return {
        "at": datetime.now(UTC).isoformat(),
        "run_id": run.run_id,
        "job": run.job_name,
        "partition": partition,
        "error": "; ".join(step_errors) or (context.failure_event.message or "run failed"),
    }


def deliver(alert: dict, alert_file: Path, webhook_url: str | None) -> None:
    """Append the alert as one JSON line to the file, or POST it to the webhook."""
    line = json.dumps(alert, sort_keys=True)
    if webhook_url:
        request = urllib.request.Request(webhook_url, data=line.encode(), headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return
    alert_file.parent.mkdir(parents=True, exist_ok=True)
    with alert_file.open("a") as out:
        out.write(line + "\n")


@run_failure_sensor(
    name="run_failure_alerts",
    default_status=DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description=(
        "Writes every failed run to PA_ALERT_FILE (JSON lines), or posts it to PA_ALERT_WEBHOOK_URL; a "
        "run Dagster retries is reported by its last retry only (one alert per failure)."
    ),
)
def run_failure_alerts(context: RunFailureSensorContext) -> None:
    if will_be_retried(context.instance, context.dagster_run.run_id):
        context.log.info(f"run {context.dagster_run.run_id} failed and will be retried: no alert yet")
        return
    s = settings()
    deliver(failure_alert(context), s.alert_file, s.alert_webhook_url)


def will_be_retried(instance, run_id: str) -> bool:
    """Whether Dagster's run retries will launch another attempt of this failed run."""
    run = instance.get_run_by_id(run_id)  # the tag is added when the failure is recorded
    return run is not None and run.tags.get(WILL_RETRY_TAG) == "true"


@sensor(
    job=freshness_checks_job,
    minimum_interval_seconds=3600,
    default_status=DefaultSensorStatus.RUNNING,
    description="Evaluates the latest-partition checks once an hour (they read only the Dagster instance).",
)
def freshness_checks_sensor(context: SensorEvaluationContext):
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    return RunRequest(run_key=f"freshness-{hour}")


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Fails the runs whose process died (killed, or Dagster stopped under them) and frees their DuckDB"
        " writer slots, so that queued runs start without waiting for a new run to clean up; Dagster's "
        "run retries then retry them (product_analytics/resources/recovery.py)."
    ),
)
def dead_run_reaper(context: SensorEvaluationContext):
    freed = free_slots_of_dead_runs(context.instance)
    for run_id in freed:
        context.log.info(f"run {run_id}: its process is gone; marked failed and its writer slots freed")
    return SkipReason(f"freed the slots of {len(freed)} dead runs" if freed else "no dead run holds a slot")


SENT_KEPT = 5000  # the (metric, day) pairs the cursor remembers as sent, the latest first


def metric_alerts_since(instance, after: int | None, limit: int = 100) -> tuple[list[dict], int | None]:
    """The alerts of metric_changes' materializations after storage id ``after``, each with its
    run, and the last storage id read."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=METRIC_CHANGES, after_storage_id=after), limit=limit, ascending=True
    ).records
    found = []
    for record in records:
        entry = record.asset_materialization.metadata.get(ALERTS)
        run = instance.get_run_by_id(record.run_id)
        for alert in entry.value if entry is not None else []:
            found.append({**alert, "run_id": record.run_id, "job": run.job_name if run else None})
        after = record.storage_id
    return found, after


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Sends each metric alert of marts.metric_changes (a watched metric past its threshold on a day of "
        "the run) to PA_ALERT_FILE or PA_ALERT_WEBHOOK_URL, like failed runs: once per metric and day, "
        "however often the day is run again."
    ),
)
def metric_change_alerts(context: SensorEvaluationContext):
    state = json.loads(context.cursor) if context.cursor else {"after": None, "sent": []}
    sent = dict.fromkeys(state["sent"])
    s = settings()
    delivered = 0
    while True:
        alerts, after = metric_alerts_since(context.instance, state["after"])
        if after == state["after"]:
            break
        for alert in alerts:
            key = f"{alert['metric']}:{alert['metric_date']}"
            if key in sent:
                continue
            try:
                deliver({"at": datetime.now(UTC).isoformat(), **alert}, s.alert_file, s.alert_webhook_url)
            except OSError as exc:  # the file or the webhook: what was sent stays sent, the rest waits
                context.update_cursor(json.dumps({"after": state["after"], "sent": list(sent)[-SENT_KEPT:]}))
                context.log.error(f"metric alert {key} not sent: {exc}")
                return SkipReason(f"sent {delivered} metric alerts; {key} failed ({exc}) and is retried at the next tick")
            sent[key] = None
            delivered += 1
        state = {"after": after, "sent": list(sent)[-SENT_KEPT:]}
        context.update_cursor(json.dumps(state))
    return SkipReason(f"sent {delivered} metric alerts" if delivered else "no new metric alert")
