"""Summarise a billing table: payments -> one row per customer (SUBS) -> a table and a report.

:func:`subscriptions_file` is what ``clv subscriptions`` does between parsing its options and
printing: read and check the billing table (:func:`clvmodels.data.billing.read_billing`),
summarise it (:func:`clvmodels.subscriptions.billing.summarize_billing`) and write SUBS and
``<SUBS stem>_report.json`` beside it. Both files are written atomically and only when
everything succeeded: on an error neither exists (an old one is left as it was). SUBS may be a
database table (``URL#schema.table``): then the report is the one-row table ``<table>_report``
(one column per entry, nested entries as JSON text), both written in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from clvmodels.data.billing import read_billing
from clvmodels.data.database_url import DatabaseURL, shown_source
from clvmodels.data.io import atomic_path, json_row, write_json, write_table, write_tables
from clvmodels.data.paths import (
    OutputTarget,
    derived_target,
    output_problem,
    output_target,
)
from clvmodels.errors import DataError
from clvmodels.subscriptions.billing import check_billing_period, summarize_billing

#: The suffixes a SUBS file may have.
SUBS_SUFFIXES = (".parquet", ".csv")


@dataclass
class SubscriptionsResult:
    """What :func:`subscriptions_file` wrote: the SUBS table, its report, and the two files."""

    subs: pd.DataFrame
    report: dict[str, Any]
    target: OutputTarget
    report_path: OutputTarget


def subscriptions_files(output: str | os.PathLike[str] | DatabaseURL) -> dict[str, OutputTarget]:
    """The files ``clv subscriptions -o output`` writes: ``subs`` and ``report``.

    ``report`` is ``<output stem>_report.json`` in the same folder, or the table
    ``<table>_report`` beside a database table.
    """
    target = output_target(output)
    return {"subs": target, "report": derived_target(target, "report", ".json")}


def subscriptions_file(
    billing_path: str | os.PathLike[str],
    output: str | os.PathLike[str] | DatabaseURL,
    *,
    billing_period: str,
    customer_col: str = "company_id",
    payment_date_col: str = "payment_date",
    paid_until_col: str = "paid_until",
    amount_col: str = "amount",
    plan_col: str = "plan",
    status_col: str | None = None,
    paid_values: Iterable[str] = ("success", "paid"),
    grace_days: int = 0,
    observation_end: str | None = None,
    date_format: str | None = None,
    table: str | None = None,
    query: str | None = None,
    encoding: str = "utf-8",
) -> SubscriptionsResult:
    """Read the billing table ``billing_path``, summarise it and write SUBS to ``output``.

    Parameters
    ----------
    billing_path : path
        A CSV, Parquet, DuckDB or SQLite billing table (one row a payment).
    output : path or DatabaseURL
        The SUBS file, ``.parquet`` or ``.csv``; ``<stem>_report.json`` is written beside it.
        Or a database table: the report is then the one-row table ``<table>_report``.
    billing_period, grace_days, observation_end
        Passed to :func:`clvmodels.subscriptions.billing.summarize_billing`.
    customer_col, payment_date_col, paid_until_col, amount_col, plan_col, status_col, \
paid_values, date_format, table, query, encoding
        Passed to :func:`clvmodels.data.billing.read_billing`.

    Returns
    -------
    SubscriptionsResult

    Raises
    ------
    DataError
        For a bad billing table (see the two functions above), an output that is not
        ``.parquet``/``.csv``, or an output that is the input. Nothing is written then.
    """
    files = subscriptions_files(output)
    _check_targets(files, billing_path)
    period = check_billing_period(billing_period)
    payments, counts = read_billing(
        billing_path,
        customer_col=customer_col,
        payment_date_col=payment_date_col,
        paid_until_col=paid_until_col,
        amount_col=amount_col,
        plan_col=plan_col,
        status_col=status_col,
        paid_values=paid_values,
        date_format=date_format,
        table=table,
        query=query,
        encoding=encoding,
    )
    subs, summary = summarize_billing(
        payments, billing_period=period, grace_days=grace_days, observation_end=observation_end
    )
    report = {
        "billing": shown_source(billing_path),
        "subs": str(files["subs"]),
        "columns": {
            "customer": customer_col,
            "payment_date": payment_date_col,
            "paid_until": paid_until_col,
            "amount": amount_col,
            "plan": plan_col,
            "status": status_col,
        },
        "rows_read": counts["rows"],
        "paid_values": counts["paid_values"],
        **summary,
    }
    if isinstance(files["subs"], DatabaseURL):
        write_tables([(subs, files["subs"]), (json_row(report), files["report"])])
    else:
        with atomic_path(files["report"]) as report_tmp:
            write_json(report, report_tmp)
            write_table(subs, files["subs"])
    return SubscriptionsResult(
        subs=subs, report=report, target=files["subs"], report_path=files["report"]
    )


def _check_targets(files: dict[str, OutputTarget], billing_path: str | os.PathLike[str]) -> None:
    """Refuse a SUBS file of another kind, and outputs that are (or hold) the input."""
    subs = files["subs"]
    if isinstance(subs, DatabaseURL) and subs.table is None:
        raise DataError(f"-o {subs} needs a table: add #schema.table")
    suffix = "" if isinstance(subs, DatabaseURL) else subs.suffix.lower()
    if not isinstance(subs, DatabaseURL) and suffix not in SUBS_SUFFIXES:
        raise DataError(
            f"output {files['subs']} must end in .parquet or .csv (got '{suffix or 'no suffix'}')"
        )
    for path in files.values():
        problem = output_problem(path, [("BILLING", billing_path)])
        if problem is not None:
            raise DataError(f"{path} {problem}; nothing was written: choose another path")
