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


def test_fit_with_covariates_and_show(files) -> None:
    folder = files["folder"]
    args = ("fit", files["orders"], "--customers", files["customers"], "--customer-key", "id")
    result = run(*args, "--purchase-covariates", "channel,gender", "-o", folder / "m")
    assert result.exit_code == 0, result.output
    assert "covariates: purchase channel, gender, dropout none" in result.output
    assert "reference customer: channel = web, gender = " in result.output
    assert "--method laplace" in result.output
    shown = json.loads(run("show", folder / "m", "--json").output)
    rows = {r["feature"]: r for r in shown["coefficients"]["rows"]}
    # app customers buy twice as fast as web ones: a multiplier of ~2 on the purchase rate
    assert rows["channel=app"]["multiplier_mean"] == pytest.approx(2.0, rel=0.35)
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
