"""Plots of an experiment: the forest plot of each variant's lifts against the control.

Every function takes ``ax=None`` and returns the Axes it drew on (a new
:class:`matplotlib.figure.Figure` when omitted); nothing touches pyplot's global state. Save
with :func:`clvmodels.plots.base.save_figure`, which writes atomically.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clvmodels.plots.base import new_axes


def plot_lifts(lifts: pd.DataFrame, ax: Axes | None = None, *, level: float = 0.95) -> Axes:
    """Forest plot: each (metric, variant)'s relative lift over the control with its interval.

    Parameters
    ----------
    lifts : pandas.DataFrame
        ``metric, group, lift, lift_low, lift_high`` (relative: 0.05 = +5%), as
        :func:`clvmodels.experiments.analysis.lift_rows` makes it (clv rows included when
        there are any). Rows with a missing lift are drawn as a label only.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    level : float
        The intervals' level, for the title (rows at another level say so in their metric,
        as ``clv (94%)`` does).

    Returns
    -------
    matplotlib.axes.Axes
    """
    n = len(lifts)
    ax = ax if ax is not None else new_axes((8.0, max(2.5, 0.45 * n + 1.5)))
    y = np.arange(n)[::-1]
    lift = lifts["lift"].to_numpy(dtype="float64") * 100
    low = lifts["lift_low"].to_numpy(dtype="float64") * 100
    high = lifts["lift_high"].to_numpy(dtype="float64") * 100
    colours = np.where(
        (low > 0) & (high > 0), "tab:green", np.where((low < 0) & (high < 0), "tab:red", "tab:gray")
    )
    for yi, li, lo, hi, colour in zip(y, lift, low, high, colours, strict=True):
        if np.isfinite(lo) and np.isfinite(hi):
            ax.hlines(yi, lo, hi, color=colour, linewidth=2)
        if np.isfinite(li):
            ax.plot([li], [yi], "o", color=colour)
    ax.axvline(0, color="black", linewidth=0.8)
    labels = [f"{m}: {g}" for m, g in zip(lifts["metric"], lifts["group"], strict=True)]
    ax.set_yticks(y, labels)
    ax.set_xlabel("lift over the control (%); interval = the difference's interval / control")
    ax.set_title(f"Lifts against the control ({level:.0%} intervals unless marked)")
    ax.grid(axis="x", alpha=0.3)
    return ax
