"""The report's ``experiment`` section: the output folder of ``clv experiment``.

"Experiment" shows what ``clv experiment -o DIR`` wrote (definitions in
``docs/experiments.md``; nothing is recomputed here): the settings and counts of
``experiment.json`` (control, window, observation end, users analysed and left out), the
sample-ratio-mismatch verdict of ``srm.json`` (a flagged mismatch is a warning at the top of
the section: the assignment is broken and nothing below can be trusted until it is
explained), the groups' table of ``summary.csv``, one table of ``tests.csv`` per metric
(conversion, revenue per user, orders per user and, with a model, clv), the normality checks
of ``checks.json``, the CLV comparison of ``clv.csv`` when the folder has one (with the note on
what uncertainty its intervals include), and the forest plot ``lifts.png``, redrawn from
``tests.csv`` (:func:`clvmodels.experiments.analysis.lift_rows`,
:func:`clvmodels.plots.experiments.plot_lifts`) when the folder has none.

How the numbers are shown (the tests compare the page with these formats of the files'
values): counts ``,.0f``; rates and shares (``conversion_rate``, ``relative_lift``, planned
shares, ``prob_beats_control``) ``.2%`` (relative lifts signed, ``+.2%``); ``revenue``,
CLVs and their differences ``,.2f``; other means per user ``,.4f``; a test's ``difference``
and its interval ``+.4g`` (an interval as ``[low, high]``); p-values ``.3g``; a value that is
not there (Mann–Whitney has no difference, the bootstrap no p-value) an empty cell.

The file names and columns are :mod:`clvmodels.experiments.outputs`. A folder that is not a
complete ``clv experiment`` output (``experiment.json`` is written last) is refused in one
line naming what is missing or wrong (:class:`clvmodels.errors.DataError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from clvmodels.errors import DataError
from clvmodels.experiments.outputs import (
    CLV_COLUMNS,
    EXPERIMENT_FILES,
    METRICS,
    SUMMARY_COLUMNS,
    TEST_COLUMNS,
)
from clvmodels.plots.experiments import plot_lifts
from clvmodels.report.folders import missing_files, read_csv_table, read_json_object, read_png
from clvmodels.report.html import Section, bullets, caption, count, esc, img, img_bytes, table
from clvmodels.report.inputs import Source

EXPERIMENT_ID = "experiment"
EXPERIMENT_TITLE = "Experiment"
_HINT = "Pass the output folder of `clv experiment --assignments A --orders O -o DIR`"
#: The files the section needs (``lifts.png`` and ``clv.csv`` are optional).
REQUIRED = ("summary", "tests", "srm", "checks", "experiment")
_SRM_KEYS = ("planned", "observed", "chi2", "p_value", "flagged")
_CHECK_KEYS = ("skewness", "kurtosis", "normality_p_value", "note")
_INFO_KEYS = ("settings", "counts", "groups")
_SETTING_KEYS = ("control", "window_days", "observation_end", "confidence_level")
#: Formats of the summary table's columns.
SUMMARY_FORMATS = {
    "users": ",.0f",
    "converters": ",.0f",
    "conversion_rate": ".2%",
    "revenue": ",.2f",
    "revenue_per_user": ",.4f",
    "orders_per_user": ",.4f",
}
#: Formats of the CLV table's columns (the intervals are shown as ``[low, high]``).
CLV_FORMATS = {
    "users": ",.0f",
    "customers": ",.0f",
    "mean_clv": ",.2f",
    "lift": "+,.2f",
    "prob_beats_control": ".2%",
}


@dataclass(frozen=True)
class ExperimentOutputs:
    """What :func:`read_experiment` found in a ``clv experiment`` output folder.

    Attributes
    ----------
    path : pathlib.Path
        The folder.
    summary, tests : pandas.DataFrame
        ``summary.csv`` and ``tests.csv`` (``group`` as text, as written).
    srm, checks, info : dict
        ``srm.json``, ``checks.json`` and ``experiment.json``.
    clv : pandas.DataFrame or None
        ``clv.csv``, when the experiment was run with ``--model``.
    image : bytes or None
        ``lifts.png``, when it is there.
    """

    path: Path
    summary: pd.DataFrame
    tests: pd.DataFrame
    srm: dict[str, Any]
    checks: dict[str, Any]
    info: dict[str, Any]
    clv: pd.DataFrame | None = None
    image: bytes | None = None

    @property
    def control(self) -> str:
        """The control group (``experiment.json``'s ``settings.control``)."""
        return str(self.info["settings"]["control"])


def read_experiment(path: Source) -> ExperimentOutputs:
    """Read and check the files ``clv experiment ... -o DIR`` wrote.

    Raises
    ------
    DataError
        When ``path`` is not a folder; when ``summary.csv``, ``tests.csv``, ``srm.json``,
        ``checks.json`` or ``experiment.json`` is missing (all the missing files are named);
        when a file is unreadable, lacks a column or entry, or holds a value of the wrong
        kind; when the files disagree on the groups (the control and the variants). The
        message names the file.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"experiment folder not found: {folder}", hint=_HINT)
    files = {name: folder / EXPERIMENT_FILES[name] for name in EXPERIMENT_FILES}
    absent = missing_files(folder, [EXPERIMENT_FILES[name] for name in REQUIRED])
    if absent:
        raise DataError(
            f"{folder} is not a `clv experiment` output folder: {', '.join(absent)} missing",
            hint=_HINT,
        )
    summary = read_csv_table(
        files["summary"], text=SUMMARY_COLUMNS[:1], numbers=SUMMARY_COLUMNS[1:], hint=_HINT
    )
    tests = read_csv_table(
        files["tests"], text=TEST_COLUMNS[:3], numbers=TEST_COLUMNS[3:], hint=_HINT
    )
    clv = None
    if files["clv"].is_file():
        clv = read_csv_table(
            files["clv"], text=CLV_COLUMNS[:1], numbers=CLV_COLUMNS[1:], hint=_HINT
        )
    srm = _json(files["srm"], _SRM_KEYS)
    checks = read_json_object(files["checks"], hint=_HINT)
    info = _json(files["experiment"], _INFO_KEYS)
    outputs = ExperimentOutputs(
        folder, summary, tests, srm, checks, info, clv, read_png(files["lifts_plot"], hint=_HINT)
    )
    _check(outputs)
    return outputs


def _json(path: Path, keys: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object with ``keys`` (all the absent ones named)."""
    loaded = read_json_object(path, hint=_HINT)
    absent = [k for k in keys if k not in loaded]
    if absent:
        listed = ", ".join(f"'{k}'" for k in absent)
        raise DataError(f"{path} has no {listed}", hint=_HINT)
    return loaded


def _check(outputs: ExperimentOutputs) -> None:
    """The files agree: one control, the same groups everywhere, entries of the right kind."""
    folder, info = outputs.path, outputs.info
    where = folder / EXPERIMENT_FILES["experiment"]
    settings = info["settings"]
    if not isinstance(settings, dict) or not isinstance(info["counts"], dict):
        raise DataError(f"{where}: 'settings' and 'counts' must be JSON objects", hint=_HINT)
    absent = [k for k in _SETTING_KEYS if k not in settings]
    if absent:
        listed = ", ".join(f"'{k}'" for k in absent)
        raise DataError(f"{where}: 'settings' has no {listed}", hint=_HINT)
    groups = [str(g) for g in info["groups"]]
    if not groups or groups[0] != outputs.control:
        raise DataError(f"{where}: the first of 'groups' must be the control", examples=groups)
    _same_groups(folder / EXPERIMENT_FILES["summary"], outputs.summary["group"], groups)
    variants = set(outputs.tests["group"])
    if not variants <= set(groups[1:]):
        raise DataError(
            f"{folder / EXPERIMENT_FILES['tests']}: groups that are not variants of "
            f"experiment.json ({', '.join(groups[1:])})",
            column="group",
            examples=sorted(variants - set(groups[1:]))[:3],
            hint=_HINT,
        )
    if outputs.clv is not None:
        _same_groups(folder / EXPERIMENT_FILES["clv"], outputs.clv["group"], groups)
    elif (outputs.tests["metric"] == "clv").any():
        raise DataError(
            f"{folder}: tests.csv has clv rows but {EXPERIMENT_FILES['clv']} is missing",
            hint=_HINT,
        )
    srm_path = folder / EXPERIMENT_FILES["srm"]
    srm = outputs.srm
    if not isinstance(srm["observed"], dict) or set(map(str, srm["observed"])) != set(groups):
        raise DataError(f"{srm_path}: 'observed' must name the groups {', '.join(groups)}")
    for key in ("chi2", "p_value"):
        if isinstance(srm[key], bool) or not isinstance(srm[key], int | float):
            raise DataError(f"{srm_path}: '{key}' is not a number", examples=[srm[key]])
    if not isinstance(srm["flagged"], bool):
        raise DataError(f"{srm_path}: 'flagged' is not true or false", examples=[srm["flagged"]])
    _check_checks(folder / EXPERIMENT_FILES["checks"], outputs.checks)


def _same_groups(path: Path, column: pd.Series, groups: list[str]) -> None:
    found = [str(g) for g in column]
    if sorted(found) != sorted(groups):
        raise DataError(
            f"{path}: its groups ({', '.join(found)}) are not those of experiment.json "
            f"({', '.join(groups)})",
            column="group",
            hint=_HINT,
        )


def _check_checks(path: Path, checks: dict[str, Any]) -> None:
    """``checks.json``: metric -> group -> an object with the entries shown."""
    for metric, by_group in checks.items():
        if not isinstance(by_group, dict):
            raise DataError(f"{path}: '{metric}' is not a JSON object", hint=_HINT)
        for group, entry in by_group.items():
            absent = [k for k in _CHECK_KEYS if not isinstance(entry, dict) or k not in entry]
            if absent:
                listed = ", ".join(f"'{k}'" for k in absent)
                raise DataError(f"{path}: '{metric}' '{group}' has no {listed}", hint=_HINT)


def _cell(value: Any, spec: str) -> str:
    """``value`` in ``spec``; empty when missing (None or NaN)."""
    if value is None:
        return ""
    number = float(value)
    return format(number, spec) if math.isfinite(number) else ""


def _interval(low: Any, high: Any, spec: str) -> str:
    if _cell(low, spec) == "" or _cell(high, spec) == "":
        return ""
    return f"[{_cell(low, spec)}, {_cell(high, spec)}]"


def experiment_section(outputs: ExperimentOutputs) -> Section:
    """The section: the warning of a flagged SRM, settings, groups, tests, checks, CLV, plot."""
    s = outputs.info["settings"]
    parts = [f"<h3>clv experiment <small>{esc(outputs.path)}</small></h3>"]
    parts.append(srm_verdict(outputs.srm))
    parts.append(bullets(setting_lines(outputs.info)))
    parts.append("<h3>Groups</h3>")
    parts.append(_summary_table(outputs.summary, outputs.control))
    parts.append(
        caption(
            "users: with a complete window; a converter orders at or after their assignment "
            "within the window; revenue and orders per user count every user (zeros included)."
        )
    )
    parts.extend(_srm_parts(outputs.srm))
    parts.extend(_test_parts(outputs.tests, float(s["confidence_level"])))
    parts.extend(_check_parts(outputs.checks))
    if outputs.clv is not None:
        parts.extend(_clv_parts(outputs.clv, outputs.info))
    parts.append(_plot(outputs))
    return Section(EXPERIMENT_ID, EXPERIMENT_TITLE, "".join(parts))


def srm_verdict(srm: dict[str, Any]) -> str:
    """The SRM verdict as HTML: a loud warning when flagged, a quiet line when not."""
    observed = ", ".join(f"{g} {count(n)}" for g, n in srm["observed"].items())
    stats = f"chi-squared {srm['chi2']:.2f}, p = {srm['p_value']:.3g}"
    threshold = srm.get("threshold", 0.001)
    if srm["flagged"]:
        loud = (
            f"Users assigned per group ({observed}) do not match the planned split "
            f"({stats} < {threshold})."
        )
        return (
            "<p class='note'><span class='flag bad'>SAMPLE RATIO MISMATCH</span> "
            f"<strong>{esc(loud)}</strong> "
            + esc("The assignment is broken: do not trust the results below until it is explained.")
            + "</p>"
        )
    return (
        "<p><span class='flag ok'>sample ratio OK</span> "
        + esc(f"users assigned per group {observed} match the planned split ({stats}).")
        + "</p>"
    )


def setting_lines(info: dict[str, Any]) -> list[str]:
    """The settings and counts of ``experiment.json`` in sentences (defaults said so)."""
    s, c = info["settings"], info["counts"]
    default = " (the default: first in sort order)" if s.get("control_is_default") else ""
    control = f"{s['control']}{default}"
    lines = [
        f"Control: {control}; variants: {', '.join(str(g) for g in info['groups'][1:])}.",
        f"Each user's window: {count(s['window_days'])} days from their own assignment; "
        f"observation end {s['observation_end']}; intervals {float(s['confidence_level']):.0%}"
        + (
            f"; bootstrap {count(s['bootstrap_resamples'])} resamples, seed {s.get('seed')}."
            if "bootstrap_resamples" in s
            else "."
        ),
    ]
    if "users_analysed" in c and "users_assigned" in c:
        lines.append(
            f"{count(c['users_analysed'])} users analysed of {count(c['users_assigned'])} "
            f"assigned; left out: {count(c.get('users_window_past_end'))} whose window passes "
            f"the observation end, {count(c.get('repeated_assignments', 0))} repeated "
            "assignment rows (the first counts)."
        )
    if "orders_by_unassigned" in c:
        lines.append(
            f"Orders not counted: {count(c['orders_by_unassigned'])} by "
            f"{count(c.get('customers_unassigned'))} customers never assigned, and every "
            "order before a user's assignment or after their window."
        )
    return lines


def _summary_table(summary: pd.DataFrame, control: str) -> str:
    header = [c.replace("_", " ") for c in SUMMARY_COLUMNS]
    rows = [
        [str(row["group"]) + (" (control)" if row["group"] == control else "")]
        + [_cell(row[c], SUMMARY_FORMATS[c]) for c in SUMMARY_COLUMNS[1:]]
        for _, row in summary.iterrows()
    ]
    return table(header, rows, numeric=range(1, len(header)))


def _srm_parts(srm: dict[str, Any]) -> list[str]:
    planned, expected = srm["planned"], srm.get("expected", {})
    rows = [
        [
            str(g),
            _cell(planned.get(g), ".2%"),
            _cell(expected.get(g), ",.1f"),
            _cell(n, ",.0f"),
        ]
        for g, n in srm["observed"].items()
    ]
    return [
        "<h3>Sample ratio</h3>",
        table(
            ["group", "planned share", "expected users", "assigned users"], rows, numeric=[1, 2, 3]
        ),
        caption(
            "The users assigned per group (before users whose window passes the observation "
            "end are left out) against the planned split, by the chi-squared goodness-of-fit "
            f"test: flagged when p < {srm.get('threshold', 0.001)}."
        ),
    ]


#: The header of each metric's tests table.
TEST_HEADER = ["group", "test", "difference", "relative lift", "interval", "p", "Holm p"]


def metric_test_rows(tests: pd.DataFrame, metric: str) -> list[list[str]]:
    """The rows of ``metric``'s tests table, as shown (formats in the module docstring)."""
    return [
        [
            str(row.group),
            str(row.test),
            _cell(row.difference, "+.4g"),
            _cell(row.relative_lift, "+.2%"),
            _interval(row.ci_low, row.ci_high, "+.4g"),
            _cell(row.p_value, ".3g"),
            _cell(row.p_value_adjusted, ".3g"),
        ]
        for row in tests[tests["metric"] == metric].itertuples(index=False)
    ]


def _test_parts(tests: pd.DataFrame, level: float) -> list[str]:
    parts = [
        "<h3>Tests against the control</h3>",
        caption(
            f"difference: variant minus control, with its {level:.0%} interval (clv: 94%); "
            "relative lift: the difference over the control's value; chi2: Pearson's "
            "chi-squared without continuity correction and the Wald interval; welch_t: "
            "Welch's t-test; mann_whitney: p-value only; bootstrap: percentile interval of "
            "the difference in means only; posterior: the model's draws with the sampling "
            "uncertainty of the group means, no p-value. Holm p: Holm's correction over the "
            "variants within each metric and test."
        ),
    ]
    known = [m for m in METRICS if m in set(tests["metric"])]
    others = [m for m in dict.fromkeys(tests["metric"]) if m not in METRICS]
    for metric in [*known, *others]:
        parts.append(f"<h3>{esc(METRICS.get(metric, metric))} <small>{esc(metric)}</small></h3>")
        parts.append(table(TEST_HEADER, metric_test_rows(tests, metric), numeric=range(2, 7)))
    return parts


def _check_parts(checks: dict[str, Any]) -> list[str]:
    header = ["metric", "group", "users", "skewness", "excess kurtosis", "normality p", "note"]
    rows = [
        [
            str(metric),
            str(group),
            _cell(entry.get("n"), ",.0f"),
            _cell(entry["skewness"], ".2f"),
            _cell(entry["kurtosis"], ".2f"),
            _cell(entry["normality_p_value"], ".3g"),
            str(entry["note"]),
        ]
        for metric, by_group in checks.items()
        for group, entry in by_group.items()
    ]
    return [
        "<h3>Can the t-test's normal approximation be trusted?</h3>",
        table(header, rows, numeric=range(2, 6)),
        caption(
            "Skewness and excess kurtosis of the values per user; normality p: "
            "D'Agostino-Pearson (from 20 users). What the t-test needs is a mean close to "
            "normal: by the central limit theorem when n > 28 + 25 x skewness^2."
        ),
    ]


def _clv_parts(clv: pd.DataFrame, info: dict[str, Any]) -> list[str]:
    header = [
        "group",
        "users",
        "customers",
        "mean CLV",
        "94% interval",
        "lift",
        "94% interval",
        "P(beats control)",
    ]
    rows = [
        [
            str(row.group),
            _cell(row.users, CLV_FORMATS["users"]),
            _cell(row.customers, CLV_FORMATS["customers"]),
            _cell(row.mean_clv, CLV_FORMATS["mean_clv"]),
            _interval(row.ci_low, row.ci_high, ",.2f"),
            _cell(row.lift, CLV_FORMATS["lift"]),
            _interval(row.lift_low, row.lift_high, "+,.2f"),
            _cell(row.prob_beats_control, CLV_FORMATS["prob_beats_control"]),
        ]
        for row in clv.itertuples(index=False)
    ]
    s = info["settings"]
    used = [
        f"{name} {s[key]}"
        for name, key in (
            ("horizon", "horizon"),
            ("margin", "margin"),
            ("annual discount rate", "annual_discount_rate"),
            ("posterior draws", "clv_draws"),
        )
        if key in s
    ]
    note = info.get("clv_note")
    return [
        "<h3>Predicted CLV after the window <small>clv</small></h3>",
        table(header, rows, numeric=range(1, 8)),
        caption(
            "Each user's predicted CLV from the fitted model given their orders up to the end "
            "of their window (users who never ordered count as 0); lift: the difference of "
            "mean CLV against the control." + (f" Settings: {', '.join(used)}." if used else "")
        ),
        caption(f"Uncertainty: {note}")
        if note
        else caption("experiment.json has no note on what uncertainty the intervals include."),
    ]


def _plot(outputs: ExperimentOutputs) -> str:
    """The folder's forest plot, or the plot redrawn from ``tests.csv`` when it has none."""
    alt = "forest plot: each variant's lift over the control per metric, with its interval"
    if outputs.image is not None:
        return "<h3>Lifts</h3>" + img_bytes(outputs.image, alt)
    from clvmodels.experiments.analysis import lift_rows

    lifts = lift_rows(outputs.tests, outputs.summary, outputs.control, clv=outputs.clv)
    if lifts.empty:
        return ""
    level = float(outputs.info["settings"]["confidence_level"])
    return (
        "<h3>Lifts</h3>"
        + img(plot_lifts(lifts, level=level), alt)
        + caption("Redrawn from tests.csv (the folder has no lifts.png).")
    )
