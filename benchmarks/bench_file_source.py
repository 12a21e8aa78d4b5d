"""File source speed: a simulated day exported as Segment JSONL.gz, Parquet and CSV.

    python benchmarks/bench_file_source.py [daily_users]

Prints figures, never pass/fail: for each format, the manifest scan (first read of
the files), the load of the day (validation, quarantine, deduplication, insert), and a
second scan, which must read nothing (the files did not change).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

from product_analytics.ingestion.load import load_events_day
from product_analytics.ingestion.schema import ensure_raw_schema
from product_analytics.ingestion.sources import FileSource
from product_analytics.simulator import LandingWriter, SimulationConfig, events_file
from product_analytics.simulator.exports import write_export

DAY = date(2026, 3, 10)


def main(argv: list[str]) -> None:
    as_json = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    users = int(argv[0]) if argv else 100_000
    figures = {}
    root = Path(tempfile.mkdtemp(prefix="bench_file_source_"))
    config = SimulationConfig(seed=3, epoch=date(2026, 3, 1), daily_users=users)
    LandingWriter(config, root / "landing", root / "truth").write_day(DAY)
    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    conn.execute("create table messages as select * exclude (event_date) from read_parquet(?)", [str(events_file(root / "landing", DAY))])
    messages = conn.execute("select count(*) from messages").fetchall()[0][0]
    print(f"file source benchmark: one simulated day, {messages:,} messages ({users:,} daily users), 4 files per format")
    for fmt in ("jsonl.gz", "parquet", "csv"):
        folder = root / fmt.replace(".", "_")
        write_export(conn, "messages", folder, fmt, parts=4)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        warehouse = duckdb.connect(str(root / f"{fmt}.duckdb"))
        ensure_raw_schema(warehouse)
        source = FileSource(events_dir=str(folder))
        started = time.perf_counter()
        scan = source.prepare(warehouse)
        scanned = time.perf_counter() - started
        started = time.perf_counter()
        stats = load_events_day(warehouse, DAY, source.event_inputs(warehouse, DAY), rules=source.rules)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        rescan = source.prepare(warehouse)
        rescanned = time.perf_counter() - started
        print(
            f"  {fmt:<9} {size / 1e6:7.1f} MB  scan {scanned:5.2f} s ({scan['rows_scanned'] / scanned / 1e6:4.2f} M rows/s)"
            f"  load {loaded:5.2f} s ({stats.input_rows / loaded / 1e6:4.2f} M rows/s, {stats.rows:,} loaded,"
            f" {stats.duplicates:,} duplicates, {stats.quarantined:,} quarantined)"
            f"  rescan {rescanned:5.3f} s ({rescan['rows_scanned']} rows read)"
        )
        # The figure of a format: input rows per second from the first scan to the loaded day.
        figures[f"file_source_{fmt.split('.')[0]}_rows_per_s"] = round(stats.input_rows / (scanned + loaded))
        warehouse.close()
    if as_json:  # the figures for benchmarks/run.py, on the last line
        print(json.dumps({**figures, "file_source_messages": messages}))


if __name__ == "__main__":
    main(sys.argv[1:])
