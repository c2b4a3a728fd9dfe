"""The visits contract in SQL (data/visits_sql.register_visits) on files, as a user gives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.io import duckdb_connection
from clvmodels.data.visits_sql import VISITS_VIEW, VisitsSource, register_visits
from clvmodels.errors import DataError


def _read(source: VisitsSource) -> tuple[pd.DataFrame, dict]:
    with duckdb_connection() as con:
        info = register_visits(con, source)
        return con.execute(f"SELECT * FROM {VISITS_VIEW}").df(), info.problems


def test_parquet_nanoseconds_and_float_sources(tmp_path: Path) -> None:
    start = pd.to_datetime(
        ["2026-01-01 23:59:59.999999999", "2026-01-02 10:00:00.0"], format="ISO8601"
    )
    frame = pd.DataFrame(
        {
            "user": np.array([10, 20], dtype=np.int64),
            "began": start,
            "ended": start + pd.to_timedelta([1, 60], unit="s"),
            "src": [7.0, np.nan],
        }
    )
    path = tmp_path / "visits.parquet"
    frame.to_parquet(path)
    visits, problems = _read(
        VisitsSource(path, uid_col="user", start_col="began", end_col="ended", source_col="src")
    )
    assert visits["uid"].tolist() == [10, 20]
    # the nanoseconds are kept (a cast to microseconds would move the start)
    assert visits["start_ts"].iloc[0] == pd.Timestamp("2026-01-01 23:59:59.999999999")
    assert visits["source_id"].iloc[0] == "7" and pd.isna(visits["source_id"].iloc[1])
    assert visits["device"].isna().all()  # no device column
    assert problems["missing_source"] == 1 and problems["examples"]["missing_source"] == ["row 2"]


def test_csv_text_ids_stay_as_written(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text(
        "uid,start_ts,end_ts,source_id,device\n"
        "007, 2026-01-05 10:00:00,2026-01-05 10:01:00,3,touch\n"
        "7,2026-01-05T11:00:00,,3,desktop\n"
        ",2026-01-05 12:00:00,2026-01-05 12:01:00,3,desktop\n",
        encoding="utf-8",
    )
    visits, problems = _read(VisitsSource(path))
    assert visits["uid"].tolist() == ["007", "7"]
    assert visits["end_ts"].isna().tolist() == [False, True]
    assert (problems["missing_uid"], problems["missing_end"]) == (1, 1)
    assert problems["examples"] == {"missing_uid": ["row 3"], "missing_end": ["row 2"]}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("1,03/04/2026 10:00,03/04/2026 10:01,1\n", "day/month dates are ambiguous"),
        ("1.23E+20,2026-01-01,2026-01-01,1\n", "scientific notation"),
        (",2026-01-01,2026-01-01,1\n", "no visit has both a user id and a session start"),
    ],
)
def test_unusable_tables_are_errors(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "visits.csv"
    path.write_text("uid,start_ts,end_ts,source_id\n" + rows, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        _read(VisitsSource(path))


def test_missing_columns_name_their_options(tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text("user,start_ts,end_ts\n1,2026-01-01,2026-01-01\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        _read(VisitsSource(path))
    text = str(caught.value)
    assert "'uid'" in text and "--visits-uid-col" in text and "--visits-source-col" in text
