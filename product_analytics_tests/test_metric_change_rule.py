"""The change rule on hand-worked series (docs/metrics.md, "Alerts on rate changes"), the
choice of watched metrics, and the simulator's incident."""

from datetime import date, timedelta

import pytest

from product_analytics.config import ConfigError
from product_analytics.monitoring.catalog import CATALOG, DEFAULT_METRICS, watched
from product_analytics.monitoring.rule import Rule, changes
from product_analytics.simulator.world import Incident, SimulationConfig, active_on, orders_created_on

MONDAYS = [date(2026, 3, 2) + timedelta(weeks=k) for k in range(5)]
COUNT = Rule(kind="count", change="relative", threshold=0.25)


def by_day(rows):
    return {r.metric_date: r for r in rows}


def test_the_baseline_is_the_median_of_the_same_weekday_of_up_to_four_weeks_before():
    values = {d: (v, int(v)) for d, v in zip(MONDAYS, [100, 110, 90, 104, 70], strict=True)}
    values[date(2026, 3, 29)] = (1000.0, 1000)  # a Sunday: never in a Monday's baseline, and none of its own
    rows = by_day(changes(COUNT, values))
    # weeks before each Monday: 0, 1 (fewer than 2: no baseline), 2, 3, 4
    assert [rows[d].baseline_weeks for d in MONDAYS] == [0, 1, 2, 3, 4]
    assert [rows[d].baseline for d in MONDAYS] == [None, None, 105, 100, 102]  # median(110, 100); (90, 110, 100); (104, 90, 110, 100)
    assert rows[MONDAYS[2]].change == pytest.approx(90 / 105 - 1)  # -14%: no alert
    assert rows[MONDAYS[3]].change == pytest.approx(0.04)
    last = rows[MONDAYS[4]]  # 70 against 102: -31.4%, and (70 - 102) / sqrt(102) = -3.17 standard errors
    assert (last.change, last.z_score, last.is_alert) == (pytest.approx(70 / 102 - 1), pytest.approx(-32 / 102**0.5), True)
    assert [rows[d].is_alert for d in MONDAYS[:4]] == [False] * 4
    assert (rows[date(2026, 3, 29)].baseline, rows[date(2026, 3, 29)].is_alert) == (None, False)


def test_a_missing_week_leaves_the_others_and_two_weeks_are_enough():
    values = {MONDAYS[0]: (200.0, 200), MONDAYS[2]: (100.0, 100), MONDAYS[4]: (50.0, 50)}
    rows = by_day(changes(COUNT, values))
    assert (rows[MONDAYS[2]].baseline, rows[MONDAYS[2]].baseline_weeks) == (None, 1)  # only the 2nd week before
    assert (rows[MONDAYS[4]].baseline, rows[MONDAYS[4]].baseline_weeks) == (150, 2)  # weeks 2 and 4 before
    assert rows[MONDAYS[4]].change == pytest.approx(-2 / 3)
    assert rows[MONDAYS[4]].is_alert  # (50 - 150) / sqrt(150) = -8.2


def _last(rule, before, value, sample_size=0):
    values = {d: (v, sample_size) for d, v in zip(MONDAYS, before, strict=False)}
    values[MONDAYS[4]] = (value, sample_size)
    return changes(rule, values)[-1]


def test_a_change_exactly_at_the_threshold_alerts_and_a_smaller_one_does_not():
    assert _last(COUNT, [10_000] * 4, 7_500).change == pytest.approx(-0.25)
    assert _last(COUNT, [10_000] * 4, 7_500).is_alert  # -25%, 25 standard errors
    assert not _last(COUNT, [10_000] * 4, 7_501).is_alert  # -24.99%
    assert _last(COUNT, [10_000] * 4, 12_500).is_alert  # up counts too ("both")
    assert not _last(Rule(kind="count", change="relative", threshold=0.25, direction="down"), [10_000] * 4, 12_500).is_alert


def test_a_change_past_the_threshold_within_the_noise_of_a_small_count_is_no_alert():
    small = _last(COUNT, [100] * 4, 75)  # -25%, but (75 - 100) / sqrt(100) = -2.5 standard errors
    assert (small.change, small.z_score, small.is_alert) == (pytest.approx(-0.25), pytest.approx(-2.5), False)
    assert _last(COUNT, [100] * 4, 70).is_alert  # -30%: -3 standard errors


def test_a_rate_is_judged_by_the_binomial_error_of_the_days_sample():
    rate = Rule(kind="rate", change="relative", threshold=0.3)
    # 0.05 against 0.1: -50%; the error is sqrt(0.1 * 0.9 / n): 0.03 over 100 sessions, 0.0095 over 1000
    few = _last(rate, [0.1] * 4, 0.05, sample_size=100)
    many = _last(rate, [0.1] * 4, 0.05, sample_size=1000)
    assert (few.change, few.z_score, few.is_alert) == (pytest.approx(-0.5), pytest.approx(-0.05 / 0.03), False)
    assert (many.z_score, many.is_alert) == (pytest.approx(-0.05 / (0.09 / 1000) ** 0.5), True)


def test_an_absolute_rule_that_watches_rises_only():
    rule = CATALOG["quarantine_rate"].rule
    assert (rule.change, rule.threshold, rule.direction) == ("absolute", 0.01, "up")
    rise = _last(rule, [0, 0, 0, 0], 0.02, sample_size=500)
    # no standard error at a baseline of 0: the threshold decides
    assert (rise.baseline, rise.change, rise.z_score, rise.is_alert) == (0, pytest.approx(0.02), None, True)
    assert not _last(rule, [0, 0, 0, 0], 0.005, sample_size=500).is_alert
    assert not _last(rule, [0.05] * 4, 0.0, sample_size=500).is_alert  # a fall of 5 points
    assert _last(rule, [0.002, 0.004, 0.0, 0.002], 0.05, sample_size=10_000).change == pytest.approx(0.048)


def test_a_relative_change_from_a_baseline_of_zero_is_undefined_and_no_alert():
    row = _last(COUNT, [0, 0, 0, 0], 40)
    assert (row.baseline, row.change, row.is_alert) == (0, None, False)


def test_rules_say_what_they_do_and_refuse_nonsense():
    assert COUNT.text() == (
        "alert when the relative change from the median of the same weekday over the last 4 weeks "
        "(at least 2 of them) is 25% or more up or down, and at least 3 standard errors (Poisson)"
    )
    with pytest.raises(ValueError):
        Rule(kind="count", change="percent", threshold=0.2)
    with pytest.raises(ValueError):
        Rule(kind="rate", change="relative", threshold=-1)


def test_the_watched_metrics_and_their_thresholds_come_from_the_settings(monkeypatch):
    assert DEFAULT_METRICS == ("dau", "session_to_order_conversion", "day_1_retention", "quarantine_rate")
    assert [m.name for m in watched()] == list(DEFAULT_METRICS)
    monkeypatch.setenv("PA_ALERT_METRICS", "dau, quarantine_rate")
    monkeypatch.setenv("PA_ALERT_THRESHOLDS", "dau=0.4")
    chosen = watched()
    assert [(m.name, m.rule.threshold) for m in chosen] == [("dau", 0.4), ("quarantine_rate", 0.01)]
    assert CATALOG["dau"].rule.threshold == 0.25  # the catalog itself is untouched
    monkeypatch.setenv("PA_ALERT_METRICS", "none")
    monkeypatch.delenv("PA_ALERT_THRESHOLDS")
    assert watched() == []


@pytest.mark.parametrize(
    ("metrics", "thresholds", "message"),
    [
        ("dau,weekly_revenue", "", "no metric named weekly_revenue"),
        ("dau", "quarantine_rate=0.02", "PA_ALERT_THRESHOLDS sets quarantine_rate, which PA_ALERT_METRICS does not watch"),
        ("dau,dau", "", "names a metric twice"),
        ("dau,,quarantine_rate", "", "has an empty name"),
        ("", "dau=lots", "'dau=lots' is not METRIC=THRESHOLD"),
        ("", "dau=-0.1", "is not METRIC=THRESHOLD with a threshold >= 0"),
    ],
)
def test_a_mistyped_alert_setting_is_a_clear_error(monkeypatch, metrics, thresholds, message):
    monkeypatch.setenv("PA_ALERT_METRICS", metrics)
    monkeypatch.setenv("PA_ALERT_THRESHOLDS", thresholds)
    with pytest.raises(ConfigError, match=message):
        watched()


def test_an_incident_changes_its_day_only():
    day = date(2026, 3, 20)
    normal = SimulationConfig(seed=5, epoch=date(2026, 3, 1), daily_users=400)
    drop = SimulationConfig(seed=5, epoch=date(2026, 3, 1), daily_users=400, incident=Incident.parse("2026-03-20:traffic:0.3"))
    fewer_orders = SimulationConfig(seed=5, epoch=date(2026, 3, 1), daily_users=400, incident=Incident(day, "orders", 0.0))
    index = normal.day_index(day)
    seen, dropped = active_on(normal, index)["pid"], active_on(drop, index)["pid"]
    arrivals = (active_on(normal, index)["cohort"] == index).sum()
    assert set(dropped) < set(seen) and arrivals < len(dropped) < 0.6 * len(seen)  # the returning visitors thin out
    assert (active_on(drop, index)["cohort"] == index).sum() == arrivals  # new visitors still arrive
    for other in (index - 1, index + 1):
        assert list(active_on(drop, other)["pid"]) == list(active_on(normal, other)["pid"])
    assert len(orders_created_on(normal, index)["key"]) > 0 and len(orders_created_on(fewer_orders, index)["key"]) == 0
    assert list(active_on(fewer_orders, index)["pid"]) == list(seen)


@pytest.mark.parametrize("text", ["2026-03-20:traffic", "2026-03-20:outage:0.5", "2026-03-32:traffic:0.5", "2026-03-20:orders:-1"])
def test_a_mistyped_incident_is_a_clear_error(monkeypatch, text):
    from product_analytics.ingestion.sources import event_source

    monkeypatch.setenv("PA_SIM_INCIDENT", text)
    with pytest.raises(ConfigError, match="PA_SIM_INCIDENT: incident"):
        event_source()
