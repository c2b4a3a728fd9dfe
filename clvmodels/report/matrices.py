"""The report's ``matrices`` section: expected purchases and P(alive) by frequency and recency.

Drawn at the largest observed T with
:func:`clvmodels.plots.matrices.plot_frequency_recency_matrix` and
:func:`clvmodels.plots.matrices.plot_probability_alive_matrix`. With a model fitted with
covariates a cell's customer is the reference customer (every categorical covariate at its
reference level, every numeric one at its fit-time mean:
:meth:`clvmodels.models.covariates.CovariateEncoding.reference_customer`), and the caption
says so: customers of other covariate values have other matrices.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.axes import Axes

from clvmodels.errors import DataError
from clvmodels.model import CLVModel
from clvmodels.plots.matrices import plot_frequency_recency_matrix, plot_probability_alive_matrix
from clvmodels.report.html import NEED_MODEL, Section, esc, img, missing
from clvmodels.report.inputs import ModelRFM
from clvmodels.units import UNIT_NAMES

#: The matrices stop at this frequency even when a customer bought more often.
MAX_MATRIX_FREQUENCY = 100


def matrices_section(model: CLVModel | None, rfm_source: ModelRFM) -> Section | str:
    """Both matrices side by side, with a caption saying which customer a cell is."""
    if model is None:
        return missing(
            "matrices",
            "Frequency-recency matrices",
            NEED_MODEL.format(what="the frequency-recency and P(alive) matrices"),
        )
    rfm = rfm_source.get()
    unit = UNIT_NAMES.get(model.time_unit, model.time_unit)
    T = float(rfm["T"].max())
    if T <= 0:
        raise DataError("every customer's first order is on the observation end: T is 0")
    observed = int(rfm["frequency"].max())
    max_frequency = max(1, min(observed, MAX_MATRIX_FREQUENCY))
    transactions = model.transaction_model_
    encoding = transactions.encoding_
    reference = encoding.reference_customer() if encoding is not None else None
    expected = plot_frequency_recency_matrix(
        transactions, T=T, t=1.0, max_frequency=max_frequency, covariates=reference
    )
    expected.set_title(
        f"Expected purchases in the next {unit[:-1]}\nby frequency and recency (T = {T:.1f} {unit})"
    )
    alive = plot_probability_alive_matrix(
        transactions, T=T, max_frequency=max_frequency, covariates=reference
    )
    alive.set_title(f"P(alive) by frequency and recency\n(T = {T:.1f} {unit})")
    _relabel_colorbar(expected, f"expected purchases in the next {unit[:-1]}")
    for ax in (expected, alive):
        ax.set_ylabel(f"recency t_x ({unit} from first to last purchase)")
    capped = (
        f" (the largest observed frequency is {observed}; the grid stops at {max_frequency})"
        if observed > max_frequency
        else ""
    )
    caption = (
        f"A customer first seen {T:.1f} {unit} ago (the longest-observed customer) with x "
        f"repeat purchases, the last one t_x {unit} after the first. Left: expected purchases "
        f"in the next {unit[:-1]}; right: the probability the customer is still active "
        f"(posterior means). Frequencies 0 to {max_frequency}{capped}; customers without "
        "repeat purchases (x = 0) have recency 0."
    )
    if reference:
        caption += " " + reference_caption(reference)
    return (
        f"<p class='caption'>{esc(caption)}</p><div class='grid'>"
        + img(expected, "expected purchases by frequency and recency")
        + img(alive, "P(alive) by frequency and recency")
        + "</div>"
    )


def reference_caption(reference: Mapping[str, str | float]) -> str:
    """What the matrices of a model fitted with covariates show: the reference customer."""
    values = ", ".join(
        f"{name} = {value}" if isinstance(value, str) else f"{name} = {value:.4g} (its mean)"
        for name, value in reference.items()
    )
    return (
        "The model was fitted with covariates: the matrices are drawn for the reference "
        f"customer ({values}; every encoded covariate 0); customers with other covariate "
        "values have other matrices."
    )


def _relabel_colorbar(ax: Axes, label: str) -> None:
    colorbar = ax.images[0].colorbar if ax.images else None
    if colorbar is not None:
        colorbar.set_label(label)
