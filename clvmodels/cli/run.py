"""The run command: the whole job of a job file, as a scheduler calls it.

``clv run JOB.toml`` is ``clv publish`` with every option taken from JOB: the orders of
``[orders]`` (``--orders``), the visits and costs of ``[visits]`` and ``[costs]``, the
defaults of ``[defaults]`` and the target of ``[run]`` (``--to``, ``--schema``, ``--method``).
It has the options of ``clv publish`` (``--orders`` instead of ORDERS), and those given on
the command line win over JOB. JOB is the whole configuration: ``./clv.toml`` and
``--config`` are not read, so a scheduler's working folder cannot change the job.
"""

from __future__ import annotations

from typing import Any

import click

from clvmodels.cli.config import GROUP_CONFIG, apply_job_files, reports_settings, user_error
from clvmodels.cli.publish import publish
from clvmodels.errors import DataError
from clvmodels.jobs.job_file import read_job_file


def _read_job(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """JOB's callback (eager, so first): the file becomes the defaults of the other options."""
    if ctx.resilient_parsing or value is None:
        return value
    if ctx.meta.get(GROUP_CONFIG) is not None:
        raise user_error(f"clv run takes its settings from JOB ({value}) only; drop --config")
    try:
        apply_job_files(ctx, [read_job_file(value)])
    except DataError as exc:
        raise user_error(str(exc)) from None
    return value


@reports_settings
def _run(job: str, **kwargs: Any) -> None:
    """Run the whole job of a job file (TOML) into a folder of files or a database.

    Reads the orders of [orders] (and the visits and costs of [visits] and [costs], when the
    file has them) with the file's column mapping; fits the model of [defaults] model_type
    unless [defaults] model_dir names a fitted one; and writes the tables and views of
    `clv publish` into [run] to: a database URL (one transaction, schema [run] schema) or a
    folder (one Parquet file per table and view). Options given here win over the file;
    ./clv.toml and --config are not read. Says which settings came from JOB (standard
    error) and what was written. Exit code 0 when everything was written, 2 for a problem
    with the job file or the input (then nothing was written). See docs/clv.toml.example.

    Example:

    \b
      clv run job.toml
      clv run job.toml --to 'postgresql://etl@db.shop.internal/shop' --schema clv_staging
      clv run job.toml --to out/ --model model/
    """
    assert publish.callback is not None
    publish.callback(**kwargs)


run = click.Command(
    "run",
    callback=_run,
    help=_run.__doc__,
    params=[
        click.Argument(["job"], type=click.Path(dir_okay=False), is_eager=True, callback=_read_job),
        click.Option(
            ["--orders", "orders"],
            required=True,
            help="Orders: a file or database URL (default: [orders] path of JOB).",
        ),
        *(param for param in publish.params if param.name not in ("orders", "config_file")),
    ],
)
