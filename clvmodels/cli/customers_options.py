"""The customers-table options (covariates) that fit, score, backtest and payback share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from clvmodels.data.customers import CustomersSource

_OPTIONS = ("customers_path", "customer_key", "customers_table")


def customers_options[F: Callable[..., Any]](func: F) -> F:
    """``--customers``, ``--customer-key``, ``--customers-table``."""
    for option in reversed(
        [
            click.option(
                "--customers",
                "customers_path",
                help="Customers table (file or database URL), one row per customer, holding "
                "the covariates of a model fitted with them (docs/models.md, Covariates).",
            ),
            click.option(
                "--customer-key",
                default="customer_id",
                show_default=True,
                help="The customers table's id column (matched to the orders' customer ids).",
            ),
            click.option(
                "--customers-table",
                help="Table of a database --customers (default: its only table).",
            ),
        ]
    ):
        func = option(func)
    return func


def covariate_options[F: Callable[..., Any]](func: F) -> F:
    """``--covariates`` (both processes), ``--purchase-covariates``, ``--dropout-covariates``."""
    for option in reversed(
        [
            click.option(
                "--covariates",
                default="",
                help="Comma list of covariate columns of --customers acting on both processes "
                "(purchase and dropout).",
            ),
            click.option(
                "--purchase-covariates", default="", help="Covariates on the purchase rate only."
            ),
            click.option("--dropout-covariates", default="", help="Covariates on dropout only."),
        ]
    ):
        func = option(func)
    return func


def pop_covariates(kwargs: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The purchase and dropout covariates of the options (removed from ``kwargs``)."""
    both = covariate_names(kwargs.pop("covariates", "") or "")
    purchase = covariate_names(kwargs.pop("purchase_covariates", "") or "")
    dropout = covariate_names(kwargs.pop("dropout_covariates", "") or "")
    return tuple(dict.fromkeys((*both, *purchase))), tuple(dict.fromkeys((*both, *dropout)))


def pop_customers_source(kwargs: dict[str, Any]) -> CustomersSource | None:
    """The customers table of the options (removed from ``kwargs``), or None."""
    path, key, table = (kwargs.pop(name, None) for name in _OPTIONS)
    if not path:
        return None
    from clvmodels.data.customers import CustomersSource

    return CustomersSource(path, key=key or "customer_id", table=table)


def covariate_names(text: str) -> tuple[str, ...]:
    """A comma list of column names."""
    return tuple(name.strip() for name in text.split(",") if name.strip())
