"""Acquisition economics: CAC, ROMI and payback per cohort and source, realised and predicted.

Definitions (docs/definitions.md, "CAC", "ROMI", "Payback"; cohorts and ages as in
:mod:`clvmodels.summaries.cohorts`; buyers, sources and cost cells as in
:mod:`clvmodels.marketing.attribution`,
whose functions this module re-exports):

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

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.marketing import (
    COST_COLUMNS,
    VISIT_COLUMNS,
    read_costs,
    read_visits,
    validate_costs,
    validate_visits,
)
from clvmodels.errors import DataError, DataQualityWarning
from clvmodels.marketing.attribution import (
    ATTRIBUTION_RULES,
    UNKNOWN_SOURCE,
    AttributionRule,
    attribute_buyers,
    check_attribution,
    check_date_ranges,
    costs_by_cohort,
    source_cohort_table,
)
from clvmodels.marketing.sources import expected_by_group, rfm_in_units, source_scales
from clvmodels.model import CLVModel
from clvmodels.models.posterior import INTERVAL_PROB
from clvmodels.ranges import check_margin
from clvmodels.summaries.calendar import CohortPeriod, check_period, period_index, period_start
from clvmodels.summaries.period import DateLike, Period, order_period, to_day
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import DAYS_PER_UNIT, check_time_unit

__all__ = [
    "ATTRIBUTION_RULES",
    "BUYER_COLUMNS",
    "COST_COLUMNS",
    "DEFAULT_HORIZONS",
    "UNKNOWN_SOURCE",
    "VISIT_COLUMNS",
    "PaybackOrders",
    "PaybackResult",
    "attribute_buyers",
    "buyer_table",
    "check_attribution",
    "check_date_ranges",
    "costs_by_cohort",
    "payback_age",
    "payback_analysis",
    "payback_orders",
    "read_costs",
    "read_visits",
    "source_cohort_table",
    "source_romi_curves",
    "validate_costs",
    "validate_visits",
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

_LOW, _HIGH = (1 - INTERVAL_PROB) / 2, 1 - (1 - INTERVAL_PROB) / 2


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
    :func:`clvmodels.spark.engine.payback_orders_spark` with Spark; :func:`payback_analysis`
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
        :func:`source_cohort_table` of the orders and buyers.
    attribution_report : dict
        The counts :func:`attribute_buyers` puts in ``attrs``.
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
    """One row per buyer: :func:`attribute_buyers`' columns and RFM in days.

    ``rfm_days`` is :func:`clvmodels.summaries.rfm.rfm_summary` with ``time_unit="D"`` at the same
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
) -> PaybackResult:
    """CAC, ROMI and payback per (cohort, source), empirical and, with a model, predicted.

    Parameters
    ----------
    orders : pandas.DataFrame or PaybackOrders
        Validated orders (:func:`clvmodels.data.io.read_orders`), or what the analysis takes
        from them, computed already (:func:`payback_orders`,
        :func:`clvmodels.spark.engine.payback_orders_spark`) with the same attribution,
        margin, period and observation end.
    visits : pandas.DataFrame
        Validated visits (:func:`read_visits`).
    costs : pandas.DataFrame
        Validated costs (:func:`read_costs`).
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
    unit = check_period(period)
    rate = check_margin(margin)
    rule = check_attribution(attribution)
    ages_wanted = _check_horizons(horizons)
    tables = [
        (visits, ("uid", "start_ts", "source_id"), "visits table"),
        (costs, COST_COLUMNS, "costs table"),
    ]
    if not isinstance(orders, PaybackOrders):
        tables.insert(0, (orders, ("customer_id", "timestamp", "revenue"), "orders table"))
    for frame, columns, what in tables:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise DataError(f"the {what} has no column {', '.join(map(repr, absent))}")
    if isinstance(orders, PaybackOrders):
        _check_same_settings(
            orders, attribution=rule, period=unit, margin=rate, observation_end=observation_end
        )
        dates = orders.dates
        # the first and last order: all check_date_ranges reads of the orders
        extent = pd.DataFrame({"timestamp": pd.to_datetime([dates.first_order, dates.last_order])})
        range_notes = check_date_ranges(
            extent, visits, costs, observation_end=dates.observation_end
        )
        side = orders
    else:
        if len(orders) == 0:
            raise DataError("the orders table has no rows")
        dates = order_period(orders, observation_end=observation_end)
        range_notes = check_date_ranges(
            orders, visits, costs, observation_end=dates.observation_end
        )
        side = payback_orders(
            orders,
            visits,
            attribution=rule,
            period=unit,
            margin=rate,
            observation_end=dates.observation_end,
        )
    end = pd.Timestamp(dates.observation_end)
    buyers = side.buyers
    attribution_report = dict(side.attribution_report)

    cost_cells = costs_by_cohort(costs, period=unit, observation_end=end)
    visit_sources = set(visits["source_id"].astype(str))
    orphan = cost_cells.loc[~cost_cells["source_id"].isin(visit_sources)]
    orphan_sources = sorted(orphan["source_id"].unique().tolist())
    if orphan_sources:
        warnings.warn(
            f"the costs name {len(orphan_sources)} source(s) that never appear in the visits "
            f"({', '.join(map(repr, orphan_sources[:5]))}; {orphan['costs'].sum():,.2f} in "
            "total): they bring no buyers and are kept in the totals (ROMI 0)",
            DataQualityWarning,
            stacklevel=2,
        )
    grid = _Grid.build(buyers, cost_cells, side.stacked, period=unit, end=end)
    uncosted = _cohorts_without_costs(grid)
    if uncosted:
        warnings.warn(
            f"{len(uncosted)} cohort(s) with buyers have no costs at all "
            f"({', '.join(uncosted[:3])}{', ...' if len(uncosted) > 3 else ''}): "
            "their CAC and ROMI are undefined ('no costs')",
            DataQualityWarning,
            stacklevel=2,
        )

    max_age = max(ages_wanted)
    predicted = None
    scales = None
    if model is not None:
        rfm_model = rfm_in_units(buyers, model.time_unit)
        if source_adjustment:
            scales = source_scales(model, rfm_model, buyers["source_id"].to_numpy())
        predicted = _predicted_cumulative_margin(
            model,
            rfm_model,
            buyers,
            grid,
            max_age=max_age,
            margin=rate,
            n_draws=n_draws,
            scales=scales,
        )

    cells = grid.cells.copy()
    cells_summary = _summarise(
        grid,
        predicted,
        keys=np.arange(grid.n),
        n_keys=grid.n,
        romi_member=np.ones(grid.n, bool),
        censored=False,
        horizons=ages_wanted,
        max_age=max_age,
    )
    parts = [
        cells[["cohort", "source_id"]],
        cells_summary.iloc[:, :3],
        cells[["age_now", "age_now_complete"]],
        cells_summary.iloc[:, 3:],
    ]
    cells = pd.concat(parts, axis=1)

    source_names = sorted(grid.cells["source_id"].unique().tolist())
    source_key = pd.Categorical(grid.cells["source_id"], categories=source_names).codes
    by_source = _summarise(
        grid,
        predicted,
        keys=source_key,
        n_keys=len(source_names),
        romi_member=grid.costs > 0,
        censored=True,
        horizons=ages_wanted,
        max_age=max_age,
    )
    without = np.bincount(
        source_key, weights=np.where(grid.costs > 0, 0, grid.buyers), minlength=len(source_names)
    )
    n_cohorts = np.bincount(source_key, minlength=len(source_names))
    by_source.insert(0, "source_id", source_names)
    by_source.insert(1, "n_cohorts", n_cohorts.astype("int64"))
    by_source.insert(3, "new_buyers_without_costs", without.astype("int64"))
    if scales is not None:
        factors = scales.set_index("source_id").reindex(source_names)
        by_source["rate_ratio"] = factors["rate_ratio"].fillna(1.0).to_numpy()
        by_source["spend_ratio"] = factors["spend_ratio"].fillna(1.0).to_numpy()

    cohort_values = np.sort(grid.cells["p"].unique())
    cohort_key = np.searchsorted(cohort_values, grid.cells["p"].to_numpy())
    by_cohort = _summarise(
        grid,
        predicted,
        keys=cohort_key,
        n_keys=len(cohort_values),
        romi_member=np.ones(grid.n, bool),
        censored=False,
        horizons=ages_wanted,
        max_age=max_age,
    )
    by_cohort.insert(0, "cohort", period_start(cohort_values, unit))
    by_cohort.insert(1, "n_sources", np.bincount(cohort_key, minlength=len(cohort_values)))

    by_age = _by_age_table(grid, predicted, max_age=max_age if predicted is not None else None)
    by_age.attrs = {
        "period": unit,
        "observation_end": end.date().isoformat(),
        "predicted_max_age": max_age if predicted is not None else None,
    }

    summary: dict[str, Any] = {
        "period": unit,
        "margin": rate,
        "attribution": rule,
        "observation_end": end.date().isoformat(),
        "first_order": dates.first_order.isoformat(),
        "horizons": list(ages_wanted),
        "n_orders": side.n_orders,
        "n_visits": len(visits),
        "n_cost_rows": len(costs),
        "visits_range": _range(visits["start_ts"]),
        "costs_range": _range(costs["dt"]),
        "total_costs": float(cost_cells["costs"].sum()),
        **attribution_report,
        "sources": source_names,
        "cost_sources_without_visits": orphan_sources,
        "cohorts_without_costs": uncosted,
        "notes": range_notes,
        "model": None,
    }
    if model is not None and predicted is not None:
        summary["model"] = {
            "time_unit": model.time_unit,
            "observation_end": model.data_info_.get("calibration_end"),
            "n_draws": int(predicted.shape[0]),
            "source_adjustment": scales is not None,
            "source_scales": None if scales is None else scales.to_dict(orient="records"),
        }
    return PaybackResult(
        cells=cells,
        by_age=by_age,
        by_source=by_source,
        by_cohort=by_cohort,
        buyers=buyers,
        summary=summary,
    )


def _check_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
    values = tuple(horizons)
    if not values or any(
        isinstance(h, bool) or not float(h).is_integer() or int(h) < 1 for h in values
    ):
        raise ValueError(f"horizons must be positive whole numbers of periods; got {horizons!r}")
    return tuple(sorted({int(h) for h in values}))


def _range(column: pd.Series) -> list[str] | None:
    if len(column) == 0:
        return None
    return [
        pd.Timestamp(column.min()).date().isoformat(),
        pd.Timestamp(column.max()).date().isoformat(),
    ]


@dataclass(frozen=True)
class _Grid:
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
    ) -> _Grid:
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


def _cohorts_without_costs(grid: _Grid) -> list[str]:
    cells = grid.cells
    per_cohort = cells.groupby("cohort").agg(buyers=("new_buyers", "sum"), costs=("costs", "sum"))
    empty = per_cohort.loc[(per_cohort["buyers"] > 0) & (per_cohort["costs"] == 0)]
    fmt = "%Y-%m" if grid.period == "month" else "%Y-%m-%d"
    return [c.strftime(fmt) for c in empty.index]


def _predicted_cumulative_margin(
    model: CLVModel,
    rfm: pd.DataFrame,
    buyers: pd.DataFrame,
    grid: _Grid,
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


def _first_at_least_one(curves: np.ndarray) -> np.ndarray:
    """Index of the first value >= 1 along the last axis; -1 where there is none."""
    hit = curves >= 1.0
    return np.where(hit.any(axis=-1), hit.argmax(axis=-1), -1)


def _summarise(
    grid: _Grid,
    predicted: np.ndarray | None,
    *,
    keys: np.ndarray,
    n_keys: int,
    romi_member: np.ndarray,
    censored: bool,
    horizons: tuple[int, ...],
    max_age: int,
) -> pd.DataFrame:
    """The measures of :func:`payback_analysis` for cells grouped by ``keys``."""
    member = np.zeros((n_keys, grid.n))
    member[keys, np.arange(grid.n)] = 1.0
    romi_w = member * romi_member[None, :]
    buyers = member @ grid.buyers
    costs = member @ grid.costs
    romi_costs = romi_w @ grid.costs
    romi_buyers = romi_w @ grid.buyers
    realised = grid.realised()
    cum0 = np.nan_to_num(grid.cum)
    observed = ~np.isnan(grid.cum)

    def curve(mask: np.ndarray) -> np.ndarray:
        numerator = romi_w @ (cum0 * mask)
        denominator = romi_w @ (grid.costs[:, None] * mask)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0, numerator / denominator, np.nan)

    complete_curve = curve(grid.complete)
    payback_curve = complete_curve if censored else curve(observed)
    with np.errstate(divide="ignore", invalid="ignore"):
        cac = np.where(romi_buyers > 0, romi_costs / romi_buyers, np.nan)
        ltv_to_date = np.where(buyers > 0, (member @ realised) / buyers, np.nan)
        romi_to_date = np.where(romi_costs > 0, (romi_w @ realised) / romi_costs, np.nan)
    paid = _first_at_least_one(payback_curve)
    no_costs = romi_costs <= 0
    no_buyers = ~no_costs & (buyers <= 0)
    out: dict[str, Any] = {
        "new_buyers": buyers.astype("int64"),
        "costs": costs,
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
    if predicted is None:
        return pd.DataFrame(out)

    # predicted: per draw, summed over the members, then mean and 94% interval
    pred_total = np.einsum("kg,dga->dka", member, predicted)
    pred_romi_num = np.einsum("kg,dga->dka", romi_w, predicted)
    with np.errstate(divide="ignore", invalid="ignore"):
        ltv_draws = np.where(buyers[None, :, None] > 0, pred_total / buyers[None, :, None], np.nan)
        romi_draws = np.where(
            romi_costs[None, :, None] > 0, pred_romi_num / romi_costs[None, :, None], np.nan
        )
    for h in horizons:
        for name, draws in (("ltv", ltv_draws[:, :, h]), ("romi", romi_draws[:, :, h])):
            out[f"predicted_{name}_{h}"] = draws.mean(axis=0)
            low, high = _interval(draws)
            out[f"predicted_{name}_{h}_low"] = low
            out[f"predicted_{name}_{h}_high"] = high
    mean_paid = _first_at_least_one(romi_draws.mean(axis=0))
    draw_paid = _first_at_least_one(romi_draws).astype("float64")
    draw_paid[draw_paid < 0] = np.inf
    low_paid = np.quantile(draw_paid, _LOW, axis=0, method="inverted_cdf")
    high_paid = np.quantile(draw_paid, _HIGH, axis=0, method="inverted_cdf")
    out["predicted_payback_age"] = _nullable_int(mean_paid)
    out["predicted_payback_age_low"] = _nullable_int(np.where(np.isfinite(low_paid), low_paid, -1))
    out["predicted_payback_age_high"] = _nullable_int(
        np.where(np.isfinite(high_paid), high_paid, -1)
    )
    already = paid >= 0
    out["predicted_payback_status"] = np.where(
        no_costs,
        "no costs",
        np.where(
            no_buyers,
            "no buyers",
            np.where(
                already,
                "paid back",
                np.where(mean_paid >= 0, "predicted", f"not within {max_age}"),
            ),
        ),
    ).astype(object)
    return pd.DataFrame(out)


def _interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if np.isnan(draws).all():
        empty = np.full(draws.shape[1:], np.nan)
        return empty, empty
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanquantile(draws, [_LOW, _HIGH], axis=0)
    return low, high


def _nullable_int(values: np.ndarray) -> pd.arrays.IntegerArray:
    ints = np.asarray(values, dtype="float64")
    result = pd.array(np.where(ints >= 0, ints, 0).astype("int64"), dtype="Int64")
    result[ints < 0] = pd.NA
    return result


def _by_age_table(
    grid: _Grid, predicted: np.ndarray | None, *, max_age: int | None
) -> pd.DataFrame:
    """One row per (cell, age): empirical curves to ``age_now`` and predicted to ``max_age``."""
    last = grid.age_now.copy()
    if max_age is not None:
        last = np.maximum(last, max_age)
    n_rows = last + 1
    g = np.repeat(np.arange(grid.n), n_rows)
    age = np.concatenate([np.arange(n) for n in n_rows]) if grid.n else np.array([], int)
    n_ages = grid.cum.shape[1]
    inside = age < n_ages
    safe_age = np.where(inside, age, 0)

    def pick(values: np.ndarray, fill: float) -> np.ndarray:
        return np.where(inside, values[g, safe_age], fill)

    cum = pick(grid.cum, np.nan)
    buyers = grid.buyers[g]
    costs = grid.costs[g]
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame(
            {
                "cohort": grid.cells["cohort"].to_numpy()[g],
                "source_id": grid.cells["source_id"].to_numpy()[g],
                "age": age.astype("int64"),
                "new_buyers": buyers.astype("int64"),
                "costs": costs,
                "cac": np.where(buyers > 0, costs / buyers, np.nan),
                "active_customers": pick(grid.active.astype("float64"), np.nan),
                "margin": pick(grid.margin, np.nan),
                "cumulative_margin": cum,
                "cumulative_ltv": np.where(buyers > 0, cum / buyers, np.nan),
                "romi": np.where(costs > 0, cum / costs, np.nan),
                "complete": pick(grid.complete.astype("float64"), 0.0) > 0.5,
                "observed": age <= grid.age_now[g],
            }
        )
        table["active_customers"] = table["active_customers"].astype("Int64")
        if predicted is not None and max_age is not None:
            within = age <= max_age
            safe = np.where(within, age, 0)
            draws = np.where(within[None, :], predicted[:, g, safe], np.nan)
            ltv = np.where(buyers[None, :] > 0, draws / buyers[None, :], np.nan)
            romi = np.where(costs[None, :] > 0, draws / costs[None, :], np.nan)
            for name, values in (("cumulative_ltv", ltv), ("romi", romi)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    table[f"predicted_{name}"] = np.nanmean(values, axis=0)
                low, high = _interval(values)
                table[f"predicted_{name}_low"] = low
                table[f"predicted_{name}_high"] = high
    return table


def source_romi_curves(by_age: pd.DataFrame) -> pd.DataFrame:
    """ROMI by age per source, from :attr:`PaybackResult.by_age`.

    The empirical curve at age k sums the cumulative margin and the costs of the source's
    cells (with costs) whose age k is complete (right-censoring); the predicted curve, when
    ``by_age`` has predicted columns, sums every cell's predicted cumulative margin
    (``predicted_cumulative_ltv * new_buyers``) over the same cells' costs.

    Returns
    -------
    pandas.DataFrame
        ``source_id``, ``age``, ``n_cohorts`` (complete cells used), ``romi`` (NaN where no
        cell is complete) and, with predictions, ``predicted_romi``.
    """
    rows = by_age.loc[by_age["costs"] > 0]
    done = rows.loc[rows["complete"].astype(bool)]
    empirical = done.groupby(["source_id", "age"]).agg(
        n_cohorts=("costs", "size"),
        margin=("cumulative_margin", "sum"),
        costs=("costs", "sum"),
    )
    empirical["romi"] = empirical["margin"] / empirical["costs"]
    curves = empirical[["n_cohorts", "romi"]]
    if "predicted_cumulative_ltv" in by_age.columns:
        last = by_age.attrs.get("predicted_max_age")
        last = int(last) if last is not None else int(by_age["age"].max())
        ahead = rows.loc[rows["age"] <= last]
        margin = (ahead["predicted_cumulative_ltv"].fillna(0.0) * ahead["new_buyers"]).rename(
            "margin"
        )
        predicted = (
            pd.concat([ahead[["source_id", "age", "costs"]], margin], axis=1)
            .groupby(["source_id", "age"])[["margin", "costs"]]
            .sum()
        )
        predicted["predicted_romi"] = predicted["margin"] / predicted["costs"]
        curves = curves.join(predicted[["predicted_romi"]], how="outer")
    out = curves.reset_index()
    out["n_cohorts"] = out["n_cohorts"].fillna(0).astype("int64")
    return out.sort_values(["source_id", "age"], ignore_index=True)
