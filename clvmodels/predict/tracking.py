"""The backtest's holdout views: tracking over calendar time and conditional expectations.

* :func:`tracking_table`: cumulative repeat purchases per period over calibration and
  holdout, actual vs each model's unconditional expectation for the calibration cohort
  (Fader, Hardie & Lee 2005, fig. 2); with covariates, per (first day, covariate profile).
* :func:`conditional_expectations`: mean holdout purchases by calibration frequency (0..6,
  7+), actual and per model (FHL05, fig. 3).
* :func:`purchase_occasions`: purchase occasions, customer-days with revenue summed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.units import DAYS_PER_UNIT

MAX_FREQUENCY_GROUP = 7  # conditional expectations pool frequencies >= 7 into "7+"


def purchase_occasions(orders: pd.DataFrame, end: Any) -> pd.DataFrame:
    """Purchase occasions (customer-days, revenue summed) up to ``end``."""
    day = orders["timestamp"].dt.normalize()
    keep = day <= pd.Timestamp(end)
    return (
        orders.loc[keep, ["customer_id", "revenue"]]
        .assign(timestamp=day[keep])
        .groupby(["customer_id", "timestamp"], as_index=False)["revenue"]
        .sum()
    )


def conditional_expectations(customers: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency (0..6, 7+)."""
    capped = customers["frequency"].clip(upper=MAX_FREQUENCY_GROUP)
    columns = {"frequency_holdout": "actual", **{f"purchases_{n}": n for n in names}}
    table = customers[list(columns)].rename(columns=columns).groupby(capped.to_numpy()).mean()
    table.insert(0, "customers", customers.groupby(capped.to_numpy()).size())
    table.index = [
        f"{MAX_FREQUENCY_GROUP}+" if i == MAX_FREQUENCY_GROUP else str(i) for i in table.index
    ]
    return table.rename_axis("frequency").reset_index()


def cohort_parameters(
    tm: Any, customers: pd.DataFrame, first_days: pd.Series
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Parameters at the posterior means per distinct (first day, covariate profile)."""
    rows = customers.set_index("customer_id").loc[first_days.index].reset_index()
    means = tm.mean_parameters(rows)
    keys = np.column_stack([first_days.to_numpy(dtype="float64"), *means.values()])
    unique, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
    params = {k: v[first][None, :] for k, v in means.items()}
    return params, unique[:, 0], counts


def tracking_table(
    orders: pd.DataFrame,
    models: Mapping[str, Any],
    calibration_end: Any,
    observation_end: Any,
    time_unit: str,
    customers: pd.DataFrame,
) -> pd.DataFrame:
    """Cumulative repeat purchases per period: actual, and each model's expectation.

    The calibration cohort's expected cumulative repeat purchases at calendar time tau is
    ``sum_i E[X(tau - t0_i)]`` over customers with first purchase t0_i <= tau, using the
    new-customer expectation E[X(t)] (FHL05 eq. 9 and its Pareto/NBD, MBG/NBD analogues).
    The naive baseline continues the actual calibration count at each customer's rate.
    """
    occasions = purchase_occasions(orders, observation_end)
    occasions = occasions[occasions["customer_id"].isin(customers["customer_id"])]
    first = occasions.groupby("customer_id")["timestamp"].transform("min")
    start = occasions["timestamp"].min()
    days_per = DAYS_PER_UNIT[time_unit]
    # day offsets from the first purchase; period k covers [(k-1) p, k p) in days and the
    # observation end's day is the last one observed
    total_days = (pd.Timestamp(observation_end) - start).days + 1
    n_periods = int(np.ceil(total_days / days_per))
    ends_days = np.minimum(np.arange(1, n_periods + 1) * days_per, total_days)
    repeat_days = np.sort(
        (occasions.loc[occasions["timestamp"] > first, "timestamp"] - start).dt.days.to_numpy()
    )
    actual = np.searchsorted(repeat_days, ends_days, side="left")
    cal_days = (pd.Timestamp(calibration_end) - start).days + 1
    table = pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "period_end": start + pd.to_timedelta(np.ceil(ends_days) - 1, unit="D"),
            "holdout": ends_days > cal_days,
            "actual": actual.astype("int64"),
        }
    )
    first_days = (occasions.groupby("customer_id")["timestamp"].min() - start).dt.days
    acquired, counts = np.unique(first_days.to_numpy(), return_counts=True)
    for name, model in models.items():
        tm = model.transaction_model_
        params: Any = tm.params_
        days, weights = acquired, counts
        if tm.encoding_ is not None:  # each customer's parameters: by (first day, profile)
            params, days, weights = cohort_parameters(tm, customers, first_days)
        ages = (ends_days[:, None] - days[None, :]) / days_per
        expected = np.where(
            ages > 0,
            tm.new_customer_fn(params, np.clip(ages, 1e-12, None)),
            0.0,
        )
        table[name] = (expected * weights[None, :]).sum(axis=1)
    if "purchases_naive" not in customers.columns:
        return table
    at_cal_end = int(np.searchsorted(repeat_days, cal_days, side="left"))
    rate_sum = float((customers["purchases_naive"] / customers["duration_holdout"]).sum())
    table["naive"] = np.where(
        table["holdout"],
        at_cal_end + rate_sum * np.maximum(ends_days - cal_days, 0) / days_per,
        np.nan,
    )
    return table
