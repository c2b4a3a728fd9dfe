"""The ``clv`` command: a thin layer over the library.

Each command parses its arguments, calls library functions, writes its outputs atomically and
turns the library's errors about the user's data into a one-line message and exit code 2.
"""

from __future__ import annotations

import click

from clvmodels._version import __version__
from clvmodels.cli.acquisition import budget, payback
from clvmodels.cli.backtest import backtest
from clvmodels.cli.cohorts import cohorts
from clvmodels.cli.common import run_cli
from clvmodels.cli.pipeline import demo, fit, rfm, score, show
from clvmodels.cli.report import report
from clvmodels.cli.segment import segment


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


for command in (rfm, fit, show, score, segment, cohorts, backtest, payback, budget, report, demo):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``clv`` console script and ``python -m clvmodels``."""
    run_cli(cli)
