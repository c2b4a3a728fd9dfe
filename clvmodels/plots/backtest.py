"""Plots of a backtest's tables: tracking and conditional expectations (FHL05 section 5).

Both take the tables of :func:`clvmodels.backtest.backtest`, ``ax=None``, and return the Axes
drawn on (matplotlib's object-oriented API; no pyplot state).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clvmodels.plots.base import new_axes


def plot_tracking(
    tracking: pd.DataFrame, *, calibration_end: str | None = None, ax: Axes | None = None
) -> Axes:
    """Cumulative repeat purchases per period, actual against each model (FHL05, fig. 2).

    Parameters
    ----------
    tracking : pandas.DataFrame
        :func:`clvmodels.backtest.tracking_table`: ``period_end``, ``actual`` and one column
        per model or baseline.
    calibration_end : str, optional
        Draws a vertical line where the holdout begins.
    """
    ax = ax if ax is not None else new_axes((8, 4.5))
    dates = pd.to_datetime(tracking["period_end"])
    ax.plot(dates, tracking["actual"], color="black", linewidth=2.2, label="actual")
    skip = {"period", "period_end", "holdout", "actual"}
    for name in [c for c in tracking.columns if c not in skip]:
        style = "--" if name in {"naive", "cohort"} else "-"
        ax.plot(dates, tracking[name], linestyle=style, linewidth=1.4, label=name)
    if calibration_end is not None:
        ax.axvline(pd.Timestamp(calibration_end), color="grey", linestyle=":", linewidth=1)
        ax.annotate(
            "holdout",
            (pd.Timestamp(calibration_end), 0.02),
            xycoords=("data", "axes fraction"),
            xytext=(4, 0),
            textcoords="offset points",
            color="grey",
            fontsize=8,
        )
    ax.set_xlabel("period end")
    ax.set_ylabel("cumulative repeat purchases")
    ax.set_title("Tracking: cumulative repeat purchases, actual vs predicted")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_conditional_expectations(conditional: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean holdout purchases by calibration frequency, actual against each model.

    Parameters
    ----------
    conditional : pandas.DataFrame
        :func:`clvmodels.backtest.conditional_expectations`: ``frequency`` (0..6, "7+"),
        ``customers``, ``actual`` and one column per model or baseline.
    """
    ax = ax if ax is not None else new_axes((7, 4.5))
    positions = np.arange(len(conditional))
    ax.plot(
        positions, conditional["actual"], color="black", linewidth=2.2, marker="o", label="actual"
    )
    for name in [c for c in conditional.columns if c not in {"frequency", "customers", "actual"}]:
        style = "--" if name in {"naive", "cohort"} else "-"
        ax.plot(positions, conditional[name], linestyle=style, marker=".", label=name)
    ax.set_xticks(positions, [str(f) for f in conditional["frequency"]])
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("mean purchases in holdout")
    ax.set_title("Conditional expectations of holdout purchases")
    ax.legend(frameon=False, fontsize=8)
    return ax
