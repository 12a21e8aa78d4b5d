"""`python -m product_analytics.backfill FIRST [LAST]`: the daily pipeline over the days
FIRST .. LAST (UTC, inclusive) as one run, from the command line.

The run goes to the persistent instance in ``DAGSTER_HOME`` (`make ui` shows it, as it
shows the demo's), executes in this process, prints one line per step and, at the end,
the checks' outcome and the warehouse's tables, as `make demo` does. Dagster's own event
lines go to the run's log in the instance, not to the terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from product_analytics.config import ConfigError, settings
from product_analytics.instance import ensure_dagster_home

USAGE = "usage: python -m product_analytics.backfill FIRST [LAST]   (days as YYYY-MM-DD, UTC, inclusive)"
# Only warnings and errors reach the terminal; every event stays in the run's log.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def daily_pipeline():
    """The job, for ``reconstructable``."""
    from product_analytics.definitions import defs

    return defs.resolve_job_def("daily_pipeline")


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """This process's standard output and error, and its subprocesses' (dbt), to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def parse_days(argv: list[str], first_partition: date) -> tuple[date, date]:
    if not 1 <= len(argv) <= 2:
        raise SystemExit(USAGE)
    try:
        first, last = date.fromisoformat(argv[0]), date.fromisoformat(argv[-1])
    except ValueError:
        raise SystemExit(f"{USAGE}\n  not a day: {' '.join(argv)}") from None
    if last < first:
        raise SystemExit(f"the last day {last} is before the first {first}")
    if first < first_partition:
        raise SystemExit(f"{first} is before the first partition (PA_START_DATE={first_partition})")
    return first, last


def main(argv: list[str]) -> int:
    try:
        s = settings()
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    first, last = parse_days(argv, s.start_date)
    home = ensure_dagster_home(s.dagster_home)
    os.environ["DAGSTER_HOME"] = str(home)

    from dagster import BetaWarning, DagsterEventType, DagsterInstance, PreviewWarning, execute_job, reconstructable

    # The project uses beta and preview APIs knowingly (backfill policies, code references).
    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    from product_analytics.demo import check_evaluations, checks_line, print_results
    from product_analytics.policies.partitions import range_tags

    days = (last - first).days + 1
    print(f"[1/2] daily_pipeline over {first} .. {last} ({days} days): one run, on the instance in {home}", flush=True)
    started = time.monotonic()
    log_file = s.data_dir / "logs" / f"backfill_{first}_{last}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    print(f"      dbt's output and Dagster's warnings: {log_file}", flush=True)
    with DagsterInstance.get() as instance:
        with _output_to(log_file):
            result = execute_job(reconstructable(daily_pipeline), instance=instance, tags=range_tags(first, last), run_config=QUIET)
        for event in result.all_events:
            if event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                outcome = "done" if event.event_type == DagsterEventType.STEP_SUCCESS else "FAILED"
                print(f"      {event.step_key}: {outcome}", flush=True)
        checks = check_evaluations(instance, result.run_id)
    status = "succeeded" if result.success else "FAILED"
    print(f"      run {result.run_id} {status} in {time.monotonic() - started:.1f}s", flush=True)
    print(f"      {checks_line(checks)}")
    print("[2/2] Summary", flush=True)
    print_results()
    print(f"\nThe run in the UI (`make ui`): http://127.0.0.1:3000/runs/{result.run_id}")
    if not result.success:
        print(f"the run failed: see the run in the UI, and {log_file}")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
