"""clvmodels: probabilistic customer lifetime value, and the whole job around it.

From an orders table (customer, time, revenue): RFM summaries (DuckDB), BG/NBD and
Gamma-Gamma models fitted through pymc-marketing, and per-customer predictions of future
purchases, P(alive), spend and discounted CLV with posterior intervals; beside them cohort
LTV, backtests, segments, CAC / ROMI / payback per source, budgets and an HTML report.

``__all__`` names every capability, in the order of the data flow (read, summarise, fit,
predict, decide, publish); each lives in its own subpackage (docs/architecture.md).

The public names are loaded on first use (PEP 562): ``import clvmodels`` alone imports none
of pandas, DuckDB, SciPy or PyMC, so the ``clv`` command starts fast; ``from clvmodels import
X`` and ``clvmodels.X`` work as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from clvmodels._version import __version__

if TYPE_CHECKING:
    from clvmodels.backtest import BacktestResult, backtest
    from clvmodels.data.billing import read_billing
    from clvmodels.data.contract import OrdersSource
    from clvmodels.data.io import read_orders, read_table, validate_orders, write_table
    from clvmodels.data.marketing import read_costs, read_visits
    from clvmodels.data.subscriptions import read_subscriptions
    from clvmodels.errors import (
        ClvError,
        ConvergenceWarning,
        DataError,
        DataQualityWarning,
        ModelFileError,
        NotFittedError,
    )
    from clvmodels.examples.cdnow import load_cdnow, load_cdnow_summary
    from clvmodels.examples.marketing import MarketingTruth, simulate_marketing
    from clvmodels.examples.simulate import SimulationTruth, simulate_orders
    from clvmodels.examples.subscriptions import SubscriptionTables, simulate_subscriptions
    from clvmodels.jobs.fit import fit_orders
    from clvmodels.jobs.pipeline import run_demo, run_pipeline
    from clvmodels.jobs.score import score_orders
    from clvmodels.marketing.budget import budget_recommendation, revenue_forecast
    from clvmodels.marketing.payback import PaybackResult, payback_analysis
    from clvmodels.model import MODELS, CLVModel
    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.models.inputs import collapse_rfm, validate_rfm
    from clvmodels.models.mbgnbd import ModifiedBetaGeoModel
    from clvmodels.models.pareto_nbd import ParetoNBDModel
    from clvmodels.models.sbg import fit_sbg, sbg_cells
    from clvmodels.models.spend import ConstantSpendModel
    from clvmodels.persistence import load_model, save_model
    from clvmodels.predict.scoring import score_customers
    from clvmodels.report.build import write_report
    from clvmodels.segments.assign import segment_customers, segment_summary
    from clvmodels.segments.rules_file import load_rules
    from clvmodels.subscriptions.billing import summarize_billing
    from clvmodels.subscriptions.churn import ChurnResult, analyse_churn
    from clvmodels.subscriptions.settings import ChurnSettings
    from clvmodels.summaries.cohorts import average_ltv_curve, cohort_ltv_wide, cohort_table
    from clvmodels.summaries.rfm import rfm_summary
    from clvmodels.units import Duration, parse_duration

#: public name -> the module that defines it, in the order of the data flow
#: (read -> summarise -> fit -> predict -> decide -> publish; docs/architecture.md)
_PUBLIC = {
    # read
    "read_orders": "data.io",
    "validate_orders": "data.io",
    "read_table": "data.io",
    "write_table": "data.io",
    "OrdersSource": "data.contract",
    "read_visits": "data.marketing",
    "read_costs": "data.marketing",
    "read_billing": "data.billing",
    "read_subscriptions": "data.subscriptions",
    # summarise
    "rfm_summary": "summaries.rfm",
    "cohort_table": "summaries.cohorts",
    "average_ltv_curve": "summaries.cohorts",
    "cohort_ltv_wide": "summaries.cohorts",
    # fit
    "validate_rfm": "models.inputs",
    "collapse_rfm": "models.inputs",
    "BetaGeoModel": "models.bgnbd",
    "ParetoNBDModel": "models.pareto_nbd",
    "ModifiedBetaGeoModel": "models.mbgnbd",
    "GammaGammaModel": "models.gamma_gamma",
    "ConstantSpendModel": "models.spend",
    "sbg_cells": "models.sbg",
    "fit_sbg": "models.sbg",
    "CLVModel": "model",
    "MODELS": "model",
    "save_model": "persistence",
    "load_model": "persistence",
    # predict
    "score_customers": "predict.scoring",
    "backtest": "backtest",
    "BacktestResult": "backtest",
    # decide
    "segment_customers": "segments.assign",
    "segment_summary": "segments.assign",
    "load_rules": "segments.rules_file",
    "payback_analysis": "marketing.payback",
    "PaybackResult": "marketing.payback",
    "budget_recommendation": "marketing.budget",
    "revenue_forecast": "marketing.budget",
    "summarize_billing": "subscriptions.billing",
    "analyse_churn": "subscriptions.churn",
    "ChurnResult": "subscriptions.churn",
    "ChurnSettings": "subscriptions.settings",
    # publish
    "write_report": "report.build",
    "fit_orders": "jobs.fit",
    "score_orders": "jobs.score",
    "run_pipeline": "jobs.pipeline",
    "run_demo": "jobs.pipeline",
    # examples
    "simulate_orders": "examples.simulate",
    "SimulationTruth": "examples.simulate",
    "simulate_marketing": "examples.marketing",
    "MarketingTruth": "examples.marketing",
    "simulate_subscriptions": "examples.subscriptions",
    "SubscriptionTables": "examples.subscriptions",
    "load_cdnow": "examples.cdnow",
    "load_cdnow_summary": "examples.cdnow",
    # errors and units
    "ClvError": "errors",
    "DataError": "errors",
    "ModelFileError": "errors",
    "NotFittedError": "errors",
    "ConvergenceWarning": "errors",
    "DataQualityWarning": "errors",
    "Duration": "units",
    "parse_duration": "units",
}

__all__ = [
    "MODELS",
    "BacktestResult",
    "BetaGeoModel",
    "CLVModel",
    "ChurnResult",
    "ChurnSettings",
    "ClvError",
    "ConstantSpendModel",
    "ConvergenceWarning",
    "DataError",
    "DataQualityWarning",
    "Duration",
    "GammaGammaModel",
    "MarketingTruth",
    "ModelFileError",
    "ModifiedBetaGeoModel",
    "NotFittedError",
    "OrdersSource",
    "ParetoNBDModel",
    "PaybackResult",
    "SimulationTruth",
    "SubscriptionTables",
    "__version__",
    "analyse_churn",
    "average_ltv_curve",
    "backtest",
    "budget_recommendation",
    "cohort_ltv_wide",
    "cohort_table",
    "collapse_rfm",
    "fit_orders",
    "fit_sbg",
    "load_cdnow",
    "load_cdnow_summary",
    "load_model",
    "load_rules",
    "parse_duration",
    "payback_analysis",
    "read_billing",
    "read_costs",
    "read_orders",
    "read_subscriptions",
    "read_table",
    "read_visits",
    "revenue_forecast",
    "rfm_summary",
    "run_demo",
    "run_pipeline",
    "save_model",
    "sbg_cells",
    "score_customers",
    "score_orders",
    "segment_customers",
    "segment_summary",
    "simulate_marketing",
    "simulate_orders",
    "simulate_subscriptions",
    "summarize_billing",
    "validate_orders",
    "validate_rfm",
    "write_report",
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
