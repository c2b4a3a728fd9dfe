"""The covariates' encoding: reference levels, standardisation, refusals, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.errors import DataError
from clvmodels.models.covariates import CovariateEncoding, fit_encoding


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6"],
            "channel": ["web", "store", "web", "app", "store", "web"],
            "gender": ["f", "m", "m", "f", "x", "x"],  # a three-way tie
            "first_order_value": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
        }
    )


def test_reference_is_the_most_frequent_level_ties_by_sort_order() -> None:
    enc = fit_encoding(_frame(), ["channel", "gender", "first_order_value"], ["channel"])
    assert enc.column("channel").reference == "web"
    assert enc.column("gender").reference == "f"  # f, m, x tie: the first in sort order
    assert enc.features("purchase") == (
        "channel=app",
        "channel=store",
        "gender=m",
        "gender=x",
        "first_order_value",
    )
    assert enc.features("dropout") == ("channel=app", "channel=store")


def test_design_one_hot_and_standardised() -> None:
    frame = _frame()
    enc = fit_encoding(frame, ["channel", "first_order_value"], ["gender"])
    purchase, dropout = enc.design(frame)
    values = frame["first_order_value"].to_numpy()
    expected_numeric = (values - values.mean()) / values.std()
    np.testing.assert_allclose(purchase[:, 2], expected_numeric)
    np.testing.assert_array_equal(purchase[:, 0], frame["channel"].eq("app").astype(float))
    np.testing.assert_array_equal(purchase[:, 1], frame["channel"].eq("store").astype(float))
    np.testing.assert_array_equal(dropout, np.c_[frame.gender.eq("m"), frame.gender.eq("x")])


def test_encoding_applies_unchanged_to_new_customers_and_round_trips_json() -> None:
    enc = fit_encoding(_frame(), ["channel", "first_order_value"], [])
    again = CovariateEncoding.from_dict(json.loads(json.dumps(enc.to_dict())))
    assert again == enc
    new = pd.DataFrame({"channel": ["app", "web"], "first_order_value": [35.0, 0.0]})
    purchase, dropout = again.design(new)
    np.testing.assert_allclose(
        purchase[:, 2], (np.array([35.0, 0.0]) - 35.0) / np.std(np.arange(10, 70, 10))
    )
    assert dropout.shape == (2, 0)


def test_unseen_levels_are_refused_naming_column_count_and_examples() -> None:
    enc = fit_encoding(_frame(), ["channel"], [])
    new = pd.DataFrame({"customer_id": ["n1", "n2", "n3"], "channel": ["tv", "web", "tv"]})
    with pytest.raises(DataError, match="levels not seen") as info:
        enc.design(new)
    assert info.value.column == "channel"
    assert info.value.n_rows == 2
    assert "customer n1: 'tv'" in str(info.value)


@pytest.mark.parametrize(
    ("column", "value"), [("channel", None), ("channel", " "), ("first_order_value", np.nan)]
)
def test_missing_values_are_refused(column: str, value: object) -> None:
    frame = _frame().astype({"channel": object})
    frame.loc[2, column] = value
    with pytest.raises(DataError, match="missing covariate values") as info:
        fit_encoding(frame, ["channel", "first_order_value"], [])
    assert info.value.column == column
    assert info.value.n_rows == 1
    assert "customer c3" in str(info.value)


def test_constant_columns_and_absent_columns_are_refused() -> None:
    frame = _frame().assign(one="a", flat=1.0)
    with pytest.raises(DataError, match="only one level"):
        fit_encoding(frame, ["one"], [])
    with pytest.raises(DataError, match="same value"):
        fit_encoding(frame, ["flat"], [])
    with pytest.raises(DataError, match="no column 'nope'"):
        fit_encoding(frame, ["nope"], [])
    enc = fit_encoding(frame, ["channel"], [])
    with pytest.raises(DataError, match="no covariate column 'channel'"):
        enc.design(frame.drop(columns="channel"))
