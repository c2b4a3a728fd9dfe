"""The report's ``analytics`` section: the ``clv engagement`` and ``clv conversion`` folders.

"Engagement and conversion" shows, for either folder or both, what the commands wrote: the
headline numbers of ``summary.json`` (DAU, WAU, MAU, stickiness, session length median and
mode; visitors, buyers, conversion rate, the shares converted by day 0, 1, 7 and 30, the
median conversion day, buyers without a visit), the tables by device and by source, the data
problems counted (``data_problems``) and the plots: the folder's PNGs, each redrawn from its
CSV table (:mod:`clvmodels.plots.analytics`, :mod:`clvmodels.plots.conversion`) when the
folder has none (``--no-plots``). The definitions are those of
:mod:`clvmodels.analytics.engagement` and :mod:`clvmodels.analytics.conversion`; nothing is
recomputed here. The file names are :mod:`clvmodels.analytics.outputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from matplotlib.axes import Axes

from clvmodels.analytics.conversion import BUYERS_COLUMNS, GROUP_COLUMNS, SHARE_DAYS
from clvmodels.analytics.engagement import SUMMARY_COLUMNS
from clvmodels.analytics.outputs import (
    CONVERSION_PLOTS,
    CONVERSION_TABLES,
    ENGAGEMENT_PLOTS,
    ENGAGEMENT_TABLES,
    SUMMARY_FILE,
)
from clvmodels.errors import DataError
from clvmodels.plots.analytics import (
    plot_active_users,
    plot_session_lengths,
    plot_visitor_retention,
)
from clvmodels.plots.conversion import plot_conversion_days, plot_conversion_rates
from clvmodels.report.folders import missing_files, read_csv_table, read_json_object, read_png
from clvmodels.report.html import (
    Section,
    bullets,
    caption,
    count,
    esc,
    frame_table,
    img,
    img_bytes,
    key_values,
    num,
    table,
)
from clvmodels.report.inputs import Source

ANALYTICS_ID = "analytics"
ANALYTICS_TITLE = "Engagement and conversion"
Kind = Literal["engagement", "conversion"]
#: A missing group value (device or source) as shown in the tables.
MISSING_VALUE = "(missing)"
_HINTS: dict[Kind, str] = {
    "engagement": "Pass the output folder of `clv engagement VISITS -o DIR`",
    "conversion": "Pass the output folder of `clv conversion --visits V --orders O -o DIR`",
}
_PERIOD = ("sessions", "sessions_per_user", "session_seconds_median")
#: How each table is read: its columns by kind (:func:`clvmodels.report.folders.read_csv_table`).
_COLUMNS: dict[Kind, dict[str, dict[str, Any]]] = {
    "engagement": {
        "daily": {"dates": ("date",), "numbers": ("dau", *_PERIOD)},
        "weekly": {
            "dates": ("period_start",),
            "numbers": ("wau", *_PERIOD),
            "flags": ("complete",),
        },
        "monthly": {
            "dates": ("period_start",),
            "numbers": ("mau", *_PERIOD),
            "flags": ("complete",),
        },
        "by_device": {"text": ("device",), "numbers": SUMMARY_COLUMNS},
        "by_source": {"text": ("source_id",), "numbers": SUMMARY_COLUMNS},
        "retention": {
            "dates": ("cohort",),
            "numbers": ("age", "cohort_size", "active_users", "retention"),
            "flags": ("complete",),
        },
        "session_lengths": {"numbers": ("seconds_from", "seconds_to", "sessions")},
    },
    "conversion": {
        "buyers": {
            "numbers": ("conversion_day",),
            "present": tuple(c for c in BUYERS_COLUMNS if c != "conversion_day"),
            "only_typed": True,
        },
        "by_source": {"text": ("source_id",), "numbers": GROUP_COLUMNS},
        "by_device": {"text": ("device",), "numbers": GROUP_COLUMNS},
        "by_cohort": {"text": ("cohort",), "numbers": GROUP_COLUMNS},
        "orders_by_cohort": {
            "text": ("cohort",),
            "numbers": ("age_months", "cohort_buyers", "ordering_buyers", "orders"),
        },
    },
}
_SHARES = ("conversion_rate", *(f"share_day_{k}" for k in SHARE_DAYS))
#: The entries of each ``summary.json`` the section reads: (numbers or null, text).
SUMMARY_KEYS: dict[Kind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "engagement": (
        ("days", "complete_weeks", "complete_months", *SUMMARY_COLUMNS),
        ("first_day", "observation_end"),
    ),
    "conversion": (
        (
            "visitors",
            "buyers",
            "buyers_without_visit",
            "buyers_ordering_before_first_visit",
            *_SHARES,
            "median_conversion_day",
        ),
        ("observation_end",),
    ),
}


@dataclass(frozen=True)
class AnalyticsOutputs:
    """What :func:`read_engagement` or :func:`read_conversion` found in an output folder.

    Attributes
    ----------
    kind : {"engagement", "conversion"}
        The command that wrote the folder.
    path : pathlib.Path
        The folder.
    summary : dict
        ``summary.json``.
    tables : dict of str to DataFrame
        The tables of :data:`clvmodels.analytics.outputs.ENGAGEMENT_TABLES` or
        ``CONVERSION_TABLES``, by name (``buyers``: only ``conversion_day``).
    images : dict of str to bytes
        The folder's PNGs (of ``ENGAGEMENT_PLOTS`` or ``CONVERSION_PLOTS``) that are there.
    """

    kind: Kind
    path: Path
    summary: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    images: dict[str, bytes] = field(default_factory=dict)


def read_engagement(path: Source) -> AnalyticsOutputs:
    """Read the tables, summary and plots ``clv engagement VISITS -o DIR`` wrote.

    Raises
    ------
    DataError
        When ``path`` is not a folder, a table or ``summary.json`` is missing (all the missing
        files are named), a file is unreadable, lacks a column or entry, or holds a value of
        the wrong kind; the message names the file.
    """
    return _read_folder(path, "engagement", ENGAGEMENT_TABLES, ENGAGEMENT_PLOTS)


def read_conversion(path: Source) -> AnalyticsOutputs:
    """Read the tables, summary and plots ``clv conversion ... -o DIR`` wrote.

    Raises
    ------
    DataError
        As :func:`read_engagement`; a conversion rate or share outside [0, 1] too.
    """
    return _read_folder(path, "conversion", CONVERSION_TABLES, CONVERSION_PLOTS)


def _read_folder(
    path: Source, kind: Kind, tables: Mapping[str, str], plots: Mapping[str, str]
) -> AnalyticsOutputs:
    hint = _HINTS[kind]
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"{kind} folder not found: {folder}", hint=hint)
    absent = missing_files(folder, [*tables.values(), SUMMARY_FILE])
    if absent:
        raise DataError(
            f"{folder} is not a `clv {kind}` output folder: {', '.join(absent)} missing",
            hint=hint,
        )
    summary = read_json_object(folder / SUMMARY_FILE, hint=hint)
    _check_summary(folder / SUMMARY_FILE, summary, kind)
    frames = {
        name: read_csv_table(folder / file, **_COLUMNS[kind][name], hint=hint)
        for name, file in tables.items()
    }
    images = {}
    for name, file in plots.items():
        data = read_png(folder / file, hint=hint)
        if data is not None:
            images[name] = data
    return AnalyticsOutputs(kind, folder, summary, frames, images)


def _check_summary(path: Path, summary: dict[str, Any], kind: Kind) -> None:
    """The entries the section reads are there, numbers (or null) and text as they should be."""
    numbers, text = SUMMARY_KEYS[kind]
    absent = [k for k in (*text, *numbers, "data_problems") if k not in summary]
    if absent:
        listed = ", ".join(f"'{k}'" for k in absent)
        raise DataError(f"{path} has no {listed}", hint=_HINTS[kind])
    for key in numbers:
        value = summary[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise DataError(f"{path}: '{key}' is not a number", examples=[value])
        if key in _SHARES and value is not None and not 0.0 <= value <= 1.0:
            raise DataError(f"{path}: '{key}' must be within [0, 1]", examples=[value])
    for key in text:
        if not isinstance(summary[key], str):
            raise DataError(f"{path}: '{key}' is not text", examples=[summary[key]])
    if not isinstance(summary["data_problems"], dict):
        raise DataError(f"{path}: 'data_problems' is not a JSON object")


def analytics_section(
    engagement: AnalyticsOutputs | None = None, conversion: AnalyticsOutputs | None = None
) -> Section:
    """The section: engagement, then conversion (those given), then the data problems.

    Raises
    ------
    ValueError
        When neither folder is given, or one was read as the other kind.
    """
    if engagement is None and conversion is None:
        raise ValueError("pass an engagement or a conversion folder (or both)")
    for given, kind in ((engagement, "engagement"), (conversion, "conversion")):
        if given is not None and given.kind != kind:
            raise ValueError(f"{given.path} was read as a {given.kind} folder, not {kind}")
    parts: list[str] = []
    if engagement is not None:
        parts.extend(_engagement_parts(engagement))
    if conversion is not None:
        parts.extend(_conversion_parts(conversion))
    parts.extend(_problem_parts([o for o in (engagement, conversion) if o is not None]))
    return Section(ANALYTICS_ID, ANALYTICS_TITLE, "".join(parts))


def _shown(value: Any, spec: str) -> str:
    """``value`` in ``spec``; ``n/a`` when missing (a week or month never complete, ...)."""
    return "n/a" if value is None else num(value, spec)


def engagement_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers of an engagement ``summary.json``, as the report shows them."""
    s = summary
    return [
        ("users", count(s["users"])),
        ("sessions", count(s["sessions"])),
        ("days", f"{s['first_day']} to {s['observation_end']} ({count(s['days'])} days)"),
        ("DAU (mean daily active users)", _shown(s["dau"], ",.2f")),
        ("WAU (mean over complete ISO weeks)", _shown(s["wau"], ",.2f")),
        ("MAU (mean over complete months)", _shown(s["mau"], ",.2f")),
        ("sticky factor DAU/WAU", _shown(s["sticky_wau"], ".1%")),
        ("sticky factor DAU/MAU", _shown(s["sticky_mau"], ".1%")),
        ("sessions per user a day", _shown(s["sessions_per_user_per_day"], ".2f")),
        ("session length, median (s)", _shown(s["session_seconds_median"], ",.1f")),
        ("session length, mode (s)", _shown(s["session_seconds_mode"], ",.0f")),
    ]


def conversion_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The headline numbers of a conversion ``summary.json``, as the report shows them."""
    s = summary
    return [
        ("observation end", str(s["observation_end"])),
        ("visitors", count(s["visitors"])),
        ("buyers", count(s["buyers"])),
        ("conversion rate (buyers / visitors)", _shown(s["conversion_rate"], ".1%")),
        *((f"buyers converted by day {k}", _shown(s[f"share_day_{k}"], ".1%")) for k in SHARE_DAYS),
        ("median conversion day", _shown(s["median_conversion_day"], "g")),
        ("buyers without a visit (left out)", count(s["buyers_without_visit"])),
        (
            "buyers ordering before their first visit (left out)",
            count(s["buyers_ordering_before_first_visit"]),
        ),
    ]


def _engagement_parts(outputs: AnalyticsOutputs) -> list[str]:
    s, tables = outputs.summary, outputs.tables
    return [
        f"<h3>Engagement <small>{esc(outputs.path)}</small></h3>",
        bullets(
            [
                f"{count(s['users'])} users and {count(s['sessions'])} sessions from "
                f"{s['first_day']} to {s['observation_end']} ({count(s['days'])} days: "
                f"{count(s['complete_weeks'])} complete ISO weeks, "
                f"{count(s['complete_months'])} complete months).",
                f"On an average day {_shown(s['dau'], ',.2f')} users visit (DAU); "
                f"{_shown(s['wau'], ',.2f')} in an average complete week (WAU) and "
                f"{_shown(s['mau'], ',.2f')} in an average complete month (MAU): sticky "
                f"factors DAU/WAU {_shown(s['sticky_wau'], '.1%')}, DAU/MAU "
                f"{_shown(s['sticky_mau'], '.1%')}.",
                _lengths_sentence(s),
            ]
        ),
        key_values(engagement_rows(s)),
        _images(outputs),
        "<h3>Engagement by device</h3>",
        frame_table(_labelled(tables["by_device"], "device")),
        "<h3>Engagement by source</h3>",
        frame_table(_labelled(tables["by_source"], "source_id")),
    ]


def _lengths_sentence(summary: Mapping[str, Any]) -> str:
    median, mode = summary["session_seconds_median"], summary["session_seconds_mode"]
    if median is None:
        return "No session has a length (each lacks an end or ends before it starts)."
    return (
        f"The median session lasts {num(median, ',.1f')} s; the most frequent length "
        f"(whole seconds) is {_shown(mode, ',.0f')} s."
    )


def _conversion_parts(outputs: AnalyticsOutputs) -> list[str]:
    s, tables = outputs.summary, outputs.tables
    shares = ", ".join(f"{_shown(s[f'share_day_{k}'], '.1%')} by day {k}" for k in SHARE_DAYS)
    return [
        f"<h3>Conversion from the first visit to the first order "
        f"<small>{esc(outputs.path)}</small></h3>",
        bullets(
            [
                f"{count(s['visitors'])} visitors, {count(s['buyers'])} of them bought: "
                f"conversion rate {_shown(s['conversion_rate'], '.1%')} (observation end "
                f"{s['observation_end']}).",
                f"Buyers converted (calendar days from the first visit; 0 = the same day): "
                f"{shares}; median conversion day {_shown(s['median_conversion_day'], 'g')}.",
                f"Left out of the rates: buyers without a visit "
                f"{count(s['buyers_without_visit'])}, buyers ordering before their first visit "
                f"{count(s['buyers_ordering_before_first_visit'])}.",
            ]
        ),
        key_values(conversion_rows(s)),
        _images(outputs),
        "<h3>Conversion by device</h3>",
        frame_table(_labelled(tables["by_device"], "device")),
        "<h3>Conversion by source</h3>",
        frame_table(_labelled(tables["by_source"], "source_id")),
        "<h3>Conversion by first-visit month</h3>",
        frame_table(tables["by_cohort"]),
    ]


def _labelled(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The table with a missing ``column`` value shown as :data:`MISSING_VALUE`."""
    shown = frame.copy()
    shown[column] = shown[column].fillna(MISSING_VALUE)
    return shown


def problem_rows(outputs: AnalyticsOutputs) -> list[tuple[str, str, int, str]]:
    """Every count of the folder's ``data_problems`` (zeros included), with its examples.

    Returns
    -------
    list of tuple
        ``(where, problem, rows, examples)``: ``where`` is ``"engagement: visits"``,
        ``"conversion: visits"`` or ``"conversion: orders"``, ``problem`` the count's name
        in words, ``examples`` the reader's examples (such as ``row 6``) joined.
    """
    problems = outputs.summary["data_problems"]
    nested = all(isinstance(v, dict) for v in problems.values())
    groups = problems if outputs.kind == "conversion" and nested else {"visits": problems}
    rows = []
    for table_name, counts in groups.items():
        examples = counts.get("examples", {})
        for name, value in counts.items():
            if name == "examples" or not isinstance(value, int) or isinstance(value, bool):
                continue
            shown = examples.get(name, []) if isinstance(examples, dict) else []
            rows.append(
                (
                    f"{outputs.kind}: {table_name}",
                    name.replace("_", " "),
                    value,
                    ", ".join(str(e) for e in shown[:5]),
                )
            )
    return rows


def _problem_parts(folders: Sequence[AnalyticsOutputs]) -> list[str]:
    rows = [row for outputs in folders for row in problem_rows(outputs)]
    found = [row for row in rows if row[2]]
    clean: dict[str, list[str]] = {}
    for where, name, n, _ in rows:
        if not n:
            clean.setdefault(where, []).append(name)
    parts = [
        "<h3>Data problems counted</h3>",
        caption(
            "Rows the commands could not use as they are, counted in summary.json "
            "(data_problems) and left out or kept as described in docs/analytics.md."
        ),
    ]
    if found:
        parts.append(
            table(
                ["where", "problem", "rows", "examples"],
                [[where, name, f"{n:,}", examples] for where, name, n, examples in found],
                numeric=[2],
            )
        )
    else:
        parts.append(caption("None found."))
    if clean:
        listed = "; ".join(f"{where}: {', '.join(names)}" for where, names in clean.items())
        parts.append(caption(f"Checked, none found: {listed}."))
    return parts


_ALTS = {
    "active_users": "daily, weekly and monthly active users",
    "session_lengths": "histogram of session lengths",
    "retention": "visitor retention by first-visit month",
    "days_plot": "share of buyers converted by day since the first visit",
    "source_plot": "conversion rate by source",
    "device_plot": "conversion rate by device",
}


def _images(outputs: AnalyticsOutputs) -> str:
    """The folder's PNGs, each redrawn from its table where the folder has none."""
    plots = ENGAGEMENT_PLOTS if outputs.kind == "engagement" else CONVERSION_PLOTS
    shown = []
    for name in plots:
        if name in outputs.images:
            shown.append(img_bytes(outputs.images[name], _ALTS[name]))
        elif (ax := _redraw(name, outputs.tables)) is not None:
            shown.append(img(ax, _ALTS[name]))
    return "<div class='grid'>" + "".join(shown) + "</div>" if shown else ""


def _redraw(name: str, tables: Mapping[str, pd.DataFrame]) -> Axes | None:
    """The plot ``name`` from the folder's tables (None when there is nothing to draw)."""
    if name == "active_users":
        return plot_active_users(tables["daily"], tables["weekly"], tables["monthly"])
    if name == "session_lengths":
        return plot_session_lengths(tables["session_lengths"])
    if name == "retention":
        retention = tables["retention"]
        return plot_visitor_retention(retention) if len(retention) else None
    if name == "days_plot":
        days = tables["buyers"]["conversion_day"]
        return plot_conversion_days(tables["buyers"]) if not days.isna().any() else None
    by = "source_id" if name == "source_plot" else "device"
    groups = tables["by_source" if by == "source_id" else "by_device"]
    return plot_conversion_rates(groups, by) if len(groups) else None
