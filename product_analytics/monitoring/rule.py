"""The change rule: a day's value against the same weekday of the weeks before (docs/metrics.md).

Pure: a metric's daily values in, one row per day out. The asset fetches the values
(monitoring/catalog.py) and writes the rows (monitoring/assets.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

BASELINE_WEEKS = 4  # the baseline looks at the same weekday 1..4 weeks before
MIN_BASELINE_WEEKS = 2  # and needs a value on at least this many of them
MIN_Z = 3.0  # a change must also lie this many standard errors from the baseline
KINDS = ("count", "rate")
CHANGES = ("relative", "absolute")
DIRECTIONS = ("both", "down", "up")


@dataclass(frozen=True)
class Rule:
    """How one metric is watched. ``kind`` decides the standard error (a count: Poisson,
    the baseline's square root; a rate: binomial over the day's sample); ``change`` is
    ``relative`` (value / baseline - 1) or ``absolute`` (value - baseline); an alert needs
    the change past ``threshold`` in ``direction``."""

    kind: str
    change: str
    threshold: float
    direction: str = "both"

    def __post_init__(self):
        if self.kind not in KINDS or self.change not in CHANGES or self.direction not in DIRECTIONS:
            raise ValueError(f"rule {self}: kind in {KINDS}, change in {CHANGES}, direction in {DIRECTIONS}")
        if not self.threshold >= 0:
            raise ValueError(f"rule {self}: the threshold must be a number >= 0")

    def text(self) -> str:
        """The rule in one sentence, for the checks' metadata and the alerts."""
        size = f"{self.threshold:.0%}" if self.change == "relative" else f"{self.threshold:g}"
        way = {"both": "up or down", "down": "down", "up": "up"}[self.direction]
        return (
            f"alert when the {self.change} change from the median of the same weekday over the last "
            f"{BASELINE_WEEKS} weeks (at least {MIN_BASELINE_WEEKS} of them) is {size} or more {way}, "
            f"and at least {MIN_Z:g} standard errors ({'Poisson' if self.kind == 'count' else 'binomial'})"
        )


@dataclass(frozen=True)
class Change:
    """One metric's day: the columns of ``marts.metric_changes`` but the metric's name."""

    metric_date: date
    value: float
    sample_size: int
    baseline: float | None
    baseline_weeks: int
    change: float | None
    z_score: float | None
    is_alert: bool


def _change(rule: Rule, value: float, baseline: float) -> float | None:
    if rule.change == "absolute":
        return value - baseline
    return value / baseline - 1 if baseline != 0 else None


def _z_score(rule: Rule, value: float, baseline: float, sample_size: int) -> float | None:
    """Standard errors between value and baseline; None where the error is 0 (a count's
    baseline of 0, a rate's baseline of 0 or 1), which leaves the threshold to decide."""
    if rule.kind == "count":
        error = math.sqrt(baseline) if baseline > 0 else 0.0
    else:
        error = math.sqrt(baseline * (1 - baseline) / sample_size) if sample_size > 0 and 0 < baseline < 1 else 0.0
    return (value - baseline) / error if error > 0 else None


def _past(rule: Rule, change: float) -> bool:
    change = round(change, 9)  # 0.8 / 1 - 1 is -0.19999999999999996: a drop of 20% all the same
    if rule.direction == "down":
        return change <= -rule.threshold
    if rule.direction == "up":
        return change >= rule.threshold
    return abs(change) >= rule.threshold


def changes(rule: Rule, values: dict[date, tuple[float, int]]) -> list[Change]:
    """Every day of ``values`` ({day: (value, sample size)}, days without a value absent),
    in date order, with its baseline, change, z-score and whether it is an alert."""
    out = []
    for day in sorted(values):
        value, sample_size = values[day]
        before = [values[d][0] for d in (day - timedelta(weeks=k) for k in range(1, BASELINE_WEEKS + 1)) if d in values]
        baseline = median(before) if len(before) >= MIN_BASELINE_WEEKS else None
        change = z = None
        alert = False
        if baseline is not None:
            change = _change(rule, value, baseline)
            z = _z_score(rule, value, baseline, sample_size)
            alert = change is not None and _past(rule, change) and (z is None or abs(z) >= MIN_Z)
        out.append(Change(day, value, sample_size, baseline, len(before), change, z, alert))
    return out
