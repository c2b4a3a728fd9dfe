"""Time units and durations: the one place where days become weeks or months.

Units (docs/definitions.md): ``D`` = 1 day, ``W`` = 7 days, ``M`` = 365.25 / 12 days. A time unit is
always stated, never implied.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Literal

TimeUnit = Literal["D", "W", "M"]

DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12.0}
UNIT_NAMES: dict[str, str] = {"D": "days", "W": "weeks", "M": "months"}

#: The longest duration accepted (a horizon longer than this is not a forecast).
MAX_DURATION_YEARS = 100
MAX_DURATION_DAYS = MAX_DURATION_YEARS * 365.25

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([DWM])\s*$", re.IGNORECASE)


def check_time_unit(time_unit: str) -> TimeUnit:
    """Return ``time_unit`` if it is one of ``D``, ``W``, ``M``; raise ``ValueError`` otherwise."""
    unit = str(time_unit).upper()
    if unit not in DAYS_PER_UNIT:
        raise ValueError(
            f"time unit must be one of D, W, M (days, weeks, months); got {time_unit!r}"
        )
    return unit  # type: ignore[return-value]


def days_to_units(days: float, time_unit: str) -> float:
    """Convert a number of days into ``time_unit``."""
    return days / DAYS_PER_UNIT[check_time_unit(time_unit)]


def units_per_month(time_unit: str) -> float:
    """How many ``time_unit`` make one month of 365.25 / 12 days (M: 1, W: 4.348..., D: 30.4375)."""
    return DAYS_PER_UNIT["M"] / DAYS_PER_UNIT[check_time_unit(time_unit)]


def units_to_days(value: float, time_unit: str) -> float:
    """Convert a number of ``time_unit`` into days."""
    return value * DAYS_PER_UNIT[check_time_unit(time_unit)]


@dataclass(frozen=True)
class Duration:
    """A length of time with its unit, such as ``39W`` or ``12M``.

    Parameters
    ----------
    value : float
        How many units.
    unit : {"D", "W", "M"}
        The unit of ``value``.
    """

    value: float
    unit: TimeUnit

    def __post_init__(self) -> None:
        """Check the value: finite, positive, at most :data:`MAX_DURATION_YEARS` years."""
        unit = check_time_unit(self.unit)
        number = isinstance(self.value, numbers.Real) and not isinstance(self.value, bool)
        value = float(self.value) if number else math.nan
        if not value > 0:
            raise ValueError(
                f"a duration must be a positive number of {UNIT_NAMES[unit]}; got {self.value!r}"
            )
        most = MAX_DURATION_DAYS / DAYS_PER_UNIT[unit]
        if not value <= most * (1 + 1e-12):
            raise ValueError(
                f"a duration must be at most {MAX_DURATION_YEARS} years "
                f"({math.floor(most + 1e-9)}{unit}); got {_number(value)}{unit}"
            )
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "unit", unit)

    @property
    def days(self) -> float:
        """The duration in days."""
        return units_to_days(self.value, self.unit)

    def in_units(self, time_unit: str) -> float:
        """The duration expressed in ``time_unit``."""
        return days_to_units(self.days, time_unit)

    @property
    def months(self) -> float:
        """The duration in months of 365.25 / 12 days."""
        return self.in_units("M")

    def __str__(self) -> str:
        return f"{_number(self.value)}{self.unit}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def parse_duration(text: str | Duration) -> Duration:
    """Parse a duration such as ``"39W"``, ``"90D"`` or ``"12M"``.

    Raises
    ------
    ValueError
        If the text is not a positive number followed by D, W or M, or is longer than
        :data:`MAX_DURATION_YEARS` years.
    """
    if isinstance(text, Duration):
        return text
    match = _DURATION.match(str(text))
    if not match or float(match.group(1)) <= 0:
        raise ValueError(
            f"a duration is a positive number followed by D, W or M (such as 39W, 90D, 12M); "
            f"got {text!r}"
        )
    return Duration(float(match.group(1)), match.group(2).upper())  # type: ignore[arg-type]
