"""What covariates cost: tuples after collapsing and MAP seconds, without and with covariates.

Simulated customers (:func:`clvmodels.examples.simulate.simulate_orders`, weekly RFM), with a
channel of 3 levels and a gender of 2 drawn at random, and a first order's value (Gamma, to
the cent). For each covariate set: the distinct (x, t_x, T, covariate row) tuples the fit sees
and the BG/NBD MAP's seconds (flat priors).

    python scripts/bench/covariates.py 100000 [--no-fit] [--score]

With ``--score``: the seconds of scoring every customer (12 months, 200 draws) with each
fitted model, its MAP values spread into 200 draws (lognormal, sd 2%: a stand-in posterior
for timing only).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import xarray as xr

from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.covariate_fit import collapse_with_covariates
from clvmodels.models.covariates import fit_encoding
from clvmodels.models.inputs import collapse_rfm
from clvmodels.summaries.rfm import rfm_summary

SETS = {
    "none": (),
    "channel, gender": ("channel", "gender"),
    "channel, gender, first_order_value": ("channel", "gender", "first_order_value"),
}


def _score_seconds(model: BetaGeoModel, rfm: object) -> float:
    """Seconds to score ``rfm`` with ``model``'s MAP spread into 200 draws."""
    rng = np.random.default_rng(1)
    posterior = model.posterior_
    spread = xr.Dataset(
        {
            name: (
                ("chain", "draw", *posterior[name].dims[2:]),
                np.repeat(posterior[name].values, 200, axis=1)
                * (np.exp(rng.normal(0, 0.02, (1, 200))) if name in model.param_names else 1.0)
                if posterior[name].ndim == 2
                else np.repeat(posterior[name].values, 200, axis=1),
            )
            for name in posterior.data_vars
        },
        coords={**posterior.coords, "chain": [0], "draw": np.arange(200)},
    )
    transaction = BetaGeoModel.from_posterior(spread, encoding=model.encoding_)
    clv = CLVModel.from_posteriors(transaction, time_unit="W")
    started = time.perf_counter()
    clv.score(rfm, horizon="12M", n_draws=200)  # type: ignore[arg-type]
    return time.perf_counter() - started


def main(n: int, fit: bool, score: bool = False) -> None:
    """Print one line per covariate set: tuples, and MAP seconds."""
    orders, _ = simulate_orders(n, seed=0)
    rfm = rfm_summary(orders, time_unit="W")
    rng = np.random.default_rng(0)
    rfm["channel"] = rng.choice(["web", "store", "app"], len(rfm), p=[0.5, 0.3, 0.2])
    rfm["gender"] = rng.choice(["f", "m"], len(rfm))
    rfm["first_order_value"] = np.round(rng.gamma(2.0, 25.0, len(rfm)), 2)
    print(f"{len(rfm):,} customers")
    for label, columns in SETS.items():
        if columns:
            enc = fit_encoding(rfm, columns, columns)
            purchase, dropout = enc.design(rfm)
            tuples = len(collapse_with_covariates(rfm, purchase, dropout).tuples)
        else:
            tuples = len(collapse_rfm(rfm).tuples)
        seconds, evaluations, scoring = float("nan"), -1, float("nan")
        if fit:
            started = time.perf_counter()
            model = BetaGeoModel(
                priors="flat", purchase_covariates=columns, dropout_covariates=columns
            ).fit(rfm)
            seconds = time.perf_counter() - started
            evaluations = model.fit_report_["function_evaluations"]
            scoring = _score_seconds(model, rfm) if score else float("nan")
        print(
            f"{label:<38} tuples {tuples:>10,}  MAP {seconds:8.1f} s "
            f"({evaluations} evaluations)  score {scoring:6.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main(int(sys.argv[1]), "--no-fit" not in sys.argv, "--score" in sys.argv)
