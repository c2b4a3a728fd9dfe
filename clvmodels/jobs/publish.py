"""Publish the whole job: orders -> fit, score, segment, cohorts (payback, budget) -> tables.

:func:`publish` is what ``clv publish`` (and ``clv run``) does: it reads and validates the
orders once, fits the models (or loads a model folder), scores and segments the customers,
builds the cohort table and, given visits and costs, the payback and budget tables, and
writes the presentation tables and views of :mod:`clvmodels.jobs.presentation` in one go:
into a database in ONE transaction (:func:`clvmodels.data.database_write.write_database`),
or into a folder as one Parquet file per table and per view, every file swapped into place
only once all are written. A run that fails, before or while writing, leaves the previous
tables, views and ``runs`` as they were.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.database_url import (
    DatabaseURL,
    TableName,
    is_database_url,
    parse_database_url,
    shown_source,
)
from clvmodels.data.frame_sql import run_selects
from clvmodels.data.io import ORDER_COLUMNS, atomic_path, orders_frame, read_table
from clvmodels.data.paths import output_problem
from clvmodels.errors import DataError
from clvmodels.jobs.fit import FitSettings, fit_model
from clvmodels.jobs.presentation import (
    BASE_VIEWS,
    DIMENSION_VIEWS,
    check_dimension,
    customers_table,
    favourite_select,
    orders_table,
    plain,
    runs_row,
    view_selects,
)
from clvmodels.jobs.score import refuse_rfm_table
from clvmodels.marketing.budget import budget_recommendation
from clvmodels.marketing.payback import payback_analysis
from clvmodels.model import CLVModel
from clvmodels.persistence import load_model
from clvmodels.segments.assign import segment_customers, segment_summary
from clvmodels.segments.rules_file import default_rules
from clvmodels.segments.scores import has_clv
from clvmodels.selection import comparison_lines
from clvmodels.summaries.calendar import check_period
from clvmodels.summaries.cohorts import cohort_table
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import check_time_unit

Echo = Callable[[str], None]
#: Posterior draws for the intervals of the scores, payback and budget (as clv score).
N_DRAWS = 200


@dataclass
class PublishSettings:
    """The settings of a publish (defaults as the single commands have them)."""

    schema: str = "clv"
    time_unit: str = "W"
    margin: float = 1.0
    annual_discount_rate: float = 0.1
    horizon: str = "12M"
    model_type: str = "auto"  # bgnbd | pareto | mbgnbd | auto (as clv fit --model)
    method: str = "map"
    dimension_col: str | None = None
    period: str = "month"


@dataclass
class PublishResult:
    """What :func:`publish` wrote: shown names in order, rows of each, and the target.

    ``kinds`` says ``table``, ``append`` or ``view`` per name; ``rows`` holds each table's
    and view's number of rows (a view's as computed with the same SQL in DuckDB).
    """

    written: list[str]
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    model_source: str = ""
    #: :meth:`CLVModel.describe` of the model used: parameters and convergence.
    model_description: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Presentation:
    """The tables, the appended ``runs`` row and the views' SELECTs of one publish."""

    tables: dict[str, pd.DataFrame]
    runs: pd.DataFrame
    views: dict[str, str]


def publish(
    orders: OrdersSource,
    to: str | Path,
    *,
    settings: PublishSettings,
    model_dir: str | Path | None = None,
    visits: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    echo: Echo = lambda _: None,
) -> PublishResult:
    """Run the whole job on ``orders`` and publish its tables and views to ``to``.

    Parameters
    ----------
    orders : OrdersSource
        The orders and how to read them; ``settings.dimension_col`` is read along.
    to : str or path
        A database URL (``postgresql://``, ``duckdb://``, ``sqlite://``; the tables go into
        ``settings.schema``, a table-name prefix on SQLite) or a folder.
    settings : PublishSettings
    model_dir : path, optional
        A fitted model folder (``clv fit``) to score with instead of fitting.
    visits, costs : pandas.DataFrame, optional
        Validated visits and costs (:mod:`clvmodels.data.marketing`); together they add
        the ``payback`` and ``budget`` tables.
    echo : callable
        Called with each progress line.

    Raises
    ------
    DataError
        For bad orders, settings, visits or costs (before anything is written), and when
        writing fails (nothing written, the previous tables and views kept).
    """
    target = parse_database_url(str(to), what="--to") if is_database_url(str(to)) else Path(to)
    shown = str(target)
    _check(settings, visits, costs)
    _refuse_inputs(target, orders, model_dir, list(ALL_NAMES), settings)
    dimension = settings.dimension_col
    refuse_rfm_table(orders)
    source = dataclasses.replace(orders, keep_columns=(dimension,)) if dimension else orders
    started = time.perf_counter()
    frame = orders_frame(source)
    core = frame.loc[:, [c for c in ORDER_COLUMNS if c in frame.columns]]
    echo(f"read {len(frame):,} orders [{time.perf_counter() - started:.1f} s]")
    model, model_source = _model(core, settings, model_dir, echo)
    built = _build(frame, core, model, settings, visits, costs, echo)
    record = {
        **dataclasses.asdict(settings),
        "orders": _shown_path(orders),
        "table": orders.table,
        "query": orders.query,
        "model_dir": str(model_dir) if model_dir is not None else None,
        "model_type_used": model.transaction_model,
        "time_unit_used": model.time_unit,
        "payback": visits is not None,
    }
    presentation = _Presentation(
        tables=built.tables,
        runs=runs_row(
            fingerprint=built.fingerprint,
            settings=record,
            target=shown,
            n_orders=len(frame),
            n_customers=len(built.tables["customers"]),
        ),
        views=built.views,
    )
    started = time.perf_counter()
    if isinstance(target, DatabaseURL):
        result = _write_database(target, presentation, settings.schema)
    else:
        result = _write_folder(target, presentation)
    result.model_source = model_source
    result.model_description = model.describe()
    echo(f"wrote {len(result.written)} tables and views [{time.perf_counter() - started:.1f} s]")
    return result


def _check(
    settings: PublishSettings, visits: pd.DataFrame | None, costs: pd.DataFrame | None
) -> None:
    """Refuse bad settings before the orders are read."""
    check_time_unit(settings.time_unit)
    check_period(settings.period)
    if settings.dimension_col is not None:
        check_dimension(settings.dimension_col)
    if (visits is None) != (costs is None):
        raise DataError("visits and costs go together: give both (for payback and budget)")


#: Every table and view a publish may write; those one run does not write are removed, so
#: that no table or view is left showing an earlier run's data.
ALL_NAMES = (
    "orders", "customers", "segment_summary", "cohorts", "payback", "budget", "runs",
    *BASE_VIEWS, *DIMENSION_VIEWS,
)  # fmt: skip


def _refuse_inputs(
    target: DatabaseURL | Path,
    orders: OrdersSource,
    model_dir: str | Path | None,
    names: list[str],
    settings: PublishSettings,
) -> None:
    """Refuse, before any work, a table or file to write that is an input (the orders table)."""
    inputs: list[tuple[str, Any]] = [] if model_dir is None else [("--model", model_dir)]
    if not isinstance(orders.path, pd.DataFrame):
        inputs.append(("ORDERS", orders.path))
    tables = {"ORDERS": orders.table} if orders.table or orders.query else {}
    for name in names:
        if isinstance(target, DatabaseURL):
            output: DatabaseURL | Path = target.with_table(TableName(name, settings.schema or None))
        else:
            output = target / f"{name}.parquet"
        problem = output_problem(output, inputs, tables=tables)
        if problem is not None:
            raise DataError(
                f"--to {target}: the {name} it writes {problem}; nothing was written",
                hint="Publish into another schema (--schema) or folder",
            )


def _shown_path(orders: OrdersSource) -> str | None:
    if isinstance(orders.path, pd.DataFrame):
        return None
    return shown_source(orders.path)


def _model(
    core: pd.DataFrame, settings: PublishSettings, model_dir: str | Path | None, echo: Echo
) -> tuple[CLVModel, str]:
    """The fitted model: loaded from ``model_dir`` (checked usable), or fitted on ``core``."""
    if model_dir is not None:
        model = load_model(model_dir)
        model.check_usable()
        note = ""
        if model.time_unit != settings.time_unit:
            note = f" (its time unit {model.time_unit} is used, not {settings.time_unit})"
        echo(f"model: {model_dir}{note}")
        return model, f"loaded from {model_dir}"
    started = time.perf_counter()
    fit = FitSettings(
        time_unit=settings.time_unit,  # type: ignore[arg-type]
        transaction_model=settings.model_type,  # type: ignore[arg-type]
        method=settings.method,  # type: ignore[arg-type]
    )
    rfm = rfm_summary(core, time_unit=settings.time_unit)
    model, comparison = fit_model(core, rfm, fit, echo=echo)
    if comparison is not None:
        for line in comparison_lines(comparison):
            echo(line)
    echo(
        f"fit {model.transaction_model} ({settings.method}) on {len(rfm):,} customers "
        f"[{time.perf_counter() - started:.1f} s]"
    )
    if not model.converged_:
        echo("WARNING: a fit did not converge")
    chosen = " chosen by --model-type auto" if comparison is not None else ""
    return model, f"fitted ({model.transaction_model}{chosen}, {settings.method})"


@dataclass
class _Built:
    tables: dict[str, pd.DataFrame]
    views: dict[str, str]
    fingerprint: str


def _build(
    frame: pd.DataFrame,
    core: pd.DataFrame,
    model: CLVModel,
    settings: PublishSettings,
    visits: pd.DataFrame | None,
    costs: pd.DataFrame | None,
    echo: Echo,
) -> _Built:
    """Score, segment, cohorts, payback and budget: every table, and the views' SQL."""
    started = time.perf_counter()
    rfm = rfm_summary(core, time_unit=model.time_unit, with_fingerprint=True)
    scores = model.score(
        rfm,
        horizon=settings.horizon,
        annual_discount_rate=settings.annual_discount_rate,
        margin=settings.margin,
        n_draws=N_DRAWS,
    )
    clv = has_clv(scores)
    rules = default_rules(clv=clv)
    segmented = segment_customers(scores, rules=rules)
    dimension = settings.dimension_col
    tables: dict[str, pd.DataFrame] = {}
    favourite = None
    if dimension is not None:
        tables["orders"] = orders_table(frame, dimension)
        favourite = run_selects(
            {"orders": tables["orders"]}, {"favourite": favourite_select(dimension)}
        )["favourite"]
    tables["customers"] = customers_table(segmented, favourite, dimension)
    tables["segment_summary"] = plain(segment_summary(segmented, rules=rules))
    tables["cohorts"] = plain(
        cohort_table(core, period=check_period(settings.period), margin=settings.margin)
    )
    echo(
        f"scored and segmented {len(scores):,} customers; "
        f"{tables['cohorts']['cohort'].nunique():,} cohorts [{time.perf_counter() - started:.1f} s]"
    )
    if visits is not None and costs is not None:
        tables.update(_payback_tables(core, model, settings, visits, costs, echo))
    views = view_selects(value="clv" if clv else "expected_purchases", dimension=dimension)
    return _Built(tables=tables, views=views, fingerprint=str(rfm.attrs["fingerprint"]))


def _payback_tables(
    core: pd.DataFrame,
    model: CLVModel,
    settings: PublishSettings,
    visits: pd.DataFrame,
    costs: pd.DataFrame,
    echo: Echo,
) -> dict[str, pd.DataFrame]:
    """``payback`` (per cohort and source) and ``budget`` (per source)."""
    started = time.perf_counter()
    period = check_period(settings.period)
    result = payback_analysis(
        core, visits, costs, model=model, margin=settings.margin, period=period, n_draws=N_DRAWS
    )
    budget = budget_recommendation(
        model,
        result.cells,
        result.buyers,
        annual_discount_rate=settings.annual_discount_rate,
        margin=settings.margin,
        period=period,
        n_draws=N_DRAWS,
    )
    echo(
        f"payback of {len(result.buyers):,} buyers, budget of {len(budget):,} sources "
        f"[{time.perf_counter() - started:.1f} s]"
    )
    return {"payback": plain(result.cells), "budget": plain(budget)}


def _write_database(url: DatabaseURL, presentation: _Presentation, schema: str) -> PublishResult:
    """Every table, the ``runs`` row and the views in one transaction of the writer."""
    from clvmodels.data.database_write import Append, Drop, Replace, View, write_database

    rows = _view_rows(presentation)  # the views' SQL is checked before the database is touched
    items: dict[str, Replace | Append | View | Drop] = {
        name: Replace(frame) for name, frame in presentation.tables.items()
    }
    items["runs"] = Append(presentation.runs)
    items.update({name: View(select) for name, select in presentation.views.items()})
    items.update({name: Drop() for name in ALL_NAMES if name not in items})  # last: see zip
    written = write_database(url, items, schema=schema or None, marker="runs")
    return PublishResult(
        written=list(written),
        target=str(url),
        rows={shown: rows[name] for shown, name in zip(written, items, strict=False)},
        kinds=_kinds(written, items),
    )


def _kinds(written: list[str], items: Mapping[str, Any]) -> dict[str, str]:
    from clvmodels.data.database_write import Append, View

    kinds = {}
    for shown, item in zip(written, items.values(), strict=False):
        kinds[shown] = (
            "view" if isinstance(item, View) else "append" if isinstance(item, Append) else "table"
        )
    return kinds


def _view_rows(presentation: _Presentation) -> dict[str, int]:
    rows = {name: len(frame) for name, frame in presentation.tables.items()}
    rows["runs"] = len(presentation.runs)
    views = run_selects(presentation.tables, presentation.views)
    rows.update({name: len(frame) for name, frame in views.items()})
    return rows


def _write_folder(folder: Path, presentation: _Presentation) -> PublishResult:
    """One Parquet file per table and view; all are swapped into place once all are written."""
    if folder.exists() and not folder.is_dir():
        raise DataError(f"--to {folder} is a file, not a folder (or a database URL)")
    runs_file = folder / "runs.parquet"
    runs = presentation.runs
    ours = [folder / f"{name}.parquet" for name in ALL_NAMES]
    if not runs_file.exists() and any(path.exists() for path in ours):
        taken = ", ".join(path.name for path in ours if path.exists())
        raise DataError(
            f"--to {folder} holds {taken} but no runs.parquet: those files were not written by "
            "clv publish, so nothing was changed",
            hint="Publish into another (or a new) folder",
        )
    if runs_file.exists():
        previous = read_table(runs_file)
        if list(previous.columns) != list(runs.columns):
            raise DataError(
                f"{runs_file} has the columns {', '.join(map(str, previous.columns))}, not "
                f"those of runs ({', '.join(runs.columns)}); nothing was written"
            )
        runs = pd.concat([previous, runs], ignore_index=True)
    views = run_selects(presentation.tables, presentation.views)
    frames = {**presentation.tables, "runs": runs, **views}
    kinds = {name: "table" for name in presentation.tables}
    kinds |= {"runs": "append"} | {name: "view" for name in views}
    with contextlib.ExitStack() as stack:  # each file is renamed into place on a clean exit
        for name, frame in frames.items():
            tmp = stack.enter_context(atomic_path(folder / f"{name}.parquet"))
            frame.to_parquet(tmp, index=False)
    for stale in ALL_NAMES:  # an earlier run's table or view that this run does not write
        if stale not in frames:
            (folder / f"{stale}.parquet").unlink(missing_ok=True)
    return PublishResult(
        written=list(frames),
        target=str(folder),
        rows={name: len(frame) for name, frame in frames.items()},
        kinds=kinds,
    )
