"""Frequency-recency matrices of a fitted transaction model: expected purchases and P(alive).

Each cell is a posterior mean over the model's draws, for a customer with frequency x and
recency t_x at age T. Both plots take ``ax=None`` and return the Axes drawn on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from clvmodels.plots.base import new_axes

if TYPE_CHECKING:
    from clvmodels.models.transaction import TransactionModel

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
    covariates: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Posterior mean of ``quantity`` over a (recency, frequency) grid, chunked over cells.

    A customer without repeat purchases has recency 0, so the ``x = 0`` column is evaluated
    at ``t_x = 0`` on every row. Every cell gets the ``covariates`` (column: value).
    """
    x, t_x = np.meshgrid(frequencies, recencies)
    t_x = np.where(x == 0, 0.0, t_x)
    cells = pd.DataFrame(
        {"frequency": x.ravel(), "recency": t_x.ravel(), "T": np.full(x.size, float(T))}
    )
    for name, value in (covariates or {}).items():
        cells[name] = [value] * len(cells)
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
    covariates: Mapping[str, Any] | None = None,
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
    covariates : mapping, optional
        For a model fitted with covariates: the covariate values of the customer drawn
        (e.g. :meth:`clvmodels.models.covariates.CovariateEncoding.reference_customer`).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    if not np.isfinite(t) or t <= 0:
        raise ValueError(f"t must be a positive number of time units; got {t!r}")
    frequencies, recencies = _matrix_grid(T, max_frequency)
    values = _posterior_mean_grid(
        model,
        lambda cells: model.expected_purchases(cells, t),
        frequencies,
        recencies,
        T,
        covariates,
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
    covariates: Mapping[str, Any] | None = None,
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
    covariates : mapping, optional
        For a model fitted with covariates: the covariate values of the customer drawn
        (e.g. :meth:`clvmodels.models.covariates.CovariateEncoding.reference_customer`).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    frequencies, recencies = _matrix_grid(T, max_frequency)
    values = _posterior_mean_grid(
        model, model.probability_alive, frequencies, recencies, T, covariates
    )
    return _draw_matrix(
        values,
        frequencies,
        recencies,
        ax=ax,
        norm=Normalize(vmin=0.0, vmax=1.0),
        label="P(alive)",
        title=f"Probability that a customer is alive\nby frequency and recency (T = {T:.4g})",
    )
