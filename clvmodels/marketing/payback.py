"""Acquisition economics: CAC, ROMI and payback per cohort and source, realised and predicted.

Definitions (docs/definitions.md, "CAC", "ROMI", "Payback"; cohorts and ages as in
:mod:`clvmodels.summaries.cohorts`; buyers, sources and cost cells as in
:mod:`clvmodels.marketing.attribution`; the steps are in :mod:`clvmodels.marketing.grid`,
:mod:`clvmodels.marketing.summary`, :mod:`clvmodels.marketing.curves` and
:mod:`clvmodels.marketing.tables`):

* **CAC** of a (cohort, source) cell = costs / new_buyers (undefined without buyers).
* **LTV_k** = cumulative margin (revenue x margin rate) of the cell's buyers at ages 0..k,
  divided by new_buyers; **ROMI_k** = LTV_k / CAC = cumulative margin / costs (undefined
  without costs; 0 when costs brought no buyer).
* **Payback age** = the first age k with ROMI_k >= 1 ("not yet" otherwise). Cumulative
  margin never falls, so a partly observed age that has already reached ROMI 1 counts.
  Averages over several cohorts at age k use only the cohorts that fully reached age k
  (right-censoring, as :func:`clvmodels.summaries.cohorts.average_ltv_curve`).
* **Predicted LTV_k** (with a fitted :class:`clvmodels.model.CLVModel`) = the margin
  realised up to the observation end plus the model's expected margin from then to the end
  of age k: for each of the cell's buyers, P(alive) x N(x, T, t) (FHL05 eq. 10, see
  :mod:`clvmodels.models.transaction`) times the Gamma-Gamma conditional mean spend (Fader & Hardie
  2013, eq. 5) times the margin rate, summed per posterior draw and divided by new_buyers;
  the mean over draws with a 94% equal-tailed interval. Each source's customers are
  predicted with that source's parameters, fitted on its own customers and shrunk toward
  the model (:mod:`clvmodels.marketing.sources`; ``source_adjustment=False`` uses the pooled
  model). Ages that ended before the observation end are the realised values.
  **Predicted ROMI_k** and the **predicted payback age** follow from predicted LTV_k.

Margin is *not* discounted here: payback and ROMI compare money spent with money earned
over a cohort's first months, as the classic empirical analysis does, and the predicted
curves must coincide with the realised ones for ages already observed. The budget
(:mod:`clvmodels.marketing.budget`) discounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.marketing import COST_COLUMNS
from clvmodels.data.rules import RULES
from clvmodels.marketing.attribution import (
    AttributionRule,
    attribute_buyers,
    check_attribution,
    check_cost_sources,
    check_date_ranges,
    costs_by_cohort,
    source_cohort_table,
)
from clvmodels.marketing.buyer_covariates import attach_model_covariates, covariate_columns
from clvmodels.marketing.grid import CellGrid, Prediction, check_cohort_costs, predict_cells
from clvmodels.marketing.tables import (
    PaybackSettings,
    age_table,
    cells_table,
    cohort_table,
    source_table,
)
from clvmodels.model import CLVModel
from clvmodels.ranges import check_margin
from clvmodels.summaries.calendar import CohortPeriod, check_period
from clvmodels.summaries.period import DateLike, Period, order_period, to_day
from clvmodels.summaries.rfm import rfm_summary

__all__ = [
    "BUYER_COLUMNS",
    "DEFAULT_HORIZONS",
    "PaybackOrders",
    "PaybackResult",
    "buyer_table",
    "payback_age",
    "payback_analysis",
    "payback_orders",
]

BUYER_COLUMNS = (
    "customer_id",
    "source_id",
    "cohort",
    "first_order",
    "first_touch",
    "last_touch",
    "frequency",
    "recency_days",
    "T_days",
    "monetary_value",
)
#: Default ages (in periods) at which predicted LTV and ROMI are reported.
DEFAULT_HORIZONS = (6, 12, 24)


def payback_age(romi: Sequence[float] | np.ndarray) -> int | None:
    """The first age k (index) with ``romi[k] >= 1``, or None when there is none.

    NaN entries (unobserved ages) never count as paid back.
    """
    values = np.asarray(romi, dtype="float64")
    hits = np.flatnonzero(values >= 1.0)
    return int(hits[0]) if hits.size else None


# --------------------------------------------------------------------------------------
# what payback takes from the orders
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaybackOrders:
    """What a payback analysis takes from the orders (with the visits, for attribution).

    :func:`payback_orders` builds it with DuckDB and pandas,
    :func:`clvmodels.spark.payback.payback_orders_spark` with Spark; :func:`payback_analysis`
    accepts it in place of the orders, so every later step is the same code for both.

    Attributes
    ----------
    dates : clvmodels.summaries.rfm.Period
        First and last order day and the observation end.
    n_orders : int
        Order rows up to the observation end.
    buyers : pandas.DataFrame
        One row per buyer (:func:`buyer_table`).
    stacked : pandas.DataFrame
        :func:`clvmodels.marketing.attribution.source_cohort_table` of the orders and buyers.
    attribution_report : dict
        The counts :func:`clvmodels.marketing.attribution.attribute_buyers` puts in ``attrs``.
    attribution, period, margin
        The settings they were computed with.
    """

    dates: Period
    n_orders: int
    buyers: pd.DataFrame
    stacked: pd.DataFrame
    attribution_report: dict[str, Any]
    attribution: AttributionRule
    period: CohortPeriod
    margin: float


def buyer_table(attributed: pd.DataFrame, rfm_days: pd.DataFrame) -> pd.DataFrame:
    """One row per buyer: the attribution of each buyer and their RFM in days.

    ``attributed`` is :func:`clvmodels.marketing.attribution.attribute_buyers`; ``rfm_days``
    is :func:`clvmodels.summaries.rfm.rfm_summary` with ``time_unit="D"`` at the same
    observation end. Returns :data:`BUYER_COLUMNS` in the order of ``attributed``.
    """
    rfm = rfm_days.rename(columns={"recency": "recency_days", "T": "T_days"})
    buyers = attributed.merge(rfm, on="customer_id", how="left", validate="one_to_one")
    buyers = buyers.loc[:, list(BUYER_COLUMNS)]
    buyers.attrs = {}
    return buyers


def payback_orders(
    orders: pd.DataFrame,
    visits: pd.DataFrame,
    *,
    attribution: AttributionRule = "first-touch",
    period: CohortPeriod = "month",
    margin: float = 1.0,
    observation_end: DateLike = None,
) -> PaybackOrders:
    """The orders' part of :func:`payback_analysis`: buyers, their sources and cohort tables.

    Parameters are those of :func:`payback_analysis`.
    """
    rule = check_attribution(attribution)
    unit = check_period(period)
    rate = check_margin(margin)
    dates = order_period(orders, observation_end=observation_end)
    end = dates.observation_end
    attributed = attribute_buyers(
        orders, visits, attribution=rule, period=unit, observation_end=end
    )
    buyers = buyer_table(attributed, rfm_summary(orders, time_unit="D", observation_end=end))
    stacked = source_cohort_table(orders, buyers, period=unit, margin=rate, observation_end=end)
    return PaybackOrders(
        dates=dates,
        n_orders=int((orders["timestamp"].dt.normalize() <= pd.Timestamp(end)).sum()),
        buyers=buyers,
        stacked=stacked,
        attribution_report=dict(attributed.attrs),
        attribution=rule,
        period=unit,
        margin=rate,
    )


def _check_same_settings(
    side: PaybackOrders,
    *,
    attribution: AttributionRule,
    period: CohortPeriod,
    margin: float,
    observation_end: DateLike,
) -> None:
    end = to_day(observation_end)
    asked: dict[str, object] = {"attribution": attribution, "period": period, "margin": margin}
    used: dict[str, object] = {
        "attribution": side.attribution,
        "period": side.period,
        "margin": side.margin,
    }
    if end is not None:
        asked["observation_end"], used["observation_end"] = end, side.dates.observation_end
    differ = [name for name in asked if asked[name] != used[name]]
    if differ:
        raise ValueError(
            "the PaybackOrders were computed with other settings: "
            + ", ".join(f"{name} {used[name]!r}, not {asked[name]!r}" for name in differ)
        )


# --------------------------------------------------------------------------------------
# the payback analysis
# --------------------------------------------------------------------------------------
@dataclass
class PaybackResult:
    """The tables of :func:`payback_analysis`.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per (cohort, source) with buyers or costs (see :func:`payback_analysis`).
    by_age : pandas.DataFrame
        One row per (cohort, source, age): empirical and predicted LTV and ROMI curves.
    by_source, by_cohort : pandas.DataFrame
        Totals per source and per cohort.
    buyers : pandas.DataFrame
        One row per buyer: attribution and RFM in days (:data:`BUYER_COLUMNS`).
    summary : dict
        Settings, date ranges, attribution counts and data-quality notes, ready for JSON.
    """

    cells: pd.DataFrame
    by_age: pd.DataFrame
    by_source: pd.DataFrame
    by_cohort: pd.DataFrame
    buyers: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def payback_analysis(
    orders: pd.DataFrame | PaybackOrders,
    visits: pd.DataFrame,
    costs: pd.DataFrame,
    *,
    model: CLVModel | None = None,
    attribution: AttributionRule = "first-touch",
    margin: float = 1.0,
    period: CohortPeriod = "month",
    observation_end: DateLike = None,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    n_draws: int | None = 200,
    source_adjustment: bool = True,
    customers: pd.DataFrame | None = None,
) -> PaybackResult:
    """CAC, ROMI and payback per (cohort, source), empirical and, with a model, predicted.

    Parameters
    ----------
    orders : pandas.DataFrame or PaybackOrders
        Validated orders (:func:`clvmodels.data.io.read_orders`), or what the analysis takes
        from them, computed already (:func:`payback_orders`,
        :func:`clvmodels.spark.payback.payback_orders_spark`) with the same attribution,
        margin, period and observation end.
    visits : pandas.DataFrame
        Validated visits (:func:`clvmodels.data.marketing.read_visits`).
    costs : pandas.DataFrame
        Validated costs (:func:`clvmodels.data.marketing.read_costs`).
    model : CLVModel, optional
        A fitted model (any time unit); adds the predicted columns.
    attribution : {"first-touch", "last-touch"}
        Which visit brings a buyer (see the module docstring).
    margin : float
        Share of revenue that is margin, within (0, 1].
    period : {"month", "week"}
        Cohort period and unit of age.
    observation_end : date, optional
        Orders, visits and costs after this day are not used; defaults to the day of the
        last order.
    horizons : sequence of int
        Ages (in periods) at which ROMI and predicted LTV are reported; the largest is also
        how far predicted payback is looked for.
    n_draws : int or None
        Posterior draws used for the predicted intervals.
    source_adjustment : bool
        Predict each source's customers with its own parameters
        (:func:`clvmodels.marketing.sources.source_scales`); False uses the pooled model.
    customers : pandas.DataFrame, optional
        For a model fitted with covariates (required then): the customers table holding them
        (``customer_id`` and the columns, :func:`clvmodels.data.customers.read_customers`).
        Each buyer is predicted at their own covariates, and ``buyers`` carries the columns.

    Returns
    -------
    PaybackResult
        ``cells`` has, per (cohort, source): ``cohort``, ``source_id``, ``new_buyers``,
        ``costs``, ``cac``, ``age_now`` (age at the observation end),
        ``age_now_complete``, ``ltv_to_date``, ``romi_to_date``, ``payback_age``
        (nullable integer), ``payback_status`` (``paid back``, ``not yet``, ``no costs``,
        ``no buyers``), ``romi_<h>`` for each horizon h (empirical, NaN until age h is
        complete) and, with a model, ``predicted_ltv_<h>`` and ``predicted_romi_<h>`` with
        ``_low``/``_high`` (94% interval), ``predicted_payback_age`` with ``_low``/``_high``
        and ``predicted_payback_status`` (``paid back``, ``predicted``,
        ``not within <H>``, ``no costs``, ``no buyers``). ``by_source`` and ``by_cohort``
        have the same measures over their cells; a source's ROMI and CAC use the cells
        where it has costs (``new_buyers_without_costs`` counts the others' buyers) and
        its empirical curve averages, at each age, the cohorts that fully reached it; a
        cohort's use all its buyers and costs, as the classic analysis does. With a model
        and source adjustment, ``by_source`` also has ``rate_ratio`` and ``spend_ratio``
        (the source's mean purchase rate and spend over the model's).

    Raises
    ------
    DataError
        When a table lacks a column or no buyer is left.
    ValueError
        For an unknown period or attribution rule, a margin outside (0, 1], horizons
        that are not positive whole numbers, or PaybackOrders computed with other settings.
    """
    settings = PaybackSettings.check(
        period=period, margin=margin, attribution=attribution, horizons=horizons
    )
    _require_columns(orders, visits, costs)
    side, range_notes = _orders_side(orders, visits, costs, settings, observation_end)
    end = pd.Timestamp(side.dates.observation_end)
    cost_cells = costs_by_cohort(costs, period=settings.period, observation_end=end)
    orphan_sources = check_cost_sources(cost_cells, visits)
    grid = CellGrid.build(side.buyers, cost_cells, side.stacked, period=settings.period, end=end)
    notes = _Notes(
        date_ranges=range_notes, orphan_sources=orphan_sources, uncosted=check_cohort_costs(grid)
    )
    buyers = attach_model_covariates(model, side.buyers, customers)
    prediction = None
    if model is not None:
        prediction = predict_cells(
            model,
            buyers,
            grid,
            max_age=settings.max_age,
            margin=settings.margin,
            n_draws=n_draws,
            adjust=source_adjustment,
        )
    predicted = prediction.draws if prediction is not None else None
    by_source = source_table(grid, prediction, settings.horizons)
    return PaybackResult(
        cells=cells_table(grid, predicted, settings.horizons),
        by_age=age_table(grid, predicted, settings, end),
        by_source=by_source,
        by_cohort=cohort_table(grid, predicted, settings),
        buyers=buyers,
        summary=_summary(
            settings,
            side,
            visits,
            costs,
            total_costs=float(cost_cells["costs"].sum()),
            sources=by_source["source_id"].tolist(),
            notes=notes,
            model=_model_summary(model, prediction),
        ),
    )


@dataclass(frozen=True)
class _Notes:
    """The data-quality findings of an analysis (each was warned about)."""

    date_ranges: list[str]
    orphan_sources: list[str]
    uncosted: list[str]


def _require_columns(
    orders: pd.DataFrame | PaybackOrders, visits: pd.DataFrame, costs: pd.DataFrame
) -> None:
    tables = [
        (visits, ("uid", "start_ts", "source_id"), "visits table"),
        (costs, COST_COLUMNS, "costs table"),
    ]
    if not isinstance(orders, PaybackOrders):
        tables.insert(0, (orders, ("customer_id", "timestamp", "revenue"), "orders table"))
    for frame, columns, what in tables:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise RULES["missing_column"].error(
                None, table=what, columns=", ".join(map(repr, absent))
            )


def _orders_side(
    orders: pd.DataFrame | PaybackOrders,
    visits: pd.DataFrame,
    costs: pd.DataFrame,
    settings: PaybackSettings,
    observation_end: DateLike,
) -> tuple[PaybackOrders, list[str]]:
    """What the analysis takes from the orders, and the notes on the tables' date ranges."""
    if isinstance(orders, PaybackOrders):
        _check_same_settings(
            orders,
            attribution=settings.attribution,
            period=settings.period,
            margin=settings.margin,
            observation_end=observation_end,
        )
        dates = orders.dates
        # the first and last order: all check_date_ranges reads of the orders
        extent = pd.DataFrame({"timestamp": pd.to_datetime([dates.first_order, dates.last_order])})
        notes = check_date_ranges(extent, visits, costs, observation_end=dates.observation_end)
        return orders, notes
    if len(orders) == 0:
        raise RULES["no_rows"].error(None, where="")
    dates = order_period(orders, observation_end=observation_end)
    notes = check_date_ranges(orders, visits, costs, observation_end=dates.observation_end)
    side = payback_orders(
        orders,
        visits,
        attribution=settings.attribution,
        period=settings.period,
        margin=settings.margin,
        observation_end=dates.observation_end,
    )
    return side, notes


def _summary(
    settings: PaybackSettings,
    side: PaybackOrders,
    visits: pd.DataFrame,
    costs: pd.DataFrame,
    *,
    total_costs: float,
    sources: list[str],
    notes: _Notes,
    model: dict[str, Any] | None,
) -> dict[str, Any]:
    """``summary``: settings, date ranges, counts and data-quality notes, ready for JSON."""
    return {
        "period": settings.period,
        "margin": settings.margin,
        "attribution": settings.attribution,
        "observation_end": pd.Timestamp(side.dates.observation_end).date().isoformat(),
        "first_order": side.dates.first_order.isoformat(),
        "horizons": list(settings.horizons),
        "n_orders": side.n_orders,
        "n_visits": len(visits),
        "n_cost_rows": len(costs),
        "visits_range": _range(visits["start_ts"]),
        "costs_range": _range(costs["dt"]),
        "total_costs": total_costs,
        **side.attribution_report,
        "sources": sources,
        "cost_sources_without_visits": notes.orphan_sources,
        "cohorts_without_costs": notes.uncosted,
        "notes": notes.date_ranges,
        "model": model,
    }


def _model_summary(model: CLVModel | None, prediction: Prediction | None) -> dict[str, Any] | None:
    """The ``model`` part of the summary (None without a model)."""
    if model is None or prediction is None:
        return None
    scales = prediction.scales
    return {
        "time_unit": model.time_unit,
        "observation_end": model.data_info_.get("calibration_end"),
        "n_draws": int(prediction.draws.shape[0]),
        "source_adjustment": scales is not None,
        "source_scales": None if scales is None else scales.to_dict(orient="records"),
        "covariates": list(covariate_columns(model)),
    }


def _range(column: pd.Series) -> list[str] | None:
    if len(column) == 0:
        return None
    return [
        pd.Timestamp(column.min()).date().isoformat(),
        pd.Timestamp(column.max()).date().isoformat(),
    ]
