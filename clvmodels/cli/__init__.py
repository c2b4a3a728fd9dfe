"""The ``clv`` command: a thin layer over the library.

Each command parses its arguments, calls library functions, writes its outputs atomically and
turns the library's errors about the user's data into a one-line message and exit code 2.
"""

from __future__ import annotations

import importlib

import click

from clvmodels._version import __version__
from clvmodels.cli.common import run_cli

#: The module of each command, imported when the command runs (or --help lists them), so
#: that ``clv rfm`` never loads the model, plotting and report modules.
COMMANDS = {
    "rfm": "pipeline",
    "fit": "pipeline",
    "show": "pipeline",
    "score": "pipeline",
    "segment": "segment",
    "cohorts": "cohorts",
    "backtest": "backtest",
    "payback": "acquisition",
    "budget": "acquisition",
    "report": "report",
    "demo": "pipeline",
}


class LazyGroup(click.Group):
    """A command group that imports a command's module only when the command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, sorted (without importing any)."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, its module imported on first use."""
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module = importlib.import_module(f"clvmodels.cli.{COMMANDS[cmd_name]}")
            self.add_command(getattr(module, cmd_name))
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="clvmodels")
def cli() -> None:
    """Customer lifetime value from an orders table (customer, time, revenue).

    Start with `clv demo`, which runs the whole pipeline on simulated data. A typical job:

    \b
      clv rfm orders.csv --time-unit W -o rfm.parquet
      clv fit orders.csv -o model/
      clv show model/
      clv score model/ orders.csv --horizon 12M -o scores.parquet
      clv segment scores.parquet -o segments.parquet
      clv cohorts orders.csv -o cohorts.parquet
      clv backtest orders.csv --calibration-end 2024-06-30 -o backtest/
      clv payback --orders orders.csv --visits visits.csv --costs costs.csv --model model/ \\
          -o payback.parquet
      clv budget --model model/ --payback payback.parquet --target-payback-months 6 -o budget.csv
      clv report --orders orders.csv --model model/ --backtest backtest/ -o report.html

    Orders files may be CSV, Parquet, DuckDB or SQLite; name your columns with
    --customer-col, --date-col and --revenue-col.
    """


def main() -> None:
    """Entry point of the ``clv`` console script and ``python -m clvmodels``."""
    run_cli(cli)
