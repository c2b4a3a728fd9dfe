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
    worst_rhat = max(rhat.values())
    least_ess = min(ess_bulk.values())
    converged = (
        bool(np.isfinite(worst_rhat))
        and worst_rhat <= MAX_RHAT
        and least_ess >= MIN_ESS_PER_CHAIN * n_chains
        and divergences == 0
    )
    return {
        "r_hat": rhat,
        "ess_bulk": ess_bulk,
        "ess_tail": ess_tail,
        "max_r_hat": worst_rhat,
        "min_ess_bulk": least_ess,
        "divergences": int(divergences),
        "converged": converged,
    }


def _as_floats(result: Any) -> dict[str, float]:
    dataset = result["posterior"].to_dataset() if "posterior" in result else result
    return {str(name): float(np.asarray(dataset[name])) for name in dataset.data_vars}
