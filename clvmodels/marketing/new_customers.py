"""What a newly acquired customer is expected to be worth, per posterior draw.

See :func:`new_customer_value`; the per-source factors and, with covariates, the parameter
sets per covariate profile are :mod:`clvmodels.marketing.sources`'.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.marketing.buyer_covariates import covariate_columns
from clvmodels.marketing.sources import parameter_sets
from clvmodels.model import CLVModel
from clvmodels.predict.scoring import monthly_steps
from clvmodels.units import check_time_unit, units_per_month


def new_customer_value(
    model: CLVModel,
    months: np.ndarray | list[float],
    *,
    margin: float = 1.0,
    annual_discount_rate: float = 0.0,
    factors: Mapping[str, float] | None = None,
    n_draws: int | None = 200,
    customers: pd.DataFrame | None = None,
) -> np.ndarray:
    """Expected margin of a newly acquired customer within each horizon, per draw.

    The first purchase (at acquisition, undiscounted) plus the expected repeat purchases
    of a new customer month by month (FHL05 eq. 9 and its analogues,
    :meth:`clvmodels.models.transaction.TransactionModel.expected_purchases_new_customer`), each
    worth the Gamma-Gamma population mean spend p v / (q - 1), times ``margin``, the
    purchases of month m discounted by ``(1 + annual_discount_rate) ** (-m / 12)`` as in
    :func:`clvmodels.predict.scoring.monthly_steps` (the CLV definition of docs/definitions.md)::

        value(H) = margin * spend * (1 + sum_{m=1..H} (E[X(m)] - E[X(m - 1)]) / (1 + d)**(m/12))

    With covariates E[X(m)] depends on the new customer's covariates, which are not known
    before acquisition: the value is the average of ``value(H)`` over the customers of
    ``customers`` (a source's customers, with the covariate columns), each at their own
    covariates, i.e. ``sum_k (n_k / n) value_k(H)`` over their distinct profiles k.

    Parameters
    ----------
    model : CLVModel
        A fitted model.
    months : array of float
        Horizons in months (0 gives the first purchase alone).
    margin : float
        Share of revenue that is margin.
    annual_discount_rate : float
        Yearly discount rate of future margin.
    factors : mapping, optional
        A source's parameter factors (:func:`factors_of`).
    n_draws : int or None
        Posterior draws used.
    customers : pandas.DataFrame, optional
        With a model fitted with covariates (required then): the customers whose covariate
        profiles are averaged over.

    Returns
    -------
    numpy.ndarray
        Shape ``(draws, len(months))``.
    """
    horizons = np.atleast_1d(np.asarray(months, dtype="float64"))
    if model.transaction_model_.encoding_ is None:
        sets = parameter_sets(model, pd.DataFrame(index=[0]), factors=factors, n_draws=n_draws)
        total = 1
    elif customers is None or len(customers) == 0:
        raise DataError(
            "the model was fitted with covariates "
            f"({', '.join(covariate_columns(model))}): a new customer's value averages over "
            "the covariates of customers like the ones a source brings, and none were given",
            hint="pass the source's customers with their covariate columns",
        )
    else:
        sets = parameter_sets(model, customers, factors=factors, n_draws=n_draws)
        total = len(customers)
    unit = check_time_unit(model.time_unit)
    to_units = units_per_month(unit)
    fn = model.transaction_model_.new_customer_fn
    out: np.ndarray | None = None
    for rows, bg, gg in sets:
        spend = gg["p"] * gg["v"] / (gg["q"] - 1)  # (draws, 1)
        value = np.empty((spend.shape[0], len(horizons)))
        for i, horizon in enumerate(horizons):
            repeat = np.zeros((spend.shape[0], 1))
            if horizon > 0:
                steps = monthly_steps(float(horizon), annual_discount_rate)
                cumulative = fn(bg, steps.months[None, :] * to_units)
                increments = np.diff(cumulative, axis=1, prepend=0.0)
                repeat = (increments * steps.discount[None, :]).sum(axis=1, keepdims=True)
            value[:, i] = (margin * spend * (1.0 + repeat))[:, 0]
        weighted = value * (len(rows) / total)
        out = weighted if out is None else out + weighted
    assert out is not None
    return out
