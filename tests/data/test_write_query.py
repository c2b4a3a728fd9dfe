"""write_query: a query's result written from DuckDB as CSV or Parquet, atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from clvmodels.data.frame_sql import write_query
from clvmodels.data.io import duckdb_connection
from clvmodels.errors import DataError

QUERY = """
SELECT * FROM (VALUES
    (2, TIMESTAMP '2024-01-02 10:00:00', 'a,b', NULL),
    (1, TIMESTAMP '2024-01-01 09:30:05', 'x', 'touch')
) t(uid, first_visit, source_id, device) WHERE uid >= $least ORDER BY uid
"""


def test_csv_as_pandas_writes_it(tmp_path: Path) -> None:
    target = tmp_path / "out" / "buyers.csv"
    with duckdb_connection() as con:
        assert write_query(con, QUERY, target, {"least": 1}) == target
    assert target.read_text().splitlines() == [
        "uid,first_visit,source_id,device",
        "1,2024-01-01 09:30:05,x,touch",
        '2,2024-01-02 10:00:00,"a,b",',  # quoted as needed; missing is an empty field
    ]
    assert [p.name for p in target.parent.iterdir()] == ["buyers.csv"]  # no temporary left


def test_parquet_and_a_bad_suffix(tmp_path: Path) -> None:
    with duckdb_connection() as con:
        write_query(con, QUERY, tmp_path / "t.parquet", {"least": 2})
        with pytest.raises(DataError, match=r"\.csv or \.parquet"):
            write_query(con, QUERY, tmp_path / "t.xlsx", {"least": 2})
    frame = pd.read_parquet(tmp_path / "t.parquet")
    assert frame["uid"].tolist() == [2] and frame["source_id"].tolist() == ["a,b"]
    assert frame["device"].isna().all()
    assert not (tmp_path / "t.xlsx").exists()
