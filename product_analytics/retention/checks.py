"""Checks of the written retention tables: each returns the arguments of an AssetCheckResult."""

import duckdb
from dagster import MetadataValue


def _failures(conn: duckdb.DuckDBPyConnection, sql: str) -> int:
    return conn.sql(f"select count(*) from ({sql})").fetchall()[0][0]


def check_retention_tables(conn: duckdb.DuckDBPyConnection, last_day) -> list[dict]:
    """``last_day``: the last processed day, which the tables cover."""
    visitors = conn.execute("select count(distinct visitor_id) from marts.fct_events where event_date <= ?", [last_day]).fetchall()[0][0]
    sizes = dict(conn.sql("select grain, sum(cohort_size) from marts.retention_cohorts where period_number = 0 group by grain").fetchall())
    out_of_range = _failures(
        conn,
        """select * from marts.retention_cohorts
           where retention_rate not between 0 and 1 or unbounded_retention_rate not between 0 and 1
              or retained_users > cohort_size or retained_users > unbounded_retained_users""",
    )
    rising = _failures(
        conn,
        """select * from (
               select unbounded_retention_rate as rate,
                      lag(unbounded_retention_rate) over (partition by grain, cohort_period order by period_number) as previous
               from marts.retention_cohorts)
           where rate > previous""",
    )
    # Period 0 of a cohort whose period has not finished yet (this week, this month) is null.
    day_0 = _failures(conn, "select * from marts.retention_cohorts where period_number = 0 and retention_rate != 1")
    return [
        {
            "check_name": "cohort_sizes_reconcile",
            "passed": all(int(sizes.get(g, -1)) == visitors for g in ("day", "week", "month")),
            "metadata": {
                "visitors": MetadataValue.int(visitors),
                **{f"{g}_cohort_sizes": MetadataValue.int(int(v)) for g, v in sizes.items()},
            },
        },
        {"check_name": "rates_between_0_and_1", "passed": out_of_range == 0, "metadata": {"failing_rows": MetadataValue.int(out_of_range)}},
        {"check_name": "unbounded_retention_never_rises", "passed": rising == 0, "metadata": {"failing_rows": MetadataValue.int(rising)}},
        {"check_name": "day_0_retention_is_1", "passed": day_0 == 0, "metadata": {"failing_rows": MetadataValue.int(day_0)}},
    ]
