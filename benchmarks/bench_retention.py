"""Retention speed: one million users over 90 days, every grain.

    python benchmarks/bench_retention.py [users] [days]

Prints figures, never pass/fail. The input is what the asset fetches from the
warehouse: one row per (user, active day), here drawn at random with a decaying
return probability.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from product_analytics.retention.cohorts import GRAINS, retention, to_frame


def activity(users: int, days: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    first = rng.integers(0, days, users)
    returns = rng.poisson(8, users)
    user = np.concatenate([np.arange(users), np.repeat(np.arange(users), returns)])
    offset = np.concatenate([np.zeros(users, dtype=np.int64), rng.exponential(15, returns.sum()).astype(np.int64) + 1])
    day = np.concatenate([first, np.repeat(first, returns)]) + offset
    keep = day < days
    return user[keep], day[keep] + 20_000


def main(argv: list[str]) -> None:
    as_json = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    users = int(argv[0]) if argv else 1_000_000
    days = int(argv[1]) if len(argv) > 1 else 90
    user, day = activity(users, days)
    started = time.perf_counter()
    order = np.lexsort((day, user))  # the asset fetches rows ordered by user and day
    user, day = user[order], day[order]
    print(f"retention benchmark: {users:,} users, {days} days, {len(user):,} (user, active day) rows")
    print(f"  ordering the input (done by the warehouse query in the asset): {time.perf_counter() - started:.2f} s")
    total = 0.0
    for grain in GRAINS:
        started = time.perf_counter()
        table = to_frame(retention(user, day, int(day.max()), grain), grain)
        seconds = time.perf_counter() - started
        total += seconds
        print(f"  {grain:<6} {seconds:6.2f} s  ({len(table):,} rows)")
    print(f"all grains: {total:.2f} s, {len(user) / total / 1e6:.1f} million rows per second")
    if as_json:  # the figures for benchmarks/run.py, on the last line
        print(json.dumps({"retention_s": round(total, 2), "retention_users": users, "retention_days": days}))


if __name__ == "__main__":
    main(sys.argv[1:])
