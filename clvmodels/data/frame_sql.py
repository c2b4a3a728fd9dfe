"""SELECTs over tables in memory, run in DuckDB: the views of a published folder.

``clv publish`` writes its views into a database as SQL views; to a folder of files it
computes them here with the same SQL, whose ``{t[name]}`` placeholders (the writer's,
:mod:`clvmodels.data.database_write`) become the quoted names of the given tables.
:func:`write_query` writes a SELECT's result on a connection straight into a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from clvmodels.data.database_url import quote_identifier
from clvmodels.data.io import atomic_path, duckdb_connection
from clvmodels.data.readers import first_line, sql_text
from clvmodels.errors import DataError


def run_selects(
    tables: Mapping[str, pd.DataFrame], selects: Mapping[str, str]
) -> dict[str, pd.DataFrame]:
    """The result of each SELECT of ``selects`` over ``tables``, in DuckDB.

    Parameters
    ----------
    tables : mapping
        Name -> table; each SELECT reads the tables as ``{t[name]}``.
    selects : mapping
        Name -> SELECT. A later SELECT may read an earlier one's result as ``{t[name]}``,
        as a view may read a view.

    Raises
    ------
    DataError
        Naming the SELECT that failed and DuckDB's message.
    """
    names = {name: quote_identifier(name) for name in [*tables, *selects]}
    results: dict[str, pd.DataFrame] = {}
    with duckdb_connection() as con:
        for name, frame in tables.items():
            con.register(name, frame)
        for name, select in selects.items():
            try:
                sql = select.format(t=names)
                results[name] = con.execute(sql).df()
                con.execute(f"CREATE TEMP VIEW {names[name]} AS {sql}")
            except (duckdb.Error, KeyError) as exc:
                raise DataError(
                    f"the view {name!r} could not be computed: {first_line(exc)}"
                ) from exc
    return results


def write_query(
    con: duckdb.DuckDBPyConnection,
    query: str,
    path: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
) -> Path:
    """Write the result of ``query`` on ``con`` as CSV (with a header) or Parquet, atomically.

    The rows go from DuckDB into the file, with no pandas copy (a DataFrame is written by
    :func:`clvmodels.data.io.write_table`); a missing value is an empty CSV field. When a
    DuckDB file input has locked the connection off other files, the result goes through
    pandas and :func:`clvmodels.data.io.write_table` instead.

    Raises
    ------
    DataError
        When ``path`` ends in neither ``.csv`` nor ``.parquet``.
    """
    target = Path(path)
    formats = {".csv": "FORMAT csv, HEADER", ".parquet": "FORMAT parquet"}
    suffix = target.suffix.lower()
    if suffix not in formats:
        raise DataError(
            f"output {target} must end in .csv or .parquet (got '{suffix or 'no suffix'}')"
        )
    locked = con.execute("SELECT current_setting('enable_external_access')").fetchone()[0]
    if str(locked).lower() == "false":  # a DuckDB input locked the connection off files
        from clvmodels.data.io import write_table

        write_table(con.execute(query, params or {}).df(), target)
        return target
    with atomic_path(target) as tmp:
        con.execute(f"COPY ({query}) TO '{sql_text(str(tmp))}' ({formats[suffix]})", params or {})
    return target
