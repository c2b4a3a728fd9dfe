"""clv conversion end to end: files written, headline and problems printed; bad input exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from clvmodels.cli import cli

VISITS = [
    "uid,device,start_ts,end_ts,source_id",
    "1,desktop,2024-01-01 10:00,2024-01-01 10:05,1",
    "1,touch,2024-01-03 09:00,2024-01-03 09:05,2",
    "2,touch,2024-01-05 23:30,2024-01-05 23:35,2",
    ",touch,2024-01-05 23:30,2024-01-05 23:35,2",  # no uid: dropped and counted
    "3,touch,2024-01-08 10:00,2024-01-08 09:00,1",  # ends before it starts: kept, counted
    "5,desktop,2024-01-10 08:00,,1",  # no end: kept, counted
    "9,desktop,2024-03-10 08:00,2024-03-10 08:05,1",  # after --observation-end
]
ORDERS = [
    "Uid,Buy Ts,Revenue",
    "1,2024-01-01 12:00,10",  # day 0
    "2,2024-01-06 00:10,20",  # day 1
    "3,2024-01-07 09:00,5",  # before the first visit
    "4,2024-01-10 09:00,40",  # never visited
    "5,2024-03-02 09:00,7",  # after --observation-end
]
ORDER_FLAGS = ["--customer-col", "Uid", "--date-col", "Buy Ts", "--revenue-col", "Revenue"]


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    visits, orders = tmp_path / "visits.csv", tmp_path / "orders.csv"
    visits.write_text("\n".join(VISITS) + "\n")
    orders.write_text("\n".join(ORDERS) + "\n")
    return visits, orders


def run(*args: str):
    return CliRunner().invoke(cli, ["conversion", *args])


def test_writes_the_folder_and_prints_the_headline(tmp_path: Path) -> None:
    visits, orders = _inputs(tmp_path)
    out = tmp_path / "out"
    result = run(
        "--visits", str(visits), "--orders", str(orders), *ORDER_FLAGS,
        "--observation-end", "2024-02-29", "-o", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {
        "buyers.csv", "by_source.csv", "by_device.csv", "by_cohort.csv",
        "orders_by_cohort.csv", "summary.json", "conversion_days.png",
        "conversion_by_source.png", "conversion_by_device.png",
    }  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    # visitors 1, 2, 5 (3 ordered before visiting, 9 is after the end); buyers 1 and 2
    assert (summary["visitors"], summary["buyers"]) == (3, 2)
    assert summary["conversion_rate"] == 2 / 3
    assert summary["share_day_0"] == 0.5 and summary["share_day_1"] == 1.0
    assert summary["median_conversion_day"] == 0.5
    assert summary["buyers_without_visit"] == 1
    assert summary["buyers_ordering_before_first_visit"] == 1
    visit_problems = summary["data_problems"]["visits"]
    assert visit_problems["missing_uid"] == 1
    assert visit_problems["negative_length"] == 1
    assert visit_problems["missing_end"] == 1
    assert visit_problems["after_observation_end"] == 1
    assert summary["data_problems"]["orders"] == {
        "after_observation_end": 1,
        "by_users_never_seen": 1,
    }
    buyers = pd.read_csv(out / "buyers.csv")
    assert buyers["uid"].tolist() == [1, 2]
    assert buyers["conversion_day"].tolist() == [0, 1]
    assert "3 visitors, 2 buyers: conversion rate 66.7%; median conversion day 0.5" in result.output
    assert "visits missing uid: 1" in result.output
    assert "orders by users never seen: 1" in result.output


def test_no_plots_and_help(tmp_path: Path) -> None:
    visits, orders = _inputs(tmp_path)
    out = tmp_path / "out"
    result = run(
        "--visits", str(visits), "--orders", str(orders), *ORDER_FLAGS, "--no-plots", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert not list(out.glob("*.png"))
    assert "clv conversion --visits visits.csv" in run("--help").output


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    visits, orders = _inputs(tmp_path)
    out = str(tmp_path / "out")
    missing_column = run("--visits", str(visits), "--orders", str(orders), "-o", out)
    assert missing_column.exit_code == 2
    assert missing_column.output.count("\n") == 1 and "--customer-col" in missing_column.output
    bad_visits = tmp_path / "bad.csv"
    bad_visits.write_text("user,start\n1,2024-01-01\n")
    result = run("--visits", str(bad_visits), "--orders", str(orders), *ORDER_FLAGS, "-o", out)
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "--visits-uid-col" in result.output
    onto_input = run(
        "--visits", str(visits), "--orders", str(orders), *ORDER_FLAGS, "-o", str(tmp_path)
    )
    assert onto_input.exit_code == 2 and onto_input.output.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_visits_and_orders_from_one_duckdb_file(tmp_path: Path) -> None:
    # both tables read on one connection: the file is attached once, the views do not clash
    import duckdb

    visits, orders = _inputs(tmp_path)
    shop = tmp_path / "shop.duckdb"
    with duckdb.connect(str(shop)) as con:
        con.execute(f"CREATE TABLE visits AS SELECT * FROM read_csv('{visits}', all_varchar=true)")
        con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{orders}', all_varchar=true)")
    url = f"duckdb:///{shop}"
    end = ["--observation-end", "2024-02-29", "--no-plots"]
    from_db = run(
        "--visits", f"{url}#visits", "--orders", f"{url}#orders", *ORDER_FLAGS, *end,
        "-o", str(tmp_path / "db"),
    )  # fmt: skip
    assert from_db.exit_code == 0, from_db.output
    from_csv = run(
        "--visits", str(visits), "--orders", str(orders), *ORDER_FLAGS, *end,
        "-o", str(tmp_path / "csv"),
    )  # fmt: skip
    assert from_csv.exit_code == 0, from_csv.output
    for name in ("buyers.csv", "by_source.csv", "orders_by_cohort.csv"):
        assert (tmp_path / "db" / name).read_text() == (tmp_path / "csv" / name).read_text()
    engaged = CliRunner().invoke(
        cli, ["engagement", f"{url}#visits", *end, "-o", str(tmp_path / "e")]
    )
    assert engaged.exit_code == 0, engaged.output
    assert json.loads((tmp_path / "e" / "summary.json").read_text())["users"] == 4
