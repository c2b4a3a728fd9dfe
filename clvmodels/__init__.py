"""clvmodels: probabilistic customer lifetime value, and the whole job around it.

From an orders table (customer, time, revenue): RFM summaries (DuckDB), BG/NBD and
Gamma-Gamma models fitted through pymc-marketing, and per-customer predictions of future
purchases, P(alive), spend and discounted CLV with posterior intervals.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from clvmodels._version import __version__

if TYPE_CHECKING:
    from clvmodels.bgnbd import BetaGeoModel
    from clvmodels.datasets import SimulationTruth, load_cdnow, load_cdnow_summary, simulate_orders
    from clvmodels.errors import (
        ClvError,
        ConvergenceWarning,
        DataError,
        DataQualityWarning,
        ModelFileError,
        NotFittedError,
    )
    from clvmodels.gamma_gamma import GammaGammaModel
    from clvmodels.io import read_orders, read_table, validate_orders, write_table
    from clvmodels.model import CLVModel
    from clvmodels.persistence import load_model, save_model
    from clvmodels.rfm import collapse_rfm, rfm_summary, validate_rfm
    from clvmodels.scoring import score_customers
    from clvmodels.segments import load_rules, segment_customers, segment_summary
    from clvmodels.units import Duration, parse_duration

#: Where each public name lives: imported on first use, so that ``import clvmodels`` (and
#: every ``clv`` command) loads SciPy, pymc-marketing and matplotlib only when it needs them.
_LAZY = {
    "BetaGeoModel": "bgnbd",
    "SimulationTruth": "datasets",
    "load_cdnow": "datasets",
    "load_cdnow_summary": "datasets",
    "simulate_orders": "datasets",
    "ClvError": "errors",
    "ConvergenceWarning": "errors",
    "DataError": "errors",
    "DataQualityWarning": "errors",
    "ModelFileError": "errors",
    "NotFittedError": "errors",
    "GammaGammaModel": "gamma_gamma",
    "read_orders": "io",
    "read_table": "io",
    "validate_orders": "io",
    "write_table": "io",
    "CLVModel": "model",
    "load_model": "persistence",
    "save_model": "persistence",
    "collapse_rfm": "rfm",
    "rfm_summary": "rfm",
    "validate_rfm": "rfm",
    "score_customers": "scoring",
    "load_rules": "segments",
    "segment_customers": "segments",
    "segment_summary": "segments",
    "Duration": "units",
    "parse_duration": "units",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clvmodels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"clvmodels.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BetaGeoModel",
    "CLVModel",
    "ClvError",
    "ConvergenceWarning",
    "DataError",
    "DataQualityWarning",
    "Duration",
    "GammaGammaModel",
    "ModelFileError",
    "NotFittedError",
    "SimulationTruth",
    "__version__",
    "collapse_rfm",
    "load_cdnow",
    "load_cdnow_summary",
    "load_model",
    "load_rules",
    "parse_duration",
    "read_orders",
    "read_table",
    "rfm_summary",
    "save_model",
    "score_customers",
    "segment_customers",
    "segment_summary",
    "simulate_orders",
    "validate_orders",
    "validate_rfm",
    "write_table",
]
