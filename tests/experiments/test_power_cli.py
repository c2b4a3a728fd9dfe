"""`clv power` end to end: the printed assumptions, --json, baselines from orders and a model."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior
from statsmodels.stats.power import tt_ind_solve_power

from clvmodels.cli import cli
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.persistence import load_model, save_model
from clvmodels.summaries.rfm import rfm_summary

END = "2024-06-30"


def run(*args: str):
    return CliRunner().invoke(cli, ["power", *args], catch_exceptions=True)


def as_json(*args: str) -> dict:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    """40 customers, 1 to 6 orders each in the first half of 2024, revenue 5 to 80."""
    rng = np.random.default_rng(3)
    rows = []
    for customer in range(1, 41):
        first = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        for k in range(int(rng.integers(1, 7))):
            day = first + pd.Timedelta(days=int(k * rng.integers(5, 25)))
            rows.append((customer, min(day, pd.Timestamp(END)), float(rng.integers(5, 81))))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "revenue"])


def fixed_model(spend: bool = True) -> CLVModel:
    return CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(
            fixed_posterior(BGNBD_PUBLISHED, n_draws=40), {"method": "mcmc"}, method="mcmc"
        ),
        GammaGammaModel.from_posterior(
            fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=40, seed=1),
            {"method": "mcmc"},
            method="mcmc",
        )
        if spend
        else None,
        time_unit="W",
        method="mcmc",
        data_info={"calibration_end": END, "first_order": "2024-01-01", "n_customers": 40},
    )


def test_conversion_prints_every_assumption():
    result = run(
        "--metric",
        "conversion",
        "--baseline-rate",
        "0.1",
        "--mde-relative",
        "0.1",
        "--daily-users",
        "1000",
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    h = 2 * math.asin(math.sqrt(0.11)) - 2 * math.asin(math.sqrt(0.1))
    for needed in (
        "users per arm",
        "power 0.8",
        "alpha 0.05",
        "two-sided",
        "NormalIndPower",
        f"cohens_h = {h:.6g}",
        "baseline 0.1, target 0.11",
        "days",
        "ceil(arms * n_per_arm / daily_users)",
    ):
        assert needed in text, needed


def test_json_mean_has_the_published_n():
    out = as_json("--metric", "mean", "--baseline-sd", "10", "--mde-absolute", "5")
    assert out["n_per_arm"] == 64  # d = 0.5: tt_ind_solve_power 63.77
    assert out["baseline_sd"] == 10.0 and out["baseline_source"] == "given"


def test_mean_from_orders_uses_the_window_revenue(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "uid,ts,amount\n"
        "a,2024-01-01,10\na,2024-01-05,20\na,2024-02-01,500\n"  # 30 in the 14-day window
        "b,2024-01-02,5\n"  # 5
        "c,2024-01-10,40\nc,2024-01-23,2\n"  # 42
        "d,2024-02-20,7\n"  # its window passes the last order's day: left out
    )
    out = as_json(
        "--metric",
        "mean",
        "--orders",
        str(path),
        "--customer-col",
        "uid",
        "--date-col",
        "ts",
        "--revenue-col",
        "amount",
        "--window-days",
        "14",
        "--mde-relative",
        "0.5",
    )
    values = np.array([30.0, 5.0, 42.0])
    mean, sd = values.mean(), values.std(ddof=1)
    assert out["baseline_sd"] == pytest.approx(sd)
    assert out["baseline"] == pytest.approx(mean)
    assert "3 customers" in out["baseline_source"] and "1 whose window" in out["baseline_source"]
    d = 0.5 * mean / sd
    assert out["n_per_arm"] == math.ceil(tt_ind_solve_power(effect_size=d, alpha=0.05, power=0.8))


def test_clv_uses_the_spread_of_the_models_scores(orders, tmp_path):
    save_model(fixed_model(), tmp_path / "model")
    csv = tmp_path / "orders.csv"
    orders.to_csv(csv, index=False)
    out = as_json(
        "--metric",
        "clv",
        "--model",
        str(tmp_path / "model"),
        "--orders",
        str(csv),
        "--mde-relative",
        "0.1",
        "--horizon",
        "6M",
    )
    model = load_model(tmp_path / "model")
    rfm = rfm_summary(orders, time_unit="W", observation_end=END)
    clv = model.score(rfm, horizon="6M", annual_discount_rate=0.1, margin=1.0)["clv"]
    mean, sd = float(clv.mean()), float(clv.std(ddof=1))
    assert out["metric"] == "clv"
    assert out["baseline_sd"] == pytest.approx(sd, rel=1e-9)
    assert out["baseline"] == pytest.approx(mean, rel=1e-9)
    assert "predicted CLV over 6M" in out["baseline_source"]
    d = 0.1 * mean / sd
    assert out["n_per_arm"] == math.ceil(tt_ind_solve_power(effect_size=d, alpha=0.05, power=0.8))
    share = as_json(
        "--metric",
        "clv",
        "--model",
        str(tmp_path / "model"),
        "--orders",
        str(csv),
        "--mde-absolute",
        "1",
        "--horizon",
        "6M",
        "--baseline-rate",
        "0.2",
    )
    mixed = math.sqrt(0.2 * (sd**2 + mean**2) - (0.2 * mean) ** 2)
    assert share["baseline_sd"] == pytest.approx(mixed, rel=1e-9)


def test_clv_without_a_spend_model_is_refused(orders, tmp_path):
    save_model(fixed_model(spend=False), tmp_path / "model")
    csv = tmp_path / "orders.csv"
    orders.to_csv(csv, index=False)
    result = run(
        "--metric",
        "clv",
        "--model",
        str(tmp_path / "model"),
        "--orders",
        str(csv),
        "--mde-relative",
        "0.1",
    )
    assert result.exit_code == 2
    assert "no spend model" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--metric", "conversion", "--baseline-rate", "0", "--mde-relative", "0.1"],
            "--baseline-rate must be within (0, 1)",
        ),
        (
            ["--metric", "conversion", "--baseline-rate", "1.5", "--mde-relative", "0.1"],
            "--baseline-rate must be within (0, 1)",
        ),
        (
            ["--metric", "conversion", "--baseline-rate", "0.1", "--mde-relative", "0"],
            "--mde-relative must not be 0",
        ),
        (["--metric", "conversion", "--mde-relative", "0.1"], "--baseline-rate"),
        (["--metric", "conversion", "--baseline-rate", "0.1"], "--mde-relative, --mde-absolute"),
        (["--metric", "mean", "--mde-absolute", "1"], "--baseline-sd"),
        (["--metric", "mean", "--baseline-sd", "5", "--mde-relative", "0.1"], "baseline mean"),
        (["--metric", "clv", "--mde-relative", "0.1"], "--model"),
        (
            [
                "--metric",
                "conversion",
                "--baseline-rate",
                "0.1",
                "--mde-relative",
                "0.1",
                "--baseline-sd",
                "3",
            ],
            "does not use --baseline-sd",
        ),
        (
            ["--metric", "mean", "--baseline-sd", "1", "--mde-absolute", "1", "--power", "1"],
            "--power must be within",
        ),
        (
            ["--metric", "mean", "--baseline-sd", "1", "--mde-absolute", "1", "--arms", "1"],
            "--arms must be a whole number from 2",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert message in lines[0]
