"""What every command shares: orders options, error handling, warnings, output lines."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

import click
import pandas as pd

from clvmodels.cli.display import our_warnings
from clvmodels.data.contract import DATE_UNITS, OrdersSource
from clvmodels.errors import ClvError
from clvmodels.ranges import (
    ANNUAL_DISCOUNT_RATE,
    MARGIN,
    VALUE_PER_ORDER,
    NumberRange,
    date_problem,
)
from clvmodels.units import parse_duration

EXIT_DATA_ERROR = 2


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 2."""

    exit_code = EXIT_DATA_ERROR

    def show(self, file: Any = None) -> None:
        """Print ``Error: message`` to standard error."""
        click.echo(f"Error: {self.format_message()}", err=True)


def guarded[F: Callable[..., Any]](func: F) -> F:
    """Run a command with our warnings shown on stderr and user errors as exit code 2.

    Data-quality and convergence warnings are printed as they happen (whoever invokes the
    command: the console script, ``python -m clvmodels`` or a test runner); library errors
    about the user's data become a one-line message and exit code 2.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with our_warnings(others=True):
            try:
                return func(*args, **kwargs)
            except ClvError as exc:
                raise UserError(str(exc)) from None
            except (ValueError, OSError) as exc:
                if isinstance(exc, OSError) and exc.filename:
                    raise UserError(f"{exc.strerror}: {exc.filename}") from None
                raise UserError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def orders_options[F: Callable[..., Any]](func: F) -> F:
    """The options that say how to read an orders table (:data:`ORDERS_OPTIONS`)."""
    for option in reversed(ORDERS_OPTIONS):
        func = option(func)
    return func


def orders_source(path: str, opts: dict[str, Any]) -> OrdersSource:
    """The orders source that the options of :func:`orders_options` describe.

    It is what the lean path (file -> DuckDB view -> RFM, no pandas) reads.
    """
    if opts.get("value_per_order") is not None and not opts.get("no_revenue"):
        raise UserError("--value-per-order goes with --no-revenue")
    return OrdersSource(
        path,
        table=opts["table"],
        query=opts["query"],
        customer_col=opts["customer_col"],
        date_col=opts["date_col"],
        revenue_col=None if opts.get("no_revenue") else opts["revenue_col"],
        date_format=opts["date_format"],
        date_unit=opts.get("date_unit"),
        time_zone=opts.get("time_zone") or "UTC",
        encoding=opts["encoding"],
        refunds=opts["refunds"],
        dedupe=opts["dedupe"],
        value_per_order=opts.get("value_per_order"),
        allow_file_access=bool(opts.get("allow_file_access")),
    )


def load_orders(path: str, opts: dict[str, Any]) -> pd.DataFrame:
    """Read and validate orders into pandas, for commands that need them in memory."""
    from clvmodels.data.io import orders_frame

    return orders_frame(orders_source(path, opts))


ORDERS_OPTION_NAMES = (
    "table",
    "query",
    "customer_col",
    "date_col",
    "revenue_col",
    "no_revenue",
    "value_per_order",
    "date_format",
    "date_unit",
    "time_zone",
    "encoding",
    "refunds",
    "dedupe",
    "allow_file_access",
)


def pop_orders_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the orders options out of a command's keyword arguments."""
    return {name: kwargs.pop(name) for name in ORDERS_OPTION_NAMES}


def day_text(value: Any) -> str | None:
    """A ``DATE`` option's value as ``YYYY-MM-DD`` (None stays None)."""
    return value.date().isoformat() if value is not None else None


def say(text: str = "") -> None:
    """A line of the command's report (standard output)."""
    click.echo(text)


def show_progress() -> bool:
    """Progress bars only where a person watches (standard error is a terminal)."""
    return sys.stderr.isatty()


# ---------------------------------------------------------------- option types (docs/cli.md)
def _flag(param: click.Parameter | None) -> str:
    """The option's long flag (``--margin``), as messages name it."""
    names = list(param.opts) if param is not None else []
    return max(names, key=len) if names else "value"


class NumberType(click.ParamType):
    """A float option within a :class:`clvmodels.ranges.NumberRange` (NaN and inf refused).

    A value outside is a one-line ``Error: --flag must be within ...`` and exit code 2.
    """

    name = "float"

    def __init__(self, allowed: NumberRange) -> None:
        self.allowed = allowed

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """The value as a float, or a :class:`UserError` naming the flag."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"{_flag(param)} takes a number; got {value!r}") from None
        problem = self.allowed.problem(number)
        if problem is not None:
            raise UserError(f"{_flag(param)} {problem}")
        return number


class DurationType(click.ParamType):
    """A duration such as 90D, 39W or 12M, at most 100 years; passed on as its text."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """The duration's canonical text (``12M``), or a :class:`UserError` naming the flag."""
        try:
            return str(parse_duration(value))
        except ValueError as exc:
            raise UserError(f"{_flag(param)}: {exc}") from None


class DateType(click.DateTime):
    """A YYYY-MM-DD day from 1900-01-01 to 2200-12-31."""

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A datetime at midnight, or a :class:`UserError` naming the flag."""
        day = super().convert(value, param, ctx)
        problem = date_problem(day)
        if problem is not None:
            raise UserError(f"{_flag(param)} {problem}")
        return day


class WholeNumberType(click.IntRange):
    """A whole-number option from ``low`` to ``high``; outside is a one-line error."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(low, high)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The value as an int, or a :class:`UserError` naming the flag and the range."""
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            raise UserError(
                f"{_flag(param)} must be a whole number from {self.min:,} to {self.max:,}; "
                f"got {value!r}"
            ) from None


DATE = DateType()
DURATION = DurationType()
MARGIN_TYPE = NumberType(MARGIN)
DISCOUNT_RATE_TYPE = NumberType(ANNUAL_DISCOUNT_RATE)
TIME_UNIT = click.Choice(["D", "W", "M"], case_sensitive=False)
#: Whole-number options: ranges wide enough for any real use, finite for every one.
CHAINS = WholeNumberType(1, 64)
DRAWS = WholeNumberType(1, 100_000)
TUNE = WholeNumberType(0, 100_000)
SEED = WholeNumberType(0, 2**32 - 1)
CUSTOMERS = WholeNumberType(100, 10_000_000)
MONTHS = WholeNumberType(1, 1200)  # 100 years
PERIODS = WholeNumberType(1, 1200)


#: The options that say how to read an orders table (``orders_options``), in help order.
ORDERS_OPTIONS: tuple[Callable[[Any], Any], ...] = (
    click.option(
        "--table",
        help="Table to read from a database (a DuckDB or SQLite file, or a postgresql:// URL), "
        "as SQL writes it, e.g. --table sales.orders (or give it after # in the URL).",
    ),
    click.option(
        "--query",
        help="One SELECT to run, read-only, on a database, e.g. "
        "--query 'SELECT * FROM orders WHERE revenue >= 0'.",
    ),
    click.option(
        "--customer-col",
        default="customer_id",
        show_default=True,
        help="Column with the customer id (e.g. uid, client_id).",
    ),
    click.option(
        "--date-col",
        default="timestamp",
        show_default=True,
        help="Column with the order time (e.g. buy_ts, created_at).",
    ),
    click.option(
        "--revenue-col",
        default="revenue",
        show_default=True,
        help="Column with the order's revenue, e.g. --revenue-col amount.",
    ),
    click.option(
        "--no-revenue",
        is_flag=True,
        help="The log has no revenue (customer and date only): purchase models only, "
        "e.g. clv rfm visits.csv --no-revenue -o rfm.parquet.",
    ),
    click.option(
        "--value-per-order",
        type=NumberType(VALUE_PER_ORDER),
        default=None,
        help="With --no-revenue: revenue given to every order, e.g. --value-per-order 25.",
    ),
    click.option(
        "--date-format",
        default=None,
        help="strftime format every date must match, e.g. %Y%m%d or %d/%m/%Y "
        "(without it: ISO 8601, native dates, YYYYMMDD numbers).",
    ),
    click.option(
        "--date-unit",
        type=click.Choice(DATE_UNITS),
        default=None,
        help="Unit of numeric dates: s, ms, us since 1970-01-01 UTC, or excel (days "
        "since 1899-12-30), e.g. --date-unit ms.",
    ),
    click.option(
        "--time-zone",
        default="UTC",
        show_default=True,
        help="IANA zone that dates with a UTC offset are converted to, e.g. "
        "--time-zone Europe/Berlin (naive dates are kept as written).",
    ),
    click.option(
        "--encoding",
        default="utf-8",
        show_default=True,
        help="Text encoding of a CSV file (utf-8, utf-16, latin-1), e.g. --encoding latin-1.",
    ),
    click.option(
        "--refunds",
        type=click.Choice(["error", "net"]),
        default="error",
        show_default=True,
        help="Negative revenue: an error, or net it within the purchase day, e.g. --refunds net.",
    ),
    click.option(
        "--dedupe",
        is_flag=True,
        help="Drop exact duplicate order rows (otherwise only warned about), e.g. --dedupe.",
    ),
    click.option(
        "--allow-file-access",
        is_flag=True,
        help="Let a --query (or the views) of a DuckDB file read or write other files "
        "(read_csv, COPY ... TO, ATTACH); off by default.",
    ),
)


def margin_option[F: Callable[..., Any]](func: F) -> F:
    """``--margin``: the share of revenue that is margin, in (0, 1]."""
    return click.option(
        "--margin",
        type=MARGIN_TYPE,
        default=1.0,
        show_default=True,
        help="Share of revenue that is margin, in (0, 1].",
    )(func)


def discount_option[F: Callable[..., Any]](func: F) -> F:
    """``--annual-discount-rate``: the yearly rate at which future margin is discounted."""
    return click.option(
        "--annual-discount-rate",
        type=DISCOUNT_RATE_TYPE,
        default=0.1,
        show_default=True,
        help="Yearly discount rate of future margin, in [0, 10] (0.1 = 10%).",
    )(func)


def horizon_option(help_text: str) -> Callable[[Any], Any]:
    """``--horizon``: a duration such as 90D, 39W or 12M (default 12M), at most 100 years."""
    return click.option(
        "--horizon", type=DURATION, default="12M", show_default=True, help=help_text
    )


def draws_option(help_text: str, default: int = 200) -> Callable[[Any], Any]:
    """``--draws`` (stored as ``n_draws``): posterior draws used, thinned evenly."""
    return click.option(
        "--draws",
        "n_draws",
        type=DRAWS,
        default=default,
        show_default=True,
        help=help_text,
    )


def period_option(help_text: str) -> Callable[[Any], Any]:
    """``--period``: cohort and age unit, calendar month or ISO week."""
    return click.option(
        "--period",
        type=click.Choice(["month", "week"]),
        default="month",
        show_default=True,
        help=help_text,
    )


def observation_end_option(
    help_text: str = "Last day used (default: last order's day).",
) -> Callable[[Any], Any]:
    """``--observation-end``: a YYYY-MM-DD date."""
    return click.option("--observation-end", type=DATE, help=help_text)


def fit_method_options[F: Callable[..., Any]](func: F) -> F:
    """``--method``, ``--priors``, ``--chains``, ``--draws``, ``--tune`` and ``--seed`` of a fit."""
    for option in reversed(_FIT_METHOD_OPTIONS):
        func = option(func)
    return func


_FIT_METHOD_OPTIONS = (
    click.option(
        "--method",
        type=click.Choice(["map", "laplace", "mcmc"]),
        default="map",
        show_default=True,
        help="map: posterior mode (fast); laplace: Gaussian at the mode; mcmc: NUTS.",
    ),
    click.option(
        "--priors",
        type=click.Choice(["default", "flat"]),
        default="default",
        show_default=True,
        help="pymc-marketing's default priors, or flat (MAP = maximum likelihood).",
    ),
    click.option("--chains", type=CHAINS, default=4, show_default=True),
    click.option(
        "--draws",
        type=DRAWS,
        default=1000,
        show_default=True,
        help="Draws per chain (laplace, mcmc).",
    ),
    click.option(
        "--tune", type=TUNE, default=1000, show_default=True, help="Tuning steps per chain (mcmc)."
    ),
    click.option("--seed", type=SEED, default=0, show_default=True),
)
