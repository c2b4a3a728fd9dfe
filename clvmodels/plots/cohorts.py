"""Plots of cohort tables: cumulative LTV by cohort and age, and retention curves.

Both take :func:`clvmodels.summaries.cohorts.cohort_table`'s output, ``ax=None``, and return
the Axes drawn on (matplotlib's object-oriented API; no pyplot state). Save a figure with
:func:`clvmodels.plots.base.save_figure`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Colormap, Normalize, to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator, PercentFormatter

from clvmodels.plots.base import new_axes
from clvmodels.summaries.cohorts import (
    average_ltv_curve,
    cohort_ltv_wide,
    partial_cells,
    period_label,
)

#: Above this many cohorts or ages, heatmap cells are too small to annotate.
MAX_ANNOTATED = 24
#: Above this many cohorts, retention curves get no legend entry of their own.
MAX_LEGEND_COHORTS = 12


def _period_of(table: pd.DataFrame) -> str:
    period = table.attrs.get("period")
    if period in ("month", "week"):
        return str(period)
    days = pd.DatetimeIndex(table["cohort"]).day
    return "month" if bool((days == 1).all()) else "week"


def _short_number(value: float) -> str:
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.1f}M"
    if size >= 1e4:
        return f"{value / 1e3:.0f}k"
    if size >= 1e3:
        return f"{value / 1e3:.1f}k"
    if size >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def plot_cohort_heatmap(cohort_table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Heatmap of cumulative LTV per cohort customer, cohorts down, age across.

    Cells a cohort has not reached are blank; the partly observed period that contains the
    observation end is hatched (its value is LTV so far). Cells carry their value when the
    grid is small enough to read.

    Parameters
    ----------
    cohort_table : pandas.DataFrame
        The output of :func:`clvmodels.summaries.cohorts.cohort_table`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    wide = cohort_ltv_wide(cohort_table)
    partial = partial_cells(cohort_table).to_numpy()
    period = _period_of(cohort_table)
    n_cohorts, n_ages = wide.shape
    if ax is None:
        width = min(14.0, max(6.0, 1.5 + 0.55 * n_ages))
        ax = new_axes((width, min(10.0, max(4.0, 1.2 + 0.35 * n_cohorts))))
    values = wide.to_numpy(dtype="float64")
    masked = np.ma.masked_invalid(values)
    cmap = colormaps["viridis"].with_extremes(bad="#f2f2f2")
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else 0.0
    high = float(finite.max()) if finite.size else 1.0
    norm = Normalize(vmin=low, vmax=high if high > low else low + 1.0)
    image = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", interpolation="nearest")
    colorbar = ax.get_figure(root=True).colorbar(image, ax=ax)  # type: ignore[union-attr]
    colorbar.set_label("cumulative margin per cohort customer")
    inks = _Inks(cmap, norm)
    _hatch_partial(ax, values, partial, inks)
    if n_cohorts <= MAX_ANNOTATED and n_ages <= MAX_ANNOTATED:
        _annotate_cells(ax, values, inks)

    x_step = max(1, -(-n_ages // MAX_ANNOTATED))
    ax.set_xticks(range(0, n_ages, x_step))
    ax.set_xticklabels([str(a) for a in wide.columns[::x_step]])
    y_step = max(1, -(-n_cohorts // MAX_ANNOTATED))
    ax.set_yticks(range(0, n_cohorts, y_step))
    ax.set_yticklabels([period_label(c, period) for c in wide.index[::y_step]])
    note = "; hatched: period not fully observed" if partial.any() else ""
    ax.set_xlabel(f"age ({period}s since the first order){note}")
    ax.set_ylabel(f"cohort (first order's {period})")
    ax.set_title("Cumulative LTV by cohort and age")
    return ax


class _Inks:
    """Text colour on a heatmap cell: white on dark cells, black on light ones."""

    def __init__(self, cmap: Colormap, norm: Normalize) -> None:
        self._cmap = cmap
        self._norm = norm

    def __call__(self, value: float) -> str:
        # by the luma of the cell's colour
        red, green, blue, _ = self._cmap(self._norm(value))
        return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"


def _hatch_partial(ax: Axes, values: np.ndarray, partial: np.ndarray, ink: _Inks) -> None:
    """Hatch the cells of the partly observed period that contains the observation end."""
    for i, j in zip(*np.nonzero(partial), strict=True):
        ax.add_patch(
            Rectangle(
                (j - 0.5, i - 0.5),
                1,
                1,
                fill=False,
                hatch="///",
                edgecolor=to_rgba(ink(values[i, j]), 0.45),
                linewidth=0,
                zorder=2,
            )
        )


def _annotate_cells(ax: Axes, values: np.ndarray, ink: _Inks) -> None:
    """Write each observed cell's value on it, small on a large grid."""
    fontsize = 8 if max(values.shape) <= 12 else 6
    for i, j in zip(*np.nonzero(np.isfinite(values)), strict=True):
        value = values[i, j]
        ax.text(
            j,
            i,
            _short_number(value),
            ha="center",
            va="center",
            fontsize=fontsize,
            color=ink(value),
            zorder=3,
        )


def plot_retention_curves(cohort_table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Retention by age, one line per cohort, with the right-censored average in bold.

    A cohort's line is solid over its fully observed ages; the step into the partly observed
    period is dotted and ends in an open marker. The bold line is
    :func:`clvmodels.summaries.cohorts.average_ltv_curve`'s retention: at each age, only the cohorts
    that have fully reached it, weighted by cohort size.

    Parameters
    ----------
    cohort_table : pandas.DataFrame
        The output of :func:`clvmodels.summaries.cohorts.cohort_table`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    if ax is None:
        ax = new_axes((8.0, 5.0))
    period = _period_of(cohort_table)
    cohorts = sorted(cohort_table["cohort"].unique())
    cmap = colormaps["viridis"]
    label_each = len(cohorts) <= MAX_LEGEND_COHORTS
    for rank, cohort in enumerate(cohorts):
        rows = cohort_table.loc[cohort_table["cohort"] == cohort].sort_values("age")
        color = cmap(rank / max(1, len(cohorts) - 1))
        done = rows.loc[rows["complete"].astype(bool)]
        open_rows = rows.loc[~rows["complete"].astype(bool)]
        label = period_label(cohort, period) if label_each else None
        ax.plot(done["age"], done["retention"], color=color, linewidth=1.0, alpha=0.8, label=label)
        if len(open_rows):
            tail = pd.concat([done.tail(1), open_rows])
            ax.plot(tail["age"], tail["retention"], color=color, linewidth=1.0, linestyle=":")
            ax.plot(
                open_rows["age"],
                open_rows["retention"],
                linestyle="none",
                marker="o",
                markersize=4,
                markerfacecolor="white",
                markeredgecolor=color,
            )
    curve = average_ltv_curve(cohort_table)
    ax.plot(
        curve["age"],
        curve["retention"],
        color="black",
        linewidth=2.8,
        marker="o",
        markersize=4,
        label="average of fully observed cohorts",
        zorder=5,
    )
    handles, labels = ax.get_legend_handles_labels()
    if not label_each:
        handles.append(Line2D([], [], color=cmap(0.5), linewidth=1.0))
        labels.append(f"{len(cohorts)} cohorts, older (purple) to newer (yellow)")
    ax.legend(handles, labels, fontsize=8, loc="upper right")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"age ({period}s since the first order)")
    ax.set_ylabel("customers with an order at that age")
    ax.set_title("Retention by cohort (dotted: partial period)")
    ax.grid(alpha=0.3)
    return ax
