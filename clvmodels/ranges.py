"""The allowed ranges of numeric and date arguments: one definition, for library and CLI.

The library functions call these checks on their arguments (naming the parameter); the
``clv`` command's option types call the same checks (naming the flag). ``docs/cli.md``
lists the ranges.

=====================  ===========================  ========================================
argument               range                        why
=====================  ===========================  ========================================
margin                 finite, in (0, 1]            a share of revenue; 0 makes every value 0
annual discount rate   finite, in [0, 10]           0 = no discounting; 10 = 1,000% a year
durations, horizons    at most 100 years            longer is not a forecast (units.py)
dates                  1900-01-01 to 2200-12-31     9999-12-31 "never" sentinels are not days
=====================  ===========================  ========================================
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

#: Earliest and latest day accepted as an argument (and in a data file's dates).
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2200, 12, 31)


@dataclass(frozen=True)
class NumberRange:
    """A closed or half-open interval of finite numbers.

    Parameters
    ----------
    low, high : float
        The bounds.
    low_open, high_open : bool
        Whether the bound itself is excluded.
    """

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def __str__(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is outside the range (``"must be ...; got ..."``), or None."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        inside = (
            math.isfinite(number)
            and (number > self.low if self.low_open else number >= self.low)
            and (number < self.high if self.high_open else number <= self.high)
        )
        if inside and not isinstance(value, bool):
            return None
        return f"must be within {self}; got {value!r}"

    def check(self, value: Any, name: str) -> float:
        """Return ``value`` as a float, or raise ``ValueError`` naming ``name``."""
        problem = self.problem(value)
        if problem is not None:
            raise ValueError(f"{name} {problem}")
        return float(value)


MARGIN = NumberRange(0.0, 1.0, low_open=True)
ANNUAL_DISCOUNT_RATE = NumberRange(0.0, 10.0)
#: Revenue given to every order of a log without revenue (``--value-per-order``).
VALUE_PER_ORDER = NumberRange(0.0, 1e12, low_open=True)


def check_margin(value: Any, name: str = "margin") -> float:
    """The share of revenue that is margin: a finite number in (0, 1].

    Raises
    ------
    ValueError
        Naming ``name`` and the value.
    """
    return MARGIN.check(value, name)


def check_annual_discount_rate(value: Any, name: str = "annual_discount_rate") -> float:
    """The yearly discount rate of future margin: a finite number in [0, 10].

    Raises
    ------
    ValueError
        Naming ``name`` and the value.
    """
    return ANNUAL_DISCOUNT_RATE.check(value, name)


def date_problem(value: dt.date) -> str | None:
    """Why the day ``value`` is outside 1900-01-01..2200-12-31, or None."""
    day = value.date() if isinstance(value, dt.datetime) else value
    if EARLIEST_DATE <= day <= LATEST_DATE:
        return None
    never = " (a 'never' date such as 9999-12-31 is not a day)" if day > LATEST_DATE else ""
    return f"must be a day from {EARLIEST_DATE} to {LATEST_DATE}; got {day.isoformat()}{never}"


def check_date(value: dt.date, name: str) -> dt.date:
    """Return ``value`` if it is a day from 1900-01-01 to 2200-12-31.

    Raises
    ------
    ValueError
        Naming ``name`` and the value.
    """
    problem = date_problem(value)
    if problem is not None:
        raise ValueError(f"{name} {problem}")
    return value
