"""A fit you can believe: parameters at a bound and Gamma-Gamma q <= 1 are refused, loudly.

Also: scoring refuses an RFM table in another time unit, and `clv score` an RFM table given
where the orders belong.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior

from clvmodels.cli import cli
from clvmodels.errors import ConvergenceWarning, DataError
from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.summaries.rfm import rfm_summary

WHALE = 999999


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


@pytest.fixture(scope="module")
def whale_orders() -> pd.DataFrame:
    """60 simulated customers and one extreme spender: two orders of 100 million each."""
    orders, _ = simulate_orders(60, seed=2, gamma_gamma={"p": 1.0, "q": 4.0, "v": 15.0})
    whale = pd.DataFrame(
        {
            "customer_id": np.array([WHALE, WHALE], dtype=orders["customer_id"].dtype),
            "timestamp": pd.to_datetime(["2024-03-01 10:00", "2024-06-01 10:00"]),
            "revenue": [1e8, 1e8],
        }
    )
    return pd.concat([orders, whale], ignore_index=True)


@pytest.fixture(scope="module")
def whale_fit(whale_orders):
    rfm = rfm_summary(whale_orders, time_unit="W")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = CLVModel(time_unit="W", priors="flat", seed=0).fit(rfm)
    return rfm, model, [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def q_message(model: CLVModel, ending: str) -> str:
    """The message the test expects, with q and the whale's repeat purchase as fitted."""
    spend = model.require_spend_model()
    top = spend.fit_report_["extreme_spenders"][:3]
    shown = ", ".join(
        f"customer {s['customer_id']} (mean repeat value {s['monetary_value']:,.2f} over "
        f"{s['frequency']} repeat purchases)"
        for s in top
    )
    return (
        f"Gamma-Gamma: q = {spend.params_['q']:.4g} <= 1: the population mean spend "
        "p v / (q - 1) is infinite, so expected spend and CLV have no value; the most "
        f"extreme spenders drive it: {shown}; {ending}. Check those customers' orders "
        "(refunds, test orders, a wrong currency or decimal point), or leave them out and refit"
    )


def test_one_extreme_spender_gives_q_below_one_a_loud_warning_and_no_convergence(whale_fit):
    rfm, model, caught = whale_fit
    spend = model.require_spend_model()
    assert spend.params_["q"] < 1
    top = spend.fit_report_["extreme_spenders"][0]
    assert top == {"customer_id": WHALE, "frequency": 1, "monetary_value": 1e8}
    assert [str(w.message) for w in caught] == [
        q_message(model, "the fit is not usable and scoring will refuse it")
    ]
    assert spend.fit_report_["converged"] is False
    assert spend.fit_report_["usable"] is False
    assert spend.fit_report_["not_usable_reason"].startswith("q = ")
    assert model.converged_ is False
    assert model.describe()["spend_model"]["usable"] is False
    # without the whale the same customers give a usable fit: the check is not a hair trigger
    calm = GammaGammaModel(priors="flat").fit(rfm[rfm["customer_id"] != WHALE])
    assert calm.params_["q"] > 1 and calm.is_usable


def test_score_refuses_spend_and_clv_from_q_below_one(whale_fit):
    rfm, model, _ = whale_fit
    expected = q_message(model, "refusing to score with this fit")
    with pytest.raises(DataError) as info:
        model.score(rfm, horizon="12M")
    assert str(info.value) == expected
    with pytest.raises(DataError) as info:
        model.iter_score(rfm, horizon="12M")  # refused before the first chunk
    assert str(info.value) == expected


def test_clv_score_exits_2_on_q_below_one(whale_orders, tmp_path):
    orders = tmp_path / "orders.csv"
    whale_orders.to_csv(orders, index=False)
    fitted = run("fit", str(orders), "-o", str(tmp_path / "model"), "--priors", "flat")
    assert fitted.exit_code == 0, fitted.output
    assert "NOT CONVERGED" in fitted.output
    assert "NOT USABLE (scoring refuses it): q = " in fitted.output
    scored = run("score", str(tmp_path / "model"), str(orders), "-o", str(tmp_path / "s.csv"))
    assert scored.exit_code == 2
    last = scored.output.strip().splitlines()[-1]
    assert last.startswith("Error: Gamma-Gamma: q = ")
    assert f"customer {WHALE} (mean repeat value 100,000,000.00 over 1 repeat purchases)" in last
    assert last.endswith("or leave them out and refit")
    assert not (tmp_path / "s.csv").exists()


def bgnbd_at(params: dict[str, float]) -> BetaGeoModel:
    return BetaGeoModel.from_posterior(fixed_posterior(params, n_draws=1, sd=0.0))


@pytest.mark.parametrize(
    ("changed", "problem"),
    [
        ({"a": 1e-9}, "a = 1e-09 is at the lower bound of its support (below 1e-06)"),
        (
            {"b": 3e7},
            "b = 3e+07 is absurdly large (above 1e+06): the optimiser ran towards infinity",
        ),
        ({"alpha": -1.0}, "alpha = -1 is not positive"),
        ({"r": np.inf}, "r is not finite"),
    ],
)
def test_a_transaction_parameter_at_a_bound_is_refused(cdnow_rfm, changed, problem):
    model = bgnbd_at({**BGNBD_PUBLISHED, **changed})
    assert model.usability_problems() == [problem]
    expected = (
        f"BG/NBD: {problem}; refusing to score with this fit. The data may not support this "
        "model (too few customers, no dropout or no variation): check it, or fit with flat "
        "priors (--priors flat) or another model (--model pareto)"
    )
    with pytest.raises(DataError) as info:
        model.check_usable()
    assert str(info.value) == expected
    clv = CLVModel.from_posteriors(model, None, time_unit="W")
    with pytest.raises(DataError) as info:
        clv.score(cdnow_rfm)
    assert str(info.value) == expected


def test_the_published_fits_are_usable(cdnow_flat_model):
    for sub in (cdnow_flat_model.transaction_model_, cdnow_flat_model.spend_model_):
        assert sub.usability_problems() == []
        assert sub.fit_report_["usable"] is True
    gg = GammaGammaModel.from_posterior(fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=20))
    assert gg.is_usable


def test_some_nuts_draws_with_q_below_one_are_refused():
    posterior = fixed_posterior({"p": 6.0, "q": 1.05, "v": 15.0}, n_draws=40, sd=0.2, seed=3)
    share = float((posterior["q"].values <= 1).mean())
    assert 0 < share < 1
    gg = GammaGammaModel.from_posterior(posterior)
    (problem,) = gg.usability_problems()
    assert problem == (
        f"q <= 1 in {share:.0%} of the draws (posterior mean {gg.params_['q']:.4g}): the "
        "population mean spend p v / (q - 1) is infinite, so expected spend and CLV have no value"
    )


def test_score_refuses_an_rfm_table_in_another_time_unit(cdnow_flat_model, cdnow_orders):
    days = rfm_summary(cdnow_orders, time_unit="D", observation_end="1997-09-30")
    with pytest.raises(DataError) as info:
        cdnow_flat_model.score(days)
    assert str(info.value) == (
        "the RFM table is in days (D) but the model was fitted in weeks (W): recency and T "
        "would be read in the wrong unit. Summarise the orders with time_unit='W' "
        "(clv score does this itself)"
    )


def test_clv_score_refuses_an_rfm_table_given_as_the_orders(cdnow_flat_model, cdnow_rfm, tmp_path):
    from clvmodels.persistence import save_model

    save_model(cdnow_flat_model, tmp_path / "model")
    rfm_file = tmp_path / "rfm.csv"
    cdnow_rfm.to_csv(rfm_file, index=False)
    result = run("score", str(tmp_path / "model"), str(rfm_file), "-o", str(tmp_path / "s.csv"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == (
        f"Error: {rfm_file} is an RFM table (columns frequency, recency, T; no order dates in a "
        "'timestamp' column), not orders: clv score summarises the orders itself in the "
        "model's time unit, so pass the orders file (customer, date, revenue)"
    )


@pytest.mark.parametrize("factor", [1e4, 1e6, 1e-3])
def test_the_fit_does_not_depend_on_the_currency(cdnow_rfm, cdnow_flat_model, factor):
    # Gamma-Gamma under flat priors is scale-equivariant: spend in a currency unit 10,000
    # times smaller (dollars in rupiah, say) gives the same p and q, v 10,000 times larger and
    # the log-likelihood shifted by -N log c. Fitted as given, the optimiser stopped at
    # p = 2,189, q = 2.67, "converged"; the spend is now fitted in units near its median.
    from clvmodels.models import gamma_gamma

    scaled = cdnow_rfm.assign(monetary_value=cdnow_rfm["monetary_value"] * factor)
    model = GammaGammaModel(priors="flat").fit(scaled)
    reference = cdnow_flat_model.require_spend_model()
    assert model.is_usable and model.fit_report_["converged"]
    assert model.params_["p"] == pytest.approx(reference.params_["p"], rel=1e-3)
    assert model.params_["q"] == pytest.approx(reference.params_["q"], rel=1e-3)
    assert model.params_["v"] == pytest.approx(reference.params_["v"] * factor, rel=1e-3)
    repeat = scaled[scaled["frequency"] > 0]
    p, q, v = (model.params_[k] for k in ("p", "q", "v"))
    total = gamma_gamma.log_likelihood(p, q, v, repeat["frequency"], repeat["monetary_value"])
    assert model.fit_report_["log_posterior"] == pytest.approx(float(total.sum()), abs=1e-6)


def test_the_hint_names_the_other_priors():
    bad = {**BGNBD_PUBLISHED, "a": 1e-9}
    flat = BetaGeoModel.from_posterior(fixed_posterior(bad, n_draws=1, sd=0.0), priors="flat")
    with pytest.raises(DataError, match=r"check it, or fit with the default priors$"):
        flat.check_usable()
