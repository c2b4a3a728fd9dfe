"""Reading a customers table (one row per customer: covariates) and joining it to the RFM table.

``clv fit --customers CUSTOMERS --customer-key customer_id --covariates channel,gender`` reads
the table through :func:`clvmodels.data.io.read_table` (CSV, Parquet, DuckDB, SQLite files and
database URLs), as the other second tables are read:

* the key column's ids follow the orders contract (:func:`clvmodels.data.columns.clean_ids`):
  kept exactly as written (``007`` stays ``007``), and matched to the orders' ids by
  :func:`clvmodels.data.columns.id_match_keys` (``7`` matches ``"7"``, ``"007"`` never ``7``);
* a CSV is read as text, so that nothing is guessed of the ids; a covariate column whose every
  non-empty value is a number is then numeric (standardised by the model), any other column is
  categorical;
* a missing or duplicated key, and a customer of the orders who is not in the table, are
  errors naming the column, how many and a few examples. Missing covariate values and unseen
  levels are refused by the model's encoding (:mod:`clvmodels.models.covariates`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.columns import clean_ids, id_match_keys
from clvmodels.data.second_tables import read_as_written
from clvmodels.errors import DataError, Label


def read_customers(
    source: str | os.PathLike[str] | pd.DataFrame,
    columns: Sequence[str],
    *,
    key: str = "customer_id",
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a customers table: ``customer_id`` (from ``key``) and the covariate ``columns``.

    Returns one row per customer, with the covariates as read (numeric columns as float64,
    the others as text). Raises DataError for absent columns, and missing or duplicated keys.
    """
    raw = read_as_written(source, table=table, query=query, encoding=encoding)
    wanted = [key, *dict.fromkeys(c for c in columns if c != key)]
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataError(
            f"the customers table has no column {', '.join(map(repr, missing))}",
            hint=f"its columns are: {', '.join(map(str, raw.columns))}",
        )
    ids = clean_ids(raw[key], key)
    duplicated = ids.duplicated(keep=False).to_numpy()
    if duplicated.any():
        raise DataError(
            "customers listed more than once in the customers table",
            column=key,
            n_rows=int(duplicated.sum()),
            examples=list(dict.fromkeys(ids[duplicated].tolist()))[:5],
            hint="keep one row per customer (covariates must not change over time)",
        )
    out = pd.DataFrame({"customer_id": ids.to_numpy()})
    for name in wanted[1:]:
        out[name] = _typed(raw[name]).to_numpy()
    return out


def _typed(column: pd.Series) -> pd.Series:
    """Numbers when every non-empty value is one (text CSVs), else the column as it is."""
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("float64")
    text = column.astype("string").str.strip()
    present = text.notna() & (text != "")
    numbers = pd.to_numeric(text.where(present), errors="coerce")
    if present.any() and bool(numbers[present].notna().all()):
        return numbers.astype("float64")
    return text.where(present).astype(object)


def attach_covariates(rfm: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """The RFM table with the customers' covariate columns, matched on ``customer_id``.

    Every customer of ``rfm`` must be in ``customers`` (DataError naming how many and a
    few examples otherwise); customers of the table without orders are ignored. ``attrs`` of
    ``rfm`` are kept.
    """
    left, right = id_match_keys(rfm["customer_id"], customers["customer_id"])
    position = pd.Series(np.arange(len(customers)), index=pd.Index(right.to_numpy()))
    where = position.reindex(left.to_numpy()).to_numpy()
    absent = np.isnan(where)
    if absent.any():
        raise DataError(
            "customers of the orders are not in the customers table",
            column="customer_id",
            n_rows=int(absent.sum()),
            examples=[Label(str(v)) for v in rfm["customer_id"].to_numpy()[absent][:5]],
            hint="the customers table needs one row for every customer who ordered",
        )
    clash = [c for c in customers.columns if c != "customer_id" and c in rfm.columns]
    if clash:
        raise DataError(
            f"covariate column {', '.join(map(repr, clash))} has the name of an RFM column",
            hint="rename it in the customers table",
        )
    out = rfm.copy()
    rows = where.astype("int64")
    for name in customers.columns:
        if name != "customer_id":
            out[name] = customers[name].to_numpy()[rows]
    out.attrs = dict(rfm.attrs)
    return out


@dataclass(frozen=True)
class CustomersSource:
    """A customers table (one row per customer, its covariates) and how to read it.

    ``path`` is a table file or database URL (or a DataFrame), ``key`` its customer id column
    (matched to the orders' ids); ``table``, ``query``: as for the orders.
    """

    path: str | Path | pd.DataFrame
    key: str = "customer_id"
    table: str | None = None
    query: str | None = None


def with_covariates(
    summary: pd.DataFrame, customers: CustomersSource | None, columns: tuple[str, ...]
) -> pd.DataFrame:
    """The RFM table with the covariate ``columns`` of ``customers`` joined on the ids."""
    if not columns and customers is None:
        return summary
    if customers is None:
        raise DataError(
            f"covariates {', '.join(columns)} need a customers table",
            hint="pass --customers CUSTOMERS (and --customer-key if its id column is not "
            "customer_id)",
        )
    if not columns:
        raise DataError(
            "a customers table was given but no covariates",
            hint="name them with --covariates (or --purchase-covariates, --dropout-covariates)",
        )
    table = read_customers(
        customers.path, columns, key=customers.key, table=customers.table, query=customers.query
    )
    return attach_covariates(summary, table)


def model_covariates(
    summary: pd.DataFrame, model: Any, customers: CustomersSource | None
) -> pd.DataFrame:
    """The RFM table with the covariates a fitted ``model`` (a CLVModel) was fitted with.

    A model without covariates takes no customers table; one with covariates needs it.
    """
    columns = tuple(dict.fromkeys((*model.purchase_covariates, *model.dropout_covariates)))
    if customers is not None and not columns:
        raise DataError(
            "a customers table was given, but the model was fitted without covariates",
            hint="drop --customers, or refit with --covariates",
        )
    if columns and customers is None:
        raise DataError(
            f"the model was fitted with covariates ({', '.join(columns)}): pass the customers "
            "table holding them",
            hint="--customers CUSTOMERS (and --customer-key if its id column is not customer_id)",
        )
    return with_covariates(summary, customers, columns)


def read_model_customers(
    model: Any | None, customers: CustomersSource | None
) -> pd.DataFrame | None:
    """The customers table (``customer_id`` and a model's covariate columns), or None.

    For ``clv payback`` and ``clv budget``: a table is read only when given, and only with a
    model fitted with covariates (refused otherwise); whether one is needed is decided where
    the buyers are known (:func:`clvmodels.marketing.buyer_covariates.attach_model_covariates`).
    """
    if customers is None:
        return None
    columns = (
        tuple(dict.fromkeys((*model.purchase_covariates, *model.dropout_covariates)))
        if model is not None
        else ()
    )
    if not columns:
        raise DataError(
            "a customers table was given, but "
            + ("no --model was" if model is None else "the model was fitted without covariates"),
            hint="drop --customers, or pass a model fitted with --covariates",
        )
    return read_customers(
        customers.path, columns, key=customers.key, table=customers.table, query=customers.query
    )


def refuse_customers_on_engine(model: Any, customers: CustomersSource | None) -> None:
    """Spark scoring has no covariates yet: refuse a model or a table with them."""
    if customers is not None or model.purchase_covariates or model.dropout_covariates:
        raise DataError(
            "covariates are scored by the DuckDB and pandas engine only",
            hint="score without --engine spark",
        )
