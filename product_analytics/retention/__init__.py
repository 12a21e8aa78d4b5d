"""Retention cohorts, computed in Python from one row per user and active day."""
