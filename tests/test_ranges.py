"""The library checks its arguments with the same ranges as the command line."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
from test_persistence import fixed_model

from clvmodels import ranges
from clvmodels.marketing.budget import budget_recommendation
from clvmodels.predict.scoring import monthly_steps
from clvmodels.summaries import cohorts
from clvmodels.units import Duration, parse_duration


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("99999999999M", "a duration must be at most 100 years (1200M); got 99999999999M"),
        ("1201M", "a duration must be at most 100 years (1200M); got 1201M"),
        ("5218W", "a duration must be at most 100 years (5217W); got 5218W"),
        ("36525.5D", "a duration must be at most 100 years (36525D); got 36525.5D"),
    ],
)
def test_parse_duration_refuses_more_than_100_years(text, message):
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


def test_the_longest_durations_are_100_years():
    assert parse_duration("1200M").days == pytest.approx(100 * 365.25)
    assert parse_duration("36525D").months == pytest.approx(1200)
    assert parse_duration("5217W").days == 5217 * 7


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0, True, "12"])
def test_duration_checks_its_value(value):
    with pytest.raises(ValueError, match="a duration must be"):
        Duration(value, "M")


def test_duration_checks_its_unit():
    with pytest.raises(ValueError, match="time unit must be one of D, W, M"):
        Duration(3, "Y")  # type: ignore[arg-type]
    assert Duration(3, "m").unit == "M"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("margin", "ok"),
    [(1.0, True), (1e-12, True), (0.0, False), (1.0000001, False), (math.nan, False),
     (math.inf, False), (-math.inf, False), ("0.5", True), ("x", False), (None, False)],
)  # fmt: skip
def test_margin_range(margin, ok):
    if ok:
        assert ranges.check_margin(margin) == float(margin)
    else:
        with pytest.raises(ValueError, match=r"^margin must be within \(0, 1\]; got "):
            ranges.check_margin(margin)


@pytest.mark.parametrize(
    ("rate", "ok"),
    [(0.0, True), (10.0, True), (0.1, True), (-0.01, False), (10.01, False),
     (math.nan, False), (math.inf, False)],
)  # fmt: skip
def test_discount_rate_range(rate, ok):
    if ok:
        assert ranges.check_annual_discount_rate(rate) == rate
    else:
        with pytest.raises(ValueError, match=r"^annual_discount_rate must be within \[0, 10\]"):
            ranges.check_annual_discount_rate(rate)


def test_one_definition_of_the_margin_check():
    assert cohorts.check_margin is ranges.check_margin


def test_monthly_steps_use_the_same_checks():
    with pytest.raises(ValueError, match=r"annual_discount_rate must be within \[0, 10\]; got inf"):
        monthly_steps(12, math.inf)
    with pytest.raises(ValueError, match="at most 100 years"):
        monthly_steps(1e11, 0.1)
    with pytest.raises(ValueError, match="a duration must be a positive number of months"):
        monthly_steps(math.nan, 0.1)


RFM = pd.DataFrame(
    {
        "customer_id": ["a", "b"],
        "frequency": [2.0, 0.0],
        "recency": [30.0, 0.0],
        "T": [38.0, 20.0],
        "monetary_value": [20.0, 0.0],
    }
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"margin": math.nan}, r"^margin must be within \(0, 1\]; got nan$"),
        ({"margin": 2.0}, r"^margin must be within \(0, 1\]; got 2.0$"),
        (
            {"annual_discount_rate": math.inf},
            r"^annual_discount_rate must be within \[0, 10\]; got inf$",
        ),
        (
            {"horizon": "99999999999M"},
            r"^a duration must be at most 100 years \(1200M\); got 99999999999M$",
        ),
    ],
)  # fmt: skip
def test_scoring_refuses_the_same_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fixed_model().score(RFM, **kwargs)


def test_scores_at_the_ends_of_the_ranges():
    scores = fixed_model().score(RFM, horizon="1200M", annual_discount_rate=10.0, margin=1e-9)
    assert scores["clv"].between(0, 1e-3).all()


def test_budget_uses_the_discount_check():
    with pytest.raises(
        ValueError, match=r"^annual_discount_rate must be within \[0, 10\]; got -0.5$"
    ):
        budget_recommendation(None, None, None, annual_discount_rate=-0.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("day", "ok"),
    [("1900-01-01", True), ("2200-12-31", True), ("1899-12-31", False), ("2201-01-01", False),
     ("9999-12-31", False), ("1677-09-21", False)],
)  # fmt: skip
def test_date_range(day, ok):
    value = dt.date.fromisoformat(day)
    if ok:
        assert ranges.check_date(value, "observation_end") == value
    else:
        with pytest.raises(ValueError, match=r"^observation_end must be a day from 1900-01-01"):
            ranges.check_date(value, "observation_end")


@pytest.mark.parametrize("day", ["9999-12-31", "1600-01-01"])
def test_library_date_arguments_use_the_same_range(cdnow_orders, day):
    from clvmodels.errors import DataError
    from clvmodels.summaries.rfm import rfm_summary

    with pytest.raises(
        DataError, match=rf"^a date argument must be a day from 1900-01-01 to 2200-12-31; got {day}"
    ):
        rfm_summary(cdnow_orders, observation_end=day)
