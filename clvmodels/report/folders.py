"""Reading another command's output folder for the report: its JSON summary, tables and PNGs.

Each reader raises :class:`clvmodels.errors.DataError` naming the file and what is wrong
with it (one line), so a folder that is not the output it should be is refused before the
report is built.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.errors import DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TRUE_FALSE = {"True": True, "False": False, "true": True, "false": False}


def missing_files(folder: Path, names: Sequence[str]) -> list[str]:
    """The ``names`` that are not files in ``folder``, in their order."""
    return [name for name in names if not (folder / name).is_file()]


def read_json_object(path: Path, *, hint: str | None = None) -> dict[str, Any]:
    """A JSON file holding an object.

    Raises
    ------
    DataError
        When it is not valid UTF-8 JSON or not an object.
    """
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON", hint=hint) from exc
    if not isinstance(loaded, dict):
        raise DataError(f"{path} is not a JSON object", hint=hint)
    return loaded


def read_png(path: Path, *, hint: str | None = None) -> bytes | None:
    """The bytes of a PNG file; None when there is no such file.

    Raises
    ------
    DataError
        When the file is there but is not a PNG image.
    """
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        raise DataError(f"{path} is not a PNG image", hint=hint)
    return data


def csv_header(path: Path, *, hint: str | None = None) -> list[str]:
    """The column names of a CSV file."""
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV table", hint=hint) from exc


def read_csv_table(
    path: Path,
    *,
    numbers: Sequence[str] = (),
    text: Sequence[str] = (),
    dates: Sequence[str] = (),
    flags: Sequence[str] = (),
    present: Sequence[str] = (),
    only_typed: bool = False,
    hint: str | None = None,
) -> pd.DataFrame:
    """A CSV table with the columns named checked and typed.

    ``numbers`` as float (empty cells NaN), ``text`` as written (ids keep their zeros; empty
    cells missing), ``dates`` as datetimes, ``flags`` as booleans (``True``/``False``).
    ``present`` columns must be there and are read as pandas reads them, as are the other
    columns; with ``only_typed`` only the typed columns are read (a big table's few columns).

    Raises
    ------
    DataError
        When the file is unreadable, lacks one of the columns (all of them are named) or holds
        a value that is not of its column's kind; the message names the file and column.
    """
    header = csv_header(path, hint=hint)
    typed = (*text, *numbers, *dates, *flags)
    absent = [c for c in (*typed, *present) if c not in header]
    if absent:
        listed = ", ".join(f"'{c}'" for c in absent)
        raise DataError(f"{path} has no column {listed}", column=absent[0], hint=hint)
    try:
        frame = pd.read_csv(
            path,
            dtype={c: str for c in (*text, *dates, *flags)},
            usecols=list(typed) if only_typed else None,
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV table", hint=hint) from exc
    for column in numbers:
        frame[column] = _converted(path, frame[column], pd.to_numeric, "a number", hint)
    for column in dates:
        frame[column] = _converted(path, frame[column], _to_datetime, "a date", hint)
    for column in flags:
        frame[column] = _converted(path, frame[column], _to_flag, "True or False", hint)
        frame[column] = frame[column].astype(bool)
    return frame


def _to_datetime(values: pd.Series, errors: str) -> pd.Series:
    return pd.to_datetime(values, errors=errors, format="ISO8601")


def _to_flag(values: pd.Series, errors: str) -> pd.Series:
    del errors
    return values.map(_TRUE_FALSE)


def _converted(path: Path, values: pd.Series, convert: Any, kind: str, hint: str | None) -> Any:
    """``values`` converted; a value that does not convert is a DataError naming it."""
    out = convert(values, errors="coerce")
    bad = values.notna() & out.isna()
    if kind == "True or False":
        bad = bad | values.isna()
    if bad.any():
        raise DataError(
            f"{path}: not {kind}",
            column=str(values.name),
            n_rows=int(bad.sum()),
            examples=values.loc[bad].head(3).tolist(),
            hint=hint,
        )
    return out.astype("float64") if kind == "a number" else out
