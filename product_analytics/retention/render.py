"""The daily-cohort matrix as a markdown table and a heatmap image, for the Dagster UI."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

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


def markdown_matrix(labels: list[str], sizes: list[int], rates: np.ndarray) -> str:
    header = "| cohort | users | " + " | ".join(f"d{n}" for n in range(rates.shape[1])) + " |"
    lines = [header, "|" + "---|" * (rates.shape[1] + 2)]
    for label, size, row in zip(labels, sizes, rates, strict=True):
        cells = " | ".join("" if np.isnan(v) else f"{100 * v:.0f}%" for v in row)
        lines.append(f"| {label} | {size} | {cells} |")
    return "\n".join(lines)


def heatmap_png(labels: list[str], rates: np.ndarray) -> bytes:
    # Imported here: matplotlib costs most of a second, and every process that loads the
    # code location would pay it, rendering or not.
    import matplotlib

    matplotlib.use("Agg")  # no display: render straight to PNG
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 0.35 * max(len(labels), 4) + 1.2), dpi=90)
    shown = np.ma.masked_invalid(rates[:, 1:] * 100)  # day 0 is 100% by definition
    image = ax.imshow(shown, cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(rates.shape[1] - 1), [str(n) for n in range(1, rates.shape[1])])
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("days since first activity")
    ax.set_title("Daily cohorts: share active on day N (%)")
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def markdown_image(png: bytes) -> str:
    return f"![daily retention heatmap](data:image/png;base64,{base64.b64encode(png).decode()})"
