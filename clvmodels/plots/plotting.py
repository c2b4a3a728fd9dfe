"""Plots of clvmodels' tables, drawn with matplotlib's object-oriented API.

Every function takes ``ax=None`` and returns the Axes it drew on: pass an Axes to draw into
your own figure, or leave it out to get a new :class:`matplotlib.figure.Figure`. Nothing here
touches pyplot's global state, selects a backend or calls ``show``; save a figure with
:func:`save_figure`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, to_rgba
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

if TYPE_CHECKING:
    from clvmodels.models.transaction import TransactionModel

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
    partial = partial_cells(cohort_table)
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

    def ink(value: float) -> str:
        # white on dark cells, black on light ones (luma of the cell's colour)
        red, green, blue, _ = cmap(norm(value))
        return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.5 else "black"

    for i, j in zip(*np.nonzero(partial.to_numpy()), strict=True):
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
    if n_cohorts <= MAX_ANNOTATED and n_ages <= MAX_ANNOTATED:
        fontsize = 8 if max(n_cohorts, n_ages) <= 12 else 6
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

    x_step = max(1, -(-n_ages // MAX_ANNOTATED))
    ax.set_xticks(range(0, n_ages, x_step))
    ax.set_xticklabels([str(a) for a in wide.columns[::x_step]])
    y_step = max(1, -(-n_cohorts // MAX_ANNOTATED))
    ax.set_yticks(range(0, n_cohorts, y_step))
    ax.set_yticklabels([period_label(c, period) for c in wide.index[::y_step]])
    note = "; hatched: period not fully observed" if partial.to_numpy().any() else ""
    ax.set_xlabel(f"age ({period}s since the first order){note}")
    ax.set_ylabel(f"cohort (first order's {period})")
    ax.set_title("Cumulative LTV by cohort and age")
    return ax


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


# --------------------------------------------------------------------------------------
# frequency-recency matrices of a fitted transaction model
# --------------------------------------------------------------------------------------
#: Without ``max_frequency``, the matrices run to the smaller of ceil(T) and this.
DEFAULT_MAX_FREQUENCY = 50
#: Recency rows of a matrix: whole time units from 0 to T, or this many evenly spaced.
MAX_RECENCY_ROWS = 101
#: Elements (draws x grid cells) computed at once when averaging over the posterior.
MATRIX_CHUNK_ELEMENTS = 4_000_000


def _matrix_grid(T: float, max_frequency: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies 0..max_frequency and recencies 0..T of a frequency-recency matrix."""
    if not np.isfinite(T) or T <= 0:
        raise ValueError(f"T must be a positive number of time units; got {T!r}")
    if max_frequency is None:
        max_frequency = int(min(np.ceil(T), DEFAULT_MAX_FREQUENCY))
    if max_frequency < 1:
        raise ValueError(f"max_frequency must be at least 1; got {max_frequency!r}")
    frequencies = np.arange(max_frequency + 1, dtype="float64")
    whole = int(np.floor(T))
    if whole + 1 <= MAX_RECENCY_ROWS and float(T).is_integer():
        recencies = np.arange(whole + 1, dtype="float64")
    else:
        recencies = np.linspace(0.0, T, min(MAX_RECENCY_ROWS, whole + 2))
    return frequencies, recencies


def _posterior_mean_grid(
    model: TransactionModel,
    quantity: Callable[[pd.DataFrame], np.ndarray],
    frequencies: np.ndarray,
    recencies: np.ndarray,
    T: float,
) -> np.ndarray:
    """Posterior mean of ``quantity`` over a (recency, frequency) grid, chunked over cells.

    A customer without repeat purchases has recency 0, so the ``x = 0`` column is evaluated
    at ``t_x = 0`` on every row.
    """
    x, t_x = np.meshgrid(frequencies, recencies)
    t_x = np.where(x == 0, 0.0, t_x)
    cells = pd.DataFrame(
        {"frequency": x.ravel(), "recency": t_x.ravel(), "T": np.full(x.size, float(T))}
    )
    step = max(1, MATRIX_CHUNK_ELEMENTS // max(1, model.n_draws_))
    means = np.empty(len(cells), dtype="float64")
    for start in range(0, len(cells), step):
        chunk = cells.iloc[start : start + step]
        means[start : start + step] = np.asarray(quantity(chunk)).mean(axis=0)
    return means.reshape(x.shape)


def _draw_matrix(
    values: np.ndarray,
    frequencies: np.ndarray,
    recencies: np.ndarray,
    *,
    ax: Axes | None,
    norm: Normalize,
    label: str,
    title: str,
) -> Axes:
    if ax is None:
        ax = new_axes((8.0, 6.0))
    half_row = (recencies[1] - recencies[0]) / 2 if len(recencies) > 1 else 0.5
    extent = (
        frequencies[0] - 0.5,
        frequencies[-1] + 0.5,
        recencies[0] - half_row,
        recencies[-1] + half_row,
    )
    image = ax.imshow(
        values,
        cmap=colormaps["viridis"],
        norm=norm,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        extent=extent,
    )
    colorbar = ax.get_figure(root=True).colorbar(image, ax=ax)  # type: ignore[union-attr]
    colorbar.set_label(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("frequency: repeat purchases (x)")
    ax.set_ylabel("recency: time of the last purchase (t_x)")
    ax.set_title(title)
    return ax


def plot_frequency_recency_matrix(
    model: TransactionModel,
    *,
    T: float,
    t: float = 1.0,
    max_frequency: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Expected purchases in the next ``t`` for every frequency and recency, at age ``T``.

    The heatmap of lifetimes' ``plot_frequency_recency_matrix``: cell (x, t_x) holds the
    posterior mean of E[X(T, T + t) | x, t_x, T] (FHL05 eq. 10 for BG/NBD, the analogue for
    the other transaction models). Frequency runs across, recency up, so the best customers
    (many purchases, the last one recent) are in the top right. The ``x = 0`` column is
    evaluated at ``t_x = 0``, the only recency a customer without repeat purchases has.

    Parameters
    ----------
    model : TransactionModel
        A fitted transaction model (BG/NBD, Pareto/NBD, MBG/NBD).
    T : float
        The customers' age (time since the first purchase), in the model's time unit; use
        the largest observed ``T``.
    t : float
        The period ahead, in the model's time unit.
    max_frequency : int, optional
        The largest frequency shown; default the smaller of ceil(T) and 50. Pass the
        largest observed frequency to match your data.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"t must be a positive number of time units; got {t!r}")
    frequencies, recencies = _matrix_grid(T, max_frequency)
    values = _posterior_mean_grid(
        model, lambda cells: model.expected_purchases(cells, t), frequencies, recencies, T
    )
    high = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    period = f"{t:g} time unit{'' if t == 1 else 's'}"
    return _draw_matrix(
        values,
        frequencies,
        recencies,
        ax=ax,
        norm=Normalize(vmin=0.0, vmax=high if high > 0 else 1.0),
        label=f"expected purchases in the next {period}",
        title=f"Expected purchases in the next {period}\nby frequency and recency (T = {T:.4g})",
    )


def plot_probability_alive_matrix(
    model: TransactionModel,
    *,
    T: float,
    max_frequency: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """P(alive) for every frequency and recency, at age ``T``.

    The heatmap of lifetimes' ``plot_probability_alive_matrix``: cell (x, t_x) holds the
    posterior mean of P(alive | x, t_x, T) (Fader, Hardie & Lee 2008, eq. 2 for BG/NBD, the
    analogue for the other transaction models), on a fixed 0-1 colour scale. Frequency runs
    across, recency up; the ``x = 0`` column is evaluated at ``t_x = 0``.

    Parameters
    ----------
    model : TransactionModel
        A fitted transaction model (BG/NBD, Pareto/NBD, MBG/NBD).
    T : float
        The customers' age (time since the first purchase), in the model's time unit; use
        the largest observed ``T``.
    max_frequency : int, optional
        The largest frequency shown; default the smaller of ceil(T) and 50.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    frequencies, recencies = _matrix_grid(T, max_frequency)
    values = _posterior_mean_grid(model, model.probability_alive, frequencies, recencies, T)
    return _draw_matrix(
        values,
        frequencies,
        recencies,
        ax=ax,
        norm=Normalize(vmin=0.0, vmax=1.0),
        label="P(alive)",
        title=f"Probability that a customer is alive\nby frequency and recency (T = {T:.4g})",
    )
