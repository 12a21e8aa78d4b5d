"""The benchmark front door: every figure of SPEC §8 in one run, as a table and as JSON.

    python benchmarks/run.py quick     # `make bench-quick`: smaller scales
    python benchmarks/run.py full      # `make bench`

Each figure comes from its own script, run as a separate process (the simulator pins
itself to one core); the last line a script prints is its figures as JSON. The table
says, for each figure, the value, the target on an idle 2-core machine and value /
target (below 1 is within target for "at most" targets, above 1 for "at least").
Results go to benchmarks/results/latest.json (a flat object). A benchmark run while other
heavy work runs on the machine is not a measurement: the load average is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"

# Per scale: the scripts to run, with their arguments. The pipeline figures that need many
# runs (history, backfill) run only at full scale while one run costs tens of seconds.
SCALES = {
    "quick": [
        ("bench_simulator.py", ["10000"]),
        ("bench_retention.py", ["200000", "90"]),
        ("bench_file_source.py", ["20000"]),
        ("bench_pipeline.py", ["fixed-cost"]),
        ("bench_pipeline.py", ["day", "4200"]),
        ("bench_pipeline.py", ["sessions", "4200"]),
    ],
    "full": [
        ("bench_simulator.py", ["420000"]),
        ("bench_retention.py", ["1000000", "90"]),
        ("bench_file_source.py", ["42000"]),
        ("bench_pipeline.py", ["fixed-cost"]),
        ("bench_pipeline.py", ["day", "42000"]),
        ("bench_pipeline.py", ["sessions", "42000"]),
        ("bench_pipeline.py", ["history", "2000", "2", "60"]),
        ("bench_pipeline.py", ["backfill", "2000", "30"]),
        ("bench_pipeline.py", ["backfill-run", "100", "45"]),
        ("bench_pipeline.py", ["long-backfill", "178", "200"]),
    ],
}

# figure -> (comparison, target, unit): "<=" at most, ">=" at least (SPEC §8, issue #13).
TARGETS = {
    "simulator_events_per_s": (">=", 1_000_000, "events/s"),
    "fixed_cost_s": ("<=", 10, "s"),
    "million_event_day_s": ("<=", 30, "s"),
    "million_event_day_peak_rss_mb": ("<=", 2048, "MB"),
    "history_ratio": ("<=", 1.25, ""),
    "backfill_speedup": (">=", 5, "x"),
    "sessions_ratio": ("<=", 3, "x"),
    "file_source_parquet_rows_per_s": (">=", 1_000_000, "rows/s"),
    "file_source_jsonl_rows_per_s": (">=", 500_000, "rows/s"),
    "retention_1m_users_90d_s": ("<=", 5, "s"),
    "long_backfill_s": ("<=", 120, "s"),
    "run_creation_s": ("<=", 20, "s"),
}


def run_script(script: str, args: list[str]) -> dict:
    print(f"-- {script} {' '.join(args)}", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(HERE / script), *args, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n")
        raise SystemExit(f"{script} failed")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    for line in lines[:-1]:
        print(f"   {line}")
    print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    return json.loads(lines[-1])


def figures_of(raw: dict) -> dict:
    """The flat result: the scripts' figures under the names of the table."""
    out = dict(raw)
    renames = {"retention_s": "retention_1m_users_90d_s", "event_day_s": "million_event_day_s"}
    renames["event_day_peak_rss_mb"] = "million_event_day_peak_rss_mb"
    for old, new in renames.items():
        if old in out:
            out[new] = out.pop(old)
    return out


def ratio(figure: str, value: float) -> float:
    comparison, target, _ = TARGETS[figure]
    return value / target if comparison == "<=" else target / value


def table(figures: dict) -> str:
    lines = [f"{'figure':<34} {'value':>14} {'target':>16} {'value/target':>13}  "]
    for figure, (comparison, target, unit) in TARGETS.items():
        value = figures.get(figure)
        shown = "not measured" if value is None else f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        mark = "" if value is None else ("ok" if ratio(figure, value) <= 1 else "MISSED")
        lines.append(
            f"{figure:<34} {shown:>14} {comparison + ' ' + f'{target:,}' + (' ' + unit if unit else ''):>16} "
            f"{'' if value is None else f'{value / target:.2f}':>13}  {mark}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    scale = argv[0] if argv else "quick"
    if scale not in SCALES:
        raise SystemExit(f"scale must be one of {', '.join(SCALES)}")
    started = time.perf_counter()
    load_before = os.getloadavg()
    raw: dict = {}
    for script, args in SCALES[scale]:
        raw.update(run_script(script, args))
    figures = figures_of(raw)
    figures.update(
        {
            "scale": scale,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "load_average_before": round(load_before[0], 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "python": sys.version.split()[0],
            "total_s": round(time.perf_counter() - started, 1),
        }
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    print(
        f"\nbenchmarks, scale {scale}: {figures['cores']} cores, load average {figures['load_average_before']} before, "
        f"{figures['load_average_after']} after, {figures['total_s']:.0f} s in all"
    )
    if scale == "quick":
        print(
            f"(quick scale: the 'million event day' is a day of {figures.get('event_day_messages', 0):,} messages; "
            f"retention is {figures.get('retention_users', 0):,} users)"
        )
    print(table(figures))
    print(f"\nwritten to {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
