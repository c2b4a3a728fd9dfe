"""A billing table in: one row a payment of a subscription, read and validated.

A SaaS billing table has a row per payment attempt: the customer (a company), when it was
paid, the date it pays until, the amount, the plan and a status. :func:`read_billing` checks it
at the boundary like the orders table (``docs/subscriptions.md``, "From a billing table"): a
bad table raises a :class:`clvmodels.errors.DataError` naming the column, how many rows are
affected and a few examples, and the CLI turns it into one line and exit code 2.

Only paid payments (a status in ``paid_values``) must be complete; unpaid ones are kept for the
counts of :func:`clvmodels.subscriptions.billing.summarize_billing` and need only a customer id.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.columns import clean_ids, parse_times, require_columns, row_labels
from clvmodels.data.database_url import is_database_url
from clvmodels.data.io import read_table
from clvmodels.data.readers import file_kind
from clvmodels.data.rules import RULES

#: The columns :func:`read_billing` returns.
PAYMENT_COLUMNS = ("customer_id", "payment_date", "paid_until", "amount", "plan", "status")
#: The ``status`` of a paid payment in the returned table (other rows keep their own status).
PAID = "paid"
#: The ``status`` of an unpaid row whose own status is missing.
NO_STATUS = "(missing)"

_FLAGS = {
    "customer_col": "--customer-col",
    "payment_date_col": "--payment-date-col",
    "paid_until_col": "--paid-until-col",
    "amount_col": "--amount-col",
    "plan_col": "--plan-col",
    "status_col": "--status-col",
}


def read_billing(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    customer_col: str = "company_id",
    payment_date_col: str = "payment_date",
    paid_until_col: str = "paid_until",
    amount_col: str = "amount",
    plan_col: str = "plan",
    status_col: str | None = None,
    paid_values: Iterable[str] = ("success", "paid"),
    date_format: str | None = None,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read and validate a billing table (one row a payment).

    Parameters
    ----------
    source : path or DataFrame
        A CSV, Parquet, DuckDB or SQLite file (:func:`clvmodels.data.io.read_table`; a CSV is
        read as text, so ids stay exactly as written) or a DataFrame.
    customer_col, payment_date_col, paid_until_col, amount_col, plan_col : str
        The names of the customer id, payment date, paid-until date, amount and plan columns.
    status_col : str, optional
        The payment status column. Without it every row is a paid payment.
    paid_values : iterable of str
        The statuses of paid payments, compared case-insensitively after stripping spaces.
    date_format : str, optional
        A ``strftime`` format for both dates (detected when omitted, as for visits).
    table, query, encoding
        Passed to :func:`clvmodels.data.io.read_table`.

    Returns
    -------
    payments : pandas.DataFrame
        ``customer_id`` (int64 or text, as written), ``payment_date`` and ``paid_until``
        (datetime64[ns]; NaT on unpaid rows), ``amount`` (float64; NaN on unpaid rows),
        ``plan`` (text) and ``status``: ``"paid"`` (:data:`PAID`) for a paid payment,
        otherwise the row's own status as written (``"(missing)"`` when empty).
    counts : dict
        ``rows`` (read), ``paid_rows``, ``unpaid_rows``, ``status_col`` and ``paid_values``.

    Raises
    ------
    DataError
        Missing columns (naming the flag), no rows, missing customer ids (any row), and on
        paid rows: missing or unparsable payment dates, amounts that are missing or not
        numbers, and (refunds, with a negative amount, excepted) a missing paid-until date or
        plan; a paid-until date before its payment date.
    """
    if isinstance(source, pd.DataFrame):
        raw = source
    elif isinstance(source, str) and is_database_url(source):
        raw = read_table(source, table=table, query=query)
    else:
        path = Path(source)
        is_csv = path.is_file() and path.stat().st_size > 0 and file_kind(path) == "csv"
        raw = read_table(path, table=table, query=query, encoding=encoding, all_text=is_csv)
    names = {
        "customer_col": customer_col,
        "payment_date_col": payment_date_col,
        "paid_until_col": paid_until_col,
        "amount_col": amount_col,
        "plan_col": plan_col,
        "status_col": status_col,
    }
    require_columns(
        raw, {name: _FLAGS[key] for key, name in names.items() if name is not None}, "billing table"
    )
    paid_set = {str(v).strip().lower() for v in paid_values}
    status = _status(raw, status_col, paid_set)
    paid = (status == PAID).to_numpy()
    frame = pd.DataFrame({"customer_id": clean_ids(raw[customer_col], customer_col).to_numpy()})
    frame = frame.assign(**_paid_columns(raw.loc[paid], names, date_format, len(raw), paid))
    frame["status"] = status.to_numpy()
    counts = {
        "rows": len(raw),
        "paid_rows": int(paid.sum()),
        "unpaid_rows": int((~paid).sum()),
        "status_col": status_col,
        "paid_values": sorted(paid_set) if status_col is not None else None,
    }
    return frame[list(PAYMENT_COLUMNS)], counts


def _status(raw: pd.DataFrame, status_col: str | None, paid_set: set[str]) -> pd.Series:
    """``"paid"`` for a paid row, else the row's own status (``"(missing)"`` when empty)."""
    if status_col is None:
        return pd.Series(PAID, index=raw.index, dtype=object)
    text = raw[status_col].astype("string").str.strip()
    is_paid = text.str.lower().isin(paid_set).fillna(False).to_numpy(dtype=bool)
    own = text.fillna(NO_STATUS).replace("", NO_STATUS).astype(object)
    # an unpaid status that reads "paid" must not be taken for a paid one
    own = own.where(own.str.lower() != PAID, own + " (not a paid value)")
    return own.where(~is_paid, PAID)


def _paid_columns(
    paid_raw: pd.DataFrame,
    names: dict[str, Any],
    date_format: str | None,
    n_rows: int,
    paid: np.ndarray,
) -> dict[str, np.ndarray]:
    """Dates, amount and plan of the paid rows, checked; NaT/NaN/None on the others."""
    payment_col, until_col = names["payment_date_col"], names["paid_until_col"]
    where = np.flatnonzero(paid)  # positions of the paid rows in the table, for row labels

    def labels(mask: np.ndarray) -> list[Any]:
        full = np.zeros(n_rows, dtype=bool)
        full[where[np.asarray(mask, dtype=bool)]] = True
        return row_labels(full)

    payment_date = _dates(paid_raw[payment_col], payment_col, date_format, labels)
    until_raw = paid_raw[until_col]
    no_until = until_raw.isna().to_numpy().copy()
    if until_raw.dtype == object or pd.api.types.is_string_dtype(until_raw.dtype):
        no_until |= (until_raw.astype("string").str.strip() == "").fillna(True).to_numpy()
    amount = _amounts(paid_raw[names["amount_col"]], names["amount_col"], labels)
    refund = amount < 0  # a refund's dates are ignored, so it needs no paid-until date
    if (no_until & ~refund).any():
        bad = no_until & ~refund
        raise RULES["missing_paid_until"].error(
            until_col, n_rows=int(bad.sum()), examples=labels(bad)
        )
    paid_until = pd.Series(pd.NaT, index=paid_raw.index, dtype="datetime64[ns]")
    if (~no_until).any():
        paid_until[~no_until] = _dates(until_raw[~no_until], until_col, date_format, labels)
    backwards = (paid_until < payment_date).to_numpy()
    if backwards.any():
        raise RULES["paid_until_order"].error(
            until_col,
            n_rows=int(backwards.sum()),
            examples=labels(backwards),
            paid_until=until_col,
            payment_date=payment_col,
        )
    plan = _plans(paid_raw[names["plan_col"]], names["plan_col"], labels, refund)
    return {
        "payment_date": _spread(payment_date.to_numpy(), paid, np.datetime64("NaT", "ns")),
        "paid_until": _spread(paid_until.to_numpy(), paid, np.datetime64("NaT", "ns")),
        "amount": _spread(amount, paid, np.nan),
        "plan": _spread(plan, paid, None),
    }


def _dates(column: pd.Series, name: str, date_format: str | None, labels: Any) -> pd.Series:
    """:func:`parse_times` on some rows, with ``row N`` labels counted in the whole table."""
    missing = column.isna().to_numpy()
    if missing.any():
        raise RULES["missing_date"].error(name, n_rows=int(missing.sum()), examples=labels(missing))
    return parse_times(column, name, date_format)


def _amounts(column: pd.Series, name: str, labels: Any) -> np.ndarray:
    if pd.api.types.is_bool_dtype(column.dtype):
        raise RULES["amount_not_number"].error(
            name, n_rows=len(column), examples=column.head(5).tolist()
        )
    source = column
    if not pd.api.types.is_numeric_dtype(column.dtype):
        source = column.astype("string").str.strip().replace("", pd.NA)
    numeric = pd.to_numeric(source, errors="coerce")
    not_number = (numeric.isna() & source.notna()).to_numpy()
    if not_number.any():
        raise RULES["amount_not_number"].error(
            name, n_rows=int(not_number.sum()), examples=column[not_number].head(5).tolist()
        )
    values = numeric.to_numpy(dtype="float64", na_value=np.nan)
    missing = ~np.isfinite(values)
    if missing.any():
        raise RULES["missing_amount"].error(
            name, n_rows=int(missing.sum()), examples=labels(missing)
        )
    return values


def _plans(column: pd.Series, name: str, labels: Any, refund: np.ndarray) -> np.ndarray:
    """Plans as text; a paid payment (not a refund) without one is an error."""
    text = column.astype("string").str.strip()
    missing = (text.isna() | (text == "")).fillna(True).to_numpy(dtype=bool) & ~refund
    if missing.any():
        raise RULES["missing_plan"].error(name, n_rows=int(missing.sum()), examples=labels(missing))
    return text.to_numpy(dtype=object)


def _spread(values: np.ndarray, paid: np.ndarray, fill: Any) -> np.ndarray:
    """The paid rows' ``values`` at their places in the whole table, ``fill`` elsewhere."""
    dtype = values.dtype if fill is not None else object
    out = np.full(len(paid), fill, dtype=dtype)
    out[paid] = values
    return out
