"""`clv kpis` end to end: the folder it writes, what it prints, and bad input (exit 2)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


@pytest.fixture
def orders_csv(tmp_path):
    path = tmp_path / "orders.csv"
    # ids as written (007 stays 007); two weeks and a Wednesday of a third
    path.write_text(
        "uid,buy_ts,amount\n"
        "007,2024-01-01 10:00,10\n"
        "B,2024-01-02 12:00,5\n"
        "007,2024-01-03 08:00,20\n"
        "C,2024-01-10 09:00,40\n"
        "007,2024-01-15 12:00,30\n"
        "D,2024-01-17 16:30,50\n"
        "B,2024-02-01 10:00,99\n"
    )
    return path


MAPPING = ["--customer-col", "uid", "--date-col", "buy_ts", "--revenue-col", "amount"]


def test_kpis_writes_the_folder(orders_csv, tmp_path):
    out = tmp_path / "kpis"
    result = run(
        "kpis",
        str(orders_csv),
        *MAPPING,
        "--period",
        "week",
        "--observation-end",
        "2024-01-17",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "kpis.csv")
    assert list(table["period_start"]) == ["2024-01-01", "2024-01-08", "2024-01-15"]
    assert list(table["revenue"]) == [35.0, 40.0, 80.0]
    assert list(table["new_buyers"]) == [2, 1, 1]
    assert list(table["returning_buyers"]) == [0, 0, 1]
    assert list(table["complete"]) == [True, True, False]
    seasonality = pd.read_csv(out / "seasonality.csv")
    assert len(seasonality) == 0 and "seasonal_52" in seasonality.columns
    summary = json.loads((out / "summary.json").read_text())
    assert summary["data_problems"] == {"after_observation_end": 1, "exact_duplicates": 0}
    assert summary["customers"] == 4 and summary["n_orders_used"] == 6
    assert summary["last_complete_period"]["revenue_growth"] == pytest.approx(40 / 35 - 1)
    assert summary["seasonality"]["found"] is False
    for name in ("revenue.png", "orders.png", "buyers.png"):
        assert (out / name).stat().st_size > 0
    assert not (out / "seasonality.png").exists()
    assert "3 weeks from 2024-01-01 to 2024-01-15" in result.output
    assert "last complete week (2024-01-08): revenue 40.00 (+14.3%)" in result.output
    assert "seasonality: not enough data" in result.output
    assert "1 orders after the observation end were left out" in result.output


def test_kpis_daily_no_plots(orders_csv, tmp_path):
    out = tmp_path / "daily"
    result = run("kpis", str(orders_csv), *MAPPING, "--no-plots", "-o", str(out))
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "kpis.csv")
    assert len(table) == 32  # Jan 1 to Feb 1
    assert "revenue_rolling_28" in table.columns
    assert not list(out.glob("*.png"))
    seasonality = pd.read_csv(out / "seasonality.csv")
    assert len(seasonality) == 32  # at least 14 complete days: weekly STL


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--revenue-col", "price"], "no column 'price'"),
        (["--observation-end", "2023-01-01"], "before the first order"),
        (["--period", "year"], "Invalid value for '--period'"),
    ],
)
def test_kpis_bad_input_is_one_line_exit_2(orders_csv, tmp_path, args, message):
    mapping = ["--customer-col", "uid", "--date-col", "buy_ts", "--revenue-col", "amount"]
    result = run("kpis", str(orders_csv), *mapping, *args, "-o", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert message in result.output
    if "Invalid value" not in message:
        assert result.output.count("\n") == 1 and result.output.startswith("Error: ")
    assert not (tmp_path / "o").exists()


def test_kpis_refuses_an_output_that_holds_the_input(orders_csv):
    result = run("kpis", str(orders_csv), *MAPPING, "-o", str(orders_csv.parent))
    assert result.exit_code == 2
    assert "nothing was written" in result.output


def test_kpis_counts_exact_duplicates(tmp_path):
    orders = tmp_path / "dup.csv"
    orders.write_text(
        "customer_id,timestamp,revenue\n1,2024-01-01,10\n1,2024-01-01,10\n2,2024-01-02,5\n"
    )
    result = run("kpis", str(orders), "--no-plots", "-o", str(tmp_path / "k"))
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert summary["data_problems"] == {"after_observation_end": 0, "exact_duplicates": 1}
    assert "1 order rows are exact duplicates" in result.output
    assert pd.read_csv(tmp_path / "k" / "kpis.csv")["orders"].tolist() == [2, 1]  # kept
