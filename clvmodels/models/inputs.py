"""The RFM table a model takes: its columns, its checks and its collapse onto (x, t_x, T).

This is the models' side of :mod:`clvmodels.summaries.rfm` (which builds the table from
orders): it imports no readers or DuckDB, so importing a model loads none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, Label

RFM_COLUMNS = ("customer_id", "frequency", "recency", "T", "monetary_value")
TUPLE_COLUMNS = ("frequency", "recency", "T")
#: RFM columns some models read besides :data:`RFM_COLUMNS`: ``litt``, the sum of the log
#: inter-occasion times (BG/CNBD-k, MBG/CNBD-k; docs/definitions.md).
EXTRA_RFM_COLUMNS = ("litt",)


@dataclass(frozen=True)
class CollapsedRFM:
    """Customers collapsed onto their unique (frequency, recency, T) tuples.

    Attributes
    ----------
    tuples : pandas.DataFrame
        ``frequency, recency, T, n_customers``: the sufficient statistics of the BG/NBD
        and Pareto/NBD likelihoods, one row per distinct tuple.
    inverse : numpy.ndarray
        For each input row, the index of its tuple, so ``tuples.iloc[inverse]`` restores
        the per-customer rows.
    """

    tuples: pd.DataFrame
    inverse: np.ndarray


def collapse_rfm(rfm: pd.DataFrame) -> CollapsedRFM:
    """Collapse identical (frequency, recency, T) rows into one row with a count.

    The BG/NBD log-likelihood of a customer depends on the data only through
    (x, t_x, T) (Fader, Hardie & Lee 2005, eq. 6), so the total log-likelihood equals the
    count-weighted sum over distinct tuples.
    """
    _require_columns(rfm, TUPLE_COLUMNS, "RFM table")
    grouped = rfm.groupby(list(TUPLE_COLUMNS), sort=True)
    inverse = grouped.ngroup().to_numpy()
    tuples = grouped.size().rename("n_customers").reset_index()
    tuples["frequency"] = tuples["frequency"].astype("int64")
    tuples["n_customers"] = tuples["n_customers"].astype("int64")
    return CollapsedRFM(tuples=tuples, inverse=inverse)


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"the {what} has no column {', '.join(repr(m) for m in missing)}",
            hint=f"its columns are: {', '.join(map(str, frame.columns))}",
        )


def validate_rfm(rfm: pd.DataFrame, *, require_monetary: bool = False) -> None:
    """Check an RFM table before fitting or scoring; raise a DataError that says what is wrong.

    Rules: no missing values; ``frequency`` a non-negative integer; ``0 <= recency <= T``;
    ``recency == 0`` when ``frequency == 0``; with ``require_monetary``, a finite
    ``monetary_value`` that is not negative (0 is kept: zero-value orders exist).
    """
    columns = [*TUPLE_COLUMNS, "monetary_value"] if require_monetary else list(TUPLE_COLUMNS)
    _require_columns(rfm, columns, "RFM table")
    if len(rfm) == 0:
        raise DataError("the RFM table has no rows")
    ids = rfm["customer_id"] if "customer_id" in rfm.columns else pd.Series(rfm.index)

    def check(bad: pd.Series | np.ndarray, column: str, problem: str) -> None:
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            raise DataError(
                problem,
                column=column,
                n_rows=int(bad.sum()),
                examples=[Label(f"customer {v}") for v in ids.to_numpy()[bad][:5]],
            )

    for column in columns:
        values = pd.to_numeric(rfm[column], errors="coerce").to_numpy(dtype="float64")
        check(~np.isfinite(values), column, "missing (NaN) or non-numeric values")
    x = rfm["frequency"].to_numpy(dtype="float64")
    t_x = rfm["recency"].to_numpy(dtype="float64")
    T = rfm["T"].to_numpy(dtype="float64")
    check((x < 0) | (x % 1 != 0), "frequency", "frequency must be a non-negative integer")
    check(t_x < 0, "recency", "negative recency")
    check(T < 0, "T", "negative T")
    check(t_x > T + 1e-9, "recency", "recency larger than T")
    check((x == 0) & (t_x != 0), "recency", "recency must be 0 for customers with frequency 0")
    if require_monetary:
        m = rfm["monetary_value"].to_numpy(dtype="float64")
        check(m < 0, "monetary_value", "negative monetary_value")
