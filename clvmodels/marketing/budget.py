"""Budget: what a new customer from each source is worth, and what the current base will bring.

Definitions (docs/definitions.md; the per-source model is :mod:`clvmodels.marketing.sources`):

* **Value of a new customer** from source s within H months: the first purchase plus the
  expected repeat purchases of a newly acquired customer (FHL05 eq. 9, with the source's
  parameters), each worth the source's Gamma-Gamma mean spend p v / (q - 1), times the
  margin, month m discounted by (1 + annual rate)^(m / 12) (the CLV of docs/definitions.md; see
  :func:`clvmodels.marketing.sources.new_customer_value`). Months count from acquisition (model
  months of 365.25 / 12 days), not calendar ages.
* **Maximum affordable CAC** for a target payback of P months = the value within P months:
  paying more than that per customer does not pay back (discounted) by month P.
* **Current CAC** of a source = its costs over the latest ``recent_periods`` cohort periods
  of the payback table (:func:`clvmodels.marketing.payback.payback_analysis`; periods with buyers
  or costs) divided by the buyers it brought in them.
* **Headroom** = maximum affordable CAC - current CAC (``headroom_share`` divides by the
  current CAC). The suggested **direction** is ``increase`` when the current CAC is below
  the interval's lower end of the affordable CAC by more than ``tolerance``, ``decrease``
  when it is above its upper end by more than ``tolerance``, and ``hold`` in between;
  ``decrease`` also when recent costs brought no buyer, and ``no costs`` when the source
  has none. The model cannot see that CAC usually rises as a budget grows (diminishing
  returns): move in steps and re-measure.
* **Revenue forecast** of the existing base, month m = 1..H after the observation end: the
  sum over customers of E[X(t_m)] - E[X(t_{m-1})] (FHL05 eq. 10) times their conditional
  mean spend (Fader & Hardie 2013, eq. 5), per posterior draw (so the 94% interval is
  parameter uncertainty, not the Poisson noise of purchases); undiscounted revenue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.rules import RULES
from clvmodels.marketing.buyer_covariates import attach_model_covariates, covariate_columns
from clvmodels.marketing.new_customers import new_customer_value
from clvmodels.marketing.sources import (
    expected_by_group,
    factors_of,
    rfm_in_units,
    source_scales,
)
from clvmodels.model import CLVModel
from clvmodels.models.posterior import INTERVAL_QUANTILES
from clvmodels.ranges import check_annual_discount_rate, check_margin
from clvmodels.summaries.calendar import CohortPeriod, check_period
from clvmodels.summaries.period import DateLike, to_day
from clvmodels.units import DAYS_PER_UNIT, check_time_unit, units_per_month

BUDGET_COLUMNS = (
    "source_id",
    "rate_ratio",
    "spend_ratio",
    "value_at_target",
    "value_at_target_low",
    "value_at_target_high",
    "value_at_horizon",
    "value_at_horizon_low",
    "value_at_horizon_high",
    "max_affordable_cac",
    "max_affordable_cac_low",
    "max_affordable_cac_high",
    "recent_costs",
    "recent_buyers",
    "current_cac",
    "headroom",
    "headroom_share",
    "romi_at_horizon",
    "payback_months",
    "direction",
)
FORECAST_COLUMNS = (
    "month",
    "start",
    "end",
    "expected_purchases",
    "expected_purchases_low",
    "expected_purchases_high",
    "expected_revenue",
    "expected_revenue_low",
    "expected_revenue_high",
    "cumulative_revenue",
    "cumulative_revenue_low",
    "cumulative_revenue_high",
)
DIRECTIONS = ("increase", "hold", "decrease", "no costs")

_LOW, _HIGH = INTERVAL_QUANTILES
_BUYER_COLUMNS = (
    "customer_id",
    "source_id",
    "frequency",
    "recency_days",
    "T_days",
    "monetary_value",
)
_CELL_COLUMNS = ("cohort", "source_id", "new_buyers", "costs")


def budget_recommendation(
    model: CLVModel,
    cells: pd.DataFrame,
    buyers: pd.DataFrame,
    *,
    target_payback_months: int = 6,
    horizon_months: int = 12,
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    period: CohortPeriod = "month",
    recent_periods: int = 3,
    tolerance: float = 0.1,
    n_draws: int | None = 200,
    source_adjustment: bool = True,
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per source: a new customer's value, the affordable CAC, the current CAC, a direction.

    Parameters
    ----------
    model : CLVModel
        A fitted model.
    cells : pandas.DataFrame
        :attr:`clvmodels.marketing.payback.PaybackResult.cells` (``cohort, source_id,
        new_buyers, costs``).
    buyers : pandas.DataFrame
        :attr:`clvmodels.marketing.payback.PaybackResult.buyers` (``customer_id, source_id,
        frequency, recency_days, T_days, monetary_value``): the customers whose histories
        fit each source's parameters.
    target_payback_months : int
        Months within which a new customer should pay back their CAC.
    horizon_months : int
        Months of the longer-term value (``value_at_horizon``, ``romi_at_horizon``).
    annual_discount_rate : float
        Yearly discount rate of future margin.
    margin : float
        Share of revenue that is margin, within (0, 1].
    period : {"month", "week"}
        The cohort period of ``cells``.
    recent_periods : int
        How many of the latest cohort periods in ``cells`` give the current CAC.
    tolerance : float
        Relative band around the affordable CAC's interval in which the direction is
        ``hold``.
    n_draws : int or None
        Posterior draws used for the intervals.
    source_adjustment : bool
        Give each source its own parameters (:func:`clvmodels.marketing.sources.source_scales`);
        without it every source gets the pooled new-customer value.
    customers : pandas.DataFrame, optional
        For a model fitted with covariates whose columns ``buyers`` lacks: the customers
        table holding them (:func:`clvmodels.marketing.buyer_covariates.attach_model_covariates`).
        A source's new-customer value then averages over its buyers' covariate profiles
        (all buyers' for a source without buyers; :mod:`clvmodels.marketing.sources`).

    Returns
    -------
    pandas.DataFrame
        One row per source (:data:`BUDGET_COLUMNS`); values are per new customer, in the
        currency of the revenue, discounted. ``payback_months`` is the first whole month
        (from acquisition, within ``max(target, horizon)``) at which the value reaches the
        current CAC, missing when it does not. ``attrs`` holds the settings.
    """
    targets = _Targets(
        target=_check_months(target_payback_months, "target_payback_months"),
        horizon=_check_months(horizon_months, "horizon_months"),
        tolerance=tolerance,
    )
    rate = check_margin(margin)
    unit = check_period(period)
    check_annual_discount_rate(annual_discount_rate)
    if not (isinstance(recent_periods, int) and recent_periods >= 1):
        raise ValueError(f"recent_periods must be a positive whole number; got {recent_periods!r}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must not be negative; got {tolerance!r}")
    _require(cells, _CELL_COLUMNS, "payback table")
    _require(buyers, _BUYER_COLUMNS, "buyers table")
    recent, recent_labels = _recent_cac(cells, unit, recent_periods)

    buyers = attach_model_covariates(model, buyers, customers)
    columns = covariate_columns(model)
    rfm = rfm_in_units(buyers, model.time_unit, columns)
    labels = buyers["source_id"].astype(str).to_numpy()
    sources = sorted(set(cells["source_id"].astype(str)) | set(labels))
    scales = None
    if source_adjustment and len(buyers):
        scales = source_scales(model, rfm, labels)
    months = np.arange(max(targets.target, targets.horizon) + 1, dtype="float64")
    rows = []
    n_used = 0
    for source_id in sources:
        values = new_customer_value(
            model,
            months,
            margin=rate,
            annual_discount_rate=annual_discount_rate,
            factors=factors_of(scales, source_id),
            n_draws=n_draws,
            customers=_profiles_of(rfm, labels, source_id) if columns else None,
        )
        n_used = values.shape[0]
        spent_bought = recent.get(source_id, (0.0, 0))
        rows.append(
            _source_row(source_id, values, spent_bought, _ratios(scales, source_id), targets)
        )
    table = pd.DataFrame(rows, columns=list(BUDGET_COLUMNS))
    table["payback_months"] = table["payback_months"].astype("Int64")
    table.attrs = {
        "target_payback_months": targets.target,
        "horizon_months": targets.horizon,
        "annual_discount_rate": float(annual_discount_rate),
        "margin": rate,
        "recent_periods": recent_periods,
        "recent_cohorts": recent_labels,
        "period": unit,
        "tolerance": float(tolerance),
        "n_draws": n_used,
        "source_adjustment": scales is not None,
        "covariates": list(columns),
        "new_customer_covariates": NEW_CUSTOMER_COVARIATES if columns else None,
    }
    return table


#: How a new customer's covariates are taken (``attrs`` of a budget with covariates).
NEW_CUSTOMER_COVARIATES = (
    "a new customer's value is the average over the source's buyers of the value at each "
    "buyer's covariates (over all buyers for a source without buyers)"
)


def _profiles_of(rfm: pd.DataFrame, labels: np.ndarray, source_id: str) -> pd.DataFrame:
    """The buyers of a source (all buyers when it has none): whose covariates are averaged."""
    own = rfm.loc[labels == source_id]
    return own if len(own) else rfm


@dataclass(frozen=True)
class _Targets:
    """The months a new customer's value is read at, and the relative band of ``hold``."""

    target: int
    horizon: int
    tolerance: float


def _source_row(
    source_id: str,
    values: np.ndarray,
    spent_bought: tuple[float, int],
    ratios: dict[str, float],
    targets: _Targets,
) -> dict[str, Any]:
    """One row of the budget table from the source's new-customer value draws (by month)."""
    target, horizon = targets.target, targets.horizon
    mean = values.mean(axis=0)
    low, high = np.quantile(values, [_LOW, _HIGH], axis=0)
    spent, bought = spent_bought
    current = spent / bought if bought > 0 else (math.inf if spent > 0 else math.nan)
    reached = np.flatnonzero(mean >= current) if math.isfinite(current) else np.array([])
    return {
        "source_id": source_id,
        **ratios,
        "value_at_target": mean[target],
        "value_at_target_low": low[target],
        "value_at_target_high": high[target],
        "value_at_horizon": mean[horizon],
        "value_at_horizon_low": low[horizon],
        "value_at_horizon_high": high[horizon],
        "max_affordable_cac": mean[target],
        "max_affordable_cac_low": low[target],
        "max_affordable_cac_high": high[target],
        "recent_costs": spent,
        "recent_buyers": int(bought),
        "current_cac": current if math.isfinite(current) else math.nan,
        "headroom": mean[target] - current if math.isfinite(current) else math.nan,
        "headroom_share": (
            mean[target] / current - 1 if math.isfinite(current) and current > 0 else math.nan
        ),
        "romi_at_horizon": (
            mean[horizon] / current if math.isfinite(current) and current > 0 else math.nan
        ),
        "payback_months": int(reached[0]) if reached.size else None,
        "direction": _direction(current, spent, low[target], high[target], targets.tolerance),
    }


def _recent_cac(
    cells: pd.DataFrame, period: CohortPeriod, recent_periods: int
) -> tuple[dict[str, tuple[float, int]], list[str]]:
    """Costs and buyers per source over the latest cohort periods, and those periods."""
    cohorts = pd.to_datetime(cells["cohort"])
    keep = sorted(cohorts.unique())[-recent_periods:]
    rows = cells.loc[cohorts.isin(keep)]
    sums = rows.groupby(rows["source_id"].astype(str))[["costs", "new_buyers"]].sum()
    recent = {str(s): (float(r["costs"]), int(r["new_buyers"])) for s, r in sums.iterrows()}
    fmt = "%Y-%m" if period == "month" else "%Y-%m-%d"
    return recent, [pd.Timestamp(c).strftime(fmt) for c in keep]


def _ratios(scales: pd.DataFrame | None, source_id: str) -> dict[str, float]:
    if scales is None:
        return {"rate_ratio": 1.0, "spend_ratio": 1.0}
    rows = scales.loc[scales["source_id"].astype(str) == source_id]
    if rows.empty:
        return {"rate_ratio": 1.0, "spend_ratio": 1.0}
    return {
        "rate_ratio": float(rows["rate_ratio"].iloc[0]),
        "spend_ratio": float(rows["spend_ratio"].iloc[0]),
    }


def _direction(current: float, spent: float, low: float, high: float, tolerance: float) -> str:
    if spent <= 0:
        return "no costs"
    if math.isinf(current) or current >= (1 + tolerance) * high:
        return "decrease"
    if current <= (1 - tolerance) * low:
        return "increase"
    return "hold"


def revenue_forecast(
    model: CLVModel,
    buyers: pd.DataFrame,
    *,
    observation_end: DateLike,
    horizon_months: int = 12,
    n_draws: int | None = 200,
    source_adjustment: bool = True,
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Month-by-month expected revenue of the existing customers, with 94% intervals.

    Parameters
    ----------
    model : CLVModel
        A fitted model.
    buyers : pandas.DataFrame
        ``customer_id, source_id, frequency, recency_days, T_days, monetary_value`` at the
        observation end (:attr:`clvmodels.marketing.payback.PaybackResult.buyers`).
    observation_end : date
        The day the buyers' histories end; month 1 starts the day after.
    horizon_months : int
        Months to forecast (months of 365.25 / 12 days).
    n_draws : int or None
        Posterior draws used.
    source_adjustment : bool
        Predict each source's customers with its own parameters.
    customers : pandas.DataFrame, optional
        As for :func:`budget_recommendation`: each customer is predicted at their covariates.

    Returns
    -------
    pandas.DataFrame
        :data:`FORECAST_COLUMNS`: ``month`` (1..H), its ``start`` and ``end`` days, and
        the expected purchases, revenue and cumulative revenue with ``_low``/``_high``.
    """
    horizon = _check_months(horizon_months, "horizon_months")
    _require(buyers, _BUYER_COLUMNS, "buyers table")
    end_day = to_day(observation_end)
    if end_day is None:
        raise ValueError("observation_end is required")
    unit = check_time_unit(model.time_unit)
    buyers = attach_model_covariates(model, buyers, customers)
    rfm = rfm_in_units(buyers, unit, covariate_columns(model))
    source = buyers["source_id"].astype(str).to_numpy()
    scales = source_scales(model, rfm, source) if source_adjustment and len(rfm) else None
    months = np.arange(1, horizon + 1, dtype="float64")
    t = months * units_per_month(unit)
    result = expected_by_group(
        model,
        rfm,
        np.zeros(len(rfm), dtype=np.int64),
        1,
        t,
        n_draws=n_draws,
        scales=scales,
        source=source,
    )
    cumulative_purchases = result.purchases[:, 0, :]
    cumulative_revenue = result.revenue[:, 0, :]
    purchases = np.diff(cumulative_purchases, axis=1, prepend=0.0)
    revenue = np.diff(cumulative_revenue, axis=1, prepend=0.0)
    day_one = pd.Timestamp(end_day) + pd.Timedelta(days=1)
    month_days = pd.to_timedelta(np.r_[0.0, months] * DAYS_PER_UNIT["M"], unit="D")
    bounds = (day_one + month_days).normalize()
    out: dict[str, Any] = {
        "month": months.astype("int64"),
        "start": bounds[:-1],
        "end": bounds[1:] - pd.Timedelta(days=1),
    }
    for name, draws in (
        ("expected_purchases", purchases),
        ("expected_revenue", revenue),
        ("cumulative_revenue", cumulative_revenue),
    ):
        out[name] = draws.mean(axis=0)
        out[f"{name}_low"], out[f"{name}_high"] = np.quantile(draws, [_LOW, _HIGH], axis=0)
    table = pd.DataFrame(out, columns=list(FORECAST_COLUMNS))
    table.attrs = {
        "observation_end": end_day.isoformat(),
        "horizon_months": horizon,
        "n_customers": len(rfm),
        "n_draws": int(revenue.shape[0]),
    }
    return table


def recommendation_lines(budget: pd.DataFrame, forecast: pd.DataFrame | None = None) -> list[str]:
    """A short plain-language reading of :func:`budget_recommendation` (and the forecast)."""
    attrs = budget.attrs
    target = attrs.get("target_payback_months", "?")
    horizon = attrs.get("horizon_months", "?")
    lines = [
        f"Next period's budget, for payback within {target} months "
        f"(margin {attrs.get('margin', 1.0):g}, discount {attrs.get('annual_discount_rate', 0):.0%}"
        f" a year; current CAC over {', '.join(attrs.get('recent_cohorts', [])) or 'the data'}):"
    ]
    order = {d: i for i, d in enumerate(DIRECTIONS)}
    ranked = budget.assign(_o=budget["direction"].map(order)).sort_values(
        ["_o", "headroom_share"], ascending=[True, False]
    )
    for row in ranked.itertuples(index=False):
        interval = _interval_text(row.value_at_target_low, row.value_at_target_high, ",.2f")
        worth = f"a new customer is worth {row.value_at_target:,.2f}{interval} by month {target}"
        if row.direction == "no costs":
            lines.append(f"  {row.source_id}: {worth}; no recent costs, so no CAC to judge")
            continue
        if not np.isfinite(row.current_cac):
            lines.append(
                f"  {row.source_id}: DECREASE - {row.recent_costs:,.2f} spent recently "
                "brought no buyer"
            )
            continue
        if pd.isna(row.payback_months):
            payback = f"does not pay back within {max(int(target), int(horizon))} months"
        elif row.payback_months == 0:
            payback = "pays back with the first purchase"
        else:
            payback = f"pays back in month {row.payback_months}"
        lines.append(
            f"  {row.source_id}: {row.direction.upper()} - you pay {row.current_cac:,.2f} per new "
            f"customer, {worth} ({row.headroom_share:+.0%} headroom); at this CAC a customer "
            f"{payback}"
        )
    if forecast is not None and len(forecast):
        last = forecast.iloc[-1]
        first = forecast.iloc[0]
        revenue_interval = _interval_text(
            last["cumulative_revenue_low"], last["cumulative_revenue_high"], ",.0f"
        )
        lines.append(
            f"Existing customers: {last['cumulative_revenue']:,.0f} revenue expected over the "
            f"next {len(forecast)} months{revenue_interval}, "
            f"{first['expected_revenue']:,.0f} in the first."
        )
    lines.append(
        "CAC usually rises as a source's budget grows: change budgets in steps and re-run "
        "`clv payback` on the new cohorts."
    )
    return lines


def _check_months(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise ValueError(f"{name} must be a positive whole number of months; got {value!r}")
    return int(value)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RULES["missing_column"].error(
            None,
            hint=f"its columns are: {', '.join(map(str, frame.columns))}. Write it with "
            "`clv payback`",
            table=what,
            columns=", ".join(repr(m) for m in missing),
        )


__all__ = [
    "BUDGET_COLUMNS",
    "FORECAST_COLUMNS",
    "budget_recommendation",
    "recommendation_lines",
    "revenue_forecast",
]


def _interval_text(low: float, high: float, spec: str) -> str:
    """`` [low, high]`` for the 94% interval, or nothing when a one-draw (MAP) fit collapses it."""
    if not (np.isfinite(low) and np.isfinite(high)) or f"{low:{spec}}" == f"{high:{spec}}":
        return ""
    return f" [{low:{spec}}, {high:{spec}}]"
