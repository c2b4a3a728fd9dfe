"""One way a table source becomes a DuckDB view.

A source is orders or visits: a file, a database URL or a DataFrame, with its options; the
contracts that check it (:mod:`clvmodels.data.contract`, :mod:`clvmodels.data.visits_sql`)
read it through :func:`register_table`.
"""

from __future__ import annotations

from typing import Any, Protocol

import duckdb

from clvmodels.data.readers import RAW_VIEW, register_source


class TableSource(Protocol):
    """What :func:`register_table` reads: an orders or visits source (path and options)."""

    @property
    def path(self) -> Any:
        """A file, a database URL or a pandas DataFrame."""

    @property
    def table(self) -> str | None:
        """A database's table to read."""

    @property
    def query(self) -> str | None:
        """A read-only SELECT to run instead."""

    @property
    def encoding(self) -> str:
        """A CSV file's text encoding."""

    @property
    def allow_file_access(self) -> bool:
        """Whether a DuckDB file's query may reach other files."""


def register_table(
    con: duckdb.DuckDBPyConnection, source: TableSource, name: str = RAW_VIEW
) -> dict[str, str]:
    """Make ``source`` the view ``name`` (CSV columns as text); its columns and DuckDB types.

    A DataFrame is registered as it is; anything else goes through :func:`register_source`.
    """
    import pandas as pd

    if isinstance(source.path, pd.DataFrame):
        con.register(name, source.path)
    else:
        register_source(
            con,
            source.path,
            table=source.table,
            query=source.query,
            encoding=source.encoding,
            all_text=True,
            allow_file_access=source.allow_file_access,
            name=name,
        )
    return {row[0]: row[1] for row in con.execute(f"DESCRIBE {name}").fetchall()}
