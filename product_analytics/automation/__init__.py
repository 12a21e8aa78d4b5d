"""Automation: the jobs, schedules and sensors that run the domains' assets, and the
checks that only the Dagster instance can answer (did yesterday's partition arrive)."""
