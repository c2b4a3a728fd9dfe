"""read_visits(problems="report"): unusable rows dropped and counted, the rest kept and counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.marketing import read_visits
from clvmodels.errors import DataError

COLUMNS = ["uid", "device", "start_ts", "end_ts", "source_id"]
ROWS = [
    ("u1", "desktop", "2026-01-05 10:00:00", "2026-01-05 10:01:00", 1),  # fine
    (None, "touch", "2026-01-05 11:00:00", "2026-01-05 11:01:00", 2),  # no uid: dropped
    ("  ", "touch", "2026-01-05 11:00:00", "2026-01-05 11:01:00", 2),  # blank uid: dropped
    ("u2", "touch", None, "2026-01-05 12:00:00", 3),  # no start: dropped
    ("u2", "touch", "not a time", "2026-01-05 12:00:00", 3),  # bad start: dropped
    ("u3", None, "2026-01-06 09:00:00", None, 4),  # no end: kept, NaT
    ("u4", "desktop", "2026-01-06 09:00:00", "2026-01-06 08:59:00", None),  # end<start, no source
    ("007", "desktop", "2026-01-07 09:00:00", "2026-01-07 09:00:30", 5.0),  # fine, id as written
]


def _raw() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=COLUMNS)


def test_report_drops_and_counts() -> None:
    visits = read_visits(_raw(), problems="report")
    problems = visits.attrs["visit_problems"]
    assert {k: v for k, v in problems.items() if k != "examples"} == {
        "missing_uid": 2,
        "missing_start": 2,
        "missing_end": 1,
        "negative_length": 1,
        "missing_source": 1,
    }
    assert problems["examples"]["missing_uid"] == ["row 2", "row 3"]
    assert problems["examples"]["missing_start"] == ["row 4", "row 5"]
    assert problems["examples"]["negative_length"] == ["row 7"]
    assert visits["uid"].tolist() == ["u1", "u3", "u4", "007"]
    assert visits["end_ts"].isna().tolist() == [False, True, False, False]
    # the backwards session is kept exactly as written
    row = visits.iloc[2]
    assert row["end_ts"] - row["start_ts"] == pd.Timedelta(seconds=-60)
    assert visits["source_id"].isna().tolist() == [False, False, True, False]
    assert visits["source_id"].dropna().tolist() == ["1", "4", "5"]
    assert visits["device"].isna().tolist() == [False, True, False, False]
    assert str(visits["start_ts"].dtype) == "datetime64[ns]"


def test_report_clean_table_counts_zero() -> None:
    visits = read_visits(_raw().iloc[[0, 7]], problems="report")
    problems = visits.attrs["visit_problems"]
    assert all(problems[k] == 0 for k in problems if k != "examples")
    assert problems["examples"] == {}
    assert len(visits) == 2


def test_report_float_ids_with_gaps() -> None:
    raw = pd.DataFrame(
        {
            "uid": [1.0, np.nan, 3.0],
            "start_ts": ["2026-01-01", "2026-01-01", "2026-01-02"],
            "end_ts": ["2026-01-01 00:01", "2026-01-01 00:02", "2026-01-02 00:03"],
            "source_id": [1, 1, 2],
        }
    )
    visits = read_visits(raw, problems="report")
    assert visits["uid"].tolist() == [1, 3]
    assert visits.attrs["visit_problems"]["missing_uid"] == 1


@pytest.mark.parametrize("row", [1, 3, 5, 6])
def test_error_mode_unchanged(row: int) -> None:
    raw = _raw().iloc[[0, row]]
    with pytest.raises(DataError):
        read_visits(raw)


def test_error_mode_has_no_attrs() -> None:
    visits = read_visits(_raw().iloc[[0, 7]])
    assert "visit_problems" not in visits.attrs


def test_unknown_problems_value() -> None:
    with pytest.raises(ValueError, match="problems"):
        read_visits(_raw(), problems="ignore")  # type: ignore[arg-type]
