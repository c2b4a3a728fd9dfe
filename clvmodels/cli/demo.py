"""The demo command: the whole pipeline on simulated customers (:mod:`clvmodels.jobs.pipeline`)."""

from __future__ import annotations

import click

from clvmodels.cli.common import (
    CUSTOMERS,
    SEED,
    guarded,
    say,
    show_progress,
)
from clvmodels.cli.outputs import check_outputs, folder_output
from clvmodels.models.settings import Method


@click.command()
@click.option(
    "--output-dir", default="demo-output", show_default=True, help="Folder for the demo's outputs."
)
@click.option(
    "--customers",
    type=CUSTOMERS,
    default=20_000,
    show_default=True,
    help="Customers to simulate.",
)
@click.option("--seed", type=SEED, default=42, show_default=True)
@click.option(
    "--method", type=click.Choice(["map", "laplace", "mcmc"]), default="laplace", show_default=True
)
@guarded
def demo(output_dir: str, customers: int, seed: int, method: Method) -> None:
    """Run the whole pipeline on a simulated customer base and say where the outputs went.

    Simulates orders with known BG/NBD and Gamma-Gamma parameters, summarises them, fits
    the models, compares the fit with the truth, and scores every customer.

    Example:

    \b
      clv demo --output-dir demo-output --customers 20000
    """
    folder_output(output_dir, "--output-dir", "a folder of files")
    check_outputs(inputs={}, outputs={"--output-dir": output_dir})
    from clvmodels.jobs.pipeline import run_demo

    result = run_demo(
        output_dir,
        n_customers=customers,
        seed=seed,
        method=method,
        progress=show_progress(),
        echo=say,
    )
    say()
    say("outputs:")
    for label, path in result.paths.items():
        say(f"  {label:<12} {path}")
