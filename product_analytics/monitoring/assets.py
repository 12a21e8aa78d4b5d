"""``marts.metric_changes``: each watched metric's days against their baseline, an asset check
per metric that warns on the run's days past its threshold, and the alerts the sensor sends.

The table is recomputed whole on every run (one row per metric and day, a few hundred rows
a year): late data and identity changes restate earlier days, and their rows follow. Only
the days of the run raise alerts (a daily run its day, a backfill its range, a run without
partitions the latest day of each metric); the sensor sends each (metric, day) once
(automation/sensors.py).
"""

from datetime import date

import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from product_analytics.monitoring.catalog import Metric, watched
from product_analytics.monitoring.rule import Change, changes
from product_analytics.policies import audit_trail
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.policies.table_figures import table_figures
from product_analytics.resources.transient import retried_when_transient
from product_analytics.resources.warehouse import Warehouse
from product_analytics.retention.assets import RETENTION
from product_analytics.transform.assets import model_key

METRIC_CHANGES = AssetKey(["marts", "metric_changes"])
TABLE = "marts.metric_changes"
ALERTS = "alerts"  # the materialization's entry the alert sensor reads
COLUMNS = {  # the table's columns, in order, with their types and descriptions (docs/metrics.md)
    "metric": ("varchar", "The watched metric (monitoring/catalog.py), e.g. dau or session_to_order_conversion."),
    "metric_date": ("date", "The day the value belongs to."),
    "value": ("double", "The metric's value that day."),
    "sample_size": ("bigint", "What the value counts over: visitors (dau), sessions, the cohort's visitors, messages."),
    "baseline": ("double", "The median of the metric on the same weekday 1 to 4 weeks before; null with fewer than 2 of them."),
    "baseline_weeks": ("integer", "How many of those 4 days have a value."),
    "change": ("double", "value / baseline - 1 (relative metrics) or value - baseline (absolute); null without a baseline."),
    "z_score": ("double", "(value - baseline) over the standard error at the baseline (Poisson or binomial); null where it is 0."),
    "threshold": ("double", "The change the metric alerts at (PA_ALERT_THRESHOLDS)."),
    "is_alert": ("boolean", "Whether the change is past the threshold in the metric's direction and at least 3 standard errors."),
}


def check_name(metric: str) -> str:
    return f"{metric}_change_within_threshold"


def _asset_of(relation: str) -> AssetKey:
    if relation == "marts.retention_cohorts":
        return RETENTION
    if relation.startswith("raw."):
        return AssetKey(["raw", "events"])  # raw.event_loads is written with raw.events
    return model_key(relation.split(".", 1)[1])


def _alert(metric: Metric, row: Change) -> dict:
    return {
        "kind": "metric_change",
        "metric": metric.name,
        "metric_date": row.metric_date.isoformat(),
        "value": row.value,
        "baseline": row.baseline,
        "change": row.change,
        "z_score": row.z_score,
        "threshold": metric.rule.threshold,
        "rule": metric.rule.text(),
    }


def _rows_table(found: dict[str, list[Change]], metrics: list[Metric]) -> pa.Table:
    thresholds = {m.name: m.rule.threshold for m in metrics}
    rows = [(name, row) for name, days in found.items() for row in days]
    return pa.table(
        {
            "metric": pa.array([name for name, _ in rows], pa.string()),
            "metric_date": pa.array([r.metric_date for _, r in rows], pa.date32()),
            "value": pa.array([r.value for _, r in rows], pa.float64()),
            "sample_size": pa.array([r.sample_size for _, r in rows], pa.int64()),
            "baseline": pa.array([r.baseline for _, r in rows], pa.float64()),
            "baseline_weeks": pa.array([r.baseline_weeks for _, r in rows], pa.int32()),
            "change": pa.array([r.change for _, r in rows], pa.float64()),
            "z_score": pa.array([r.z_score for _, r in rows], pa.float64()),
            "threshold": pa.array([thresholds[name] for name, _ in rows], pa.float64()),
            "is_alert": pa.array([r.is_alert for _, r in rows], pa.bool_()),
        }
    )


def days_checked(rows: list[Change], first: date | None, last: date | None) -> list[Change]:
    """The rows a run raises alerts for: its days, or without days the metric's latest."""
    if first is None or last is None:
        return rows[-1:]
    return [r for r in rows if first <= r.metric_date <= last]


def _number(value: float | None) -> MetadataValue:
    return MetadataValue.float(round(value, 6)) if value is not None else MetadataValue.text("none")


def check_result(metric: Metric, checked: list[Change]) -> AssetCheckResult:
    """WARN when any checked day is an alert; the metadata shows the last alerting day (or the
    last day checked), the rule and every alerting day."""
    alerts = [r for r in checked if r.is_alert]
    metadata: dict[str, MetadataValue] = {
        "rule": MetadataValue.text(metric.rule.text()),
        "threshold": MetadataValue.float(metric.rule.threshold),
        "days_checked": MetadataValue.int(len(checked)),
        "alert_days": MetadataValue.text(", ".join(r.metric_date.isoformat() for r in alerts) or "none"),
    }
    shown = (alerts or checked or [None])[-1]
    if shown is not None:
        metadata |= {
            "metric_date": MetadataValue.text(shown.metric_date.isoformat()),
            "value": _number(shown.value),
            "baseline": _number(shown.baseline),
            "change": _number(shown.change),
            "z_score": _number(shown.z_score),
        }
    return AssetCheckResult(
        asset_key=METRIC_CHANGES,
        check_name=check_name(metric.name),
        passed=not alerts,
        severity=AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def _latest_table(found: dict[str, list[Change]]) -> MetadataValue:
    lines = ["| metric | day | value | baseline | change | alert |", "|---|---|---:|---:|---:|---|"]
    for name, rows in found.items():
        if rows:
            r = rows[-1]
            show = lambda v: "" if v is None else f"{v:.4g}"  # noqa: E731
            lines.append(f"| {name} | {r.metric_date} | {show(r.value)} | {show(r.baseline)} | {show(r.change)} | {r.is_alert} |")
    return MetadataValue.md("\n".join(lines))


def build_metric_changes(metrics: list[Metric]):
    """The asset for these metrics, with one check each."""
    deps = sorted({_asset_of(relation) for m in metrics for relation in m.reads}, key=lambda k: k.to_user_string())

    @asset(
        key=METRIC_CHANGES,
        group_name="monitoring",
        deps=deps,
        kinds={"python", "duckdb"},
        pool=DUCKDB_WRITER_POOL,
        check_specs=[
            AssetCheckSpec(check_name(m.name), asset=METRIC_CHANGES, description=f"{m.description} Warns: {m.rule.text()}.")
            for m in metrics
        ],
        description=(
            "Each watched metric's days against the same weekday of the 4 weeks before (docs/metrics.md, 'Alerts "
            "on rate changes'); a check per metric warns when a day of the run is past its threshold, and the "
            "alert sensor sends it once to PA_ALERT_FILE or PA_ALERT_WEBHOOK_URL."
        ),
    )
    def metric_changes(context: AssetExecutionContext, duckdb: Warehouse):
        yield from audit_trail.recorded(context, duckdb.get_connection, _metric_changes(context, duckdb, metrics))

    return metric_changes


def compute(conn, metrics: list[Metric]) -> dict[str, list[Change]]:
    """Every watched metric's days, read from the warehouse and put through the rule."""
    found = {}
    for metric in metrics:
        values = {day: (float(value), int(n)) for day, value, n in conn.execute(metric.sql).fetchall()}
        found[metric.name] = changes(metric.rule, values)
    return found


def _metric_changes(context: AssetExecutionContext, duckdb: Warehouse, metrics: list[Metric]):
    first, last = audit_trail.run_days(context)
    with retried_when_transient(duckdb.lock_timeout_seconds), duckdb.get_connection() as conn:
        found = compute(conn, metrics)
        conn.register("_metric_changes", _rows_table(found, metrics))
        conn.execute("begin transaction")
        conn.execute("create schema if not exists marts")
        conn.execute(f"create or replace table {TABLE} as select * from _metric_changes order by metric, metric_date")
        conn.execute("commit")
        conn.unregister("_metric_changes")
        figures, _ = table_figures(conn, TABLE, {name: text for name, (_, text) in COLUMNS.items()})

    by_name = {m.name: m for m in metrics}
    checked = {name: days_checked(rows, first, last) for name, rows in found.items()}
    alerts = [_alert(by_name[name], r) for name, rows in checked.items() for r in rows if r.is_alert]
    yield MaterializeResult(
        asset_key=METRIC_CHANGES,
        metadata={
            ALERTS: MetadataValue.json(alerts),
            "alerts_in_run": MetadataValue.int(len(alerts)),
            "latest_days": _latest_table(found),
            **figures,
        },
    )
    for metric in metrics:
        yield check_result(metric, checked[metric.name])


metric_changes = build_metric_changes(watched())
