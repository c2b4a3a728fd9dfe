"""Transaction models with covariates: recovery, predictions per customer, persistence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.persistence import load_model, save_model

#: True values: reference (channel "web") parameters and coefficients on (app, store).
TRUE = {"r": 0.8, "alpha": 5.0, "a": 0.8, "b": 3.0}
GAMMA_PURCHASE = np.array([0.7, -0.5])
GAMMA_A = np.array([0.5, 0.0])
GAMMA_B = np.array([0.0, 0.6])


def simulate(n: int, seed: int = 1) -> pd.DataFrame:
    """BG/NBD customers (FHL05's story) whose alpha, a, b depend on a channel, as note 019."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(["web", "store", "app"], n, p=[0.5, 0.3, 0.2])
    z = np.stack([channel == "app", channel == "store"], axis=1).astype(float)
    alpha = TRUE["alpha"] * np.exp(-z @ GAMMA_PURCHASE)
    a = TRUE["a"] * np.exp(z @ GAMMA_A)
    b = TRUE["b"] * np.exp(z @ GAMMA_B)
    lam = rng.gamma(TRUE["r"], 1 / alpha)
    p = rng.beta(a, b)
    T = np.round(rng.uniform(20, 52, n))
    x = np.zeros(n, dtype=int)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "frequency": x,
            "recency": np.round(t_x, 1),
            "T": T,
            "channel": channel,
            "monetary_value": np.where(x > 0, rng.gamma(5, 10, n), 0.0),
        }
    )


@pytest.fixture(scope="module")
def rfm() -> pd.DataFrame:
    return simulate(4000)


@pytest.fixture(scope="module")
def fitted(rfm: pd.DataFrame) -> CLVModel:
    return CLVModel(
        priors="flat", purchase_covariates=["channel"], dropout_covariates=["channel"]
    ).fit(rfm)


def test_map_recovers_the_coefficients(fitted: CLVModel) -> None:
    """4,000 customers: purchase coefficients within 0.15 (their sd is ~0.05), the mean dropout
    probability a/(a+b) per channel within 0.06 (its sd is ~0.03)."""
    model = fitted.transaction_model_
    table = model.coefficients().set_index(["process", "feature"])
    for j, feature in enumerate(("channel=app", "channel=store")):
        assert table.loc[("purchase", feature), "mean"] == pytest.approx(
            GAMMA_PURCHASE[j], abs=0.15
        )
        assert table.loc[("purchase", feature), "multiplier_mean"] == pytest.approx(
            np.exp(table.loc[("purchase", feature), "mean"])
        )
        true_up = TRUE["a"] * np.exp(GAMMA_A[j])
        true_up /= true_up + TRUE["b"] * np.exp(GAMMA_B[j])
        assert table.loc[("dropout_a", feature), "dropout_p_up_mean"] == pytest.approx(
            true_up, abs=0.06
        )
    reference = TRUE["a"] / (TRUE["a"] + TRUE["b"])
    assert table["dropout_p_reference_mean"].dropna().iloc[0] == pytest.approx(reference, abs=0.06)
    assert model.params_["alpha"] == pytest.approx(TRUE["alpha"], rel=0.2)
    assert model.n_tuples_ < model.n_customers_


def test_predictions_use_each_customers_parameters(fitted: CLVModel, rfm: pd.DataFrame) -> None:
    """A channel's customers are scored as by a covariate-free model at that channel's
    alpha, a and b."""
    model = fitted.transaction_model_
    g = model.coefficient_draws()
    app = rfm[rfm["channel"] == "app"].head(50)
    p = model.params_
    plain = BetaGeoModel.from_posterior(
        {
            "r": [p["r"]],
            "alpha": [p["alpha"] * np.exp(-g["purchase"][0, 0])],
            "a": [p["a"] * np.exp(g["dropout_a"][0, 0])],
            "b": [p["b"] * np.exp(g["dropout_b"][0, 0])],
        }
    )
    np.testing.assert_allclose(model.probability_alive(app), plain.probability_alive(app))
    np.testing.assert_allclose(
        model.expected_purchases(app, 10.0), plain.expected_purchases(app, 10.0)
    )
    assert model.log_likelihood(app) == pytest.approx(plain.log_likelihood(app))


def test_unseen_level_at_prediction_is_refused(fitted: CLVModel, rfm: pd.DataFrame) -> None:
    new = rfm.head(3).assign(channel=["web", "tv", "tv"])
    with pytest.raises(Exception, match="levels not seen"):
        fitted.transaction_model_.probability_alive(new)


def test_encoding_and_coefficients_round_trip(
    fitted: CLVModel, rfm: pd.DataFrame, tmp_path
) -> None:
    path = save_model(fitted, tmp_path / "model")
    saved = json.loads((path / "model.json").read_text())
    assert saved["encoding"]["columns"][0]["reference"] == "web"
    assert {row["process"] for row in saved["coefficients"]["rows"]} == {
        "purchase",
        "dropout_a",
        "dropout_b",
    }
    assert "--method laplace" in saved["coefficients"]["interval"]
    loaded = load_model(path)
    assert loaded.transaction_model_.encoding_ == fitted.transaction_model_.encoding_
    assert loaded.purchase_covariates == ["channel"]
    np.testing.assert_allclose(
        loaded.transaction_model_.probability_alive(rfm),
        fitted.transaction_model_.probability_alive(rfm),
    )
    pd.testing.assert_frame_equal(
        loaded.transaction_model_.coefficients(), fitted.transaction_model_.coefficients()
    )


def test_one_parameter_set_steps_refuse_a_model_with_covariates(fitted: CLVModel) -> None:
    """A new customer's value needs customers whose covariates it averages over: refused
    without them, not silently the reference customer's (tests/marketing/
    test_payback_covariates.py tests it with them)."""
    from clvmodels.marketing.new_customers import new_customer_value

    with pytest.raises(Exception, match="averages over the covariates"):
        new_customer_value(fitted, [12.0])
    with pytest.raises(Exception, match="does not take covariates yet"):
        fitted.transaction_model_.draws_as_columns()
    # the new-customer expectation is the reference customer's, as documented
    assert fitted.transaction_model_.expected_purchases_new_customer([10.0]).shape == (1, 1)


@pytest.mark.slow  # ~10 s alone: the Laplace graph's gradient compiles
def test_laplace_gives_coefficient_intervals(rfm: pd.DataFrame) -> None:
    model = BetaGeoModel(
        method="laplace", chains=1, draws=200, seed=0, purchase_covariates=["channel"]
    ).fit(rfm.head(1500))
    table = model.coefficients().set_index("feature")
    assert model.fit_report_["converged"]
    assert (table["sd"] > 0.01).all()
    assert (table["low_94"] < table["mean"]).all() and (table["mean"] < table["high_94"]).all()
    assert table.loc["channel=app", "low_94"] > 0  # app buys faster: the interval excludes 0


@pytest.mark.slow  # ~20 s: Pareto/NBD's graph (hyp2f1) on ~3,000 tuples
def test_pareto_map_recovers_the_coefficients() -> None:
    """Pareto/NBD customers (FH05's story) with alpha_i = alpha exp(-g z_i) and
    beta_i = beta exp(-d z_i) for a 0/1 channel z: the MAP recovers g and d."""
    rng = np.random.default_rng(5)
    n = 3000
    app = rng.random(n) < 0.4
    z = app.astype(float)
    g, d = 0.6, -0.5
    lam = rng.gamma(1.0, 1 / (8.0 * np.exp(-g * z)))
    mu = rng.gamma(1.0, 1 / (30.0 * np.exp(-d * z)))
    T = np.round(rng.uniform(30, 78, n))
    window = np.minimum(rng.exponential(1 / mu), T)
    x = rng.poisson(lam * window)
    t_x = np.where(x > 0, window * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    rfm = pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "frequency": x,
            "recency": np.round(t_x, 1),
            "T": T,
            "channel": np.where(app, "app", "web"),
        }
    )
    from clvmodels.models.pareto_nbd import ParetoNBDModel

    model = ParetoNBDModel(
        priors="flat", purchase_covariates=["channel"], dropout_covariates=["channel"]
    ).fit(rfm)
    table = model.coefficients().set_index("process")
    assert table.loc["purchase", "mean"] == pytest.approx(g, abs=0.15)
    assert table.loc["dropout", "mean"] == pytest.approx(d, abs=0.35)
    assert table.loc["dropout", "multiplier_mean"] == pytest.approx(
        np.exp(table.loc["dropout", "mean"])
    )
