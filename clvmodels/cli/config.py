"""Job files for every command: ``--config FILE`` and ``./clv.toml`` fill the options not given.

Precedence, per setting: the command line, then ``--config FILE`` (before the command name,
``clv --config job.toml rfm ...``, or after it, ``clv rfm ... --config job.toml``; not both),
then ``clv.toml`` in the working folder, then the built-in defaults. The files become click's
``default_map`` of the command (:data:`COMMAND_SETTINGS` says which option each key fills),
so a value from a file is converted and checked as if it had been typed. When a setting came
from a file, one block on standard error says which (standard output stays as without files):

    settings: ORDERS /data/orders.csv, --customer-col uid (clv.toml [orders]);
    --margin 0.3 (job.toml [defaults]); from the command line: --output; others: built-in defaults

A table's ``path`` fills the command's input when it is not given: ORDERS of ``clv rfm``,
``fit``, ``cohorts``, ``kpis``, ``backtest`` and ``score``, ``--orders`` of ``payback`` and
``report``, ``--visits``/``--costs`` of ``payback``, VISITS of ``engagement``, ``--orders`` and
``--visits`` of ``conversion``, ``--assignments`` (section ``[assignments]``, which also holds
the experiment's ``control``, ``window_days`` and ``planned_split``) and ``--orders`` of
``experiment`` (``clv report`` has no visits or costs column options, so its
``--visits``/``--costs`` come from the command line only),
BILLING of ``subscriptions``, SUBS and ``--companies``/``--activity``/``--people`` of
``churn``, SCORES of ``segment``; ORDERS, ``--visits``, ``--costs`` and ``[run]``'s ``--to``,
``--schema`` and ``--method`` of ``clv publish`` (as of ``clv run``). ``[defaults] model_dir``
fills the model folder that ``score``, ``show``, ``payback --model``, ``budget --model``,
``report --model``, ``experiment --model`` and ``publish --model`` read, never ``clv fit -o``
(outputs are always given on the command line); ``clv power`` takes the ``[orders]`` column
mapping for its ``--orders`` and ``[defaults]`` ``horizon``, ``margin`` and
``annual_discount_rate``, never the orders path or the model folder; ``[defaults]
model_type`` fills ``clv fit --model`` and ``publish --model-type`` (``auto`` too), and
``[defaults] candidates`` ``clv fit --candidates``. ``clv demo`` takes no
file. ``clv run JOB`` reads JOB only
(:mod:`clvmodels.cli.run`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from clvmodels.errors import DataError
from clvmodels.jobs.job_file import (
    DEFAULT_NAME,
    SCHEMA,
    JobFile,
    Setting,
    merged,
    read_job_file,
    shown,
)

#: ctx.meta keys: the group's ``--config`` and the settings a command took from files.
GROUP_CONFIG = "clvmodels.config"
FROM_FILES = "clvmodels.settings_from_files"
REPORTED = "clvmodels.settings_reported"

_ORDERS = {key: ("orders", key) for key in SCHEMA["orders"] if key != "path"}
_VISITS = {key: ("visits", key) for key in SCHEMA["visits"] if key != "path"}
_VISITS_COSTS = {
    "visits_path": ("visits", "path"),
    **_VISITS,
    "costs_path": ("costs", "path"),
    **{key: ("costs", key) for key in SCHEMA["costs"] if key != "path"},
}


_CUSTOMERS = {
    "customers_path": ("customers", "path"),
    **{key: ("customers", key) for key in ("customer_key", "customers_table")},
}
_COVARIATES = {
    key: ("customers", key) for key in ("covariates", "purchase_covariates", "dropout_covariates")
}


def _defaults(*keys: str) -> dict[str, tuple[str, str]]:
    return {key: ("defaults", key) for key in keys}


#: command -> {parameter name: (section, key)}: which option each job-file key fills.
COMMAND_SETTINGS: dict[str, dict[str, tuple[str, str]]] = {
    "rfm": {"orders": ("orders", "path"), **_ORDERS, **_defaults("time_unit")},
    "fit": {
        "orders": ("orders", "path"),
        **_ORDERS,
        **_defaults("time_unit"),
        "transaction_model": ("defaults", "model_type"),
        "k": ("defaults", "k"),
        "candidates": ("defaults", "candidates"),
        **_CUSTOMERS,
        **_COVARIATES,
    },
    "show": _defaults("model_dir"),
    "score": {
        "orders": ("orders", "path"),
        **_ORDERS,
        **_defaults("model_dir", "horizon", "annual_discount_rate", "margin"),
        **_CUSTOMERS,
    },
    "segment": {
        "scores": ("scores", "path"),
        "table": ("scores", "table"),
        "query": ("scores", "query"),
    },
    "cohorts": {"orders": ("orders", "path"), **_ORDERS, **_defaults("period", "margin")},
    "kpis": {"orders": ("orders", "path"), **_ORDERS, **_defaults("period")},
    "backtest": {
        "orders": ("orders", "path"),
        **_ORDERS,
        **_defaults("time_unit"),
        **_CUSTOMERS,
        **_COVARIATES,
    },
    "payback": {
        "orders_path": ("orders", "path"),
        **_ORDERS,
        **_VISITS_COSTS,
        **_defaults("model_dir", "margin", "period"),
        **_CUSTOMERS,
    },
    "budget": {**_defaults("model_dir", "annual_discount_rate"), **_CUSTOMERS},
    "power": {**_ORDERS, **_defaults("horizon", "annual_discount_rate", "margin")},
    "engagement": {"visits": ("visits", "path"), **_VISITS},
    "conversion": {
        "orders_path": ("orders", "path"),
        **_ORDERS,
        "visits_path": ("visits", "path"),
        **_VISITS,
    },
    "experiment": {
        "assignments_path": ("assignments", "path"),
        **{key: ("assignments", key) for key in SCHEMA["assignments"] if key != "path"},
        "orders_path": ("orders", "path"),
        **_ORDERS,
        **_defaults("model_dir", "horizon", "margin", "annual_discount_rate"),
    },
    "subscriptions": {
        "billing": ("billing", "path"),
        **{key: ("billing", key) for key in SCHEMA["billing"] if key != "path"},
    },
    "churn": {
        "subs": ("subs", "path"),
        "by": ("subs", "by"),
        **{
            (section if key == "path" else key): (section, key)
            for section in ("companies", "activity", "people")
            for key in SCHEMA[section]
        },
        **_defaults("annual_discount_rate"),
    },
    "report": {
        "orders_path": ("orders", "path"),
        **_ORDERS,
        **_defaults("model_dir", "margin", "horizon", "annual_discount_rate", "period"),
        **_CUSTOMERS,
    },
    "publish": {
        "orders": ("orders", "path"),
        **_ORDERS,
        **_VISITS_COSTS,
        **_defaults("model_dir", "time_unit", "margin", "annual_discount_rate", "horizon"),
        **_defaults("period", "dimension_col", "model_type"),
        "to": ("run", "to"),
        "schema": ("run", "schema"),
        "method": ("run", "method"),
    },
}
#: ``clv run`` has the options of ``clv publish`` (``--orders`` for ORDERS).
COMMAND_SETTINGS["run"] = COMMAND_SETTINGS["publish"]
#: Commands whose settings come from their own job-file argument, not from --config.
OWN_JOB_FILE = frozenset({"run"})


def job_files(explicit: str | Path | None, folder: Path | None = None) -> list[JobFile]:
    """The job files a command reads, lowest precedence first: ``./clv.toml``, then ``explicit``.

    Raises
    ------
    DataError
        A file cannot be read, or holds an unknown section or key or a wrong value.
    """
    if explicit is not None and not Path(explicit).is_file():
        raise DataError(f"--config {explicit}: no such file")
    here = (folder or Path.cwd()) / DEFAULT_NAME
    files = []
    if here.is_file() and (explicit is None or not here.samefile(explicit)):
        files.append(read_job_file(here))
    if explicit is not None:
        files.append(read_job_file(explicit))
    return files


def apply_job_files(ctx: click.Context, files: Sequence[JobFile]) -> None:
    """Make ``files`` the defaults of the command of ``ctx`` (its ``default_map``)."""
    mapping = COMMAND_SETTINGS.get(ctx.command.name or "", {})
    params = {param.name: param for param in ctx.command.params}
    settings = merged(files)
    taken: dict[str, Setting] = {
        name: settings[where]
        for name, where in mapping.items()
        if name in params and where in settings
    }
    ctx.default_map = {
        **(ctx.default_map or {}),
        **{
            # an option given more than once (``clv experiment --model``) takes the file's one
            name: (setting.value,) if params[name].multiple else setting.value
            for name, setting in taken.items()
        },
    }
    ctx.meta[FROM_FILES] = taken


def _config_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if ctx.resilient_parsing:
        return
    given = ctx.meta.get(GROUP_CONFIG)
    if given is not None and value is not None:
        raise user_error("--config is given twice (before and after the command); give it once")
    try:
        apply_job_files(ctx, job_files(value if value is not None else given))
    except DataError as exc:
        raise user_error(str(exc)) from None


def user_error(message: str) -> click.ClickException:
    """A one-line ``Error: ...`` with exit code 2 (:class:`clvmodels.cli.common.UserError`)."""
    from clvmodels.cli.common import UserError

    return UserError(message)


CONFIG_HELP = (
    "Job file (TOML) with the column mapping and defaults; options given here win over it, "
    f"and it wins over ./{DEFAULT_NAME}. E.g. --config job.toml."
)


def attach_config(command: click.Command) -> click.Command:
    """Give ``command`` the ``--config`` option and the settings report (once; in place).

    Commands without job-file settings (``clv demo``) and those with their own job file
    (``clv run``) are returned as they are.
    """
    name = command.name or ""
    if name not in COMMAND_SETTINGS or name in OWN_JOB_FILE:
        return command
    if any(param.name == "config_file" for param in command.params):
        return command
    command.params.append(
        click.Option(
            ["--config", "config_file"],
            type=click.Path(dir_okay=False),
            is_eager=True,
            expose_value=False,
            callback=_config_callback,
            help=CONFIG_HELP,
        )
    )
    if command.callback is not None:
        command.callback = reports_settings(command.callback)
    return command


def reports_settings[F: Callable[..., Any]](func: F) -> F:
    """Print :func:`settings_report` (when some setting came from a file) before ``func``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context(silent=True)
        if ctx is not None and not ctx.meta.get(REPORTED):  # once: clv run calls publish's
            ctx.meta[REPORTED] = True
            report = settings_report(ctx)
            if report:
                click.echo(report, err=True)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _flag(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    return param.human_readable_name


def _setting_text(param: click.Parameter, value: Any) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return _flag(param) if value else f"{_flag(param)} false"
    return f"{_flag(param)} {shown(value)}"


def settings_report(ctx: click.Context) -> str | None:
    """Which settings came from which job file, or None when none came from a file.

    ``settings: --customer-col uid (clv.toml [orders]); --margin 0.3 (job.toml [defaults]);
    from the command line: ORDERS, --output; others: built-in defaults``
    """
    taken: dict[str, Setting] = ctx.meta.get(FROM_FILES, {})
    groups: dict[str, list[str]] = {}
    typed: list[str] = []
    others = False
    for param in ctx.command.params:
        if not param.expose_value or param.name is None:
            continue
        source = ctx.get_parameter_source(param.name)
        if source is ParameterSource.DEFAULT_MAP and param.name in taken:
            setting = taken[param.name]
            groups.setdefault(setting.where(), []).append(_setting_text(param, setting.value))
        elif source is ParameterSource.COMMANDLINE:
            typed.append(_flag(param))
        else:
            others = True
    if not groups:
        return None
    parts = [f"{', '.join(texts)} ({where})" for where, texts in groups.items()]
    if typed:
        parts.append(f"from the command line: {', '.join(typed)}")
    if others:
        parts.append("others: built-in defaults")
    return "settings: " + "; ".join(parts)
