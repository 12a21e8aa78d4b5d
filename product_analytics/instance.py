"""The local Dagster instance: its home directory and ``dagster.yaml``."""

from __future__ import annotations

from pathlib import Path

from product_analytics.config import settings

DAGSTER_YAML = """\
# Written by product_analytics.instance (make setup); edit that module, not this file.
concurrency:
  pools:
    # Every DuckDB writer is in the pool "duckdb_writer": one slot, because
    # DuckDB lets a single process write a database file at a time.
    default_limit: 1
  runs:
    # Every job writes the warehouse: the queue (one daemon, no race) starts one run at a
    # time. The pool alone let two runs launched at the same instant both claim its slot
    # (Dagster's SQLite storage claims a slot in two statements); it still guards the
    # runs started outside the queue (`dagster job execute`).
    max_concurrent_runs: 1
run_retries:
  # A run whose process died (killed, out of memory) is retried from its failed steps.
  # A failed step is not: steps retry by themselves only what may pass (a lock held
  # outside Dagster, temporary I/O errors; product_analytics/resources/transient.py).
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
telemetry:
  enabled: false
nux:
  # No "join the community" dialog over the UI (it would also cover the asset graph in screenshots).
  enabled: false
"""


def ensure_dagster_home(home: Path | None = None) -> Path:
    """Create the Dagster home with its configuration (idempotent); return its path."""
    home = home or settings().dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    return home


if __name__ == "__main__":
    print(ensure_dagster_home())
