"""The baseline of a power calculation from data: a metric's mean and sd per user.

:mod:`clvmodels.experiments.power` sizes a test of a mean from its standard deviation per
user; these functions estimate it from per-customer values.

Definitions
-----------
* **A baseline from data** (:func:`baseline_from_values`): the mean and the standard
  deviation (``ddof=1``) of per-customer values: revenue in a window after each
  customer's first order (:func:`window_revenue`) or a model's predicted CLV
  (:func:`clvmodels.jobs.power.clv_baseline`). Those are buyers only.
* With ``buyer_share`` q (the share of the experiment's users expected to buy; the others
  count as 0, as they do in ``clv experiment``'s revenue per user), the per-user mean is
  ``q * m`` and the variance ``q * (s^2 + m^2) - (q * m)^2`` for the buyers' mean m and
  variance s^2 (a mixture of a point mass at 0 and the buyers' values).
* **Window revenue** (:func:`window_revenue`): a customer's revenue in the ``window_days``
  days from their first order's time (the first order included, an order exactly
  ``window_days`` days later not). The observation ends with the last order's day;
  customers whose window ends after it are left out and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from clvmodels.errors import DataError
from clvmodels.experiments.power import RATE, checked

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Baseline:
    """A metric's mean and standard deviation per user, and where they came from.

    Attributes
    ----------
    mean, sd : float
        Per user (after mixing in ``buyer_share``'s zeros, when given).
    customers : int
        How many customers' values they were computed from.
    source : str
        What the values are, in plain words.
    buyer_share : float or None
        The share of users expected to buy (the rest count as 0), or None: buyers only.
    buyers_mean, buyers_sd : float
        The mean and standard deviation of the customers' values themselves.
    """

    mean: float
    sd: float
    customers: int
    source: str
    buyer_share: float | None = None
    buyers_mean: float = math.nan
    buyers_sd: float = math.nan


def baseline_from_values(
    values: pd.Series, *, source: str, buyer_share: float | None = None
) -> Baseline:
    """The mean and sd per user of per-customer ``values`` (module docstring).

    Raises
    ------
    DataError
        With fewer than two finite values, or all of them equal (no spread to size for).
    """
    import numpy as np

    numbers = np.asarray(values, dtype="float64")
    numbers = numbers[np.isfinite(numbers)]
    if len(numbers) < 2:
        raise DataError(
            f"{source}: {len(numbers)} customer value(s); the standard deviation needs at least 2"
        )
    m, s = float(numbers.mean()), float(numbers.std(ddof=1))
    mean, sd = m, s
    if buyer_share is not None:
        q = checked(RATE, buyer_share, "buyer_share")
        mean = q * m
        sd = math.sqrt(max(q * (s * s + m * m) - mean * mean, 0.0))
    if not sd > 0:
        raise DataError(f"{source}: every customer has the same value {m:g}; no spread to size for")
    return Baseline(
        mean=mean,
        sd=sd,
        customers=len(numbers),
        source=source,
        buyer_share=buyer_share,
        buyers_mean=m,
        buyers_sd=s,
    )


def window_revenue(orders: pd.DataFrame, window_days: int) -> tuple[pd.Series, int]:
    """Each customer's revenue in the ``window_days`` days from their first order.

    The window of a customer runs from the first order's time for ``window_days`` days
    (the first order included, an order exactly ``window_days`` later not); customers
    whose window ends after the end of the last order's day are left out (not fully
    observed).

    Parameters
    ----------
    orders : pandas.DataFrame
        Validated orders: ``customer_id, timestamp, revenue``.
    window_days : int
        The window's length in days, at least 1.

    Returns
    -------
    (pandas.Series, int)
        Revenue per customer (indexed by customer id) and how many customers were left out.
    """
    import pandas as pd

    if "revenue" not in orders.columns:
        raise DataError("the orders have no revenue column: a mean of revenue needs one")
    if len(orders) == 0:
        raise DataError("the orders table is empty")
    days = pd.Timedelta(days=int(window_days))
    first = orders.groupby("customer_id", sort=False)["timestamp"].transform("min")
    end = orders["timestamp"].max().normalize() + pd.Timedelta(days=1)
    inside = orders[orders["timestamp"] < first + days]
    per_customer = inside.groupby("customer_id", sort=True).agg(
        revenue=("revenue", "sum"), first=("timestamp", "min")
    )
    complete = per_customer["first"] + days <= end
    return per_customer.loc[complete, "revenue"], int((~complete).sum())
