"""The run command: the whole job of a job file, as a scheduler calls it.

``clv run JOB.toml`` reads the orders (and the visits and costs, when the file names them)
with the file's column mapping and runs :func:`clvmodels.jobs.publish.publish` into ``[run]
to``: a folder of files or a database URL. JOB is the whole configuration: ``./clv.toml`` and
``--config`` are not read (a scheduler's working folder must not change the job). Options on
the command line win over JOB, and JOB over the built-in defaults of the publish job
(:class:`clvmodels.jobs.publish.PublishSettings`).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import click

from clvmodels.cli.common import (
    DISCOUNT_RATE_TYPE,
    DURATION,
    MARGIN_TYPE,
    TIME_UNIT,
    guarded,
    orders_options,
    orders_source,
    pop_orders_options,
    say,
)
from clvmodels.cli.config import GROUP_CONFIG, apply_job_files, reports_settings, user_error
from clvmodels.errors import DataError
from clvmodels.jobs.job_file import JobFile, marketing_tables, read_job_file
from clvmodels.models.settings import TRANSACTION_MODEL_NAMES

#: ctx.meta key of the job file that ``clv run`` read.
JOB = "clvmodels.run_job"


def _read_job(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """JOB's callback (eager): the file becomes the defaults of every other option."""
    if ctx.resilient_parsing or value is None:
        return value
    if ctx.meta.get(GROUP_CONFIG) is not None:
        raise user_error(f"clv run reads its settings from JOB ({value}); drop --config")
    try:
        job = read_job_file(value)
    except DataError as exc:
        raise user_error(str(exc)) from None
    ctx.meta[JOB] = job
    apply_job_files(ctx, [job])
    return value


@click.command()
@click.argument("job", type=click.Path(dir_okay=False), is_eager=True, callback=_read_job)
@click.option("--orders", "orders_path", help="Orders (default: [orders] path of JOB).")
@orders_options
@click.option("--to", help="Folder or database URL to write into (default: [run] to of JOB).")
@click.option("--schema", help="Database schema of the tables and views (default: clv).")
@click.option(
    "--model",
    "model_dir",
    type=click.Path(),
    help="A fitted model folder (clv fit) to score with instead of fitting one.",
)
@click.option(
    "--model-type",
    type=click.Choice(TRANSACTION_MODEL_NAMES),
    help="Transaction model to fit when no --model is given (default: bgnbd).",
)
@click.option("--method", type=click.Choice(["map", "laplace", "mcmc"]), help="Fit method (map).")
@click.option("--time-unit", type=TIME_UNIT, help="Time unit of the fit (default: W).")
@click.option("--margin", type=MARGIN_TYPE, help="Share of revenue that is margin (default: 1).")
@click.option("--annual-discount-rate", type=DISCOUNT_RATE_TYPE, help="Default: 0.1.")
@click.option("--horizon", type=DURATION, help="CLV horizon, e.g. 12M (default: 12M).")
@click.option("--period", type=click.Choice(["month", "week"]), help="Cohort unit (month).")
@click.option("--dimension-col", help="Orders column of the top_dimensions views, e.g. partner_id.")
@reports_settings
@guarded
def run(
    job: str, orders_path: str | None, to: str | None, model_dir: str | None, **kwargs: Any
) -> None:
    """Run the whole job of a job file (TOML) into a folder of files or a database.

    Reads the orders of [orders] (and the visits and costs of [visits] and [costs], when the
    file has them) with the file's column mapping; fits the model of [defaults] model_type
    unless [defaults] model_dir names a fitted one; and writes the presentation tables and
    views of `clv publish` into [run] to: a database URL (one transaction, schema [run]
    schema) or a folder (one Parquet file per table and view). Options given here win over
    the file. Exit code 0 when everything was written, 2 for a problem with the input (then
    nothing was written). docs/clv.toml.example is a complete job file.

    Example:

    \b
      clv run job.toml
      clv run job.toml --to 'postgresql://etl@db.shop.internal/shop' --schema clv_staging
      clv run job.toml --to out/ --model model/
    """
    from clvmodels.jobs.publish import PublishSettings, publish

    ctx = click.get_current_context()
    job_file: JobFile = ctx.meta[JOB]
    if orders_path is None:
        raise user_error(f"{job_file.path} has no [orders] path and --orders is not given")
    if to is None:
        raise user_error(f"{job_file.path} has no [run] to and --to is not given")
    source = orders_source(orders_path, pop_orders_options(kwargs))
    given = {name: value for name, value in kwargs.items() if value is not None}
    unknown = set(kwargs) - {field.name for field in fields(PublishSettings)}
    if unknown:  # an option of this command that the publish job does not take: a bug
        raise TypeError(f"PublishSettings takes no {sorted(unknown)}")
    settings = PublishSettings(**given)  # the options not given: PublishSettings' defaults
    visits_costs = marketing_tables(job_file)
    visits, costs = visits_costs if visits_costs is not None else (None, None)
    result = publish(
        source, to, settings=settings, model_dir=model_dir, visits=visits, costs=costs, echo=say
    )
    for name in result.written:
        say(f"wrote {name}")
    say(f"into {result.target}")
