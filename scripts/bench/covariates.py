"""What covariates cost: tuples after collapsing and MAP seconds, without and with covariates.

Simulated customers (:func:`clvmodels.examples.simulate.simulate_orders`, weekly RFM), with a
channel of 3 levels and a gender of 2 drawn at random, and a first order's value (Gamma, to
the cent). For each covariate set: the distinct (x, t_x, T, covariate row) tuples the fit sees
and the BG/NBD MAP's seconds (flat priors).

    python scripts/bench/covariates.py 100000 [--no-fit]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from clvmodels.examples.simulate import simulate_orders
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


def main(n: int, fit: bool) -> None:
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
        seconds, evaluations = float("nan"), -1
        if fit:
            started = time.perf_counter()
            model = BetaGeoModel(
                priors="flat", purchase_covariates=columns, dropout_covariates=columns
            ).fit(rfm)
            seconds = time.perf_counter() - started
            evaluations = model.fit_report_["function_evaluations"]
        print(
            f"{label:<38} tuples {tuples:>10,}  MAP {seconds:8.1f} s ({evaluations} evaluations)",
            flush=True,
        )


if __name__ == "__main__":
    main(int(sys.argv[1]), "--no-fit" not in sys.argv)
