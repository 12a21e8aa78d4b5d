"""The daily-cohort matrix as a table and a heatmap picture, for retention's asset page."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from dagster import MetadataValue, TableColumn, TableRecord, TableSchema

MATRIX_COHORTS = 14
MATRIX_DAYS = 14


def daily_matrix(table: pd.DataFrame) -> tuple[list[str], list[int], np.ndarray]:
    """The last cohorts of the day grain x day numbers 0..14: (labels, sizes, rates with NaN)."""
    day = table[(table["grain"] == "day") & (table["period_number"] <= MATRIX_DAYS)]
    cohorts = sorted(day["cohort_period"].unique())[-MATRIX_COHORTS:]
    day = day[day["cohort_period"].isin(cohorts)]
    grid = day.pivot(index="cohort_period", columns="period_number", values="retention_rate")
    grid = grid.reindex(index=cohorts, columns=range(MATRIX_DAYS + 1))
    sizes = day.groupby("cohort_period")["cohort_size"].first().reindex(cohorts).fillna(0).astype(int).tolist()
    rates = grid.astype("float64").to_numpy(na_value=np.nan)
    return [pd.Timestamp(c).date().isoformat() for c in cohorts], sizes, rates


def cohort_table(labels: list[str], sizes: list[int], rates: np.ndarray) -> MetadataValue:
    """The matrix as a table entry (shown in place, every column): a blank is a day not yet over."""
    days = [f"day_{n}" for n in range(rates.shape[1])]
    columns = [TableColumn("cohort", "date"), TableColumn("users", "int"), *(TableColumn(d, "string") for d in days)]
    records = [
        TableRecord(
            {"cohort": label, "users": size, **{d: "" if np.isnan(v) else f"{100 * v:.0f}%" for d, v in zip(days, row, strict=True)}}
        )
        for label, size, row in zip(labels, sizes, rates, strict=True)
    ]
    return MetadataValue.table(records, TableSchema(columns))


def heatmap_png(labels: list[str], rates: np.ndarray) -> bytes:
    # Imported here: matplotlib costs most of a second, and every process that loads the
    # code location would pay it, rendering or not.
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to PNG
    import matplotlib.pyplot as plt

    # 540 px wide: the width the asset page gives a metadata value
    fig, ax = plt.subplots(figsize=(6, 0.3 * max(len(labels), 4) + 1.2), dpi=90)
    shown = np.ma.masked_invalid(rates[:, 1:] * 100)  # day 0 is 100% by definition
    image = ax.imshow(shown, cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(rates.shape[1] - 1), [str(n) for n in range(1, rates.shape[1])])
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("days since first activity")
    ax.set_title("Daily cohorts: share active on day N (%)")
    cells = rates[:, 1:] * 100
    bright = 0.6 * np.nanmax(cells) if np.isfinite(cells).any() else 0.0
    for (row, column), value in np.ndenumerate(cells):
        if np.isfinite(value):  # each cell's figure, light on the dark end of the scale
            ax.text(column, row, f"{value:.0f}", ha="center", va="center", fontsize=6, color="white" if value < bright else "black")
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
