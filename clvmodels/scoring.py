"""Per-customer scores: P(alive), expected purchases, expected spend and discounted CLV.

CLV over a horizon of H months (DESIGN.md)::

    CLV = margin * E[spend] * sum_{m=1..ceil(H)} (E[X(t_m)] - E[X(t_{m-1})]) / (1 + d)**(t_m / 12)

with ``t_m = min(m, H)`` months, ``d`` the annual discount rate, E[X(t)] the BG/NBD
conditional expectation (FHL05 eq. 10) and E[spend] the Gamma-Gamma conditional mean spend
(Fader & Hardie 2013, eq. 5). Every quantity is computed per posterior draw; a score is the
posterior mean with a 94% equal-tailed interval (``_low``, ``_high``).

How it stays fast and bounded in memory: every transaction model's expectation factors as
P(alive | x, t_x, T) * N(x, T, t) (:mod:`clvmodels.transaction`), and N, which holds the
hypergeometric function, is evaluated once per distinct (x, T) pair and draw; the rest is
elementwise arithmetic over chunks of customers, each chunk ``draws x chunk`` in size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from clvmodels import gamma_gamma
from clvmodels.gamma_gamma import GammaGammaModel
from clvmodels.posterior import INTERVAL_PROB
from clvmodels.rfm import RFM_COLUMNS, validate_rfm
from clvmodels.transaction import TransactionModel
from clvmodels.units import DAYS_PER_UNIT, Duration, check_time_unit, parse_duration

SCORE_COLUMNS = (
    *RFM_COLUMNS,
    "p_alive",
    "expected_purchases",
    "expected_purchases_low",
    "expected_purchases_high",
    "expected_spend",
    "clv",
    "clv_low",
    "clv_high",
)

#: Elements (draws x customers) one chunk may hold per array: 4M float64 = 32 MB.
CHUNK_ELEMENTS = 4_000_000


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
    if not horizon_months > 0:
        raise ValueError(f"the horizon must be positive; got {horizon_months} months")
    if not annual_discount_rate > -1:
        raise ValueError(f"the annual discount rate must exceed -1; got {annual_discount_rate}")
    n_steps = math.ceil(horizon_months - 1e-9)
    months = np.minimum(np.arange(1, n_steps + 1, dtype="float64"), horizon_months)
    discount = (1.0 + annual_discount_rate) ** (-months / 12.0)
    return MonthlySteps(months=months, discount=discount)


def iter_scores(
    rfm: pd.DataFrame,
    transaction_model: TransactionModel,
    spend_model: GammaGammaModel | None,
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
    spend_model : GammaGammaModel or None
        A fitted Gamma-Gamma model; without one the spend and CLV columns are NaN.
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
        Customers per chunk; by default as many as keep each array near 32 MB.
    progress : bool
        Show a progress bar.

    Yields
    ------
    pandas.DataFrame
        Consecutive chunks of customers, in the order of ``rfm``, with :data:`SCORE_COLUMNS`;
        the expensive per-(x, T) part is computed once, before the first chunk.
    """
    unit = check_time_unit(time_unit)
    duration = parse_duration(horizon)
    validate_rfm(rfm, require_monetary=spend_model is not None)
    steps = monthly_steps(duration.months, annual_discount_rate)
    months_to_units = DAYS_PER_UNIT["M"] / DAYS_PER_UNIT[unit]
    horizon_units = duration.in_units(unit)

    model = transaction_model
    bg = model.draws_as_columns(n_draws)
    n_draws_used = next(iter(bg.values())).shape[0]
    gg = None
    if spend_model is not None:
        gg_draws = spend_model.param_draws(n_draws)
        gg = {k: _match_length(v, n_draws_used)[:, None] for k, v in gg_draws.items()}

    x = rfm["frequency"].to_numpy(dtype="float64")
    t_x = rfm["recency"].to_numpy(dtype="float64")
    T = rfm["T"].to_numpy(dtype="float64")
    pair_codes, pair_x, pair_T = _distinct_pairs(x, T)

    # numerators N(x, T, t) per (x, T) pair: discounted monthly sums, and at the horizon,
    # which is the grid's last step (t_m = min(m, H)), so its value is that step's
    step_units = steps.months * months_to_units
    step_units[-1] = horizon_units
    num_horizon = np.empty((n_draws_used, len(pair_x)))
    num_discounted = np.zeros((n_draws_used, len(pair_x)))
    pair_chunk = max(1, CHUNK_ELEMENTS // max(n_draws_used * len(steps.months), 1))
    for start in range(0, len(pair_x), pair_chunk):
        sl = slice(start, start + pair_chunk)
        px, pT = pair_x[None, sl], pair_T[None, sl]
        previous = np.zeros((n_draws_used, px.shape[1]))
        for t, factor in zip(step_units, steps.discount, strict=True):
            current = model.numerator_fn(bg, px, pT, t)
            num_discounted[:, sl] += (current - previous) * factor
            previous = current
        num_horizon[:, sl] = previous

    lo, hi = (1 - INTERVAL_PROB) / 2, 1 - (1 - INTERVAL_PROB) / 2
    size = chunk_size or max(1_000, CHUNK_ELEMENTS // n_draws_used)
    monetary = rfm["monetary_value"].to_numpy(dtype="float64") if gg is not None else None
    base = rfm[list(RFM_COLUMNS)].reset_index(drop=True)
    attrs = {
        "time_unit": unit,
        "horizon": str(duration),
        "annual_discount_rate": annual_discount_rate,
        "margin": margin,
        "n_draws": n_draws_used,
    }
    for sl in _chunks(len(rfm), size, progress):
        out: dict[str, np.ndarray] = {}
        alive = model.probability_alive_fn(bg, x[None, sl], t_x[None, sl], T[None, sl])
        codes = pair_codes[sl]
        purchases = num_horizon[:, codes] * alive
        out["p_alive"] = alive.mean(axis=0)
        out["expected_purchases"] = purchases.mean(axis=0)
        out["expected_purchases_low"], out["expected_purchases_high"] = np.quantile(
            purchases, [lo, hi], axis=0
        )
        if gg is None or monetary is None:
            for name in ("expected_spend", "clv", "clv_low", "clv_high"):
                out[name] = np.full(purchases.shape[1], np.nan)
        else:
            spend = gamma_gamma.expected_spend(
                gg["p"], gg["q"], gg["v"], x[None, sl], monetary[None, sl]
            )
            value = margin * spend * (num_discounted[:, codes] * alive)
            out["expected_spend"] = spend.mean(axis=0)
            out["clv"] = value.mean(axis=0)
            out["clv_low"], out["clv_high"] = np.quantile(value, [lo, hi], axis=0)
        chunk = base.iloc[sl].copy()
        for name in SCORE_COLUMNS[len(RFM_COLUMNS) :]:
            chunk[name] = out[name]
        chunk.attrs = dict(attrs)
        yield chunk


def score_customers(
    rfm: pd.DataFrame,
    transaction_model: TransactionModel,
    spend_model: GammaGammaModel | None,
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
    :data:`SCORE_COLUMNS`, in the order of ``rfm``, with the settings in ``attrs``.
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


def _distinct_pairs(x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of each customer's distinct (x, T) pair, and the pairs themselves."""
    t_codes, t_values = pd.factorize(T)
    keys = x.astype("int64") * len(t_values) + t_codes  # x is a whole number
    codes, unique_keys = pd.factorize(keys)
    return (
        codes,
        (unique_keys // len(t_values)).astype("float64"),
        t_values[unique_keys % len(t_values)],
    )


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
