"""The benchmark's subscriptions: first spells of the shifted-beta-geometric model, simulated.

One definition for the ``sbg_fit`` and ``cli_churn`` jobs (:func:`first_spells`): each
customer's churn probability per period is θ ~ Beta(α, β) of its plan, made proportional to
a hazard ratio HR by θ' = 1 − (1 − θ)^HR (the continuous-time hazard −log(1 − θ) times HR,
so a customer's survival is (1 − θ)^(t·HR)); the churn period K ~ Geometric(θ') (K ≥ 1),
seen as a churn when K < T, the periods observed (a churn at period ≥ T is not seen by the
end of period T), else censored with T periods paid.

:func:`subscriptions_tables` builds the SUBS table of ``clv churn`` (the columns of
:data:`clvmodels.data.subscriptions.SUBS_COLUMNS`, monthly billing, no reactivations) and a
companies table straight from those draws: no billing table is simulated. The plans, size
bands (with their hazard ratios) and industries are those of
:mod:`clvmodels.examples.subscriptions`; signups fall in :data:`CHURN_COHORTS` monthly
cohorts from :data:`CHURN_START`, on days 1–28, observed to the end of the month after the
last cohort's (so every T >= 2, as pymc-marketing's ``ShiftedBetaGeoModel`` requires).
"""

from __future__ import annotations

from typing import Any

#: Monthly signup cohorts of the cli_churn job's subscriptions, from CHURN_START.
CHURN_COHORTS = 36
CHURN_START = "2022-01"


def first_spells(
    rng: Any, alpha: Any, beta: Any, T: Any, hazard_ratio: Any = None
) -> dict[str, Any]:
    """Periods paid and churn flags of the first spell, drawn per customer.

    Parameters
    ----------
    rng : numpy.random.Generator
    alpha, beta : array_like
        Each customer's sBG parameters (of its plan or cohort).
    T : array_like of int
        Periods observed, counting the first.
    hazard_ratio : array_like, optional
        Each customer's hazard ratio (default 1: the plain sBG).

    Returns
    -------
    dict
        ``periods`` (the churn period K when churned, else T), ``churned`` (K < T).
    """
    import numpy as np

    theta = rng.beta(alpha, beta)
    if hazard_ratio is not None:
        theta = -np.expm1(np.asarray(hazard_ratio) * np.log1p(-theta))
    churn_period = rng.geometric(np.clip(theta, 1e-12, 1.0))
    churned = churn_period < T
    return {"periods": np.where(churned, churn_period, T), "churned": churned}


def subscriptions_tables(n: int, seed: int) -> tuple[Any, Any, dict[str, Any]]:
    """SUBS (one row per customer) and companies (id, industry, size_band); the truth."""
    import numpy as np
    import pandas as pd

    from clvmodels.examples.subscriptions import INDUSTRIES, PLANS, SIZE_BANDS

    rng = np.random.default_rng(seed)
    plans, bands, industries = list(PLANS), list(SIZE_BANDS), list(INDUSTRIES)
    plan = rng.choice(len(plans), n, p=[PLANS[p]["share"] for p in plans])
    size = rng.choice(len(bands), n, p=[share for share, _ in SIZE_BANDS.values()])
    industry = rng.choice(len(industries), n, p=list(INDUSTRIES.values()))
    cohort = rng.integers(0, CHURN_COHORTS, n)
    day = rng.integers(0, 28, n)
    T = CHURN_COHORTS + 1 - cohort  # day <= 28: whole months to the observation end, + 1
    spec = np.array([[PLANS[p]["alpha"], PLANS[p]["beta"], PLANS[p]["price"]] for p in plans])
    hr = np.array([h for _, h in SIZE_BANDS.values()])
    spells = first_spells(rng, spec[plan, 0], spec[plan, 1], T, hazard_ratio=hr[size])
    periods, churned = spells["periods"], spells["churned"]
    month = np.datetime64(CHURN_START, "M") + cohort
    first = month.astype("datetime64[D]") + day
    paid_until = (month + periods).astype("datetime64[D]") + day
    price = spec[plan, 2]
    plan_names = np.array(plans, dtype=object)[plan]
    subs = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1, dtype=np.int64) + 10_000,
            "plan": plan_names,
            "plan_last": plan_names,
            "cohort": np.datetime_as_string(month, unit="M").astype(object),
            "first_payment": first.astype("datetime64[ns]"),
            "paid_until": paid_until.astype("datetime64[ns]"),
            "periods_paid": periods.astype(np.int64),
            "churned": churned,
            "T": T.astype(np.int64),
            "reactivations": np.zeros(n, dtype=np.int64),
            "first_spell_periods": periods.astype(np.int64),
            "first_spell_churned": churned,
            "revenue": price * periods,
            "price_per_period": price,
            "billing_period": "month",
        }
    )
    companies = pd.DataFrame(
        {
            "id": subs["customer_id"].to_numpy(),
            "industry": np.array(industries, dtype=object)[industry],
            "size_band": np.array(bands, dtype=object)[size],
        }
    )
    truth = {
        "plans": {p: {k: PLANS[p][k] for k in ("alpha", "beta")} for p in plans},
        "size_band_hazard_ratios": {band: h for band, (_, h) in SIZE_BANDS.items()},
        "hazard_ratio_rule": "individual: theta' = 1 - (1 - theta) ** HR (Beta frailty "
        "attenuates the population's hazard ratio toward 1)",
    }
    return subs, companies, truth
