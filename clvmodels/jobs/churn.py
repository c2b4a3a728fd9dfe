"""``clv churn``: read a subscriptions table (and companies, activities, people), analyse, write.

:func:`churn_files` names every file ``clv churn -o OUT_DIR`` writes (the CLI checks them
against the inputs before any work); :func:`run_churn` reads the inputs, runs
:func:`clvmodels.subscriptions.churn.analyse_churn` (nothing is written until it has
finished), then writes the plots, the tables and last ``summary.json``, each file atomically.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clvmodels.data.io import read_table, write_json, write_table
from clvmodels.data.subscriptions import read_subscriptions
from clvmodels.errors import DataError
from clvmodels.subscriptions.churn import ChurnResult, analyse_churn
from clvmodels.subscriptions.settings import ChurnSettings

#: The per-customer table, besides the files the report reads (CHURN_FILES).
CUSTOMERS_FILE = "customers.parquet"


@dataclass(frozen=True)
class ChurnInputs:
    """The files ``clv churn`` reads: SUBS, and optionally companies, activities, people."""

    subscriptions: str | os.PathLike[str]
    companies: str | os.PathLike[str] | None = None
    activities: str | os.PathLike[str] | None = None
    people: str | os.PathLike[str] | None = None


@dataclass
class ChurnOutcome:
    """What :func:`run_churn` did: the result, the files written, the seconds each step took."""

    result: ChurnResult
    files: dict[str, Path]
    seconds: dict[str, float]


def churn_files(out_dir: str | os.PathLike[str], *, plots: bool = True) -> dict[str, Path]:
    """Every file ``clv churn -o out_dir`` writes, by name.

    The tables and summary the report reads (:data:`clvmodels.report.subscriptions.CHURN_FILES`),
    ``customers.parquet``, and the plots (:data:`clvmodels.plots.subscriptions.SUBSCRIPTION_PLOTS`;
    the hazard-ratio plot only when there are drivers).
    """
    from clvmodels.plots.subscriptions import SUBSCRIPTION_PLOTS
    from clvmodels.report.subscriptions import CHURN_FILES

    folder = Path(out_dir)
    files = {name: folder / file_name for name, file_name in CHURN_FILES.items()}
    files["customers"] = folder / CUSTOMERS_FILE
    if plots:
        files.update(
            {f"{name}_plot": folder / file_name for name, file_name in SUBSCRIPTION_PLOTS.items()}
        )
    return files


def run_churn(
    inputs: ChurnInputs,
    out_dir: str | os.PathLike[str],
    settings: ChurnSettings | None = None,
    *,
    plots: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ChurnOutcome:
    """Read the inputs, analyse churn and write :func:`churn_files` into ``out_dir``."""
    settings = settings or ChurnSettings()
    seconds: dict[str, float] = {}
    clock = _Clock(seconds, progress)
    clock("read")
    subs = read_subscriptions(inputs.subscriptions)
    companies = _optional(inputs.companies, "--companies")
    activities = _optional(inputs.activities, "--activity")
    people = _optional(inputs.people, "--people")
    result = analyse_churn(
        subs, settings, companies=companies, activities=activities, people=people, progress=clock
    )
    files = churn_files(out_dir, plots=plots)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tables = {
        "sbg_params": result.params,
        "retention": result.retention,
        "customers": result.customers,
        "logrank": result.logrank,
        "drivers": result.drivers,
        "profile": result.profile,
    }
    if plots:
        from clvmodels.plots.subscriptions import save_subscription_plots

        clock("plots")
        save_subscription_plots(
            result.retention,
            result.drivers,
            list(result.group_cols),
            out_dir,
            billing_period=result.summary.get("billing_period"),
        )
    clock("write")
    for name, table in tables.items():
        write_table(table, files[name])
    clock(None)
    summary = {**result.summary, "seconds": seconds, "files": {k: str(v) for k, v in files.items()}}
    write_json(summary, files["summary"])
    result.summary = summary
    return ChurnOutcome(result=result, files=files, seconds=seconds)


def _optional(path: str | os.PathLike[str] | None, flag: str) -> Any:
    if path is None:
        return None
    try:
        return read_table(path)
    except DataError as exc:
        raise DataError(f"{flag} {exc}") from exc


class _Clock:
    """Times the steps: each call ends the running step and starts the next (None: stop)."""

    def __init__(self, seconds: dict[str, float], progress: Callable[[str], None] | None):
        self.seconds = seconds
        self.progress = progress
        self.step: str | None = None
        self.started = time.perf_counter()

    def __call__(self, step: str | None) -> None:
        now = time.perf_counter()
        if self.step is not None:
            self.seconds[self.step] = round(now - self.started, 3)
        self.step, self.started = step, now
        if step is not None and self.progress is not None:
            self.progress(step)
