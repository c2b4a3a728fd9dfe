"""The numerators of the conditional expectations, per distinct key, for scoring.

Every transaction model's ``E[X(T, T + t) | x, t_x, T] = P(alive) * N`` has a numerator N that
depends on the customer through (x, T) (:mod:`clvmodels.models.transaction`), or through
(x, t_x, T) for BG/CNBD-k and MBG/CNBD-k (``numerator_uses_recency``). Scoring evaluates N once
per distinct key and draw (:func:`numerator_grid`) and gathers it per customer by code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.models.transaction import TransactionModel


def numerator_grid(
    model: TransactionModel,
    draws: dict[str, np.ndarray],
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
    t: np.ndarray,
    discount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's code, and the numerators of the codes on the horizon grid.

    The codes number the distinct (x, T) pairs, or the distinct (x, t_x, T) rows for a model
    whose numerator depends on recency (``numerator_uses_recency``: BG/CNBD-k, MBG/CNBD-k);
    the numerators are :meth:`~clvmodels.models.transaction.TransactionModel.numerator_grid_fn`'s,
    ``(codes, draws)``, so a chunk of customers is scored exactly from them.
    """
    if not model.numerator_uses_recency:
        codes, pair_x, pair_T = distinct_pairs(x, T)
        return codes, *model.numerator_grid_fn(draws, pair_x, pair_T, t, discount)
    first, codes = distinct_rows([x, t_x, T])
    horizon, discounted = model.numerator_grid_fn(  # type: ignore[call-arg]
        draws, x[first], T[first], t, discount, t_x=t_x[first]
    )
    return codes, horizon, discounted


def distinct_pairs(x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes of each customer's distinct (x, T) pair, and the pairs themselves."""
    t_codes, t_values = pd.factorize(T)
    keys = x.astype("int64") * len(t_values) + t_codes  # x is a whole number
    codes, unique_keys = pd.factorize(keys)
    return (
        codes,
        (unique_keys // len(t_values)).astype("float64"),
        t_values[unique_keys % len(t_values)],
    )


def distinct_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The first row of each distinct combination of ``columns``, and each row's combination.

    Returns ``first, inverse`` such that ``column[first][inverse]`` equals ``column`` for
    every column.
    """
    codes = np.zeros(len(columns[0]), dtype="int64")
    for column in columns:
        column_codes, uniques = pd.factorize(column, use_na_sentinel=False)
        codes, _ = pd.factorize(codes * len(uniques) + column_codes)
    # factorize numbers combinations in order of first appearance
    seen = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.r_[True, seen[1:] > seen[:-1]]) if len(codes) else codes
    return first, codes
