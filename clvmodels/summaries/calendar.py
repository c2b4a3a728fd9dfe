"""Calendar periods, defined once: months and ISO weeks numbered by an integer index.

Cohorts, payback, attribution and the Spark engine all number periods this way
(docs/definitions.md, "Cohorts"):

* a **month** index is ``year * 12 + month - 1`` (January 1970 is 23,640);
* a **week** index counts ISO weeks (Monday to Sunday) from Monday 1970-01-05, so week ``w``
  starts on 1970-01-05 + 7 w days.

Each engine gets the same definition in its own language: :func:`period_index` and
:func:`period_start` for pandas, :func:`period_index_sql` and :func:`period_start_sql` for
DuckDB SQL, and :data:`WEEK_ORIGIN` for the Spark column expressions in
:mod:`clvmodels.spark`.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd

CohortPeriod = Literal["month", "week"]
PERIODS: tuple[CohortPeriod, ...] = ("month", "week")
#: The Monday that starts week 0.
WEEK_ORIGIN = dt.date(1970, 1, 5)
_WEEK_ORIGIN_STAMP = pd.Timestamp(WEEK_ORIGIN)
_WEEK_ORIGIN_SQL = f"DATE '{WEEK_ORIGIN.isoformat()}'"


def check_period(period: str) -> CohortPeriod:
    """Return ``period`` if it is ``"month"`` or ``"week"``; raise ``ValueError`` otherwise."""
    value = str(period).lower()
    if value not in PERIODS:
        raise ValueError(f"period must be 'month' or 'week'; got {period!r}")
    return value


def day_index(day: dt.date, period: CohortPeriod) -> int:
    """Index of the period that holds one day."""
    if period == "month":
        return day.year * 12 + day.month - 1
    return (day - WEEK_ORIGIN).days // 7


def period_index(days: pd.Series | pd.DatetimeIndex, period: CohortPeriod) -> np.ndarray:
    """Integer index of the period holding each day (int64 array)."""
    stamps = pd.DatetimeIndex(days)
    if period == "month":
        return np.asarray(stamps.year * 12 + stamps.month - 1, dtype=np.int64)
    return np.asarray((stamps.normalize() - _WEEK_ORIGIN_STAMP).days // 7, dtype=np.int64)


def period_start(index: np.ndarray | int, period: CohortPeriod) -> pd.DatetimeIndex:
    """First day of each period numbered by :func:`period_index`."""
    idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
    if period == "month":
        return pd.DatetimeIndex(
            pd.to_datetime({"year": idx // 12, "month": idx % 12 + 1, "day": 1})
        ).as_unit("ns")
    return pd.DatetimeIndex(_WEEK_ORIGIN_STAMP + pd.to_timedelta(idx * 7, unit="D")).as_unit("ns")


def period_index_sql(day: str, period: CohortPeriod) -> str:
    """DuckDB SQL for the index of the period that contains the DATE expression ``day``."""
    if period == "month":
        return f"CAST(year({day}) * 12 + month({day}) - 1 AS INTEGER)"
    return f"CAST(floor(({day} - {_WEEK_ORIGIN_SQL}) / 7) AS INTEGER)"


def period_start_sql(index: str, period: CohortPeriod) -> str:
    """DuckDB SQL for the first day (DATE) of the period numbered ``index``."""
    if period == "month":
        return (
            f"make_date(CAST(floor({index} / 12) AS BIGINT), CAST({index} % 12 + 1 AS BIGINT), 1)"
        )
    return f"({_WEEK_ORIGIN_SQL} + {index} * 7)"
