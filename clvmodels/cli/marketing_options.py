"""The visits and costs options that ``clv payback`` and ``clv publish`` share, and their reader.

:func:`visits_column_options` are the ``--visits-*-col`` options alone, for the commands that
read visits without costs (``clv engagement``, ``clv conversion``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import pandas as pd

from clvmodels.data.marketing import read_costs, read_visits

#: Keyword names of :func:`visits_column_options`.
VISITS_OPTION_NAMES = (
    "visits_uid_col",
    "visits_start_col",
    "visits_end_col",
    "visits_source_col",
    "visits_device_col",
)
#: Keyword names of the column options of :func:`visits_costs_options`.
VISITS_COSTS_OPTION_NAMES = (
    *VISITS_OPTION_NAMES,
    "costs_source_col",
    "costs_date_col",
    "costs_col",
)


_VISITS_COLUMN_OPTIONS = (
    click.option(
        "--visits-uid-col", default="uid", show_default=True, help="User id (= customer)."
    ),
    click.option(
        "--visits-start-col", default="start_ts", show_default=True, help="Session start."
    ),
    click.option("--visits-end-col", default="end_ts", show_default=True, help="Session end."),
    click.option("--visits-source-col", default="source_id", show_default=True, help="Ad source."),
    click.option(
        "--visits-device-col", default="device", show_default=True, help="Device (optional)."
    ),
)


def _apply(options: tuple[Any, ...], func: Any) -> Any:
    for option in reversed(options):
        func = option(func)
    return func


def visits_column_options(func: Any) -> Any:
    """The visits' column options ``--visits-uid-col`` ... ``--visits-device-col``."""
    return _apply(_VISITS_COLUMN_OPTIONS, func)


def pop_visits_options(kwargs: dict[str, Any]) -> dict[str, str]:
    """Pop :func:`visits_column_options` from ``kwargs`` as read_visits keywords (``uid_col``)."""
    return {name.removeprefix("visits_"): kwargs.pop(name) for name in VISITS_OPTION_NAMES}


def visits_costs_options(*, required: bool) -> Callable[[Any], Any]:
    """``--visits``, ``--costs`` (stored as ``visits_path``, ``costs_path``) and their columns."""
    options = (
        click.option(
            "--visits",
            "visits_path",
            required=required,
            type=click.Path(dir_okay=False),
            help="Visits." if required else "Visits (with --costs: adds payback and budget).",
        ),
        *_VISITS_COLUMN_OPTIONS,
        click.option(
            "--costs",
            "costs_path",
            required=required,
            type=click.Path(dir_okay=False),
            help="Daily costs." if required else "Daily costs (with --visits).",
        ),
        click.option(
            "--costs-source-col", default="source_id", show_default=True, help="Ad source."
        ),
        click.option("--costs-date-col", default="dt", show_default=True, help="Day of the costs."),
        click.option("--costs-col", default="costs", show_default=True, help="Amount spent."),
    )

    def decorate(func: Any) -> Any:
        return _apply(options, func)

    return decorate


def pop_visits_costs_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the visits and costs column options out of a command's keyword arguments."""
    return {name: kwargs.pop(name) for name in VISITS_COSTS_OPTION_NAMES}


def read_visits_and_costs(
    visits_path: str, costs_path: str, options: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The visits and costs, read and validated with the --visits-* and --costs-* names."""
    visits = read_visits(
        visits_path,
        uid_col=options["visits_uid_col"],
        start_col=options["visits_start_col"],
        end_col=options["visits_end_col"],
        source_col=options["visits_source_col"],
        device_col=options["visits_device_col"],
    )
    costs = read_costs(
        costs_path,
        source_col=options["costs_source_col"],
        date_col=options["costs_date_col"],
        costs_col=options["costs_col"],
    )
    return visits, costs
