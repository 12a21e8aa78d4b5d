"""The daily schedule: yesterday and the lookback window, in one run."""

from datetime import date, timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from product_analytics.automation.jobs import daily_pipeline_job, snapshot_job
from product_analytics.config import settings
from product_analytics.policies.partitions import range_tags


def lookback_range(run_day: date, lookback_days: int, first_day: date) -> tuple[date, date] | None:
    """The days a run on ``run_day`` processes: yesterday and the ``lookback_days`` before it."""
    last = run_day - timedelta(days=1)
    if last < first_day:
        return None
    return max(first_day, last - timedelta(days=lookback_days)), last


@schedule(
    name="daily_pipeline_schedule",
    job=daily_pipeline_job,
    cron_schedule=f"0 {settings().schedule_hour} * * *",
    execution_timezone="UTC",
    # Stopped until someone turns it on in the UI: a fresh checkout should not start
    # writing to the warehouse by itself.
    default_status=DefaultScheduleStatus.STOPPED,
    description=(
        "Ingests and transforms yesterday and the lookback window (late events), then refreshes the unpartitioned models, all in one run."
    ),
)
def daily_pipeline_schedule(context: ScheduleEvaluationContext):
    s = settings()
    window = lookback_range(context.scheduled_execution_time.date(), s.lookback_days, s.start_date)
    if window is None:
        return SkipReason(f"nothing to process before the first partition ({s.start_date})")
    first, last = window
    return RunRequest(run_key=f"daily-{last.isoformat()}", tags=range_tags(first, last))


@schedule(
    name="daily_snapshot_schedule",
    job=snapshot_job,
    cron_schedule=f"30 {settings().schedule_hour} * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description=("Snapshots the operational tables every day, on its own: history keeps being recorded even when models downstream fail."),
)
def daily_snapshot_schedule(context: ScheduleEvaluationContext):
    return RunRequest(run_key=f"snapshot-{context.scheduled_execution_time.date().isoformat()}")
