"""``clv power``: the users per arm of an A/B test, with its baseline read from data if asked.

:func:`run_power` is what ``clv power`` does between parsing and printing. The arithmetic is
:mod:`clvmodels.experiments.power`; this module reads what the baseline comes from:

* ``metric="conversion"``: ``baseline_rate`` (no data read);
* ``metric="mean"``: ``baseline_sd`` as given, or the orders' revenue per customer in the
  ``window_days`` days from each customer's first order (:func:`orders_baseline`);
* ``metric="clv"``: the predicted CLV of the customers in ``orders`` scored by the model in
  ``model_dir`` (:func:`clv_baseline`: the model's ``score``, posterior mean per customer,
  with the orders up to the model's observation end, as ``clv score`` does).

For ``mean`` and ``clv`` a ``baseline_rate`` is the share of the experiment's users expected
to buy (the others count as 0); a ``baseline_mean`` replaces the data's mean for a relative
MDE.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.errors import DataError
from clvmodels.experiments.baseline import Baseline, baseline_from_values, window_revenue
from clvmodels.experiments.power import Correction, PowerResult, power_conversion, power_mean

Metric = Literal["conversion", "mean", "clv"]
METRICS: tuple[str, ...] = ("conversion", "mean", "clv")
type Orders = OrdersSource | pd.DataFrame | str | os.PathLike[str]


def _frame(orders: Orders) -> pd.DataFrame:
    from clvmodels.data.io import orders_frame, read_orders

    if isinstance(orders, OrdersSource):
        return orders_frame(orders)
    return read_orders(orders)


def orders_baseline(
    orders: Orders, *, window_days: int = 28, buyer_share: float | None = None
) -> Baseline:
    """Mean and sd of revenue per customer in the ``window_days`` days from the first order.

    Customers whose window passes the last order's day are left out (the source says how
    many). See :func:`clvmodels.experiments.power.window_revenue`.
    """
    if not 1 <= int(window_days) <= 3660:
        raise DataError(f"window_days must be from 1 to 3,660; got {window_days!r}")
    revenue, left_out = window_revenue(_frame(orders), int(window_days))
    source = (
        f"revenue per customer in the {window_days} days from their first order, over "
        f"{len(revenue):,} customers of the orders ({left_out:,} whose window passes the "
        "last order's day left out)"
    )
    return baseline_from_values(
        revenue, source=_with_share(source, buyer_share), buyer_share=buyer_share
    )


def clv_baseline(
    model_dir: str | os.PathLike[str],
    orders: Orders,
    *,
    horizon: str = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int | None = 200,
    buyer_share: float | None = None,
) -> Baseline:
    """Mean and sd of the predicted CLV of the customers in ``orders`` (the model's scores).

    The customers are summarised in the model's time unit up to the model's observation end
    and scored with :meth:`clvmodels.model.CLVModel.score`; ``clv`` is each customer's
    posterior mean CLV over ``horizon``.

    Raises
    ------
    DataError
        A model without a spend model (no CLV), a fit that is not usable, bad orders.
    """
    from clvmodels.jobs.score import refuse_rfm_table
    from clvmodels.persistence import load_model
    from clvmodels.summaries.rfm import rfm_summary

    model = load_model(model_dir)
    if model.spend_model_ is None:
        raise DataError(
            f"the model in {model_dir} has no spend model (fitted without revenue), so it "
            "predicts no CLV",
            hint="fit it on orders with revenue, or size the test on conversion",
        )
    model.check_usable()
    if isinstance(orders, OrdersSource):
        refuse_rfm_table(orders)
    end = model.data_info_.get("calibration_end")
    rfm = rfm_summary(orders, time_unit=model.time_unit, observation_end=end)
    scores = model.score(
        rfm,
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        n_draws=n_draws,
    )
    source = (
        f"predicted CLV over {horizon} (margin {margin:g}, annual discount rate "
        f"{annual_discount_rate:g}; the posterior mean per customer) of the {len(scores):,} "
        f"customers in the orders up to {rfm.attrs.get('calibration_end')}, scored by the "
        f"model in {Path(model_dir)}"
    )
    return baseline_from_values(
        scores["clv"], source=_with_share(source, buyer_share), buyer_share=buyer_share
    )


def _with_share(source: str, buyer_share: float | None) -> str:
    if buyer_share is None:
        return source + "; buyers only: every user of the experiment is assumed to buy"
    return (
        source + f"; a share {buyer_share:g} of the experiment's users buy, the others count as 0"
    )


def run_power(
    metric: Metric,
    *,
    baseline_rate: float | None = None,
    baseline_sd: float | None = None,
    baseline_mean: float | None = None,
    mde_absolute: float | None = None,
    mde_relative: float | None = None,
    orders: Orders | None = None,
    model_dir: str | os.PathLike[str] | None = None,
    window_days: int = 28,
    horizon: str = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int | None = 200,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    daily_users: float | None = None,
    correction: Correction = "bonferroni",
) -> PowerResult:
    """The users per arm (and days) of a test of ``metric`` (module docstring).

    Raises
    ------
    DataError
        A missing baseline, an input that does not go with ``metric``, values out of range.
    """
    common: dict[str, Any] = {
        "alpha": alpha,
        "power": power,
        "arms": arms,
        "daily_users": daily_users,
        "correction": correction,
        "mde_absolute": mde_absolute,
        "mde_relative": mde_relative,
    }
    if metric == "conversion":
        _refuse(
            metric,
            baseline_sd=baseline_sd,
            baseline_mean=baseline_mean,
            orders=orders,
            model_dir=model_dir,
        )
        if baseline_rate is None:
            raise DataError("metric conversion needs the baseline rate (--baseline-rate)")
        return power_conversion(baseline_rate=baseline_rate, **common)
    if metric not in METRICS:
        raise DataError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
    baseline = _baseline(
        metric,
        baseline_sd,
        baseline_rate,
        orders,
        model_dir,
        window_days,
        horizon=horizon,
        annual_discount_rate=annual_discount_rate,
        margin=margin,
        n_draws=n_draws,
    )
    if baseline is None:
        assert baseline_sd is not None
        return power_mean(baseline_sd=baseline_sd, baseline_mean=baseline_mean, **common)
    mean = baseline.mean if baseline_mean is None else baseline_mean
    source = baseline.source + (
        "" if baseline_mean is None else f"; the baseline mean {baseline_mean:g} as given"
    )
    result = power_mean(
        baseline_sd=baseline.sd,
        baseline_mean=mean,
        metric=metric,
        baseline_source=source,
        **common,
    )
    return result


def _baseline(
    metric: str,
    baseline_sd: float | None,
    buyer_share: float | None,
    orders: Orders | None,
    model_dir: str | os.PathLike[str] | None,
    window_days: int,
    **scoring: Any,
) -> Baseline | None:
    """The baseline read from data, or None when ``baseline_sd`` is given (mean only)."""
    if metric == "clv":
        _refuse(metric, baseline_sd=baseline_sd)
        if model_dir is None or orders is None:
            raise DataError(
                "metric clv needs a fitted model (--model) and the customers' orders (--orders)"
            )
        return clv_baseline(model_dir, orders, buyer_share=buyer_share, **scoring)
    _refuse(metric, model_dir=model_dir)
    if baseline_sd is not None and orders is not None:
        raise DataError(
            "metric mean takes the standard deviation from --baseline-sd or from --orders, not both"
        )
    if baseline_sd is not None:
        if buyer_share is not None:
            raise DataError(
                "--baseline-rate (the share of users who buy) mixes zeros into values read "
                "from --orders or --model; with --baseline-sd give the sd per user itself"
            )
        return None
    if orders is None:
        raise DataError(
            "metric mean needs the standard deviation per user (--baseline-sd) or an orders "
            "table to estimate it from (--orders)"
        )
    return orders_baseline(orders, window_days=window_days, buyer_share=buyer_share)


_FLAGS = {
    "baseline_sd": "--baseline-sd",
    "baseline_mean": "--baseline-mean",
    "orders": "--orders",
    "model_dir": "--model",
}


def _refuse(metric: str, **given: object) -> None:
    """A DataError naming the inputs that ``metric`` does not use, if any was given."""
    extra = [_FLAGS[name] for name, value in given.items() if value is not None]
    if extra:
        raise DataError(f"metric {metric} does not use {', '.join(extra)}")
