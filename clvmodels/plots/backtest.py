"""Plots of a backtest's tables: tracking and conditional expectations (FHL05 section 5).

Tracking cumulative (FHL05 fig. 2) and per period (incremental, FHL05 fig. 1), and the
calibration-vs-holdout plot: mean holdout purchases by calibration frequency (FHL05 fig. 3).
Each takes the tables of :func:`clvmodels.backtest.backtest`, ``ax=None``, and return the Axes
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
        :func:`clvmodels.predict.tracking.tracking_table`: ``period_end``, ``actual`` and one column
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


def incremental_tracking(tracking: pd.DataFrame) -> pd.DataFrame:
    """Repeat purchases within each period: the tracking table's cumulative columns differenced.

    Period k's value is cumulative(k) - cumulative(k - 1), with cumulative(0) = 0; the naive
    baseline (defined in the holdout only) starts from the actual count at the calibration end.
    """
    out = tracking.copy()
    skip = {"period", "period_end", "holdout"}
    for name in [c for c in tracking.columns if c not in skip]:
        values = tracking[name].astype("float64")
        previous = values.shift(1)
        if name == "naive":
            previous = previous.fillna(tracking["actual"].shift(1).astype("float64"))
        out[name] = values - previous.fillna(0.0)
    return out


def plot_tracking_incremental(
    tracking: pd.DataFrame, *, calibration_end: str | None = None, ax: Axes | None = None
) -> Axes:
    """Repeat purchases per period, actual against each model (FHL05, fig. 1).

    Parameters
    ----------
    tracking : pandas.DataFrame
        The cumulative :func:`clvmodels.predict.tracking.tracking_table`; it is differenced here
        (:func:`incremental_tracking`).
    calibration_end : str, optional
        Draws a vertical line where the holdout begins.
    """
    ax = plot_tracking(incremental_tracking(tracking), calibration_end=calibration_end, ax=ax)
    ax.set_ylabel("repeat purchases in the period")
    ax.set_title("Tracking per period: repeat purchases, actual vs predicted")
    return ax


def plot_conditional_expectations(conditional: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Calibration vs holdout: mean holdout purchases by calibration frequency (FHL05 fig. 3).

    For the customers with 0, 1, ..., 6 and 7 or more repeat purchases in the calibration
    period, the mean of their actual holdout purchases against each model's mean
    conditional expectation; the x labels give each group's number of customers.

    Parameters
    ----------
    conditional : pandas.DataFrame
        :func:`clvmodels.predict.tracking.conditional_expectations`: ``frequency`` (0..6, "7+"),
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
    groups = zip(conditional["frequency"], conditional["customers"], strict=True)
    labels = [f"{f}\n({n:,})" for f, n in groups]
    ax.set_xticks(positions, labels)
    ax.set_xlabel("repeat purchases in the calibration period (customers)")
    ax.set_ylabel("mean purchases in the holdout")
    ax.set_title("Calibration vs holdout: mean holdout purchases by calibration frequency")
    ax.legend(frameon=False, fontsize=8)
    return ax
