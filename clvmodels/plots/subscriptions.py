"""Plots of a churn analysis: survival by group with the sBG projection, retention, drivers.

They take the tables ``clv churn`` writes (``retention.csv``, ``drivers.csv``), ``ax=None``,
and return the Axes drawn on (matplotlib's object-oriented API; no pyplot state). Periods are
billing periods; period 0 is the first payment, where survival is 1. The shifted-beta-
geometric (sBG) curves follow Fader & Hardie (2007): survival
:math:`S(t) = B(\\alpha, \\beta + t) / B(\\alpha, \\beta)` (their eq. 5) and retention rate
:math:`r_t = (\\beta + t - 1) / (\\alpha + \\beta + t - 1)` (eq. 8), which rises with tenure
because the customers likely to churn leave first (the sorting effect).
:func:`save_subscription_plots` writes them as PNGs (:data:`SUBSCRIPTION_PLOTS`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator, PercentFormatter

from clvmodels.plots.base import new_axes, save_figure

#: The PNG file of each plot in a churn output folder.
SUBSCRIPTION_PLOTS = {
    "survival": "survival.png",
    "retention": "retention.png",
    "hazard_ratios": "hazard_ratios.png",
}
#: Hazard ratios labelled on the forest plot's log axis, those within its range.
_RATIO_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
#: The group column (value ``all``) of an analysis without ``--by``.
NO_GROUP = "group"


def group_label(key: Sequence[object], group_cols: Sequence[str]) -> str:
    """A group's name for legends and text: its values joined by `` · ``.

    The single group of an analysis without ``--by`` (column ``group``, value ``all``) is
    called "all customers".
    """
    values = [str(v) for v in key]
    if list(group_cols) == [NO_GROUP] and values == ["all"]:
        return "all customers"
    return " · ".join(values)


def _groups(table: pd.DataFrame, group_cols: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    """(label, rows sorted by period) per group, in the order the groups first appear."""
    cols = list(group_cols)
    grouped = table.groupby(cols, sort=False, dropna=False)
    return [
        (group_label(key if isinstance(key, tuple) else (key,), cols), rows.sort_values("period"))
        for key, rows in grouped
    ]


def _colours(n: int) -> list[tuple[float, float, float, float]]:
    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def _periods_word(billing_period: str | None) -> str:
    return f"{billing_period}s" if billing_period in ("month", "year") else "billing periods"


def plot_survival(
    retention: pd.DataFrame,
    group_cols: Sequence[str],
    ax: Axes | None = None,
    *,
    billing_period: str | None = None,
) -> Axes:
    """Kaplan–Meier survival per group (steps, markers) and the sBG survival (dashed).

    The dashed line of each group has its colour and runs over every period of the table, so
    past the last observed period it is the projection, :math:`S(t) = B(\\alpha, \\beta + t)
    / B(\\alpha, \\beta)` (Fader & Hardie 2007, eq. 5). Periods where the Kaplan–Meier
    estimate is empty (not observed) are left out of the steps.

    Parameters
    ----------
    retention : pandas.DataFrame
        ``retention.csv`` of ``clv churn``: the group columns, ``period``,
        ``observed_survival`` and ``predicted_survival``.
    group_cols : sequence of str
        The ``--by`` columns (``["group"]`` without ``--by``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    billing_period : {"month", "year"}, optional
        Names the x-axis unit.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: per group a step line of the observed periods (when a period
        after 0 is observed) and a dashed line of the prediction.
    """
    ax = ax if ax is not None else new_axes((8.0, 5.0))
    groups = _groups(retention, group_cols)
    handles: list[Line2D] = []
    for (label, rows), colour in zip(groups, _colours(len(groups)), strict=True):
        seen = rows.loc[rows["observed_survival"].notna()]
        if (seen["period"] > 0).any():  # period 0 alone (survival 1) shows nothing
            ax.step(
                seen["period"],
                seen["observed_survival"],
                where="post",
                marker="o",
                markersize=3.5,
                color=colour,
            )
        ax.plot(rows["period"], rows["predicted_survival"], linestyle="--", color=colour)
        handles.append(Line2D([], [], color=colour, marker="o", markersize=3.5, label=label))
    handles.append(Line2D([], [], color="black", marker="o", markersize=3.5, label="observed"))
    handles.append(Line2D([], [], color="black", linestyle="--", label="sBG (projection)"))
    ax.set_xlabel(f"tenure ({_periods_word(billing_period)} since the first payment)")
    ax.set_ylabel("share of the cohort surviving")
    ax.set_title("Survival by group: Kaplan–Meier (steps) and sBG (dashed)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(left=0)
    ax.set_ylim(0.0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    return ax


def plot_retention(
    retention: pd.DataFrame,
    group_cols: Sequence[str],
    ax: Axes | None = None,
    *,
    billing_period: str | None = None,
) -> Axes:
    """Predicted sBG retention rate by period per group (line), observed rate (markers).

    The predicted rate is :math:`r_t = (\\beta + t - 1) / (\\alpha + \\beta + t - 1)`
    (Fader & Hardie 2007, eq. 8), the chance that a customer who renewed ``t - 1`` times
    renews once more; it rises with tenure because heterogeneous customers sort themselves
    (the likely churners leave first). The observed rate is the Kaplan–Meier ratio
    :math:`S(t) / S(t - 1)` where both are observed.

    Parameters
    ----------
    retention : pandas.DataFrame
        ``retention.csv``: the group columns, ``period``, ``observed_survival`` and
        ``predicted_retention`` (empty at period 0).
    group_cols : sequence of str
        The ``--by`` columns (``["group"]`` without ``--by``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.
    billing_period : {"month", "year"}, optional
        Names the x-axis unit.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: per group a line of the prediction and, when two consecutive
        periods are observed, markers of the observed rate.
    """
    ax = ax if ax is not None else new_axes((8.0, 5.0))
    groups = _groups(retention, group_cols)
    handles: list[Line2D] = []
    for (label, rows), colour in zip(groups, _colours(len(groups)), strict=True):
        ahead = rows.loc[rows["predicted_retention"].notna()]
        handles.extend(
            ax.plot(ahead["period"], ahead["predicted_retention"], color=colour, label=label)
        )
        observed = _observed_retention(rows)
        if len(observed):
            ax.plot(observed.index, observed.to_numpy(), linestyle="none", marker="o", color=colour)
    handles.append(
        Line2D([], [], linestyle="none", marker="o", color="black", label="observed (KM ratio)")
    )
    ax.set_xlabel(f"tenure ({_periods_word(billing_period)} since the first payment)")
    ax.set_ylabel("retention rate (share renewing)")
    ax.set_title("sBG retention rate by tenure (rises as likely churners leave)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(top=1.0)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    return ax


def _observed_retention(rows: pd.DataFrame) -> pd.Series:
    """:math:`S(t) / S(t - 1)` of the Kaplan–Meier survival, at periods where both exist."""
    survival = rows.set_index("period")["observed_survival"].astype("float64")
    previous = survival.reindex(survival.index - 1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = pd.Series(survival.to_numpy() / previous, index=survival.index)
    return ratio.loc[np.isfinite(ratio.to_numpy()) & (previous > 0)]


def plot_hazard_ratios(drivers: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Forest plot of churn drivers: Cox hazard ratios (94% interval) and the sBG estimate.

    Hazard ratios are :math:`\\exp(\\hat\\gamma)` of the covariate's coefficient; above 1 a
    covariate makes churn more likely. Each covariate has a row; the Cox estimate is a dot
    with its interval and the model-based sBG estimate a diamond just below (with its
    interval when the method gives one). The x-axis is logarithmic, with a line at 1.

    Parameters
    ----------
    drivers : pandas.DataFrame
        ``drivers.csv``: ``source`` ("cox" or "sbg"), ``covariate``, ``hazard_ratio``,
        ``hr_low``, ``hr_high``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on: one marker line per source (one point per covariate it
        estimates) and the vertical line at 1.
    """
    covariates = list(dict.fromkeys(drivers["covariate"].astype(str)))
    ax = ax if ax is not None else new_axes((8.0, max(3.0, 1.5 + 0.45 * len(covariates))))
    row_of = {name: i for i, name in enumerate(covariates)}
    styles = (("cox", "Cox PH (94% interval)", "o", 0.0), ("sbg", "sBG model-based", "D", 0.22))
    for colour, (source, label, marker, offset) in zip(_colours(2), styles, strict=True):
        rows = drivers.loc[drivers["source"].astype(str) == source]
        ratio = rows["hazard_ratio"].to_numpy(dtype="float64")
        rows = rows.loc[np.isfinite(ratio) & (ratio > 0)]
        if not len(rows):
            continue
        y = np.array([row_of[str(c)] for c in rows["covariate"]], dtype="float64") + offset
        low = rows["hr_low"].to_numpy(dtype="float64")
        high = rows["hr_high"].to_numpy(dtype="float64")
        has = np.isfinite(low) & np.isfinite(high) & (low > 0)
        if has.any():
            ax.hlines(y[has], low[has], high[has], color=colour, linewidth=1.6)
        ax.plot(rows["hazard_ratio"], y, linestyle="none", marker=marker, color=colour, label=label)
    ax.axvline(1.0, color="black", linewidth=1.0, linestyle=":")
    ax.set_xscale("log")
    low, high = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator([t for t in _RATIO_TICKS if low <= t <= high]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:g}")
    ax.set_yticks(range(len(covariates)), covariates)
    ax.set_ylim(len(covariates) - 0.5, -0.6)
    ax.set_xlabel("hazard ratio of churn (log scale; > 1 churns sooner)")
    ax.set_title("Churn drivers: hazard ratios")
    ax.grid(alpha=0.3, axis="x")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return ax


def save_subscription_plots(
    retention: pd.DataFrame,
    drivers: pd.DataFrame | None,
    group_cols: Sequence[str],
    folder: str | os.PathLike[str],
    *,
    billing_period: str | None = None,
) -> list[Path]:
    """Draw the plots and write them into ``folder`` as :data:`SUBSCRIPTION_PLOTS` names.

    Every plot is drawn before any file is written, and each is written atomically
    (:func:`clvmodels.plots.base.save_figure`). The hazard-ratio plot is left out when
    ``drivers`` is None or has no rows (no covariates).

    Returns
    -------
    list of pathlib.Path
        The files written: survival, retention and, with drivers, hazard ratios.
    """
    axes = {
        "survival": plot_survival(retention, group_cols, billing_period=billing_period),
        "retention": plot_retention(retention, group_cols, billing_period=billing_period),
    }
    if drivers is not None and len(drivers):
        axes["hazard_ratios"] = plot_hazard_ratios(drivers)
    target = Path(folder)
    return [save_figure(ax, target / SUBSCRIPTION_PLOTS[name]) for name, ax in axes.items()]
