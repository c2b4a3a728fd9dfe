"""The measures of a payback table: CAC, LTV, ROMI and payback of groups of cells.

:func:`summarise` turns a :class:`clvmodels.marketing.grid.CellGrid` (and, with a model, the
predicted cumulative margin per draw) into one row per group of cells: each cell alone, each
source or each cohort (:class:`Grouping`). The definitions are those of
:mod:`clvmodels.marketing.payback`: CAC = costs / new buyers, ROMI_k = cumulative margin /
costs, payback age = the first age with ROMI >= 1; predicted values are the mean over
posterior draws with a 94% equal-tailed interval.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.marketing.grid import CellGrid
from clvmodels.models.posterior import INTERVAL_QUANTILES

#: The quantiles of the 94% equal-tailed interval.
LOW, HIGH = INTERVAL_QUANTILES


@dataclass(frozen=True)
class Grouping:
    """Which cells make each row of a summary table.

    Attributes
    ----------
    keys : numpy.ndarray
        The row (0..n_keys-1) of each cell.
    n_keys : int
        The number of rows.
    romi_member : numpy.ndarray of bool
        The cells whose costs, buyers and margin count in the row's CAC and ROMI.
    censored : bool
        Whether the row's payback age uses only complete ages (right-censoring), as an
        average over several cohorts must.
    """

    keys: np.ndarray
    n_keys: int
    romi_member: np.ndarray
    censored: bool = False

    @classmethod
    def each_cell(cls, grid: CellGrid) -> Grouping:
        """Every cell its own row."""
        return cls(keys=np.arange(grid.n), n_keys=grid.n, romi_member=np.ones(grid.n, bool))


@dataclass(frozen=True)
class _Totals:
    """Membership matrices of a grouping and the buyers and costs they sum to per row."""

    member: np.ndarray  # (rows, cells): 1 where the cell is in the row
    romi_w: np.ndarray  # (rows, cells): 1 where the cell also counts in ROMI and CAC
    buyers: np.ndarray
    costs: np.ndarray
    romi_costs: np.ndarray
    romi_buyers: np.ndarray

    @classmethod
    def of(cls, grid: CellGrid, grouping: Grouping) -> _Totals:
        member = np.zeros((grouping.n_keys, grid.n))
        member[grouping.keys, np.arange(grid.n)] = 1.0
        romi_w = member * grouping.romi_member[None, :]
        return cls(
            member=member,
            romi_w=romi_w,
            buyers=member @ grid.buyers,
            costs=member @ grid.costs,
            romi_costs=romi_w @ grid.costs,
            romi_buyers=romi_w @ grid.buyers,
        )


@dataclass(frozen=True)
class _Status:
    """The realised payback of each row: the age it paid back at (-1: not yet) and why not."""

    paid: np.ndarray
    no_costs: np.ndarray
    no_buyers: np.ndarray


def summarise(
    grid: CellGrid,
    predicted: np.ndarray | None,
    grouping: Grouping,
    *,
    horizons: tuple[int, ...],
) -> pd.DataFrame:
    """The measures of :func:`clvmodels.marketing.payback.payback_analysis` per group of cells.

    ``predicted`` is :func:`clvmodels.marketing.grid.predicted_cumulative_margin` (draws,
    cells, ages 0..max(horizons)), or None for the empirical measures only.
    """
    totals = _Totals.of(grid, grouping)
    out, status = _empirical_measures(grid, totals, censored=grouping.censored, horizons=horizons)
    if predicted is not None:
        out.update(_predicted_measures(predicted, totals, status, horizons=horizons))
    return pd.DataFrame(out)


def _empirical_measures(
    grid: CellGrid, totals: _Totals, *, censored: bool, horizons: tuple[int, ...]
) -> tuple[dict[str, Any], _Status]:
    """CAC, LTV and ROMI to date, the payback age and status, and ROMI at each horizon."""
    realised = grid.realised()
    cum0 = np.nan_to_num(grid.cum)
    observed = ~np.isnan(grid.cum)

    def curve(mask: np.ndarray) -> np.ndarray:
        numerator = totals.romi_w @ (cum0 * mask)
        denominator = totals.romi_w @ (grid.costs[:, None] * mask)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0, numerator / denominator, np.nan)

    complete_curve = curve(grid.complete)
    payback_curve = complete_curve if censored else curve(observed)
    buyers, romi_costs = totals.buyers, totals.romi_costs
    with np.errstate(divide="ignore", invalid="ignore"):
        cac = np.where(totals.romi_buyers > 0, romi_costs / totals.romi_buyers, np.nan)
        ltv_to_date = np.where(buyers > 0, (totals.member @ realised) / buyers, np.nan)
        romi_to_date = np.where(romi_costs > 0, (totals.romi_w @ realised) / romi_costs, np.nan)
    paid = first_at_least_one(payback_curve)
    no_costs = romi_costs <= 0
    no_buyers = ~no_costs & (buyers <= 0)
    out: dict[str, Any] = {
        "new_buyers": buyers.astype("int64"),
        "costs": totals.costs,
        "cac": cac,
        "ltv_to_date": ltv_to_date,
        "romi_to_date": romi_to_date,
        "payback_age": pd.array(np.where(paid >= 0, paid, 0), dtype="Int64"),
        "payback_status": np.where(
            no_costs,
            "no costs",
            np.where(no_buyers, "no buyers", np.where(paid >= 0, "paid back", "not yet")),
        ).astype(object),
    }
    out["payback_age"][paid < 0] = pd.NA
    for h in horizons:
        out[f"romi_{h}"] = complete_curve[:, h] if h < complete_curve.shape[1] else np.nan
    return out, _Status(paid=paid, no_costs=no_costs, no_buyers=no_buyers)


def _predicted_measures(
    predicted: np.ndarray, totals: _Totals, status: _Status, *, horizons: tuple[int, ...]
) -> dict[str, Any]:
    """Predicted LTV and ROMI at each horizon, and the predicted payback age and status.

    Per draw, the predicted cumulative margin is summed over the row's cells; the measures
    are the mean over draws with the 94% interval.
    """
    buyers, romi_costs = totals.buyers, totals.romi_costs
    pred_total = np.einsum("kg,dga->dka", totals.member, predicted)
    pred_romi_num = np.einsum("kg,dga->dka", totals.romi_w, predicted)
    with np.errstate(divide="ignore", invalid="ignore"):
        ltv_draws = np.where(buyers[None, :, None] > 0, pred_total / buyers[None, :, None], np.nan)
        romi_draws = np.where(
            romi_costs[None, :, None] > 0, pred_romi_num / romi_costs[None, :, None], np.nan
        )
    out: dict[str, Any] = {}
    for h in horizons:
        for name, draws in (("ltv", ltv_draws[:, :, h]), ("romi", romi_draws[:, :, h])):
            out[f"predicted_{name}_{h}"] = draws.mean(axis=0)
            low, high = interval(draws)
            out[f"predicted_{name}_{h}_low"] = low
            out[f"predicted_{name}_{h}_high"] = high
    out.update(_predicted_payback(romi_draws, status, max_age=max(horizons)))
    return out


def _predicted_payback(romi_draws: np.ndarray, status: _Status, *, max_age: int) -> dict[str, Any]:
    """The predicted payback age (of the mean curve; interval over draws) and its status."""
    mean_paid = first_at_least_one(romi_draws.mean(axis=0))
    draw_paid = first_at_least_one(romi_draws).astype("float64")
    draw_paid[draw_paid < 0] = np.inf
    low_paid = np.quantile(draw_paid, LOW, axis=0, method="inverted_cdf")
    high_paid = np.quantile(draw_paid, HIGH, axis=0, method="inverted_cdf")
    already = status.paid >= 0
    return {
        "predicted_payback_age": nullable_int(mean_paid),
        "predicted_payback_age_low": nullable_int(np.where(np.isfinite(low_paid), low_paid, -1)),
        "predicted_payback_age_high": nullable_int(np.where(np.isfinite(high_paid), high_paid, -1)),
        "predicted_payback_status": np.where(
            status.no_costs,
            "no costs",
            np.where(
                status.no_buyers,
                "no buyers",
                np.where(
                    already,
                    "paid back",
                    np.where(mean_paid >= 0, "predicted", f"not within {max_age}"),
                ),
            ),
        ).astype(object),
    }


def first_at_least_one(curves: np.ndarray) -> np.ndarray:
    """Index of the first value >= 1 along the last axis; -1 where there is none."""
    hit = curves >= 1.0
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)


def interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 94% equal-tailed interval over the first axis, ignoring NaN draws."""
    if np.isnan(draws).all():
        empty = np.full(draws.shape[1:], np.nan)
        return empty, empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(draws, [LOW, HIGH], axis=0)
    return low, high


def nullable_int(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Whole numbers as a nullable integer array; negative values (none) become missing."""
    ints = np.asarray(values, dtype="float64")
    result = pd.array(np.where(ints >= 0, ints, 0).astype("int64"), dtype="Int64")
    result[ints < 0] = pd.NA
    return result
