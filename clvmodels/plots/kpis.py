"""Plots of the business KPIs: a series per period with its rolling means, and the STL parts.

They take the tables ``clv kpis`` writes (``kpis.csv``, ``seasonality.csv``;
:mod:`clvmodels.analytics.kpis` defines the columns), ``ax=None`` (or ``figure=None``), and
return the Axes drawn on (no pyplot state). :func:`save_kpi_plots` writes them as PNGs
(:data:`KPI_PLOTS`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from clvmodels.plots.base import new_axes, save_figure

#: The PNG file of each plot in a ``clv kpis`` output folder (seasonality: only when found).
KPI_PLOTS = {
    "revenue": "revenue.png",
    "orders": "orders.png",
    "buyers": "buyers.png",
    "seasonality": "seasonality.png",
}


def plot_kpi_series(
    kpis: pd.DataFrame, column: str = "revenue", *, period: str = "", ax: Axes | None = None
) -> Axes:
    """``column`` per period, with its rolling means (``<column>_rolling_N``) where there are.

    The partial last period (``complete`` false) is drawn as an open marker.
    """
    ax = ax if ax is not None else new_axes((9, 4))
    x = pd.to_datetime(kpis["period_start"])
    ax.plot(x, kpis[column], color="0.6", linewidth=0.8, label=column.replace("_", " "))
    for name in [c for c in kpis.columns if c.startswith(f"{column}_rolling_")]:
        n = name.rsplit("_", 1)[-1]
        ax.plot(x, kpis[name], linewidth=1.6, label=f"{n}-{period or 'period'} mean")
    partial = ~kpis["complete"].astype(bool)
    if partial.any():
        ax.plot(
            x[partial],
            kpis.loc[partial, column],
            "o",
            markerfacecolor="none",
            color="C3",
            label="partial period",
        )
    ax.set_ylabel(column.replace("_", " "))
    ax.set_title(f"{column.replace('_', ' ').capitalize()} per {period or 'period'}")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_buyers(kpis: pd.DataFrame, *, period: str = "", ax: Axes | None = None) -> Axes:
    """New and returning buyers per period, stacked (their sum is ``buyers``)."""
    ax = ax if ax is not None else new_axes((9, 4))
    x = pd.to_datetime(kpis["period_start"])
    ax.stackplot(
        x,
        kpis["new_buyers"],
        kpis["returning_buyers"],
        labels=["new buyers", "returning buyers"],
        colors=["C0", "C1"],
        alpha=0.8,
    )
    ax.set_ylabel("buyers")
    ax.set_title(f"Buyers per {period or 'period'}")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_seasonality(seasonality: pd.DataFrame, *, figure: Figure | None = None) -> Axes:
    """The observed series, trend, each seasonal component and the remainder, one panel each.

    Returns the top Axes (every panel is on the same figure).
    """
    parts = ["observed", "trend", *[c for c in seasonality if c.startswith("seasonal_")], "resid"]
    figure = figure if figure is not None else Figure(figsize=(9, 2 * len(parts)))
    figure.set_layout_engine("constrained")
    axes = figure.subplots(len(parts), 1, sharex=True, squeeze=False)[:, 0]
    x = pd.to_datetime(seasonality["period_start"])
    for ax, part in zip(axes, parts, strict=True):
        if part == "resid":
            ax.plot(x, seasonality[part], ".", markersize=2, color="0.3")
            ax.axhline(0.0, color="0.6", linewidth=0.8)
        else:
            ax.plot(x, seasonality[part], linewidth=1.0)
        label = f"seasonal ({part.split('_')[1]})" if part.startswith("seasonal_") else part
        ax.set_ylabel(label)
    axes[0].set_title("STL decomposition of revenue")
    return axes[0]


def save_kpi_plots(
    kpis: pd.DataFrame, seasonality: pd.DataFrame, out_dir: str | os.PathLike[str]
) -> dict[str, Path]:
    """Draw and save the plots of :data:`KPI_PLOTS` into ``out_dir``; return those written."""
    folder = Path(out_dir)
    period = str(kpis.attrs.get("period", ""))
    axes = {
        "revenue": plot_kpi_series(kpis, "revenue", period=period),
        "orders": plot_kpi_series(kpis, "orders", period=period),
        "buyers": plot_buyers(kpis, period=period),
    }
    if len(seasonality):
        axes["seasonality"] = plot_seasonality(seasonality)
    return {name: save_figure(ax, folder / KPI_PLOTS[name]) for name, ax in axes.items()}
