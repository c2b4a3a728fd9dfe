"""A transaction-only log (customer, date; no revenue column) through the command line.

Every command runs through click's CliRunner on a small CSV, and the assertions are what the
user sees: the lines that say which columns were written and why, the no-CLV rules, the
errors. The oracle for the predictions is the same log with a constant revenue column, fitted
and scored through the command line as well: the purchase model sees the same (x, t_x, T).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli
from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import NO_SPEND_REASON

PURCHASE_COLUMNS = [
    "p_alive",
    "expected_purchases",
    "expected_purchases_low",
    "expected_purchases_high",
]
MISSING_REVENUE = (
    "Error: the orders table has no column 'revenue'. Its columns are: customer_id, timestamp. "
    "Name yours with --revenue-col (or pass --no-revenue, revenue_col=None, for a log without "
    "revenue)"
)


def run(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The same simulated log twice: customer and time only, and with revenue 10 per order."""
    folder = tmp_path_factory.mktemp("no_revenue_cli")
    simulated, _ = simulate_orders(300, seed=3)
    paths = {"orders": folder / "visits.csv", "with_revenue": folder / "orders.csv"}
    simulated[["customer_id", "timestamp"]].to_csv(paths["orders"], index=False)
    simulated.assign(revenue=10.0).to_csv(paths["with_revenue"], index=False)
    paths["folder"] = folder
    return paths


@pytest.fixture(scope="module")
def fitted(files) -> dict[str, object]:
    """`clv fit --no-revenue` on the log without revenue, and `clv fit` on the one with it."""
    folder = files["folder"]
    no_revenue = run("fit", files["orders"], "--no-revenue", "-o", folder / "model")
    with_revenue = run("fit", files["with_revenue"], "-o", folder / "model_revenue")
    return {"no_revenue": no_revenue, "with_revenue": with_revenue}


def test_fit_and_show_say_there_is_no_spend_model(files, fitted):
    result = fitted["no_revenue"]
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "fitting on 300 customers (150 repeat) with orders up to 2025-12-30; time unit weeks; "
        "model bgnbd, method map, default priors\n"
    )
    assert f"\nno spend model: {NO_SPEND_REASON}\n" in result.output
    assert "Gamma-Gamma" not in result.output
    model = files["folder"] / "model"
    assert sorted(p.name for p in model.iterdir()) == ["model.json", "transaction_posterior.nc"]
    shown = run("show", model)
    assert f"\nno spend model: {NO_SPEND_REASON}\n" in shown.output
    as_json = json.loads(run("show", model, "--json").output)
    assert as_json["revenue"] == "none"
    assert as_json["spend_model"] is None
    assert as_json["no_spend_model"] == NO_SPEND_REASON
    assert as_json["transaction_model"]["name"] == "bgnbd"


def test_score_writes_purchases_only_and_says_why_and_segment_uses_the_no_clv_rules(files, fitted):
    folder = files["folder"]
    scored = run(
        "score", folder / "model", files["orders"], "--no-revenue", "-o", folder / "scores.csv"
    )
    assert scored.exit_code == 0, scored.output
    assert (
        "  columns: customer_id, frequency, recency, T, p_alive, expected_purchases, "
        "expected_purchases_low, expected_purchases_high\n"
        "  no expected_spend or clv columns: the model was fitted without revenue (no spend "
        "model), so it predicts purchases only\n"
    ) in scored.output
    assert "total CLV" not in scored.output
    written = pd.read_csv(folder / "scores.csv")
    assert list(written.columns) == ["customer_id", "frequency", "recency", "T", *PURCHASE_COLUMNS]

    segmented = run("segment", folder / "scores.csv", "-o", folder / "segments.csv")
    assert segmented.exit_code == 0, segmented.output
    assert segmented.output.startswith(
        "rules: default rules: clvmodels/segment_rules_no_clv.toml\n"
        "the scores have no CLV (the model was fitted without revenue): the rules use only "
        "P(alive), expected purchases, frequency, recency and tenure\n"
    )
    segments = pd.read_csv(folder / "segments.csv")
    assert "clv_percentile" not in segments.columns
    assert len(segments) == 300


def test_predictions_equal_those_of_the_same_log_with_constant_revenue(files, fitted):
    folder = files["folder"]
    assert fitted["with_revenue"].exit_code == 0, fitted["with_revenue"].output
    none = json.loads(run("show", folder / "model", "--json").output)
    revenue = json.loads(run("show", folder / "model_revenue", "--json").output)
    assert none["transaction_model"]["params"] == revenue["transaction_model"]["params"]
    assert revenue["spend_model"]["name"] == "gamma_gamma"
    for model, orders, extra, out in (
        ("model", "orders", ["--no-revenue"], "purchases_none.csv"),
        ("model_revenue", "with_revenue", [], "purchases_revenue.csv"),
    ):
        args = [folder / model, files[orders], *extra, "--horizon", "26W", "-o", folder / out]
        result = run("score", *args)
        assert result.exit_code == 0, result.output
    without = pd.read_csv(folder / "purchases_none.csv")
    with_revenue = pd.read_csv(folder / "purchases_revenue.csv")
    assert "clv" in with_revenue.columns and "clv" not in without.columns
    pd.testing.assert_frame_equal(
        without[["customer_id", *PURCHASE_COLUMNS]],
        with_revenue[["customer_id", *PURCHASE_COLUMNS]],
    )


def test_backtest_measures_purchases_only(files):
    folder = files["folder"]
    common = ["--calibration-end", "2025-01-31", "--models", "bgnbd"]
    result = run("backtest", files["orders"], "--no-revenue", *common, "-o", folder / "bt")
    assert result.exit_code == 0, result.output
    assert (
        "the orders have no revenue: purchase metrics only (no spend model, no revenue totals)\n"
    ) in result.output
    metrics = json.loads((folder / "bt" / "metrics.json").read_text())
    assert metrics["revenue"] is False
    assert metrics["measured"] == "purchases only (no revenue)"
    totals = pd.read_csv(folder / "bt" / "totals.csv")
    assert not [c for c in totals.columns if "revenue" in c]
    # the same purchase metrics as the log with a constant revenue column
    with_revenue = run("backtest", files["with_revenue"], *common, "-o", folder / "bt_revenue")
    assert with_revenue.exit_code == 0, with_revenue.output
    reference = pd.read_csv(folder / "bt_revenue" / "totals.csv")
    pd.testing.assert_frame_equal(totals, reference[list(totals.columns)])


def test_report_takes_the_orders_without_revenue(files, fitted):
    folder = files["folder"]
    result = run(
        "report",
        "--orders",
        files["orders"],
        "--no-revenue",
        "--model",
        folder / "model",
        "-o",
        folder / "report.html",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  data        shown" in lines
    assert "  model       shown" in lines
    assert "  segments    shown" in lines
    assert (
        "  cohorts     could not be computed from these inputs: cohort LTV needs revenue: read a "
        "revenue column, or give every order a value with --value-per-order (value_per_order)"
    ) in lines
    html = (folder / "report.html").read_text()
    assert "none (read with --no-revenue)" in html
    assert f"No spend model: {NO_SPEND_REASON}" in html
    assert "fitted on these orders</th><td>yes" in html


@pytest.mark.parametrize(
    "command",
    [
        ["fit", "{orders}", "-o", "{folder}/refused"],
        ["rfm", "{orders}", "-o", "{folder}/refused.csv"],
        ["score", "{folder}/model", "{orders}", "-o", "{folder}/refused.csv"],
        ["backtest", "{orders}", "--calibration-end", "2025-01-31", "-o", "{folder}/refused"],
        ["report", "--orders", "{orders}", "-o", "{folder}/refused.html"],
    ],
    ids=lambda c: c[0],
)
def test_a_missing_revenue_column_without_no_revenue_stays_an_error(files, fitted, command):
    args = [a.format(orders=files["orders"], folder=files["folder"]) for a in command]
    result = run(*args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == MISSING_REVENUE
    assert "Traceback" not in result.output
    assert not list(files["folder"].glob("refused*"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--value-per-order", "25"], "Error: --value-per-order goes with --no-revenue"),
        (
            ["--no-revenue", "--value-per-order", "nan"],
            "Error: --value-per-order must be within (0, 1e+12]; got nan",
        ),
        (
            ["--no-revenue", "--value-per-order", "inf"],
            "Error: --value-per-order must be within (0, 1e+12]; got inf",
        ),
        (
            ["--no-revenue", "--value-per-order", "0"],
            "Error: --value-per-order must be within (0, 1e+12]; got 0.0",
        ),
        (
            ["--no-revenue", "--value-per-order", "-1"],
            "Error: --value-per-order must be within (0, 1e+12]; got -1.0",
        ),
        (
            ["--no-revenue", "--value-per-order", "abc"],
            "Error: --value-per-order takes a number; got 'abc'",
        ),
    ],
    ids=["without --no-revenue", "nan", "inf", "zero", "negative", "text"],
)
@pytest.mark.parametrize("command", ["fit", "backtest"])
def test_value_per_order_needs_no_revenue_and_a_finite_positive_number(
    files, options, message, command
):
    folder = files["folder"]
    extra = ["--calibration-end", "2025-01-31"] if command == "backtest" else []
    result = run(command, files["orders"], *options, *extra, "-o", folder / "refused_value")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (folder / "refused_value").exists()
