"""How often the metric alerts fire on a normal product: the false-alarm rate of the change rule.

    python benchmarks/metric_false_alarms.py [judged_days=60] [daily_users=500]

Simulates a product without any incident from its launch, runs it through the pipeline as
one backfill, and judges the last days only: those after the first 90 (when visitors of the
launch no longer come back and the product grows by 0.2% a day) and the 4 weeks of their
baseline. The warehouse starts at the launch, so a daily cohort holds new visitors only (a
warehouse that starts in a product's middle takes returning visitors for new ones for its
first weeks: docs/metrics.md). Counts, per watched metric, the judged days and the alerts
among them; every alert here is a false alarm. Prints a table and a JSON line;
docs/metrics.md quotes the result.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

import duckdb
from bench_pipeline import START, Pipeline

from product_analytics.monitoring.rule import BASELINE_WEEKS

SETTLED_DAY = 90  # the simulator's visitors stop coming back after 90 days


def main(judged_days: int = 60, daily_users: int = 500) -> dict:
    pipeline = Pipeline(daily_users)
    first = START
    first_judged = START + timedelta(days=SETTLED_DAY) + timedelta(weeks=BASELINE_WEEKS)
    last = first_judged + timedelta(days=judged_days - 1)
    started = time.perf_counter()
    messages = pipeline.simulate(first, last)
    run = pipeline.run(first, last)
    with duckdb.connect(str(pipeline.warehouse), read_only=True) as conn:
        rows = conn.execute(
            """select metric, count(*) filter (where baseline is not null), count(*) filter (where is_alert),
                      string_agg(case when is_alert then metric_date::varchar end, ', ' order by metric_date)
               from marts.metric_changes where metric_date between ? and ? group by metric order by metric""",
            [first_judged, last],
        ).fetchall()
    figures = {
        "window": f"{first} .. {last}",
        "judged": f"{first_judged} .. {last}",
        "daily_users": daily_users,
        "messages": messages,
        "run_s": round(run.seconds, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "metrics": {m: {"judged_days": j, "alerts": a, "alert_days": d or ""} for m, j, a, d in rows},
    }
    judged = sum(m["judged_days"] for m in figures["metrics"].values())
    alerts = sum(m["alerts"] for m in figures["metrics"].values())
    figures["false_alarm_rate"] = round(alerts / judged, 4) if judged else None
    print(f"{'metric':<30} {'judged days':>11} {'alerts':>6}  alert days")
    for metric, m in figures["metrics"].items():
        print(f"{metric:<30} {m['judged_days']:>11} {m['alerts']:>6}  {m['alert_days']}")
    print(f"{'all':<30} {judged:>11} {alerts:>6}  false-alarm rate {figures['false_alarm_rate']}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
