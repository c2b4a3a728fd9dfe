"""Untimed runs on a few customers that fill the on-disk compile caches before the jobs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .common import (
    ANNUAL_DISCOUNT_RATE,
    BENCH_BGNBD,
    BENCH_GAMMA_GAMMA,
    HORIZON,
    POSTERIOR_JITTER,
    SEED,
    TIME_UNIT,
    WARMUP_CUSTOMERS,
    log,
)
from .data import input_path
from .runner import run_child

#: Jobs that fit (warm-up: a small MAP fit per side) and that score (a small scoring).
FITTING_JOBS = {"fit_map", "nuts"}
SCORING_JOBS = {"score", "score_200", "cdnow_clv"}


def warm_up(args: argparse.Namespace, sides: list[str], jobs: list[str]) -> None:
    """Untimed runs on a few customers that fill the on-disk compile caches.

    A small MAP fit per side fills PyTensor's cache; a small clvmodels scoring fills
    numba's (``cache=True``), so that the timed jobs measure the steady state a user sees
    from the second run on. nutpie compiles each model afresh in every process: no cache.
    """
    path = Path(args.out) / "rfm_warmup.parquet"
    n = min(WARMUP_CUSTOMERS, args.customers)
    if FITTING_JOBS & set(jobs):
        log(f"warm-up: BG/NBD MAP on {n:,} customers per side (PyTensor compile cache)")
        for side in sides:
            run_child(args, "fit_map", side, tag="-warmup", extra=["--input", str(path)])
    if SCORING_JOBS & set(jobs):
        log(f"warm-up: clvmodels scoring of {n:,} customers (numba compile cache)")
        run_child(args, "warmup_score", "ours", extra=["--input", str(path)])


def child_warmup_score(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Score a few customers with a small made-up posterior, untimed by the parent."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.predict.scoring import score_customers

    rfm = pd.read_parquet(input_path(args, out, "rfm_warmup.parquet"))
    rng = np.random.default_rng(SEED)
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw"),
                value * np.exp(POSTERIOR_JITTER * rng.standard_normal((2, 10))),
            )
            for name, value in {**BENCH_BGNBD, **BENCH_GAMMA_GAMMA}.items()
        }
    )
    started = time.perf_counter()
    score_customers(
        rfm,
        BetaGeoModel.from_posterior(posterior),  # type: ignore[arg-type]
        GammaGammaModel.from_posterior(posterior),  # type: ignore[arg-type]
        time_unit=TIME_UNIT,
        horizon=HORIZON,
        annual_discount_rate=ANNUAL_DISCOUNT_RATE,
        n_draws=None,
    )
    return {"call_seconds": time.perf_counter() - started, "n_customers": len(rfm)}
