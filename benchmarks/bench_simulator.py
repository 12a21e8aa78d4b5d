"""Simulator speed: events generated per second on one core, at growing scales.

    make bench                      # or: python benchmarks/bench_simulator.py [daily_users ...]

Prints figures, never pass/fail. The process is pinned to one CPU and Arrow to
one thread, so the figure is per core. Each scale generates three different
days cold (no cache), timed from the population draw to the finished Arrow
table, and reports the fastest (the least disturbed by the rest of the
machine) and the median; writing a day as Parquet is timed separately.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from product_analytics.simulator import world
from product_analytics.simulator.events import generate_day

DEFAULT_SCALES = [10_000, 100_000, 420_000]  # the last is about 10 million events a day
DAY_INDEX = 60  # two months into the product's life, so returning users dominate


def one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    return "1 core"


def generate_cold(cfg: world.SimulationConfig, day_index: int):
    for cache in (world.active_on, world.posts_created_on, world.orders_created_on):
        cache.cache_clear()
    started = time.perf_counter()
    day = generate_day(cfg, day_index)
    return day, time.perf_counter() - started


def bench(daily_users: int, repeats: int = 3) -> dict:
    cfg = world.SimulationConfig(seed=1, epoch=date(2026, 1, 1), daily_users=daily_users)
    rates = []
    for i in range(repeats):
        day, seconds = generate_cold(cfg, DAY_INDEX + i)
        rates.append(day.events.num_rows / seconds)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        pq.write_table(day.events, Path(tmp) / "events.parquet", compression="zstd")
        write_s = time.perf_counter() - started
    return {
        "daily_users": daily_users,
        "events": day.events.num_rows,
        "best": max(rates),
        "median": statistics.median(rates),
        "write_s": write_s,
    }


def main(argv: list[str]) -> None:
    scales = [int(a) for a in argv if a != "--json"] or DEFAULT_SCALES
    print(f"simulator benchmark ({one_core()}, Python {sys.version.split()[0]})")
    print(f"{'daily users':>12} {'events/day':>12} {'best ev/s':>12} {'median ev/s':>12} {'parquet s':>10}")
    results = []
    for scale in scales:
        r = bench(scale)
        results.append(r)
        print(f"{r['daily_users']:>12,} {r['events']:>12,} {r['best']:>12,.0f} {r['median']:>12,.0f} {r['write_s']:>10.2f}", flush=True)
    largest = results[-1]
    print(
        f"\nlargest scale ({largest['events'] / 1e6:.1f} million events a day): "
        f"{largest['best'] / 1e6:.2f} million events per second on one core at best, {largest['median'] / 1e6:.2f} median "
        f"({largest['median'] / results[0]['median']:.2f}x the median rate at the smallest scale)"
    )
    if "--json" in argv:  # the figures for benchmarks/run.py, on the last line
        print(json.dumps({"simulator_events_per_s": round(largest["median"]), "simulator_events": largest["events"]}))


if __name__ == "__main__":
    main(sys.argv[1:])
