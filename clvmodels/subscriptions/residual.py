"""What a current subscriber is still worth: renewal odds and discounted residual value.

For an active customer with ``n`` periods observed (``n - 1`` renewals, ``n = T``) the
shifted-beta-geometric model (Fader & Hardie 2010) gives the probability of renewing next
period and the discounted expected residual lifetime (DERL: expected future renewals,
discounted at the per-period rate, infinite horizon); residual value is the price per
period times DERL, and ``residual_value_horizon`` cuts the sum at the horizon. Churned
customers get 0.

The values depend on the customer only through (group, n), so they are computed once per
distinct (group, n) for every posterior draw and summarised there (mean and the 94%
equal-tailed interval, ``numpy.quantile``'s 3% and 97%); each customer then takes its cell's
summary, times its price for the money columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.models.posterior import INTERVAL_QUANTILES
from clvmodels.models.sbg import (
    p_renew_next,
    residual_lifetime,
    residual_lifetime_horizon,
)

#: The per-customer columns, in order (each with _low/_high when the fit has draws).
VALUE_COLUMNS = (
    "p_renew_next",
    "expected_residual_lifetime",
    "residual_value",
    "residual_value_horizon",
)


def customer_values(
    group_codes: np.ndarray,
    n: np.ndarray,
    active: np.ndarray,
    price: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    *,
    discount: float,
    horizon: int,
) -> pd.DataFrame:
    """Renewal probability, DERL and residual value of each customer.

    Parameters
    ----------
    group_codes : array of int
        Each customer's group (index into the last axis of ``alpha`` and ``beta``).
    n : array of int
        Periods observed (``T``): the customer has made ``n - 1`` renewals.
    active : array of bool
        False for churned customers, who get 0.
    price : array of float
        Price per period (the money columns are NaN where it is missing).
    alpha, beta : array, shape (draws, groups)
        Posterior draws (one row for MAP).
    discount : float
        Per-period discount rate.
    horizon : int
        Periods summed for ``residual_value_horizon``.

    Returns
    -------
    pandas.DataFrame
        :data:`VALUE_COLUMNS`, and ``<column>_low``/``_high`` when there is more than one draw.
    """
    draws = alpha.shape[0] > 1
    group_codes = np.asarray(group_codes, dtype="int64")
    n = np.asarray(n, dtype="int64")
    active = np.asarray(active, dtype=bool)
    unique = pd.DataFrame({"group": group_codes[active], "n": n[active]}).drop_duplicates()
    cells = unique.to_numpy()
    a = alpha[:, cells[:, 0]]
    b = beta[:, cells[:, 0]]
    cell_n = cells[:, 1][None, :].astype("float64")
    derl = residual_lifetime(a, b, cell_n, discount)
    per_cell = {
        "p_renew_next": p_renew_next(a, b, cell_n),
        "expected_residual_lifetime": derl,
        "residual_value": derl,
        "residual_value_horizon": residual_lifetime_horizon(a, b, cell_n, discount, horizon),
    }
    position = _positions(cells, group_codes, n, active)
    price = np.asarray(price, dtype="float64")
    out: dict[str, np.ndarray] = {}
    for name, values in per_cell.items():
        scale = price[active] if name.startswith("residual_value") else 1.0
        for suffix, summary in summarise_draws(values, draws).items():
            column = np.zeros(len(n))
            column[active] = summary[position[active]] * scale
            out[name + suffix] = column
    return pd.DataFrame(out)


def _positions(
    unique: np.ndarray, group_codes: np.ndarray, n: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """For each customer, the row of ``unique`` holding its (group, n); -1 for churned ones."""
    position = np.full(len(n), -1, dtype="int64")
    if len(unique) == 0:
        return position
    index = pd.MultiIndex.from_arrays([unique[:, 0], unique[:, 1]])
    keys = pd.MultiIndex.from_arrays([group_codes[active], n[active]])
    position[active] = index.get_indexer(keys)
    return position


def summarise_draws(values: np.ndarray, draws: bool) -> dict[str, np.ndarray]:
    """Mean over draws (axis 0), and ``_low``/``_high`` (the 94% interval) when there are draws."""
    summary = {"": values.mean(axis=0)}
    if draws:
        low, high = np.quantile(values, INTERVAL_QUANTILES, axis=0)
        summary["_low"] = low
        summary["_high"] = high
    return summary
