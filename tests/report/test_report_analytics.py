"""The report's "Engagement and conversion" section on the folders of a few hand-made rows.

The folders are written by the jobs behind ``clv engagement`` and ``clv conversion``; the
section must show the numbers of their ``summary.json`` and tables, and the hand-computed
values below (DAU, WAU, MAU, the conversion rate) check that those numbers are the right ones.
"""

from __future__ import annotations

import base64
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli.report import report as report_command
from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import read_orders
from clvmodels.errors import DataError
from clvmodels.jobs.conversion import run_conversion
from clvmodels.jobs.engagement import engagement_job
from clvmodels.report.analytics import analytics_section, read_conversion, read_engagement
from clvmodels.report.build import SECTION_IDS, build_report
from clvmodels.report.html import Section

VISITS = [
    "uid,device,start_ts,end_ts,source_id",
    "1,desktop,2024-01-01 10:00:00,2024-01-01 10:05:00,1",  # 300 s
    "1,touch,2024-01-03 09:00:00,2024-01-03 09:02:00,2",  # 120 s
    "2,touch,2024-01-03 23:30:00,2024-01-03 23:35:00,2",  # 300 s
    ",touch,2024-01-04 10:00:00,2024-01-04 10:01:00,2",  # no uid: dropped, counted
    "3,desktop,2024-01-10 08:00:00,2024-01-10 07:00:00,1",  # ends before it starts
    "4,touch,2024-02-05 12:00:00,,",  # no end, no source
]
ORDERS = [
    "customer_id,timestamp,revenue",
    "1,2024-01-01 12:00:00,10",  # day 0
    "2,2024-01-04 00:10:00,20",  # day 1
    "3,2024-01-09 09:00:00,5",  # before the first visit: left out
    "7,2024-01-20 09:00:00,40",  # never visited: left out
]
# By hand. Window 2024-01-01 (a Monday) .. 2024-02-05, the last visit's day: 36 days.
# User-days: Jan 1 {1}, Jan 3 {1, 2}, Jan 10 {3}, Feb 5 {4} = 5, so DAU = 5 / 36.
# Complete ISO weeks: the five from Jan 1 to Feb 4, with 2, 1, 0, 0, 0 users: WAU = 3 / 5.
# Complete months: January, users {1, 2, 3}: MAU = 3.
DAU, WAU, MAU = 5 / 36, 3 / 5, 3.0
# Visitors 1, 2, 4 (3 ordered before visiting); buyers 1 (day 0) and 2 (day 1).
VISITORS, BUYERS = 3, 2


def _write(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    visits, orders = folder / "visits.csv", folder / "orders.csv"
    visits.write_text("\n".join(VISITS) + "\n")
    orders.write_text("\n".join(ORDERS) + "\n")
    return visits, orders


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("analytics")
    visits, orders = _write(base)
    folders = {"visits": visits, "orders": orders}
    for plots in (True, False):
        tail = "" if plots else "_bare"
        folders[f"engagement{tail}"] = base / f"engagement{tail}"
        folders[f"conversion{tail}"] = base / f"conversion{tail}"
        engagement_job(visits, folders[f"engagement{tail}"], plots=plots)
        run_conversion(visits, OrdersSource(orders), folders[f"conversion{tail}"], plots=plots)
    return folders


@pytest.fixture(scope="module")
def orders(inputs) -> pd.DataFrame:
    return read_orders(inputs["orders"])


class _Page(HTMLParser):
    """Each section's text, images and tables (header, rows of cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.images: dict[str, list[str]] = {}
        self.tables: dict[str, list[list[list[str]]]] = {}
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "section":
            now = values["id"]
            self.ids.append(now)
            self.text[now], self.images[now], self.tables[now] = [], [], []
        elif tag == "img" and self.ids:
            self.images[self.ids[-1]].append(values["src"])
        elif tag == "table" and self.ids:
            self.tables[self.ids[-1]].append([])
        elif tag == "tr" and self.ids:
            self.tables[self.ids[-1]][-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self.ids[-1]][-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self.ids:
            self.text[self.ids[-1]].append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def page(inputs, orders) -> _Page:
    return parse(
        build_report(orders, engagement=inputs["engagement"], conversion=inputs["conversion"])
    )


def section_page(section: Section) -> _Page:
    """The section alone, parsed as the page holds it."""
    return parse(f"<section id='{section.id}'>{section.body}</section>")


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def key_values(page: _Page) -> dict[str, str]:
    """The label -> value rows of the section's two-column tables."""
    return {
        row[0]: row[1]
        for rows in page.tables["analytics"]
        for row in rows
        if len(row) == 2 and rows[0][0] != "where"
    }


def table_with(page: _Page, header: list[str]) -> list[list[str]]:
    """The rows of the section's tables whose header is ``header`` (in order of the page)."""
    return [rows[1:] for rows in page.tables["analytics"] if rows and rows[0] == header]


def test_section_is_last_and_absent_without_folders(page, orders) -> None:
    assert page.ids == [*SECTION_IDS, "analytics"]
    assert parse(build_report(orders)).ids == list(SECTION_IDS)


def test_headline_numbers_are_those_of_summary_json(page, inputs) -> None:
    used, converted = summary(inputs["engagement"]), summary(inputs["conversion"])
    # the summaries hold the hand-computed values ...
    assert used["dau"] == pytest.approx(DAU, rel=1e-12)
    assert used["wau"] == pytest.approx(WAU, rel=1e-12) and used["mau"] == MAU
    assert (converted["visitors"], converted["buyers"]) == (VISITORS, BUYERS)
    # ... and the section shows them
    shown = key_values(page)
    assert shown["DAU (mean daily active users)"] == f"{used['dau']:,.2f}" == "0.14"
    assert shown["WAU (mean over complete ISO weeks)"] == f"{used['wau']:,.2f}" == "0.60"
    assert shown["MAU (mean over complete months)"] == "3.00"
    assert shown["sticky factor DAU/WAU"] == f"{used['sticky_wau']:.1%}" == f"{DAU / WAU:.1%}"
    assert shown["sticky factor DAU/MAU"] == f"{used['sticky_mau']:.1%}" == f"{DAU / MAU:.1%}"
    # lengths 300, 120, 300 s (the others have none): median and mode 300
    assert shown["session length, median (s)"] == "300.0"
    assert shown["session length, mode (s)"] == "300"
    assert shown["users"] == f"{used['users']:,}" == "4"
    assert shown["days"] == "2024-01-01 to 2024-02-05 (36 days)"
    assert shown["visitors"] == "3" and shown["buyers"] == "2"
    assert shown["conversion rate (buyers / visitors)"] == f"{BUYERS / VISITORS:.1%}" == "66.7%"
    for k in (0, 1, 7, 30):
        assert shown[f"buyers converted by day {k}"] == f"{converted[f'share_day_{k}']:.1%}"
    assert shown["buyers converted by day 0"] == "50.0%"
    assert shown["median conversion day"] == "0.5"  # days 0 and 1
    assert shown["buyers without a visit (left out)"] == "1"
    assert shown["buyers ordering before their first visit (left out)"] == "1"
    text = " ".join(" ".join(page.text["analytics"]).split())
    assert "3 visitors, 2 of them bought: conversion rate 66.7%" in text
    assert "50.0% by day 0, 100.0% by day 1, 100.0% by day 7, 100.0% by day 30" in text


def test_tables_by_device_and_source_are_the_folders(page, inputs) -> None:
    engagement_header = [
        "device", "users", "sessions", "dau", "wau", "mau", "sticky wau", "sticky mau",
        "sessions per user per day", "session seconds median", "session seconds mode",
    ]  # fmt: skip
    (by_device,) = table_with(page, engagement_header)
    csv = pd.read_csv(inputs["engagement"] / "by_device.csv")
    assert [(r[0], r[1], r[2]) for r in by_device] == [
        (d, f"{u:,}", f"{s:,}") for d, u, s in zip(csv.device, csv.users, csv.sessions, strict=True)
    ]
    # users by hand: touch {1, 2, 4} (the row without uid is dropped), desktop {1, 3}
    assert {r[0]: r[1] for r in by_device} == {"touch": "3", "desktop": "2"}
    (by_source,) = table_with(page, ["source id", *engagement_header[1:]])
    assert {r[0]: r[1] for r in by_source} == {"1": "2", "2": "2", "(missing)": "1"}
    conversion_header = ["visitors", "buyers", "conversion rate", "median conversion day"]
    (by_device,) = table_with(page, ["device", *conversion_header])
    (by_source,) = table_with(page, ["source id", *conversion_header])
    # first visits: 1 desktop/source 1, 2 touch/2, 4 touch/missing
    assert sorted((r[0], r[1], r[2]) for r in by_device) == [
        ("desktop", "1", "1"),
        ("touch", "2", "1"),
    ]
    assert sorted((r[0], r[1], r[2]) for r in by_source) == [
        ("(missing)", "1", "0"),
        ("1", "1", "1"),
        ("2", "1", "1"),
    ]


def test_data_problems_are_counted_as_in_summary_json(page, inputs) -> None:
    (rows,) = table_with(page, ["where", "problem", "rows", "examples"])
    counted = {(r[0], r[1]): int(r[2]) for r in rows}
    problems = summary(inputs["engagement"])["data_problems"]
    for name in ("missing_uid", "negative_length", "missing_end", "missing_source"):
        assert counted[("engagement: visits", name.replace("_", " "))] == problems[name] == 1
    converted = summary(inputs["conversion"])["data_problems"]
    assert counted[("conversion: visits", "missing uid")] == converted["visits"]["missing_uid"]
    # customer 7's order: by hand, the one order of a user never seen
    assert counted[("conversion: orders", "by users never seen")] == 1
    assert ("engagement: visits", "missing start") not in counted  # none: listed as checked
    assert "engagement: visits: missing start, after observation end" in " ".join(
        page.text["analytics"]
    )


def test_plots_are_the_folders_or_redrawn_without_them(page, inputs, orders) -> None:
    embedded = [base64.b64decode(src.split(",", 1)[1]) for src in page.images["analytics"]]
    files = [
        inputs["engagement"] / name
        for name in ("active_users.png", "session_lengths.png", "retention.png")
    ] + [
        inputs["conversion"] / name
        for name in ("conversion_days.png", "conversion_by_source.png", "conversion_by_device.png")
    ]
    assert embedded == [path.read_bytes() for path in files]
    bare = section_page(
        analytics_section(
            read_engagement(inputs["engagement_bare"]), read_conversion(inputs["conversion_bare"])
        )
    )
    redrawn = [base64.b64decode(src.split(",", 1)[1]) for src in bare.images["analytics"]]
    assert len(redrawn) == 6 and all(data.startswith(b"\x89PNG\r\n\x1a\n") for data in redrawn)
    assert key_values(bare) == key_values(page)


def test_either_folder_alone(inputs) -> None:
    alone = section_page(analytics_section(read_engagement(inputs["engagement"])))
    text = " ".join(alone.text["analytics"])
    assert "Engagement" in text and "Conversion from the first visit" not in text
    assert "DAU (mean daily active users)" in key_values(alone)
    alone = section_page(analytics_section(conversion=read_conversion(inputs["conversion"])))
    text = " ".join(alone.text["analytics"])
    assert "Conversion from the first visit" in text and "DAU" not in text
    with pytest.raises(ValueError, match="not engagement"):
        analytics_section(read_conversion(inputs["conversion"]))


def test_a_folder_that_is_not_such_an_output_is_one_line(inputs, tmp_path) -> None:
    with pytest.raises(DataError, match=r"daily\.csv, weekly\.csv, monthly\.csv") as caught:
        read_engagement(inputs["conversion"])  # the other command's folder
    message = str(caught.value)
    assert "\n" not in message and "retention.csv, session_lengths.csv missing" in message
    assert "clv engagement" in message
    with pytest.raises(DataError, match=r"buyers\.csv, by_cohort\.csv, orders_by_cohort\.csv m"):
        read_conversion(inputs["engagement"])
    with pytest.raises(DataError, match="engagement folder not found"):
        read_engagement(tmp_path / "nowhere")
    broken = shutil.copytree(inputs["engagement_bare"], tmp_path / "broken")
    data = summary(broken)
    del data["dau"], data["sticky_mau"]
    (broken / "summary.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"summary\.json has no 'dau', 'sticky_mau'"):
        read_engagement(broken)
    bad = shutil.copytree(inputs["conversion_bare"], tmp_path / "bad")
    table = pd.read_csv(bad / "by_device.csv", dtype=str)
    table.loc[0, "visitors"] = "many"
    table.to_csv(bad / "by_device.csv", index=False)
    with pytest.raises(DataError, match=r"by_device\.csv: not a number") as caught:
        read_conversion(bad)
    assert caught.value.column == "visitors"
    (bad / "by_device.csv").unlink()
    with pytest.raises(DataError, match=r"by_device\.csv missing"):
        read_conversion(bad)


def test_cli_report_with_both_folders_and_with_a_wrong_one(inputs, tmp_path) -> None:
    out = tmp_path / "report.html"
    args = ["-o", str(out), "--orders", str(inputs["orders"])]
    folders = ["--engagement", str(inputs["engagement"]), "--conversion", str(inputs["conversion"])]
    result = CliRunner().invoke(report_command, [*args, *folders])
    assert result.exit_code == 0, result.output
    assert "analytics   shown" in result.output
    assert "id='analytics'" in out.read_text()
    out.unlink()
    swapped = ["--engagement", str(inputs["conversion"])]
    result = CliRunner().invoke(report_command, [*args, *swapped])
    assert result.exit_code == 2
    assert "is not a `clv engagement` output folder" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_a_window_without_a_complete_week_shows_n_a(tmp_path) -> None:
    # two days (Wednesday and Thursday), no session with an end: no WAU, MAU or length
    visits = tmp_path / "visits.csv"
    visits.write_text(
        "uid,start_ts,end_ts,source_id\na,2024-01-03 10:00:00,,1\nb,2024-01-04 09:00:00,,1\n",
        encoding="utf-8",
    )
    engagement_job(visits, tmp_path / "out", plots=False)
    section = analytics_section(read_engagement(tmp_path / "out"))
    shown = key_values(section_page(section))
    assert shown["DAU (mean daily active users)"] == "1.00"  # 2 user-days over 2 days
    for label in ("WAU (mean over complete ISO weeks)", "MAU (mean over complete months)"):
        assert shown[label] == "n/a"
    assert shown["session length, median (s)"] == "n/a"
    assert "No session has a length" in section.body
    assert section.body.count("<img") == 3  # redrawn from the tables
