"""Writes the simulator's output as a CDP export would land it, plus its ground truth.

Layout under the landing directory (the pipeline's input):

    events/event_date=YYYY-MM-DD/events.parquet   every message whose ``timestamp``
                                                  falls on that UTC day, late ones
                                                  included (``received_at`` says when
                                                  each arrived)
    sources/<table>/as_of=YYYY-MM-DD.parquet      users, posts, orders at the end of the day

The ground truth goes to a separate directory that no asset reads:

    <truth>/<kind>/day=YYYY-MM-DD.parquet         identities, instances, members,
                                                  firsts, first_games, signups

A generation day's sessions can run past midnight, so the file of event day D
holds the events of the sessions started on D-1 and D that fall on D.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from product_analytics.simulator import catalog
from product_analytics.simulator.events import GeneratedDay, generate_day
from product_analytics.simulator.world import (
    SimulationConfig,
    cohort_members,
    lifecycle,
    orders_table,
    posts_table,
    profile,
    user_ids,
    users_table,
)

SOURCE_TABLES = {"users": users_table, "posts": posts_table, "orders": orders_table}
TRUTH_KINDS = ("identities", "instances", "members", "firsts", "first_games")


def events_file(landing_dir: Path, day: date) -> Path:
    return landing_dir / "events" / f"event_date={day.isoformat()}" / "events.parquet"


def source_file(landing_dir: Path, table: str, day: date) -> Path:
    return landing_dir / "sources" / table / f"as_of={day.isoformat()}.parquet"


def _write(table: pa.Table, path: Path) -> None:
    """Write next to the target and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _on_day(events: pa.Table, day: date) -> pa.Table:
    start = pa.scalar(datetime(day.year, day.month, day.day), pa.timestamp("ms"))
    end = pa.scalar(datetime.combine(day + timedelta(days=1), datetime.min.time()), pa.timestamp("ms"))
    ts = events["timestamp"]
    return events.filter(pc.and_(pc.greater_equal(ts, start), pc.less(ts, end)))


class LandingWriter:
    """Generates and writes event days; keeps the previous generation day for the spill-over."""

    def __init__(self, cfg: SimulationConfig, landing_dir: Path, truth_dir: Path):
        self.cfg = cfg
        self.landing_dir = landing_dir
        self.truth_dir = truth_dir
        self._generated: dict[int, GeneratedDay] = {}

    def _generation(self, day_index: int) -> GeneratedDay:
        if day_index not in self._generated:
            generated = generate_day(self.cfg, day_index)
            self._write_truth(day_index, generated)
            self._generated = {k: v for k, v in self._generated.items() if k >= day_index - 1}
            self._generated[day_index] = generated
        return self._generated[day_index]

    def _write_truth(self, day_index: int, generated: GeneratedDay) -> None:
        label = (self.cfg.epoch + timedelta(days=day_index)).isoformat()
        for kind in TRUTH_KINDS:
            _write(getattr(generated, kind), self.truth_dir / kind / f"day={label}.parquet")

    def event_day(self, day: date) -> pa.Table:
        """Every message whose event time falls on ``day``."""
        d = self.cfg.day_index(day)
        parts = [_on_day(self._generation(g).events, day) for g in (d - 1, d) if g >= 0]
        return pa.concat_tables(parts) if parts else None

    def write_day(self, day: date) -> int:
        """Write one day's events and source tables; returns the number of messages."""
        if self.cfg.day_index(day) < 0:
            raise ValueError(f"{day} is before the simulation's first day {self.cfg.epoch}")
        events = self.event_day(day)
        _write(events, events_file(self.landing_dir, day))
        for table, build in SOURCE_TABLES.items():
            _write(build(self.cfg, self.cfg.day_index(day)), source_file(self.landing_dir, table, day))
        return events.num_rows

    def write_days(self, days: Iterable[date]) -> dict[date, int]:
        return {day: self.write_day(day) for day in sorted(days)}


def signups_truth(cfg: SimulationConfig, last_day: date) -> pa.Table:
    """Sign-up date and country at sign-up of every user who signed up by ``last_day``."""
    cohorts, ks = cohort_members(cfg, 0, cfg.day_index(last_day))
    life = lifecycle(cfg, cohorts, ks)
    keep = life["signup_day"] <= cfg.day_index(last_day)
    people = profile(cfg, {k: v[keep] for k, v in life.items()})
    return pa.table(
        {
            "person_id": pa.array(people["pid"].astype(np.int64)),
            "user_id": user_ids(cfg, people["pid"]),
            "signed_up_at": pa.array(people["created_ms"], pa.timestamp("ms")),
            "country_at_signup": pa.array(catalog.COUNTRIES).take(pa.array(people["country"])),
        }
    )
