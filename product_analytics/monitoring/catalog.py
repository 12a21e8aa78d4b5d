"""The metrics the alerts can watch: where each day's value comes from, and its default rule.

Each reads the table that defines it (docs/metrics.md, "Alerts on rate changes"), one row
per day: ``metric_date``, ``value``, ``sample_size`` (what the value counts over: the
visitors, the sessions, the cohort, the messages). ``PA_ALERT_METRICS`` picks among them
(all four by default) and ``PA_ALERT_THRESHOLDS`` replaces their thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from product_analytics.config import ConfigError, settings
from product_analytics.monitoring.rule import Rule


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    rule: Rule
    reads: tuple[str, ...]  # the relations the query reads, as schema.table
    sql: str  # metric_date, value, sample_size; one row per day, no null value


CATALOG = {
    metric.name: metric
    for metric in [
        Metric(
            "dau",
            "Daily active users: visitors with an event that day (agg_active_users_daily.dau, platform 'all').",
            Rule(kind="count", change="relative", threshold=0.25),
            ("marts.agg_active_users_daily",),
            """select activity_date as metric_date, dau::double as value, dau as sample_size
               from marts.agg_active_users_daily where platform = 'all'""",
        ),
        Metric(
            "session_to_order_conversion",
            "Sessions of the day with an order_completed, over the day's sessions (fct_sessions by session_date).",
            Rule(kind="rate", change="relative", threshold=0.3),
            ("marts.fct_sessions",),
            """select session_date as metric_date,
                      count(*) filter (where order_completed_count > 0) / count(*) as value,
                      count(*) as sample_size
               from marts.fct_sessions group by session_date""",
        ),
        Metric(
            "day_1_retention",
            "Of the visitors first active the day before, the share active that day (retention_cohorts, "
            "daily cohorts, period 1; dated by the day of the return).",
            Rule(kind="rate", change="relative", threshold=0.3),
            ("marts.retention_cohorts",),
            """select cohort_period + 1 as metric_date, retention_rate as value, cohort_size as sample_size
               from marts.retention_cohorts
               where grain = 'day' and period_number = 1 and retention_rate is not null""",
        ),
        Metric(
            "quarantine_rate",
            "Messages of the day's event files sent to the quarantine, over the messages read (raw.event_loads).",
            Rule(kind="rate", change="absolute", threshold=0.01, direction="up"),
            ("raw.event_loads",),
            """select event_date as metric_date, quarantined_rows / input_rows as value, input_rows as sample_size
               from raw.event_loads where input_rows > 0""",
        ),
    ]
}
DEFAULT_METRICS = tuple(CATALOG)


def watched(names: tuple[str, ...] | None = None, thresholds: dict[str, float] | None = None) -> list[Metric]:
    """The metrics to watch, with their thresholds: by default those of the settings."""
    if names is None and thresholds is None:
        s = settings()
        names, thresholds = s.alert_metrics, s.alert_thresholds
    names = DEFAULT_METRICS if names is None else names
    thresholds = thresholds or {}
    unknown = sorted({*names, *thresholds} - set(CATALOG))
    if unknown:
        raise ConfigError(
            f"PA_ALERT_METRICS / PA_ALERT_THRESHOLDS: no metric named {', '.join(unknown)}; the metrics are {', '.join(CATALOG)}"
        )
    unwatched = sorted(set(thresholds) - set(names))
    if unwatched:
        raise ConfigError(f"PA_ALERT_THRESHOLDS sets {', '.join(unwatched)}, which PA_ALERT_METRICS does not watch")
    if len(set(names)) != len(names):
        raise ConfigError(f"PA_ALERT_METRICS names a metric twice: {', '.join(names)}")
    chosen = [CATALOG[name] for name in names]
    return [replace(m, rule=replace(m.rule, threshold=thresholds[m.name])) if m.name in thresholds else m for m in chosen]
