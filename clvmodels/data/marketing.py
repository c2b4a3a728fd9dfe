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
from typing import Any, Literal

import numpy as np
import pandas as pd

from clvmodels.data.columns import (
    clean_ids,
    parse_times,
    require_columns,
    row_labels,
)
from clvmodels.data.io import duckdb_connection, read_table
from clvmodels.data.rules import RULES
from clvmodels.data.visits_sql import VISITS_VIEW, VisitsSource, register_visits

VISIT_COLUMNS = ("uid", "device", "start_ts", "end_ts", "source_id")
COST_COLUMNS = ("source_id", "dt", "costs")
VisitProblems = Literal["error", "report"]


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
    problems: VisitProblems = "error",
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
    problems : {"error", "report"}
        ``"error"`` (the default, what ``clv payback`` needs): every problem below raises.
        ``"report"`` (``clv engagement``, ``clv conversion``): rows without a user id or
        without a parsable start are dropped; a missing or unparsable end is kept as
        ``NaT``; a session that ends before it starts is kept as written (its length is
        left out of session-length statistics); a missing source is kept as missing. Each
        is counted in ``frame.attrs["visit_problems"]``: ``{"missing_uid": n,
        "missing_start": n, "missing_end": n, "negative_length": n, "missing_source": n,
        "examples": {problem: ["row 3", ...]}}`` (rows counted from 1 in the input, at most
        five a problem). Missing columns, an empty table and ids that are not usable ids
        (``1.5``, ``1E+20``) still raise.

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
        end before they start (with ``problems="report"``: see above).
    """
    if problems == "report":
        return _report_visits(
            VisitsSource(
                source,
                uid_col=uid_col,
                start_col=start_col,
                end_col=end_col,
                source_col=source_col,
                device_col=device_col,
                table=table,
                query=query,
                date_format=date_format,
                encoding=encoding,
            )
        )
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
        problems=problems,
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
    problems: VisitProblems = "error",
) -> pd.DataFrame:
    """Validate a raw visits DataFrame; see :func:`read_visits` for the rules."""
    if problems not in ("error", "report"):
        raise ValueError(f"problems must be 'error' or 'report'; got {problems!r}")
    flags = {
        uid_col: "--visits-uid-col",
        start_col: "--visits-start-col",
        end_col: "--visits-end-col",
        source_col: "--visits-source-col",
    }
    require_columns(raw, flags, "visits table")
    uid = clean_ids(raw[uid_col], uid_col, text_integers=False)
    start = parse_times(raw[start_col], start_col, date_format)
    end = parse_times(raw[end_col], end_col, date_format)
    source_id = _clean_source_ids(raw[source_col], source_col)
    backwards = (end < start).to_numpy()
    if backwards.any():
        raise RULES["session_order"].error(
            end_col,
            n_rows=int(backwards.sum()),
            examples=row_labels(backwards),
            end=end_col,
            start=start_col,
        )
    return _visits_frame(raw, uid, start, end, source_id, device_col)


def _visits_frame(
    raw: pd.DataFrame,
    uid: pd.Series,
    start: pd.Series,
    end: pd.Series,
    source_id: pd.Series,
    device_col: str,
) -> pd.DataFrame:
    """The classic schema; text columns stay pandas text arrays (no Python string objects)."""
    if device_col in raw.columns:
        device: Any = raw[device_col].astype("string").astype("str").array
    else:
        device = np.full(len(raw), None, dtype=object)
    return pd.DataFrame(
        {
            "uid": uid.to_numpy(),
            "device": device,
            "start_ts": start.to_numpy(),
            "end_ts": end.to_numpy(),
            "source_id": source_id.astype("str").array,
        }
    )


def _report_visits(source: VisitsSource) -> pd.DataFrame:
    """``problems="report"``: the visits contract in SQL (:mod:`clvmodels.data.visits_sql`)."""
    with duckdb_connection() as con:
        info = register_visits(con, source)
        frame = con.execute(f"SELECT * FROM {VISITS_VIEW}").df()
    frame.attrs["visit_problems"] = info.problems
    return frame


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
    require_columns(raw, flags, "costs table")
    source_id = _clean_source_ids(raw[source_col], source_col)
    day = parse_times(raw[date_col], date_col, date_format).dt.normalize()
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
            costs_col, n_rows=int(missing.sum()), examples=row_labels(missing)
        )
    negative = values < 0
    if negative.any():
        raise RULES["negative_costs"].error(
            costs_col, n_rows=int(negative.sum()), examples=values[negative][:5].tolist()
        )
    return pd.DataFrame({"source_id": source_id.to_numpy(), "dt": day.to_numpy(), "costs": values})


def _clean_source_ids(column: pd.Series, name: str) -> pd.Series:
    """Source ids as text; integral numbers lose their ``.0``; missing ones are an error."""
    text = _source_text(column)
    bad = _missing_source(text)
    if bad.any():
        raise RULES["missing_source"].error(name, n_rows=int(bad.sum()), examples=row_labels(bad))
    return text.astype(object)


def _source_text(column: pd.Series) -> pd.Series:
    values = column
    if pd.api.types.is_float_dtype(values.dtype) and bool((values.dropna() % 1 == 0).all()):
        values = values.astype("Int64")
    return values.astype("string").str.strip()


def _missing_source(text: pd.Series) -> np.ndarray:
    bad = text.isna() | (text == "") | text.str.lower().isin(["nan", "none", "null"])
    return bad.fillna(True).to_numpy(dtype=bool)
