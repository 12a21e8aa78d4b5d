"""Freshness: how old the data that must arrive every day may get."""

from datetime import timedelta

from dagster import FreshnessPolicy

# The daily run starts at PA_SCHEDULE_HOUR: a day and a few hours without a
# materialization means a run was missed.
DAILY_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))

# What a dbt model's `meta.freshness` may name.
FRESHNESS_POLICIES = {"daily": DAILY_FRESHNESS}
