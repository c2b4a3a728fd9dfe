"""clv subscriptions: a billing table in, SUBS and its report out; bad input is one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli

HEADER = "payment_id,company_id,plan,paid_until,status,payment_date,amount"
ROWS = [
    "1,007,basic,2024-02-01,success,2024-01-01,10",
    "2,007,basic,2024-03-01,success,2024-02-01,10",
    "3,007,basic,,failed,2024-03-01,10",
    "4,12,pro,2025-01-15,paid,2024-01-15,100",
    "5,12,pro,2025-01-15,paid,2024-01-15,100",
    "6,3,basic,2024-03-10,success,2024-02-10,10",
]


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def run(*args: str):
    return CliRunner().invoke(cli, ["subscriptions", *args])


def test_writes_subs_and_the_report(tmp_path):
    billing = write(tmp_path / "billing.csv", ROWS)
    out = tmp_path / "out" / "subs.csv"
    result = run(
        str(billing), "--billing-period", "month", "--status-col", "status", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "observation end: 2024-02-10 (default: the latest paid payment)" in result.output
    assert "grace: 0 days" in result.output and "1 'failed'" in result.output
    assert "duplicates dropped: 1" in result.output
    assert f"wrote {out}" in result.output
    report_path = tmp_path / "out" / "subs_report.json"
    assert f"wrote {report_path}" in result.output
    report = json.loads(report_path.read_text())
    assert report["unpaid_by_status"] == {"failed": 1} and report["duplicates"] == 1
    assert report["customers"] == 3 and report["observation_end"] == "2024-02-10"
    subs = pd.read_csv(out, dtype={"customer_id": str})
    assert subs["customer_id"].tolist() == ["007", "12", "3"]  # text ids, sorted as text
    assert subs["periods_paid"].tolist() == [2, 12, 1]


def write_bad(tmp_path: Path, case: str) -> tuple[Path, list[str]]:
    rows, header, extra = list(ROWS), HEADER, []
    if case == "no_paid_until_column":
        header = HEADER.replace("paid_until,", "")
        rows = [",".join(r.split(",")[:3] + r.split(",")[4:]) for r in rows]
    elif case == "no_paid_until_values":
        rows[0] = "1,007,basic,,success,2024-01-01,10"
        rows[3] = "4,12,pro,,paid,2024-01-15,100"
    elif case == "after_end":
        extra = ["--observation-end", "2024-01-31"]
    elif case == "backwards":
        rows[5] = "6,3,basic,2024-01-10,success,2024-02-10,10"
    elif case == "plan_nan":
        rows[1] = "2,007,,2024-03-01,success,2024-02-01,10"
    return write(tmp_path / "billing.csv", rows, header), extra


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "no_paid_until_column",
            "Error: the billing table has no column 'paid_until'. Its columns are: payment_id, "
            "company_id, plan, status, payment_date, amount. Name yours with --paid-until-col",
        ),
        (
            "no_paid_until_values",
            "Error: column 'paid_until': paid payments without a paid-until date (2 rows, "
            "e.g. row 1, row 4)",
        ),
        (
            "after_end",
            "Error: column 'payment_date': payments after the observation end 2024-01-31 "
            "(2 rows, e.g. customer 007 on 2024-02-01, customer 3 on 2024-02-10)",
        ),
        (
            "backwards",
            "Error: column 'paid_until': payments paid until before their payment date "
            "(paid_until < payment_date) (1 row, e.g. row 6)",
        ),
        ("plan_nan", "Error: column 'plan': paid payments without a plan (1 row, e.g. row 2)"),
    ],
)
def test_bad_billing_tables_exit_2_with_one_line_and_nothing_written(tmp_path, case, message):
    billing, extra = write_bad(tmp_path, case)
    out = tmp_path / "out" / "subs.parquet"
    result = run(
        str(billing), "--billing-period", "month", "--status-col", "status", "-o", str(out), *extra
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "out" / "subs_report.json").exists()


def test_an_old_subs_file_is_left_as_it_was_on_an_error(tmp_path):
    billing, _ = write_bad(tmp_path, "plan_nan")
    out = tmp_path / "subs.parquet"
    out.write_bytes(b"old")
    result = run(str(billing), "--billing-period", "year", "--status-col", "status", "-o", str(out))
    assert result.exit_code == 2 and out.read_bytes() == b"old"
    assert not (tmp_path / "subs_report.json").exists()


def test_an_output_that_is_the_input_is_refused(tmp_path):
    billing = write(tmp_path / "billing.csv", ROWS)
    before = billing.read_text()
    result = run(str(billing), "--billing-period", "month", "-o", str(billing))
    assert result.exit_code == 2 and "is the input BILLING" in result.output
    assert billing.read_text() == before
    report_named = tmp_path / "subs.csv"
    result = run(
        str(tmp_path / "subs_report.json"), "--billing-period", "month", "-o", str(report_named)
    )
    assert result.exit_code == 2 and "is the input BILLING" in result.output


def test_required_billing_period_and_help():
    billing_missing = CliRunner().invoke(cli, ["subscriptions", "b.csv", "-o", "s.parquet"])
    assert billing_missing.exit_code == 2 and "--billing-period" in billing_missing.output
    result = CliRunner().invoke(cli, ["subscriptions", "--help"])
    assert result.exit_code == 0
    for flag in (
        "--billing-period",
        "--customer-col",
        "--payment-date-col",
        "--paid-until-col",
        "--amount-col",
        "--plan-col",
        "--status-col",
        "--paid-values",
        "--grace-days",
        "--observation-end",
        "--date-format",
    ):
        assert flag in result.output
    assert "clv subscriptions billing.csv --billing-period month -o subs.parquet" in result.output
