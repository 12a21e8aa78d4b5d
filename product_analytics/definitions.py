"""Assembles the code location; nothing here opens the warehouse or changes the environment."""

from dagster import Definitions, in_process_executor, map_asset_specs, with_source_code_references

from product_analytics.automation.freshness_checks import latest_partition_checks
from product_analytics.automation.jobs import daily_pipeline_job, freshness_checks_job, refresh_models_job, snapshot_job
from product_analytics.automation.schedules import daily_pipeline_schedule, daily_snapshot_schedule
from product_analytics.automation.sensors import dead_run_reaper, freshness_checks_sensor, metric_change_alerts, run_failure_alerts
from product_analytics.ingestion.assets import raw_events, raw_source_tables
from product_analytics.ingestion.sources import event_source
from product_analytics.monitoring.assets import metric_changes
from product_analytics.policies.owners import owned
from product_analytics.publishing.assets import audit_runs, reader_copy
from product_analytics.resources.dbt import dbt_cli
from product_analytics.resources.warehouse import warehouse
from product_analytics.retention.assets import retention_cohorts
from product_analytics.transform.assets import dbt_daily_models, dbt_unpartitioned_models
from product_analytics.transform.checks import social_inference_matches_simulator_truth
from product_analytics.transform.exposures import exposure_specs

# Owners by group (policies/owners.py); the Python assets' code references point at their
# functions (the dbt models' at their SQL files, set by the translator).
assets = map_asset_specs(
    owned,
    [
        *with_source_code_references([raw_events, raw_source_tables, retention_cohorts, metric_changes, reader_copy, audit_runs]),
        dbt_daily_models,
        dbt_unpartitioned_models,
        *exposure_specs(),
    ],
)

defs = Definitions(
    assets=assets,
    asset_checks=[social_inference_matches_simulator_truth, *latest_partition_checks],
    jobs=[daily_pipeline_job, refresh_models_job, snapshot_job, freshness_checks_job],
    schedules=[daily_pipeline_schedule, daily_snapshot_schedule],
    sensors=[run_failure_alerts, metric_change_alerts, freshness_checks_sensor, dead_run_reaper],
    # One process per run, not per step: the steps share one DuckDB writer and run one at a
    # time anyway, and a step's process would spend seconds loading the code location.
    executor=in_process_executor,
    resources={"duckdb": warehouse(), "dbt": dbt_cli(), "event_source": event_source()},
)
