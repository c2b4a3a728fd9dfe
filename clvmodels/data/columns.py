"""Column helpers shared by the pandas readers of side tables (visits, costs, billing).

Each helper checks one column the way the orders contract (``docs/orders.md``,
:data:`clvmodels.data.rules.RULES`) checks it in DuckDB, and raises the rule's
:class:`clvmodels.errors.DataError`, naming the column, how many rows and a few examples.

* :func:`require_columns`: the columns a table needs, with the CLI flag that names each one.
* :func:`clean_ids`: customer ids kept exactly as written, never through a float.
* :func:`parse_times`: dates (text, ``YYYYMMDD`` integers or datetimes) to datetime64[ns];
  :func:`coerce_times` the same with ``NaT`` for missing and unparsable ones.
* :func:`row_labels`: ``row N`` examples of the rows a mask marks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from clvmodels.data.rules import RULES
from clvmodels.errors import Label

#: The largest integer a float64 holds exactly (2^53); float ids beyond it are refused.
FLOAT_EXACT_LIMIT = 2**53
_MISSING_TEXT = ["nan", "none", "null"]
_CANONICAL_INT = r"^-?(?:0|[1-9][0-9]{0,18})$"
_SCIENTIFIC = r"^[+-]?\d+(?:\.\d+)?[eE][+-]\d+$"
_INT64_MAX = np.iinfo(np.int64).max


def require_columns(raw: pd.DataFrame, flags: Mapping[str, str], what: str) -> None:
    """Raise unless ``raw`` has every column of ``flags`` and at least one row.

    Parameters
    ----------
    raw : pandas.DataFrame
    flags : mapping
        Each required column's name to the CLI flag that names it (``--visits-uid-col``).
    what : str
        The table, as the message calls it (``"visits table"``).

    Raises
    ------
    DataError
        Rule ``missing_column``: the missing columns, the table's columns, and the flag to
        pass (with a guess when a column differs only in case, spaces or dashes); rule
        ``empty_table`` when it has no rows.
    """
    require_named_columns(raw.columns, flags, what)
    if len(raw) == 0:
        raise RULES["empty_table"].error(None, table=what)


def require_named_columns(columns: Iterable[object], flags: Mapping[str, str], what: str) -> None:
    """Raise rule ``missing_column`` unless ``columns`` hold every column of ``flags``.

    The check of :func:`require_columns` on the column names alone (a table DuckDB reads).
    """
    present = list(columns)
    missing = [name for name in flags if name not in present]
    if missing:
        normalised = {normalise_name(c): str(c) for c in present}
        guesses = [
            f"{flags[m]} '{normalised[normalise_name(m)]}'"
            for m in missing
            if normalise_name(m) in normalised
        ]
        hint = f"its columns are: {', '.join(map(str, present))}. "
        unguessed = [flags[m] for m in missing if normalise_name(m) not in normalised]
        hint += (
            f"Did you mean {', '.join(guesses)}?"
            if guesses
            else "Name yours with " + ", ".join(unguessed)
        )
        if guesses and unguessed:
            hint += " Name the others with " + ", ".join(unguessed)
        raise RULES["missing_column"].error(
            None, hint=hint, table=what, columns=", ".join(repr(m) for m in missing)
        )


def normalise_name(name: object) -> str:
    """A column name compared loosely: stripped, lower case, spaces and dashes as ``_``."""
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def row_labels(mask: pd.Series | np.ndarray) -> list[Label]:
    """``row N`` (counted from 1) of the first five rows where ``mask`` holds."""
    return [Label(f"row {i + 1}") for i in np.flatnonzero(np.asarray(mask))[:5]]


def clean_ids(column: pd.Series, name: str, *, text_integers: bool = True) -> pd.Series:
    """Customer ids kept exactly as written: int64 or text, never through a float.

    The rules of the orders contract (``customer_checks`` in :mod:`clvmodels.data.orders_sql`):

    * integer columns become int64 (unsigned ones with ids above 2^63 - 1 become text);
    * float columns: missing values break ``missing_id``; ids that are not whole numbers
      of at most 2^53 break ``float_id``; the others become int64;
    * text (and anything else, as its text) is stripped of surrounding white space; empty,
      ``nan``, ``none`` and ``null`` break ``missing_id``, ``1.23E+20`` (a spreadsheet's
      rounding) breaks ``scientific_id``. With ``text_integers``, a column whose every id is
      a canonical int64 (``17``, not ``017``) becomes int64, as in the orders contract;
      otherwise the text is kept as written (leading zeros included).

    Parameters
    ----------
    column : pandas.Series
    name : str
        The column's name in the user's table, for the messages.
    text_integers : bool
        Turn all-integer text into int64 (the orders contract). The visits reader keeps text
        ids as text (its ids are matched to the orders' as text when the types differ).

    Returns
    -------
    pandas.Series
        int64, or text (object dtype of ``str``), with the index of ``column``.
    """
    dtype = column.dtype
    if pd.api.types.is_bool_dtype(dtype):
        column = column.astype("string")
        dtype = column.dtype
    if pd.api.types.is_integer_dtype(dtype):
        missing = column.isna().to_numpy()
        if missing.any():
            raise RULES["missing_id"].error(
                name, n_rows=int(missing.sum()), examples=row_labels(missing)
            )
        if column.max() > _INT64_MAX:  # uint64 beyond int64: kept exactly, as text
            return column.astype("string").astype(object)
        return column.astype("int64")
    if pd.api.types.is_float_dtype(dtype):
        return _float_ids(column, name)
    return _text_ids(column, name, text_integers=text_integers)


def _float_ids(column: pd.Series, name: str) -> pd.Series:
    values = column.to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(values)
    if missing.any():
        raise RULES["missing_id"].error(
            name, n_rows=int(missing.sum()), examples=row_labels(missing)
        )
    inexact = (values != np.floor(values)) | (np.abs(values) > FLOAT_EXACT_LIMIT)
    if inexact.any():
        raise RULES["float_id"].error(
            name, n_rows=int(inexact.sum()), examples=values[inexact][:5].tolist()
        )
    return pd.Series(values.astype("int64"), index=column.index, name=column.name)


def _missing_text(text: pd.Series) -> np.ndarray:
    missing = text.isna() | (text == "") | text.str.lower().isin(_MISSING_TEXT)
    return missing.fillna(True).to_numpy(dtype=bool)


def _text_ids(column: pd.Series, name: str, *, text_integers: bool) -> pd.Series:
    text = column.astype("string").str.strip()
    missing = _missing_text(text)
    if missing.any():
        raise RULES["missing_id"].error(
            name, n_rows=int(missing.sum()), examples=row_labels(missing)
        )
    scientific = text.str.fullmatch(_SCIENTIFIC).fillna(False).to_numpy(dtype=bool)
    if scientific.any():
        raise RULES["scientific_id"].error(
            name, n_rows=int(scientific.sum()), examples=text[scientific].head(5).tolist()
        )
    if text_integers and bool(text.str.fullmatch(_CANONICAL_INT).all()):
        try:  # exact: integers parsed from their digits, never through a float
            return text.astype("int64")
        except (OverflowError, ValueError):  # 19 digits beyond int64: kept as text
            pass
    return text.astype(object)


def parse_times(column: pd.Series, name: str, date_format: str | None) -> pd.Series:
    """Parse a date column (text, YYYYMMDD integers or datetimes) to naive datetime64[ns].

    Missing values break the rule ``missing_date``, unparsable ones ``bad_date``.
    """
    missing = column.isna()
    if missing.any():
        raise RULES["missing_date"].error(
            name, n_rows=int(missing.sum()), examples=row_labels(missing)
        )
    parsed = coerce_times(column, date_format)
    bad = parsed.isna()
    if bad.any():
        raise RULES["bad_date"].error(
            name, n_rows=int(bad.sum()), examples=column[bad].head(5).tolist()
        )
    return parsed


def coerce_times(column: pd.Series, date_format: str | None) -> pd.Series:
    """:func:`parse_times` without the checks: missing and unparsable values become ``NaT``."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        parsed = column
    else:
        source = column
        fmt = date_format
        if fmt is None and pd.api.types.is_integer_dtype(column.dtype):
            if column.between(1000_01_01, 9999_12_31).all():
                fmt = "%Y%m%d"
                source = column.astype("string")
        elif fmt is not None and not pd.api.types.is_string_dtype(column.dtype):
            source = column.astype("string")
        try:
            parsed = pd.to_datetime(source, errors="coerce", format=fmt)
        except (ValueError, TypeError):
            parsed = pd.to_datetime(source.astype("string"), errors="coerce", format="mixed")
        retry = parsed.isna() & column.notna()
        if fmt is None and retry.any():  # a format guessed from the first value: the rest mixed
            again = pd.to_datetime(source[retry].astype("string"), errors="coerce", format="mixed")
            parsed = parsed.astype("datetime64[ns]")
            parsed[retry] = again.astype("datetime64[ns]")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def id_match_keys(left: pd.Series, right: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The keys on which two id columns (visits' ``uid``, orders' ``customer_id``) are matched.

    Both as they are when both are numeric or both text; both as text (integers in their
    decimal digits) when one is numeric and the other text, so that ``7`` matches ``"7"`` but
    ``"007"`` never matches ``7``.
    """
    if pd.api.types.is_numeric_dtype(left.dtype) != pd.api.types.is_numeric_dtype(right.dtype):
        return left.astype(str), right.astype(str)
    return left, right


def id_match_sql(left: str, left_type: str, right: str, right_type: str) -> tuple[str, str]:
    """:func:`id_match_keys` in DuckDB SQL: the key expressions of two id columns.

    ``left`` and ``right`` are SQL expressions, ``left_type`` and ``right_type`` their DuckDB
    types (``"BIGINT"``, ``"VARCHAR"``, ...). Both as they are when both are text or both are
    not; both cast to VARCHAR (integers in their decimal digits) when only one is text.
    """
    if (left_type.upper() == "VARCHAR") != (right_type.upper() == "VARCHAR"):
        return f"CAST({left} AS VARCHAR)", f"CAST({right} AS VARCHAR)"
    return left, right
