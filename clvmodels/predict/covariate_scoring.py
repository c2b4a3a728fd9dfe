"""Scoring a transaction model fitted with covariates: numerators per (x, T, covariate profile).

With covariates a customer's parameters depend on the encoded covariate row (the *profile*,
:mod:`clvmodels.models.covariate_fit`), so the numerator N(x, T, t) of E[X(T, T + t)] =
P(alive) * N (:mod:`clvmodels.models.transaction`) is evaluated once per distinct
(x, T, profile) triple and draw, and P(alive) per customer with the customer's parameters.
Both are exact customer by customer, so chunked scoring gives the same scores as one chunk.

How N is evaluated:

* few profiles (at most :data:`PROFILE_LOOP_LIMIT`, e.g. categorical covariates only): one call
  of the model's grid (for BG/NBD and MBG/NBD the compiled series) per profile, on that
  profile's (x, T) pairs;
* many profiles (a continuous covariate: about one per customer): the closed form
  (``numerator_fn``, scipy's ``hyp2f1`` for BG/NBD) step by step over the monthly grid with
  each triple's parameters, vectorised in chunks of :data:`GRID_CHUNK_ELEMENTS`. This is
  exact too, but costs one closed-form evaluation per customer, month and draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvmodels.models.covariate_fit import customer_parameters
from clvmodels.models.transaction import GRID_CHUNK_ELEMENTS, TransactionModel, numerator_steps

#: Up to this many distinct covariate profiles, N is evaluated profile by profile.
PROFILE_LOOP_LIMIT = 256


@dataclass(frozen=True)
class CovariateRows:
    """The customers' encoded covariates and their profiles.

    Attributes
    ----------
    purchase, dropout : numpy.ndarray
        Design rows per customer.
    profile : numpy.ndarray
        Each customer's profile code (distinct (purchase, dropout) row), 0..n_profiles - 1.
    first : numpy.ndarray
        A customer of each profile (its first).
    """

    purchase: np.ndarray
    dropout: np.ndarray
    profile: np.ndarray
    first: np.ndarray

    @classmethod
    def of(cls, model: TransactionModel, rfm: pd.DataFrame) -> CovariateRows | None:
        """The rows of ``rfm`` (None for a model without covariates)."""
        if model.encoding_ is None:
            return None
        purchase, dropout = model.encoding_.design(rfm)
        both = np.concatenate([purchase, dropout], axis=1)
        if both.shape[1] == 0:
            profile = np.zeros(len(rfm), dtype="int64")
            first = np.zeros(min(len(rfm), 1), dtype="int64")
        else:
            _, first, profile = np.unique(both, axis=0, return_index=True, return_inverse=True)
        return cls(purchase, dropout, np.asarray(profile).reshape(-1), np.asarray(first))


def customer_draws(
    model: TransactionModel,
    draws: dict[str, np.ndarray],
    coefficients: dict[str, np.ndarray],
    rows: CovariateRows,
    index: np.ndarray,
) -> dict[str, np.ndarray]:
    """Parameters of the customers ``index`` per draw, ``(customers, draws)``."""
    p = customer_parameters(
        model.name, draws, coefficients, rows.purchase[index], rows.dropout[index]
    )
    return {k: np.ascontiguousarray(v.T) for k, v in p.items()}


def covariate_numerators(
    model: TransactionModel,
    draws: dict[str, np.ndarray],
    coefficients: dict[str, np.ndarray],
    rows: CovariateRows,
    x: np.ndarray,
    T: np.ndarray,
    t: np.ndarray,
    discount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of each customer's (x, T, profile) triple, and N at the horizon and discounted.

    Returns ``codes`` (per customer) and two ``(triples, draws)`` arrays, as
    :meth:`TransactionModel.numerator_grid_fn` does for (x, T) pairs.
    """
    keys = pd.MultiIndex.from_arrays([x, T, rows.profile])
    codes, triples = pd.factorize(keys)
    t_x = triples.get_level_values(0).to_numpy(dtype="float64")
    t_T = triples.get_level_values(1).to_numpy(dtype="float64")
    t_profile = triples.get_level_values(2).to_numpy(dtype="int64")
    n_draws = len(next(iter(draws.values())))
    horizon = np.empty((len(triples), n_draws))
    discounted = np.empty((len(triples), n_draws))
    if len(rows.first) <= PROFILE_LOOP_LIMIT:
        for profile, customer in enumerate(rows.first):
            which = np.flatnonzero(t_profile == profile)
            if not len(which):
                continue
            p = customer_draws(model, draws, coefficients, rows, np.array([customer]))
            p = {k: v[0] for k, v in p.items()}
            horizon[which], discounted[which] = model.numerator_grid_fn(
                p, t_x[which], t_T[which], t, discount
            )
        return codes, horizon, discounted
    step = max(1, GRID_CHUNK_ELEMENTS // max(n_draws, 1))
    for start in range(0, len(triples), step):
        sl = slice(start, start + step)
        p = customer_draws(model, draws, coefficients, rows, rows.first[t_profile[sl]])
        h, d = numerator_steps(model.numerator_fn, p, t_x[sl, None], t_T[sl, None], t, discount)
        horizon[sl] = h
        discounted[sl] = d
    return codes, horizon, discounted
