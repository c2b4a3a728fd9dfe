"""Checks of the simulators' arguments: whole counts, model parameters, the start date."""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Mapping

import pandas as pd


def check_count(value: object, name: str, *, minimum: int) -> int:
    """``value`` as an int, when it is a whole number of at least ``minimum``; else ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def check_params(
    given: Mapping[str, float] | None, defaults: Mapping[str, float], name: str
) -> dict[str, float]:
    """``defaults`` updated with ``given``, each positive and finite; else ValueError naming it."""
    given = {} if given is None else dict(given)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown {name} parameter(s) {', '.join(map(repr, unknown))}; "
            f"the parameters are {', '.join(defaults)}"
        )
    params: dict[str, float] = {}
    for key, default in defaults.items():
        value = given.get(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} parameter {key!r} must be a number; got {value!r}") from None
        if not (math.isfinite(number) and number > 0):
            raise ValueError(f"{name} parameter {key!r} must be positive and finite; got {value!r}")
        params[key] = number
    return params


def check_start(start: str | dt.date | pd.Timestamp) -> pd.Timestamp:
    """``start`` as a timezone-naive nanosecond Timestamp; else ValueError."""
    try:
        stamp = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start {start!r} is not a date (use YYYY-MM-DD)") from exc
    if pd.isna(stamp):
        raise ValueError(f"start {start!r} is not a date (use YYYY-MM-DD)")
    if stamp.tz is not None:
        raise ValueError(f"start must be timezone-naive; got {stamp}")
    return stamp.as_unit("ns")
