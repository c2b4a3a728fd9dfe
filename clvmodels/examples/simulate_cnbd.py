"""Simulated RFM tables of BG/CNBD-k and MBG/CNBD-k customers (Platzer & Reutterer 2016).

Each customer: lambda ~ Gamma(r, alpha) (rate alpha), p ~ Beta(a, b); inter-purchase times
Erlang-k with rate lambda (the sum of k exponential phases of rate lambda); after each repeat
purchase the customer drops out with probability p (with ``dropout_at_zero``, also right
after the first purchase, at time 0). Observed from the first purchase (time 0) until T.
The table has ``customer_id, frequency, recency, T, litt`` with ``litt`` the sum of the logs of
the counted inter-purchase times.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_cnbd_rfm(
    n_customers: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    k: int,
    T: tuple[float, float] = (26.0, 78.0),
    dropout_at_zero: bool = False,
    seed: int = 0,
) -> pd.DataFrame:
    """An RFM table of ``n_customers`` simulated customers, T uniform on ``T`` (whole units).

    Parameters
    ----------
    n_customers : int
        Customers to simulate.
    r, alpha, a, b, k : float
        The model's parameters (k a whole number).
    T : (float, float)
        The range of the observation lengths, drawn uniformly and rounded to whole units.
    dropout_at_zero : bool
        MBG/CNBD-k (True) or BG/CNBD-k (False).
    seed : int
        Random seed.
    """
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n_customers)
    p = rng.beta(a, b, n_customers)
    T_obs = np.round(rng.uniform(T[0], T[1], n_customers))
    # repeat purchases made before dropping out (in unlimited time)
    if dropout_at_zero:
        n_max = rng.geometric(p) - 1
    else:
        n_max = rng.geometric(p)
    x = np.zeros(n_customers, dtype="int64")
    t_x = np.zeros(n_customers)
    litt = np.zeros(n_customers)
    clock = np.zeros(n_customers)
    active = np.flatnonzero(n_max > 0)
    while len(active):
        gap = rng.gamma(k, 1.0 / lam[active])
        clock[active] += gap
        inside = clock[active] <= T_obs[active]
        done = active[inside]
        x[done] += 1
        t_x[done] = clock[done]
        litt[done] += np.log(gap[inside])
        active = done[x[done] < n_max[done]]
    return pd.DataFrame(
        {
            "customer_id": np.arange(n_customers),
            "frequency": x,
            "recency": t_x,
            "T": T_obs,
            "litt": litt,
        }
    )
