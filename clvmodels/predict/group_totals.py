"""Per-draw totals of predicted CLV over groups of customers (experiments' value comparison).

Scoring (:mod:`clvmodels.predict.scoring`) reduces each customer's draws to a mean and an
interval. A comparison of groups needs the other reduction: for every posterior draw d, the
sum over the customers of group g of their CLV in that draw::

    total[g, d] = sum_{i in g} margin * spend_i[d] * N_discounted(x_i, T_i)[d] * P(alive_i)[d]

with the CLV definition of :mod:`clvmodels.predict.scoring` (monthly steps, discounting,
Gamma-Gamma or constant spend). Dividing by the group's users gives the posterior draws of
the group's mean CLV.

How it stays fast and bounded in memory: the numerators N are computed once per distinct
(x, T) pair and draw (as scoring does); then, chunk by chunk (``CHUNK_ELEMENTS`` draws x
customers), the customers with equal (x, t_x, T, monetary value) are valued once, in blocks
of ``BLOCK_ELEMENTS`` that stay in the CPU's cache and run in threads, and a
``groups x distinct`` matrix of counts adds each block into the totals. No array of all
customers' draws is ever built: memory grows with the number of customers (a few arrays of
one float each), not with customers x draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.inputs import validate_rfm
from clvmodels.models.kernels.parallel import run_blocks
from clvmodels.models.spend import SpendModel
from clvmodels.models.transaction import TransactionModel
from clvmodels.predict.numerators import distinct_rows, numerator_grid
from clvmodels.predict.scoring import (
    BLOCK_ELEMENTS,
    CHUNK_ELEMENTS,
    MIN_BLOCK_ELEMENTS,
    SpendFunction,
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
    duration = parse_duration(horizon)
    margin = check_margin(margin)
    steps = monthly_steps(duration.months, annual_discount_rate)
    draws = transaction_model.param_draws(n_draws)
    n_used = len(next(iter(draws.values())))
    if len(rfm) == 0:  # no customers: every group's total is 0 in every draw
        return GroupDraws(totals=np.zeros((n_groups, n_used)), clv=np.zeros(0), n_draws=n_used)
    validate_rfm(rfm, require_monetary=isinstance(spend_model, GammaGammaModel))
    x = rfm["frequency"].to_numpy(dtype="float64")
    t_x = rfm["recency"].to_numpy(dtype="float64")
    T = rfm["T"].to_numpy(dtype="float64")
    spend, monetary = _spend_function(spend_model, rfm, x, n_draws, n_used)
    assert spend is not None
    step_units = steps.months * units_per_month(unit)
    step_units[-1] = duration.in_units(unit)
    pair_codes, _, num_discounted = numerator_grid(
        transaction_model, draws, x, t_x, T, step_units, steps.discount
    )
    keep = np.isfinite(num_discounted).all(axis=0)
    if not keep.any():
        raise DataError(
            f"the model's expected purchases are not finite in any of its {n_used} draws",
            hint="check the fit (clv show): its parameters may be at a bound",
        )
    valuer = _Valuer(
        transaction_model, draws, spend, x, t_x, T, pair_codes, num_discounted, keep, margin
    )
    totals = np.zeros((n_groups, valuer.n_kept))
    clv = np.empty(len(rfm))
    size = chunk_size or max(1_000, CHUNK_ELEMENTS // n_used)
    for start in range(0, len(rfm), size):
        sl = slice(start, min(start + size, len(rfm)))
        keys = [x[sl], t_x[sl], T[sl]] + ([] if monetary is None else [monetary[sl]])
        first, inverse = distinct_rows(keys)
        rows = np.arange(sl.start, sl.stop)[first]
        counts = np.bincount(codes[sl] * len(rows) + inverse, minlength=n_groups * len(rows))
        chunk_totals, chunk_clv = valuer.totals(
            rows, counts.reshape(n_groups, len(rows)).astype("float64")
        )
        totals += chunk_totals
        clv[sl] = chunk_clv[inverse]
    return GroupDraws(
        totals=totals, clv=clv, n_draws=valuer.n_kept, n_dropped=n_used - valuer.n_kept
    )


class _Valuer:
    """Each customer's CLV per draw, in blocks that stay in the CPU's cache, in threads.

    ``value[i, d] = margin * spend_i[d] * N_discounted(x_i, T_i)[d] * P(alive_i)[d]`` over
    the kept draws; NumPy releases the GIL, so blocks run in parallel
    (:func:`clvmodels.models.kernels.parallel.run_blocks`), and their group totals are added
    in block order, so the result does not depend on the threads.
    """

    def __init__(
        self,
        model: TransactionModel,
        draws: dict[str, np.ndarray],
        spend: SpendFunction,
        x: np.ndarray,
        t_x: np.ndarray,
        T: np.ndarray,
        pair_codes: np.ndarray,
        num_discounted: np.ndarray,
        keep: np.ndarray,
        margin: float,
    ) -> None:
        self.all_kept = bool(keep.all())
        self.keep = keep
        self.n_kept = int(keep.sum())
        self.model = model
        self.params = {k: v[None, keep] for k, v in draws.items()}
        self.spend = spend
        self.x, self.t_x, self.T = x, t_x, T
        self.pair_codes = pair_codes
        self.num_discounted = num_discounted if self.all_kept else num_discounted[:, keep]
        self.margin = margin

    def values(self, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), kept draws)``: the CLV of the customers ``rows`` in each draw."""
        x, t_x, T = (v[rows][:, None] for v in (self.x, self.t_x, self.T))
        value = self.model.probability_alive_fn(self.params, x, t_x, T)
        value *= self.num_discounted[self.pair_codes[rows]]
        spend = self.spend(rows)
        value *= spend if self.all_kept else spend[:, self.keep]
        value *= self.margin
        return value

    def totals(self, rows: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Group totals per draw (``counts`` is groups x rows) and each row's mean CLV."""
        clv = np.empty(len(rows))
        partials: dict[int, np.ndarray] = {}
        step = max(1, BLOCK_ELEMENTS // self.n_kept)

        def block(start: int, stop: int) -> None:
            total = np.zeros((counts.shape[0], self.n_kept))
            for lo in range(start, stop, step):
                hi = min(lo + step, stop)
                value = self.values(rows[lo:hi])
                total += counts[:, lo:hi] @ value
                clv[lo:hi] = value.mean(axis=1)
            partials[start] = total

        run_blocks(len(rows), block, min_block=max(1, MIN_BLOCK_ELEMENTS // self.n_kept))
        totals = np.zeros((counts.shape[0], self.n_kept))
        for start in sorted(partials):
            totals += partials[start]
        return totals, clv
