"""clean_ids: ids kept exactly as written (the orders contract's rules, in pandas)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.columns import clean_ids
from clvmodels.errors import DataError


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        (["9007199254740993", " 12 "], "int64", [2**53 + 1, 12]),  # not through a float
        (["9223372036854775808", "1"], "object", ["9223372036854775808", "1"]),  # > int64
        (["007", "7"], "object", ["007", "7"]),
        (["-5", "0"], "int64", [-5, 0]),
        (np.array([2**64 - 1, 1], dtype="uint64"), "object", ["18446744073709551615", "1"]),
        (np.array([3, 4], dtype="int32"), "int64", [3, 4]),
        (np.array([3.0, 2.0**53]), "int64", [3, 2**53]),
    ],
)
def test_ids_as_written(values, dtype, expected):
    ids = clean_ids(pd.Series(values), "id")
    assert ids.dtype == dtype and ids.tolist() == expected


def test_text_integers_may_stay_text():
    assert clean_ids(pd.Series(["1", "2"]), "id", text_integers=False).tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            [1.5, 2.0],
            "not whole numbers of at most 2^53 (they cannot be kept exactly) (1 row, e.g. 1.5)",
        ),
        ([2.0**53 + 2, 1.0], "not whole numbers of at most 2^53"),
        ([1.0, np.nan], "empty or missing customer ids (1 row, e.g. row 2)"),
        (["1.23E+20", "5"], "scientific notation (a spreadsheet rounded them"),
        (["a", " "], "empty or missing customer ids (1 row, e.g. row 2)"),
        (["a", "NULL"], "empty or missing customer ids"),
    ],
)
def test_ids_that_cannot_be_kept_exactly(values, message):
    with pytest.raises(DataError, match="column 'id'") as info:
        clean_ids(pd.Series(values), "id")
    assert message in str(info.value)
