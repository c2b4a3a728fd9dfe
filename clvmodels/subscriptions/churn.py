"""The churn analysis of ``clv churn``: sBG per group, survival, drivers, residual value.

:func:`analyse_churn` takes a subscriptions table (one row per customer, see
``docs/subscriptions.md``) and returns every table ``clv churn`` writes; it reads and writes
nothing (:mod:`clvmodels.jobs.churn` does). The steps:

1. groups: one fit per combination of the ``by`` columns (one group ``all`` without them);
2. the shifted-beta-geometric model per group on the first spell of each customer
   (:func:`clvmodels.models.sbg.fit_sbg` on sufficient statistics, so customers of one group
   may have different ``T``);
3. observed survival (Kaplan–Meier) beside the sBG's predicted survival and retention;
4. log-rank tests between the groups;
5. drivers: Cox proportional hazards on the company covariates and the activity measured in
   a baseline window, and the sBG with dropout covariates as the model-based estimate;
6. per customer: P(renew next), discounted expected residual lifetime and residual value
   (:mod:`clvmodels.subscriptions.residual`);
7. the typical customer of each group (profile).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.models.sbg import (
    per_period_discount,
    sbg_cells,
    sbg_retention,
    sbg_survival,
)
from clvmodels.subscriptions.covariates import profile
from clvmodels.subscriptions.drivers import churn_drivers
from clvmodels.subscriptions.residual import customer_values, summarise_draws
from clvmodels.subscriptions.settings import ChurnSettings
from clvmodels.subscriptions.survival import (
    kaplan_meier,
    logrank,
    survival_durations,
)

#: The group column when no ``by`` columns are given.
ALL_GROUP = "group"
#: The columns of ``retention.csv`` after the group columns.
RETENTION_COLUMNS = (
    "period",
    "observed_survival",
    "predicted_survival",
    "predicted_retention",
    "at_risk",
    "churn_events",
)


@dataclass
class ChurnResult:
    """Every table of a churn analysis, and a JSON-ready summary."""

    group_cols: tuple[str, ...]
    params: pd.DataFrame
    retention: pd.DataFrame
    customers: pd.DataFrame
    logrank: pd.DataFrame
    drivers: pd.DataFrame
    profile: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def analyse_churn(
    subs: pd.DataFrame,
    settings: ChurnSettings | None = None,
    *,
    companies: pd.DataFrame | None = None,
    activities: pd.DataFrame | None = None,
    people: pd.DataFrame | None = None,
    progress: Any = None,
) -> ChurnResult:
    """Fit, test and value the subscriptions in ``subs``.

    ``subs`` is a table as :func:`clvmodels.data.subscriptions.read_subscriptions` reads it.
    ``companies``, ``activities`` and ``people`` are optional: without them there are no
    drivers and the profile has no size, industry or users. ``progress(step)``, when given,
    is called before each step.
    """
    settings = settings or ChurnSettings()
    step = progress or (lambda _name: None)
    subs = subs.reset_index(drop=True)
    codes, labels = group_codes(subs, settings.by)
    group_cols = settings.by or (ALL_GROUP,)
    step("sBG fit")
    cells = sbg_cells(
        subs["first_spell_periods"].to_numpy(),
        subs["T"].to_numpy(),
        subs["first_spell_churned"].to_numpy(),
        group_codes=codes,
    )
    fit = settings.fit(cells)
    alpha, beta = _draws(fit.posterior, "alpha"), _draws(fit.posterior, "beta")
    step("Kaplan-Meier and log-rank")
    duration, event = survival_durations(
        subs["first_spell_periods"].to_numpy(),
        subs["T"].to_numpy(),
        subs["first_spell_churned"].to_numpy(),
    )
    grouping = subs[list(settings.by)] if settings.by else None
    retention = _retention(
        kaplan_meier(duration, event, grouping, settings.horizon_periods), labels, alpha, beta
    )
    tests = logrank(duration, event, _label_strings(labels, codes)) if len(labels) > 1 else None
    step("residual value")
    billing_period = str(subs["billing_period"].iloc[0])
    discount = per_period_discount(settings.annual_discount_rate, billing_period)
    values = customer_values(
        codes,
        subs["T"].to_numpy(),
        ~subs["churned"].to_numpy(dtype=bool),
        subs["price_per_period"].to_numpy(dtype="float64"),
        alpha,
        beta,
        discount=discount,
        horizon=settings.horizon_periods,
    )
    customers = pd.concat([subs[["customer_id", *settings.by]], values], axis=1)
    step("drivers")
    strata = codes if settings.by else None
    drivers = churn_drivers(subs, strata, duration, event, settings, companies, activities)
    return ChurnResult(
        group_cols=group_cols,
        params=_params(fit, labels, alpha, beta),
        retention=retention,
        customers=customers,
        logrank=tests if tests is not None else _no_tests(),
        drivers=drivers,
        profile=profile(
            subs,
            list(settings.by),
            companies=companies,
            people=people,
            company_key=settings.company_key,
            people_key=settings.people_key,
        ),
        summary={
            **_summary(settings, fit, billing_period, discount, subs),
            "cox": drivers.attrs.get("cox", {}),
        },
    )


def group_codes(subs: pd.DataFrame, by: tuple[str, ...]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group number, and the groups' values of the ``by`` columns (one per row).

    Without ``by`` every row is in the one group ``all``. A missing value in a ``by``
    column is an error naming it.
    """
    if not by:
        return np.zeros(len(subs), dtype="int64"), pd.DataFrame({ALL_GROUP: ["all"]})
    unknown = [c for c in by if c not in subs.columns]
    if unknown:
        raise DataError(
            f"--by names column(s) the subscriptions table does not have: {', '.join(unknown)}",
            hint=f"its columns are {', '.join(map(str, subs.columns))}",
        )
    for column in by:
        missing = subs[column].isna().to_numpy()
        if missing.any():
            raise DataError(
                "missing values in a --by column",
                column=column,
                n_rows=int(missing.sum()),
                examples=subs.loc[missing, "customer_id"].head(5).tolist(),
            )
    keys = subs[list(by)].astype("string")
    grouped = keys.groupby(list(by), sort=True, observed=True)
    codes = grouped.ngroup().to_numpy(dtype="int64")
    labels = keys.drop_duplicates().sort_values(list(by)).reset_index(drop=True)
    return codes, labels.astype(object)


def _label_strings(labels: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    names = labels.astype(str).agg(", ".join, axis=1).to_numpy(dtype=object)
    return names[codes]


def _draws(posterior: Any, name: str) -> np.ndarray:
    """A (draws, groups) array of a group-level parameter."""
    values = np.asarray(posterior[name].transpose("chain", "draw", "group").values)
    return values.reshape(-1, values.shape[-1]).astype("float64")


def _params(fit: Any, labels: pd.DataFrame, alpha: np.ndarray, beta: np.ndarray) -> pd.DataFrame:
    """sbg_params.csv: each group's alpha and beta (mean, 94% interval; empty for MAP)."""
    table = labels.copy()
    empty = np.full(len(labels), np.nan)
    for name, values in (("alpha", alpha), ("beta", beta)):
        summary = summarise_draws(values, values.shape[0] > 1)
        table[name] = summary[""]
        table[f"{name}_low"] = summary.get("_low", empty)
        table[f"{name}_high"] = summary.get("_high", empty)
    table["customers"] = np.asarray(fit.customers, dtype="int64")
    table["churned"] = np.asarray(fit.churned, dtype="int64")
    table["log_likelihood"] = np.asarray(fit.log_likelihood, dtype="float64")
    table["method"] = fit.report.get("method", "")
    return table


def _retention(
    km: pd.DataFrame, labels: pd.DataFrame, alpha: np.ndarray, beta: np.ndarray
) -> pd.DataFrame:
    """Kaplan–Meier per group and period, with the sBG's survival and retention beside it."""
    group_cols = list(labels.columns)
    km = km.copy()
    if ALL_GROUP in group_cols and ALL_GROUP not in km.columns:
        km.insert(0, ALL_GROUP, "all")
    km[group_cols] = km[group_cols].astype(str)
    labelled = labels.astype(str).reset_index().rename(columns={"index": "_code"})
    lookup = km.merge(labelled, on=group_cols, how="left")["_code"].to_numpy(dtype="int64")
    t = km["period"].to_numpy(dtype="float64")
    survival = sbg_survival(alpha[:, lookup], beta[:, lookup], t[None, :]).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        retention = sbg_retention(alpha[:, lookup], beta[:, lookup], t[None, :]).mean(axis=0)
    km["predicted_survival"] = survival
    km["predicted_retention"] = np.where(t >= 1, retention, np.nan)
    return km[[*group_cols, *RETENTION_COLUMNS]]


def _no_tests() -> pd.DataFrame:
    return pd.DataFrame(columns=["test", "group_a", "group_b", "statistic", "df", "p_value"])


def _summary(
    settings: ChurnSettings,
    fit: Any,
    billing_period: str,
    discount: float,
    subs: pd.DataFrame,
) -> dict[str, Any]:
    return {
        "settings": {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in asdict(settings).items()
        },
        "billing_period": billing_period,
        "per_period_discount_rate": discount,
        "discount_rule": (
            "(1 + r) ** (1 / 12) - 1 per month" if billing_period == "month" else "r per year"
        ),
        "customers": len(subs),
        "churned_first_spell": int(subs["first_spell_churned"].sum()),
        "active": int((~subs["churned"].astype(bool)).sum()),
        "fit": fit.report,
        "intervals": "94% (3% and 97% quantiles of the draws)"
        if settings.method != "map"
        else "none: MAP gives a point estimate (use --method laplace or mcmc for intervals)",
    }
