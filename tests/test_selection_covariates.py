"""``clv fit --model auto`` with covariates: the candidates that take them, fitted with them.

Oracle: the Pareto/NBD candidate's holdout MAE recomputed from lifetimes' conditional
expectation at each channel's parameters (alpha_i = alpha exp(-gamma z_i), beta_i = beta
exp(-gamma_d z_i), written here) and the holdout purchases counted with pandas.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from clvmodels import selection
from clvmodels.cli import cli
from clvmodels.data.customers import CustomersSource
from clvmodels.errors import DataError
from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import CLVModel
from clvmodels.selection import choose_model
from clvmodels.summaries.rfm import rfm_summary


@pytest.fixture(scope="module")
def two_channels() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two channels of BG/NBD customers, the "app" ones buying three times as often."""
    frames, channels = [], []
    for channel, alpha, seed in (("web", 6.0, 1), ("app", 2.0, 2)):
        orders, _ = simulate_orders(
            250,
            seed=seed,
            acquisition_days=120,
            observation_days=300,
            bgnbd={"r": 0.8, "alpha": alpha, "a": 0.6, "b": 2.5},
        )
        orders = orders.assign(customer_id=channel + orders["customer_id"].astype(str))
        frames.append(orders)
        channels.append(pd.DataFrame({"customer_id": orders["customer_id"].unique()}))
        channels[-1]["channel"] = channel
    orders = pd.concat(frames, ignore_index=True)
    orders["timestamp"] = orders["timestamp"].astype("datetime64[ns]")
    return orders[["customer_id", "timestamp", "revenue"]], pd.concat(channels, ignore_index=True)


def test_auto_with_covariates_fits_the_candidates_that_take_them(
    two_channels, tmp_path, monkeypatch
):
    """The CLI with covariates; BG/NBD is made a model without covariates here, to be left
    out (every registered model takes covariates as of this commit)."""
    from lifetimes import ParetoNBDFitter

    monkeypatch.setattr(selection, "COVARIATE_MODELS", ("pareto", "mbgnbd"))
    orders, customers = two_channels
    orders_path, customers_path = tmp_path / "orders.parquet", tmp_path / "customers.csv"
    orders.to_parquet(orders_path)
    customers.rename(columns={"customer_id": "id"}).to_csv(customers_path, index=False)
    args = ["fit", str(orders_path), "-o", str(tmp_path / "model"), "--priors", "flat"]
    args += ["--model", "auto", "--candidates", "bgnbd,pareto", "--covariates", "channel"]
    ran = CliRunner().invoke(
        cli, [*args, "--customers", str(customers_path), "--customer-key", "id"]
    )
    assert ran.exit_code == 0, ran.output
    assert "left out, no covariates: bgnbd" in ran.output
    assert "BG/NBD left out: takes no covariates" in ran.output
    assert "every fit with covariates: purchase channel; dropout channel" in ran.output
    saved = json.loads((tmp_path / "model" / "model.json").read_text())
    comparison = saved["model_comparison"]
    assert comparison["covariates"] == {"purchase": ["channel"], "dropout": ["channel"]}
    assert list(comparison["left_out"]) == ["bgnbd"]
    assert list(comparison["models"]) == ["pareto"]
    assert comparison["selected"] == saved["transaction_model"]["name"] == "pareto"
    assert saved["encoding"]["columns"][0]["name"] == "channel"  # the refit has them too

    # the Pareto/NBD candidate's MAE, recomputed at each channel's parameters
    split = comparison["split"]
    cal = rfm_summary(
        orders, calibration_end=split["calibration_end"], observation_end=split["observation_end"]
    )
    cal = cal.merge(customers, on="customer_id")
    pareto = (
        CLVModel(
            transaction_model="pareto",
            priors="flat",
            purchase_covariates=["channel"],
            dropout_covariates=["channel"],
        )
        .fit(cal)
        .transaction_model_
    )
    gamma = {k: float(v[0, 0]) for k, v in pareto.coefficient_draws().items()}
    reference = pareto.encoding_.column("channel").reference
    days = orders["timestamp"].dt.normalize()
    holdout = orders.assign(day=days)[
        (days > split["calibration_end"]) & (days <= split["observation_end"])
    ]
    y = cal["customer_id"].map(holdout.groupby("customer_id")["day"].nunique()).fillna(0)
    p = np.empty(len(cal))
    for level in ("web", "app"):
        z = 0.0 if level == reference else 1.0
        fitter = ParetoNBDFitter()
        fitter.params_ = pd.Series(
            {
                "r": pareto.params_["r"],
                "alpha": pareto.params_["alpha"] * np.exp(-gamma["purchase"] * z),
                "s": pareto.params_["s"],
                "beta": pareto.params_["beta"] * np.exp(-gamma["dropout"] * z),
            }
        )
        rows = (cal["channel"] == level).to_numpy()
        p[rows] = fitter.conditional_expected_number_of_purchases_up_to_time(
            split["holdout_length"],
            cal.loc[rows, "frequency"],
            cal.loc[rows, "recency"],
            cal.loc[rows, "T"],
        )
    assert comparison["models"]["pareto"]["mae"] == pytest.approx(
        np.abs(p - y.to_numpy()).mean(), rel=1e-4
    )
    with pytest.raises(DataError, match="no candidate model takes covariates"):
        choose_model(
            orders,
            candidates="bgnbd",
            customers=CustomersSource(customers),
            purchase_covariates=["channel"],
        )
