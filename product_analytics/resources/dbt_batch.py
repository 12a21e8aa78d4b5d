"""Several dbt invocations in one process: dbt is imported and the project parsed once.

The replay of older snapshot images needs one dbt build per image day, each with its own
environment (which image, observed when). Started as a process of its own per day, each
paid dbt's start-up and parse again (about 10 s a day in a long backfill). Here one
process parses once and hands the manifest to every invocation.

    python -m product_analytics.resources.dbt_batch PLAN.json

The plan: ``{"common": [flags for every invocation], "steps": [{"args": [...], "env":
{...}}, ...]}``. Steps run in order; the first that fails ends the process with status 1
after printing ``failed <index>``; each that succeeds prints ``done <index>``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def run(plan: dict) -> int:
    from dbt.cli.main import dbtRunner  # imported here: the module's import stays cheap

    steps = plan["steps"]
    if not steps:
        return 0
    os.environ.update(steps[0]["env"])
    parsed = dbtRunner().invoke(["parse", *plan["common"]])
    if not parsed.success:
        print(f"failed parse: {parsed.exception or 'see the log above'}", flush=True)
        return 1
    runner = dbtRunner(manifest=parsed.result)
    for index, step in enumerate(steps):
        os.environ.update(step["env"])
        result = runner.invoke([*step["args"], *plan["common"]])
        if not result.success:
            print(f"failed {index}: {result.exception or 'see the log above'}", flush=True)
            return 1
        print(f"done {index}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text())))
