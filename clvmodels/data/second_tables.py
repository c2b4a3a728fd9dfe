"""Reading a second table (customers, assignments) as written."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from clvmodels.data.database_url import is_database_url
from clvmodels.data.io import read_table


def read_as_written(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """A second table (customers, assignments) as written: a CSV's columns all as text.

    A DataFrame is returned as it is; other sources go through
    :func:`clvmodels.data.io.read_table`, a CSV, TSV or TXT file with ``all_text=True`` so ids
    and levels keep their spelling.
    """
    if isinstance(source, pd.DataFrame):
        return source
    suffix = Path(source).suffix.lower()
    is_csv = not is_database_url(str(source)) and suffix in {".csv", ".tsv", ".txt"}
    return read_table(source, table=table, query=query, encoding=encoding, all_text=is_csv)
