"""The figures a table asset's materialization carries: its row count and its columns with
the types the warehouse gives them (``dagster/row_count``, ``dagster/column_schema``).

A partitioned asset's materialization counts the rows of its days only. Every table
asset reports them, dbt models and Python assets alike; a dbt model's columns take
their descriptions from its YAML. A dbt invocation's events are held until it ends: dbt
holds the warehouse file while it runs, and the counts are read after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
from dagster import AssetKey, AssetMaterialization, MetadataValue, TableColumn, TableSchema

# A run of up to this many days reports each day's figures on that day's partition; a
# longer backfill reports its range's (with a table of the days), so that it does not
# write an event per day and asset.
MAX_DAYS_REPORTED_APART = 31
DATA_VERSION_TAG = "dagster/data_version"  # where Dagster keeps a materialization's data version


@dataclass(frozen=True)
class Window:
    """The days [first, last] of a partitioned asset's run, and the column that dates its rows."""

    column: str
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


def table_figures(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    descriptions: Mapping[str, str] | None = None,
    window: Window | None = None,
) -> tuple[dict[str, MetadataValue], dict[date, int]]:
    """Row count and typed column schema of ``schema.table`` (nothing when it does not exist),
    and with a window, the rows of each of its days (the count is theirs)."""
    schema, table = relation.split(".")
    columns = conn.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    if not columns:
        return {}, {}
    per_day: dict[date, int] = {}
    if window is None:
        rows = conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
    else:
        found = conn.execute(
            f'select "{window.column}"::date, count(*) from "{schema}"."{table}" '
            f'where "{window.column}" >= ?::timestamp and "{window.column}" < ?::timestamp group by 1',
            [window.first, window.last + timedelta(days=1)],
        ).fetchall()
        per_day = {day: 0 for day in window.days} | {day: int(n) for day, n in found}
        rows = sum(per_day.values())
    descriptions = descriptions or {}
    schema_value = TableSchema(
        columns=[TableColumn(name=name, type=kind.lower(), description=descriptions.get(name) or None) for name, kind in columns]
    )
    figures = {"dagster/row_count": MetadataValue.int(int(rows)), "dagster/column_schema": MetadataValue.table_schema(schema_value)}
    if len(per_day) > 1:
        figures["rows_per_day"] = MetadataValue.md(
            "| day | rows |\n|---|---|\n" + "\n".join(f"| {d} | {n} |" for d, n in sorted(per_day.items()))
        )
    return figures, per_day


def materializations_per_day(
    key: AssetKey,
    metadata: Mapping[str, MetadataValue],
    per_day: Mapping[date, int],
    of_day: Mapping[date, Mapping[str, MetadataValue]] | None = None,
    data_version: str | None = None,
) -> list[AssetMaterialization]:
    """For a run of several days (up to ``MAX_DAYS_REPORTED_APART``), one materialization per
    day, recorded after the run's own: the run's metadata with that day's row count (and
    ``of_day``'s figures of the day), which the UI shows when that partition is selected.
    ``data_version``: the run's materialization's, when it has one (the days keep it, so
    that the asset's latest materialization agrees with the run's)."""
    if not 1 < len(per_day) <= MAX_DAYS_REPORTED_APART:
        return []
    shared = {k: v for k, v in metadata.items() if k != "rows_per_day"}
    return [
        AssetMaterialization(
            asset_key=key,
            partition=day.isoformat(),
            metadata={**shared, "dagster/row_count": MetadataValue.int(rows), **(of_day or {}).get(day, {})},
            tags={DATA_VERSION_TAG: data_version} if data_version else None,
        )
        for day, rows in sorted(per_day.items())
    ]


def drained(events: Iterable) -> tuple[list, Exception | None]:
    """Every event of a dbt invocation once it has ended (dbt holds the warehouse file while
    it runs), and the error that ended it, if any: what dbt built before failing is still
    reported, then the error raised."""
    received: list = []
    try:
        for event in events:
            received.append(event)
    except Exception as exc:  # noqa: BLE001 - the caller raises it after reporting what was built
        return received, exc
    return received, None
