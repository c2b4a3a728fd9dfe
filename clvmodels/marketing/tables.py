"""The tables of a payback analysis, built from its cell grid and predictions.

:func:`clvmodels.marketing.payback.payback_analysis` checks its settings
(:class:`PaybackSettings`), lays the cells out (:class:`clvmodels.marketing.grid.CellGrid`),
predicts them with a model (:class:`clvmodels.marketing.grid.Prediction`) and returns the
tables built here: ``cells`` (:func:`cells_table`), ``by_source`` (:func:`source_table`),
``by_cohort`` (:func:`cohort_table`) and ``by_age`` (:func:`age_table`). The measures are those of
:mod:`clvmodels.marketing.summary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvmodels.marketing.attribution import AttributionRule, check_attribution
from clvmodels.marketing.curves import by_age_table
from clvmodels.marketing.grid import CellGrid, Prediction
from clvmodels.marketing.summary import Grouping, summarise
from clvmodels.ranges import check_margin
from clvmodels.summaries.calendar import CohortPeriod, check_period, period_start


@dataclass(frozen=True)
class PaybackSettings:
    """The checked settings of a payback analysis (see :meth:`check`)."""

    period: CohortPeriod
    margin: float
    attribution: AttributionRule
    horizons: tuple[int, ...]

    @property
    def max_age(self) -> int:
        """How far predicted payback is looked for: the largest horizon."""
        return max(self.horizons)

    @classmethod
    def check(
        cls, *, period: str, margin: float, attribution: str, horizons: Sequence[int]
    ) -> PaybackSettings:
        """The checked settings.

        Raises ``ValueError`` for an unknown period or attribution rule, a margin outside
        (0, 1] or horizons that are not positive whole numbers (checked in that order).
        """
        return cls(
            period=check_period(period),
            margin=check_margin(margin),
            attribution=check_attribution(attribution),
            horizons=check_horizons(horizons),
        )


def check_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
    """The horizons as sorted distinct integers; ``ValueError`` unless positive whole numbers."""
    values = tuple(horizons)
    if not values or any(
        isinstance(h, bool) or not float(h).is_integer() or int(h) < 1 for h in values
    ):
        raise ValueError(f"horizons must be positive whole numbers of periods; got {horizons!r}")
    return tuple(sorted({int(h) for h in values}))


def cells_table(
    grid: CellGrid, predicted: np.ndarray | None, horizons: tuple[int, ...]
) -> pd.DataFrame:
    """``cells``: the measures of each (cohort, source), with its age at the observation end."""
    measures = summarise(grid, predicted, Grouping.each_cell(grid), horizons=horizons)
    parts = [
        grid.cells[["cohort", "source_id"]],
        measures.iloc[:, :3],
        grid.cells[["age_now", "age_now_complete"]],
        measures.iloc[:, 3:],
    ]
    return pd.concat(parts, axis=1)


def source_table(
    grid: CellGrid, prediction: Prediction | None, horizons: tuple[int, ...]
) -> pd.DataFrame:
    """``by_source``: the measures over each source's cells (ROMI and CAC where it has costs)."""
    names = sorted(grid.cells["source_id"].unique().tolist())
    key = pd.Categorical(grid.cells["source_id"], categories=names).codes
    grouping = Grouping(keys=key, n_keys=len(names), romi_member=grid.costs > 0, censored=True)
    predicted = prediction.draws if prediction is not None else None
    table = summarise(grid, predicted, grouping, horizons=horizons)
    without = np.bincount(
        key, weights=np.where(grid.costs > 0, 0, grid.buyers), minlength=len(names)
    )
    n_cohorts = np.bincount(key, minlength=len(names))
    table.insert(0, "source_id", names)
    table.insert(1, "n_cohorts", n_cohorts.astype("int64"))
    table.insert(3, "new_buyers_without_costs", without.astype("int64"))
    if prediction is not None and prediction.scales is not None:
        factors = prediction.scales.set_index("source_id").reindex(names)
        table["rate_ratio"] = factors["rate_ratio"].fillna(1.0).to_numpy()
        table["spend_ratio"] = factors["spend_ratio"].fillna(1.0).to_numpy()
    return table


def cohort_table(
    grid: CellGrid, predicted: np.ndarray | None, settings: PaybackSettings
) -> pd.DataFrame:
    """``by_cohort``: the measures over each cohort's cells, all buyers and costs."""
    values = np.sort(grid.cells["p"].unique())
    key = np.searchsorted(values, grid.cells["p"].to_numpy())
    grouping = Grouping(keys=key, n_keys=len(values), romi_member=np.ones(grid.n, bool))
    table = summarise(grid, predicted, grouping, horizons=settings.horizons)
    table.insert(0, "cohort", period_start(values, settings.period))
    table.insert(1, "n_sources", np.bincount(key, minlength=len(values)))
    return table


def age_table(
    grid: CellGrid, predicted: np.ndarray | None, settings: PaybackSettings, end: pd.Timestamp
) -> pd.DataFrame:
    """``by_age``, with the period, observation end and predicted ages in its ``attrs``."""
    max_age = settings.max_age if predicted is not None else None
    table = by_age_table(grid, predicted, max_age=max_age)
    table.attrs = {
        "period": settings.period,
        "observation_end": end.date().isoformat(),
        "predicted_max_age": max_age,
    }
    return table
