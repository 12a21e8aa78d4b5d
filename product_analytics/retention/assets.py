"""Retention cohorts as an asset of the warehouse, with the daily matrix in its metadata."""

import numpy as np
import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from dagster_duckdb import DuckDBResource

from product_analytics.resources import DUCKDB_WRITER_POOL
from product_analytics.retention.checks import check_retention_tables
from product_analytics.retention.cohorts import GRAINS, retention, to_arrow
from product_analytics.retention.render import daily_matrix, heatmap_png, markdown_image, markdown_matrix

RETENTION = AssetKey(["marts", "retention_cohorts"])
RETENTION_BY_ATTRIBUTE = AssetKey(["marts", "retention_cohorts_by_attribute"])
UPSTREAM = [AssetKey(["marts", "fct_events"]), AssetKey(["marts", "fct_sessions"]), AssetKey(["staging", "stg_app__users"])]
ATTRIBUTES = ["first_platform", "first_utm_source", "country_at_signup", "first_game"]
CHECKS = ["cohort_sizes_reconcile", "rates_between_0_and_1", "unbounded_retention_never_rises", "day_0_retention_is_1"]

# First values per visitor, for breakdowns: first session's platform and source,
# the first game played, and the country of the first daily image of the user row.
ATTRIBUTES_SQL = """
    visitors as (select distinct visitor_id, user_id from marts.fct_sessions),
    first_session as (
        select visitor_id, platform as first_platform, utm_source as first_utm_source
        from marts.fct_sessions where session_number = 1
    ),
    first_game as (
        select visitor_id, arg_min(game_id, event_at) as first_game
        from marts.fct_events where event_name = 'game_started' group by visitor_id
    ),
    signup_country as (
        select user_id, arg_min(country, snapshot_date) as country_at_signup from staging.stg_app__users group by user_id
    ),
    attributes as (
        select visitors.visitor_id,
               coalesce(first_session.first_platform, '(unknown)') as first_platform,
               coalesce(first_session.first_utm_source, '(none)') as first_utm_source,
               coalesce(signup_country.country_at_signup, '(not signed up)') as country_at_signup,
               coalesce(first_game.first_game, '(no game)') as first_game
        from visitors
        left join first_session using (visitor_id)
        left join first_game using (visitor_id)
        left join signup_country using (user_id)
    )
"""

# One row per visitor and active day, with the visitor's attribute codes: the only
# thing fetched from the warehouse. Days after the last processed day are partial.
ACTIVITY_SQL = (
    "with "
    + ATTRIBUTES_SQL
    + """,
    coded as (
        select visitor_id, """
    + ", ".join(f"dense_rank() over (order by {a}) - 1 as {a}" for a in ATTRIBUTES)
    + """
        from attributes
    ),
    activity as (select distinct visitor_id, event_date from marts.fct_events where event_date <= ?)
    select dense_rank() over (order by activity.visitor_id) - 1 as user_code,
           (activity.event_date - date '1970-01-01')::bigint as day, """
    + ", ".join(f"coalesce(coded.{a}, -1) as {a}" for a in ATTRIBUTES)
    + """
    from activity left join coded using (visitor_id)
    order by user_code, day
"""
)


def attribute_names_sql(attribute: str) -> str:
    return f"with {ATTRIBUTES_SQL} select distinct {attribute} from attributes order by 1"


def compute_tables(activity: dict, names: dict[str, list[str]], last_day: int) -> tuple[pa.Table, pa.Table]:
    """Both long tables from the fetched arrays (pure; the asset only fetches and writes)."""
    user, day = activity["user_code"], activity["day"]
    overall = pa.concat_tables([to_arrow(retention(user, day, last_day, grain), grain) for grain in GRAINS])
    parts = []
    for name in ATTRIBUTES:
        labels = [*names[name], "(unknown)"]
        segment = np.where(activity[name] < 0, len(labels) - 1, activity[name])
        for grain in GRAINS:
            table = to_arrow(retention(user, day, last_day, grain, segment), grain, labels)
            parts.append(table.add_column(0, "attribute_name", pa.array([name] * table.num_rows, pa.string())))
    return overall, pa.concat_tables(parts)


@multi_asset(
    specs=[
        AssetSpec(
            RETENTION,
            group_name="retention",
            deps=UPSTREAM,
            kinds={"python", "duckdb"},
            description="Retention of daily, weekly and monthly cohorts of first activity (docs/retention.md).",
        ),
        AssetSpec(
            RETENTION_BY_ATTRIBUTE,
            group_name="retention",
            deps=UPSTREAM,
            kinds={"python", "duckdb"},
            description="The same, broken down by each first-value acquisition attribute.",
        ),
    ],
    check_specs=[AssetCheckSpec(name, asset=RETENTION, blocking=True) for name in CHECKS],
    pool=DUCKDB_WRITER_POOL,
)
def retention_cohorts(context: AssetExecutionContext, duckdb: DuckDBResource):
    """Cohort retention over all processed days, from one row per visitor and active day."""
    with duckdb.get_connection() as conn:
        last_day = conn.sql("select (max(session_date) - date '1970-01-01')::bigint from marts.fct_sessions").fetchall()[0][0]
        if last_day is None:
            raise ValueError("marts.fct_sessions is empty: materialize the daily partitions first")
        cutoff = np.datetime64(int(last_day), "D").item()
        activity = conn.execute(ACTIVITY_SQL, [cutoff]).fetchnumpy()
        names = {a: [row[0] for row in conn.sql(attribute_names_sql(a)).fetchall()] for a in ATTRIBUTES}
        overall, by_attribute = compute_tables(activity, names, int(last_day))
        conn.execute("begin transaction")
        conn.execute("create schema if not exists marts")
        conn.register("overall", overall)
        conn.register("by_attribute", by_attribute)
        conn.execute("create or replace table marts.retention_cohorts as select * from overall")
        conn.execute("create or replace table marts.retention_cohorts_by_attribute as select * from by_attribute")
        conn.execute("commit")
        results = check_retention_tables(conn, cutoff)

    labels, sizes, rates = daily_matrix(overall)
    day = overall.filter(pa.compute.equal(overall["grain"], "day")).to_pydict()

    def mean_rate(n: int) -> float:
        values = [r for p, r in zip(day["period_number"], day["retention_rate"], strict=True) if p == n and r is not None]
        return round(float(np.mean(values)), 4) if values else float("nan")

    yield MaterializeResult(
        asset_key=RETENTION,
        metadata={
            "users": MetadataValue.int(int(len(np.unique(activity["user_code"])))),
            "data_through": MetadataValue.text(str(np.datetime64(int(last_day), "D"))),
            "mean_day_1_retention": MetadataValue.float(mean_rate(1)),
            "mean_day_7_retention": MetadataValue.float(mean_rate(7)),
            "daily_cohorts": MetadataValue.md(markdown_matrix(labels, sizes, rates)),
            "heatmap": MetadataValue.md(markdown_image(heatmap_png(labels, rates))),
            "rows": MetadataValue.int(overall.num_rows),
        },
    )
    yield MaterializeResult(asset_key=RETENTION_BY_ATTRIBUTE, metadata={"rows": MetadataValue.int(by_attribute.num_rows)})
    for result in results:
        yield AssetCheckResult(asset_key=RETENTION, **result)
