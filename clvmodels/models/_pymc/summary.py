"""NUTS convergence: rank-normalised r-hat, bulk and tail ESS, divergences (Vehtari et al. 2021)."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from clvmodels.models._pymc.quiet import quiet

#: Convergence thresholds for NUTS (Vehtari et al. 2021): r-hat and bulk ESS per chain.
MAX_RHAT = 1.01
MIN_ESS_PER_CHAIN = 100


def sampler_diagnostics(posterior: xr.Dataset, divergences: int = 0) -> dict[str, Any]:
    """r-hat (rank-normalised), bulk and tail ESS per parameter, and the verdict.

    A parameter with dims gets a list of values (one per element); the verdict takes the
    worst element.

    A fit is called converged when every r-hat is at most 1.01, every bulk ESS is at least
    100 per chain, and there are no divergent transitions (Vehtari et al. 2021).
    """
    import arviz as az

    n_chains = int(posterior.sizes["chain"])
    tree = xr.DataTree.from_dict({"posterior": posterior})
    with quiet():
        rhat = _as_floats(az.rhat(tree))
        ess_bulk = _as_floats(az.ess(tree, method="bulk"))
        ess_tail = _as_floats(az.ess(tree, method="tail"))
    worst_rhat = max(np.max(value) for value in rhat.values())
    least_ess = min(np.min(value) for value in ess_bulk.values())
    converged = bool(
        np.isfinite(worst_rhat)
        and worst_rhat <= MAX_RHAT
        and least_ess >= MIN_ESS_PER_CHAIN * n_chains
        and divergences == 0
    )
    return {
        "r_hat": rhat,
        "ess_bulk": ess_bulk,
        "ess_tail": ess_tail,
        "max_r_hat": float(worst_rhat),
        "min_ess_bulk": float(least_ess),
        "divergences": int(divergences),
        "converged": converged,
    }


def _as_floats(result: Any) -> dict[str, Any]:
    """Per parameter: a float, or a list of floats for a parameter with dims (the sBG's)."""
    dataset = result["posterior"].to_dataset() if "posterior" in result else result
    values = {str(name): np.asarray(dataset[name], dtype="float64") for name in dataset.data_vars}
    return {name: float(v) if v.ndim == 0 else v.tolist() for name, v in values.items()}
