"""The dates a summary covers.

Parsing date arguments, and resolving the calibration and observation ends against the
orders' first and last days (docs/definitions.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from clvmodels.errors import DataError
from clvmodels.ranges import date_problem

type DateLike = str | dt.date | pd.Timestamp | None


def to_day(value: DateLike) -> dt.date | None:
    """Parse a date given as text, ``date`` or ``Timestamp`` (``None`` stays ``None``)."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"'{value}' is not a date (use YYYY-MM-DD)") from exc
    if pd.isna(stamp):
        raise DataError(f"'{value}' is not a date (use YYYY-MM-DD)")
    problem = date_problem(stamp.date())
    if problem is not None:
        raise DataError(f"a date argument {problem}")
    return stamp.date()


@dataclass(frozen=True)
class Period:
    """The dates an RFM summary covers: first order, calibration end, observation end."""

    first_order: dt.date
    last_order: dt.date
    calibration_end: dt.date
    observation_end: dt.date

    @property
    def has_holdout(self) -> bool:
        """Whether a holdout period follows the calibration period."""
        return self.observation_end > self.calibration_end


def order_period(
    orders: pd.DataFrame,
    *,
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
) -> Period:
    """Resolve the calibration and observation ends against the orders' date range.

    The observation end defaults to the day of the last order; the calibration end to the
    observation end (no holdout).

    Raises
    ------
    DataError
        When an end falls before the first order, or the calibration end after the
        observation end.
    """
    first = pd.Timestamp(orders["timestamp"].min()).date()
    last = pd.Timestamp(orders["timestamp"].max()).date()
    return resolve_period(
        first, last, observation_end=observation_end, calibration_end=calibration_end
    )


def resolve_period(
    first: dt.date,
    last: dt.date,
    *,
    observation_end: DateLike = None,
    calibration_end: DateLike = None,
) -> Period:
    """:func:`order_period` for orders whose first and last days are known."""
    obs = to_day(observation_end) or last
    cal = to_day(calibration_end) or obs
    if obs < first:
        raise DataError(
            f"the observation end {obs} is before the first order ({first}); "
            f"the orders run from {first} to {last}"
        )
    if cal < first:
        raise DataError(
            f"the calibration end {cal} is before the first order ({first}); "
            f"the orders run from {first} to {last}"
        )
    if cal > obs:
        raise DataError(f"the calibration end {cal} is after the observation end {obs}")
    return Period(first_order=first, last_order=last, calibration_end=cal, observation_end=obs)
