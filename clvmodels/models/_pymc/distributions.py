"""pymc-marketing's CLV likelihoods (loaded without its package ``__init__``), a reference logp.

Importing ``pymc_marketing`` runs its package ``__init__``, which loads the MMM modules and
pymc-extras (~3 s). A MAP or NUTS fit needs only PyMC and the likelihoods of
``pymc_marketing/clv/distributions.py``, a module that imports nothing of pymc-marketing, so
:func:`clv_distributions` loads that file alone, under its own name.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import numpy as np

DISTRIBUTIONS_MODULE = "pymc_marketing.clv.distributions"


@functools.cache
def clv_distributions() -> ModuleType:
    """``pymc_marketing.clv.distributions`` (BetaGeoNBD, ModifiedBetaGeoNBD, ParetoNBD, ...).

    Imported as usual once pymc-marketing is; otherwise its file is loaded alone under its own
    name (the standard importlib recipe for a source file), which skips pymc-marketing's
    package ``__init__`` and its ~3 s of MMM and pymc-extras imports. The module imports
    nothing of pymc-marketing; registered in ``sys.modules``, it is the one a later full
    import of pymc-marketing uses.
    """
    if DISTRIBUTIONS_MODULE in sys.modules or "pymc_marketing" in sys.modules:
        return importlib.import_module(DISTRIBUTIONS_MODULE)
    package = importlib.util.find_spec("pymc_marketing")  # finds, does not run, the package
    if package is None or not package.submodule_search_locations:
        raise ImportError("clvmodels needs pymc-marketing: pip install pymc-marketing==1.3.0")
    path = Path(package.submodule_search_locations[0]) / "clv" / "distributions.py"
    spec = importlib.util.spec_from_file_location(DISTRIBUTIONS_MODULE, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a broken install
        return importlib.import_module(DISTRIBUTIONS_MODULE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[DISTRIBUTIONS_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[DISTRIBUTIONS_MODULE]
        raise
    return module


def bgnbd_logp(
    params: Mapping[str, float], frequency: np.ndarray, recency: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """pymc-marketing's BG/NBD log-likelihood per customer, evaluated at ``params``."""
    import pymc as pm

    dist = clv_distributions().BetaGeoNBD.dist(
        a=params["a"],
        b=params["b"],
        r=params["r"],
        alpha=params["alpha"],
        T=np.asarray(T, dtype="float64"),
    )
    value = np.stack([recency, frequency], axis=1).astype("float64")
    return np.asarray(pm.logp(dist, value).eval())
