"""LTV and ROMI curves by age: per (cohort, source) cell, and per source.

:func:`by_age_table` is the ``by_age`` table of :func:`clvmodels.marketing.payback.payback_analysis`
(one row per cell and age, realised and predicted); :func:`source_romi_curves` averages it into
one ROMI curve per source, right-censored as :mod:`clvmodels.marketing.payback` defines.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from clvmodels.marketing.grid import CellGrid
from clvmodels.marketing.summary import interval


def by_age_table(
    grid: CellGrid, predicted: np.ndarray | None, *, max_age: int | None
) -> pd.DataFrame:
    """One row per (cell, age): empirical curves to ``age_now`` and predicted to ``max_age``."""
    last = grid.age_now.copy()
    if max_age is not None:
        last = np.maximum(last, max_age)
    n_rows = last + 1
    g = np.repeat(np.arange(grid.n), n_rows)
    age = np.concatenate([np.arange(n) for n in n_rows]) if grid.n else np.array([], int)
    n_ages = grid.cum.shape[1]
    inside = age < n_ages
    safe_age = np.where(inside, age, 0)

    def pick(values: np.ndarray, fill: float) -> np.ndarray:
        return np.where(inside, values[g, safe_age], fill)

    cum = pick(grid.cum, np.nan)
    buyers = grid.buyers[g]
    costs = grid.costs[g]
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame(
            {
                "cohort": grid.cells["cohort"].to_numpy()[g],
                "source_id": grid.cells["source_id"].to_numpy()[g],
                "age": age.astype("int64"),
                "new_buyers": buyers.astype("int64"),
                "costs": costs,
                "cac": np.where(buyers > 0, costs / buyers, np.nan),
                "active_customers": pick(grid.active.astype("float64"), np.nan),
                "margin": pick(grid.margin, np.nan),
                "cumulative_margin": cum,
                "cumulative_ltv": np.where(buyers > 0, cum / buyers, np.nan),
                "romi": np.where(costs > 0, cum / costs, np.nan),
                "complete": pick(grid.complete.astype("float64"), 0.0) > 0.5,
                "observed": age <= grid.age_now[g],
            }
        )
        table["active_customers"] = table["active_customers"].astype("Int64")
        if predicted is not None and max_age is not None:
            within = age <= max_age
            safe = np.where(within, age, 0)
            draws = np.where(within[None, :], predicted[:, g, safe], np.nan)
            ltv = np.where(buyers[None, :] > 0, draws / buyers[None, :], np.nan)
            romi = np.where(costs[None, :] > 0, draws / costs[None, :], np.nan)
            for name, values in (("cumulative_ltv", ltv), ("romi", romi)):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    table[f"predicted_{name}"] = np.nanmean(values, axis=0)
                low, high = interval(values)
                table[f"predicted_{name}_low"] = low
                table[f"predicted_{name}_high"] = high
    return table


def source_romi_curves(by_age: pd.DataFrame) -> pd.DataFrame:
    """ROMI by age per source, from :attr:`PaybackResult.by_age`.

    The empirical curve at age k sums the cumulative margin and the costs of the source's
    cells (with costs) whose age k is complete (right-censoring); the predicted curve, when
    ``by_age`` has predicted columns, sums every cell's predicted cumulative margin
    (``predicted_cumulative_ltv * new_buyers``) over the same cells' costs.

    Returns
    -------
    pandas.DataFrame
        ``source_id``, ``age``, ``n_cohorts`` (complete cells used), ``romi`` (NaN where no
        cell is complete) and, with predictions, ``predicted_romi``.
    """
    rows = by_age.loc[by_age["costs"] > 0]
    done = rows.loc[rows["complete"].astype(bool)]
    empirical = done.groupby(["source_id", "age"]).agg(
        n_cohorts=("costs", "size"),
        margin=("cumulative_margin", "sum"),
        costs=("costs", "sum"),
    )
    empirical["romi"] = empirical["margin"] / empirical["costs"]
    curves = empirical[["n_cohorts", "romi"]]
    if "predicted_cumulative_ltv" in by_age.columns:
        last = by_age.attrs.get("predicted_max_age")
        last = int(last) if last is not None else int(by_age["age"].max())
        ahead = rows.loc[rows["age"] <= last]
        margin = (ahead["predicted_cumulative_ltv"].fillna(0.0) * ahead["new_buyers"]).rename(
            "margin"
        )
        predicted = (
            pd.concat([ahead[["source_id", "age", "costs"]], margin], axis=1)
            .groupby(["source_id", "age"])[["margin", "costs"]]
            .sum()
        )
        predicted["predicted_romi"] = predicted["margin"] / predicted["costs"]
        curves = curves.join(predicted[["predicted_romi"]], how="outer")
    out = curves.reset_index()
    out["n_cohorts"] = out["n_cohorts"].fillna(0).astype("int64")
    return out.sort_values(["source_id", "age"], ignore_index=True)
