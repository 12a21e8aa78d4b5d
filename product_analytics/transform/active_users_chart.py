"""Active users and their lifecycle as a chart and a table on their asset's page
(agg_active_users_daily): DAU, WAU and MAU of every platform together over the last
days shown, the lifecycle of each of those days, and the latest day per platform."""

from __future__ import annotations

import io

import duckdb
from dagster import DagsterInstance, MetadataValue, TableColumn, TableRecord, TableSchema

from product_analytics.policies.pictures import picture

ACTIVE_USERS_MODEL = "agg_active_users_daily"
DAYS_SHOWN = 60  # the chart's last days: a bar a day stays readable at 540 px
COUNTS = ["dau", "wau", "mau", "new_users", "returning_users", "resurrecting_users", "dormant_users"]


def active_users_figures(
    conn: duckdb.DuckDBPyConnection, relation: str, instance: DagsterInstance, run_id: str
) -> dict[str, MetadataValue]:
    """The chart of the last days in total and the table of the latest day per platform."""
    totals = conn.execute(
        f"""select activity_date, {", ".join(COUNTS)} from {relation}
        where platform = 'all' order by activity_date desc limit {DAYS_SHOWN}"""
    ).fetchall()[::-1]
    if not totals:
        return {"active_users": MetadataValue.text("no active day yet: the table fills with the first day's events")}
    latest = totals[-1][0]
    rows = conn.execute(
        f"""select platform, {", ".join(COUNTS)}, stickiness from {relation} where activity_date = ?
        order by platform = 'all' desc, platform""",
        [latest],
    ).fetchall()
    records = [
        TableRecord({"platform": r[0], **{c: int(v) for c, v in zip(COUNTS, r[1:-1], strict=True)}, "stickiness": percent(r[-1])})
        for r in rows
    ]
    schema = TableSchema(
        [
            TableColumn("platform", "string", description="all: every platform together"),
            TableColumn("dau", "int", description=f"visitors active on {latest}"),
            TableColumn("wau", "int", description="active in the 7 days ending then"),
            TableColumn("mau", "int", description="active in the 28 days ending then"),
            TableColumn("new_users", "int", description="first active that day"),
            TableColumn("returning_users", "int", description="active that day and the day before"),
            TableColumn("resurrecting_users", "int", description="active that day, not the day before, seen earlier"),
            TableColumn("dormant_users", "int", description="active the day before, not that day"),
            TableColumn("stickiness", "string", description="dau / mau"),
        ]
    )
    png = active_users_png([r[0].isoformat() for r in totals], {c: [int(r[i + 1]) for r in totals] for i, c in enumerate(COUNTS)})
    return {
        "active_users_chart": picture(instance, run_id, "active_users", png, "active users and lifecycle, all platforms"),
        "active_users": MetadataValue.table(records, schema),
        "active_users_latest_day": MetadataValue.text(latest.isoformat()),
    }


def percent(ratio: float | None) -> str:
    return "no monthly active user" if ratio is None else f"{100 * ratio:.1f}%"


def active_users_png(days: list[str], counts: dict[str, list[int]]) -> bytes:
    import matplotlib  # imported here: loading the code location does not pay for it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions = range(len(days))
    ticks = list(positions)[:: max(1, len(days) // 6)]
    # 540 px wide: the width the asset page gives a metadata value
    fig, (active, lifecycle) = plt.subplots(2, 1, figsize=(6, 5.5), dpi=90, sharex=True)
    for name, label, style in (("mau", "MAU (28 days)", "-"), ("wau", "WAU (7 days)", "--"), ("dau", "DAU", "-")):
        active.plot(positions, counts[name], style, label=label, linewidth=1.5 if name == "dau" else 1)
    active.set_ylim(0, max(max(counts["mau"]), 1) * 1.35)  # room for the legend
    active.set_ylabel("visitors")
    active.set_title("Active users")
    active.legend(fontsize=7, loc="upper left")
    bottom = [0] * len(days)
    for name, label, color in (
        ("returning_users", "returning", "#4f46e5"),
        ("resurrecting_users", "resurrecting", "#22c55e"),
        ("new_users", "new", "#f59e0b"),
    ):
        lifecycle.bar(positions, counts[name], bottom=bottom, label=label, color=color, width=0.8)
        bottom = [b + c for b, c in zip(bottom, counts[name], strict=True)]
    lifecycle.bar(positions, [-c for c in counts["dormant_users"]], label="dormant", color="#ef4444", width=0.8)
    lifecycle.axhline(0, color="black", linewidth=0.5)
    lifecycle.set_ylim(-max(max(counts["dormant_users"]), 1) * 1.1, max(max(bottom), 1) * 1.45)  # room for the legend
    lifecycle.set_ylabel("visitors")
    lifecycle.set_title("Lifecycle (dormant below the line)")
    lifecycle.legend(fontsize=7, loc="upper left", ncols=4)
    lifecycle.set_xticks(ticks, [days[i] for i in ticks], fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
