"""A SaaS subscriptions simulator with known truth: billing, companies, activities, people.

Each paying company gets a plan, a size band, an industry and a latent activity state (low
or normal). Its churn period follows the plan's shifted-beta-geometric (sBG) survival of
Fader & Hardie (2007) [FH07]_ raised to the company's hazard ratio (a Lehmann alternative):

.. math:: S(t \\mid x) = S_{plan}(t)^{HR(x)}, \\qquad
          S_{plan}(t) = B(\\alpha, \\beta + t) / B(\\alpha, \\beta),

drawn by inversion: with ``U ~ Uniform(0, 1)`` the churn period is the first whole period
``k`` with ``S_plan(k) <= U^{1/HR}`` (the ceiling of the continuous time). So reference
companies (``HR = 1``: size band ``1-10``, normal activity) follow the plan's sBG exactly,
and ``HR(x) = HR_size · HR_activity`` is exactly proportional on the continuous scale.
Industry has no effect (a null covariate).

The billing table exercises the rules of ``clv subscriptions``: renewals on the signup day
(days 1–28, so month arithmetic is unambiguous), some annual prepayments under monthly
billing (only inside a company's first spell, so the churn truth is unchanged), renewals
paid 1–5 days early (overlapping the period before), upgrades to the next plan (the truth
is by the plan at the first payment), failed
attempts (status ``"failed"``), exact duplicate rows, refunds (negative amount, status
``"success"``, comment ``"refund"``) and reactivations after a lapse of 2–6 periods (the
first spell, which the sBG uses, is unchanged). The observation end is the latest paid
payment date. Low-activity companies have monthly counts near Poisson(2) (invoices) instead
of Poisson(30), months without activity have no row, and every churner's activity drops in
its last paid period (the months just before churn, which an analysis must not read).

.. [FH07] Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer retention",
   Journal of Interactive Marketing 21(1), 76–90.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import betaln

from clvmodels.examples.arguments import check_count, check_start

#: Plans: sBG alpha, beta (per billing period), share of signups, price per month.
PLANS: dict[str, dict[str, float]] = {
    "basic": {"alpha": 0.9, "beta": 5.0, "share": 0.5, "price": 29.0},
    "team": {"alpha": 0.7, "beta": 7.0, "share": 0.3, "price": 79.0},
    "business": {"alpha": 0.5, "beta": 9.0, "share": 0.2, "price": 199.0},
}
#: Size bands (employees): share of companies, hazard ratio; the first is the reference.
SIZE_BANDS: dict[str, tuple[float, float]] = {
    "1-10": (0.45, 1.0),
    "11-50": (0.30, 0.8),
    "51-200": (0.17, 0.6),
    "201+": (0.08, 0.45),
}
#: Mean active users per company by size band (1 + Poisson(mean)).
USERS_BY_SIZE = {"1-10": 1.5, "11-50": 4.0, "51-200": 10.0, "201+": 25.0}
INDUSTRIES = {
    "construction": 0.3,
    "retail": 0.25,
    "manufacturing": 0.2,
    "services": 0.15,
    "wholesale": 0.1,
}
LOW_ACTIVITY_SHARE = 0.25
LOW_ACTIVITY_HR = 2.0
#: Mean monthly counts of a normally active company; low activity multiplies by 1/15.
ACTIVITY_MEANS = {
    "invoices": 30.0,
    "warehouses": 3.0,
    "backups": 30.0,
    "projects": 6.0,
    "counterparties": 12.0,
    "material_orders": 20.0,
}
LOW_ACTIVITY_FACTOR = 1 / 15
#: Activity in a churner's last paid period, relative to its usual level.
PRE_CHURN_FACTOR = 0.3
ANNUAL_PREPAY_SHARE, YEAR_PRICE_MONTHS = 0.15, 10
FAILED_SHARE, DUPLICATE_SHARE, REFUND_SHARE, REACTIVATION_SHARE = 0.03, 0.005, 0.003, 0.06
TRIAL_SHARE = 0.1
UPGRADE_SHARE, EARLY_SHARE = 0.05, 0.02

BILLING_COLUMNS = (
    "payment_id", "user_id", "company_id", "plan", "paid_until", "status", "created_at",
    "updated_at", "price_id", "comment", "payment_date", "amount",
)  # fmt: skip


@dataclass(frozen=True)
class SubscriptionTables:
    """The four simulated tables and their truth.

    Attributes
    ----------
    billing, companies, activities, people : DataFrame
        With the column names of the brief (``BILLING_COLUMNS`` etc.).
    truth : dict
        ``billing_period``, ``observation_end``, ``plans`` (alpha, beta, share, price),
        ``hazard_ratios`` (``size_band``: per band; ``low_activity``), ``reference`` levels
        and ``customers``: one row per paying company with its latent state and what the
        billing rules give (``plan, size_band, industry, low_activity, first_payment, T,
        first_spell_periods, first_spell_churned, churned, periods_paid, reactivations,
        annual_prepay, revenue``).
    """

    billing: pd.DataFrame
    companies: pd.DataFrame
    activities: pd.DataFrame
    people: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)


def plan_survival(alpha: float, beta: float, t: Any) -> np.ndarray:
    """The sBG survival ``S(t) = B(alpha, beta + t) / B(alpha, beta)`` at real ``t >= 0``."""
    return np.exp(betaln(alpha, beta + np.asarray(t, dtype=float)) - betaln(alpha, beta))


def simulate_subscriptions(
    n_companies: int = 2000,
    *,
    seed: int = 0,
    billing_period: Literal["month", "year"] = "month",
    start: str = "2022-01-01",
    end: str = "2024-12-31",
) -> SubscriptionTables:
    """Simulate billing, companies, activities and people tables with known churn truth.

    Parameters
    ----------
    n_companies : int
        Paying companies (the companies table has 10% more: trials that never paid).
    seed : int
        Seed of the generator; the same seed gives the same tables.
    billing_period : {"month", "year"}
        The renewal period; sBG parameters are per billing period.
    start, end : str
        Signups fall between these dates; renewals are paid up to ``end``.

    Returns
    -------
    SubscriptionTables
    """
    n = check_count(n_companies, "n_companies", minimum=1)
    if billing_period not in ("month", "year"):
        raise ValueError(f"billing_period must be 'month' or 'year'; got {billing_period!r}")
    first, last = check_start(start), check_start(end)
    if last <= first:
        raise ValueError(f"end {end} must be after start {start}")
    rng = np.random.default_rng(seed)
    step = 1 if billing_period == "month" else 12
    c = _companies(rng, n, first, last, step)
    rows = _payment_rows(rng, c, step, billing_period)
    obs_end = rows["payment_date"].max().to_datetime64().astype("datetime64[D]")
    people = _people(rng, c, obs_end)
    billing = _billing(rng, rows, c, obs_end, billing_period)
    customers = _truth_customers(c, rows, obs_end, step)
    truth = {
        "billing_period": billing_period,
        "observation_end": pd.Timestamp(obs_end),
        "plans": {name: dict(spec) for name, spec in PLANS.items()},
        "hazard_ratios": {
            "size_band": {band: hr for band, (_, hr) in SIZE_BANDS.items()},
            "low_activity": LOW_ACTIVITY_HR,
        },
        "reference": {"size_band": next(iter(SIZE_BANDS)), "low_activity": False},
        "customers": customers,
    }
    return SubscriptionTables(
        billing=billing,
        companies=_companies_table(rng, c, customers, obs_end),
        activities=_activities(rng, c, rows, obs_end, step),
        people=people,
        truth=truth,
    )


def _add_periods(d0: np.ndarray, k: np.ndarray, step: int) -> np.ndarray:
    """``d0`` (days 1–28) plus ``k`` billing periods of ``step`` months."""
    months = d0.astype("datetime64[M]")
    day = (d0 - months.astype("datetime64[D]")).astype(np.int64)
    return (months + k * step).astype("datetime64[D]") + day


def _periods_until(d0: np.ndarray, when: np.datetime64, step: int) -> np.ndarray:
    """Whole billing periods from ``d0`` to ``when`` (month arithmetic)."""
    months = when.astype("datetime64[M]").astype(np.int64) - d0.astype("datetime64[M]").astype(
        np.int64
    )
    day0 = (d0 - d0.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    day1 = (when - when.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    return (months - (day1 < day0)) // step


def _companies(
    rng: np.random.Generator, n: int, first: pd.Timestamp, last: pd.Timestamp, step: int
) -> dict[str, np.ndarray]:
    """Latent state, signup date and churn period of each paying company."""
    plans = list(PLANS)
    plan = rng.choice(len(plans), n, p=[PLANS[p]["share"] for p in plans])
    size = rng.choice(len(SIZE_BANDS), n, p=[s for s, _ in SIZE_BANDS.values()])
    industry = rng.choice(len(INDUSTRIES), n, p=list(INDUSTRIES.values()))
    low = rng.random(n) < LOW_ACTIVITY_SHARE
    lo = np.datetime64(first.date(), "D")
    hi = np.datetime64(last.date(), "D")
    d0 = lo + rng.integers(0, (hi - lo).astype(np.int64) + 1, n)
    month = d0.astype("datetime64[M]")
    day = np.minimum((d0 - month.astype("datetime64[D]")).astype(np.int64), 27)
    d0 = month.astype("datetime64[D]") + day  # renewal days 1..28
    d0 = np.where(d0 < lo, d0 + 28, d0)
    t_end = _periods_until(d0, hi, step) + 1
    hr = np.array([h for _, h in SIZE_BANDS.values()])[size] * np.where(low, LOW_ACTIVITY_HR, 1.0)
    grid = np.arange(int(t_end.max()) + 2)
    log_v = np.log(rng.random(n)) / hr
    churn = np.empty(n, dtype=np.int64)
    for i, name in enumerate(plans):
        sel = plan == i
        neg_log_s = -np.log(plan_survival(PLANS[name]["alpha"], PLANS[name]["beta"], grid))
        churn[sel] = np.searchsorted(neg_log_s, -log_v[sel], side="left")
    ids = rng.permutation(np.arange(1, n + 1 + int(n * TRIAL_SHARE))) + 10_000
    return {
        "id": ids[:n],
        "trial_ids": ids[n:],
        "plan": plan,
        "size": size,
        "industry": industry,
        "low": low,
        "d0": d0,
        "t_end": t_end,
        "churn": churn,
        "p1": np.minimum(churn, t_end),
    }


def _payment_rows(
    rng: np.random.Generator, c: dict[str, np.ndarray], step: int, billing_period: str
) -> pd.DataFrame:
    """Paid renewals: the first spell (with annual prepayments) and the reactivated spells."""
    n, p1 = len(c["d0"]), c["p1"]
    prepay = np.zeros(n, dtype=bool)
    j = np.zeros(n, dtype=np.int64)
    if billing_period == "month":
        prepay = (p1 >= 13) & (rng.random(n) < ANNUAL_PREPAY_SHARE)
        j = (rng.random(n) * np.maximum(p1 - 11, 1)).astype(np.int64)  # prepaid k = j..j+11
    observed_churn = c["churn"] <= c["t_end"] - 1
    gap = rng.integers(2, 7, n)
    react = observed_churn & (rng.random(n) < REACTIVATION_SHARE) & (c["churn"] + gap < c["t_end"])
    start2 = c["churn"] + gap
    len2 = np.where(react, np.minimum(rng.geometric(0.2, n), c["t_end"] - start2), 0)
    c.update(prepay=prepay, react=react)
    comp = np.concatenate([np.repeat(np.arange(n), p1), np.repeat(np.arange(n), len2)])
    offset = np.concatenate([np.zeros(n, np.int64), start2])
    counts = np.concatenate([p1, len2])
    firsts = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(len(comp)) - firsts + np.repeat(offset, counts)
    spell = np.concatenate([np.ones(p1.sum(), np.int8), np.full(len2.sum(), 2, np.int8)])
    covers = np.ones(len(comp), dtype=np.int64)
    in_year = prepay[comp] & (spell == 1) & (k > j[comp]) & (k <= j[comp] + 11)
    covers[prepay[comp] & (spell == 1) & (k == j[comp])] = 12
    keep = ~in_year
    comp, k, covers, spell = comp[keep], k[keep], covers[keep], spell[keep]
    # Upgrades to the next plan from a renewal on (the churn truth is by the first plan).
    upgrade = (c["plan"] < len(PLANS) - 1) & (p1 >= 2) & (rng.random(n) < UPGRADE_SHARE)
    at = 1 + (rng.random(n) * np.maximum(p1 - 1, 1)).astype(np.int64)
    plan = c["plan"][comp] + (upgrade[comp] & (k >= at[comp]))
    latest = np.zeros(n, dtype=np.int64)  # each company's last row (rows go forward in time)
    np.maximum.at(latest, comp, np.arange(len(comp)))
    c["plan_last"] = plan[latest]
    price = np.array([PLANS[p]["price"] for p in PLANS])[plan]
    yearly = (covers == 12) | (billing_period == "year")
    amount = np.where(yearly, price * YEAR_PRICE_MONTHS, price)
    paid_date = _add_periods(c["d0"][comp], k, step)
    # Some renewals are paid 1-5 days early: they overlap the period before (same union).
    early = (spell == 1) & (k >= 1) & (rng.random(len(k)) < EARLY_SHARE)
    paid_date = paid_date - np.where(early, rng.integers(1, 6, len(k)), 0)
    return pd.DataFrame(
        {
            "comp": comp,
            "k": k,
            "spell": spell,
            "covers": covers,
            "plan": plan,
            "payment_date": paid_date,
            "paid_until": _add_periods(c["d0"][comp], k + covers, step),
            "amount": amount,
        }
    )


def _billing(
    rng: np.random.Generator,
    rows: pd.DataFrame,
    c: dict[str, np.ndarray],
    obs_end: np.datetime64,
    billing_period: str,
) -> pd.DataFrame:
    """The billing table: paid rows, failed attempts, duplicates and refunds."""
    paid = rows[["comp", "plan", "payment_date", "paid_until", "amount"]].assign(
        status=0, comment=0, yearly=(rows["covers"] == 12).to_numpy()
    )  # status 0 success / 1 failed; comment 0 none / 1 card declined / 2 refund
    failed = paid[rng.random(len(paid)) < FAILED_SHARE].assign(status=1, comment=1)
    n = len(c["d0"])
    lost = (c["churn"] <= c["t_end"] - 1) & (rng.random(n) < 0.5)
    step = 1 if billing_period == "month" else 12
    missed = pd.DataFrame(
        {
            "comp": np.flatnonzero(lost),
            "payment_date": _add_periods(c["d0"][lost], c["churn"][lost], step),
            "paid_until": _add_periods(c["d0"][lost], c["churn"][lost] + 1, step),
            "status": 1,
            "comment": 1,
            "yearly": False,
        }
    )
    last = paid.groupby("comp")[["amount", "plan"]].last().reindex(missed["comp"])
    missed["amount"], missed["plan"] = last["amount"].to_numpy(), last["plan"].to_numpy()
    refunds = paid[(rng.random(len(paid)) < REFUND_SHARE) & ~paid["yearly"]].copy()
    refunds["amount"] = -refunds["amount"]
    refunds["comment"] = 2
    refunds["payment_date"] = np.minimum(refunds["payment_date"] + pd.Timedelta(days=1), obs_end)
    out = pd.concat([paid, failed, missed, refunds], ignore_index=True)
    out = out[out["payment_date"] <= obs_end]
    out = out.sort_values(["payment_date", "comp"], kind="stable", ignore_index=True)
    success = (out["status"] == 0).to_numpy()
    c["revenue"] = np.bincount(
        out["comp"].to_numpy()[success], weights=out["amount"].to_numpy()[success], minlength=n
    )
    dup = np.flatnonzero((rng.random(len(out)) < DUPLICATE_SHARE) & success)
    at = np.sort(np.concatenate([np.arange(len(out)), dup]), kind="stable")
    comp = out["comp"].to_numpy()[at]
    created = out["payment_date"].to_numpy().astype("datetime64[s]") + rng.integers(
        6 * 3600, 22 * 3600, len(out)
    )
    updated = created + rng.integers(0, 600, len(out))
    plan = np.array(list(PLANS), dtype=object)[out["plan"].to_numpy()[at]]
    kind = np.array([billing_period, "year"], dtype=object)[out["yearly"].to_numpy(dtype=int)[at]]
    return pd.DataFrame(
        {
            "payment_id": at + 1,
            "user_id": c["owner"][comp],
            "company_id": c["id"][comp],
            "plan": plan,
            "paid_until": out["paid_until"].to_numpy().astype("datetime64[s]")[at],
            "status": np.array(["success", "failed"], dtype=object)[out["status"].to_numpy()[at]],
            "created_at": created[at],
            "updated_at": updated[at],
            "price_id": "price_" + plan + "_" + kind,
            "comment": np.array([None, "card declined", "refund"], dtype=object)[
                out["comment"].to_numpy()[at]
            ],
            "payment_date": out["payment_date"].to_numpy().astype("datetime64[s]")[at],
            "amount": out["amount"].to_numpy(dtype=float)[at],
        }
    )


def _truth_customers(
    c: dict[str, np.ndarray], rows: pd.DataFrame, obs_end: np.datetime64, step: int
) -> pd.DataFrame:
    """Per paying company: latent state and the SUBS fields the billing rules give."""
    t = _periods_until(c["d0"], obs_end, step) + 1
    first_until = _add_periods(c["d0"], c["p1"], step)
    last_until = rows.groupby("comp")["paid_until"].max().to_numpy()
    c["expired"] = last_until < obs_end
    return pd.DataFrame(
        {
            "customer_id": c["id"],
            "plan": np.array(list(PLANS), dtype=object)[c["plan"]],
            "plan_last": np.array(list(PLANS), dtype=object)[c["plan_last"]],
            "size_band": np.array(list(SIZE_BANDS), dtype=object)[c["size"]],
            "industry": np.array(list(INDUSTRIES), dtype=object)[c["industry"]],
            "low_activity": c["low"],
            "hazard_ratio": np.array([h for _, h in SIZE_BANDS.values()])[c["size"]]
            * np.where(c["low"], LOW_ACTIVITY_HR, 1.0),
            "first_payment": c["d0"].astype("datetime64[s]"),
            "latent_churn_period": c["churn"],
            "T": t,
            "first_spell_periods": c["p1"],
            "first_spell_churned": c["react"] | (first_until < obs_end),
            "churned": c["expired"],
            "periods_paid": rows.groupby("comp")["covers"].sum().to_numpy(),
            "reactivations": c["react"].astype(np.int64),
            "annual_prepay": c["prepay"],
            "revenue": c["revenue"],
        }
    )


def _companies_table(
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    customers: pd.DataFrame,
    obs_end: np.datetime64,
) -> pd.DataFrame:
    """Paying companies (created up to 30 days before paying) and trials that never paid."""
    n, m = len(c["id"]), len(c["trial_ids"])
    sizes = np.array(list(SIZE_BANDS), dtype=object)
    industries = np.array(list(INDUSTRIES), dtype=object)
    lo = c["d0"].min()
    trial_created = lo + rng.integers(0, max(int((obs_end - lo).astype(np.int64)), 1), m)
    last_paid = customers["plan_last"].to_numpy(dtype=object)
    table = pd.DataFrame(
        {
            "id": np.concatenate([c["id"], c["trial_ids"]]),
            "industry": industries[np.concatenate([c["industry"], rng.choice(len(industries), m)])],
            "size_band": sizes[np.concatenate([c["size"], rng.choice(len(sizes), m)])],
            "created_at": np.concatenate([c["created"], trial_created]).astype("datetime64[s]"),
            "current_plan": np.concatenate([last_paid, np.full(m, "trial", dtype=object)]),
            "payment_expired": np.concatenate([c["expired"], np.zeros(m, dtype=bool)]),
        }
    )
    del n
    return table.sort_values("id", ignore_index=True)


def _activities(
    rng: np.random.Generator,
    c: dict[str, np.ndarray],
    rows: pd.DataFrame,
    obs_end: np.datetime64,
    step: int,
) -> pd.DataFrame:
    """Monthly counts in every paid month; none in months without activity."""
    comp = np.repeat(rows["comp"].to_numpy(), rows["covers"].to_numpy() * step)
    first_k = np.repeat(rows["k"].to_numpy() * step, rows["covers"].to_numpy() * step)
    sizes = rows["covers"].to_numpy() * step
    within = np.arange(len(comp)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    month = c["d0"].astype("datetime64[M]")[comp] + first_k + within
    keep = month <= obs_end.astype("datetime64[M]")
    comp, month, index = comp[keep], month[keep], (first_k + within)[keep]
    churned = c["churn"] <= c["t_end"] - 1
    last = (c["p1"] - 1) * step  # the first month of a churner's last paid period
    level = np.where(c["low"], LOW_ACTIVITY_FACTOR, 1.0)[comp]
    level = level * np.where(
        churned[comp] & (index >= last[comp]) & (index < last[comp] + step), PRE_CHURN_FACTOR, 1.0
    )
    counts = {m: rng.poisson(mean * level) for m, mean in ACTIVITY_MEANS.items()}
    table = pd.DataFrame(
        {"company_id": c["id"][comp], "month": month.astype("datetime64[s]"), **counts}
    )
    quiet = np.column_stack(list(counts.values())).sum(axis=1) == 0
    skipped = c["low"][comp] & (rng.random(len(comp)) < 0.3)
    table = table[~quiet & ~skipped]
    return table.drop_duplicates(["company_id", "month"]).sort_values(
        ["company_id", "month"], ignore_index=True
    )


def _people(
    rng: np.random.Generator, c: dict[str, np.ndarray], obs_end: np.datetime64
) -> pd.DataFrame:
    """Users per company (more in bigger companies): an owner first, some deleted later."""
    n = len(c["id"])
    mean = np.array([USERS_BY_SIZE[b] for b in SIZE_BANDS])[c["size"]]
    users = 1 + rng.poisson(mean)
    comp = np.repeat(np.arange(n), users)
    first = np.cumsum(users) - users
    owner = np.zeros(len(comp), dtype=bool)
    owner[first] = True
    user_id = rng.permutation(len(comp)) + 500_000
    created = c["d0"] - rng.integers(0, 31, n)
    span = np.maximum((obs_end - created).astype(np.int64), 1)
    joined = created[comp] + np.where(
        owner, 0, (rng.random(len(comp)) * span[comp]).astype(np.int64)
    )
    left_after = (
        rng.random(len(comp)) * np.maximum((obs_end - joined).astype(np.int64), 1)
    ).astype(np.int64) + 1
    deleted = ~owner & (rng.random(len(comp)) < 0.15)
    deleted_at = np.where(deleted, joined + left_after, np.datetime64("NaT"))
    role = np.where(owner, "owner", np.where(rng.random(len(comp)) < 0.2, "admin", "member"))
    c.update(owner=user_id[first], created=created)
    return pd.DataFrame(
        {
            "company_id": c["id"][comp],
            "user_id": user_id,
            "role": role.astype(object),
            "created_at": joined.astype("datetime64[s]"),
            "deleted_at": deleted_at.astype("datetime64[s]"),
        }
    )
