"""Running dbt in-process against a DuckDB file of a test's own."""

import json
import os
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
from dbt.cli.main import dbtRunner

from product_analytics.config import DBT_PROJECT_DIR
from product_analytics.ingestion.schema import ensure_raw_schema
from product_analytics.policies.partitions import dbt_window_args
from product_analytics.transform import restatements
from product_analytics.transform.assets import snapshot_env
from product_analytics_tests.conftest import START

VARS = {"start_date": START.isoformat()}


# The unpartitioned models the sessions tests read, kept incrementally by key.
SESSIONS_MARTS = " ".join(
    [
        "int_anonymous_ids_mapped",
        "int_devices_flagged_runaway",
        "fct_sessions",
        "fct_events",
        "fct_user_sessions",
        "agg_product_funnel_daily",
        "int_visitor_active_days",
        "agg_active_users_daily",
        "fct_conversion_attribution",
        "agg_attribution_daily",
        "fct_play_sessions",
    ]
)


class Warehouse:
    """A DuckDB file and the dbt invocations that build it."""

    runner = dbtRunner()

    def __init__(self, path: Path):
        self.path = path
        with duckdb.connect(str(path)) as conn:
            ensure_raw_schema(conn)

    def dbt(self, *args: str) -> None:
        """Run dbt on this file (it stays open in this process afterwards: see ``table``)."""
        target = self.path.parent / f"dbt_target_{self.path.stem}"
        saved = os.environ.get("PA_DUCKDB_PATH")
        os.environ["PA_DUCKDB_PATH"] = str(self.path)  # for dbt's profile only: later tests read the settings
        try:
            result = self.runner.invoke(
                [
                    *args,
                    "--project-dir",
                    str(DBT_PROJECT_DIR),
                    "--profiles-dir",
                    str(DBT_PROJECT_DIR),
                    "--target-path",
                    str(target),
                    "--quiet",
                ]
            )
        finally:
            if saved is None:
                os.environ.pop("PA_DUCKDB_PATH", None)
            else:
                os.environ["PA_DUCKDB_PATH"] = saved
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception}"

    def build_days(self, first: date, last: date, full_refresh: bool = False, refresh: bool = False) -> None:
        """As the daily models' asset does: restated days outside the run first, then the run;
        with ``refresh``, the identity and sessions marts after it in the same invocation
        (as the run's next step would)."""
        connect = lambda: duckdb.connect(str(self.path))  # noqa: E731
        if not full_refresh:
            restatements.rebuild_restated_first(connect, first, last, START, lambda day: self._run_days(day, day))
        self._run_days(first, last, full_refresh, *([SESSIONS_MARTS] if refresh else []))
        with connect() as conn:
            restatements.forget_run(conn, first, last, START)

    def _run_days(self, first: date, last: date, full_refresh: bool = False, *also: str) -> None:
        window = dbt_window_args(
            datetime.combine(first, datetime.min.time()), datetime.combine(last + timedelta(days=1), datetime.min.time())
        )
        selection = ["tag:daily", *also]
        self.dbt("run", "--select", *selection, *window, "--vars", json.dumps(VARS), *(["--full-refresh"] if full_refresh else []))

    def refresh_sessions(self) -> None:
        """The marts of identity and sessions (no snapshots needed)."""
        self.dbt("run", "--select", SESSIONS_MARTS, "--vars", json.dumps(VARS))

    def snapshot(self, image_day: date) -> None:
        """Snapshot the operational tables as their image of ``image_day`` shows them."""
        selection = "stg_app__users stg_app__posts stg_app__orders tag:snapshot_input resource_type:snapshot"
        observed = snapshot_env(image_day)
        os.environ.update(observed)  # as the snapshot asset passes them to its dbt process
        try:
            self.dbt("build", "--select", selection, "--vars", json.dumps(VARS))
        finally:
            for name in observed:
                os.environ.pop(name, None)

    def table(self, name: str):
        # dbt runs in this process and keeps the file open: go through DuckDB's
        # per-process instance of the file rather than attaching it a second time.
        with duckdb.connect(str(self.path)) as conn:
            return conn.sql(f"select * from {name}").to_arrow_table()

    def copy_raw_from(self, other: "Warehouse") -> None:
        with duckdb.connect(str(self.path)) as conn:
            for table in ("events", "superseded_events"):
                conn.register("raw_copy", other.table(f"raw.{table}"))
                conn.execute(f"insert into raw.{table} select * from raw_copy")
                conn.unregister("raw_copy")
