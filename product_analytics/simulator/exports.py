"""The simulator's messages written as a CDP would export them: Segment JSONL (plain or
gzipped, camelCase keys, nested context), or Parquet / CSV with the warehouse names.

Used to exercise the file source with believable data (tests, benchmark).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

_ISO = "'%Y-%m-%dT%H:%M:%S.%fZ'"
SEGMENT_MESSAGE = f"""
    select message_id as messageId, type, event, name, anonymous_id as anonymousId, user_id as userId,
        strftime("timestamp", {_ISO}) as "timestamp",
        strftime(original_timestamp, {_ISO}) as originalTimestamp,
        strftime(sent_at, {_ISO}) as sentAt,
        strftime(received_at, {_ISO}) as receivedAt,
        {{'device': {{'type': context_platform}}, 'app': {{'version': context_app_version}}, 'locale': context_locale,
         'location': {{'country': context_country}},
         'campaign': {{'source': context_campaign_source, 'medium': context_campaign_medium, 'name': context_campaign_name}},
         'page': {{'path': context_page_path, 'url': context_page_url, 'referrer': context_page_referrer}}}} as context,
        json(properties) as properties, json(traits) as traits
    from $table where hash(message_id) % $parts = $part
"""
FORMATS = {
    "jsonl": "format json",
    "jsonl.gz": "format json, compression gzip",
    "parquet": "format parquet",
    "csv": "format csv, header true",
}


def write_export(conn: duckdb.DuckDBPyConnection, table: str, folder: Path, fmt: str, parts: int = 2) -> list[Path]:
    """Write the messages of ``table`` (warehouse columns) into ``parts`` files under
    ``folder/part=N/``, split by message id, so that every file holds several days."""
    paths = []
    for part in range(parts):
        target = folder / f"part={part}" / f"batch.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if fmt.startswith("jsonl"):
            query = SEGMENT_MESSAGE.replace("$table", table).replace("$parts", str(parts)).replace("$part", str(part))
        else:
            query = f"select * from {table} where hash(message_id) % {parts} = {part}"
        conn.execute(f"copy ({query}) to '{target}' ({FORMATS[fmt]})")
        paths.append(target)
    return paths
