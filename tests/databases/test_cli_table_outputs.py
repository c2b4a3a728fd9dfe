"""`-o URL#table`: every single-table output of the clv command written into a database."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli

ORDERS = [
    ("007", "2024-01-03", 10.0),
    ("007", "2024-02-10", 5.5),
    ("007", "2024-03-01", 4.0),
    ("8", "2024-01-05", 3.0),
    ("8", "2024-01-20", 8.0),
    ("9", "2024-02-01", 7.0),
    ("10", "2024-03-02", 2.5),
]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    pd.DataFrame(ORDERS, columns=["customer_id", "timestamp", "revenue"]).to_csv(path, index=False)
    return path


def duck(path: Path, sql: str) -> pd.DataFrame:
    with contextlib.closing(duckdb.connect(str(path), read_only=True)) as con:
        return con.execute(sql).df()


def lite(path: Path, sql: str) -> pd.DataFrame:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return pd.read_sql_query(sql, con)


def file_rfm(orders_csv: Path, tmp_path: Path) -> pd.DataFrame:
    """The same command written to Parquet (another writer) is the oracle of the table."""
    out = tmp_path / "rfm.parquet"
    assert run("rfm", str(orders_csv), "-o", str(out)).exit_code == 0
    return pd.read_parquet(out)


def same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.sort_values("customer_id").reset_index(drop=True)
    want = want.sort_values("customer_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_rfm_into_duckdb_and_sqlite(orders_csv, tmp_path):
    want = file_rfm(orders_csv, tmp_path)
    result = run("rfm", str(orders_csv), "-o", f"duckdb:///{tmp_path}/out.duckdb#clv.rfm")
    assert result.exit_code == 0, result.output
    assert f"wrote duckdb:///{tmp_path}/out.duckdb#clv.rfm" in result.output
    got = duck(tmp_path / "out.duckdb", "SELECT * FROM clv.rfm")
    assert got["customer_id"].tolist().count("007") == 1  # text ids as written
    same(got, want)
    result = run("rfm", str(orders_csv), "-o", f"sqlite:///{tmp_path}/out.sqlite#clv.rfm")
    assert result.exit_code == 0, result.output
    assert f"wrote sqlite:///{tmp_path}/out.sqlite#clv_rfm" in result.output
    same(lite(tmp_path / "out.sqlite", "SELECT * FROM clv_rfm"), want)


@pytest.mark.postgres
def test_rfm_into_postgres_password_never_printed(orders_csv, tmp_path, postgres):
    want = file_rfm(orders_csv, tmp_path)
    url = postgres.create_database("write_cli").replace("clvtest@", "clvtest:s3cret@")
    result = run("rfm", str(orders_csv), "-o", f"{url}#clv.rfm")
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    assert f"wrote {url.replace('s3cret', '***')}#clv.rfm" in result.output
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(url) as con, con.cursor() as cur:
        cur.execute("SELECT * FROM clv.rfm")
        got = cur.fetch_arrow_table().to_pandas()
    same(got, want)
    refused = run("rfm", str(orders_csv), "-o", f"{url}#clv.rfm", "--table", "x")
    assert "s3cret" not in refused.output
    bad_port = url.replace(str(postgres.port), "1")
    failed = run("rfm", str(orders_csv), "-o", f"{bad_port}#clv.rfm")
    assert failed.exit_code == 2 and "s3cret" not in failed.output
    assert "clvtest:***@127.0.0.1:1/write_cli" in failed.output


def test_output_needs_a_table_and_folders_stay_files(orders_csv, tmp_path):
    result = run("rfm", str(orders_csv), "-o", "postgresql://u:pw@host/db")
    assert result.exit_code == 2
    assert "-o postgresql://u:***@host/db needs a table: add #schema.table" in result.output
    result = run("fit", str(orders_csv), "-o", "duckdb:///m.duckdb")  # a model is a folder
    assert result.exit_code == 2
    assert "-o duckdb:///m.duckdb is a database URL, but -o writes a model folder" in result.output
    result = run("cohorts", str(orders_csv), "-o", "c.csv", "--plots", "postgresql://h/db")
    assert result.exit_code == 2 and "writes PNG plots into a folder: give a path" in result.output


def test_output_is_never_an_input_table(orders_csv, tmp_path):
    shop = tmp_path / "shop.duckdb"
    with contextlib.closing(duckdb.connect(str(shop))) as con:
        con.execute(
            f"CREATE TABLE orders AS SELECT * FROM read_csv('{orders_csv}', all_varchar=true)"
        )
        con.execute("CREATE TABLE scores AS SELECT 1 AS customer_id")
    cases = [
        ["rfm", str(shop), "--table", "orders", "-o", f"duckdb:///{shop}#orders"],
        ["rfm", str(shop), "--table", "orders", "-o", f"duckdb:///{shop}#main.orders"],
        ["segment", f"duckdb:///{shop}#scores", "-o", f"duckdb:///{shop}#scores"],
        [
            "segment",
            str(shop),
            "--table",
            "scores",
            "-o",
            f"duckdb:///{shop}#s",
            "--summary",
            f"duckdb:///{shop}#scores",
        ],
        [
            "cohorts",
            str(shop),
            "--table",
            "orders",
            "-o",
            f"duckdb:///{shop}#c",
            "--wide",
            f"duckdb:///{shop}#orders",
        ],
    ]
    for args in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "is the input" in result.output and "nothing was written" in result.output
    assert duck(shop, "SELECT count(*) AS n FROM orders")["n"].item() == len(ORDERS)
    # another table of the same DuckDB file: read, closed, then written
    result = run("rfm", str(shop), "--table", "orders", "-o", f"duckdb:///{shop}#clv.rfm")
    assert result.exit_code == 0, result.output
    same(duck(shop, "SELECT * FROM clv.rfm"), file_rfm(orders_csv, tmp_path))
    result = run("rfm", str(shop), "--query", "SELECT * FROM orders", "-o", f"duckdb:///{shop}#r2")
    assert result.exit_code == 0, result.output


SCORES = pd.DataFrame(
    {
        "customer_id": ["007", "8", "9", "10"],
        "frequency": [2, 1, 0, 0],
        "recency": [8.0, 2.0, 0.0, 0.0],
        "T": [9.0, 8.5, 4.0, 0.1],
        "monetary_value": [4.75, 8.0, 0.0, 0.0],
        "p_alive": [0.9, 0.5, 1.0, 1.0],
        "expected_purchases": [2.0, 0.8, 0.4, 0.5],
        "expected_spend": [5.0, 7.0, 6.0, 6.0],
        "clv": [10.0, 5.6, 2.4, 3.0],
    }
)


def test_segment_and_its_summary_in_one_transaction(tmp_path, monkeypatch):
    scores = tmp_path / "scores.parquet"
    SCORES.to_parquet(scores)
    db = tmp_path / "seg.sqlite"
    files = run("segment", str(scores), "-o", str(tmp_path / "seg.parquet"))
    assert files.exit_code == 0, files.output
    result = run("segment", str(scores), "-o", f"sqlite:///{db}#clv.segments")
    assert result.exit_code == 0, result.output
    assert f"wrote sqlite:///{db}#clv_segments" in result.output
    assert f"wrote sqlite:///{db}#clv_segments_summary" in result.output
    want = pd.read_parquet(tmp_path / "seg_summary.parquet")
    got = lite(db, "SELECT * FROM clv_segments_summary")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert lite(db, "SELECT segment FROM clv_segments")["segment"].tolist() == (
        pd.read_parquet(tmp_path / "seg.parquet")["segment"].tolist()
    )
    # the summary fails: the segments table is left as it was
    from clvmodels.data import database_write

    original = database_write.replace_table

    def fail_on_summary(session, table, frame):
        if table.name.endswith("_summary"):
            raise RuntimeError("disk full")
        original(session, table, frame)

    monkeypatch.setattr(database_write, "replace_table", fail_on_summary)
    SCORES.assign(clv=[1.0, 2.0, 3.0, 4.0]).to_parquet(scores)
    failed = run("segment", str(scores), "-o", f"sqlite:///{db}#clv.segments")
    assert failed.exit_code == 2 and "disk full" in failed.output
    assert lite(db, "SELECT clv FROM clv_segments")["clv"].tolist() == SCORES["clv"].tolist()
    mixed = run("segment", str(scores), "-o", f"sqlite:///{db}#s", "--summary", "s.csv")
    assert mixed.exit_code == 2 and "write all outputs into one database" in mixed.output


BILLING = "\n".join(
    [
        "company_id,plan,payment_date,status,paid_until,amount",
        "007,basic,2024-01-10,paid,2024-02-10,10",
        "007,basic,2024-02-10,paid,2024-03-10,10",
        "12,pro,2024-01-15,paid,2025-01-15,100",
        "3,basic,2024-02-10,success,2024-03-10,10",
    ]
)


def test_subscriptions_report_is_a_one_row_table(tmp_path):
    billing = tmp_path / "billing.csv"
    billing.write_text(BILLING + "\n")
    db = tmp_path / "subs.duckdb"
    result = run(
        "subscriptions",
        str(billing),
        "--billing-period",
        "month",
        "-o",
        f"duckdb:///{db}#saas.subs",
    )
    assert result.exit_code == 0, result.output
    assert f"wrote duckdb:///{db}#saas.subs_report" in result.output
    subs = duck(db, "SELECT * FROM saas.subs ORDER BY customer_id")
    assert subs["customer_id"].tolist() == ["007", "12", "3"]
    report = duck(db, "SELECT * FROM saas.subs_report")
    assert len(report) == 1 and report["customers"].item() == 3
    assert report["billing"].item() == str(billing)


def test_budget_and_payback_tables_are_named_beside_the_table():
    from clvmodels.data.database_url import parse_database_url
    from clvmodels.jobs.marketing_files import budget_files, payback_files

    url = parse_database_url("postgresql://h/db#mk.payback")
    names = {k: str(v.table) for k, v in payback_files(url).items()}
    assert names == {
        "cells": "mk.payback",
        "by_age": "mk.payback_by_age",
        "by_source": "mk.payback_by_source",
        "by_cohort": "mk.payback_by_cohort",
        "buyers": "mk.payback_buyers",
        "summary": "mk.payback_summary",
    }
    assert set(payback_files(url, plots_dir="p")) >= {"romi_plot", "cac_plot"}
    budget = budget_files(parse_database_url("postgresql://h/db#mk.budget"))
    assert {k: str(v.table) for k, v in budget.items()} == {
        "budget": "mk.budget",
        "forecast": "mk.budget_forecast",
    }
    result = run("budget", "--model", "m", "--payback", "duckdb:///p.duckdb#p", "-o", "b.csv")
    assert result.exit_code == 2 and "its tables in a database are not read" in result.output
