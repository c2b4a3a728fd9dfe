"""Per-customer scores: P(alive), expected purchases, expected spend and discounted CLV.

CLV over a horizon of H months (docs/definitions.md)::

    CLV = margin * E[spend] * sum_{m=1..ceil(H)} (E[X(t_m)] - E[X(t_{m-1})]) / (1 + d)**(t_m / 12)

with ``t_m = min(m, H)`` months, ``d`` the annual discount rate, E[X(t)] the BG/NBD
conditional expectation (FHL05 eq. 10) and E[spend] the Gamma-Gamma conditional mean spend
(Fader & Hardie 2013, eq. 5). Every quantity is computed per posterior draw; a score is the
posterior mean with a 94% equal-tailed interval (``_low``, ``_high``).

How it stays fast and bounded in memory: every transaction model's expectation factors as
P(alive | x, t_x, T) * N(x, T, t) (:mod:`clvmodels.models.transaction`), and N, which holds the
hypergeometric function, is evaluated once per distinct (x, T) pair and draw, for all months
of the horizon at once (for BG/NBD by a compiled series,
:mod:`clvmodels.models.kernels.hypergeometric`).
With covariates the pairs are (x, T, covariate profile) and each customer's parameters are
their profile's (:mod:`clvmodels.predict.covariate_scoring`).
Then, chunk by chunk, customers with equal (x, t_x, T, monetary value) are scored once:
P(alive) and the expected spend are ``customers x draws`` arrays, and a compiled kernel
(:mod:`clvmodels.predict.draw_summary`) multiplies them out and reduces each customer's draws to a
mean and an interval without building the purchases or values of all draws.

Without a spend model (orders without revenue) the scores hold P(alive) and expected
purchases only: :data:`SPEND_STATISTICS` are left out. With a constant spend
(:class:`clvmodels.models.spend.ConstantSpendModel`, orders valued with ``--value-per-order``) every
customer and draw has the same E[spend]. Repeat customers whose mean repeat value is 0 (left
out of the Gamma-Gamma fit) get the population mean spend ``p v / (q - 1)`` per draw;
``attrs["n_population_mean_spend"]`` counts them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from clvmodels.errors import DataError
from clvmodels.models import gamma_gamma
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.inputs import RFM_COLUMNS, validate_rfm
from clvmodels.models.kernels.parallel import run_blocks
from clvmodels.models.posterior import INTERVAL_QUANTILES
from clvmodels.models.transaction import TransactionModel
from clvmodels.predict.columns import SCORE_COLUMNS, SPEND_STATISTICS
from clvmodels.predict.covariate_scoring import (
    CovariateRows,
    covariate_numerators,
    customer_draws,
)
from clvmodels.predict.numerators import distinct_rows, numerator_grid
from clvmodels.ranges import check_annual_discount_rate, check_margin
from clvmodels.units import (
    UNIT_NAMES,
    Duration,
    check_time_unit,
    parse_duration,
    units_per_month,
)

if TYPE_CHECKING:
    from clvmodels.models.spend import SpendModel

#: Expected spend per draw of some customers (rows of the RFM table): ``(rows, draws)``.
type SpendFunction = Callable[[np.ndarray], np.ndarray]

#: Customers per chunk by default: this many elements (draws x customers), at least 1,000.
CHUNK_ELEMENTS = 4_000_000
#: Fewest elements (draws x customers) worth a thread of their own.
MIN_BLOCK_ELEMENTS = 20_000
#: Elements (draws x customers) of the arrays NumPy computes at a time: 64k float64 = 512 kB.
BLOCK_ELEMENTS = 65_536


@dataclass(frozen=True)
class MonthlySteps:
    """The monthly grid a CLV is summed over.

    Attributes
    ----------
    months : numpy.ndarray
        ``t_m = min(m, H)`` for m = 1..ceil(H), in months.
    discount : numpy.ndarray
        ``(1 + annual_discount_rate) ** (-t_m / 12)``.
    """

    months: np.ndarray
    discount: np.ndarray


def monthly_steps(horizon_months: float, annual_discount_rate: float) -> MonthlySteps:
    """The month grid and discount factors for a horizon of ``horizon_months``."""
    Duration(horizon_months, "M")  # positive, at most 100 years
    check_annual_discount_rate(annual_discount_rate)
    n_steps = math.ceil(horizon_months - 1e-9)
    months = np.minimum(np.arange(1, n_steps + 1, dtype="float64"), horizon_months)
    discount = (1.0 + annual_discount_rate) ** (-months / 12.0)
    return MonthlySteps(months=months, discount=discount)


def check_rfm_time_unit(rfm: pd.DataFrame, time_unit: str, *, action: str = "score") -> None:
    """Refuse an RFM table whose ``attrs["time_unit"]`` is not the model's ``time_unit``.

    A table without the attribute (built by hand) is taken to be in ``time_unit``.
    """
    data_unit = rfm.attrs.get("time_unit")
    if data_unit is None or data_unit == time_unit:
        return
    data_name = UNIT_NAMES.get(str(data_unit), str(data_unit))
    if action == "fit":
        raise DataError(
            f"the RFM table is in {data_name} ({data_unit}) but the model's "
            f"time unit is {UNIT_NAMES[time_unit]} ({time_unit})"
        )
    raise DataError(
        f"the RFM table is in {data_name} ({data_unit}) but the model was fitted in "
        f"{UNIT_NAMES[time_unit]} ({time_unit}): recency and T would be read in the wrong unit",
        hint=f"summarise the orders with time_unit='{time_unit}' (clv score does this itself)",
    )


def iter_scores(
    rfm: pd.DataFrame,
    transaction_model: TransactionModel,
    spend_model: SpendModel | None,
    *,
    time_unit: str,
    horizon: str | Duration = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int | None = 200,
    chunk_size: int | None = None,
    progress: bool = False,
) -> Iterator[pd.DataFrame]:
    """Score the customers of an RFM table, chunk by chunk, with fitted models.

    Parameters
    ----------
    rfm : pandas.DataFrame
        ``customer_id, frequency, recency, T, monetary_value`` in ``time_unit``.
    transaction_model : TransactionModel
        A fitted BG/NBD, MBG/NBD or Pareto/NBD model.
    spend_model : GammaGammaModel, ConstantSpendModel or None
        A fitted Gamma-Gamma model, or a constant spend (:mod:`clvmodels.models.spend`; ``rfm``
        then needs no ``monetary_value``); without one the scores have no spend and CLV
        columns (:data:`SPEND_STATISTICS`) and ``rfm`` needs no ``monetary_value``.
    time_unit : {"D", "W", "M"}
        The unit of ``recency`` and ``T`` (the unit the models were fitted in).
    horizon : str or Duration
        How far ahead: ``"39W"``, ``"90D"``, ``"12M"``.
    annual_discount_rate : float
        Yearly rate at which future margin is discounted (0.1 = 10% a year).
    margin : float
        Share of revenue that is margin (1.0 counts revenue).
    n_draws : int or None
        Posterior draws used, thinned evenly (None: all).
    chunk_size : int, optional
        Customers per chunk; by default ``CHUNK_ELEMENTS // draws`` (at least 1,000).
        Chunking does not change any score.
    progress : bool
        Show a progress bar.

    Yields
    ------
    pandas.DataFrame
        Consecutive chunks of customers, in the order of ``rfm``, with :data:`SCORE_COLUMNS`
        (less :data:`SPEND_STATISTICS`, and ``monetary_value`` when ``rfm`` has none, without
        a spend model); the expensive per-(x, T) part is computed once, before the first
        chunk. ``attrs`` holds the settings, ``spend`` (``"gamma_gamma"``, ``"constant"``
        or ``"none"``), ``n_population_mean_spend``, ``transaction_model`` (its name) and
        ``dropout_at_zero`` (the model's :attr:`TransactionModel.dropout_at_zero`: whether
        P(alive) means something for customers without a repeat purchase).
    """
    unit = check_time_unit(time_unit)
    check_rfm_time_unit(rfm, unit)
    transaction_model.check_usable()
    if spend_model is not None:
        spend_model.check_usable()
    duration = parse_duration(horizon)
    margin = check_margin(margin)
    validate_rfm(rfm, require_monetary=isinstance(spend_model, GammaGammaModel))
    _check_value_per_order(rfm, spend_model)
    steps = monthly_steps(duration.months, annual_discount_rate)
    months_to_units = units_per_month(unit)
    horizon_units = duration.in_units(unit)

    draws = transaction_model.param_draws(n_draws)
    n_draws_used = len(next(iter(draws.values())))
    x = rfm["frequency"].to_numpy(dtype="float64")
    spend, monetary = _spend_function(spend_model, rfm, x, n_draws, n_draws_used)

    T = rfm["T"].to_numpy(dtype="float64")
    # numerators N(x, T, t) per (x, T) pair and draw: at the horizon, which is the monthly
    # grid's last step (t_m = min(m, H)), and summed over the grid with discounting
    step_units = steps.months * months_to_units
    step_units[-1] = horizon_units
    t_x = rfm["recency"].to_numpy(dtype="float64")
    covariates = CovariateRows.of(transaction_model, rfm)
    coefficients = transaction_model.coefficient_draws(n_draws)
    pair_codes, num_horizon, num_discounted = _numerators(
        transaction_model, draws, coefficients, covariates, x, t_x, T, step_units, steps.discount
    )
    scorer = _ChunkScorer(
        transaction_model,
        draws,
        spend,
        monetary,
        rfm,
        pair_codes,
        num_horizon,
        num_discounted,
        margin,
    )
    if covariates is not None:
        scorer.use_covariates(coefficients, covariates)

    size = chunk_size or max(1_000, CHUNK_ELEMENTS // n_draws_used)
    base = rfm[[c for c in RFM_COLUMNS if c in rfm.columns]].reset_index(drop=True)
    attrs = {
        "time_unit": unit,
        "horizon": str(duration),
        "annual_discount_rate": annual_discount_rate,
        "margin": margin,
        "n_draws": n_draws_used,
        "spend": "none" if spend_model is None else spend_model.name,
        "n_population_mean_spend": 0,
        "transaction_model": transaction_model.name,
        "dropout_at_zero": bool(transaction_model.dropout_at_zero),
    }
    if isinstance(spend_model, GammaGammaModel):
        zero = (x > 0) & (rfm["monetary_value"].to_numpy(dtype="float64") == 0)
        attrs["n_population_mean_spend"] = int(zero.sum())
    for sl in _chunks(len(rfm), size, progress):
        chunk = base.iloc[sl].copy()
        for name, values in scorer.score(sl).items():
            if spend_model is None and name in SPEND_STATISTICS:
                continue
            chunk[name] = values
        chunk.attrs = dict(attrs)
        yield chunk


def _numerators(
    model: TransactionModel,
    draws: dict[str, np.ndarray],
    coefficients: dict[str, np.ndarray],
    covariates: CovariateRows | None,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    t: np.ndarray,
    discount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's pair code and N per pair and draw (at the horizon, and discounted).

    Pairs are (x, T), (x, t_x, T) for BG/CNBD-k and MBG/CNBD-k (:func:`numerator_grid`), or
    with covariates (x, T, covariate profile)
    (:func:`clvmodels.predict.covariate_scoring.covariate_numerators`).
    """
    if covariates is not None:
        return covariate_numerators(model, draws, coefficients, covariates, x, T, t, discount)
    return numerator_grid(model, draws, x, t_x, T, t, discount)


def _spend_function(
    spend_model: SpendModel | None,
    rfm: pd.DataFrame,
    x: np.ndarray,
    n_draws: int | None,
    n_draws_used: int,
) -> tuple[SpendFunction | None, np.ndarray | None]:
    """The expected spend of rows of ``rfm`` per draw, and the monetary values it depends on.

    Gamma-Gamma: eq. 5 per draw, paired with the transaction model's draws; its draws are
    repeated or thinned to ``n_draws_used``. A constant spend: its value everywhere (it
    depends on no monetary value).
    """
    if spend_model is None:
        return None, None
    if not isinstance(spend_model, GammaGammaModel):
        value = spend_model.value_
        return (lambda rows: np.full((len(rows), n_draws_used), value)), None
    g = {
        k: _match_length(v, n_draws_used)[None, :]
        for k, v in spend_model.param_draws(n_draws).items()
    }
    # the expected spend ignores the monetary value of customers without repeat purchases
    monetary = np.where(x > 0, rfm["monetary_value"].to_numpy(dtype="float64"), 0.0)

    def spend(rows: np.ndarray) -> np.ndarray:
        return gamma_gamma.expected_spend(
            g["p"], g["q"], g["v"], x[rows][:, None], monetary[rows][:, None]
        )

    return spend, monetary


def _check_value_per_order(rfm: pd.DataFrame, spend_model: SpendModel | None) -> None:
    """Refuse orders valued at another ``value_per_order`` than a constant spend model's."""
    if spend_model is None or isinstance(spend_model, GammaGammaModel):
        return
    given = rfm.attrs.get("value_per_order")
    if rfm.attrs.get("revenue") == "value_per_order" and given != spend_model.value_per_order_:
        raise DataError(
            f"the orders are valued at {given:g} per order (--value-per-order), but the model "
            f"was fitted with {spend_model.value_per_order_:g} per order: its spend is "
            f"{spend_model.description()}",
            hint="score with the model's --value-per-order, or refit with the new value",
        )


class _ChunkScorer:
    """Scores chunks of customers from the numerators of their (x, T) pairs.

    Customers with equal (x, t_x, T, monetary value) get equal scores, so each is scored
    once; P(alive) and the expected spend are computed as ``customers x draws`` arrays in
    blocks that stay in the CPU's cache, and :func:`clvmodels.predict.draw_summary.summarize`
    reduces
    them. Blocks run in threads: NumPy and the kernel release the GIL.
    """

    def __init__(
        self,
        model: TransactionModel,
        draws: dict[str, np.ndarray],
        spend: SpendFunction | None,
        monetary: np.ndarray | None,
        rfm: pd.DataFrame,
        pair_codes: np.ndarray,
        num_horizon: np.ndarray,
        num_discounted: np.ndarray,
        margin: float,
    ) -> None:
        # numba is imported on first use: importing it costs ~0.3 s that `import clvmodels`
        # avoids
        from clvmodels.predict.draw_summary import summarize

        self._summarize = summarize
        self.model = model
        self.draws = {k: v[None, :] for k, v in draws.items()}
        self.spend = spend
        self.n_draws = len(next(iter(draws.values())))
        self.x = rfm["frequency"].to_numpy(dtype="float64")
        self.t_x = rfm["recency"].to_numpy(dtype="float64")
        self.T = rfm["T"].to_numpy(dtype="float64")
        # the monetary values the expected spend depends on (None: on none)
        self.monetary = monetary
        self.pair_codes = pair_codes
        self.num_horizon = num_horizon
        self.num_discounted = num_discounted
        self.margin = margin
        self.low, self.high = INTERVAL_QUANTILES
        self.covariates: CovariateRows | None = None
        self.coefficients: dict[str, np.ndarray] = {}
        self.flat_draws = draws

    def use_covariates(self, coefficients: dict[str, np.ndarray], rows: CovariateRows) -> None:
        """Score each customer with the parameters of their covariate profile."""
        self.coefficients = coefficients
        self.covariates = rows

    def score(self, sl: slice) -> dict[str, np.ndarray]:
        """The score columns (after the RFM columns of :data:`SCORE_COLUMNS`) of ``rfm[sl]``."""
        keys = [self.x[sl], self.t_x[sl], self.T[sl]]
        if self.covariates is not None:
            keys.append(self.covariates.profile[sl])
        if self.monetary is not None:
            keys.append(self.monetary[sl])
        first, inverse = distinct_rows(keys)
        rows = np.arange(*sl.indices(len(self.x)))[first]
        stats = np.empty((len(SCORE_COLUMNS) - len(RFM_COLUMNS), len(rows)))

        def block(start: int, stop: int) -> None:
            step = max(1, BLOCK_ELEMENTS // self.n_draws)
            for lo in range(start, stop, step):
                part = slice(lo, min(lo + step, stop))
                stats[:, part] = self._summaries(rows[part])

        run_blocks(len(rows), block, min_block=max(1, MIN_BLOCK_ELEMENTS // self.n_draws))
        return {
            name: values[inverse]
            for name, values in zip(SCORE_COLUMNS[len(RFM_COLUMNS) :], stats, strict=True)
        }

    def _summaries(self, rows: np.ndarray) -> np.ndarray:
        """Means and intervals of the customers ``rows``: ``(score columns, len(rows))``."""
        x, t_x, T = (v[rows][:, None] for v in (self.x, self.t_x, self.T))
        # (customers, draws) arrays: each customer's draws are contiguous
        draws = self.draws
        if self.covariates is not None:
            draws = customer_draws(
                self.model, self.flat_draws, self.coefficients, self.covariates, rows
            )
        alive = self.model.probability_alive_fn(draws, x, t_x, T)
        spend = None if self.spend is None else self.spend(rows)
        return self._summarize(
            self.pair_codes[rows],
            self.num_horizon,
            self.num_discounted,
            alive,
            spend,
            margin=self.margin,
            low=self.low,
            high=self.high,
        )


def score_customers(
    rfm: pd.DataFrame,
    transaction_model: TransactionModel,
    spend_model: SpendModel | None,
    *,
    time_unit: str,
    horizon: str | Duration = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int | None = 200,
    chunk_size: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Score every customer of an RFM table; the chunks of :func:`iter_scores` in one table.

    Takes the arguments of :func:`iter_scores` and returns one row per customer with
    :data:`SCORE_COLUMNS` (without a spend model, less :data:`SPEND_STATISTICS`), in the
    order of ``rfm``, with the settings in ``attrs``.
    """
    chunks = list(
        iter_scores(
            rfm,
            transaction_model,
            spend_model,
            time_unit=time_unit,
            horizon=horizon,
            annual_discount_rate=annual_discount_rate,
            margin=margin,
            n_draws=n_draws,
            chunk_size=chunk_size,
            progress=progress,
        )
    )
    scores = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=SCORE_COLUMNS)
    scores.attrs = dict(chunks[0].attrs) if chunks else {}
    return scores


def _match_length(values: np.ndarray, n: int) -> np.ndarray:
    """Repeat or thin ``values`` to length ``n`` so that draws pair up across models."""
    if len(values) == n:
        return values
    return values[np.linspace(0, len(values) - 1, n).round().astype(int)]


def _chunks(n: int, size: int, progress: bool) -> Iterator[slice]:
    starts = range(0, n, size)
    bar = tqdm(
        total=n,
        unit="customer",
        unit_scale=True,
        desc="scoring",
        disable=not progress,
        leave=False,
    )
    try:
        for start in starts:
            stop = min(start + size, n)
            yield slice(start, stop)
            bar.update(stop - start)
    finally:
        bar.close()
