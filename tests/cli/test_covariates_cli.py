"""`clv fit --customers ... --covariates ...` and `clv show` with covariates, through click."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels.cli import cli
from clvmodels.examples.simulate import simulate_orders
from clvmodels.persistence import load_model


def run(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Two channels simulated apart: "app" customers buy twice as fast (alpha halved)."""
    folder = tmp_path_factory.mktemp("covariates_cli")
    web, _ = simulate_orders(400, seed=1, bgnbd={"r": 1.0, "alpha": 6.0, "a": 0.8, "b": 2.5})
    app, _ = simulate_orders(300, seed=2, bgnbd={"r": 1.0, "alpha": 3.0, "a": 0.8, "b": 2.5})
    app = app.assign(customer_id=app["customer_id"] + 1000)
    orders = pd.concat([web, app], ignore_index=True)
    ids = orders["customer_id"].unique()
    rng = np.random.default_rng(0)
    customers = pd.DataFrame(
        {
            "id": [f"{i:05d}" for i in ids],  # zero-padded: matched as written
            "channel": np.where(ids > 1000, "app", "web"),
            "gender": rng.choice(["f", "m"], len(ids)),
        }
    )
    paths = {"orders": folder / "orders.csv", "customers": folder / "customers.csv"}
    orders.assign(customer_id=[f"{i:05d}" for i in orders["customer_id"]]).to_csv(
        paths["orders"], index=False
    )
    customers.to_csv(paths["customers"], index=False)
    customers.iloc[1:].to_csv(folder / "missing_one.csv", index=False)
    pd.concat([customers, customers.head(2)]).to_csv(folder / "duplicated.csv", index=False)
    customers.assign(gender=customers["gender"].where(customers.index % 50 > 0)).to_csv(
        folder / "gaps.csv", index=False
    )
    paths["folder"] = folder
    return paths


@pytest.fixture(scope="module")
def fitted(files):
    """One fit: channel and gender on the purchase rate, channel on dropout."""
    folder = files["folder"]
    args = ("fit", files["orders"], "--customers", files["customers"], "--customer-key", "id")
    return run(
        *args,
        "--purchase-covariates",
        "channel,gender",
        "--dropout-covariates",
        "channel",
        "-o",
        folder / "m",
    )


def test_fit_with_covariates_and_show(files, fitted) -> None:
    folder = files["folder"]
    result = fitted
    assert result.exit_code == 0, result.output
    assert "covariates: purchase channel, gender, dropout channel" in result.output
    assert "reference customer: channel = web, gender = " in result.output
    assert "--method laplace" in result.output
    assert "distinct (x, t_x, T, covariates) tuples of 700 customers" in result.output
    shown = json.loads(run("show", folder / "m", "--json").output)
    rows = {(r["process"], r["feature"]): r for r in shown["coefficients"]["rows"]}
    # app customers buy twice as fast as web ones: a multiplier of ~2 on the purchase rate
    assert rows[("purchase", "channel=app")]["multiplier_mean"] == pytest.approx(2.0, rel=0.35)
    assert shown["encoding"]["columns"][0]["reference"] == "web"
    text = run("show", folder / "m").output
    assert "channel=app" in text and "purchase rate" in text


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("missing_one.csv", "customers of the orders are not in the customers table (1 row"),
        ("duplicated.csv", "column 'id': customers listed more than once in the customers table"),
        ("gaps.csv", "column 'gender': missing covariate values"),
    ],
)
def test_bad_customers_tables_exit_2(files, table: str, message: str) -> None:
    folder = files["folder"]
    result = run(
        "fit",
        files["orders"],
        "--customers",
        folder / table,
        "--customer-key",
        "id",
        "--covariates",
        "channel,gender",
        "-o",
        folder / "bad",
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_score_takes_the_customers_table(files, fitted) -> None:
    folder = files["folder"]
    assert fitted.exit_code == 0, fitted.output
    scores_path = folder / "scores.csv"
    args = ("score", folder / "m", files["orders"], "-o", scores_path, "--horizon", "39W")
    without = run(*args)
    assert without.exit_code == 2
    assert "the model was fitted with covariates (channel, gender)" in without.output
    scored = run(*args, "--customers", files["customers"], "--customer-key", "id")
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(scores_path, dtype={"customer_id": str})
    customers = pd.read_csv(files["customers"], dtype={"id": str}).set_index("id")
    rfm = scores.join(customers[["channel", "gender"]], on="customer_id")
    # each customer scored with their own channel's parameters
    model = load_model(folder / "m").transaction_model_
    expected = model.expected_purchases(rfm, 39.0).mean(axis=0)
    np.testing.assert_allclose(scores["expected_purchases"], expected, rtol=1e-6)
    np.testing.assert_allclose(
        scores["p_alive"], model.probability_alive(rfm).mean(axis=0), rtol=1e-6
    )
    assert rfm.groupby("channel")["p_alive"].mean().nunique() == 2


def test_backtest_fits_every_model_with_the_covariates(files) -> None:
    folder = files["folder"]
    result = run(
        "backtest",
        files["orders"],
        "--calibration-end",
        "2025-06-30",
        "--models",
        "bgnbd",
        "--customers",
        files["customers"],
        "--customer-key",
        "id",
        "--purchase-covariates",
        "channel",
        "-o",
        folder / "backtest",
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((folder / "backtest" / "metrics.json").read_text())
    assert "bgnbd" in json.dumps(metrics)
    tracking = pd.read_csv(folder / "backtest" / "tracking.csv")
    assert tracking["bgnbd"].iloc[-1] > 0
