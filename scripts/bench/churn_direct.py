"""The cli_churn job's other side and its check: the churn analysis written directly.

:func:`direct_churn` does what ``clv churn SUBS --by plan --companies C`` does, the way a
pandas user would with the libraries themselves: statsmodels' ``SurvfuncRight`` per plan and
``survdiff`` on one row per customer, ``PHReg`` (Efron ties) on every row with the company
dummies, pymc-marketing's ``ShiftedBetaGeoModel().fit(method="map")`` per plan with one
cohort per (plan, signup month) so that each cohort shares one T, and two matplotlib plots.
:func:`agreement` compares ``clv churn``'s files with its results, and our per-plan sBG with
:func:`sbg_map`, the sBG's MAP under the same default priors written here with scipy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def direct_churn(subs_path: str, companies_path: str, horizon: int) -> dict[str, Any]:
    """Read, Kaplan–Meier, log-rank, Cox, sBG per plan, plots; every step's seconds."""
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        seconds[step] = now - clock[0]
        clock[0] = now

    import numpy as np
    import pandas as pd

    subs = pd.read_parquet(subs_path)
    companies = pd.read_parquet(companies_path)
    lap("read")
    churned = subs["first_spell_churned"].to_numpy(dtype=bool)
    duration = np.where(churned, subs["first_spell_periods"], subs["T"] - 1).astype(float)
    event = churned.astype(np.int64)
    plans = subs["plan"].to_numpy(dtype=str)
    km = _kaplan_meier(duration, event, plans, horizon)
    lap("Kaplan-Meier")
    tests = _logrank(duration, event, plans)
    lap("log-rank")
    cox = _cox(subs, companies, duration, event)
    lap("Cox")
    sbg = _sbg(subs)
    lap("sBG")
    _plots(km, cox, Path(subs_path).parent / "cli_churn_pandas")
    lap("plots")
    return {
        "seconds": seconds,
        "customers": len(subs),
        "km": km,
        "logrank": tests,
        "cox": cox,
        "sbg": sbg,
    }


def _kaplan_meier(duration: Any, event: Any, plans: Any, horizon: int) -> dict[str, list]:
    """Each plan's Kaplan–Meier survival at periods 0..horizon (SurvfuncRight, all rows)."""
    import numpy as np
    from statsmodels.duration.survfunc import SurvfuncRight

    periods = np.arange(horizon + 1)
    km = {}
    for plan in np.unique(plans):
        sel = plans == plan
        fit = SurvfuncRight(duration[sel], event[sel])
        step = np.searchsorted(fit.surv_times, periods, side="right") - 1
        prob = np.where(step >= 0, np.asarray(fit.surv_prob)[np.maximum(step, 0)], 1.0)
        km[str(plan)] = [float(p) for p in prob]
    return km


def _logrank(duration: Any, event: Any, plans: Any) -> dict[str, Any]:
    """survdiff over all plans, then each pair."""
    import itertools

    import numpy as np
    from statsmodels.duration.survfunc import survdiff

    overall, _ = survdiff(duration, event, plans)
    pairs = {}
    for a, b in itertools.combinations(np.unique(plans), 2):
        sel = (plans == a) | (plans == b)
        pairs[f"{a} | {b}"] = float(survdiff(duration[sel], event[sel], plans[sel])[0])
    return {"overall": float(overall), "pairwise": pairs}


def _cox(subs: Any, companies: Any, duration: Any, event: Any) -> dict[str, list[float]]:
    """PHReg on all rows: industry and size band dummies against their most common level."""
    import numpy as np
    import pandas as pd
    from statsmodels.duration.hazard_regression import PHReg

    merged = subs[["customer_id"]].merge(
        companies, left_on="customer_id", right_on="id", how="left"
    )
    columns = {}
    for col in ("industry", "size_band"):
        counts = merged[col].value_counts()
        reference = counts.idxmax()
        for level in sorted(counts.index):
            if level != reference:
                columns[f"{col}={level} (vs {reference})"] = (merged[col] == level).to_numpy(float)
    x = pd.DataFrame(columns)
    result = PHReg(duration, x.to_numpy(), status=event, ties="efron").fit()
    coef, se = np.asarray(result.params), np.asarray(result.bse)
    return {name: [float(c), float(s)] for name, c, s in zip(x.columns, coef, se, strict=True)}


def _sbg(subs: Any) -> dict[str, list[float]]:
    """ShiftedBetaGeoModel MAP per plan, one cohort per (plan, signup month)."""
    import warnings

    import pandas as pd
    from pymc_marketing.clv import ShiftedBetaGeoModel

    params = {}
    for plan, part in subs.groupby("plan", sort=True):
        data = pd.DataFrame(
            {
                "customer_id": part["customer_id"].to_numpy(),
                "recency": part["first_spell_periods"].to_numpy(),
                "T": part["T"].to_numpy(),
                "cohort": (f"{plan} " + part["cohort"].astype(str)).to_numpy(),
            }
        )
        model = ShiftedBetaGeoModel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(data=data, method="map", progressbar=False)
        fit = model.fit_result
        for cohort in fit["alpha"].coords["cohort"].values:
            params[str(cohort)] = [
                float(fit[name].sel(cohort=cohort).values.item()) for name in ("alpha", "beta")
            ]
    return params


def _plots(km: dict[str, list], cox: dict[str, list[float]], stem: Path) -> None:
    """Survival per plan and the hazard ratios with 94% intervals, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for plan, survival in km.items():
        ax.step(np.arange(len(survival)), survival, where="post", label=plan)
    ax.set(xlabel="period", ylabel="survival")
    ax.legend()
    fig.savefig(f"{stem}_survival.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = list(cox)
    coef = np.array([cox[n][0] for n in names])
    half = 1.881 * np.array([cox[n][1] for n in names])  # z of a 94% interval
    ax.errorbar(np.exp(coef), np.arange(len(names)), xerr=None, fmt="o")
    ax.hlines(np.arange(len(names)), np.exp(coef - half), np.exp(coef + half))
    ax.set_yticks(np.arange(len(names)), names)
    ax.axvline(1.0, color="grey")
    ax.set_xscale("log")
    fig.tight_layout()
    fig.savefig(f"{stem}_hazard_ratios.png", dpi=110)
    plt.close(fig)


def sbg_map(periods: Any, T: Any, churned: Any) -> tuple[float, float]:
    """The sBG's MAP of one group under pymc-marketing's default priors, written with scipy.

    The log-likelihood (Fader & Hardie 2007): a churned customer at its churn period n adds
    log P(n) = log B(α+1, β+n−1) − log B(α, β); an active one log S(T−1) = log B(α, β+T−1)
    − log B(α, β). The priors (``ShiftedBetaGeoModel.default_model_config``): φ = α/(α+β) ~
    Uniform(0, 1), κ = α+β ~ Pareto(1, 1), i.e. −2 log κ on κ ≥ 1; the density without the
    Jacobian of the transforms, as ``pm.find_MAP`` and clvmodels' MAP maximise it.
    """
    import numpy as np
    from scipy.optimize import minimize
    from scipy.special import betaln

    cells, counts = np.unique(
        np.stack([np.asarray(periods), np.asarray(T), np.asarray(churned, dtype=np.int64)]),
        axis=1,
        return_counts=True,
    )
    n, t, c = cells

    def negative_ll(x: Any) -> float:
        a, b = np.exp(x)
        if a + b < 1:
            return np.inf
        ll = np.where(c == 1, betaln(a + 1, b + n - 1), betaln(a, b + t - 1)) - betaln(a, b)
        return float(-(counts * ll).sum() + 2 * np.log(a + b))

    start = minimize(negative_ll, np.full(2, 0.5), method="Nelder-Mead").x
    done = minimize(
        negative_ll, start, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-9}
    )
    alpha, beta = np.exp(done.x)
    return float(alpha), float(beta)


def agreement(
    ours_dir: Path, other: dict[str, Any], subs_path: Path, tol: dict[str, float]
) -> dict[str, Any]:
    """clv churn's sBG against :func:`sbg_map`; its KM, log-rank and Cox against ``other``."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    subs = pd.read_parquet(
        subs_path, columns=["plan", "first_spell_periods", "T", "first_spell_churned"]
    )
    params = pd.read_csv(ours_dir / "sbg_params.csv")
    sbg_rel = {}
    for row in params.itertuples():
        part = subs[subs["plan"] == row.plan]
        best = sbg_map(part["first_spell_periods"], part["T"], part["first_spell_churned"])
        for name, ours, theirs in zip(("alpha", "beta"), (row.alpha, row.beta), best, strict=True):
            sbg_rel[f"{name}[{row.plan}]"] = abs(ours - theirs) / theirs
    retention = pd.read_csv(ours_dir / "retention.csv")
    km = [
        abs(r.observed_survival - other["km"][r.plan][r.period])
        for r in retention.itertuples()
        if r.period < len(other["km"][r.plan])
    ]
    logrank = pd.read_csv(ours_dir / "logrank.csv")
    overall = float(logrank.loc[logrank["test"] == "overall", "statistic"].iloc[0])
    logrank_rel = abs(overall - other["logrank"]["overall"]) / other["logrank"]["overall"]
    drivers = pd.read_csv(ours_dir / "drivers.csv")
    z = stats.norm.ppf(0.97)
    cox = {}
    for r in drivers[drivers["source"] == "cox"].itertuples():
        se = (np.log(r.hr_high) - np.log(r.hr_low)) / (2 * z)
        cox[r.covariate] = abs(np.log(r.hazard_ratio) - other["cox"][r.covariate][0]) / se
    result = {
        "sbg_max_rel_diff": max(sbg_rel.values()),
        "sbg_rel_diff": sbg_rel,
        "km_max_abs_diff": max(km),
        "logrank_rel_diff": logrank_rel,
        "cox_max_diff_in_se": max(cox.values()),
        "cox_diff_in_se": cox,
        "cox_covariates_match": set(cox) == set(other["cox"]),
    }
    result["agree"] = bool(
        result["sbg_max_rel_diff"] < tol["sbg_rtol"]
        and result["km_max_abs_diff"] < tol["km_atol"]
        and logrank_rel < tol["logrank_rtol"]
        and result["cox_max_diff_in_se"] < tol["cox_se"]
        and result["cox_covariates_match"]
    )
    return result
