"""The session funnel as a chart and a table on its asset's page (agg_product_funnel_daily):
the latest session day's steps beside the totals to date."""

from __future__ import annotations

import io

import duckdb
from dagster import DagsterInstance, MetadataValue, TableColumn, TableRecord, TableSchema

from product_analytics.policies.pictures import picture

FUNNEL_MODEL = "agg_product_funnel_daily"
STEPS = [  # column prefix, step
    ("viewed_sessions", "page viewed"),
    ("added_sessions", "product added"),
    ("checkout_sessions", "checkout started"),
    ("ordered_sessions", "order completed"),
]


def funnel_figures(conn: duckdb.DuckDBPyConnection, relation: str, instance: DagsterInstance, run_id: str) -> dict[str, MetadataValue]:
    """The chart and the table of the funnel's latest day and of all days to date."""
    latest = ", ".join(column for column, _ in STEPS)
    to_date = ", ".join(f"{column}_to_date" for column, _ in STEPS)
    row = conn.execute(f"select session_date, {latest}, {to_date} from {relation} order by session_date desc limit 1").fetchone()
    if row is None:
        return {"funnel": MetadataValue.text("no session day yet: the funnel fills with the first day's sessions")}
    day, counts = row[0], [int(v) for v in row[1:]]
    day_counts, total_counts = counts[: len(STEPS)], counts[len(STEPS) :]
    steps = [label for _, label in STEPS]
    records = [
        TableRecord(
            {
                "step": label,
                "latest_day": day_counts[i],
                "latest_day_share": share(day_counts[i], day_counts[0]),
                "to_date": total_counts[i],
                "to_date_share": share(total_counts[i], total_counts[0]),
            }
        )
        for i, label in enumerate(steps)
    ]
    schema = TableSchema(
        [
            TableColumn("step", "string"),
            TableColumn("latest_day", "int", description=f"sessions of {day}"),
            TableColumn("latest_day_share", "string", description="of the sessions with a page view"),
            TableColumn("to_date", "int", description=f"sessions of every day up to {day}"),
            TableColumn("to_date_share", "string", description="of the sessions with a page view"),
        ]
    )
    png = funnel_png(steps, day.isoformat(), day_counts, total_counts)
    return {
        "funnel_chart": picture(instance, run_id, "session_funnel", png, "session funnel: latest day and to date"),
        "funnel": MetadataValue.table(records, schema),
        "funnel_latest_day": MetadataValue.text(day.isoformat()),
    }


def share(count: int, first: int) -> str:
    return f"{100 * count / first:.1f}%" if first else "no sessions with a page view"


def funnel_png(steps: list[str], day: str, day_counts: list[int], total_counts: list[int]) -> bytes:
    import matplotlib  # imported here: loading the code location does not pay for it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # 540 px wide: the width the asset page gives a metadata value
    fig, axes = plt.subplots(2, 1, figsize=(6, 5), dpi=90)
    for ax, title, counts in ((axes[0], f"latest day ({day})", day_counts), (axes[1], "to date", total_counts)):
        positions = range(len(steps))
        ax.barh(positions, counts, color="#4f46e5")
        ax.set_yticks(positions, steps)
        ax.invert_yaxis()  # the funnel reads top down
        ax.set_title(title)
        ax.set_xlabel("sessions")
        ax.set_xlim(0, max(max(counts), 1) * 1.45)
        for position, count in zip(positions, counts, strict=True):
            ax.text(count, position, f"  {count:,} ({share(count, counts[0])})", va="center", fontsize=8)
    fig.suptitle("Session funnel (a step counts sessions that reached every step before it)", fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
