"""``sbg_fit``: the shifted-beta-geometric fit on 1M subscriptions, cells + MAP.

``clvmodels.models.sbg.fit_sbg(sbg_cells(...), method="map")`` against
``pymc_marketing.clv.ShiftedBetaGeoModel().fit(data, method="map")`` on the same customers,
both with pymc-marketing's default priors. The subscriptions are simulated here (both sides
draw the same ones from one seed): :data:`SBG_COHORTS` monthly signup cohorts, cohort c
observed for T = c + 2 periods (pymc-marketing needs one T per cohort), each cohort's churn
probabilities theta ~ Beta(alpha, beta) of its plan (:data:`SBG_PLANS`, cycling), churn
period ~ Geometric(theta), censored at T (:func:`bench.subscriptions.first_spells`). One
group per cohort on both sides.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..job import Job, both_sides
from ..subscriptions import first_spells
from .fit_map import pre_import_pymc

TARGET = "≥ 20× faster"
#: Simulated subscriptions (independent of --customers, which sizes the orders data).
SBG_SUBSCRIPTIONS = 1_000_000
SBG_COHORTS = 24
#: (alpha, beta) of the plans; cohort c has plan c mod 3.
SBG_PLANS = ((0.704, 1.182), (0.668, 3.806), (1.2, 6.0))
SBG_SEED = 12


def simulate_subscriptions(n: int = SBG_SUBSCRIPTIONS, seed: int = SBG_SEED) -> dict[str, Any]:
    """n customers: cohort, T, periods paid (first spell), churned; the sBG's truth by cohort."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cohort = rng.integers(0, SBG_COHORTS, n)
    T = cohort + 2
    plans = np.array(SBG_PLANS)[np.arange(SBG_COHORTS) % len(SBG_PLANS)]
    spells = first_spells(rng, plans[cohort, 0], plans[cohort, 1], T)
    return {"cohort": cohort, "T": T, **spells}


def cohort_labels() -> list[str]:
    """The cohorts' labels, by code."""
    return [f"c{c:02d}" for c in range(SBG_COHORTS)]


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels: sbg_cells + fit_sbg (MAP, default priors) on the simulated subscriptions."""
    from clvmodels.models.sbg import fit_sbg, sbg_cells

    import_seconds = pre_import_pymc()
    subs = simulate_subscriptions()
    started = time.perf_counter()
    data = sbg_cells(
        subs["periods"], subs["T"], subs["churned"], subs["cohort"], groups=cohort_labels()
    )
    cells_seconds = time.perf_counter() - started
    fit = fit_sbg(data, priors="default", method="map")
    seconds = time.perf_counter() - started
    point = fit.point()
    return {
        "call_seconds": seconds,
        "cells_seconds": cells_seconds,
        "n_customers": int(data.weight.sum()),
        "n_cells": data.n_cells,
        "params": {
            f"{name}[{label}]": float(value)
            for name in ("alpha", "beta")
            for label, value in zip(fit.groups, point[name], strict=True)
        },
        "find_map_seconds": fit.report.get("seconds"),
        "pre_import_seconds": import_seconds,
        "converged": bool(fit.report.get("converged", False)),
    }


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """pymc-marketing: ShiftedBetaGeoModel().fit(method="map") on one row per customer."""
    import warnings

    import numpy as np
    import pandas as pd
    from pymc_marketing.clv import ShiftedBetaGeoModel

    subs = simulate_subscriptions()
    labels = np.array(cohort_labels())
    data = pd.DataFrame(
        {
            "customer_id": np.arange(len(subs["T"])),
            "recency": subs["periods"],
            "T": subs["T"],
            "cohort": labels[subs["cohort"]],
        }
    )
    started = time.perf_counter()
    model = ShiftedBetaGeoModel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data=data, method="map", progressbar=False)
    seconds = time.perf_counter() - started
    posterior = model.fit_result
    return {
        "call_seconds": seconds,
        "n_customers": len(data),
        "params": {
            f"{name}[{label}]": float(posterior[name].sel(cohort=label).values.item())
            for name in ("alpha", "beta")
            for label in labels
        },
    }


def compare(ours: dict[str, Any], pymc: dict[str, Any]) -> dict[str, Any]:
    """Relative differences of the two MAP estimates, per cohort."""
    rel = {
        name: abs(ours["params"][name] - value) / abs(value)
        for name, value in pymc["params"].items()
    }
    worst = max(rel.values())
    return {"max_rel_diff": worst, "agree": bool(worst < 1e-3)}


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met when clvmodels' cells + fit is ≥ 20× faster than pymc-marketing's fit."""
    _, pymc = both_sides(entry)
    return {} if pymc is None else {"met": bool(row["ratio_call"] >= 20)}


def notes(entry: dict[str, Any]) -> list[str]:
    """How many cells clvmodels fits, and how long collapsing took."""
    ours = entry.get("ours") or {}
    if not ours.get("ok"):
        return []
    return [
        f"clvmodels fits {ours['n_cells']:,} (cohort, value, censored) cells for "
        f"{ours['n_customers']:,} subscriptions (collapsing: {ours['cells_seconds']:.2f} s); "
        "the subscriptions are simulated in the job, not the orders of --customers"
    ]


JOB = Job(
    name="sbg_fit",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    label="sBG fit (1M subscriptions)",
    compare=compare,
    verdict=verdict,
    notes=notes,
)
