"""Turning an input file into candidate rows: one relation shape for every format.

A *candidate* relation has the warehouse column names (``load.EVENT_COLUMNS`` for
events, a table's columns for source tables) plus bookkeeping columns:

- ``_source_file``, ``_source_row``: where the row came from (1-based line number for
  newline-delimited JSON, counting blank lines; data row number for CSV, header
  excluded; row number for Parquet);
- ``_raw``: the line's text (JSON) or null (typed formats, rebuilt when quarantined);
- ``_bytes``: the size of the message (the JSON line; for Parquet / CSV, every field's text);
- ``_parse_error``: a reason code when the line is not a JSON object, else null.

Every reader is one DuckDB scan (``read_csv`` / ``read_parquet``): streaming and
vectorized, never a Python loop over lines. Lines of JSONL files are bounded: DuckDB
reads no line of ``line_limit`` bytes or more (it keeps memory to the limit, and it drops
lines over its 32 MiB buffer without a trace), so a vectorized pass over the file's bytes
(``long_lines``) finds them first; each becomes an ``oversized_payload`` reject with its
size and the start of its text, and every line of the file is accounted for.
"""

from __future__ import annotations

import gzip
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import duckdb
import numpy as np

from product_analytics.config import settings

# Lines are read as one text column: NUL never occurs in valid JSON text.
_LINE_READER = (
    "read_csv({path}, columns={'line': 'varchar'}, delim='\\0', quote='', escape='', header=false, auto_detect=false, "
    "strict_mode=false, new_line='\\n', max_line_size={limit}, ignore_errors=true, store_rejects=true, "
    "rejects_table='_pa_rejects', rejects_scan='_pa_reject_scans')"
)
REJECTS = "_pa_rejects"
MIN_LINE_LIMIT = 1 << 20  # lines below this are read by DuckDB and sized by validation
_CHUNK = 1 << 24  # bytes per step of the line scan
_PREFIX = 4096  # bytes of an over-long line kept as its text (the quarantine keeps 2,000 characters)

# Segment / RudderStack message paths (camelCase) and their warehouse names; snake_case keys are accepted too.
JSON_FIELDS: dict[str, list[str]] = {
    "message_id": ["$.messageId", "$.message_id", "$.id"],
    "type": ["$.type"],
    "event": ["$.event"],
    "name": ["$.name", "$.properties.name"],
    "anonymous_id": ["$.anonymousId", "$.anonymous_id"],
    "user_id": ["$.userId", "$.user_id"],
    "timestamp": ["$.timestamp"],
    "original_timestamp": ["$.originalTimestamp", "$.original_timestamp"],
    "sent_at": ["$.sentAt", "$.sent_at"],
    "received_at": ["$.receivedAt", "$.received_at"],
    "context_platform": ["$.context.device.type", "$.context.os.name", "$.channel", "$.context_platform"],
    "context_app_version": ["$.context.app.version", "$.context_app_version"],
    "context_locale": ["$.context.locale", "$.context_locale"],
    "context_country": ["$.context.location.country", "$.context_country"],
    "context_campaign_source": ["$.context.campaign.source", "$.context_campaign_source"],
    "context_campaign_medium": ["$.context.campaign.medium", "$.context_campaign_medium"],
    "context_campaign_name": ["$.context.campaign.name", "$.context_campaign_name"],
    "context_page_path": ["$.context.page.path", "$.properties.path", "$.context_page_path"],
    "context_page_url": ["$.context.page.url", "$.properties.url", "$.context_page_url"],
    "context_page_referrer": ["$.context.page.referrer", "$.properties.referrer", "$.context_page_referrer"],
}
JSON_OBJECTS = {"properties": ["$.properties"], "traits": ["$.traits", "$.context.traits"]}
# Other spellings of warehouse columns in Parquet / CSV exports.
COLUMN_ALIASES = {
    "message_id": ["id"],
    "context_platform": ["context_device_type", "platform"],
    "context_country": ["context_location_country"],
    "properties": ["event_properties"],
}
LOWERCASED = {"type", "context_platform"}

_DATE_IN_PATH = re.compile(r"(\d{4}-\d{2}-\d{2})")


def file_format(path: Path) -> str | None:
    """The format by extension; ``.gz`` alone is newline-delimited JSON (Segment's S3 files)."""
    suffixes = [s.lower() for s in path.suffixes]
    if not suffixes:
        return None
    if suffixes[-1] == ".parquet":
        return "parquet"
    inner = suffixes[:-1] if suffixes[-1] == ".gz" else suffixes
    if inner and inner[-1] == ".csv":
        return "csv"
    if inner and inner[-1] in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffixes[-1] == ".gz":  # Segment's S3 files: <time>.<id>.gz
        return "jsonl"
    return None


def date_in_path(path: Path) -> str | None:
    found = _DATE_IN_PATH.findall(str(path))
    return found[-1] if found else None


def sql_literal(value: object) -> str:
    """A SQL literal for a path, a date or a timestamp (strings are escaped)."""
    text = str(value)
    return "'" + text.replace("'", "''") + "'"


class Reject(NamedTuple):
    """A line the reader did not turn into a row: quarantined with ``reason``."""

    line: int
    text: str
    reason: str  # unreadable_line (not decodable, or not fitting a CSV header) or oversized_payload
    size: int  # bytes of the whole line


@dataclass
class Candidates:
    """A relation of candidate rows and the file's lines that did not become rows."""

    sql: str
    rejects: list[Reject]
    typed: frozenset[str] = frozenset()  # columns holding UTC timestamps already (the rest is text)


def line_limit(max_message_bytes: int | None = None) -> int:
    """The length (bytes) from which a JSONL line is not read: above any valid message."""
    if max_message_bytes is None:
        max_message_bytes = settings().max_message_bytes
    return max(MIN_LINE_LIMIT, max_message_bytes + 1)


@dataclass
class LineScan:
    lines: int  # lines in the file, the last one counted when it has no newline
    long: list[Reject]  # lines of ``limit`` bytes or more (newline excluded)


def long_lines(path: Path, limit: int) -> LineScan:
    """Count a (gzipped) file's lines and find those of ``limit`` bytes or more, reading it in
    fixed-size chunks: memory stays at a chunk whatever the lines' lengths. Lines end at
    every LF and every CR, as DuckDB's line reader splits them (CRLF ends a line and an
    empty one)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    long: list[Reject] = []
    lines = 0
    offset = 0  # bytes read before this chunk
    start = 0  # offset of the current line's first byte
    head = b""  # the current line's first bytes
    with opener(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            codes = np.frombuffer(chunk, dtype=np.uint8)
            ends = offset + np.flatnonzero((codes == 10) | (codes == 13))
            if len(head) < _PREFIX and start >= offset:
                head = chunk[start - offset : start - offset + _PREFIX]
            elif len(head) < _PREFIX:
                head += chunk[: _PREFIX - len(head)]
            if len(ends):
                starts = np.concatenate(([start], ends[:-1] + 1))
                for i in np.flatnonzero(ends - starts >= limit):
                    first = int(starts[i])
                    text = head if i == 0 else chunk[first - offset : first - offset + _PREFIX]
                    long.append(_long_line(lines + int(i) + 1, text, int(ends[i]) - first))
                lines += len(ends)
                start = int(ends[-1]) + 1
                head = chunk[start - offset : start - offset + _PREFIX]
            offset += len(chunk)
    if offset > start:  # a last line without its newline
        lines += 1
        if offset - start >= limit:
            long.append(_long_line(lines, head, offset - start))
    return LineScan(lines, long)


def _long_line(line: int, head: bytes, size: int) -> Reject:
    text = head.decode("utf-8", errors="replace") + f"... ({size} bytes)"
    return Reject(line, text, "oversized_payload", size)


def _reader_rejects(conn: duckdb.DuckDBPyConnection) -> list[Reject]:
    """The lines DuckDB rejected, numbered as DuckDB counts them."""
    try:
        # one row per error: a short CSV row has one per missing column
        rows = conn.execute(
            rf"""select line, min(csv_line), bool_or(error_type = 'LINE SIZE OVER MAXIMUM'),
                   max(regexp_extract(error_message, 'Actual Size:\s*(\d+)', 1))
            from {REJECTS} group by line order by line"""
        ).fetchall()
    except duckdb.CatalogException:
        return []
    return [
        Reject(int(line), text, "oversized_payload", int(size or 0))
        if too_long
        else Reject(int(line), text, "unreadable_line", len(text.encode("utf-8", "surrogateescape")))
        for line, text, too_long, size in rows
    ]


def _drop_rejects(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"drop table if exists {REJECTS}")
    conn.execute("drop table if exists _pa_reject_scans")


def _read_with_rejects(conn: duckdb.DuckDBPyConnection, table: str, query: str) -> list[Reject]:
    """Materialize a ``read_csv`` scan (with ``store_rejects``) into a temporary table; return
    the lines it could not read, with their line numbers in the file."""
    _drop_rejects(conn)
    conn.execute(f"create or replace temp table {table} as {query}")
    rejects = _reader_rejects(conn)
    _drop_rejects(conn)
    return rejects


def _row_number_sql(conn: duckdb.DuckDBPyConnection, rejected: list[int]) -> str:
    """The row number of the ``_k``-th row a reader returned, given the rejected rows' numbers:
    the k-th returned row comes after every rejected row with fewer good rows before it."""
    if not rejected:
        return "_k"
    conn.execute(
        "create or replace temp table _pa_reject_lines as select line - row_number() over (order by line) as good_before "
        "from (select unnest(?::bigint[]) as line)",
        [rejected],
    )
    return "_k + (select count(*) from _pa_reject_lines r where r.good_before < _k)"


def _skipped_lines(scan: LineScan, duckdb_rejects: list[Reject], returned: list[int], header: int = 0) -> tuple[list[int], list[Reject]]:
    """The file's lines that are not rows of the reader, and its rejects, in true line numbers.

    DuckDB rejects a long line with its line number, but drops one over its buffer without
    a trace and without counting it, so the numbers it gives after such a line are short by
    one; and it reads a first line of exactly the limit as a row (``returned``: the row
    numbers of rows that long). The scan's long lines are matched to both, in order.
    """
    too_long = {r.line for r in duckdb_rejects if r.reason == "oversized_payload"}
    others = [r for r in duckdb_rejects if r.reason != "oversized_payload"]
    silent: list[int] = []
    kept: set[int] = set()
    for long in scan.long:
        number = long.line - len(silent)  # as DuckDB counts
        rows_before = number - 1 - header - sum(1 for r in duckdb_rejects if r.line < number)
        if number in too_long:
            continue
        if rows_before + 1 in returned:
            kept.add(long.line)
        else:
            silent.append(long.line)

    def true_line(number: int) -> int:
        return number + sum(1 for j, line in enumerate(silent) if line - j <= number)

    undecodable = [r._replace(line=true_line(r.line)) for r in others]
    skipped = sorted({r.line for r in undecodable} | {r.line for r in scan.long if r.line not in kept})
    return skipped, sorted(undecodable + scan.long)


def jsonl_candidates(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    fields: dict[str, list[str]],
    objects: dict[str, list[str]],
    limit: int | None = None,
) -> Candidates:
    """Lines of a (gzipped) JSONL file, parsed where they are JSON objects.

    The file is read once into a temporary table so that lines DuckDB cannot decode
    (invalid UTF-8) are known, with their line numbers, before the rows are numbered.
    Lines of ``limit`` bytes or more are not read (see the module's docstring).
    """
    limit = limit or line_limit()
    reader = _LINE_READER.replace("{path}", sql_literal(path)).replace("{limit}", str(limit))
    with ThreadPoolExecutor(1) as pool:  # the byte scan runs while DuckDB reads (both release the GIL)
        scanning = pool.submit(long_lines, path, limit)
        undecodable = _read_with_rejects(conn, "_pa_lines", f"select line, ordinality as _k from {reader} with ordinality")
        scan = scanning.result()
    read = conn.execute("select count(*) from _pa_lines").fetchone()[0]
    # a row that long is left out of the rows below: it is one of the scan's rejects
    returned = [k for (k,) in conn.execute(f"select _k from _pa_lines where strlen(line) >= {limit} order by _k").fetchall()]
    skipped, rejects = _skipped_lines(scan, undecodable, returned)
    if read + len(skipped) != scan.lines:
        raise ValueError(f"{path}: {scan.lines} lines, but {read} were read and {len(skipped)} skipped")
    line_number = _row_number_sql(conn, skipped)
    # One extraction call per kind reads every path from one parse of the line; a field is
    # the first of its paths that is present.
    string_paths = [p for paths in fields.values() for p in paths]
    object_paths = [p for paths in objects.values() for p in paths]

    def first(values: str, all_paths: list[str], paths: list[str]) -> str:
        items = [f"{values}[{all_paths.index(p) + 1}]" for p in paths]
        return items[0] if len(items) == 1 else f"coalesce({', '.join(items)})"

    columns = [f"{first('_s', string_paths, paths)} as {name}" for name, paths in fields.items()]
    columns += [f"nullif(json({first('_o', object_paths, paths)}), 'null') as {name}" for name, paths in objects.items()]
    lowered = [f"lower({c}) as {c}" if c in LOWERCASED else c for c in [*fields, *objects]]
    listing = ", ".join(sql_literal(p) for p in string_paths)
    object_listing = ", ".join(sql_literal(p) for p in object_paths)
    sql = f"""
        select {", ".join(lowered)}, _source_file, _source_row, _raw, _bytes, _parse_error
        from (
            select
                {", ".join(columns)},
                {sql_literal(path)}::varchar as _source_file,
                ({line_number})::bigint as _source_row,
                line as _raw,
                strlen(line)::bigint as _bytes,
                case when not _valid then 'malformed_json' when _type <> 'OBJECT' then 'not_an_object' end as _parse_error
            from (
                select *,
                    case when _type = 'OBJECT' then json_extract_string(line, [{listing}]) end as _s,
                    case when _type = 'OBJECT' then json_extract(line, [{object_listing}]) end as _o
                from (
                    select *, case when _valid then json_type(line) end as _type
                    from (
                        select *, json_valid(line) as _valid from _pa_lines where trim(line) <> '' and strlen(line) < {limit}
                    )
                )
            )
        )
    """
    return Candidates(sql, rejects)


def _variable_length(kind: str) -> bool:
    kind = kind.upper()
    return kind.startswith(("VARCHAR", "JSON", "STRUCT", "MAP", "BLOB")) or kind.endswith("]")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# Columns of warehouse exports that are bookkeeping, not message content.
_BOOKKEEPING = {"event_date", "uuid_ts", "loaded_at", "event_text", "file_row_number", "snapshot_date"}


def _ignored_column(name: str) -> bool:
    lowered = name.lower()
    return lowered in _BOOKKEEPING or lowered.startswith(("_", "context_"))


def _columns(conn: duckdb.DuckDBPyConnection, reader: str) -> dict[str, str]:
    return {row[0]: row[1] for row in conn.execute(f"describe select * from {reader}").fetchall()}


def tabular_candidates(
    conn: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    wanted: list[str],
    json_columns: list[str],
    where: str = "",
    limit: int | None = None,
) -> Candidates:
    """Rows of a Parquet or CSV file with warehouse column names.

    Missing columns are null; other spellings in ``COLUMN_ALIASES`` are accepted; a
    column the warehouse does not know goes into ``properties`` (warehouse exports
    flatten properties into columns). JSON columns may hold objects or JSON text.
    """
    rejects: list[Reject] = []
    if fmt == "parquet":
        reader = f"read_parquet({sql_literal(path)}, file_row_number=true, hive_partitioning=false)"
        row_number = "file_row_number + 1"
    else:  # rows that do not fit the header are rejected, then quarantined; rows are numbered after the header
        options = "header=true, all_varchar=true, hive_partitioning=false, ignore_errors=true, store_rejects=true"
        limit = limit or line_limit()
        options += f", rejects_table='{REJECTS}', rejects_scan='_pa_reject_scans', max_line_size={limit}"
        query = f"select * rename (ordinality as _k) from read_csv({sql_literal(path)}, {options}) with ordinality"
        with ThreadPoolExecutor(1) as pool:  # as for JSONL: DuckDB drops a row over its buffer silently
            scanning = pool.submit(long_lines, path, limit)
            found = _read_with_rejects(conn, "_pa_rows", query)
            scan = scanning.result()
        # line numbers count the header; a row spanning lines (a quoted line break) counts as one
        skipped, rejects = _skipped_lines(scan, found, [], header=1)
        read = conn.execute("select count(*) from _pa_rows").fetchone()[0]
        if read + len(skipped) > scan.lines - 1:
            raise ValueError(f"{path}: {scan.lines} lines, but {read} rows were read and {len(skipped)} skipped")
        rejects = [r._replace(line=r.line - 1) for r in rejects]
        reader = "_pa_rows"
        row_number = _row_number_sql(conn, [line - 1 for line in skipped])
    present = {c: t for c, t in _columns(conn, reader).items() if c != "_k"}
    lower = {c.lower(): c for c in present}

    def column(name: str) -> str | None:
        for candidate in [name, *COLUMN_ALIASES.get(name, [])]:
            if candidate in lower:
                return lower[candidate]
        return None

    used = set()
    selects = []
    typed: set[str] = set()
    for name in wanted:
        source = column(name)
        if source is None:
            selects.append(f"null::{'json' if name in json_columns else 'varchar'} as {name}")
            continue
        used.add(source)
        quoted = _quote(source)
        if name in json_columns:
            kind = present[source].upper()
            if kind.startswith(("STRUCT", "MAP")) or kind == "JSON":
                selects.append(f"json(to_json({quoted})) as {name}")
            else:
                selects.append(f"case when json_valid({quoted}) then json({quoted}) end as {name}")
                selects.append(f"({quoted} is not null and not json_valid({quoted})) as _bad_{name}")
        elif present[source].upper().startswith("TIMESTAMP"):  # no zone is UTC; a zone is converted to UTC
            zoned = present[source].upper().endswith("WITH TIME ZONE")
            utc = f"timezone('UTC', {quoted})" if zoned else f"{quoted}::timestamp"
            selects.append(f"{utc} as {name}")
            typed.add(name)
        else:
            expr = f"{quoted}::varchar"
            selects.append(f"{'lower(' + expr + ')' if name in LOWERCASED else expr} as {name}")
    bad_json = [f"_bad_{n}" for n in json_columns if any(s.endswith(f" as _bad_{n}") for s in selects)]
    extra = [c for c in present if c not in used and c != "file_row_number" and not _ignored_column(c)] if "properties" in wanted else []
    outputs = list(wanted)
    if extra:  # merged into properties
        selects += [f"{_quote(c)} as {_quote('_extra_' + c)}" for c in extra]
        pairs = ", ".join(f"{sql_literal(c)}, {_quote('_extra_' + c)}" for c in extra)
        any_extra = f"coalesce({', '.join(_quote('_extra_' + c) for c in extra)})"
        merged = f"json_merge_patch(coalesce(properties, '{{}}'::json), json_object({pairs}))"
        merged = f"case when properties is null and {any_extra} is null then null else {merged} end"
        outputs[outputs.index("properties")] = f"{merged} as properties"
    # The message's size: every field of variable length it carries (a 100 KB id is as
    # oversized as a 100 KB property); numbers and timestamps add nothing that can grow.
    sized = [c for c, kind in present.items() if c != "file_row_number" and _variable_length(kind)]
    payload = " + ".join(f"coalesce(strlen({_quote(c)}::varchar), 0)" for c in sized) or "0"
    parse_error = f"case when {' or '.join(bad_json)} then 'malformed_json' end" if bad_json else "null::varchar"
    sql = f"""
        select {", ".join(outputs)}, {sql_literal(path)}::varchar as _source_file, _source_row, null::varchar as _raw,
               _bytes, {parse_error} as _parse_error
        from (
            select {", ".join(selects)}, ({row_number})::bigint as _source_row, ({payload})::bigint as _bytes
            from {reader}{" where " + where if where else ""}
        )
    """
    return Candidates(sql, rejects, frozenset(typed))


def unreadable_file(path: Path, wanted: list[str], json_columns: list[str], error: str) -> Candidates:
    """One candidate row standing for a file that cannot be read at all: it is quarantined
    with reason ``unreadable_file``, its size and the reader's error as raw text."""
    size = path.stat().st_size if path.exists() else None
    text = f"unreadable file ({size} bytes): {error}"
    columns = ", ".join(f"null::{'json' if n in json_columns else 'varchar'} as {n}" for n in wanted)
    sql = f"""
        select {columns}, {sql_literal(path)}::varchar as _source_file, null::bigint as _source_row,
               {sql_literal(text)}::varchar as _raw, 0::bigint as _bytes, 'unreadable_file' as _parse_error
    """
    return Candidates(sql, [])


def candidates(
    conn: duckdb.DuckDBPyConnection, path: Path, wanted: list[str], json_columns: list[str], limit: int | None = None
) -> Candidates:
    """The candidate rows of any supported file; ``limit``: see ``line_limit``."""
    fmt = file_format(path)
    if fmt == "jsonl":
        fields = {n: JSON_FIELDS.get(n, [f"$.{n}"]) for n in wanted if n not in json_columns}
        objects = {n: JSON_OBJECTS.get(n, [f"$.{n}"]) for n in json_columns}
        return jsonl_candidates(conn, path, fields, objects, limit)
    if fmt in ("parquet", "csv"):
        return tabular_candidates(conn, path, fmt, wanted, json_columns, limit=limit)
    raise ValueError(f"{path}: not a supported file (JSONL, JSONL.gz, Parquet, CSV)")
