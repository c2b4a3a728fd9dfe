"""The report's ``subscriptions`` section: a ``clv churn`` output folder, read and shown.

A summary in plain words per group (observed and projected survival, median lifetime, the
biggest churn driver), the shifted-beta-geometric (sBG) parameters, the survival, retention
and hazard-ratio plots (:mod:`clvmodels.plots.subscriptions`; a PNG missing from the folder
is redrawn from its CSV table), the log-rank tests, the drivers and the typical customer per
group. The sBG curves are Fader & Hardie (2007): :math:`S(t) = B(\\alpha, \\beta + t) /
B(\\alpha, \\beta)` and :math:`r_t = (\\beta + t - 1) / (\\alpha + \\beta + t - 1)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clvmodels.errors import DataError
from clvmodels.plots.subscriptions import (
    SUBSCRIPTION_PLOTS,
    group_label,
    plot_hazard_ratios,
    plot_retention,
    plot_survival,
)
from clvmodels.report.folders import read_json_object, read_png
from clvmodels.report.html import (
    Section,
    bullets,
    caption,
    frame_table,
    img,
    img_bytes,
    key_values,
    num,
)
from clvmodels.report.inputs import Source
from clvmodels.subscriptions.churn import RETENTION_COLUMNS

SUBSCRIPTIONS_ID = "subscriptions"
SUBSCRIPTIONS_TITLE = "Subscriptions: survival, retention and churn drivers"
#: The files of a ``clv churn`` output folder this section reads.
CHURN_FILES = {
    "sbg_params": "sbg_params.csv",
    "retention": "retention.csv",
    "logrank": "logrank.csv",
    "drivers": "drivers.csv",
    "profile": "profile.csv",
    "summary": "summary.json",
}
#: The columns each table must have besides the group columns: (numbers, text).
_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sbg_params": (
        (
            "alpha",
            "alpha_low",
            "alpha_high",
            "beta",
            "beta_low",
            "beta_high",
            "customers",
            "churned",
            "log_likelihood",
        ),
        ("method",),
    ),
    "retention": (RETENTION_COLUMNS, ()),
    "logrank": (("statistic", "df", "p_value"), ("test", "group_a", "group_b")),
    "drivers": (
        ("hazard_ratio", "hr_low", "hr_high", "p_value", "coefficient", "customers"),
        ("source", "covariate"),
    ),
    "profile": (
        ("customers", "churned_share", "median_tenure_periods", "mean_users"),
        (),
    ),
}
_GROUPED = ("sbg_params", "retention", "profile")
_NOT_A_CHURN_FOLDER = "Pass the output folder of `clv churn SUBS -o DIR`"


@dataclass(frozen=True)
class ChurnOutputs:
    """What :func:`read_churn` found in a ``clv churn`` output folder.

    Attributes
    ----------
    path : pathlib.Path
        The folder.
    group_cols : list of str
        The ``--by`` columns (``["group"]`` without ``--by``).
    tables : dict of str to DataFrame
        ``sbg_params``, ``retention``, ``logrank``, ``drivers`` and ``profile``.
    summary : dict
        ``summary.json``.
    images : dict of str to bytes
        The PNGs of :data:`clvmodels.plots.subscriptions.SUBSCRIPTION_PLOTS` that are there.
    """

    path: Path
    group_cols: list[str]
    tables: dict[str, pd.DataFrame]
    summary: dict[str, Any]
    images: dict[str, bytes] = field(default_factory=dict)

    @property
    def billing_period(self) -> str | None:
        """``billing_period`` of ``summary.json`` (top level or in ``settings``), if known."""
        settings = self.summary.get("settings")
        inner = settings.get("billing_period") if isinstance(settings, dict) else None
        value = self.summary.get("billing_period", inner)
        return str(value) if value is not None else None


def read_churn(path: Source) -> ChurnOutputs:
    """Read the tables, summary and plots ``clv churn SUBS -o DIR`` wrote.

    The group columns are the columns of ``sbg_params.csv`` before the known ones; they are
    read as text (ids as written). PNGs are optional (the section redraws them).

    Raises
    ------
    DataError
        When ``path`` is not a folder, or a file is missing, unreadable, lacks a column or
        holds a value that is not a number (or a survival outside [0, 1]); the message
        names the file.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"churn folder not found: {folder}", hint=_NOT_A_CHURN_FOLDER)
    for name in CHURN_FILES.values():
        if not (folder / name).is_file():
            raise DataError(f"{folder / name} is missing", hint=_NOT_A_CHURN_FOLDER)
    group_cols = _group_columns(folder / CHURN_FILES["sbg_params"])
    tables = {
        name: _read_table(folder / CHURN_FILES[name], name, group_cols if name in _GROUPED else [])
        for name in _COLUMNS
    }
    _check_values(folder, tables)
    images = {}
    for name, file_name in SUBSCRIPTION_PLOTS.items():
        data = read_png(folder / file_name, hint=_NOT_A_CHURN_FOLDER)
        if data is not None:
            images[name] = data
    summary = read_json_object(folder / CHURN_FILES["summary"])
    return ChurnOutputs(folder, group_cols, tables, summary, images)


def _group_columns(path: Path) -> list[str]:
    try:
        header = [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV table") from exc
    numbers, text = _COLUMNS["sbg_params"]
    known = set(numbers) | set(text)
    groups = [c for c in header if c not in known]
    if not groups:
        raise DataError(f"{path} has no group column (the --by columns, or 'group')")
    return groups


def _read_table(path: Path, name: str, group_cols: list[str]) -> pd.DataFrame:
    """A CSV table with its columns checked; group and text columns as text, numbers as float."""
    numbers, text = _COLUMNS[name]
    try:
        header = [str(c) for c in pd.read_csv(path, nrows=0).columns]
        missing_cols = [c for c in (*group_cols, *numbers, *text) if c not in header]
        if missing_cols:
            raise DataError(f"{path} has no column '{missing_cols[0]}'", column=missing_cols[0])
        shares = [c for c in header if c.startswith("share_")] if name == "profile" else []
        frame = pd.read_csv(path, dtype={c: str for c in (*group_cols, *text)})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable CSV table") from exc
    for column in (*numbers, *shares, *(["revenue_per_customer"] if name == "profile" else [])):
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column].notna() & values.isna()
        if bad.any():
            raise DataError(
                f"{path}: not a number",
                column=column,
                n_rows=int(bad.sum()),
                examples=frame.loc[bad, column].head(3).tolist(),
            )
        frame[column] = values.astype("float64")
    return frame


def _check_values(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    retention = tables["retention"]
    for column in ("observed_survival", "predicted_survival", "predicted_retention"):
        values = retention[column]
        bad = values.notna() & ~values.between(0.0, 1.0)
        if bad.any():
            raise DataError(
                f"{folder / CHURN_FILES['retention']}: a share must be within [0, 1]",
                column=column,
                n_rows=int(bad.sum()),
                examples=values.loc[bad].head(3).tolist(),
            )
    drivers = tables["drivers"]
    unknown = ~drivers["source"].isin(["cox", "sbg"])
    if unknown.any():
        raise DataError(
            f"{folder / CHURN_FILES['drivers']}: source must be 'cox' or 'sbg'",
            column="source",
            n_rows=int(unknown.sum()),
            examples=drivers.loc[unknown, "source"].head(3).tolist(),
        )


def subscriptions_section(churn: ChurnOutputs) -> Section:
    """The section: summary, settings, sBG parameters, plots, log-rank, drivers, profile."""
    tables = churn.tables
    parts = [
        "<h3>In short</h3>",
        bullets(summary_sentences(churn)),
        key_values(_settings_rows(churn.summary)),
        "<h3>sBG parameters per group</h3>",
        caption(_interval_note(tables["sbg_params"])),
        frame_table(tables["sbg_params"]),
        "<div class='grid'>" + "".join(_images(churn)) + "</div>",
        "<h3>Log-rank tests of equal survival</h3>",
        frame_table(_with_text_p(tables["logrank"]))
        if len(tables["logrank"])
        else caption("One group: nothing to compare."),
        "<h3>Churn drivers: hazard ratios</h3>",
        caption(
            "Cox proportional hazards (94% interval, p-value) and, beside it, the sBG with "
            "dropout covariates as the model-based estimate. A hazard ratio above 1 means "
            "sooner churn."
        ),
        frame_table(_with_text_p(tables["drivers"]))
        if len(tables["drivers"])
        else caption("No covariates were given to `clv churn`."),
        "<h3>The typical customer per group</h3>",
        frame_table(tables["profile"]),
    ]
    return Section(SUBSCRIPTIONS_ID, SUBSCRIPTIONS_TITLE, "".join(p for p in parts if p))


def summary_sentences(churn: ChurnOutputs) -> list[str]:
    """One sentence per group, then the log-rank test and the biggest driver, when there."""
    cols = churn.group_cols
    retention = churn.tables["retention"]
    profile = churn.tables["profile"]
    sentences = []
    for row in churn.tables["sbg_params"].to_dict("records"):
        key = tuple(str(row[c]) for c in cols)
        rows = _rows_of(retention, cols, key).sort_values("period")
        tenure = _rows_of(profile, cols, key)["median_tenure_periods"]
        median = float(tenure.iloc[0]) if len(tenure) else math.nan
        sentences.append(
            _group_sentence(group_label(key, cols), row, rows, median, churn.billing_period)
        )
    overall = churn.tables["logrank"].loc[lambda t: t["test"] == "overall"]
    if len(overall):
        test = overall.iloc[0]
        sentences.append(
            f"Log-rank test of equal survival across the groups: chi-square "
            f"{num(test['statistic'], '.1f')} on {num(test['df'], 'g')} df, "
            f"p = {num(test['p_value'], '.2g')}."
        )
    sentences.append(_driver_sentence(churn.tables["drivers"]))
    return sentences


def _rows_of(table: pd.DataFrame, cols: list[str], key: tuple[str, ...]) -> pd.DataFrame:
    """The rows of ``table`` whose group columns hold ``key``."""
    match = np.logical_and.reduce(
        [table[c].astype(str).to_numpy() == v for c, v in zip(cols, key, strict=True)]
    )
    return table.loc[match]


def _periods(n: float, billing_period: str | None) -> str:
    unit = billing_period if billing_period in ("month", "year") else "period"
    return f"{num(n, 'g')} {unit}{'' if n == 1 else 's'}"


def _group_sentence(
    label: str,
    params: dict[str, Any],
    rows: pd.DataFrame,
    median_tenure: float,
    period: str | None,
) -> str:
    """``label``: customers, churned; observed vs sBG survival; projection; median lifetime."""
    customers, churned = num(params["customers"], ",.0f"), num(params["churned"], ",.0f")
    text = f"{label}: {customers} customers, {churned} churned"
    seen = rows.loc[rows["observed_survival"].notna() & (rows["period"] > 0)]
    if len(seen):
        last = seen.iloc[-1]
        text += (
            f"; survival after {_periods(last['period'], period)} "
            f"{last['observed_survival']:.0%} observed, {last['predicted_survival']:.0%} sBG"
        )
    if len(rows):
        end = rows.iloc[-1]
        text += (
            f"; the sBG projects {end['predicted_survival']:.0%} after "
            f"{_periods(end['period'], period)}"
        )
        half = rows.loc[rows["predicted_survival"] <= 0.5, "period"]
        text += (
            f"; half have churned by {_periods(half.iloc[0], period)} (sBG)"
            if len(half)
            else f"; more than half remain after {_periods(end['period'], period)} (sBG)"
        )
    if math.isfinite(median_tenure):
        text += f"; median tenure {_periods(median_tenure, period)}"
    return text + "."


def _driver_sentence(drivers: pd.DataFrame) -> str:
    """The Cox covariate with the largest |log hazard ratio|, and the sBG estimate beside it."""
    cox = drivers.loc[(drivers["source"] == "cox") & (drivers["hazard_ratio"] > 0)]
    if not len(cox):
        return "No churn drivers were estimated (no covariates were given to `clv churn`)."
    best = cox.loc[np.abs(np.log(cox["hazard_ratio"])).idxmax()]
    text = (
        f"Biggest driver (Cox): {best['covariate']}, hazard ratio "
        f"{num(best['hazard_ratio'], '.2f')} (94% {num(best['hr_low'], '.2f')}"
        f"–{num(best['hr_high'], '.2f')}, p = {num(best['p_value'], '.2g')})"
    )
    sbg = drivers.loc[(drivers["source"] == "sbg") & (drivers["covariate"] == best["covariate"])]
    if len(sbg) and math.isfinite(float(sbg["hazard_ratio"].iloc[0])):
        text += f"; the sBG's model-based estimate is {num(sbg['hazard_ratio'].iloc[0], '.2f')}"
    return text + "."


def _interval_note(params: pd.DataFrame) -> str:
    methods = sorted({str(m).lower() for m in params["method"].dropna()})
    empty = params[["alpha_low", "alpha_high", "beta_low", "beta_high"]].isna().all().all()
    if empty:
        return (
            f"Fit: {', '.join(methods) or 'unknown'}. A MAP fit is a point estimate, so the "
            "94% intervals of alpha and beta are empty."
        )
    return f"Fit: {', '.join(methods)}. alpha and beta are posterior means with 94% intervals."


def _with_text_p(frame: pd.DataFrame) -> pd.DataFrame:
    """``p_value`` as text in two significant digits (a fixed format would print 0.000)."""
    shown = frame.copy()
    shown["p_value"] = [
        "" if not math.isfinite(p) else num(p, ".2g") for p in frame["p_value"].astype(float)
    ]
    return shown


def _settings_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The scalar and list entries of ``summary.json`` and of its ``settings``."""
    settings = summary.get("settings")
    items = [*(settings.items() if isinstance(settings, dict) else ()), *summary.items()]
    rows = []
    for key, value in items:
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            rows.append((key.replace("_", " "), ", ".join(str(v) for v in value)))
        elif isinstance(value, str | int | float | bool) or value is None:
            shown = num(value, ".4g") if _is_number(value) else str(value)
            rows.append((key.replace("_", " "), shown))
    return rows


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _images(churn: ChurnOutputs) -> list[str]:
    """The folder's PNGs, redrawn from the tables where one is missing."""
    alts = {
        "survival": "survival by group: Kaplan-Meier and sBG projection",
        "retention": "sBG retention rate by tenure",
        "hazard_ratios": "hazard ratios of churn drivers",
    }
    shown = []
    for name, alt in alts.items():
        if name in churn.images:
            shown.append(img_bytes(churn.images[name], alt))
        elif name != "hazard_ratios" or len(churn.tables["drivers"]):
            shown.append(img(_redraw(name, churn), alt))
    return shown


def _redraw(name: str, churn: ChurnOutputs) -> Axes:
    retention = churn.tables["retention"]
    if name == "survival":
        return plot_survival(retention, churn.group_cols, billing_period=churn.billing_period)
    if name == "retention":
        return plot_retention(retention, churn.group_cols, billing_period=churn.billing_period)
    return plot_hazard_ratios(churn.tables["drivers"])
