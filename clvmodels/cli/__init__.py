"""The ``clv`` command: a thin layer over the library.

Each command parses its arguments, calls library functions, writes its outputs atomically and
turns the library's errors about the user's data into a one-line message and exit code 2.

The commands are loaded lazily: ``clv --help`` and ``clv --version`` import click and nothing of
the modelling stack (pandas, DuckDB, SciPy, PyMC, ...), and ``clv NAME`` imports only the module
that defines NAME. :data:`COMMANDS` names each command's module and function, with its short help
beside it so that ``clv --help`` can list the commands without importing them (a test checks that
each short help is the first line of the command's docstring).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

from clvmodels._version import __version__
from clvmodels.cli.display import run_cli

if TYPE_CHECKING:  # the same imports, for type checkers and import-linter's graph
    from clvmodels.cli.acquisition import budget, payback  # noqa: F401
    from clvmodels.cli.backtest import backtest  # noqa: F401
    from clvmodels.cli.churn import churn  # noqa: F401
    from clvmodels.cli.cohorts import cohorts  # noqa: F401
    from clvmodels.cli.conversion import conversion  # noqa: F401
    from clvmodels.cli.demo import demo  # noqa: F401
    from clvmodels.cli.engagement import engagement  # noqa: F401
    from clvmodels.cli.experiment import experiment  # noqa: F401
    from clvmodels.cli.fit import fit, show  # noqa: F401
    from clvmodels.cli.kpis import kpis  # noqa: F401
    from clvmodels.cli.power import power  # noqa: F401
    from clvmodels.cli.publish import publish  # noqa: F401
    from clvmodels.cli.report import report  # noqa: F401
    from clvmodels.cli.rfm import rfm  # noqa: F401
    from clvmodels.cli.run import run  # noqa: F401
    from clvmodels.cli.score import score  # noqa: F401
    from clvmodels.cli.segment import segment  # noqa: F401
    from clvmodels.cli.subscriptions import subscriptions  # noqa: F401


#: command name -> ("module:function", first line of the command's docstring)
COMMANDS: dict[str, tuple[str, str]] = {
    "rfm": (
        "clvmodels.cli.rfm:rfm",
        "Summarise orders into recency, frequency and monetary value per customer.",
    ),
    "fit": (
        "clvmodels.cli.fit:fit",
        "Fit a purchase model (BG/NBD by default, or --model ...) and Gamma-Gamma for spend.",
    ),
    "show": (
        "clvmodels.cli.fit:show",
        "Print a fitted model's parameters (mean, sd, 94% interval) and diagnostics.",
    ),
    "score": (
        "clvmodels.cli.score:score",
        "Score customers: P(alive), expected purchases and spend, discounted CLV.",
    ),
    "segment": (
        "clvmodels.cli.segment:segment",
        "Give every scored customer one segment (first matching rule) and summarise them.",
    ),
    "cohorts": (
        "clvmodels.cli.cohorts:cohorts",
        "Empirical LTV and retention of each acquisition cohort, by age.",
    ),
    "kpis": (
        "clvmodels.cli.kpis:kpis",
        "Revenue, orders and buyers per period, with growth, rolling means and seasonality.",
    ),
    "backtest": (
        "clvmodels.cli.backtest:backtest",
        "Fit each model on the calibration period and compare its holdout predictions.",
    ),
    "payback": (
        "clvmodels.cli.acquisition:payback",
        "CAC, ROMI and payback per acquisition cohort and ad source, realised and predicted.",
    ),
    "budget": (
        "clvmodels.cli.acquisition:budget",
        "How much a new customer from each source is worth, and where to move the budget.",
    ),
    "engagement": (
        "clvmodels.cli.engagement:engagement",
        "How people use the product: DAU, WAU, MAU, stickiness, sessions and their lengths.",
    ),
    "conversion": (
        "clvmodels.cli.conversion:conversion",
        "How many visitors buy, how soon after the first visit, by source, device and cohort.",
    ),
    "power": (
        "clvmodels.cli.power:power",
        "Users per arm (and days) that an A/B test needs to detect a minimum effect.",
    ),
    "experiment": (
        "clvmodels.cli.experiment:experiment",
        "Analyse an A/B test: conversion, revenue and orders per user in each user's window.",
    ),
    "subscriptions": (
        "clvmodels.cli.subscriptions:subscriptions",
        "Summarise a billing table into one row per customer (the SUBS table).",
    ),
    "churn": (
        "clvmodels.cli.churn:churn",
        "Fit the sBG per group and write retention, survival, churn drivers and residual value.",
    ),
    "report": (
        "clvmodels.cli.report:report",
        "Write one self-contained HTML report: data, model, matrices, backtest, cohorts, segments.",
    ),
    "publish": (
        "clvmodels.cli.publish:publish",
        "Run the whole job and write presentation tables and views to a database or folder.",
    ),
    "run": (
        "clvmodels.cli.run:run",
        "Run the whole job of a job file (TOML) into a folder of files or a database.",
    ),
    "demo": (
        "clvmodels.cli.demo:demo",
        "Run the whole pipeline on a simulated customer base and say where the outputs went.",
    ),
}


def load_command(name: str) -> click.Command:
    """Import the command ``name`` of :data:`COMMANDS` (KeyError for an unknown name).

    The command gets its ``--config`` option (:func:`clvmodels.cli.config.attach_config`).
    """
    from clvmodels.cli.config import attach_config

    module_name, _, attribute = COMMANDS[name][0].partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{COMMANDS[name][0]} is not a click command")
    return attach_config(command)


class LazyGroup(click.Group):
    """A click group whose commands are imported when they are run or asked for help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The command names, sorted as click sorts them."""
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, imported on first use."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands from their short help texts, without importing them."""
        placeholders = {
            name: click.Command(name, help=text) for name, (_, text) in COMMANDS.items()
        }
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name) or placeholders[name]
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="clvmodels")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Job file (TOML): column mapping and defaults for the command; options given on "
    "the command line win over it, and it wins over ./clv.toml (see docs/clv.toml.example).",
)
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """Customer lifetime value from an orders table (customer, time, revenue).

    Start with `clv demo`, which runs the whole pipeline on simulated data. A typical job:

    \b
      clv rfm orders.csv --time-unit W -o rfm.parquet
      clv fit orders.csv -o model/
      clv show model/
      clv score model/ orders.csv --horizon 12M -o scores.parquet
      clv segment scores.parquet -o segments.parquet
      clv cohorts orders.csv -o cohorts.parquet
      clv kpis orders.csv --period week -o kpis/
      clv backtest orders.csv --calibration-end 2024-06-30 -o backtest/
      clv payback --orders orders.csv --visits visits.csv --costs costs.csv --model model/ \\
          -o payback.parquet
      clv budget --model model/ --payback payback.parquet --target-payback-months 6 -o budget.csv
      clv report --orders orders.csv --model model/ --backtest backtest/ -o report.html
      clv subscriptions billing.csv --billing-period month -o subs.parquet
      clv churn subs.parquet -o churn/ --by plan --companies companies.csv
      clv publish 'postgresql://me@db/shop#sales.orders' --to postgresql://me@db/shop

    Orders files may be CSV, Parquet, DuckDB or SQLite, or a database URL
    (postgresql://user@host/db#schema.table, duckdb:///file.duckdb#table,
    sqlite:///file.sqlite#table), and -o may name a table the same way; name your columns with
    --customer-col, --date-col and --revenue-col, or once in a job file: ./clv.toml or
    --config FILE hold the column mapping and defaults of every command, and
    `clv run job.toml` runs the whole job (docs/clv.toml.example).
    """
    from clvmodels.cli.config import GROUP_CONFIG

    ctx.meta[GROUP_CONFIG] = config_file


def main() -> None:
    """Entry point of the ``clv`` console script and ``python -m clvmodels``."""
    run_cli(cli)
