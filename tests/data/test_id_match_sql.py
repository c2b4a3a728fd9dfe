"""id_match_sql: the SQL form of id_match_keys, run in DuckDB on integer and text ids."""

from __future__ import annotations

import pandas as pd

from clvmodels.data.columns import id_match_keys, id_match_sql
from clvmodels.data.io import duckdb_connection


def _matches(left: pd.Series, right: pd.Series, left_type: str, right_type: str) -> list:
    left_key, right_key = id_match_sql("l.id", left_type, "r.id", right_type)
    with duckdb_connection() as con:
        con.register("l", pd.DataFrame({"id": left}))
        con.register("r", pd.DataFrame({"id": right}))
        rows = con.execute(
            f"SELECT CAST(l.id AS VARCHAR) FROM l JOIN r ON {left_key} = {right_key} ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


def test_integer_and_text_ids_match_as_written() -> None:
    ints = pd.Series([7, 8, 10], dtype="int64")
    texts = pd.Series(["7", "007", "10"], dtype=object)
    assert _matches(texts, ints, "VARCHAR", "BIGINT") == ["10", "7"]  # "007" is not 7
    assert _matches(ints, texts, "BIGINT", "VARCHAR") == ["10", "7"]
    # the pandas form agrees
    left, right = id_match_keys(texts, ints)
    assert sorted(set(left) & set(right)) == ["10", "7"]


def test_same_types_are_compared_as_they_are() -> None:
    assert id_match_sql("a", "BIGINT", "b", "BIGINT") == ("a", "b")
    assert id_match_sql("a", "VARCHAR", "b", "varchar") == ("a", "b")
    texts = pd.Series(["007", "7"], dtype=object)
    assert _matches(texts, pd.Series(["7"], dtype=object), "VARCHAR", "VARCHAR") == ["7"]
