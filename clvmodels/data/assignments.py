"""Reading an experiment's assignments: which user saw which group, from when.

An assignments table has one row per user and assignment: the user id (matched to the orders'
customer id), the group (``A``, ``control``, ``new_paywall``, ...) and the time of assignment.
:func:`read_assignments` reads it through :func:`clvmodels.data.io.read_table` (CSV, Parquet,
DuckDB, SQLite files and database URLs) and checks it:

* user ids follow the orders contract's id rules (:func:`clvmodels.data.columns.clean_ids`):
  int64 when every id is a canonical integer, otherwise text exactly as written (``007`` stays
  ``007``; a CSV is read as text so nothing is guessed);
* a missing id, group or time, or an unparsable time, is an error naming the column, the number
  of rows and a few examples;
* times with a UTC offset (``2024-01-05T10:00:00+02:00``, or a time-zone-aware column) are
  converted to ``time_zone`` (default UTC) and made naive, as the orders contract does with the
  orders' times; naive times are kept as written;
* a user in two different groups is an error (the experiment is contaminated for that user);
* the same user twice in the same group at two times: the **first** assignment counts (the
  later rows are dropped and counted in ``frame.attrs["repeated_assignments"]``).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from clvmodels.data.columns import clean_ids, parse_times, require_columns, row_labels
from clvmodels.data.second_tables import read_as_written
from clvmodels.errors import DataError, Label

#: The columns of the table :func:`read_assignments` returns.
ASSIGNMENT_COLUMNS = ("uid", "group", "assigned_at")


def read_assignments(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    uid_col: str = "uid",
    group_col: str = "variant",
    time_col: str = "assigned_at",
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
    date_format: str | None = None,
    time_zone: str = "UTC",
) -> pd.DataFrame:
    """Read and check an assignments table; return one row per user.

    Parameters
    ----------
    source : path, URL or DataFrame
        A table file or database URL (see :func:`clvmodels.data.io.read_table`), or a
        DataFrame already in memory.
    uid_col, group_col, time_col : str
        The names of the user id, group and assignment time columns in ``source``
        (CLI: ``--assignments-uid-col``, ``--assignments-group-col``,
        ``--assignments-time-col``).
    table, query, encoding
        Passed to :func:`clvmodels.data.io.read_table`.
    date_format : str, optional
        A ``strftime`` format for the assignment times (detected when omitted).
    time_zone : str
        IANA zone that times with a UTC offset are converted to before they are made naive
        (pass the orders' ``time_zone``, so that both are on one clock).

    Returns
    -------
    pandas.DataFrame
        ``uid`` (int64, or text exactly as written), ``group`` (text, stripped of surrounding
        white space), ``assigned_at`` (datetime64[ns]), one row per user in the order of each
        user's first row. ``attrs``: ``rows`` (rows read) and ``repeated_assignments`` (rows
        of a user already assigned to the same group, dropped: the first assignment counts).

    Raises
    ------
    DataError
        Missing columns, no rows, missing or unusable ids, missing groups, missing or
        unparsable times, and users assigned to more than one group (naming the column, how
        many users and a few examples).
    """
    raw = read_as_written(source, table=table, query=query, encoding=encoding)
    return validate_assignments(
        raw,
        uid_col=uid_col,
        group_col=group_col,
        time_col=time_col,
        date_format=date_format,
        time_zone=time_zone,
    )


def validate_assignments(
    raw: pd.DataFrame,
    *,
    uid_col: str = "uid",
    group_col: str = "variant",
    time_col: str = "assigned_at",
    date_format: str | None = None,
    time_zone: str = "UTC",
) -> pd.DataFrame:
    """Check a raw assignments DataFrame; see :func:`read_assignments` for the rules."""
    flags = {
        uid_col: "--assignments-uid-col",
        group_col: "--assignments-group-col",
        time_col: "--assignments-time-col",
    }
    require_columns(raw, flags, "assignments table")
    uid = clean_ids(raw[uid_col], uid_col)
    group = _groups(raw[group_col], group_col)
    assigned_at = _times(raw[time_col], time_col, date_format, time_zone)
    frame = pd.DataFrame(
        {"uid": uid.to_numpy(), "group": group, "assigned_at": assigned_at.to_numpy()}
    )
    n_groups = frame.groupby("uid", sort=False)["group"].nunique()
    mixed = n_groups[n_groups > 1]
    if len(mixed):
        examples = [
            Label(f"user {u} in {', '.join(sorted(frame.loc[frame['uid'] == u, 'group']))}")
            for u in mixed.index[:3]
        ]
        raise DataError(
            f"{len(mixed):,} user{'s are' if len(mixed) != 1 else ' is'} assigned to more than "
            "one group",
            column=uid_col,
            examples=examples,
            hint="each user must see one group only; drop or fix those users before the analysis",
        )
    order = np.argsort(frame["assigned_at"].to_numpy(), kind="stable")
    earliest = frame.iloc[order].drop_duplicates("uid", keep="first")
    first_rows = frame.drop_duplicates("uid", keep="first").index
    result = (
        earliest.set_index("uid").loc[frame.loc[first_rows, "uid"]].reset_index()
        if len(earliest) < len(frame)
        else frame
    )
    result = result[list(ASSIGNMENT_COLUMNS)].reset_index(drop=True)
    result["uid"] = result["uid"].astype(uid.dtype)
    result.attrs = {"rows": len(frame), "repeated_assignments": len(frame) - len(result)}
    return result


_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})$"


def _times(column: pd.Series, name: str, date_format: str | None, time_zone: str) -> pd.Series:
    """Assignment times as naive datetime64[ns]; times with an offset on ``time_zone``'s clock."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert(time_zone).dt.tz_localize(None).astype("datetime64[ns]")
    if not (pd.api.types.is_string_dtype(column.dtype) or column.dtype == object):
        return parse_times(column, name, date_format)
    text = column.astype("string").str.strip()
    tail = text.str.slice(11)  # after the date: a time, then maybe Z, +hh:mm or -hh:mm
    maybe = (
        (
            tail.str.endswith("Z")
            | tail.str.contains("+", regex=False)
            | tail.str.contains("-", regex=False)
        )
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    offset = np.zeros(len(text), dtype=bool)
    if maybe.any():
        found = text[maybe].str.contains(_OFFSET, regex=True).fillna(False)
        offset[maybe] = found.to_numpy(dtype=bool)
    if not offset.any() or date_format is not None:
        return parse_times(column, name, date_format)
    times = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns]")
    if (~offset).any():
        times[~offset] = parse_times(column[~offset], name, None)
    aware = pd.to_datetime(text[offset], utc=True, errors="coerce", format="ISO8601")
    bad = aware.isna().to_numpy()
    if bad.any():
        raise DataError(
            "dates that cannot be read",
            column=name,
            n_rows=int(bad.sum()),
            examples=text[offset][bad].head(5).tolist(),
        )
    times[offset] = aware.dt.tz_convert(time_zone).dt.tz_localize(None).astype("datetime64[ns]")
    return times


def _groups(column: pd.Series, name: str) -> np.ndarray:
    """Group names as stripped text; a missing or empty group is an error."""
    text = column.astype("string").str.strip()
    missing = (text.isna() | (text == "")).fillna(True).to_numpy(dtype=bool)
    if missing.any():
        raise DataError(
            "missing or empty groups",
            column=name,
            n_rows=int(missing.sum()),
            examples=row_labels(missing),
            hint="every assigned user needs a group",
        )
    return text.astype(object).to_numpy()
