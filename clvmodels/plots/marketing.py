"""Plots of acquisition economics: ROMI curves and CAC by source, and the revenue forecast.

Drawn with matplotlib's object-oriented API, like the other plot modules: every function
takes ``ax=None`` and returns the Axes it drew on (a new
:class:`matplotlib.figure.Figure` when omitted); nothing touches pyplot's global state.
Save with :func:`clvmodels.plots.base.save_figure`, which writes atomically.
"""

from __future__ import annotations

import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from clvmodels.marketing.curves import source_romi_curves
from clvmodels.plots.base import new_axes


def _colours(names: list[str]) -> dict[str, tuple[float, float, float, float]]:
    cmap = colormaps["tab10"]
    return {name: cmap(i % 10) for i, name in enumerate(names)}


def plot_romi_curves(by_age: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """ROMI by age for each source: realised (solid) and, with a model, predicted (dashed).

    The realised curve averages, at each age, the cohorts that fully reached it (weighted by
    costs); the predicted one covers every cohort. The horizontal line at 1 is payback.

    Parameters
    ----------
    by_age : pandas.DataFrame
        :attr:`clvmodels.marketing.payback.PaybackResult.by_age`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = ax if ax is not None else new_axes((8.0, 5.0))
    curves = source_romi_curves(by_age)
    names = sorted(curves["source_id"].astype(str).unique())
    colours = _colours(names)
    has_predicted = "predicted_romi" in curves.columns
    for name in names:
        rows = curves.loc[curves["source_id"].astype(str) == name]
        seen = rows.loc[rows["romi"].notna()]
        ax.plot(
            seen["age"], seen["romi"], marker="o", markersize=3, color=colours[name], label=name
        )
        if has_predicted:
            ahead = rows.loc[rows["predicted_romi"].notna()]
            ax.plot(ahead["age"], ahead["predicted_romi"], linestyle="--", color=colours[name])
    ax.axhline(1.0, color="black", linewidth=1.0, linestyle=":", label="payback (ROMI = 1)")
    if has_predicted:
        ax.plot([], [], linestyle="--", color="grey", label="predicted (model)")
    period = by_age.attrs.get("period", "month")
    ax.set_xlabel(f"age ({period}s since the first order)")
    ax.set_ylabel("ROMI (cumulative margin / costs)")
    ax.set_title("ROMI by source: realised (solid), predicted (dashed)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_cac_by_source(cells: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """CAC of each source by cohort (cohorts without buyers or costs are left out).

    Parameters
    ----------
    cells : pandas.DataFrame
        :attr:`clvmodels.marketing.payback.PaybackResult.cells`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = ax if ax is not None else new_axes((8.0, 5.0))
    rows = cells.loc[(cells["new_buyers"] > 0) & (cells["costs"] > 0)]
    names = sorted(cells["source_id"].astype(str).unique())
    colours = _colours(names)
    for name in names:
        own = rows.loc[rows["source_id"].astype(str) == name].sort_values("cohort")
        if len(own):
            ax.plot(
                pd.to_datetime(own["cohort"]),
                own["cac"],
                marker="o",
                markersize=3,
                color=colours[name],
                label=name,
            )
    ax.set_xlabel("cohort (first order's period)")
    ax.set_ylabel("CAC (costs / new buyers)")
    ax.set_title("CAC over time by source")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if len(rows):
        ax.legend(fontsize=8, loc="upper left")
    ax.get_figure(root=True).autofmt_xdate()  # type: ignore[union-attr]
    return ax


def plot_revenue_forecast(forecast: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Expected revenue of the existing customers month by month, with its 94% interval.

    Parameters
    ----------
    forecast : pandas.DataFrame
        The output of :func:`clvmodels.marketing.budget.revenue_forecast`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = ax if ax is not None else new_axes((8.0, 5.0))
    months = forecast["month"]
    ax.fill_between(
        months,
        forecast["expected_revenue_low"],
        forecast["expected_revenue_high"],
        alpha=0.25,
        label="94% interval",
    )
    ax.plot(months, forecast["expected_revenue"], marker="o", markersize=3, label="expected")
    ax.set_xlabel("month after the observation end")
    ax.set_ylabel("revenue of existing customers")
    ax.set_title("Revenue forecast of the existing customer base")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax
