"""Choosing the transaction model: ``clv fit --model auto``.

:func:`choose_model` holds out the end of the orders, fits every candidate model on the rest
with :func:`clvmodels.backtest.backtest`, picks the one with the lowest per-customer mean
absolute error (MAE) of holdout purchases, and refits it on all the orders.

The split. The observed span runs from the first order's day to the observation end (the
last order's day by default). The holdout is its last quarter, at least 8 weeks (56 days),
rounded up to whole weeks when the time unit is weeks; ``holdout="13W"`` sets it. The
calibration period (first order to the calibration end) must be at least as long as the
holdout, else a DataError says the orders are too short. The metrics are measured on the
customers whose first purchase is in the calibration period (``docs/backtest.md``).

The candidates. By default the models whose customers can drop out right after their first
purchase (``dropout_at_zero``: Pareto/NBD, MBG/NBD, and every model registered later with
it): their P(alive) means something for one-time buyers, so the chosen model serves both
forecasting and segmentation. BG/NBD gives every customer without a repeat purchase
P(alive) = 1 by construction; ``candidates="all"`` (or a list of names) adds it.

With covariates (``customers`` and ``purchase_covariates`` / ``dropout_covariates``, as for
:func:`clvmodels.backtest.backtest`) the candidates are those of the rule that take covariates
(:data:`clvmodels.models.covariate_fit.COVARIATE_MODELS`); the others are left out, each with
its reason in ``comparison["left_out"]``. Every calibration fit and the refit use the same
covariates, and ``comparison["covariates"]`` records them.

A candidate whose calibration fit raises a DataError or is not usable (a parameter at a
bound) is skipped with its reason in ``comparison["skipped"]``; so is a winner whose refit on
all the orders is not usable (the next best is refitted then). The calibration fits are MAP
fits (``calibration_method``); the chosen model is refitted with ``method``.

The comparison (``model.json`` key ``model_comparison``)::

    {"selected": "pareto", "metric": "mae", "selected_by": "...",
     "candidates": [...], "candidates_rule": "...",
     "split": {"first_order", "calibration_end", "observation_end", "holdout_length",
               "time_unit", "rule", "n_customers", "actual_purchases"},
     "models": {name: {"aggregate_error_pct", "bias", "mae", "rmse", "log_likelihood",
                       "predicted_purchases"}},
     "skipped": {name: reason}, "calibration_method": "map", "priors": ...,
     "covariates": {"purchase": [...], "dropout": [...]}, "left_out": {name: reason}}
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import pandas as pd

from clvmodels.backtest import BacktestResult, backtest
from clvmodels.data.customers import CustomersSource, with_covariates
from clvmodels.errors import DataError
from clvmodels.model import MODEL_LABELS, MODELS, CLVModel
from clvmodels.models.covariate_fit import COVARIATE_MODELS
from clvmodels.models.settings import Method, Priors, TransactionModelName
from clvmodels.summaries.period import DateLike, order_period
from clvmodels.summaries.rfm import rfm_summary
from clvmodels.units import DAYS_PER_UNIT, Duration, check_time_unit, parse_duration

#: The shortest holdout of the default split, in days (8 weeks).
MIN_HOLDOUT_DAYS = 56
#: The share of the observed span the default split holds out.
HOLDOUT_SHARE = 0.25
METRIC = "mae"
SELECTED_BY = "lowest per-customer MAE of holdout purchases"
SPLIT_RULE = "the last quarter of the observed span, at least 8 weeks, held out"
DEFAULT_CANDIDATES_RULE = (
    "the models whose customers can drop out right after the first purchase "
    "(dropout_at_zero), so that P(alive) means something for one-time buyers; "
    "--candidates all adds the others"
)
#: Why a candidate is left out of a choice with covariates.
NO_COVARIATES = "takes no covariates (covariates work with BG/NBD, Pareto/NBD and MBG/NBD)"
#: The metrics of each candidate in the comparison: key -> column of the backtest totals.
METRIC_COLUMNS = {
    "aggregate_error_pct": "purchases_error_pct",
    "bias": "bias_purchases",
    "mae": "mae_purchases",
    "rmse": "rmse_purchases",
    "log_likelihood": "log_likelihood",
    "predicted_purchases": "predicted_purchases",
}


@dataclass
class Selection:
    """What :func:`choose_model` chose and why.

    Attributes
    ----------
    model : CLVModel
        The chosen model, refitted on all the orders.
    comparison : dict
        The ``model_comparison`` record (module docstring), JSON-ready.
    rfm : pandas.DataFrame
        The RFM table of all the orders the model was refitted on (with the fingerprint).
    backtest : BacktestResult
        The calibration fits and their holdout measurements.
    """

    model: CLVModel
    comparison: dict[str, Any]
    rfm: pd.DataFrame
    backtest: BacktestResult


def default_candidates() -> list[TransactionModelName]:
    """The models of :data:`clvmodels.model.MODELS` with ``dropout_at_zero`` True."""
    return [name for name, spec in MODELS.items() if spec.model_class.dropout_at_zero]


def resolve_candidates(
    candidates: Sequence[str] | Literal["all"] | str | None,
) -> tuple[list[TransactionModelName], str]:
    """The candidate names and the rule that gave them.

    ``None``: :func:`default_candidates`; ``"all"``: every model of MODELS; a comma list or
    a sequence of names: those (each checked against MODELS).
    """
    if candidates is None:
        return default_candidates(), DEFAULT_CANDIDATES_RULE
    if isinstance(candidates, str):
        if candidates.strip().lower() == "all":
            return list(MODELS), "all the models (--candidates all)"
        candidates = [c.strip() for c in candidates.split(",") if c.strip()]
    names = list(dict.fromkeys(candidates))
    unknown = [c for c in names if c not in MODELS]
    if unknown or not names:
        raise DataError(
            f"unknown candidate model {', '.join(map(repr, unknown)) or '(none given)'}",
            hint=f"choose from {', '.join(MODELS)}, or all",
        )
    return cast(list[TransactionModelName], names), "the models asked for (--candidates)"


def covariate_candidates(
    names: list[TransactionModelName], covariates: Sequence[str]
) -> tuple[list[TransactionModelName], dict[str, str]]:
    """The candidates that take ``covariates`` (all without them), and the others' reasons.

    Raises DataError when no candidate is left.
    """
    left_out = {n: NO_COVARIATES for n in names if covariates and n not in COVARIATE_MODELS}
    kept = [n for n in names if n not in left_out]
    if not kept:
        raise DataError(
            f"no candidate model takes covariates ({', '.join(covariates)}): "
            f"{', '.join(left_out)} take none",
            hint=f"choose among {', '.join(COVARIATE_MODELS)} with --candidates",
        )
    return kept, left_out


def holdout_split(
    orders: pd.DataFrame,
    *,
    time_unit: str = "W",
    holdout: str | Duration | None = None,
    observation_end: DateLike = None,
) -> tuple[dt.date, dt.date, dt.date]:
    """The first order's day, the calibration end and the observation end of the split.

    Raises
    ------
    DataError
        When the calibration period would be shorter than the holdout.
    """
    period = order_period(orders, observation_end=observation_end)
    first, obs_end = period.first_order, period.observation_end
    span = (obs_end - first).days + 1
    if holdout is not None:
        try:
            days = parse_duration(holdout).days
        except ValueError as exc:
            raise DataError(f"holdout: {exc}") from None
    else:
        days = max(HOLDOUT_SHARE * span, MIN_HOLDOUT_DAYS)
    step = DAYS_PER_UNIT["W"] if time_unit == "W" else 1.0
    held = int(math.ceil(days / step - 1e-9) * step)
    if span - held < held:
        raise DataError(
            f"the orders span {span} days ({first} to {obs_end}): too short to hold out "
            f"{held} days and fit on a calibration period at least as long",
            hint=(
                "choose a model with --model (the automatic choice needs at least "
                f"{2 * held} days of orders with this holdout)"
            ),
        )
    return first, obs_end - dt.timedelta(days=held), obs_end


def choose_model(
    orders: pd.DataFrame,
    *,
    time_unit: str = "W",
    candidates: Sequence[str] | str | None = None,
    holdout: str | Duration | None = None,
    observation_end: DateLike = None,
    method: Method = "map",
    priors: Priors = "default",
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    calibration_method: Method = "map",
    customers: CustomersSource | None = None,
    purchase_covariates: Sequence[str] = (),
    dropout_covariates: Sequence[str] = (),
    **model_kwargs: Any,
) -> Selection:
    """Fit every candidate on a calibration split, choose by holdout MAE, refit on all data.

    Parameters
    ----------
    orders : pandas.DataFrame
        Validated orders (``customer_id, timestamp, revenue``; without ``revenue``: purchases
        only).
    time_unit : {"D", "W", "M"}
        The unit of the fits.
    candidates : "all", comma list or sequence of names, optional
        The models to compare; default :func:`default_candidates`.
    holdout : str or Duration, optional
        The holdout's length (``"13W"``); default the last quarter of the span, >= 8 weeks.
    observation_end : date, optional
        Orders after this day are not used (default: the last order's day).
    method, priors, seed
        Fit settings, as for :class:`clvmodels.model.CLVModel`: ``method`` is that of the
        chosen model's refit on all the orders; ``priors`` and ``seed`` of every fit.
    progress : callable, optional
        Called with a line of text before each step.
    calibration_method : {"map", "laplace", "mcmc"}
        The method of the candidates' calibration fits: MAP by default, whatever
        ``method`` is (the choice compares the models at their point estimates, and a
        Laplace or NUTS fit of every candidate would multiply the time taken).
    customers, purchase_covariates, dropout_covariates
        A customers table and its covariate columns that every fit takes (module docstring);
        the candidates are then limited to the models that take covariates.
    **model_kwargs
        More settings of :class:`CLVModel` (``chains``, ``draws``, ``tune``, ``progressbar``).

    Returns
    -------
    Selection

    Raises
    ------
    DataError
        For unknown candidates, orders too short for the split, or no usable candidate.
    """
    unit = check_time_unit(time_unit)
    say = progress or (lambda _: None)
    names, rule = resolve_candidates(candidates)
    covariates = {"purchase": list(purchase_covariates), "dropout": list(dropout_covariates)}
    every = tuple(dict.fromkeys((*purchase_covariates, *dropout_covariates)))
    names, left_out = covariate_candidates(names, every)
    first, cal_end, obs_end = holdout_split(
        orders, time_unit=unit, holdout=holdout, observation_end=observation_end
    )
    say(
        f"choosing among {', '.join(MODELS[n].label for n in names)} ({rule}"
        + (f"; left out, no covariates: {', '.join(left_out)}" if left_out else "")
        + "): fitted on the "
        f"orders to {cal_end}, holdout {cal_end + dt.timedelta(days=1)} to {obs_end}"
    )
    tested = backtest(
        orders,
        calibration_end=cal_end,
        observation_end=obs_end,
        time_unit=unit,
        models=names,
        method=calibration_method,
        priors=priors,
        seed=seed,
        baselines=(),
        on_failure="record",
        model_settings=model_kwargs,
        customers=customers,
        purchase_covariates=purchase_covariates,
        dropout_covariates=dropout_covariates,
    )
    comparison = _comparison(tested, names, rule, first)
    if every:
        comparison.update(covariates=covariates, left_out=left_out)
    rfm = rfm_summary(orders, time_unit=unit, observation_end=obs_end, with_fingerprint=True)
    rfm = with_covariates(rfm, customers, every)
    ranked = sorted(comparison["models"], key=lambda n: comparison["models"][n][METRIC])
    for name in ranked:
        say(f"refitting {MODELS[name].label} on all the orders to {obs_end}")
        model = CLVModel(
            time_unit=unit,
            transaction_model=name,
            method=method,
            priors=priors,
            seed=seed,
            **model_kwargs,
            purchase_covariates=purchase_covariates,
            dropout_covariates=dropout_covariates,
        )
        try:
            model.fit(rfm).check_usable()
        except DataError as exc:
            comparison["skipped"][name] = f"chosen, but its refit on all the orders failed: {exc}"
            continue
        comparison["selected"] = name
        return Selection(model=model, comparison=comparison, rfm=rfm, backtest=tested)
    raise DataError(
        "no candidate model could be refitted on all the orders: "
        + "; ".join(f"{n}: {why}" for n, why in comparison["skipped"].items())
    )


def _comparison(
    tested: BacktestResult, names: list[TransactionModelName], rule: str, first: dt.date
) -> dict[str, Any]:
    """The ``model_comparison`` record of a backtest's models (``selected`` set later)."""
    totals = tested.totals.set_index("model")
    settings = tested.settings
    return {
        "selected": None,
        "metric": METRIC,
        "selected_by": SELECTED_BY,
        "candidates": list(names),
        "candidates_rule": rule,
        "split": {
            "first_order": first.isoformat(),
            "calibration_end": settings["calibration_end"],
            "observation_end": settings["observation_end"],
            "holdout_length": settings["holdout_length"],
            "time_unit": settings["time_unit"],
            "rule": SPLIT_RULE,
            "n_customers": settings["n_customers"],
            "actual_purchases": float(tested.customers["frequency_holdout"].sum()),
        },
        "models": {
            name: {
                **{key: float(totals.loc[name, col]) for key, col in METRIC_COLUMNS.items()},
                **_erlang_shape(tested.models[name]),
            }
            for name in names
            if name in totals.index
        },
        "skipped": dict(tested.failed),
        "calibration_method": settings["method"],
        "priors": settings["priors"],
    }


def _erlang_shape(model: Any) -> dict[str, int]:
    """``{"k": k}`` for a CNBD-k candidate (its Erlang shape on the calibration period)."""
    k = getattr(model.transaction_model_, "k_", None)
    return {} if k is None else {"k": int(k)}


def comparison_lines(comparison: dict[str, Any]) -> list[str]:
    """The comparison as lines of text: the split, a row per candidate, the choice."""
    split = comparison["split"]
    lines = [
        f"model choice among {', '.join(comparison['candidates'])}",
        f"  fitted on the orders to {split['calibration_end']}, holdout to "
        f"{split['observation_end']} ({split['holdout_length']:.1f} {split['time_unit']}; "
        f"{split['rule']}); {split['n_customers']:,} customers, "
        f"{split['actual_purchases']:,.0f} holdout purchases",
        f"  {'model':<16}{'predicted':>11}{'error %':>9}{'bias':>9}{'MAE':>8}{'RMSE':>8}"
        f"{'log-lik':>13}",
    ]
    for name, row in comparison["models"].items():
        mark = " <- chosen" if name == comparison.get("selected") else ""
        label = MODEL_LABELS.get(name, name) + (f" k={row['k']}" if "k" in row else "")
        lines.append(
            f"  {label:<16}{row['predicted_purchases']:>11,.0f}"
            f"{row['aggregate_error_pct']:>+9.1f}{row['bias']:>+9.3f}{row['mae']:>8.4f}"
            f"{row['rmse']:>8.4f}{row['log_likelihood']:>13,.1f}{mark}"
        )
    for name, why in comparison.get("skipped", {}).items():
        lines.append(f"  {MODEL_LABELS.get(name, name)} skipped: {why}")
    for name, why in comparison.get("left_out", {}).items():
        lines.append(f"  {MODEL_LABELS.get(name, name)} left out: {why}")
    if "covariates" in comparison:
        cov = comparison["covariates"]
        lines.append(
            f"  every fit with covariates: purchase {', '.join(cov['purchase']) or '(none)'}; "
            f"dropout {', '.join(cov['dropout']) or '(none)'}"
        )
    selected = comparison.get("selected")
    lines.append(
        f"chosen: {MODEL_LABELS.get(selected, selected)} ({comparison['selected_by']}), "
        "refitted on all the orders"
    )
    return lines
