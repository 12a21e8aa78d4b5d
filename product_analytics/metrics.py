"""The metrics of the semantic layer (dbt/models/semantic), queried with MetricFlow's ``mf``
on the warehouse the settings name: ``python -m product_analytics.metrics query --metrics
daily_active_users --group-by metric_time__day`` (any ``mf`` command and its options).

MetricFlow reads the semantic manifest ``make setup`` writes (dbt/target) and connects
through the project's dbt profile; this sets the warehouse path and start date the
pipeline uses. A query holds the warehouse's lock while it runs (a second or so), and
waits, as dbt does, while a run holds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from product_analytics.config import DBT_PROJECT_DIR, settings


def mf_environment() -> dict[str, str]:
    s = settings()
    return {
        **os.environ,
        "PA_DUCKDB_PATH": str(s.duckdb_path),
        "PA_START_DATE": s.start_date.isoformat(),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
    }


def main(argv: list[str]) -> int:
    if not (DBT_PROJECT_DIR / "target" / "semantic_manifest.json").exists():
        print("no semantic manifest in dbt/target: run `make setup` first", file=sys.stderr)
        return 2
    mf = Path(sys.executable).with_name("mf")
    return subprocess.run([str(mf), *(argv or ["list", "metrics"])], cwd=DBT_PROJECT_DIR, env=mf_environment()).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
