"""The empirical cohort baseline: what older cohorts' LTV curves predict for each customer.

Beside the models, a backtest keeps this baseline (docs/definitions.md, "Cohorts"): a
customer acquired in month c expects, between two dates, the increase of the average
cumulative repeat occasions and revenue per customer of the cohorts that reached those ages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clvmodels.summaries.calendar import day_index, period_index, period_start
from clvmodels.summaries.cohorts import average_ltv_curve, cohort_table


def cohort_baseline(
    occasions: pd.DataFrame,
    customers: pd.DataFrame,
    calibration_end: Any,
    observation_end: Any,
) -> pd.DataFrame:
    """Expected holdout occasions and revenue per customer from older cohorts' curves.

    Cohorts are calendar months of the first occasion
    (:func:`clvmodels.summaries.cohorts.cohort_table`
    on the calibration period's occasions). The curves are the average cumulative repeat
    occasions and repeat revenue per customer by age in months, over the cohorts that fully
    reached each age (:func:`clvmodels.summaries.cohorts.average_ltv_curve`). A customer expects
    ``curve(age at observation end) - curve(age at calibration end)``, partial months
    interpolated linearly, ages beyond the oldest cohort extrapolated at the curve's recent
    run rate (:func:`curve_at`).
    """
    table = cohort_table(occasions, period="month", margin=1.0, observation_end=calibration_end)
    first = occasions.groupby("customer_id")["timestamp"].min()
    cohort_p = pd.Series(period_index(first, "month"), index=first.index)
    cohort_start = pd.Series(period_start(cohort_p.to_numpy(), "month"), index=first.index)
    repeat = occasions[occasions["timestamp"] > occasions["customer_id"].map(first)]
    repeat_cohort = repeat["customer_id"].map(cohort_start)
    repeat_age = period_index(repeat["timestamp"], "month") - repeat["customer_id"].map(cohort_p)
    sums = (
        repeat.assign(cohort=repeat_cohort.to_numpy(), age=repeat_age.to_numpy())
        .groupby(["cohort", "age"])
        .agg(repeat_occasions=("revenue", "size"), repeat_revenue=("revenue", "sum"))
    )
    table = table.merge(sums, left_on=["cohort", "age"], right_index=True, how="left")
    table[["repeat_occasions", "repeat_revenue"]] = table[
        ["repeat_occasions", "repeat_revenue"]
    ].fillna(0.0)
    ages_at = {}
    for label, end in (("start", calibration_end), ("end", observation_end)):
        end_ts = pd.Timestamp(end) + pd.Timedelta(days=1)  # the end day is inclusive
        months = day_index(end_ts.date(), "month") - cohort_p
        ages_at[label] = months + (end_ts.day - 1) / end_ts.days_in_month
    result = {}
    for key, column in (("purchases", "repeat_occasions"), ("revenue", "repeat_revenue")):
        per_customer = table.assign(
            ltv=table[column] / table["cohort_size"],
            cumulative_ltv=table.groupby("cohort")[column].cumsum() / table["cohort_size"],
        )
        curve = average_ltv_curve(per_customer)
        values = curve_at(curve, ages_at["end"].to_numpy()) - curve_at(
            curve, ages_at["start"].to_numpy()
        )
        result[key] = pd.Series(values, index=first.index)
    return pd.DataFrame(result).reindex(customers["customer_id"].to_numpy()).fillna(0.0)


def curve_at(curve: pd.DataFrame, ages: np.ndarray, run_rate_months: int = 3) -> np.ndarray:
    """Cumulative value after ``ages`` months, interpolated between month ends.

    Beyond the oldest age any cohort fully reached, the curve continues at its run rate: the
    mean monthly increment over its last ``run_rate_months`` ages (the analyst's usual
    extrapolation; the curves alone say nothing about older ages).
    """
    ends = np.concatenate([[0.0], curve["age"].to_numpy(dtype="float64") + 1.0])
    values = np.concatenate([[0.0], curve["cumulative_ltv"].to_numpy(dtype="float64")])
    inside = np.interp(ages, ends, values)
    k = min(run_rate_months, len(ends) - 1)
    slope = (values[-1] - values[-1 - k]) / (ends[-1] - ends[-1 - k]) if k > 0 else 0.0
    return np.where(ages > ends[-1], values[-1] + slope * (ages - ends[-1]), inside)
