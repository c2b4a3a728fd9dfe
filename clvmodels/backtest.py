"""Backtests: fit on a calibration period, predict the holdout, and compare with baselines.

For each transaction model (BG/NBD, Pareto/NBD, MBG/NBD, each with Gamma-Gamma spend) and
two baselines, on the customers whose first purchase is on or before the calibration end:

* ``naive``: the calibration rate x / T times the holdout length; revenue at the customer's
  calibration mean revenue per occasion.
* ``cohort``: each customer's expected holdout purchases and revenue from the empirical
  curves of older cohorts at the same ages (:mod:`clvmodels.summaries.cohorts`): the average
  cumulative occasions and margin per customer at the age the holdout ends, minus those at
  the age it starts, using only cohorts that fully reached those ages (beyond the oldest
  age, the curve's recent monthly run rate).

What it measures (Fader, Hardie & Lee 2005, section 5):

* totals of holdout purchases and revenue, predicted vs actual, with % error;
* per-customer bias, MAE and RMSE of holdout purchases, and each model's calibration
  log-likelihood (definitions in ``docs/backtest.md``);
* conditional expectations: mean holdout purchases by calibration frequency (0..6, 7+);
* the tracking table: cumulative repeat purchases per period over calibration and holdout,
  actual vs the models' unconditional expectation for the calibration cohort (FHL05 fig. 2);
  its plots show it cumulative and per period (incremental, FHL05 fig. 1).

Orders without revenue (an RFM table without ``monetary_value``) give the purchase metrics
only: no revenue columns, no revenue totals, no spend model. Orders valued with
``value_per_order`` X are measured in revenue X per order; the models' spend is then the
constant of :class:`clvmodels.models.spend.ConstantSpendModel`, not Gamma-Gamma.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.customers import CustomersSource, with_covariates
from clvmodels.errors import DataError
from clvmodels.model import MODELS, CLVModel
from clvmodels.models.settings import (
    TRANSACTION_MODEL_NAMES,
    Method,
    Priors,
    TransactionModelName,
)
from clvmodels.predict.tracking import (
    conditional_expectations,
    purchase_occasions,
    tracking_table,
)
from clvmodels.summaries.baseline import cohort_baseline
from clvmodels.summaries.period import DateLike, order_period, to_day
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import check_time_unit

BASELINES = ("naive", "cohort")
#: The files of a backtest's output folder (``clv backtest -o DIR``): role -> file name.
#: :mod:`clvmodels.jobs.backtest` writes them and the report reads them.
BACKTEST_FILES: dict[str, str] = {
    "metrics": "metrics.json",
    "totals": "totals.csv",
    "conditional": "conditional.csv",
    "tracking": "tracking.csv",
    "customers": "customers.parquet",
    "tracking_plot": "tracking.png",
    "incremental_plot": "tracking_incremental.png",
    "conditional_plot": "conditional.png",
}
#: What the per-customer metrics compare (``docs/backtest.md``).
BEST_BY = "lowest per-customer MAE of holdout purchases"


@dataclass
class BacktestResult:
    """Everything a backtest measured; see the module docstring.

    Attributes
    ----------
    customers : pandas.DataFrame
        Calibration RFM with actual holdout purchases and revenue and, per model and
        baseline, ``purchases_<name>`` and ``revenue_<name>``.
    totals : pandas.DataFrame
        One row per model and baseline: predicted and actual totals, % errors, MAE, RMSE.
    conditional : pandas.DataFrame
        Mean holdout purchases by calibration frequency group, actual and per model.
    tracking : pandas.DataFrame
        Cumulative repeat purchases per period, actual and per model.
    best : str
        The model or baseline with the lowest per-customer MAE of holdout purchases.
    models : dict
        The fitted :class:`CLVModel` per transaction model.
    failed : dict
        With ``on_failure="record"``: why each model left out could not be used (its fit
        raised a DataError or is not usable), by name.
    settings : dict
        Dates, time unit and models of the backtest.
    """

    customers: pd.DataFrame
    totals: pd.DataFrame
    conditional: pd.DataFrame
    tracking: pd.DataFrame
    best: str
    models: dict[str, CLVModel] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """The measurements as a JSON-ready dict (``metrics.json``)."""
        return {
            **self.settings,
            "best_model": self.best,
            "best_by": BEST_BY,
            "totals": self.totals.to_dict(orient="records"),
            "conditional_expectations": self.conditional.to_dict(orient="records"),
            "parameters": {name: m.transaction_model_.params_ for name, m in self.models.items()},
            **({"failed": dict(self.failed)} if self.failed else {}),
        }


def backtest(
    orders: pd.DataFrame,
    *,
    calibration_end: DateLike,
    observation_end: DateLike = None,
    time_unit: str = "W",
    models: Sequence[str] = TRANSACTION_MODEL_NAMES,
    method: Method = "map",
    priors: Priors = "default",
    seed: int = 0,
    value_per_order: float | None = None,
    baselines: Sequence[str] = BASELINES,
    on_failure: Literal["raise", "record"] = "raise",
    model_settings: Mapping[str, Any] | None = None,
    customers: CustomersSource | None = None,
    purchase_covariates: Sequence[str] = (),
    dropout_covariates: Sequence[str] = (),
) -> BacktestResult:
    """Fit each model on the calibration period and hold its predictions against the holdout.

    Parameters
    ----------
    orders : pandas.DataFrame
        Validated orders (``customer_id, timestamp, revenue``; without ``revenue``, a log
        read with ``--no-revenue``: purchase metrics only).
    calibration_end : date
        Last day of the calibration period.
    observation_end : date, optional
        Last day of the holdout (default: the last order's day).
    time_unit : {"D", "W", "M"}
        Unit of the fits and of the tracking table's periods.
    models : sequence of {"bgnbd", "pareto", "mbgnbd"}
        Transaction models to fit (each with Gamma-Gamma for revenue).
    method, priors, seed
        Fit settings, as for :class:`clvmodels.model.CLVModel`.
    value_per_order : float, optional
        Say that every order's ``revenue`` is this value (read with ``--no-revenue
        --value-per-order``): the models then have a constant spend, not Gamma-Gamma.
    baselines : sequence of {"naive", "cohort"}
        The baselines to compare with (all by default; none for a model choice).
    on_failure : {"raise", "record"}
        What a model whose fit raises a DataError or is not usable does: raise it, or be
        left out of the tables with its reason in ``BacktestResult.failed`` (at least one
        model must be usable).
    model_settings : dict, optional
        More settings of :class:`CLVModel` (``chains``, ``draws``, ``tune``, ...).
    customers, purchase_covariates, dropout_covariates
        A customers table and the covariate columns of it that every model is fitted with
        (:func:`clvmodels.data.customers.with_covariates`; docs/models.md, Covariates).

    Raises
    ------
    DataError
        For a calibration end before the first or after the last order, an observation end
        before the calibration end, a holdout with no orders, an unknown model name, or a
        fit that is not usable (a parameter at a bound, Gamma-Gamma q <= 1).
    """
    unit = check_time_unit(time_unit)
    _check_models(models, baselines)
    cal_end, obs_end = _holdout_period(orders, calibration_end, observation_end)
    rfm = _calibration_rfm(orders, unit, cal_end, obs_end, value_per_order)
    purchase_covariates, dropout_covariates = tuple(purchase_covariates), tuple(dropout_covariates)
    covariates = tuple(dict.fromkeys((*purchase_covariates, *dropout_covariates)))
    rfm = with_covariates(rfm, customers, covariates)
    has_revenue = "monetary_value" in rfm.columns and "revenue" in orders.columns
    if not has_revenue:
        orders = orders.assign(revenue=0.0)  # occasions are counted; their value is unknown
    customers = rfm.copy()
    if has_revenue:
        customers["revenue_holdout"] = (
            customers["frequency_holdout"] * customers["monetary_value_holdout"]
        )
    holdout_length = float(customers["duration_holdout"].iloc[0])
    unfitted = {
        name: CLVModel(
            time_unit=unit,
            transaction_model=cast(TransactionModelName, name),  # a name of MODELS (checked)
            method=method,
            priors=priors,
            seed=seed,
            **dict(model_settings or {}),
            purchase_covariates=purchase_covariates,
            dropout_covariates=dropout_covariates,
        )
        for name in models
    }
    failed: dict[str, str] = {}
    fitted = _fit_and_predict(
        unfitted, rfm, customers, holdout_length, failed if on_failure == "record" else None
    )
    _predict_baselines(orders, customers, cal_end, obs_end, holdout_length, has_revenue, baselines)

    names = [*fitted, *baselines]
    totals = _totals(customers, names, fitted, revenue=has_revenue)
    best = str(totals.sort_values("mae_purchases").iloc[0]["model"])
    return BacktestResult(
        customers=customers,
        totals=totals,
        conditional=conditional_expectations(customers, names),
        tracking=tracking_table(orders, fitted, cal_end, obs_end, unit, customers),
        best=best,
        models=fitted,
        failed=failed,
        settings={
            "calibration_end": cal_end.isoformat(),
            "observation_end": obs_end.isoformat(),
            "time_unit": unit,
            "holdout_length": holdout_length,
            "n_customers": len(customers),
            "models": list(fitted),
            "baselines": list(baselines),
            "method": method,
            "priors": priors,
            "revenue": has_revenue,
            "measured": _measured(has_revenue, value_per_order),
            **({"value_per_order": float(value_per_order)} if value_per_order else {}),
        },
    )


def _check_models(models: Sequence[str], baselines: Sequence[str]) -> None:
    unknown = [m for m in models if m not in MODELS] + [b for b in baselines if b not in BASELINES]
    if unknown or not models:
        raise DataError(
            f"unknown model {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {', '.join(MODELS)}"
        )


def _holdout_period(
    orders: pd.DataFrame, calibration_end: DateLike, observation_end: DateLike
) -> tuple[dt.date, dt.date]:
    """The calibration and observation ends, checked to leave a holdout with orders."""
    period = order_period(orders, observation_end=observation_end, calibration_end=calibration_end)
    cal_end = period.calibration_end
    obs_end = period.observation_end
    if to_day(calibration_end) and cal_end >= period.last_order:
        raise DataError(
            f"the calibration end {cal_end} is on or after the last order ({period.last_order}): "
            "nothing is left for the holdout"
        )
    if obs_end <= cal_end:
        raise DataError(f"the observation end {obs_end} is not after the calibration end {cal_end}")
    days = orders["timestamp"].dt.normalize()
    in_holdout = (days > pd.Timestamp(cal_end)) & (days <= pd.Timestamp(obs_end))
    if not in_holdout.any():
        raise DataError(f"the holdout ({cal_end} to {obs_end}] has no orders")
    return cal_end, obs_end


def _calibration_rfm(
    orders: pd.DataFrame,
    unit: str,
    cal_end: dt.date,
    obs_end: dt.date,
    value_per_order: float | None,
) -> pd.DataFrame:
    """Calibration RFM with the holdout's columns; orders said to be valued are checked."""
    source: pd.DataFrame | OrdersSource = orders
    if "revenue" not in orders.columns:  # read with --no-revenue: purchases only
        source = OrdersSource(orders, revenue_col=None)
    rfm = rfm_summary(source, time_unit=unit, calibration_end=cal_end, observation_end=obs_end)
    if value_per_order is not None:
        _check_valued(orders, value_per_order)
        rfm.attrs.update(revenue="value_per_order", value_per_order=float(value_per_order))
    return rfm


def _fit_and_predict(
    models: dict[str, CLVModel],
    rfm: pd.DataFrame,
    customers: pd.DataFrame,
    holdout_length: float,
    failed: dict[str, str] | None = None,
) -> dict[str, CLVModel]:
    """Fit each model; add its ``purchases_`` and ``revenue_`` columns to ``customers``.

    With a ``failed`` dict, a model whose fit raises a DataError or is not usable is left
    out and its reason recorded there; a DataError when no model is left.
    """
    fitted: dict[str, CLVModel] = {}
    for name, unfitted in models.items():
        try:
            model = unfitted.fit(rfm)
            model.check_usable()
        except DataError as exc:
            if failed is None:
                raise
            failed[name] = str(exc)
            continue
        fitted[name] = model
        purchases = model.transaction_model_.expected_purchases(rfm, holdout_length).mean(axis=0)
        customers[f"purchases_{name}"] = purchases
        if model.spend_model_ is not None:
            spend = model.spend_model_.expected_spend(rfm).mean(axis=0)
            customers[f"revenue_{name}"] = purchases * spend
    if not fitted:
        reasons = "; ".join(f"{name}: {why}" for name, why in (failed or {}).items())
        raise DataError(f"no model could be fitted on the calibration period ({reasons})")
    return fitted


def _predict_baselines(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    cal_end: dt.date,
    obs_end: dt.date,
    holdout_length: float,
    has_revenue: bool,
    baselines: Sequence[str] = BASELINES,
) -> None:
    """Add the baselines' ``purchases_``/``revenue_`` columns to ``customers``."""
    if not baselines:
        return
    naive_rate = np.where(
        customers["T"] > 0,
        customers["frequency"] / customers["T"].where(customers["T"] > 0, 1.0),
        0.0,
    )
    customers["purchases_naive"] = naive_rate * holdout_length
    occasions = purchase_occasions(orders, cal_end)
    if has_revenue:
        mean_revenue = occasions.groupby("customer_id")["revenue"].mean()
        customers["revenue_naive"] = (
            customers["purchases_naive"] * customers["customer_id"].map(mean_revenue).to_numpy()
        )
    if "cohort" not in baselines:
        return
    cohort = cohort_baseline(occasions, customers, cal_end, obs_end)
    customers["purchases_cohort"] = cohort["purchases"].to_numpy()
    if has_revenue:
        customers["revenue_cohort"] = cohort["revenue"].to_numpy()


def _check_valued(orders: pd.DataFrame, value_per_order: float) -> None:
    """Orders said to be valued at ``value_per_order`` must all have that revenue."""
    revenue = orders["revenue"] if "revenue" in orders.columns else None
    if revenue is None or not (revenue.to_numpy(dtype="float64") == value_per_order).all():
        raise DataError(
            f"value_per_order={value_per_order:g} says every order's revenue is that value, "
            "but the orders' revenue column is missing or holds other values",
            column="revenue",
        )


def _measured(has_revenue: bool, value_per_order: float | None) -> str:
    if not has_revenue:
        return "purchases only (no revenue)"
    if value_per_order is not None:
        return (
            f"purchases and revenue at {value_per_order:g} per order (--value-per-order); "
            "the models' spend per occasion is constant"
        )
    return "purchases and revenue"


def _totals(
    customers: pd.DataFrame,
    names: Sequence[str],
    models: Mapping[str, CLVModel],
    *,
    revenue: bool,
) -> pd.DataFrame:
    """Totals and errors per model and baseline; revenue columns only ``revenue`` is known.

    Over customers i with holdout purchases y_i and predictions p_i: % error
    100 (sum p - sum y) / sum y, bias mean(p - y), MAE mean|p - y|, RMSE
    sqrt(mean (p - y)^2); ``log_likelihood`` is a model's calibration fit's total
    log-likelihood (NaN for a baseline).
    """
    actual_purchases = customers["frequency_holdout"].to_numpy(dtype="float64")
    rows = []
    for name in names:
        purchases = customers[f"purchases_{name}"].to_numpy(dtype="float64")
        error = purchases - actual_purchases
        row: dict[str, Any] = {
            "model": name,
            "kind": "baseline" if name in BASELINES else "model",
            "predicted_purchases": float(purchases.sum()),
            "actual_purchases": float(actual_purchases.sum()),
            "purchases_error_pct": _pct(purchases.sum(), actual_purchases.sum()),
        }
        if revenue:
            predicted = customers[f"revenue_{name}"].to_numpy(dtype="float64").sum()
            actual = customers["revenue_holdout"].to_numpy(dtype="float64").sum()
            row.update(
                predicted_revenue=float(predicted),
                actual_revenue=float(actual),
                revenue_error_pct=_pct(predicted, actual),
            )
        row.update(
            bias_purchases=float(error.mean()),
            mae_purchases=float(np.abs(error).mean()),
            rmse_purchases=float(np.sqrt((error**2).mean())),
            log_likelihood=(
                float(models[name].transaction_model_.log_likelihood_)
                if name in models
                else float("nan")
            ),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _pct(predicted: float, actual: float) -> float:
    return float(100.0 * (predicted - actual) / actual) if actual else float("nan")
