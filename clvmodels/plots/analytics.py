"""Plots of product analytics: active users over time, session lengths, visitor retention.

Each takes a table of :mod:`clvmodels.analytics.engagement`, ``ax=None``, and returns the Axes
drawn on (no pyplot state). Save a figure with :func:`clvmodels.plots.base.save_figure`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.ticker import PercentFormatter

from clvmodels.plots.base import new_axes

#: Above this many cohorts or ages, retention cells are too small to annotate.
MAX_ANNOTATED = 18


# ------------------------------------------------------------------------------ engagement
def plot_active_users(
    daily: pd.DataFrame,
    weekly: pd.DataFrame,
    monthly: pd.DataFrame,
    ax: Axes | None = None,
) -> Axes:
    """DAU per day, WAU per ISO week and MAU per calendar month, on one time axis.

    Weeks and months are drawn as steps over the days they cover; the partly observed ones
    (``complete`` False) dashed.
    """
    ax = ax if ax is not None else new_axes((10, 4.5))
    ax.plot(daily["date"], daily["dau"], lw=0.8, color="tab:blue", label="DAU")
    for table, name, color, step in (
        (weekly, "wau", "tab:orange", pd.Timedelta(days=7)),
        (monthly, "mau", "tab:green", None),
    ):
        for complete, style in ((True, "-"), (False, "--")):
            label = name.upper() if complete else None
            for row in table.loc[table["complete"] == complete].itertuples(index=False):
                start = pd.Timestamp(row.period_start)
                end = start + step if step is not None else start + pd.offsets.MonthBegin(1)
                value = getattr(row, name)
                ax.hlines(value, start, end, colors=color, linestyles=style, label=label)
                label = None
    ax.set_ylabel("active users")
    ax.set_title("Daily, weekly and monthly active users (dashed: partly observed)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left")
    return ax


def plot_session_lengths(histogram: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Histogram of session lengths in minutes (the last bar also holds longer sessions)."""
    ax = ax if ax is not None else new_axes((8, 4.5))
    left = histogram["seconds_from"].to_numpy() / 60
    width = (histogram["seconds_to"] - histogram["seconds_from"]).to_numpy() / 60
    ax.bar(left, histogram["sessions"], width=width, align="edge", color="tab:blue")
    ax.set_xlabel("session length (minutes)")
    ax.set_ylabel("sessions")
    ax.set_title("Session lengths")
    return ax


def plot_visitor_retention(retention: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Heatmap of visitor retention: first-visit month down, age in months across.

    Cells a cohort has not reached are blank; the partly observed month is hatched.
    """
    table = retention.copy()
    table["label"] = pd.DatetimeIndex(table["cohort"]).strftime("%Y-%m")
    grid = table.pivot(index="label", columns="age", values="retention")
    n_rows, n_cols = grid.shape
    ax = ax if ax is not None else new_axes((max(6.0, 0.5 * n_cols + 2), max(4.0, 0.35 * n_rows)))
    values = np.ma.masked_invalid(grid.to_numpy(dtype=float))
    image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    figure = ax.get_figure()
    if figure is not None:
        figure.colorbar(image, ax=ax, format=PercentFormatter(1.0), label="retention")
    partial = table.loc[~table["complete"]]
    rows = {label: i for i, label in enumerate(grid.index)}
    cols = {age: j for j, age in enumerate(grid.columns)}
    for row in partial.itertuples(index=False):
        i, j = rows[row.label], cols[row.age]
        ax.add_patch(_hatch(j, i))
    if n_rows <= MAX_ANNOTATED and n_cols <= MAX_ANNOTATED:
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(value):
                color = "black" if value > 0.6 else "white"
                ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(n_cols), [str(c) for c in grid.columns])
    step = max(1, n_rows // 24)
    ax.set_yticks(range(0, n_rows, step), list(grid.index[::step]))
    ax.set_xlabel("age (months since the first visit)")
    ax.set_ylabel("first-visit month")
    ax.set_title("Visitor retention (hatched: partly observed month)")
    return ax


def _hatch(x: int, y: int) -> Rectangle:
    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, hatch="///", edgecolor="grey", lw=0)
