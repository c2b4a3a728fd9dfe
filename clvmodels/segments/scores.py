"""The fields clvmodels derives from a scores table for segment rules: percentiles, RFM quartiles.

Derived fields (computed for every customer; ties share a value, independent of row order):

* ``since_last = T - recency``: time since the last purchase, in the table's time unit.
* ``is_repeat = frequency > 0``.
* ``p_alive_known``: whether the customer's P(alive) says something: true for repeat buyers;
  for one-time buyers (``is_repeat`` false) true only when the model lets a customer drop
  out before a repeat purchase (its ``dropout_at_zero``: Pareto/NBD, MBG/NBD). BG/NBD gives
  every one-time buyer P(alive) = 1 by construction, so for them it is false
  (:func:`one_time_p_alive_known` says how this is decided for a scores table).
* ``clv_percentile``, ``T_percentile``, ``purchases_percentile`` (of ``expected_purchases``):
  percent of customers with a strictly smaller value, 0 to <100 (``clv_percentile >= 90`` is
  the top CLV decile; a missing clv has none).
* ``r_score``, ``f_score``, ``m_score``: the classic RFM quartile scores 1-4, 4 best, of
  ``since_last`` (smaller is better), ``frequency`` and ``monetary_value``. A score is
  ``1 + floor(4 * share of customers with a strictly worse value)``; with heavy ties the
  quartiles are unequal (customers without a repeat purchase all have f_score 1 and, since
  their monetary_value is 0, m_score 1).
* ``rfm_score``: the three scores as text, ``"431"``.

Scores without CLV (a model fitted on orders without revenue: no ``expected_spend`` or
``clv`` columns) have no ``clv_percentile``, ``m_score`` or ``rfm_score``
(:data:`CLV_FIELDS`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Fields clvmodels derives from the scores table, in the order they are added.
DERIVED_COLUMNS = (
    "since_last",
    "is_repeat",
    "p_alive_known",
    "T_percentile",
    "purchases_percentile",
    "clv_percentile",
    "r_score",
    "f_score",
    "m_score",
    "rfm_score",
)
#: Score columns of spend and CLV: a scores table with any of them is one with CLV.
SPEND_COLUMNS = ("expected_spend", "clv", "clv_low", "clv_high")
#: Fields that need revenue: absent from (or not derivable for) scores without CLV.
CLV_FIELDS = ("monetary_value", *SPEND_COLUMNS, "clv_percentile", "m_score", "rfm_score")


def derived_fields(scores: pd.DataFrame, *, one_time_known: bool | None = None) -> pd.DataFrame:
    """The fields clvmodels derives for rules: :data:`DERIVED_COLUMNS`, indexed like ``scores``.

    See the module docstring for definitions. ``scores`` needs finite ``frequency``,
    ``recency``, ``T`` and ``monetary_value``; a missing ``clv`` gets no ``clv_percentile``.
    Scores without a ``clv`` column (no revenue) get neither ``clv_percentile`` nor
    ``m_score`` nor ``rfm_score``. ``one_time_known`` is whether P(alive) means something for
    one-time buyers (None: :func:`one_time_p_alive_known` of ``scores``).
    """
    if one_time_known is None:
        one_time_known = one_time_p_alive_known(scores)[0]
    frequency = scores["frequency"].to_numpy(dtype="float64")
    T = scores["T"].to_numpy(dtype="float64")
    # rounded so that float noise in T - recency does not break ties
    since_last = np.round(T - scores["recency"].to_numpy(dtype="float64"), 9)
    r_score = _quartile_score(-since_last)
    f_score = _quartile_score(frequency)
    columns: dict[str, Any] = {
        "since_last": since_last,
        "is_repeat": frequency > 0,
        "p_alive_known": (frequency > 0) | bool(one_time_known),
        "T_percentile": _percentile_rank(T),
        "purchases_percentile": _percentile_rank(
            scores["expected_purchases"].to_numpy(dtype="float64")
            if "expected_purchases" in scores.columns
            else np.full(len(scores), np.nan)
        ),
        "r_score": r_score,
        "f_score": f_score,
    }
    if has_clv(scores):
        m_score = _quartile_score(scores["monetary_value"].to_numpy(dtype="float64"))
        columns["clv_percentile"] = _percentile_rank(scores["clv"].to_numpy(dtype="float64"))
        columns["m_score"] = m_score
        columns["rfm_score"] = (100 * r_score + 10 * f_score + m_score).astype(str)
    order = [c for c in DERIVED_COLUMNS if c in columns]
    return pd.DataFrame({c: columns[c] for c in order}, index=scores.index)


def one_time_p_alive_known(scores: pd.DataFrame) -> tuple[bool, str]:
    """Whether P(alive) means something for the one-time buyers of ``scores``, and why.

    From the scores' ``attrs["dropout_at_zero"]`` when scoring recorded it (the model's
    :attr:`clvmodels.models.transaction.TransactionModel.dropout_at_zero`). A table read
    back from a file has no attrs: then from its values. P(alive) is taken to mean nothing
    for one-time buyers when every one-time buyer with ``T > 0`` has P(alive) = 1 exactly
    (which is what BG/NBD gives them by construction, and a P(alive) that is 1 for all of
    them separates none of them anyway); when some have less, it means something.

    Returns
    -------
    (bool, str)
        The answer, and a sentence saying where it came from (for the command's output).
    """
    recorded = scores.attrs.get("dropout_at_zero")
    if recorded is not None:
        model = scores.attrs.get("transaction_model", "the model")
        if recorded:
            return True, f"{model} lets customers drop out before a repeat purchase"
        return False, (
            f"{model} gives every one-time buyer P(alive) = 1 by construction (no dropout "
            "before a repeat purchase)"
        )
    if "p_alive" not in scores.columns:
        return False, "the scores have no p_alive"
    frequency = scores["frequency"].to_numpy(dtype="float64")
    one_time = (frequency == 0) & (scores["T"].to_numpy(dtype="float64") > 0)
    if not one_time.any():
        return True, "the scores have no one-time buyers with T > 0"
    p_alive = scores["p_alive"].to_numpy(dtype="float64")[one_time]
    if np.all(p_alive == 1.0):
        return False, "every one-time buyer in the scores has P(alive) = 1"
    return True, "the one-time buyers' P(alive) varies in the scores"


def has_clv(scores: pd.DataFrame) -> bool:
    """Whether a scores table is one with CLV.

    Scores of a model without a spend model have none of ``expected_spend`` and the ``clv``
    columns; a table with any of them is taken to be a CLV table (and then needs ``clv``).
    """
    return any(c in scores.columns for c in SPEND_COLUMNS)


def _percentile_rank(values: np.ndarray) -> np.ndarray:
    """Percent of the non-missing values strictly smaller than each value (NaN stays NaN)."""
    series = pd.Series(values)
    n = int(series.notna().sum())
    if n == 0:
        return np.full(len(values), np.nan)
    below = series.rank(method="min").to_numpy(dtype="float64") - 1.0
    return below / n * 100.0


def _quartile_score(values: np.ndarray) -> np.ndarray:
    """1 + floor(4 * share of values strictly smaller): 1-4, ties share a score."""
    n = len(values)
    if n == 0:
        return np.empty(0, dtype="int64")
    below = pd.Series(values).rank(method="min").to_numpy(dtype="int64") - 1
    return 1 + (4 * below) // n
