"""The (cohort, source) cells of a payback analysis as arrays, realised and predicted.

:class:`CellGrid` lays the per-source cohort tables
(:func:`clvmodels.marketing.attribution.source_cohort_table`) and the cost cells
(:func:`clvmodels.marketing.attribution.costs_by_cohort`) out as one row per (cohort, source)
cell and one column per age; :func:`predicted_cumulative_margin` extends each cell's
cumulative margin past the observation end with a fitted model (the "predicted LTV_k" of
:mod:`clvmodels.marketing.payback`); :func:`predict_cells` does so with each source's own
parameters and returns a :class:`Prediction`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvmodels.errors import DataQualityWarning
from clvmodels.marketing.buyer_covariates import covariate_columns
from clvmodels.marketing.sources import expected_by_group, rfm_in_units, source_scales
from clvmodels.model import CLVModel
from clvmodels.summaries.calendar import CohortPeriod, period_index, period_start
from clvmodels.units import DAYS_PER_UNIT, check_time_unit


@dataclass(frozen=True)
class CellGrid:
    """(cohort, source) cells as arrays: ``cum[g, k]`` cumulative margin at age k, etc."""

    cells: pd.DataFrame
    buyers: np.ndarray
    costs: np.ndarray
    age_now: np.ndarray
    cum: np.ndarray  # (cells, ages): cumulative margin, NaN beyond age_now
    margin: np.ndarray  # (cells, ages): margin earned at age k
    active: np.ndarray  # (cells, ages)
    complete: np.ndarray  # (cells, ages)
    period: CohortPeriod
    end: pd.Timestamp
    end_p: int

    @property
    def n(self) -> int:
        """The number of cells."""
        return len(self.cells)

    @classmethod
    def build(
        cls,
        buyers: pd.DataFrame,
        cost_cells: pd.DataFrame,
        stacked: pd.DataFrame,
        *,
        period: CohortPeriod,
        end: pd.Timestamp,
    ) -> CellGrid:
        """The cells with buyers (``buyers``) or costs (``cost_cells``), sorted by both keys.

        ``stacked`` is :func:`clvmodels.marketing.attribution.source_cohort_table` of the
        same buyers; ``end`` the observation end. ``cells`` gets ``new_buyers``, ``costs``,
        the cohort's period index ``p``, ``age_now`` and ``age_now_complete``.
        """
        counts = buyers.groupby(["cohort", "source_id"], sort=False).size().rename("new_buyers")
        cells = (
            counts.reset_index()
            .merge(cost_cells, on=["cohort", "source_id"], how="outer")
            .fillna({"new_buyers": 0, "costs": 0.0})
            .sort_values(["cohort", "source_id"], ignore_index=True)
        )
        cells["new_buyers"] = cells["new_buyers"].astype("int64")
        cells["costs"] = cells["costs"].astype("float64")
        end_p = int(period_index(pd.DatetimeIndex([end]), period)[0])
        open_p = int(period_index(pd.DatetimeIndex([end + pd.Timedelta(days=1)]), period)[0])
        p = period_index(cells["cohort"], period)
        cells["p"] = p
        cells["age_now"] = (end_p - p).astype("int64")
        cells["age_now_complete"] = end_p < open_p
        n_ages = int(cells["age_now"].max()) + 1
        g_of = pd.MultiIndex.from_frame(cells[["cohort", "source_id"]])
        rows = g_of.get_indexer(pd.MultiIndex.from_frame(stacked[["cohort", "source_id"]]))
        ages = stacked["age"].to_numpy()
        margin = np.zeros((len(cells), n_ages))
        active = np.zeros((len(cells), n_ages), dtype=np.int64)
        margin[rows, ages] = stacked["margin"].to_numpy()
        active[rows, ages] = stacked["active_customers"].to_numpy()
        age_grid = np.arange(n_ages)[None, :]
        observed = age_grid <= cells["age_now"].to_numpy()[:, None]
        cum = np.where(observed, np.cumsum(margin, axis=1), np.nan)
        complete = (p[:, None] + age_grid) < open_p
        return cls(
            cells=cells,
            buyers=cells["new_buyers"].to_numpy(dtype="float64"),
            costs=cells["costs"].to_numpy(dtype="float64"),
            age_now=cells["age_now"].to_numpy(),
            cum=cum,
            margin=margin,
            active=active,
            complete=complete & observed,
            period=period,
            end=end,
            end_p=end_p,
        )

    def realised(self) -> np.ndarray:
        """Cumulative margin of each cell up to the observation end."""
        return self.cum[np.arange(self.n), self.age_now]


def cohorts_without_costs(grid: CellGrid) -> list[str]:
    """The cohorts (as ``YYYY-MM`` or ``YYYY-MM-DD``) that have buyers but no costs at all."""
    cells = grid.cells
    per_cohort = cells.groupby("cohort").agg(buyers=("new_buyers", "sum"), costs=("costs", "sum"))
    empty = per_cohort.loc[(per_cohort["buyers"] > 0) & (per_cohort["costs"] == 0)]
    fmt = "%Y-%m" if grid.period == "month" else "%Y-%m-%d"
    return [c.strftime(fmt) for c in empty.index]


def check_cohort_costs(grid: CellGrid) -> list[str]:
    """The cohorts with buyers and no costs (warned about: their CAC is undefined).

    The warning points at the caller of the function that calls this one
    (:func:`clvmodels.marketing.payback.payback_analysis`).
    """
    uncosted = cohorts_without_costs(grid)
    if uncosted:
        warnings.warn(
            f"{len(uncosted)} cohort(s) with buyers have no costs at all "
            f"({', '.join(uncosted[:3])}{', ...' if len(uncosted) > 3 else ''}): "
            "their CAC and ROMI are undefined ('no costs')",
            DataQualityWarning,
            stacklevel=3,
        )
    return uncosted


@dataclass(frozen=True)
class Prediction:
    """Predicted cumulative margin (draws, cells, ages) and the source factors used."""

    draws: np.ndarray
    scales: pd.DataFrame | None


def predict_cells(
    model: CLVModel,
    buyers: pd.DataFrame,
    grid: CellGrid,
    *,
    max_age: int,
    margin: float,
    n_draws: int | None,
    adjust: bool,
) -> Prediction:
    """The predicted cumulative margin of every cell, with each source's factors if ``adjust``.

    ``buyers`` is the buyer table of the payback analysis (RFM in days); the factors are
    :func:`clvmodels.marketing.sources.source_scales` (None without ``adjust``). With a model
    fitted with covariates ``buyers`` holds their columns and each buyer is predicted at theirs.
    """
    rfm_model = rfm_in_units(buyers, model.time_unit, covariate_columns(model))
    scales = source_scales(model, rfm_model, buyers["source_id"].to_numpy()) if adjust else None
    draws = predicted_cumulative_margin(
        model,
        rfm_model,
        buyers,
        grid,
        max_age=max_age,
        margin=margin,
        n_draws=n_draws,
        scales=scales,
    )
    return Prediction(draws=draws, scales=scales)


def predicted_cumulative_margin(
    model: CLVModel,
    rfm: pd.DataFrame,
    buyers: pd.DataFrame,
    grid: CellGrid,
    *,
    max_age: int,
    margin: float,
    n_draws: int | None,
    scales: pd.DataFrame | None,
) -> np.ndarray:
    """Predicted cumulative margin of each cell at ages 0..max_age, per draw.

    Ages that ended before the observation end's period are realised; from the age that
    holds the observation end on, it is the margin realised so far plus the expected margin
    from the observation end to the end of that age. The end of age k of a cohort in period
    p is the start of period p + k + 1 = end's period + j, with j = k - age_now + 1.
    """
    realised = grid.realised()
    n_future = max_age + 1 - int(grid.age_now.min())
    first_day_after = grid.end + pd.Timedelta(days=1)
    if n_future > 0:
        boundaries = period_start(grid.end_p + np.arange(1, n_future + 1), grid.period)
        days = np.asarray((boundaries - first_day_after).days, dtype="float64")
        unit = check_time_unit(model.time_unit)
        g_of = pd.MultiIndex.from_frame(grid.cells[["cohort", "source_id"]])
        codes = g_of.get_indexer(pd.MultiIndex.from_frame(buyers[["cohort", "source_id"]]))
        future = expected_by_group(
            model,
            rfm,
            codes,
            grid.n,
            days / DAYS_PER_UNIT[unit],
            n_draws=n_draws,
            scales=scales,
            source=buyers["source_id"].to_numpy(),
        ).revenue
    else:
        future = np.zeros((1, grid.n, 0))
    n_used = future.shape[0]
    out = np.empty((n_used, grid.n, max_age + 1))
    for k in range(max_age + 1):
        past = k < grid.age_now
        j = np.clip(k - grid.age_now, 0, max(n_future - 1, 0))
        ahead = realised[None, :] + margin * (
            future[:, np.arange(grid.n), j] if n_future > 0 else 0.0
        )
        cum_k = grid.cum[:, k] if k < grid.cum.shape[1] else np.full(grid.n, np.nan)
        out[:, :, k] = np.where(past[None, :], cum_k[None, :], ahead)
    return out
