"""clvmodels: probabilistic customer lifetime value, and the whole job around it.

From an orders table (customer, time, revenue): RFM summaries (DuckDB), BG/NBD and
Gamma-Gamma models fitted through pymc-marketing, and per-customer predictions of future
purchases, P(alive), spend and discounted CLV with posterior intervals.
"""

from clvmodels._version import __version__
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
