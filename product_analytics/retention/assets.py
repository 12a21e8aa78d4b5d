"""Retention cohorts as an asset of the warehouse, with the daily matrix in its metadata."""

import numpy as np
import pandas as pd
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

from product_analytics.policies import audit_trail
from product_analytics.policies.freshness import DAILY_FRESHNESS
from product_analytics.policies.pictures import picture
from product_analytics.policies.pools import DUCKDB_WRITER_POOL
from product_analytics.policies.table_figures import table_figures
from product_analytics.resources.transient import retried_when_transient
from product_analytics.resources.warehouse import Warehouse
from product_analytics.retention.checks import check_retention_tables
from product_analytics.retention.cohorts import GRAINS, retention, to_frame
from product_analytics.retention.render import cohort_table, daily_matrix, heatmap_png
from product_analytics.transform.assets import model_key

RETENTION = AssetKey(["marts", "retention_cohorts"])
RETENTION_BY_ATTRIBUTE = AssetKey(["marts", "retention_cohorts_by_attribute"])
UPSTREAM = [model_key(name) for name in ("fct_events", "fct_sessions", "dim_user_properties", "int_devices_attributed")]
ATTRIBUTES = ["first_platform", "first_utm_source", "country_at_signup", "first_game"]
CHECKS = {  # name: what it asserts (retention/checks.py)
    "cohort_sizes_reconcile": "At every grain, the cohorts' sizes add up to the visitors of fct_events up to the last processed day.",
    "rates_between_0_and_1": "Every rate lies between 0 and 1, and no cohort retains more users than it holds.",
    "unbounded_retention_never_rises": "Unbounded retention (active in that period or later) never rises from one period to the next.",
    "day_0_retention_is_1": "Every cohort's finished period 0 retains all of its users.",
}

COLUMNS = {  # what each column of the two tables holds (docs/retention.md)
    "attribute_name": "The acquisition attribute of the breakdown: first_platform, first_utm_source, country_at_signup or first_game.",
    "attribute_value": "The visitors' first value of that attribute ('(unknown)' when the visitor has none).",
    "grain": "The cohorts' period: day (UTC calendar day), week (ISO, Monday to Sunday) or month.",
    "cohort_period": "The first day of the period of the cohort's first activity.",
    "period_number": "N: periods since the cohort's period (0 is the cohort's own period).",
    "cohort_size": "Visitors whose first activity falls in the cohort's period; the denominator of every rate.",
    "retained_users": "The cohort's visitors active in period N; null while period N has not ended.",
    "retention_rate": "retained_users / cohort_size; null while period N has not ended.",
    "unbounded_retained_users": "The cohort's visitors active in period N or any later period of the data; null until period N ends.",
    "unbounded_retention_rate": "unbounded_retained_users / cohort_size: it never rises with N; null until period N ends.",
}

# First values per visitor, for breakdowns: a signed-up user's acquisition properties
# (dim_user_properties), else the device's own first values (int_devices_attributed).
ATTRIBUTES_SQL = """
    visitors as (select distinct visitor_id, anonymous_id, user_id from marts.fct_sessions),
    per_visitor as (
        select
            visitors.visitor_id,
            coalesce(users.first_platform, devices.first_platform) as first_platform,
            coalesce(users.first_utm_source, devices.utm_source) as first_utm_source,
            users.country_at_signup,
            coalesce(users.first_game_id, devices.first_game_id) as first_game,
            row_number() over (partition by visitors.visitor_id order by devices.first_seen_at, devices.anonymous_id) as device_rank
        from visitors
        left join marts.dim_user_properties as users on visitors.user_id = users.user_id
        left join intermediate.int_devices_attributed as devices on visitors.anonymous_id = devices.anonymous_id
    ),
    attributes as (
        select
            visitor_id,
            coalesce(first_platform, '(unknown)') as first_platform,
            coalesce(first_utm_source, '(none)') as first_utm_source,
            coalesce(country_at_signup, '(not signed up)') as country_at_signup,
            coalesce(first_game, '(no game)') as first_game
        from per_visitor
        where device_rank = 1
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


def compute_tables(activity: pd.DataFrame, names: dict[str, list[str]], last_day: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both long tables from the fetched activity (pure; the asset only fetches and writes).
    The cohort arithmetic runs on the columns' numpy arrays."""
    user, day = activity["user_code"].to_numpy(), activity["day"].to_numpy()
    overall = pd.concat([to_frame(retention(user, day, last_day, grain), grain) for grain in GRAINS], ignore_index=True)
    parts = []
    for name in ATTRIBUTES:
        labels = [*names[name], "(unknown)"]
        codes = activity[name].to_numpy()
        segment = np.where(codes < 0, len(labels) - 1, codes)
        for grain in GRAINS:
            frame = to_frame(retention(user, day, last_day, grain, segment), grain, labels)
            parts.append(frame.assign(attribute_name=pd.array([name] * len(frame), dtype="string"))[["attribute_name", *frame.columns]])
    return overall, pd.concat(parts, ignore_index=True)


def write_table(conn, name: str, frame: pd.DataFrame) -> None:
    """Replace ``name`` with the frame's rows (``cohort_period`` stored as a date)."""
    conn.register("_frame", frame)
    conn.execute(f"create or replace table {name} as select * replace (cast(cohort_period as date) as cohort_period) from _frame")
    conn.unregister("_frame")


def mean_retention(day: pd.DataFrame, n: int) -> MetadataValue:
    """The mean day-``n`` retention of the daily cohorts whose day ``n`` has ended; while none
    has, a sentence saying so (never a blank number)."""
    values = day.loc[day["period_number"] == n, "retention_rate"].dropna()
    if not len(values):
        return MetadataValue.text(f"not yet: no daily cohort has a finished day {n} (it takes {n + 1} days of data)")
    return MetadataValue.float(round(float(values.mean()), 4))


@multi_asset(
    specs=[
        AssetSpec(
            RETENTION,
            group_name="retention",
            deps=UPSTREAM,
            kinds={"python", "duckdb"},
            description="Retention of daily, weekly and monthly cohorts of first activity (docs/retention.md).",
            freshness_policy=DAILY_FRESHNESS,
        ),
        AssetSpec(
            RETENTION_BY_ATTRIBUTE,
            group_name="retention",
            deps=UPSTREAM,
            kinds={"python", "duckdb"},
            description="The same, broken down by each first-value acquisition attribute.",
        ),
    ],
    check_specs=[AssetCheckSpec(name, asset=RETENTION, blocking=True, description=text) for name, text in CHECKS.items()],
    pool=DUCKDB_WRITER_POOL,
)
def retention_cohorts(context: AssetExecutionContext, duckdb: Warehouse):
    """Cohort retention over all processed days, from one row per visitor and active day."""
    yield from audit_trail.recorded(context, duckdb.get_connection, _retention(context, duckdb))


def _retention(context: AssetExecutionContext, duckdb: Warehouse):
    with retried_when_transient(duckdb.lock_timeout_seconds), duckdb.get_connection() as conn:
        last_day = conn.sql("select (max(session_date) - date '1970-01-01')::bigint from marts.fct_sessions").fetchall()[0][0]
        if last_day is None:
            raise ValueError("marts.fct_sessions is empty: materialize the daily partitions first")
        cutoff = np.datetime64(int(last_day), "D").item()
        activity = conn.sql(ACTIVITY_SQL, params=[cutoff]).to_arrow_table().to_pandas()
        names = {a: conn.sql(attribute_names_sql(a)).to_arrow_table().to_pandas().iloc[:, 0].tolist() for a in ATTRIBUTES}
        overall, by_attribute = compute_tables(activity, names, int(last_day))
        conn.execute("begin transaction")
        conn.execute("create schema if not exists marts")
        write_table(conn, "marts.retention_cohorts", overall)
        write_table(conn, "marts.retention_cohorts_by_attribute", by_attribute)
        conn.execute("commit")
        results = check_retention_tables(conn, cutoff)
        tables = ("retention_cohorts", "retention_cohorts_by_attribute")
        figures = {table: table_figures(conn, f"marts.{table}", COLUMNS)[0] for table in tables}

    labels, sizes, rates = daily_matrix(overall)
    day = overall[overall["grain"] == "day"]

    yield MaterializeResult(
        asset_key=RETENTION,
        metadata={
            "users": MetadataValue.int(int(activity["user_code"].nunique())),
            "data_through": MetadataValue.text(str(np.datetime64(int(last_day), "D"))),
            "mean_day_1_retention": mean_retention(day, 1),
            "mean_day_7_retention": mean_retention(day, 7),
            "heatmap": picture(
                context.instance, context.run.run_id, "retention_heatmap", heatmap_png(labels, rates), "daily retention heatmap"
            ),
            "daily_cohorts": cohort_table(labels, sizes, rates),
            **figures["retention_cohorts"],
        },
    )
    yield MaterializeResult(asset_key=RETENTION_BY_ATTRIBUTE, metadata=figures["retention_cohorts_by_attribute"])
    for result in results:
        yield AssetCheckResult(asset_key=RETENTION, **result)
