"""What drives churn: Cox hazard ratios beside the sBG with dropout covariates.

Two estimates of each company covariate's effect, side by side in ``drivers.csv``:

* ``cox``: Cox proportional hazards (statsmodels ``PHReg``) on the survival durations of
  the first spell, with the company covariates (``--covariates``, categorical: one dummy per
  level against the most common one) and the activity measured in a baseline window (the
  first ``--baseline-periods`` periods of each customer; only customers who survived the
  window, their time counted from its end, so activity is never read from the months just
  before churn);
* ``sbg``: the shifted-beta-geometric model with dropout covariates in pymc-marketing's form
  (α_i = α·exp(−x·γ_α), β_i = β·exp(−x·γ_β)), fitted on the same company dummies. Its
  ``hazard_ratio`` column is the churn ratio E[θ | x = 1] / E[θ | x = 0] with
  E[θ] = α/(α+β), the first-period churn probability of a new customer — the sBG's
  counterpart of a hazard ratio (not the same quantity: read the two side by side for
  direction and size). Activity enters only the Cox model (its left-truncated landmark
  design has no sBG counterpart in the cells).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clvmodels.models.posterior import INTERVAL_QUANTILES
from clvmodels.models.sbg import sbg_cells
from clvmodels.subscriptions.covariates import activity_baseline, company_covariates
from clvmodels.subscriptions.settings import ChurnSettings
from clvmodels.subscriptions.survival import COX_COLUMNS, cox, cox_design

#: The columns of drivers.csv.
DRIVER_COLUMNS = (
    "source",
    *(column for column in COX_COLUMNS if column != "customers"),
    "coefficient_alpha",
    "coefficient_beta",
    "customers",
)


def churn_drivers(
    subs: pd.DataFrame,
    groups: np.ndarray | None,
    duration: np.ndarray,
    event: np.ndarray,
    settings: ChurnSettings,
    companies: pd.DataFrame | None,
    activities: pd.DataFrame | None,
) -> pd.DataFrame:
    """The rows of ``drivers.csv`` (empty when neither companies nor activities are given).

    ``groups`` (each row's ``--by`` group, or None) stratifies the Cox model: each group has
    its own baseline hazard (the plans' sBG curves differ), the covariates one effect.

    Customers without a company row (or with a missing covariate) are left out of both
    models; :func:`clvmodels.subscriptions.covariates.company_covariates` warns about them.
    """
    rows: list[pd.DataFrame] = []
    cox_rows: dict[str, int] = {}
    company = None
    if companies is not None and settings.covariates:
        company = company_covariates(
            subs["customer_id"], companies, key=settings.company_key, columns=settings.covariates
        )[list(settings.covariates)].reset_index(drop=True)
    known = (
        company.notna().all(axis=1).to_numpy() if company is not None else np.ones(len(subs), bool)
    )
    if activities is not None:
        baseline = activity_baseline(
            subs,
            activities,
            key=settings.activity_key,
            month_col=settings.activity_month_col,
            measures=settings.activity_measures,
            baseline_periods=settings.baseline_periods,
        )
        # the landmark's customers, in its order: their rows of SUBS
        rows_used = pd.Index(subs["customer_id"]).get_indexer(baseline["customer_id"])
        covariates = baseline[[c for c in baseline.columns if c.startswith("log2(")]]
        if company is not None:
            covariates = pd.concat(
                [company.iloc[rows_used].reset_index(drop=True), covariates], axis=1
            )
        duration, event = baseline["duration"].to_numpy(), baseline["event"].to_numpy()
        entry = baseline["entry"].to_numpy(dtype="float64")
    else:
        rows_used, covariates, entry = np.arange(len(subs)), company, None
    if covariates is not None:
        use = known[rows_used]
        table = cox(
            duration[use],
            event[use],
            covariates[use].reset_index(drop=True),
            entry=None if entry is None else entry[use],
            strata=None if groups is None else groups[rows_used][use],
            seed=settings.seed or 0,
        )
        cox_rows = {k: table.attrs[k] for k in ("fitted_rows", "total_rows") if k in table.attrs}
        rows.append(table.assign(source="cox"))
    if company is not None:
        rows.append(_sbg_drivers(subs[known], company[known].reset_index(drop=True), settings))
    if not rows:
        return pd.DataFrame(columns=list(DRIVER_COLUMNS))
    table = pd.concat(rows, ignore_index=True)
    for column in DRIVER_COLUMNS:
        if column not in table.columns:
            table[column] = np.nan
    table = table[list(DRIVER_COLUMNS)]
    table.attrs["cox"] = cox_rows
    return table


def _sbg_drivers(
    subs: pd.DataFrame, company: pd.DataFrame, settings: ChurnSettings
) -> pd.DataFrame:
    """The sBG with dropout covariates (one pooled group) on the company dummies."""
    x, names, _counts = cox_design(company, len(company))
    cells = sbg_cells(
        subs["first_spell_periods"].to_numpy(),
        subs["T"].to_numpy(),
        subs["first_spell_churned"].to_numpy(),
        covariates=x,
    )
    fit = settings.fit(cells)
    return churn_ratios(fit.posterior, names, x)


def churn_ratios(posterior: Any, names: list[str], x: np.ndarray) -> pd.DataFrame:
    """E[θ | x_j = 1] / E[θ | 0] per covariate, with the 94% interval when there are draws."""
    alpha = _flat(posterior["alpha"]).reshape(-1)
    beta = _flat(posterior["beta"]).reshape(-1)
    gamma_a = _flat(posterior["coefficient_alpha"])
    gamma_b = _flat(posterior["coefficient_beta"])
    base = alpha / (alpha + beta)
    records = []
    for j, name in enumerate(names):
        a = alpha * np.exp(-gamma_a[:, j])
        b = beta * np.exp(-gamma_b[:, j])
        ratio = (a / (a + b)) / base
        low, high = np.quantile(ratio, INTERVAL_QUANTILES) if len(ratio) > 1 else (np.nan, np.nan)
        records.append(
            {
                "covariate": name,
                "hazard_ratio": float(ratio.mean()),
                "hr_low": low,
                "hr_high": high,
                "coefficient_alpha": float(gamma_a[:, j].mean()),
                "coefficient_beta": float(gamma_b[:, j].mean()),
                "customers": int((x[:, j] != 0).sum()),
            }
        )
    return pd.DataFrame(records).assign(source="sbg")


def _flat(values: Any) -> np.ndarray:
    """Draws first: (chain * draw, ...) from an xarray variable with chain and draw dims."""
    array = np.asarray(values.values, dtype="float64")
    return array.reshape(-1, *array.shape[2:]) if array.ndim > 2 else array.reshape(-1)
