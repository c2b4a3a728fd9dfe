"""The command line never loses a file, range-checks every option, and has no tracebacks.

Output checks run before any work: the model folders here hold a bare ``model.json`` that
no command could load, so a refusal with the output message proves nothing was read first.
The option table keeps one case a line (hence ``noqa: E501``).
"""

# ruff: noqa: E501
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from clvmodels.cli import cli
from clvmodels.cli.common import (
    UserError,
)
from clvmodels.cli.outputs import check_outputs

ORDERS = "customer_id,timestamp,revenue\n1,2024-01-01,5\n1,2024-02-01,7\n2,2024-01-03,3\n"


def run(*args: str, cwd: Path):
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(old)


@pytest.fixture
def work(tmp_path) -> Path:
    (tmp_path / "orders.csv").write_text(ORDERS)
    (tmp_path / "visits.csv").write_text("uid,start_ts,end_ts,source_id\n")
    (tmp_path / "costs.csv").write_text("source_id,dt,costs\n")
    (tmp_path / "scores.csv").write_text("customer_id,clv\n1,2.0\n")
    (tmp_path / "rules.toml").write_text('[[segment]]\nname = "all"\n')
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text("{}")
    pay = tmp_path / "pay"
    pay.mkdir()
    for name in ("payback.csv", "payback_buyers.csv", "payback_summary.json"):
        (pay / name).write_text("x\n")
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def assert_refused(result, message: str, work: Path, before: dict[str, bytes]) -> None:
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: {message}; nothing was written: choose another path\n"
    assert snapshot(work) == before  # every input byte-identical, nothing new written


M = "/MODEL"  # replaced by the model folder's resolved path in the messages
PAYBACK_INPUTS = ["--visits", "visits.csv", "--costs", "costs.csv"]

REFUSED = {
    "rfm onto its input": (
        ["rfm", "orders.csv", "-o", "orders.csv"],
        "--output orders.csv is the input ORDERS",
    ),
    "rfm through ..": (
        ["rfm", "orders.csv", "-o", "model/../orders.csv"],
        "--output model/../orders.csv is the input ORDERS",
    ),
    "rfm through a symlink": (
        ["rfm", "orders.csv", "-o", "link.csv"],
        "--output link.csv is the input ORDERS",
    ),
    "rfm onto a hard link": (
        ["rfm", "orders.csv", "-o", "hard.csv"],
        "--output hard.csv is the input ORDERS",
    ),
    "fit onto its input": (
        ["fit", "orders.csv", "-o", "orders.csv"],
        "--output orders.csv is the input ORDERS",
    ),
    "fit replacing the folder of its input": (
        ["fit", "orders.csv", "-o", "."],
        "--output . holds the input ORDERS (orders.csv)",
    ),
    "fit into a model folder": (
        ["fit", "orders.csv", "-o", "model/inner"],
        f"--output model/inner is inside the model folder {M}",
    ),
    "fit onto model.json": (
        ["fit", "orders.csv", "-o", "model/model.json"],
        f"--output model/model.json is inside the model folder {M}",
    ),
    "score onto its orders": (
        ["score", "model", "orders.csv", "-o", "orders.csv"],
        "--output orders.csv is the input ORDERS",
    ),
    "score onto model.json": (
        ["score", "model", "orders.csv", "-o", "model/model.json"],
        f"--output model/model.json is inside the model folder {M}",
    ),
    "score into the model folder": (
        ["score", "model", "orders.csv", "-o", "model/scores.csv"],
        f"--output model/scores.csv is inside the model folder {M}",
    ),
    "cohorts --wide onto its input": (
        ["cohorts", "orders.csv", "-o", "c.csv", "--wide", "orders.csv"],
        "--wide orders.csv is the input ORDERS",
    ),
    "cohorts onto its input": (
        ["cohorts", "orders.csv", "-o", "orders.csv", "--no-plots"],
        "--output orders.csv is the input ORDERS",
    ),
    "cohorts plots into a model folder": (
        ["cohorts", "orders.csv", "-o", "c.csv", "--plots", "model"],
        f"--plots model/c_heatmap.png is inside the model folder {M}",
    ),
    "backtest over its input": (
        ["backtest", "totals.csv", "--calibration-end", "2024-01-15", "-o", "."],
        "--output-dir writes totals.csv, which is the input ORDERS",
    ),
    "backtest into a model folder": (
        ["backtest", "orders.csv", "--calibration-end", "2024-01-15", "-o", "model"],
        f"--output-dir model/metrics.json is inside the model folder {M}",
    ),
    "segment onto its input": (
        ["segment", "scores.csv", "-o", "scores.csv"],
        "--output scores.csv is the input SCORES",
    ),
    "segment --summary onto its input": (
        ["segment", "scores.csv", "-o", "seg.csv", "--summary", "scores.csv"],
        "--summary scores.csv is the input SCORES",
    ),
    "segment's default summary onto its input": (
        ["segment", "s_summary.csv", "-o", "s.csv"],
        "--output writes s_summary.csv, which is the input SCORES",
    ),
    "segment onto its rules": (
        ["segment", "scores.csv", "-o", "rules.csv", "--rules", "rules.csv"],
        "--output rules.csv is the input --rules",
    ),
    "payback onto --visits": (
        ["payback", "--orders", "orders.csv", *PAYBACK_INPUTS, "-o", "visits.csv"],
        "--output visits.csv is the input --visits",
    ),
    "payback's _buyers onto --orders": (
        ["payback", "--orders", "p_buyers.csv", *PAYBACK_INPUTS, "-o", "p.csv"],
        "--output writes p_buyers.csv, which is the input --orders",
    ),
    "payback plots into a model folder": (
        ["payback", "--orders", "orders.csv", *PAYBACK_INPUTS, "-o", "p.csv", "--plots", "model"],
        f"--plots model/p_romi.png is inside the model folder {M}",
    ),
    "budget onto the payback's buyers": (
        [
            "budget",
            "--model",
            "model",
            "--payback",
            "pay/payback.csv",
            "-o",
            "pay/payback_buyers.csv",
        ],
        "--output pay/payback_buyers.csv is the input --payback",
    ),
    "budget into the model folder": (
        ["budget", "--model", "model", "--payback", "pay/payback.csv", "-o", "model/b.csv"],
        f"--output model/b.csv is inside the model folder {M}",
    ),
    "report into the model folder": (
        ["report", "--orders", "orders.csv", "--model", "model", "-o", "model/report.html"],
        f"--output model/report.html is inside the model folder {M}",
    ),
    "report onto --visits": (
        [
            "report",
            "--orders",
            "orders.csv",
            "--visits",
            "r.html",
            "--costs",
            "costs.csv",
            "-o",
            "r.html",
        ],
        "--output r.html is the input --visits",
    ),
    "demo into a model folder": (
        ["demo", "--output-dir", "model"],
        "--output-dir model is a model folder",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_an_output_that_could_lose_a_file_is_refused_before_any_work(case, work):
    for name in ("totals.csv", "p_buyers.csv", "s_summary.csv", "r.html"):
        (work / name).write_text(ORDERS)
    (work / "rules.csv").write_text('[[segment]]\nname = "all"\n')
    (work / "link.csv").symlink_to("orders.csv")
    os.link(work / "orders.csv", work / "hard.csv")
    args, message = REFUSED[case]
    before = snapshot(work)
    result = run(*args, cwd=work)
    assert_refused(result, message.replace(M, str((work / "model").resolve())), work, before)


def test_fit_may_replace_a_model_folder_but_nothing_else(work):
    orders = work / "orders.csv"
    check_outputs(inputs={"ORDERS": orders}, outputs={}, model_dirs={"--output": work / "model"})
    check_outputs(inputs={"ORDERS": orders}, outputs={}, model_dirs={"--output": work / "new"})
    (work / "empty").mkdir()
    check_outputs(inputs={"ORDERS": orders}, outputs={}, model_dirs={"--output": work / "empty"})
    with pytest.raises(UserError) as info:
        check_outputs(inputs={"ORDERS": orders}, outputs={}, model_dirs={"--output": work / "pay"})
    assert str(info.value) == (
        f"--output {work / 'pay'} is a folder that is not a model folder (it has no model.json) "
        "and is not empty; nothing was written: choose another path"
    )
    with pytest.raises(UserError, match="is a file, not a model folder"):
        check_outputs(inputs={}, outputs={}, model_dirs={"--output": work / "scores.csv"})


def test_outputs_elsewhere_and_urls_pass(work):
    check_outputs(
        inputs={"ORDERS": work / "orders.csv", "--orders": "s3a://bucket/orders/", "--x": None},
        outputs={"--output": [work / "out.csv", work / "out_summary.csv"], "--wide": None},
    )


# ------------------------------------------------------------------ option ranges
SCORE = ["score", "model", "orders.csv", "-o", "s.csv"]
REPORT = ["report", "--orders", "orders.csv", "-o", "r.html"]
COHORTS = ["cohorts", "orders.csv", "-o", "c.csv"]
PAYBACK = ["payback", "--orders", "orders.csv", *PAYBACK_INPUTS, "-o", "p.csv"]
BUDGET = ["budget", "--model", "model", "--payback", "pay/payback.csv", "-o", "b.csv"]
BACKTEST = ["backtest", "orders.csv", "--calibration-end", "2024-01-15", "-o", "bt"]
NEVER = " (a 'never' date such as 9999-12-31 is not a day)"
DAYS = "must be a day from 1900-01-01 to 2200-12-31; got"

OUT_OF_RANGE = [
    (SCORE, "--margin", "nan", "--margin must be within (0, 1]; got nan"),
    (SCORE, "--margin", "0", "--margin must be within (0, 1]; got 0.0"),
    (COHORTS, "--margin", "1.5", "--margin must be within (0, 1]; got 1.5"),
    (PAYBACK, "--margin", "inf", "--margin must be within (0, 1]; got inf"),
    (REPORT, "--margin", "-inf", "--margin must be within (0, 1]; got -inf"),
    (SCORE, "--margin", "lots", "--margin takes a number; got 'lots'"),
    (SCORE, "--annual-discount-rate", "inf", "--annual-discount-rate must be within [0, 10]; got inf"),
    (SCORE, "--annual-discount-rate", "nan", "--annual-discount-rate must be within [0, 10]; got nan"),
    (BUDGET, "--annual-discount-rate", "-0.1", "--annual-discount-rate must be within [0, 10]; got -0.1"),
    (REPORT, "--annual-discount-rate", "11", "--annual-discount-rate must be within [0, 10]; got 11.0"),
    (SCORE, "--horizon", "99999999999M", "--horizon: a duration must be at most 100 years (1200M); got 99999999999M"),
    (REPORT, "--horizon", "5218W", "--horizon: a duration must be at most 100 years (5217W); got 5218W"),
    (SCORE, "--horizon", "36526D", "--horizon: a duration must be at most 100 years (36525D); got 36526D"),
    (SCORE, "--horizon", "0M", "--horizon: a duration is a positive number followed by D, W or M (such as 39W, 90D, 12M); got '0M'"),
    (SCORE, "--observation-end", "9999-12-31", f"--observation-end {DAYS} 9999-12-31{NEVER}"),
    (SCORE, "--observation-end", "1600-01-01", f"--observation-end {DAYS} 1600-01-01"),
    (["rfm", "orders.csv", "-o", "r.csv"], "--observation-end", "2262-04-12", f"--observation-end {DAYS} 2262-04-12{NEVER}"),
    (["rfm", "orders.csv", "-o", "r.csv"], "--calibration-end", "1677-09-21", f"--calibration-end {DAYS} 1677-09-21"),
    (["fit", "orders.csv", "-o", "m"], "--observation-end", "9999-12-31", f"--observation-end {DAYS} 9999-12-31{NEVER}"),
    (COHORTS, "--observation-end", "1899-12-31", f"--observation-end {DAYS} 1899-12-31"),
    (BACKTEST, "--observation-end", "2201-01-01", f"--observation-end {DAYS} 2201-01-01{NEVER}"),
    (["backtest", "orders.csv", "-o", "bt"], "--calibration-end", "1600-01-01", f"--calibration-end {DAYS} 1600-01-01"),
    (PAYBACK, "--observation-end", "9999-12-31", f"--observation-end {DAYS} 9999-12-31{NEVER}"),
    (["fit", "orders.csv", "-o", "m"], "--chains", "65", "--chains must be a whole number from 1 to 64; got '65'"),
    (["fit", "orders.csv", "-o", "m"], "--draws", "0", "--draws must be a whole number from 1 to 100,000; got '0'"),
    (["fit", "orders.csv", "-o", "m"], "--tune", "1000000", "--tune must be a whole number from 0 to 100,000; got '1000000'"),
    (["fit", "orders.csv", "-o", "m"], "--seed", "-1", "--seed must be a whole number from 0 to 4,294,967,295; got '-1'"),
    (SCORE, "--draws", "100001", "--draws must be a whole number from 1 to 100,000; got '100001'"),
    (BUDGET, "--horizon-months", "1201", "--horizon-months must be a whole number from 1 to 1,200; got '1201'"),
    (BUDGET, "--target-payback-months", "0", "--target-payback-months must be a whole number from 1 to 1,200; got '0'"),
    (BUDGET, "--recent-periods", "99999999999999999999", "--recent-periods must be a whole number from 1 to 1,200; got '99999999999999999999'"),
    (PAYBACK, "--horizons", "6,1201", "--horizons takes whole numbers from 1 to 1200 such as 6,12,24; got '6,1201'"),
    (["demo"], "--customers", "100000000", "--customers must be a whole number from 100 to 10,000,000; got '100000000'"),
]  # fmt: skip


@pytest.mark.parametrize(("command", "flag", "value", "message"), OUT_OF_RANGE)
def test_out_of_range_options_are_one_line_errors(work, command, flag, value, message):
    before = snapshot(work)
    result = run(*command, flag, value, cwd=work)
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: {message}\n"
    assert snapshot(work) == before


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--margin", "1"), ("--margin", "1e-9"), ("--annual-discount-rate", "0"),
     ("--annual-discount-rate", "10"), ("--horizon", "1200M"), ("--horizon", "5217W"),
     ("--observation-end", "2200-12-31"), ("--observation-end", "1900-01-01")],
)  # fmt: skip
def test_the_ends_of_each_range_are_accepted(work, flag, value):
    result = run(*SCORE, flag, value, cwd=work)
    assert result.exit_code == 2  # refused later, for the bare model folder: not the option
    assert result.output == "Error: model/model.json is not a clvmodels model file\n"


# ------------------------------------------------------------------ tracebacks turned into messages
SCORES = "customer_id,frequency,recency,T,monetary_value,p_alive,expected_purchases,clv\na,1,2,3,4,0.5,1,9\n"
RULE = '[[segment]]\nname = "a"\n{body}\n[[segment]]\nname = "rest"\n'
BAD_RULES = {
    "deeply nested arrays": (
        "x = " + "[" * 100_000 + "]" * 100_000,
        "segment rules R: not valid rules: arrays or tables nested too deeply",
    ),
    "deeply nested tables": (
        "x = " + "{y = " * 100_000 + "1" + "}" * 100_000,
        "segment rules R: not valid rules: arrays or tables nested too deeply",
    ),
    "an integer too large for a float": (
        RULE.format(body="frequency = { min = 1" + "0" * 400 + " }"),
        "segment rules R, line 3: rule 'a': 'frequency' min must be a finite number, not 100000000000... (401 digits)",
    ),
    "an integer past tomllib's limit": (
        RULE.format(body="frequency = 1" + "0" * 5000),
        "segment rules R: not valid TOML: Exceeds the limit (4300 digits) for integer string conversion: value has 5001 digits; use sys.set_int_max_str_digits() to increase the limit",
    ),
    "inf bound": (
        RULE.format(body="p_alive = { below = inf }"),
        "segment rules R, line 3: rule 'a': 'p_alive' below must be a finite number, not inf",
    ),
    "nan value": (
        RULE.format(body="frequency = [1, nan]"),
        "segment rules R, line 3: rule 'a': 'frequency' takes finite numbers, not nan",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_RULES)
def test_malformed_rules_are_one_line_errors(work, case):
    text, message = BAD_RULES[case]
    (work / "bad.toml").write_text(text)
    (work / "scored.csv").write_text(SCORES)
    result = run("segment", "scored.csv", "-o", "seg.csv", "--rules", "bad.toml", cwd=work)
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: {message.replace('R', 'bad.toml', 1)}\n"
    assert not (work / "seg.csv").exists()


@pytest.mark.parametrize("command", ["show", "score"])
def test_a_file_given_as_the_model_folder(work, command):
    args = [command, "orders.csv"] + (["orders.csv", "-o", "s.csv"] if command == "score" else [])
    result = run(*args, cwd=work)
    assert result.exit_code == 2
    assert result.output == "Error: orders.csv is not a model directory: it is a file\n"


@pytest.mark.parametrize(
    ("output", "message"),
    [("orders", "is the input --orders"), (".", "holds the input --orders (orders)")],
)
def test_the_spark_rfm_script_never_replaces_its_input(work, output, message):
    script = Path(__file__).resolve().parents[2] / "scripts" / "spark_rfm.py"
    (work / "orders").mkdir()
    (work / "orders" / "part-0.csv").write_text(ORDERS)
    before = snapshot(work)
    result = subprocess.run(
        [sys.executable, str(script), "--orders", "orders", "--output", output],
        capture_output=True,
        text=True,
        cwd=work,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == f"Error: --output {output} {message}; nothing was written\n"
    assert snapshot(work) == before
