"""The subscriptions table (SUBS): its columns, and reading one back for ``clv churn``.

``clv subscriptions`` writes SUBS from a billing table (:mod:`clvmodels.subscriptions.billing`);
``clv churn`` reads it here. ``docs/subscriptions.md`` defines every column. Reading checks
what the churn analysis relies on, so that a hand-made or edited table cannot give silently
wrong survival curves: whole numbers of periods, at least one period paid, a first spell no
longer than the periods paid, true/false churn flags, one billing period.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from clvmodels.data.columns import clean_ids, row_labels
from clvmodels.data.io import read_table
from clvmodels.errors import DataError

#: The columns of SUBS, in the order ``clv subscriptions`` writes them.
SUBS_COLUMNS = (
    "customer_id",
    "plan",
    "plan_last",
    "cohort",
    "first_payment",
    "paid_until",
    "periods_paid",
    "churned",
    "T",
    "reactivations",
    "first_spell_periods",
    "first_spell_churned",
    "revenue",
    "price_per_period",
    "billing_period",
)
#: Billing periods a subscription table may use, and their mean length in days.
BILLING_PERIOD_DAYS = {"month": 365.2425 / 12, "year": 365.2425}
_WHOLE = ("periods_paid", "T", "reactivations", "first_spell_periods")
_FLAGS = ("churned", "first_spell_churned")


def read_subscriptions(source: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Read a SUBS table (Parquet, CSV, DuckDB or SQLite file, or a DataFrame) and check it.

    A CSV is read as text and its ids follow the billing reader's rule
    (:func:`clvmodels.data.columns.clean_ids`): ids written as plain integers become integers,
    any other id (``007``, ``A-17``) stays text exactly as written.

    Returns
    -------
    pandas.DataFrame
        The table with whole-number columns as int64, flags as bool, money as float; ids as
        written.

    Raises
    ------
    DataError
        A column is missing, a number of periods is not a whole number >= the rules allow, a
        flag is not true/false, or the table mixes billing periods.
    """
    subs = source.copy() if isinstance(source, pd.DataFrame) else read_table(source, all_text=True)
    missing = [c for c in SUBS_COLUMNS if c not in subs.columns]
    if missing:
        raise DataError(
            f"the subscriptions table lacks the column(s) {', '.join(missing)}",
            hint="write it with `clv subscriptions BILLING -o SUBS`",
        )
    if len(subs) == 0:
        raise DataError("the subscriptions table has no rows")
    subs["customer_id"] = clean_ids(subs["customer_id"], "customer_id")
    for column in _WHOLE:
        subs[column] = _whole_numbers(subs[column], column)
    for column in _FLAGS:
        subs[column] = _flags(subs[column], column)
    for column in ("revenue", "price_per_period"):
        subs[column] = _numbers(subs[column], column)
    _check_periods(subs)
    periods = subs["billing_period"].astype("string").str.strip().str.lower()
    bad = ~periods.isin(list(BILLING_PERIOD_DAYS)).fillna(False).to_numpy(dtype=bool)
    if bad.any() or periods.nunique() != 1:
        mask = bad if bad.any() else (periods != periods.iloc[0]).to_numpy(dtype=bool)
        raise DataError(
            "billing_period must be one of month, year, the same on every row",
            column="billing_period",
            n_rows=int(mask.sum()),
            examples=subs.loc[mask, "billing_period"].head(5).tolist(),
        )
    subs["billing_period"] = periods.astype(object)
    return subs


def _whole_numbers(column: pd.Series, name: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    bad = (values.isna() | (values % 1 != 0) | (values < 0)).to_numpy(dtype=bool)
    if bad.any():
        raise DataError(
            "must be a whole number >= 0",
            column=name,
            n_rows=int(bad.sum()),
            examples=column[bad].head(5).tolist(),
        )
    return values.astype("int64")


def _numbers(column: pd.Series, name: str) -> pd.Series:
    values = pd.to_numeric(column, errors="coerce")
    bad = (values.isna() & column.notna()).to_numpy(dtype=bool)
    if bad.any():
        raise DataError(
            "must be a number", column=name, n_rows=int(bad.sum()), examples=column[bad].head(5)
        )
    return values.astype("float64")


def _flags(column: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column.dtype) and not column.isna().any():
        return column.astype(bool)
    text = column.astype("string").str.strip().str.lower()
    truth = text.map({"true": True, "1": True, "false": False, "0": False})
    bad = truth.isna().to_numpy(dtype=bool)
    if bad.any():
        raise DataError(
            "must be true or false",
            column=name,
            n_rows=int(bad.sum()),
            examples=column[bad].head(5).tolist(),
        )
    return truth.astype(bool)


def _check_periods(subs: pd.DataFrame) -> None:
    checks = (
        ("periods_paid", subs["periods_paid"].to_numpy() < 1, "must be at least 1"),
        ("T", subs["T"].to_numpy() < 1, "must be at least 1"),
        (
            "first_spell_periods",
            (subs["first_spell_periods"] < 1)
            | (subs["first_spell_periods"] > subs["periods_paid"]),
            "must be between 1 and periods_paid",
        ),
        (
            "first_spell_periods",
            subs["first_spell_churned"] & (subs["first_spell_periods"] >= subs["T"]),
            "of a churned first spell must be below T (the churn was observed)",
        ),
    )
    for column, mask, problem in checks:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            raise DataError(
                problem, column=column, n_rows=int(mask.sum()), examples=row_labels(mask)
            )
