"""Marketing tables in: visits and daily costs, read and validated.

Visits (the ad source of each session) and costs are validated at the boundary like orders
(:func:`clvmodels.data.io.validate_orders`): a bad table raises a
:class:`clvmodels.errors.DataError` that names the column, how many rows are affected and a
few examples. Source ids become text everywhere (``7`` and ``7.0`` are both
``"7"``), so that visits and costs always match.

The classic schema (Yandex.Afisha's ``visits_log``, ``costs``):

* visits: ``uid, device, start_ts, end_ts, source_id`` — one row a session;
* costs: ``source_id, dt, costs`` — money spent on a source on a day.

The files ``clv payback`` and ``clv budget`` write are named, written and read by
:mod:`clvmodels.jobs.marketing_files`.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from clvmodels.data.io import read_table
from clvmodels.data.rules import RULES
from clvmodels.errors import Label

VISIT_COLUMNS = ("uid", "device", "start_ts", "end_ts", "source_id")
COST_COLUMNS = ("source_id", "dt", "costs")


def read_visits(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    uid_col: str = "uid",
    start_col: str = "start_ts",
    end_col: str = "end_ts",
    source_col: str = "source_id",
    device_col: str = "device",
    table: str | None = None,
    query: str | None = None,
    date_format: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read and validate a visits table (one row a session) into the classic schema.

    Parameters
    ----------
    source : path or DataFrame
        A table file (see :func:`clvmodels.data.io.read_table`) or a DataFrame.
    uid_col, start_col, end_col, source_col, device_col : str
        The names of the user id (it matches the orders' customer id), session start, session
        end, ad source and device columns in ``source``. The device column is optional.
    table, query, encoding
        Passed to :func:`clvmodels.data.io.read_table`.
    date_format : str, optional
        A ``strftime`` format for the session times (detected when omitted).

    Returns
    -------
    pandas.DataFrame
        ``uid``, ``device`` (text, missing when the table has none), ``start_ts``,
        ``end_ts`` (datetime64[ns]) and ``source_id`` (text: ``7`` and ``7.0`` both
        become ``"7"``). The input is not modified.

    Raises
    ------
    DataError
        Naming the column, how many rows and a few examples: missing columns, no rows,
        missing user ids, missing or unparsable times, missing sources, and sessions that
        end before they start.
    """
    raw = (
        source
        if isinstance(source, pd.DataFrame)
        else read_table(source, table=table, query=query, encoding=encoding)
    )
    return validate_visits(
        raw,
        uid_col=uid_col,
        start_col=start_col,
        end_col=end_col,
        source_col=source_col,
        device_col=device_col,
        date_format=date_format,
    )


def validate_visits(
    raw: pd.DataFrame,
    *,
    uid_col: str = "uid",
    start_col: str = "start_ts",
    end_col: str = "end_ts",
    source_col: str = "source_id",
    device_col: str = "device",
    date_format: str | None = None,
) -> pd.DataFrame:
    """Validate a raw visits DataFrame; see :func:`read_visits` for the rules."""
    flags = {
        uid_col: "--visits-uid-col",
        start_col: "--visits-start-col",
        end_col: "--visits-end-col",
        source_col: "--visits-source-col",
    }
    _require(raw, flags, "visits table")
    uid = _clean_user_ids(raw[uid_col], uid_col)
    start = _parse_times(raw[start_col], start_col, date_format)
    end = _parse_times(raw[end_col], end_col, date_format)
    source_id = _clean_source_ids(raw[source_col], source_col)
    backwards = (end < start).to_numpy()
    if backwards.any():
        raise RULES["session_order"].error(
            end_col,
            n_rows=int(backwards.sum()),
            examples=_row_labels(backwards),
            end=end_col,
            start=start_col,
        )
    if device_col in raw.columns:
        device = raw[device_col].astype("string").to_numpy(dtype=object, na_value=None)
    else:
        device = np.full(len(raw), None, dtype=object)
    return pd.DataFrame(
        {
            "uid": uid.to_numpy(),
            "device": device,
            "start_ts": start.to_numpy(),
            "end_ts": end.to_numpy(),
            "source_id": source_id.to_numpy(),
        }
    )


def read_costs(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    source_col: str = "source_id",
    date_col: str = "dt",
    costs_col: str = "costs",
    table: str | None = None,
    query: str | None = None,
    date_format: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read and validate a marketing costs table (source, day, amount spent).

    Parameters
    ----------
    source : path or DataFrame
        A table file (see :func:`clvmodels.data.io.read_table`) or a DataFrame.
    source_col, date_col, costs_col : str
        The names of the source, day and costs columns in ``source``.
    table, query, encoding
        Passed to :func:`clvmodels.data.io.read_table`.
    date_format : str, optional
        A ``strftime`` format for the days (detected when omitted).

    Returns
    -------
    pandas.DataFrame
        ``source_id`` (text), ``dt`` (datetime64[ns]), ``costs`` (float64). Several rows
        for one source and day are allowed; they add up.

    Raises
    ------
    DataError
        For missing columns, no rows, missing sources, missing or unparsable days, and
        missing, non-numeric, infinite or negative costs.
    """
    raw = (
        source
        if isinstance(source, pd.DataFrame)
        else read_table(source, table=table, query=query, encoding=encoding)
    )
    return validate_costs(
        raw, source_col=source_col, date_col=date_col, costs_col=costs_col, date_format=date_format
    )


def validate_costs(
    raw: pd.DataFrame,
    *,
    source_col: str = "source_id",
    date_col: str = "dt",
    costs_col: str = "costs",
    date_format: str | None = None,
) -> pd.DataFrame:
    """Validate a raw costs DataFrame; see :func:`read_costs` for the rules."""
    flags = {
        source_col: "--costs-source-col",
        date_col: "--costs-date-col",
        costs_col: "--costs-col",
    }
    _require(raw, flags, "costs table")
    source_id = _clean_source_ids(raw[source_col], source_col)
    day = _parse_times(raw[date_col], date_col, date_format).dt.normalize()
    column = raw[costs_col]
    numeric = pd.to_numeric(column, errors="coerce")
    not_number = (numeric.isna() & column.notna()).to_numpy()
    if pd.api.types.is_bool_dtype(column.dtype) or not_number.any():
        bad = not_number if not_number.any() else np.ones(len(column), dtype=bool)
        raise RULES["costs_not_number"].error(
            costs_col,
            n_rows=int(bad.sum()),
            examples=column[bad].head(5).tolist(),
        )
    values = numeric.to_numpy(dtype="float64")
    missing = ~np.isfinite(values)
    if missing.any():
        raise RULES["missing_costs"].error(
            costs_col, n_rows=int(missing.sum()), examples=_row_labels(missing)
        )
    negative = values < 0
    if negative.any():
        raise RULES["negative_costs"].error(
            costs_col, n_rows=int(negative.sum()), examples=values[negative][:5].tolist()
        )
    return pd.DataFrame({"source_id": source_id.to_numpy(), "dt": day.to_numpy(), "costs": values})


def _require(raw: pd.DataFrame, flags: dict[str, str], what: str) -> None:
    missing = [name for name in flags if name not in raw.columns]
    if missing:
        normalised = {_normalise_name(c): str(c) for c in raw.columns}
        guesses = [
            f"{flags[m]} '{normalised[_normalise_name(m)]}'"
            for m in missing
            if _normalise_name(m) in normalised
        ]
        hint = f"its columns are: {', '.join(map(str, raw.columns))}. "
        hint += (
            f"Did you mean {', '.join(guesses)}?"
            if guesses
            else "Name yours with " + ", ".join(flags[m] for m in missing)
        )
        raise RULES["missing_column"].error(
            None, hint=hint, table=what, columns=", ".join(repr(m) for m in missing)
        )
    if len(raw) == 0:
        raise RULES["empty_table"].error(None, table=what)


def _normalise_name(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_")


def _clean_source_ids(column: pd.Series, name: str) -> pd.Series:
    """Source ids as text; integral numbers lose their ``.0``; missing ones are an error."""
    values = column
    if pd.api.types.is_float_dtype(values.dtype) and bool((values.dropna() % 1 == 0).all()):
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    bad = (text.isna() | (text == "") | text.str.lower().isin(["nan", "none", "null"])).fillna(True)
    if bad.any():
        raise RULES["missing_source"].error(name, n_rows=int(bad.sum()), examples=_row_labels(bad))
    return text.astype(object)


def _row_labels(mask: pd.Series | np.ndarray) -> list[Label]:
    """``row N`` (counted from 1) of the first five rows where ``mask`` holds."""
    return [Label(f"row {i + 1}") for i in np.flatnonzero(np.asarray(mask))[:5]]


def _clean_user_ids(column: pd.Series, name: str) -> pd.Series:
    """Strip text ids and reject empty or missing ones (rule ``missing_id``, naming ``name``).

    Integral float ids become integers, so that they match integer customer ids.
    """
    values = column
    bad = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        stripped = values.astype("string").str.strip()
        bad = (
            bad
            | (stripped == "").fillna(False)
            | stripped.str.lower().isin(["nan", "none", "null"]).fillna(False)
        )
        values = stripped
    if bad.any():
        raise RULES["missing_id"].error(name, n_rows=int(bad.sum()), examples=_row_labels(bad))
    if pd.api.types.is_float_dtype(values.dtype) and (values % 1 == 0).all():
        values = values.astype("int64")
    return values


def _parse_times(column: pd.Series, name: str, date_format: str | None) -> pd.Series:
    """Parse a date column (text, YYYYMMDD integers or datetimes) to naive datetime64[ns].

    Missing values break the rule ``missing_date``, unparsable ones ``bad_date``.
    """
    missing = column.isna()
    if missing.any():
        raise RULES["missing_date"].error(
            name, n_rows=int(missing.sum()), examples=_row_labels(missing)
        )
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
        bad = parsed.isna()
        if bad.any():
            raise RULES["bad_date"].error(
                name, n_rows=int(bad.sum()), examples=column[bad].head(5).tolist()
            )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")
