"""Plots of conversion: the cumulative share of buyers by conversion day, rates by group.

Every function takes ``ax=None`` and returns the Axes it drew on (a new
:class:`matplotlib.figure.Figure` when omitted); nothing touches pyplot's global state. Save
with :func:`clvmodels.plots.base.save_figure`, which writes atomically.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clvmodels.plots.base import new_axes


def plot_conversion_days(buyers: pd.DataFrame, ax: Axes | None = None, max_day: int = 60) -> Axes:
    """The share of buyers whose conversion day is at most ``d``, for ``d = 0 .. max_day``.

    Parameters
    ----------
    buyers : pandas.DataFrame
        :attr:`clvmodels.analytics.conversion.ConversionResult.buyers`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    max_day : int
        The last day shown (later conversions still count in the share's denominator).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax if ax is not None else new_axes((8.0, 4.5))
    days = np.asarray(buyers["conversion_day"], dtype="int64")
    grid = np.arange(max_day + 1)
    if len(days):
        share = np.searchsorted(np.sort(days), grid, side="right") / len(days)
        ax.step(grid, share, where="post", color="tab:blue")
    ax.set_xlabel("conversion day (calendar days from the first visit; 0 = same day)")
    ax.set_ylabel("share of buyers converted by then")
    ax.set_title(f"Time to the first order ({len(days):,} buyers)")
    ax.set_xlim(0, max_day)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    return ax


def plot_conversion_rates(groups: pd.DataFrame, by: str, ax: Axes | None = None) -> Axes:
    """Conversion rate (buyers / visitors) of each value of ``by``, as horizontal bars.

    Parameters
    ----------
    groups : pandas.DataFrame
        ``by_source`` or ``by_device`` of
        :class:`clvmodels.analytics.conversion.ConversionResult`.
    by : str
        The group column (``"source_id"`` or ``"device"``); a missing value is "missing".
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax if ax is not None else new_axes((8.0, max(2.5, 0.4 * len(groups) + 1.5)))
    labels = ["missing" if pd.isna(value) else str(value) for value in groups[by].tolist()]
    rates = groups["conversion_rate"].astype("float64").fillna(0.0).to_numpy()
    positions = np.arange(len(labels))
    ax.barh(positions, rates, color="tab:green")
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    for y, (rate, visitors) in enumerate(zip(rates, groups["visitors"], strict=True)):
        ax.annotate(
            f"{rate:.1%} of {int(visitors):,}",
            (rate, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("conversion rate (buyers / visitors)")
    ax.set_title(f"Conversion by {by.removesuffix('_id')}")
    ax.set_xlim(0, max(1e-9, float(rates.max(initial=0.0))) * 1.25)
    ax.grid(axis="x", alpha=0.3)
    return ax
