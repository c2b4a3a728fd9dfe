"""SELECTs over tables in memory, run in DuckDB: the views of a published folder.

``clv publish`` writes its views into a database as SQL views; to a folder of files it
computes them here with the same SQL, whose ``{t[name]}`` placeholders (the writer's,
:mod:`clvmodels.data.database_write`) become the quoted names of the given tables.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pandas as pd

from clvmodels.data.database_url import quote_identifier
from clvmodels.data.io import duckdb_connection
from clvmodels.data.readers import first_line
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
