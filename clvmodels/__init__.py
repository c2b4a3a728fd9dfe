"""clvmodels: probabilistic customer lifetime value, and the whole job around it.

From an orders table (customer, time, revenue): RFM summaries (DuckDB), BG/NBD and
Gamma-Gamma models fitted through pymc-marketing, and per-customer predictions of future
purchases, P(alive), spend and discounted CLV with posterior intervals.

The public names are loaded on first use (PEP 562): ``import clvmodels`` alone imports none
of pandas, DuckDB, SciPy or PyMC, so the ``clv`` command starts fast; ``from clvmodels import
X`` and ``clvmodels.X`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from clvmodels._version import __version__

if TYPE_CHECKING:
    from clvmodels.data.io import read_orders, read_table, validate_orders, write_table
    from clvmodels.errors import (
        ClvError,
        ConvergenceWarning,
        DataError,
        DataQualityWarning,
        ModelFileError,
        NotFittedError,
    )
    from clvmodels.examples.cdnow import load_cdnow, load_cdnow_summary
    from clvmodels.examples.simulate import SimulationTruth, simulate_orders
    from clvmodels.model import CLVModel
    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.models.inputs import collapse_rfm, validate_rfm
    from clvmodels.persistence import load_model, save_model
    from clvmodels.predict.scoring import score_customers
    from clvmodels.segments.assign import segment_customers, segment_summary
    from clvmodels.segments.rules_file import load_rules
    from clvmodels.summaries.rfm import rfm_summary
    from clvmodels.units import Duration, parse_duration

#: public name -> the module that defines it
_PUBLIC = {
    "BetaGeoModel": "models.bgnbd",
    "SimulationTruth": "examples.simulate",
    "load_cdnow": "examples.cdnow",
    "load_cdnow_summary": "examples.cdnow",
    "simulate_orders": "examples.simulate",
    "ClvError": "errors",
    "ConvergenceWarning": "errors",
    "DataError": "errors",
    "DataQualityWarning": "errors",
    "ModelFileError": "errors",
    "NotFittedError": "errors",
    "GammaGammaModel": "models.gamma_gamma",
    "read_orders": "data.io",
    "read_table": "data.io",
    "validate_orders": "data.io",
    "write_table": "data.io",
    "CLVModel": "model",
    "load_model": "persistence",
    "save_model": "persistence",
    "collapse_rfm": "models.inputs",
    "rfm_summary": "summaries.rfm",
    "validate_rfm": "models.inputs",
    "score_customers": "predict.scoring",
    "load_rules": "segments.rules_file",
    "segment_customers": "segments.assign",
    "segment_summary": "segments.assign",
    "Duration": "units",
    "parse_duration": "units",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562) and cache the name here."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'clvmodels' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"clvmodels.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the lazy public ones included."""
    return sorted({*globals(), *__all__})
