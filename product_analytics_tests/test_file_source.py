"""The file source: formats, validation and quarantine, reconciliation, the manifest."""

import gzip
import json
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from dagster import AssetKey, materialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from product_analytics.ingestion import manifest, readers
from product_analytics.ingestion.assets import RECONCILIATION_CHECK, raw_events, raw_source_tables
from product_analytics.ingestion.load import FileReconciliation, file_reconciliation, load_events_day, load_source_day
from product_analytics.ingestion.readers import file_format
from product_analytics.ingestion.schema import ensure_raw_schema
from product_analytics.ingestion.sources import FileSource, SimulatorSource
from product_analytics.project import dbt_project
from product_analytics.resources.dbt import DBT_SHIM, DbtCli
from product_analytics.resources.warehouse import Warehouse
from product_analytics.simulator.exports import FORMATS, write_export
from product_analytics.simulator.landing import events_file
from product_analytics.transform.assets import dbt_daily_models
from product_analytics_tests.conftest import SIM_DAYS

CLOCK = datetime(2026, 6, 1)
D = date(2026, 3, 10)
BOOKKEEPING = "_source_file, _source_row, _loaded_at"


def ingest(source, days=None) -> duckdb.DuckDBPyConnection:
    """Scan the source and load every day it holds (or ``days``) into a fresh warehouse."""
    conn = duckdb.connect()
    ensure_raw_schema(conn)
    source.prepare(conn)
    if days is None:
        days = [row[0] for row in conn.execute("select distinct event_date from raw._file_days order by 1").fetchall()]
    for day in days:
        load_events_day(conn, day, source.event_inputs(conn, day), rules=source.rules)
    return conn


def events(conn) -> list[tuple]:
    return conn.execute(f"select * exclude ({BOOKKEEPING}) from raw.events order by message_id").fetchall()


def loaded_tables(conn) -> dict[str, list[tuple]]:
    """Everything a load writes, but the times it was written."""
    queries = {
        "events": "select * exclude (_loaded_at) from raw.events",
        "quarantine": "select * exclude (quarantined_at) from raw.quarantine",
        "event_loads": "select * exclude (loaded_at) from raw.event_loads",
        "event_file_loads": "select * from raw.event_file_loads",
        "superseded_events": "select * from raw.superseded_events",
        "file_days": "select * from raw._file_days",
    }
    return {name: conn.execute(f"{query} order by all").fetchall() for name, query in queries.items()}


def ingest_kept_and_read_again(folder: Path) -> tuple[dict, dict]:
    """The loads of every day of a folder: reading the rows the scan kept on its connection,
    and reading the files again (nothing kept)."""
    kept = ingest(FileSource(events_dir=str(folder)))
    assert all(isinstance(i, manifest.StagedInput) for d in _days(kept) for i in FileSource(events_dir=str(folder)).event_inputs(kept, d))
    with mock.patch.object(manifest, "STAGED_ROWS_LIMIT", 0):
        read_again = ingest(FileSource(events_dir=str(folder)))
        inputs = [i for d in _days(read_again) for i in FileSource(events_dir=str(folder)).event_inputs(read_again, d)]
    assert inputs and not any(isinstance(i, manifest.StagedInput) for i in inputs)
    return loaded_tables(kept), loaded_tables(read_again)


def _days(conn) -> list[date]:
    return [row[0] for row in conn.execute("select distinct event_date from raw._file_days order by 1").fetchall()]


# -- the same events in every format -------------------------------------------------------


@pytest.fixture(scope="module")
def exports(landing, tmp_path_factory):
    """Two simulated days of messages written as four exports, each split into two files by
    message id (so that every file holds messages of both days, as CDP exports do)."""
    root = tmp_path_factory.mktemp("exports")
    paths = [str(events_file(landing / "landing", d)) for d in SIM_DAYS[1:3]]
    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    conn.execute("create table messages as select * exclude (event_date) from read_parquet(?) where received_at <= ?", [paths, CLOCK])
    for fmt in FORMATS:
        write_export(conn, "messages", root / fmt.replace(".", "_") / "source=app", fmt, parts=2)
    return root


def test_file_formats_are_recognised_by_extension():
    names = {
        "a.jsonl": "jsonl",
        "a.json.gz": "jsonl",
        "1700000000.abc.gz": "jsonl",
        "b.parquet": "parquet",
        "c.csv": "csv",
        "c.CSV.GZ": "csv",
        "notes.txt": None,
        "README": None,
    }
    assert {name: file_format(Path(name)) for name in names} == names


def test_the_same_events_give_identical_raw_tables_in_every_format(exports, landing):
    simulator = SimulatorSource(
        landing_dir=str(landing / "landing"),
        truth_dir="/nonexistent",
        seed=0,
        daily_users=10,
        start_date="2026-03-01",
        clock=CLOCK.isoformat(),
    )
    reference = duckdb.connect()
    ensure_raw_schema(reference)
    for day in SIM_DAYS[1:3]:
        load_events_day(reference, day, simulator.event_inputs(reference, day))
    expected = events(reference)
    assert len(expected) > 2000
    for fmt in ("jsonl", "jsonl_gz", "parquet", "csv"):
        conn = ingest(FileSource(events_dir=str(exports / fmt)))
        assert conn.execute("select count(*) from raw.quarantine").fetchall() == [(0,)], fmt
        got = events(conn)
        assert len(got) == len(expected), fmt
        assert got == expected, fmt


@pytest.mark.parametrize("fmt", ["jsonl_gz", "parquet", "csv"])
def test_loads_that_read_the_rows_kept_by_the_scan_equal_loads_that_read_the_files(exports, fmt):
    kept, read_again = ingest_kept_and_read_again(exports / fmt)
    assert len(kept["events"]) > 2000 and kept["superseded_events"] == []
    assert kept == read_again


# -- bad input ------------------------------------------------------------------------------


def _message(message_id, **fields):
    base = {"messageId": message_id, "type": "track", "event": "game_started", "anonymousId": "anon-1", "timestamp": "2026-03-10T10:00:00Z"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def bad_input_lines() -> list[bytes]:
    """Line n of the file is element n-1; the comment says where each line must end up."""
    return [
        _message("m1", receivedAt="2026-03-10T10:00:01Z").encode(),  # 1 loaded
        _message("m2", type="page", name="Home", receivedAt="2026-03-10T10:01:00Z").encode(),  # 2 loaded
        _message("m1", receivedAt="2026-03-10T12:00:00Z").encode(),  # 3 duplicate of line 1
        b'{"messageId": "m3", "type": "track"',  # 4 malformed_json
        b"[1, 2, 3]",  # 5 not_an_object
        b"",  # 6 blank: not a message
        _message(None).encode(),  # 7 missing_message_id
        _message("m7", type=None).encode(),  # 8 missing_type
        _message("m8", type="screen_view").encode(),  # 9 unknown_type
        _message("m9", timestamp=None).encode(),  # 10 missing_timestamp
        _message("m10", timestamp="yesterday at noon").encode(),  # 11 unparseable_timestamp
        _message("m11", timestamp="2027-01-01T00:00:00Z", receivedAt="2026-03-10T10:00:00Z").encode(),  # 12 future_timestamp
        _message("m12", anonymousId=None).encode(),  # 13 missing_identity
        _message("m13", properties={"blob": "x" * 40_000}).encode(),  # 14 oversized_payload
        b'{"messageId": "m14", "event": "caf\xe9"}',  # 15 unreadable_line (Latin-1, not UTF-8)
        _message("m15", type="identify", userId="u1", timestamp="2026-03-11T08:00:00Z").encode(),  # 16 loaded on the 11th
        _message("m16", sentAt="garbage").encode(),  # 17 unparseable_timestamp
        _message("m17", userId="u1", anonymousId=None, timestamp="2026-03-10T23:30:00-01:00").encode(),  # 18 loaded on the 11th
        _message("m18", event=None).encode(),  # 19 missing_event (a track must name its event)
        _message("m19", event=" ").encode(),  # 20 missing_event
    ]


EXPECTED_QUARANTINE = {
    (4, "malformed_json"),
    (5, "not_an_object"),
    (7, "missing_message_id"),
    (8, "missing_type"),
    (9, "unknown_type"),
    (10, "missing_timestamp"),
    (11, "unparseable_timestamp"),
    (12, "future_timestamp"),
    (13, "missing_identity"),
    (14, "oversized_payload"),
    (15, "unreadable_line"),
    (17, "unparseable_timestamp"),
    (19, "missing_event"),
    (20, "missing_event"),
}


@pytest.fixture
def bad_file(tmp_path):
    folder = tmp_path / "events" / "2026" / "03" / "10"
    folder.mkdir(parents=True)
    path = folder / "export.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(bad_input_lines()) + b"\n"))
    return path


def test_each_kind_of_bad_input_is_quarantined_with_its_reason(bad_file):
    conn = ingest(FileSource(events_dir=str(bad_file.parents[3])))
    quarantine = conn.execute("select partition_date, source, source_file, source_row, reason, raw_text from raw.quarantine").fetchall()
    assert {(row[3], row[4]) for row in quarantine} == EXPECTED_QUARANTINE
    assert {(row[0], row[1], row[2]) for row in quarantine} == {(D, "events", str(bad_file))}
    texts = {row[3]: row[5] for row in quarantine}
    assert texts[4] == '{"messageId": "m3", "type": "track"'
    assert len(texts[14]) == 2000 and texts[14].startswith('{"messageId": "m13"')
    assert "m14" in texts[15]
    loaded = conn.execute("select event_date, message_id, _source_row, received_at from raw.events order by 3").fetchall()
    assert loaded == [
        (D, "m1", 1, datetime(2026, 3, 10, 10, 0, 1)),
        (D, "m2", 2, datetime(2026, 3, 10, 10, 1)),
        (D + timedelta(days=1), "m15", 16, None),
        (D + timedelta(days=1), "m17", 18, None),
    ]


def test_bad_input_is_quarantined_alike_from_the_rows_kept_by_the_scan_and_from_the_file(bad_file):
    kept, read_again = ingest_kept_and_read_again(bad_file.parents[3])
    assert {(row[3], row[4]) for row in kept["quarantine"]} == EXPECTED_QUARANTINE
    assert kept == read_again


def test_input_rows_reconcile_with_loaded_quarantined_and_duplicates(bad_file):
    conn = ingest(FileSource(events_dir=str(bad_file.parents[3])))
    loads = conn.execute(
        "select event_date, input_rows, loaded_rows, quarantined_rows, duplicate_rows from raw.event_loads order by 1"
    ).fetchall()
    # 19 non-blank lines: on the 10th two loaded, one duplicate, fourteen quarantined; two loaded on the 11th.
    assert loads == [(D, 17, 2, 14, 1), (D + timedelta(days=1), 2, 2, 0, 0)]
    assert conn.execute("select sum(rows) from raw._file_days").fetchall() == [(19,)]


def test_typed_formats_quarantine_bad_values_and_keep_unknown_columns_as_properties(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "tracks.csv").write_text(
        "id,type,event,anonymous_id,timestamp,received_at,properties,plan_name\n"
        'c1,track,order_completed,a1,2026-03-10 09:00:00,2026-03-10 09:00:05,"{""revenue"": 12.5}",pro\n'
        "c2,track,order_completed,a1,2026-03-10 09:10:00,2026-03-10 09:10:05,{not json},pro\n"
        "c3,track,order_completed,a1,10/03/2026,2026-03-10 09:10:05,,free\n"
        "c4,track,too few columns\n"
        "c5,identify,,a1,2026-03-10T09:20:00+01:00,,,\n"
    )
    conn = ingest(FileSource(events_dir=str(folder)))
    assert conn.execute('select message_id, properties, _source_row, "timestamp" from raw.events order by 1').fetchall() == [
        ("c1", '{"revenue":12.5,"plan_name":"pro"}', 1, datetime(2026, 3, 10, 9)),
        ("c5", None, 5, datetime(2026, 3, 10, 8, 20)),
    ]
    assert conn.execute("select source_row, reason from raw.quarantine order by 1").fetchall() == [
        (2, "malformed_json"),
        (3, "unparseable_timestamp"),
        (4, "unreadable_line"),
    ]


def test_typed_timestamps_of_a_parquet_file_are_taken_as_utc_whatever_their_precision_or_zone(tmp_path):
    folder = tmp_path / "events"
    folder.mkdir()
    writer = duckdb.connect()
    writer.execute("set TimeZone = 'America/New_York'")  # how the exporting client shows times does not matter
    writer.execute(
        f"""copy (select * from (values
            ('p1', 'track', 'e', 'a1', timestamptz '2026-03-10 09:20:00+01:00', timestamp '2026-03-10 08:20:05', '2026-03-10T08:20:04Z'),
            ('p2', 'track', 'e', 'a1', timestamptz '2026-03-11 01:00:00+05:00', null, null)
        ) as t(message_id, type, event, anonymous_id, "timestamp", received_at, sent_at))
        to '{folder / "part-0.parquet"}' (format parquet)"""
    )
    nanoseconds = "select 'p3' as message_id, 'page' as type, 'a2' as anonymous_id, '2026-03-10 23:00'::timestamp_ns as original_timestamp"
    writer.execute(f"copy ({nanoseconds}) to '{folder / 'part-1.parquet'}' (format parquet)")
    conn = ingest(FileSource(events_dir=str(folder)))
    assert conn.execute('select message_id, event_date, "timestamp", received_at, sent_at from raw.events order by 1').fetchall() == [
        ("p1", D, datetime(2026, 3, 10, 8, 20), datetime(2026, 3, 10, 8, 20, 5), datetime(2026, 3, 10, 8, 20, 4)),
        ("p2", D, datetime(2026, 3, 10, 20), None, None),
        ("p3", D, datetime(2026, 3, 10, 23), None, None),
    ]
    assert conn.execute("select count(*) from raw.quarantine").fetchall() == [(0,)]


# -- idempotency and the manifest --------------------------------------------------------


def test_reingesting_is_idempotent_and_the_manifest_reads_each_file_once(bad_file, tmp_path):
    source = FileSource(events_dir=str(bad_file.parents[3]))
    conn = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_raw_schema(conn)
    first_scan = source.prepare(conn)
    for day in (D, D + timedelta(days=1)):
        load_events_day(conn, day, source.event_inputs(conn, day), rules=source.rules)
    before = (events(conn), conn.execute("select * exclude (quarantined_at) from raw.quarantine order by all").fetchall())
    second_scan = source.prepare(conn)
    for day in (D, D + timedelta(days=1)):
        load_events_day(conn, day, source.event_inputs(conn, day), rules=source.rules)
    after = (events(conn), conn.execute("select * exclude (quarantined_at) from raw.quarantine order by all").fetchall())
    assert (first_scan["files_new"], first_scan["rows_scanned"]) == (1, 19)
    assert (second_scan["files_new"], second_scan["files_changed"], second_scan["rows_scanned"]) == (0, 0, 0)
    assert before == after
    assert source.late_days(conn, D, D + timedelta(days=1)) == []

    # A file arriving later with messages of the 10th: the day is reported, a reload repairs it.
    later = bad_file.parent / "later.jsonl"
    later.write_text(_message("late-1", receivedAt="2026-03-14T10:00:00Z") + "\n" + _message("late-2") + "\n")
    assert source.prepare(conn)["files_new"] == 1
    [late] = source.late_days(conn, D - timedelta(days=1), D + timedelta(days=1))
    assert (late.day, late.missed) == (D, 2)
    assert [i.path.name for i in source.event_inputs(conn, D)] == ["export.jsonl.gz", "later.jsonl"]
    load_events_day(conn, D, source.event_inputs(conn, D), rules=source.rules)
    assert source.late_days(conn, D, D) == []
    assert conn.execute("select count(*) from raw.events where message_id like 'late-%'").fetchall() == [(2,)]

    # A changed file is read again; a removed one leaves the manifest.
    later.write_text(_message("late-1") + "\n")
    os.utime(later, (later.stat().st_atime, later.stat().st_mtime + 5))
    assert source.prepare(conn)["files_changed"] == 1
    later.unlink()
    assert source.prepare(conn)["files_removed"] == 1
    assert [i.path.name for i in source.event_inputs(conn, D)] == ["export.jsonl.gz"]


def test_a_file_that_cannot_be_read_is_one_quarantine_row_and_the_rest_loads(tmp_path):
    """Regression: one truncated .gz used to abort the scan, so no day of the run loaded."""
    folder = tmp_path / "events"
    folder.mkdir()
    good = folder / "good.jsonl"
    good.write_text(_message("ok-1") + "\n" + _message("ok-2", timestamp="2026-03-11T09:00:00Z") + "\n")
    whole = gzip.compress(("\n".join(_message(f"t-{i}", properties={"n": i}) for i in range(2000)) + "\n").encode())
    truncated = folder / "truncated.jsonl.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    not_gzip = folder / "plain.gz"
    not_gzip.write_text(_message("p-1") + "\n")
    noon_of_d = datetime(2026, 3, 10, 12).timestamp()
    for path in (truncated, not_gzip):
        os.utime(path, (noon_of_d, noon_of_d))  # their home day: the day they were written

    source = FileSource(events_dir=str(folder))
    conn = duckdb.connect()
    ensure_raw_schema(conn)
    scan = source.prepare(conn)
    assert scan["files_unreadable"].splitlines() == [str(not_gzip), str(truncated)]
    for day in (D, D + timedelta(days=1)):
        load_events_day(conn, day, source.event_inputs(conn, day), rules=source.rules)

    assert [m for (m,) in conn.execute("select message_id from raw.events order by 1").fetchall()] == ["ok-1", "ok-2"]
    quarantine = conn.execute("select partition_date, source_file, source_row, reason, raw_text from raw.quarantine order by 2").fetchall()
    assert [(q[0], q[1], q[2], q[3]) for q in quarantine] == [
        (D, str(not_gzip), None, "unreadable_file"),
        (D, str(truncated), None, "unreadable_file"),
    ]
    assert quarantine[1][4].startswith(f"unreadable file ({truncated.stat().st_size} bytes): ")
    loads = conn.execute("select event_date, input_rows, loaded_rows, quarantined_rows, duplicate_rows from raw.event_loads order by 1")
    assert loads.fetchall() == [(D, 3, 1, 2, 0), (D + timedelta(days=1), 1, 1, 0, 0)]

    # Repaired (the file changes), it is read again and its messages load.
    truncated.write_bytes(whole)
    assert source.prepare(conn)["files_changed"] == 1
    load_events_day(conn, D, source.event_inputs(conn, D), rules=source.rules)
    assert conn.execute("select count(*) from raw.events where message_id like 't-%'").fetchall() == [(2000,)]
    assert conn.execute("select count(*) from raw.quarantine where source_file = ?", [str(truncated)]).fetchall() == [(0,)]


def test_rows_of_days_no_partition_holds_are_quarantined_as_out_of_range(tmp_path):
    """Regression: rows dated before the first partition (or in year 9999) used to vanish:
    neither loaded nor quarantined, while the day still reconciled."""
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "export.jsonl").write_text(
        "\n".join(
            [
                _message("in-range"),  # 1 loaded on D
                _message("epoch", timestamp="1970-01-01T00:00:00Z"),  # 2
                _message("year-one", timestamp="0001-01-01T00:00:00Z"),  # 3
                _message("before-start", timestamp="2026-02-27T12:00:00Z"),  # 4
                _message("far-future", timestamp="9999-12-31T00:00:00Z", receivedAt="9999-12-31T00:00:01Z"),  # 5
                '{"messageId": "broken", "timestamp": "1970-01-01T00:00:00Z"',  # 6 malformed, filed under its home day
            ]
        )
        + "\n"
    )
    conn = ingest(FileSource(events_dir=str(folder), first_day="2026-03-01"))
    assert conn.execute("select message_id from raw.events").fetchall() == [("in-range",)]
    assert conn.execute("select partition_date, source_row, reason from raw.quarantine order by 2").fetchall() == [
        (D, 2, "out_of_range"),
        (D, 3, "out_of_range"),
        (D, 4, "out_of_range"),
        (D, 5, "out_of_range"),
        (D, 6, "malformed_json"),
    ]
    assert conn.execute("select event_date, input_rows, loaded_rows, quarantined_rows from raw.event_loads").fetchall() == [(D, 6, 1, 5)]
    assert conn.execute("select event_date, rows from raw._file_days").fetchall() == [(D, 6)]


def test_hidden_and_unknown_files_are_listed_as_ignored(tmp_path):
    folder = tmp_path / "events"
    (folder / "_temporary").mkdir(parents=True)
    (folder / "_temporary" / "part.jsonl").write_text(_message("x") + "\n")
    (folder / "_SUCCESS").write_text("")
    (folder / "notes.txt").write_text("hello")
    (folder / "ok.jsonl").write_text(_message("ok") + "\n")
    conn = duckdb.connect()
    ensure_raw_schema(conn)
    scan = FileSource(events_dir=str(folder)).prepare(conn)
    assert scan["files"] == 1
    assert sorted(Path(p).name for p in scan["files_ignored"].split("\n")) == ["_SUCCESS", "notes.txt", "part.jsonl"]


# -- source tables ------------------------------------------------------------------------


def test_table_images_are_found_by_the_date_in_their_path_and_validated(tmp_path):
    tables = tmp_path / "tables"
    (tables / "users").mkdir(parents=True)
    (tables / "users" / "2026-03-10.csv").write_text(
        "id,email,country,plan,created_at,updated_at,deleted_at\n"
        "u1,a@example.com,FR,pro,2026-03-01T00:00:00Z,2026-03-05T00:00:00Z,\n"
        ",nobody@example.com,DE,free,2026-03-01,2026-03-01,\n"
        "u2,b@example.com,DE,free,not a time,2026-03-01,\n"
        "u1,a@example.com,FR,free,2026-03-01T00:00:00Z,2026-03-09T00:00:00Z,\n"
    )
    (tables / "posts" / "dt=2026-03-10").mkdir(parents=True)
    duckdb.execute(
        f"copy (select 'p1' as id, 'u1' as user_id, 42 as body_length, false as is_hidden, "
        f"timestamp '2026-03-09 10:00' as created_at, timestamp '2026-03-09 10:00' as updated_at) "
        f"to '{tables / 'posts' / 'dt=2026-03-10' / 'part-0.parquet'}' (format parquet)"
    )
    source = FileSource(events_dir=str(tmp_path), tables_dir=str(tables))
    conn = duckdb.connect()
    ensure_raw_schema(conn)
    assert load_source_day(conn, "users", D, source.table_files("users", D)) == 1
    assert conn.execute("select id, plan, updated_at from raw.users").fetchall() == [("u1", "free", datetime(2026, 3, 9))]
    assert conn.execute("select source, source_row, reason from raw.quarantine order by 2").fetchall() == [
        ("users", 2, "missing_id"),
        ("users", 3, "invalid_value"),
    ]
    assert load_source_day(conn, "posts", D, source.table_files("posts", D)) == 1
    assert source.table_files("users", D + timedelta(days=1)) == []
    assert source.table_files("orders", D) == []
    assert load_source_day(conn, "orders", D, []) == 0


def test_a_day_whose_image_file_is_gone_is_emptied_and_days_never_imaged_are_left_alone(tmp_path):
    """Days without an image file are skipped unless they hold rows (or quarantine rows)
    from an earlier load: those are emptied, as a day without an image holds no rows."""
    tables = tmp_path / "tables"
    (tables / "users").mkdir(parents=True)
    header = "id,email,country,plan,created_at,updated_at,deleted_at\n"
    for day in ("2026-03-10", "2026-03-11"):
        (tables / "users" / f"{day}.csv").write_text(
            header + f"u1,a@example.com,FR,pro,2026-03-01,{day},\n,no-id@example.com,DE,free,2026-03-01,{day},\n"
        )
    database = tmp_path / "warehouse.duckdb"
    resources = {"duckdb": Warehouse(database=str(database)), "event_source": FileSource(events_dir=str(tmp_path), tables_dir=str(tables))}
    tags = {"dagster/asset_partition_range_start": "2026-03-10", "dagster/asset_partition_range_end": "2026-03-12"}

    def state() -> tuple[list, list]:
        with duckdb.connect(str(database), read_only=True) as conn:
            rows = conn.execute("select snapshot_date::varchar, count(*) from raw.users group by 1 order by 1").fetchall()
            quarantined = conn.execute("select partition_date::varchar, source from raw.quarantine order by 1, 2").fetchall()
        return rows, quarantined

    assert materialize([raw_source_tables], resources=resources, tags=tags).success
    assert state() == ([("2026-03-10", 1), ("2026-03-11", 1)], [("2026-03-10", "users"), ("2026-03-11", "users")])
    (tables / "users" / "2026-03-11.csv").unlink()
    result = materialize([raw_source_tables], resources=resources, tags=tags)
    assert state() == ([("2026-03-10", 1)], [("2026-03-10", "users")])
    users = next(m for m in result.get_asset_materialization_events() if m.asset_key == AssetKey(["raw", "users"]))
    assert users.materialization.metadata["days_without_image"].value == "2026-03-11, 2026-03-12"


# -- fuzz -----------------------------------------------------------------------------------

_ids = st.sampled_from(["a", "b", "c", "d", "e"])
_timestamps = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(2026, 3, 9), max_value=datetime(2026, 3, 12)).map(lambda t: t.isoformat() + "Z"),
    st.sampled_from(["", "not a time", "2031-01-01T00:00:00Z", "2026-03-10T25:00:00Z", "1741600000"]),
)
_messages = st.fixed_dictionaries(
    {
        "messageId": st.one_of(st.none(), _ids),
        "type": st.sampled_from([None, "track", "page", "identify", "bogus"]),
        "timestamp": _timestamps,
    },
    optional={
        "anonymousId": st.one_of(st.none(), _ids),
        "userId": st.one_of(st.none(), _ids),
        "receivedAt": _timestamps,
        "properties": st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=20)), max_size=3),
        "event": st.text(max_size=10),
    },
)
_text_line = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=60)
_lines = st.one_of(
    _messages.map(lambda m: json.dumps(m).encode()),
    st.tuples(_messages, st.integers(min_value=0, max_value=80)).map(lambda mi: json.dumps(mi[0]).encode()[: mi[1]]),
    _text_line.map(lambda t: t.encode()),
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b"")),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_lines, max_size=30), gzipped=st.booleans())
def test_random_and_corrupted_lines_never_crash_and_always_reconcile(tmp_path_factory, lines, gzipped):
    folder = tmp_path_factory.mktemp("fuzz")
    body = b"\n".join(lines) + b"\n"
    path = folder / ("export.jsonl.gz" if gzipped else "export.jsonl")
    path.write_bytes(gzip.compress(body) if gzipped else body)
    conn = ingest(FileSource(events_dir=str(folder)))
    loads = conn.execute("select input_rows, loaded_rows, quarantined_rows, duplicate_rows from raw.event_loads").fetchall()
    assert all(i == loaded + quarantined + duplicates for i, loaded, quarantined, duplicates in loads)
    messages = [line for line in lines if line.strip(b" ")]
    assert sum(i for i, *_ in loads) == len(messages)
    assert conn.execute("select count(*) from raw.quarantine").fetchall()[0][0] == sum(q for _, _, q, _ in loads)
    assert conn.execute("select count(*) from raw.events").fetchall()[0][0] == sum(n for _, n, _, _ in loads)
    rows = conn.execute("select source_row from raw.quarantine union all select _source_row from raw.events").fetchall()
    numbered = [n for n, line in enumerate(lines, start=1) if line.strip(b" ")]
    assert set(r for (r,) in rows) <= set(numbered)
    if messages:  # the same loads reading the file again, nothing kept by the scan
        kept, read_again = ingest_kept_and_read_again(folder)
        assert kept == read_again


def test_a_message_id_on_two_days_is_kept_once_through_the_pipeline(tmp_path):
    """Regression: a message id on two days loaded on both, and the blocking unique test on
    staging failed every run. Here the copy received first lands on a day loaded four days
    later: that day keeps it, and the earlier day, outside the run, is rebuilt without it."""
    later = D + timedelta(days=4)
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "first.jsonl").write_text(
        _message("x1", anonymousId="d1", timestamp="2026-03-10T10:00:00Z", receivedAt="2026-03-10T10:00:01Z")
        + "\n"
        + _message("m", anonymousId="d1", timestamp="2026-03-10T10:10:00Z", receivedAt="2026-03-14T12:00:00Z")
        + "\n"
    )
    database = tmp_path / "warehouse.duckdb"
    resources = {
        "duckdb": Warehouse(database=str(database)),
        "dbt": DbtCli(project_dir=dbt_project, dbt_executable=str(DBT_SHIM), warehouse_path=str(database), start_date="2026-03-01"),
        "event_source": FileSource(events_dir=str(folder), first_day="2026-03-01"),
    }
    assert materialize([raw_events, dbt_daily_models], partition_key=D.isoformat(), resources=resources).success

    (folder / "resent.jsonl").write_text(
        _message("y1", anonymousId="d2", timestamp="2026-03-14T09:00:00Z", receivedAt="2026-03-14T09:00:01Z")
        + "\n"
        + _message("m", anonymousId="d2", timestamp="2026-03-14T09:05:00Z", receivedAt="2026-03-14T09:05:01Z")
        + "\n"
    )
    result = materialize([raw_events, dbt_daily_models], partition_key=later.isoformat(), resources=resources, raise_on_error=False)
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations() if c.asset_key == raw_events.key}
    assert checks[RECONCILIATION_CHECK]
    with duckdb.connect(str(database), read_only=True) as conn:
        sessions = conn.execute("select event_id, anonymous_id, event_date from intermediate.int_events_sessionized order by 1").fetchall()
        superseded = conn.execute("select event_date, message_id, kept_event_date from raw.superseded_events").fetchall()
        pending = conn.execute("select count(*) from raw.restated_days").fetchall()[0][0]
        first_file = file_reconciliation(conn, D, D)[0]
    assert sessions == [("m", "d2", later), ("x1", "d1", D), ("y1", "d2", later)]
    # The 10th still reconciles: its copy of m now counts as a duplicate.
    assert first_file == FileReconciliation(str(folder / "first.jsonl"), 2, 2, 1, 0, 1)
    assert superseded == [(D, "m", later)]
    assert pending == 0


def test_event_times_are_corrected_for_the_device_clock(tmp_path):
    """Regression: `timestamp` was taken as given, so a phone 6 hours ahead put its events
    6 hours in the future, and 23 hours ahead on the next day. With receivedAt, sentAt and
    originalTimestamp the device's offset cancels out; without them the fallbacks apply."""
    folder = tmp_path / "events"
    folder.mkdir()
    rows = [
        # A phone 6 h ahead: recorded at 16:00 on its clock, sent 5 s later, received at 10:00:05 UTC.
        _message(
            "ahead-6h",
            timestamp="2026-03-10T16:00:00Z",
            originalTimestamp="2026-03-10T16:00:00Z",
            sentAt="2026-03-10T16:00:05Z",
            receivedAt="2026-03-10T10:00:05Z",
        ),
        # 23 h ahead, its clock already on the 11th: lands on the 10th at 20:00.
        _message(
            "ahead-23h",
            timestamp="2026-03-11T19:00:00Z",
            originalTimestamp="2026-03-11T19:00:00Z",
            sentAt="2026-03-11T19:00:10Z",
            receivedAt="2026-03-10T20:00:10Z",
        ),
        # Offline for two hours with a correct clock: recorded 08:00, sent and received at 10:00.
        _message(
            "offline",
            timestamp="2026-03-10T10:00:00Z",
            originalTimestamp="2026-03-10T08:00:00Z",
            sentAt="2026-03-10T10:00:00Z",
            receivedAt="2026-03-10T10:00:01Z",
        ),
        # Fallbacks: the given timestamp (no sentAt), then originalTimestamp (no timestamp).
        _message("given", timestamp="2026-03-10T11:00:00Z", originalTimestamp="2026-03-10T09:00:00Z", receivedAt="2026-03-10T11:00:01Z"),
        _message("original-only", timestamp=None, originalTimestamp="2026-03-10T12:00:00Z"),
        # 30 h ahead with no sentAt to correct it: beyond the 24 h tolerance, quarantined.
        _message("uncorrectable", timestamp="2026-03-11T16:00:00Z", receivedAt="2026-03-10T10:00:00Z"),
    ]
    (folder / "export.jsonl").write_text("\n".join(rows) + "\n")
    conn = ingest(FileSource(events_dir=str(folder)))
    loaded = conn.execute('select message_id, event_date, "timestamp" from raw.events order by "timestamp"').fetchall()
    assert loaded == [
        ("offline", D, datetime(2026, 3, 10, 8, 0, 1)),
        ("ahead-6h", D, datetime(2026, 3, 10, 10, 0)),
        ("given", D, datetime(2026, 3, 10, 11, 0)),
        ("original-only", D, datetime(2026, 3, 10, 12, 0)),
        ("ahead-23h", D, datetime(2026, 3, 10, 20, 0)),
    ]
    quarantined = conn.execute("select message_id, reason from raw.quarantine").fetchall()
    assert quarantined == [("uncorrectable", "future_timestamp")]


def test_every_file_reconciles_scanned_with_loaded_quarantined_and_duplicates(tmp_path):
    """Per input file, the rows the manifest scanned for the loaded days equal the rows
    loaded, quarantined and counted as duplicates; a file of those days that the loads
    did not read (it arrived after them) does not reconcile."""
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        "\n".join(
            [
                _message("a1", receivedAt="2026-03-10T10:00:01Z"),
                _message("a1", receivedAt="2026-03-10T10:00:01Z"),
                _message("a2", type=None),
                _message("a3", timestamp="2026-03-11T08:00:00Z"),
            ]
        )
        + "\n"
    )
    (folder / "b.jsonl").write_text("\n".join([_message("a1", receivedAt="2026-03-10T11:00:00Z"), _message("b1")]) + "\n")
    source = FileSource(events_dir=str(folder))
    conn = ingest(source)
    by_file = {Path(f.source_file).name: f for f in file_reconciliation(conn, D, D + timedelta(days=1))}
    # a: a1 loaded, its second copy a duplicate, a2 quarantined, a3 loaded on the 11th.
    assert by_file["a.jsonl"] == FileReconciliation(str(folder / "a.jsonl"), 4, 4, 2, 1, 1)
    # b: its copy of a1 was received later, a duplicate; b1 loaded.
    assert by_file["b.jsonl"] == FileReconciliation(str(folder / "b.jsonl"), 2, 2, 1, 0, 1)
    assert all(f.reconciles for f in by_file.values())

    (folder / "c.jsonl").write_text(_message("c1") + "\n")  # arrives after the 10th was loaded
    source.prepare(conn)
    late = {Path(f.source_file).name: f for f in file_reconciliation(conn, D, D)}["c.jsonl"]
    assert (late.scanned, late.input_rows, late.reconciles) == (1, 0, False)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_oversized_field_of_a_typed_format_is_quarantined_with_its_size(tmp_path, fmt):
    """Regression: in CSV a 100 KB anonymous_id loaded (only properties and traits were
    measured), and the size of an oversized message was not kept."""
    folder = tmp_path / "events"
    folder.mkdir()
    with duckdb.connect() as conn:
        conn.execute(
            """create table t as select * from (values
                   ('ok', 'track', 'game_started', 'anon-1', timestamp '2026-03-10 10:00:00'),
                   ('huge', 'track', 'game_started', repeat('a', 100000), timestamp '2026-03-10 10:01:00'))
               as v(message_id, type, event, anonymous_id, "timestamp")"""
        )
        conn.execute(f"copy t to '{folder / ('export.' + fmt)}' (format {fmt})")
    conn = ingest(FileSource(events_dir=str(folder)))
    assert conn.execute("select message_id from raw.events").fetchall() == [("ok",)]
    quarantined = conn.execute("select message_id, reason, raw_bytes, length(raw_text) from raw.quarantine").fetchall()
    fields = 100000 + len("huge") + len("track") + len("game_started")
    if fmt == "csv":  # every CSV field is text, the timestamp too
        fields += len("2026-03-10 10:01:00")
    assert quarantined == [("huge", "oversized_payload", fields, 2000)]


def _scanned(path: Path, limit: int) -> tuple[list[tuple], list[tuple]]:
    conn = duckdb.connect()
    found = readers.candidates(conn, path, ["message_id", "event"], [], limit)
    rows = conn.execute(f"select _source_row, message_id from ({found.sql}) order by 1").fetchall()
    return rows, [(r.line, r.reason, r.size) for r in found.rejects]


def test_lines_from_the_line_limit_on_are_rejects_with_their_size_and_numbers_stay_right(tmp_path):
    """Lines of the limit or more are not read; a pass over the bytes finds them (DuckDB
    reads a first line of exactly the limit, and rejects the same line further down)."""
    limit = 4096

    def line(message_id: str, size: int) -> bytes:
        head = b'{"messageId":"' + message_id.encode() + b'","p":"'
        return head + b"z" * (size - len(head) - 2) + b'"}'

    def ok(message_id: str) -> bytes:
        return json.dumps({"messageId": message_id, "event": "e"}).encode()

    first = tmp_path / "first.jsonl"
    first.write_bytes(line("at", limit) + b"\n" + ok("b") + b"\n" + line("under", limit - 1))
    assert _scanned(first, limit) == ([(2, "b"), (3, "under")], [(1, "oversized_payload", limit)])

    mixed = tmp_path / "mixed.jsonl.gz"
    body = [ok("a"), line("at", limit), b"", ok("d"), line("huge", 40 << 20), ok("f"), b"\xff\xfe", ok("h"), line("last", limit + 7)]
    mixed.write_bytes(gzip.compress(b"\n".join(body), compresslevel=1))
    rows, rejects = _scanned(mixed, limit)
    assert rows == [(1, "a"), (4, "d"), (6, "f"), (8, "h")]
    assert rejects == [
        (2, "oversized_payload", limit),
        (5, "oversized_payload", 40 << 20),
        (7, "unreadable_line", 2),  # numbered after the line DuckDB dropped without counting it
        (9, "oversized_payload", limit + 7),
    ]

    # DuckDB ends a line at every CR and LF: CRLF is a line and an empty one, counted alike
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(ok("a") + b"\r\n" + line("big", limit) + b"\r\n" + ok("c") + b"\r\n")
    assert _scanned(crlf, limit) == ([(1, "a"), (5, "c")], [(3, "oversized_payload", limit)])

    # CSV rows are numbered after the header; a row over DuckDB's buffer is found the same way
    # (past the 20,480 rows DuckDB samples for the dialect: a long row among them fails the file)
    csv = tmp_path / "rows.csv"
    head = b"message_id,event\n" + b"".join(b"m%d,e\n" % i for i in range(21000))
    csv.write_bytes(head + b"long," + b"y" * limit + b"\nafter,e\nhuge," + b"z" * (40 << 20) + b"\nlast,e\n")
    rows, rejects = _scanned(csv, limit)
    assert rows[-3:] == [(21000, "m20999"), (21002, "after"), (21004, "last")]
    assert rejects == [(21001, "oversized_payload", limit + 5), (21003, "oversized_payload", (40 << 20) + 5)]


_HUGE_LINE = """
import gzip, resource, sys
from pathlib import Path
folder = Path(sys.argv[1])
with gzip.open(folder / "export.jsonl.gz", "wb", compresslevel=1) as f:
    f.write(b'{"messageId":"ok","anonymousId":"a","type":"track","event":"e","timestamp":"2026-03-10T10:00:00Z"}\\n')
    f.write(b'{"messageId":"huge","type":"track","event":"e","timestamp":"2026-03-10T10:01:00Z","properties":{"p":"')
    for _ in range(300):
        f.write(b"z" * (1 << 20))
    f.write(b'"}}\\n{"messageId":"after","anonymousId":"a","type":"track","event":"e","timestamp":"2026-03-10T10:02:00Z"}\\n')
import product_analytics_tests.conftest  # the test environment (start date)
from product_analytics_tests.test_file_source import FileSource, ingest
conn = ingest(FileSource(events_dir=str(folder)))
print(conn.execute("select list(message_id order by message_id) from raw.events").fetchone()[0])
print(conn.execute("select source_row, reason, raw_bytes, raw_text[:20] from raw.quarantine").fetchall())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_a_300_mb_line_is_quarantined_with_its_size_without_being_read_whole(tmp_path):
    """Regression: a 250 MB line was read whole (3.3 GB of memory), and one over DuckDB's
    32 MiB buffer would have vanished without a trace had the line limit been lower."""
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-c", _HUGE_LINE, str(tmp_path)], capture_output=True, text=True, check=True, cwd=repo)
    loaded, quarantined, peak_mb = result.stdout.strip().splitlines()
    assert loaded == "['after', 'ok']"
    size = len('{"messageId":"huge","type":"track","event":"e","timestamp":"2026-03-10T10:01:00Z","properties":{"p":"') + (300 << 20) + 3
    assert quarantined == f"[(2, 'oversized_payload', {size}, '{{\"messageId\":\"huge\",')]"
    assert int(peak_mb) < 1024  # the line is 300 MB; reading it whole took over 3 GB
