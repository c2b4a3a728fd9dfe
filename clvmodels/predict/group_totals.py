"""Per-draw totals of predicted CLV over groups of customers (experiments' value comparison).

Scoring (:mod:`clvmodels.predict.scoring`) reduces each customer's draws to a mean and an
interval. A comparison of groups needs the other reduction: for every posterior draw d, the
sum over the customers of group g of their CLV in that draw::

    total[g, d] = sum_{i in g} margin * spend_i[d] * N_discounted(x_i, T_i)[d] * P(alive_i)[d]

with the CLV definition of :mod:`clvmodels.predict.scoring` (monthly steps, discounting,
Gamma-Gamma or constant spend). Dividing by the group's users gives the posterior draws of
the group's mean CLV.

How it stays bounded in memory: the numerators N are computed once per distinct (x, T)
pair and draw (as scoring does); then, chunk by chunk (``CHUNK_ELEMENTS`` draws x customers,
32 MB of float64), the customers with equal (x, t_x, T, monetary value) are valued once, as
a ``distinct x draws`` array, and a ``groups x distinct`` matrix of counts adds them into the
totals. One million customers at 200 draws take 50 chunks and under 100 MB at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.inputs import validate_rfm
from clvmodels.models.spend import SpendModel
from clvmodels.models.transaction import TransactionModel
from clvmodels.predict.scoring import (
    CHUNK_ELEMENTS,
    _distinct_pairs,
    _distinct_rows,
    _spend_function,
    check_rfm_time_unit,
    monthly_steps,
)
from clvmodels.ranges import check_margin
from clvmodels.units import Duration, check_time_unit, parse_duration, units_per_month


@dataclass(frozen=True)
class GroupDraws:
    """Per-draw CLV totals of groups of customers, and each customer's posterior mean CLV.

    Attributes
    ----------
    totals : numpy.ndarray
        ``(groups, draws)``: the sum of the group's customers' CLV in each draw.
    clv : numpy.ndarray
        Each customer's CLV averaged over the draws (the ``clv`` score), in the order of
        the RFM table.
    n_draws : int
        Posterior draws used (1 for a point fit such as MAP), after ``n_dropped``.
    n_dropped : int
        Draws left out because their expected purchases are not finite for some customer
        (e.g. BG/NBD draws with a + b < 1, where the hypergeometric function of customers
        without repeat purchases is not evaluated).
    """

    totals: np.ndarray
    clv: np.ndarray
    n_draws: int
    n_dropped: int = 0


def group_clv_draws(
    rfm: pd.DataFrame,
    group_codes: np.ndarray,
    n_groups: int,
    transaction_model: TransactionModel,
    spend_model: SpendModel | None,
    *,
    time_unit: str,
    horizon: str | Duration = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int | None = 200,
    chunk_size: int | None = None,
) -> GroupDraws:
    """Sum the customers' CLV of each group draw by draw, chunk by chunk.

    Parameters
    ----------
    rfm : pandas.DataFrame
        ``customer_id, frequency, recency, T, monetary_value`` in ``time_unit``.
    group_codes : numpy.ndarray
        Each RFM row's group, an integer in ``0 .. n_groups - 1``.
    n_groups : int
        How many groups (groups without customers get zero totals).
    transaction_model, spend_model
        Fitted models, as for :func:`clvmodels.predict.scoring.iter_scores`; a spend model
        is required (a CLV needs one).
    time_unit, horizon, annual_discount_rate, margin, n_draws
        As for :func:`clvmodels.predict.scoring.iter_scores`.
    chunk_size : int, optional
        Customers per chunk; by default ``CHUNK_ELEMENTS // draws`` (at least 1,000).
        Chunking changes no result beyond floating-point summation order.

    Returns
    -------
    GroupDraws

    Raises
    ------
    DataError
        For a model without a spend model, a fit that is not usable, or no draw with finite
        expected purchases.
    """
    unit = check_time_unit(time_unit)
    check_rfm_time_unit(rfm, unit)
    if spend_model is None:
        raise DataError(
            "the model has no spend model (it was fitted on orders without revenue), "
            "so it predicts no CLV",
            hint="fit the model on orders with revenue, or with --value-per-order",
        )
    transaction_model.check_usable()
    spend_model.check_usable()
    codes = np.asarray(group_codes, dtype="int64")
    if len(codes) != len(rfm) or (len(codes) and (codes.min() < 0 or codes.max() >= n_groups)):
        raise ValueError("group_codes must give each RFM row a group in 0 .. n_groups - 1")
    validate_rfm(rfm, require_monetary=isinstance(spend_model, GammaGammaModel))
    duration = parse_duration(horizon)
    margin = check_margin(margin)
    steps = monthly_steps(duration.months, annual_discount_rate)
    draws = transaction_model.param_draws(n_draws)
    n_used = len(next(iter(draws.values())))
    x = rfm["frequency"].to_numpy(dtype="float64")
    t_x = rfm["recency"].to_numpy(dtype="float64")
    T = rfm["T"].to_numpy(dtype="float64")
    spend, monetary = _spend_function(spend_model, rfm, x, n_draws, n_used)
    assert spend is not None
    pair_codes, pair_x, pair_T = _distinct_pairs(x, T)
    step_units = steps.months * units_per_month(unit)
    step_units[-1] = duration.in_units(unit)
    _, num_discounted = transaction_model.numerator_grid_fn(
        draws, pair_x, pair_T, step_units, steps.discount
    )
    keep = np.isfinite(num_discounted).all(axis=0)
    if not keep.any():
        raise DataError(
            f"the model's expected purchases are not finite in any of its {n_used} draws",
            hint="check the fit (clv show): its parameters may be at a bound",
        )
    num_discounted = num_discounted[:, keep]
    params = {k: v[None, keep] for k, v in draws.items()}
    totals = np.zeros((n_groups, int(keep.sum())))
    clv = np.empty(len(rfm))
    size = chunk_size or max(1_000, CHUNK_ELEMENTS // n_used)
    for start in range(0, len(rfm), size):
        sl = slice(start, min(start + size, len(rfm)))
        keys = [x[sl], t_x[sl], T[sl]] + ([] if monetary is None else [monetary[sl]])
        first, inverse = _distinct_rows(keys)
        rows = np.arange(sl.start, sl.stop)[first]
        alive = transaction_model.probability_alive_fn(
            params, x[rows][:, None], t_x[rows][:, None], T[rows][:, None]
        )
        value = margin * spend(rows)[:, keep] * num_discounted[pair_codes[rows]] * alive
        counts = np.zeros((n_groups, len(rows)))
        np.add.at(counts, (codes[sl], inverse), 1.0)
        totals += counts @ value
        clv[sl] = value.mean(axis=1)[inverse]
    n_kept = int(keep.sum())
    return GroupDraws(totals=totals, clv=clv, n_draws=n_kept, n_dropped=n_used - n_kept)
