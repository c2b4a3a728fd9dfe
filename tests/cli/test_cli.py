"""The `clv` command end to end, and every bad input the pipeline issue lists."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BGNBD_PUBLISHED

from clvmodels.cli import cli

MAPPING = ["--customer-col", "client_id", "--date-col", "buy_ts", "--revenue-col", "amount"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


@pytest.fixture(scope="module")
def cdnow_csv(cdnow_orders, tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "orders.csv"
    cdnow_orders.rename(
        columns={"customer_id": "client_id", "timestamp": "buy_ts", "revenue": "amount"}
    ).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(cdnow_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "model"
    result = run(
        "fit",
        str(cdnow_csv),
        *MAPPING,
        "-o",
        str(out),
        "--priors",
        "flat",
        "--observation-end",
        "1997-09-30",
    )
    assert result.exit_code == 0, result.output
    return out


def test_every_command_has_help():
    from clvmodels.cli import COMMANDS, load_command

    for name in COMMANDS:
        command = load_command(name)
        result = run(name, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.output, name
        assert command.help


def test_rfm_command_writes_holdout_columns(cdnow_csv, tmp_path, cdnow_rfm):
    out = tmp_path / "rfm.csv"
    result = run(
        "rfm",
        str(cdnow_csv),
        *MAPPING,
        "--time-unit",
        "W",
        "--calibration-end",
        "1997-09-30",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert list(written.columns) == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "litt",
        "monetary_value",
        "frequency_holdout",
        "monetary_value_holdout",
        "duration_holdout",
    ]
    pd.testing.assert_frame_equal(written, cdnow_rfm.reset_index(drop=True), check_dtype=False)
    assert "2,357 customers" in result.output


def test_fit_show_json(model_dir):
    result = run("show", str(model_dir), "--json")
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["time_unit"] == "W"
    assert shown["transaction_model"]["name"] == "bgnbd"
    assert set(shown["transaction_model"]["params"]) == {"r", "alpha", "a", "b"}
    assert shown["spend_model"]["name"] == "gamma_gamma"
    assert set(shown["spend_model"]["params"]) == {"p", "q", "v"}
    for name, value in BGNBD_PUBLISHED.items():
        assert shown["transaction_model"]["params"][name] == pytest.approx(value, rel=0.005)
    assert shown["calibration_end"] == "1997-09-30"
    assert len(shown["input"]["fingerprint"]) == 64
    text = run("show", str(model_dir))
    assert "converged" in text.output and "94% interval" in text.output


def test_fit_ignores_orders_after_observation_end(model_dir, cdnow_orders):
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["input"]["n_orders"] == int((cdnow_orders["timestamp"] <= "1997-09-30").sum())
    assert meta["n_customers"] == 2357


def test_score_command(model_dir, cdnow_csv, tmp_path):
    out = tmp_path / "scores.parquet"
    result = run(
        "score", str(model_dir), str(cdnow_csv), *MAPPING, "--horizon", "39W", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "orders up to 1997-09-30 (the model's observation end)" in result.output
    scores = pd.read_parquet(out)
    assert len(scores) == 2357
    customer = scores.set_index("customer_id").loc[1]  # x=2, t_x=30.43, T=38.86
    assert customer["expected_purchases"] == pytest.approx(1.226, abs=0.002)
    assert customer["p_alive"] == pytest.approx(0.727, abs=0.002)
    later = run(
        "score",
        str(model_dir),
        str(cdnow_csv),
        *MAPPING,
        "--observation-end",
        "1998-06-30",
        "-o",
        str(tmp_path / "later.csv"),
    )
    assert "1998-06-30 (given with --observation-end)" in later.output


def test_python_dash_m_runs():
    result = subprocess.run(
        [sys.executable, "-m", "clvmodels", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "clv" in result.stdout


# ------------------------------------------------------------------ reading real tables
def test_reads_parquet_duckdb_and_sqlite(cdnow_orders, tmp_path):
    renamed = cdnow_orders.rename(columns={"customer_id": "uid", "timestamp": "created_at"})
    parquet = tmp_path / "o.parquet"
    renamed.to_parquet(parquet)
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("df", renamed)
        con.execute("CREATE TABLE orders AS SELECT * FROM df")
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    lite = tmp_path / "shop.sqlite"
    with sqlite3.connect(lite) as con:
        renamed.assign(created_at=renamed["created_at"].astype(str)).to_sql("orders", con)
    mapping = ["--customer-col", "uid", "--date-col", "created_at"]
    outputs = []
    for source, extra in (
        (parquet, []),
        (db, ["--table", "orders"]),
        (lite, ["--query", "SELECT * FROM orders WHERE revenue >= 0"]),
    ):
        out = tmp_path / f"{source.stem}.csv"
        result = run("rfm", str(source), *mapping, *extra, "-o", str(out))
        assert result.exit_code == 0, result.output
        outputs.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])
    pd.testing.assert_frame_equal(outputs[0], outputs[2])
    ambiguous = run("rfm", str(db), *mapping, "-o", str(tmp_path / "x.csv"))
    assert ambiguous.exit_code == 2 and "--table" in ambiguous.output


# ------------------------------------------------------------------ bad input
def write_csv(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


GOOD = "customer_id,timestamp,revenue\n"
BAD_INPUTS = {
    "missing column": ("customer_id,date,revenue\n1,2024-01-01,5\n", "no column 'timestamp'"),
    "unparsable dates": (
        GOOD + "1,2024-01-01,5\n2,yesterday,3\n3,31/31/2024,4\n",
        "column 'timestamp': dates that cannot be parsed (2 rows, e.g. 'yesterday'",
    ),
    "empty ids": (
        GOOD + "1,2024-01-01,5\n,2024-01-02,3\n ,2024-01-03,3\n",
        "column 'customer_id': empty or missing customer ids (2 rows, e.g. row 2, row 3)",
    ),
    "nan revenue": (
        GOOD + "1,2024-01-01,5\n2,2024-01-02,\n",
        "column 'revenue': missing (NaN) or infinite revenue (1 row",
    ),
    "text revenue": (
        GOOD + "1,2024-01-01,5\n2,2024-01-02,abc\n",
        "column 'revenue': revenue that is not a number (1 row, e.g. 'abc')",
    ),
    "negative revenue": (
        GOOD + "1,2024-01-01,5\n1,2024-01-01,-2\n2,2024-01-02,-1\n",
        "column 'revenue': negative revenue (refunds) (2 rows, e.g. -2.0, -1.0)",
    ),
    "empty table": (GOOD, "the orders table has no rows"),
    "not a table": (
        "just one line of prose without commas\nand another\n",
        "does not look like a table",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["rfm", "fit"])
def test_bad_input_exit_code_message_and_no_output(case, command, tmp_path):
    text, message = BAD_INPUTS[case]
    source = write_csv(tmp_path / "orders.csv", text)
    out = tmp_path / ("out.csv" if command == "rfm" else "model")
    if command == "rfm":
        out.write_text("previous good output\n")
    result = run(command, str(source), "-o", str(out))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    if command == "rfm":
        assert out.read_text() == "previous good output\n"
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files left"


def test_non_utf8_csv(tmp_path):
    source = write_csv(
        tmp_path / "o.csv", GOOD + "1,2024-01-01,5\nJürgen,2024-01-02,3\n", encoding="latin-1"
    )
    result = run("rfm", str(source), "-o", str(tmp_path / "r.csv"))
    assert result.exit_code == 2
    assert "not UTF-8 text: line 3" in result.output and "--encoding latin-1" in result.output
    fixed = run("rfm", str(source), "--encoding", "latin-1", "-o", str(tmp_path / "r.csv"))
    assert fixed.exit_code == 0, fixed.output
    assert "Jürgen" in (tmp_path / "r.csv").read_text()


def test_refunds_net_and_duplicates(tmp_path):
    source = write_csv(
        tmp_path / "o.csv",
        GOOD + "1,2024-01-01,5\n1,2024-01-01,-2\n"
        "2,2024-01-02,3\n2,2024-01-02,-3\n2,2024-02-02,4\n2,2024-02-02,4\n",
    )
    result = CliRunner().invoke(
        cli,
        ["rfm", str(source), "--refunds", "net", "-o", str(tmp_path / "r.csv"), "--time-unit", "D"],
    )
    assert result.exit_code == 0, result.output
    assert "netted 2 refund rows" in result.output
    assert "dropped 1 customer-days" in result.output
    assert "1 order rows are exact duplicates" in result.output
    rfm = pd.read_csv(tmp_path / "r.csv").set_index("customer_id")
    assert rfm.loc[1, "frequency"] == 0
    # customer 2: the netted-out first day is gone; the duplicated 2024-02-02 rows stay one day
    assert rfm.loc[2, "frequency"] == 0
    deduped = CliRunner().invoke(
        cli, ["rfm", str(source), "--refunds", "net", "--dedupe", "-o", str(tmp_path / "r2.csv")]
    )
    assert "dropped 1 exact duplicate" in deduped.output


def test_too_few_customers_to_fit(tmp_path):
    source = write_csv(
        tmp_path / "o.csv", GOOD + "1,2024-01-01,5\n1,2024-01-05,6\n2,2024-01-02,3\n"
    )
    result = run("fit", str(source), "-o", str(tmp_path / "model"))
    assert result.exit_code == 2
    assert "too few customers to fit BG/NBD: 2" in result.output
    assert not (tmp_path / "model").exists()


def test_missing_file_and_bad_output_suffix(tmp_path):
    missing = run("rfm", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "r.csv"))
    assert missing.exit_code == 2 and "file not found" in missing.output
    source = write_csv(tmp_path / "o.csv", GOOD + "1,2024-01-01,5\n")
    suffix = run("rfm", str(source), "-o", str(tmp_path / "r.xlsx"))
    assert suffix.exit_code == 2 and ".parquet, .csv, .json" in suffix.output


def test_score_with_a_broken_model_dir(tmp_path, cdnow_csv):
    (tmp_path / "m").mkdir()
    result = run(
        "score", str(tmp_path / "m"), str(cdnow_csv), *MAPPING, "-o", str(tmp_path / "s.csv")
    )
    assert result.exit_code == 2 and "not a model directory" in result.output


def test_console_script_bad_input_has_no_traceback(tmp_path):
    source = write_csv(tmp_path / "o.csv", GOOD + "1,not a date,5\n")
    result = subprocess.run(
        [sys.executable, "-m", "clvmodels", "rfm", str(source), "-o", str(tmp_path / "r.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("Error: column 'timestamp'")
    assert "Traceback" not in result.stderr
