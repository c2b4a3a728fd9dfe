"""The report's matrices for a model fitted with covariates: drawn for the reference customer.

Oracle: the covariate-free BG/NBD at the reference parameters (the reference customer has
every encoded covariate 0, so its parameters are the model's r, alpha, a, b).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior

from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.covariates import fit_encoding
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.plots.matrices import plot_probability_alive_matrix
from clvmodels.report.build import build_report

N_DRAWS = 10


def covariate_model(calibration_end: str) -> CLVModel:
    """BG/NBD (published parameters for the reference) with a tier and a numeric value."""
    frame = pd.DataFrame(
        {"tier": ["basic", "gold", "basic", "gold"], "value": [10.0, 20.0, 30.0, 60.0]}
    )
    encoding = fit_encoding(frame, ["tier", "value"], ["tier"])
    base = fixed_posterior(BGNBD_PUBLISHED, n_draws=N_DRAWS, seed=3)
    shapes = {
        "purchase_coefficient_alpha": [0.9, 0.4],
        "dropout_coefficient_a": [0.7],
        "dropout_coefficient_b": [-0.5],
    }
    coefficients = {
        name: (("chain", "draw", f"{name}_feature"), np.tile(g, (1, N_DRAWS, 1)))
        for name, g in shapes.items()
    }
    posterior = xr.merge([base, xr.Dataset(coefficients, coords=base.coords)])
    return CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(posterior, method="mcmc", encoding=encoding),
        GammaGammaModel.from_posterior(
            fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=N_DRAWS, seed=4), method="mcmc"
        ),
        time_unit="W",
        data_info={"calibration_end": calibration_end},
    )


def test_the_matrices_are_the_reference_customers():
    model = covariate_model("2025-01-01")
    tm = model.transaction_model_
    reference = tm.encoding_.reference_customer()
    assert reference == {"tier": "basic", "value": pytest.approx(30.0)}
    ax = plot_probability_alive_matrix(tm, T=30.0, max_frequency=5, covariates=reference)
    values = np.asarray(ax.images[0].get_array())
    plain = BetaGeoModel.from_posterior(tm.posterior_[["r", "alpha", "a", "b"]], method="mcmc")
    cell = pd.DataFrame({"frequency": [3], "recency": [12.0], "T": [30.0]})
    assert values[12, 3] == pytest.approx(plain.probability_alive(cell).mean())
    gold = plot_probability_alive_matrix(
        tm, T=30.0, max_frequency=5, covariates={**reference, "tier": "gold"}
    )
    assert not np.allclose(np.asarray(gold.images[0].get_array()), values)


def test_report_draws_the_matrices_for_the_reference_customer_and_says_so():
    orders, _ = simulate_orders(150, seed=3, acquisition_days=60, observation_days=200)
    end = str(orders["timestamp"].max().date())
    page = build_report(orders, model=covariate_model(end))
    matrices = page[page.index("<section id='matrices'>") :].split("</section>")[0]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", matrices))
    assert "drawn for the reference customer (tier = basic, value = 30 (its mean)" in text
    assert "could not be computed" not in text
    assert matrices.count("data:image/png;base64,") == 2


def test_report_cli_with_the_customers_table_scores_the_segments(tmp_path):
    from click.testing import CliRunner

    from clvmodels.cli.report import report
    from clvmodels.persistence import save_model

    orders, _ = simulate_orders(150, seed=3, acquisition_days=60, observation_days=200)
    end = str(orders["timestamp"].max().date())
    model_dir = save_model(covariate_model(end), tmp_path / "model")
    orders_path = tmp_path / "orders.csv"
    orders.to_csv(orders_path, index=False)
    ids = orders["customer_id"].unique()
    rng = np.random.default_rng(0)
    customers = pd.DataFrame(
        {
            "id": ids,
            "tier": rng.choice(["basic", "gold"], len(ids)),
            "value": rng.uniform(10, 60, len(ids)),
        }
    )
    customers.to_csv(tmp_path / "customers.csv", index=False)
    args = ["-o", str(tmp_path / "r.html"), "--orders", str(orders_path), "--model"]
    args += [str(model_dir), "--customers", str(tmp_path / "customers.csv")]
    ran = CliRunner().invoke(report, [*args, "--customer-key", "id"])
    assert ran.exit_code == 0, ran.output
    lines = {line.split()[0]: line for line in ran.output.splitlines()[1:] if line.strip()}
    assert "shown" in lines["segments"] and "shown" in lines["matrices"]
    without = CliRunner().invoke(report, args[:-2])
    assert without.exit_code == 0
    assert "customers have no covariate column" in without.output
