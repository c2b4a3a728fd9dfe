"""Visits and daily marketing costs of acquisition sources, as the marketing simulator draws them.

See :func:`clvmodels.examples.marketing.simulate_marketing` for the story: a buyer's first
visit comes from their source a little before the first order, some buyers see another source
in between, everyone makes further visits, visitors who never buy add theirs; a source's
daily costs are its CAC times the buyers it acquired that day, times Gamma noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_visits(
    rng: np.random.Generator,
    first_purchase_ns: np.ndarray,
    source_code: np.ndarray,
    shares: np.ndarray,
    *,
    start_ns: int,
    end_ns: int,
    nonbuyers_per_buyer: float,
    cross_source_share: float,
    extra_visits_per_user: float,
) -> pd.DataFrame:
    """Visits of buyers (first visit from their source before the first order) and others."""
    n_sources = len(shares)
    n_buyers = len(first_purchase_ns)
    hour_ns = 3_600 * 10**9

    def other_source(own: np.ndarray) -> np.ndarray:
        if n_sources == 1:
            return own
        return (own + rng.integers(1, n_sources, size=len(own))) % n_sources

    # buyers: the first visit, a little before the first order
    lead = np.floor(rng.exponential(6.0 * hour_ns, size=n_buyers)).astype(np.int64) + 1
    first_visit = first_purchase_ns - lead
    uid = [np.arange(1, n_buyers + 1)]
    when = [first_visit]
    source = [source_code]
    # a visit from another source between the first visit and the first order
    cross = np.flatnonzero(rng.random(n_buyers) < cross_source_share)
    uid.append(cross + 1)
    when.append(
        first_visit[cross] + np.floor(rng.random(len(cross)) * lead[cross]).astype(np.int64)
    )
    source.append(other_source(source_code[cross]))

    # visitors who never buy
    n_others = round(nonbuyers_per_buyer * n_buyers)
    other_code = rng.choice(n_sources, size=n_others, p=shares)
    other_first = start_ns + np.floor(rng.random(n_others) * (end_ns - start_ns)).astype(np.int64)
    extra_others = rng.poisson(0.5, size=n_others)
    other_uid = np.arange(n_buyers + 1, n_buyers + n_others + 1)
    uid.append(other_uid)
    when.append(other_first)
    source.append(other_code)

    # further visits of everyone, after their first visit
    all_uid = np.concatenate([np.arange(1, n_buyers + 1), other_uid])
    all_first = np.concatenate([first_visit, other_first])
    all_code = np.concatenate([source_code, other_code])
    n_extra = rng.poisson(extra_visits_per_user, size=len(all_uid))
    n_extra[n_buyers:] += extra_others
    rep_first = np.repeat(all_first, n_extra)
    rep_code = np.repeat(all_code, n_extra)
    uid.append(np.repeat(all_uid, n_extra))
    when.append(
        rep_first + np.floor(rng.random(len(rep_first)) * (end_ns - rep_first)).astype(np.int64)
    )
    own = rng.random(len(rep_code)) < 0.7
    source.append(np.where(own, rep_code, rng.integers(0, n_sources, size=len(rep_code))))

    start_at = np.concatenate(when)
    duration = 60 * 10**9 + np.floor(rng.exponential(600.0 * 10**9, size=len(start_at)))
    visits = pd.DataFrame(
        {
            "uid": np.concatenate(uid).astype(np.int64),
            "device": np.where(rng.random(len(start_at)) < 0.7, "desktop", "touch").astype(object),
            "start_ts": start_at.view("datetime64[ns]"),
            "end_ts": (start_at + duration.astype(np.int64)).view("datetime64[ns]"),
            "source_code": np.concatenate(source).astype(np.int64),
        }
    )
    return visits.sort_values(["start_ts", "uid"], kind="stable", ignore_index=True)


def simulate_costs(
    rng: np.random.Generator,
    first_purchase: pd.Series,
    source_code: np.ndarray,
    names: list[str],
    cac: np.ndarray,
    *,
    start: pd.Timestamp,
    acquisition_days: int,
    cost_noise: float,
) -> pd.DataFrame:
    """Daily costs: CAC times the buyers acquired that day, times Gamma noise with mean 1."""
    day = ((first_purchase.dt.normalize() - start.normalize()) // pd.Timedelta(days=1)).to_numpy()
    n_days = max(acquisition_days, int(day.max()) + 1)
    buyers = np.zeros((len(names), n_days))
    np.add.at(buyers, (source_code, day), 1.0)
    if cost_noise > 0:
        shape = 1.0 / cost_noise**2
        noise = rng.gamma(shape, 1.0 / shape, size=buyers.shape)
    else:
        noise = np.ones(buyers.shape)
    costs = np.round(cac[:, None] * buyers * noise, 2)
    days = pd.date_range(start.normalize(), periods=n_days, freq="D").as_unit("ns")
    return pd.DataFrame(
        {
            "source_id": np.repeat(np.asarray(names, dtype=object), n_days),
            "dt": np.tile(days.to_numpy(), len(names)),
            "costs": costs.reshape(-1),
        }
    )
