"""A marketing simulator: visits, orders and daily costs of several acquisition sources.

Each source acquires its share of the buyers, whose orders come from
:func:`clvmodels.examples.simulate.simulate_orders` with the source's BG/NBD ([FHL05]_) and
Gamma-Gamma ([FH13GG]_) parameters; visits and costs follow (see :func:`simulate_marketing`).
The columns of the visits and costs tables are those that
:mod:`clvmodels.data.marketing` reads (``VISIT_COLUMNS``, ``COST_COLUMNS``).

.. [FHL05] http://brucehardie.com/papers/018/fader_et_al_mksc_05.pdf
.. [FH13GG] http://www.brucehardie.com/notes/025/gamma_gamma.pdf
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from clvmodels.examples.arguments import check_count, check_params, check_start
from clvmodels.examples.simulate import (
    CUSTOMER_COLUMNS,
    DEFAULT_BGNBD,
    DEFAULT_GAMMA_GAMMA,
    SIMULATION_TIME_UNIT,
    SimulationTruth,
    simulate_orders,
)
from clvmodels.examples.traffic import simulate_costs, simulate_visits
from clvmodels.models.bgnbd import expected_purchases_new_customer
from clvmodels.units import units_per_month

MARKETING_SOURCE_COLUMNS = (
    "source_id",
    "share",
    "n_buyers",
    "cac",
    "r",
    "alpha",
    "a",
    "b",
    "p",
    "q",
    "v",
    "mean_spend",
    "value_12m",
    "romi_12m",
)


@dataclass(frozen=True)
class SourceSpec:
    """An acquisition source of :func:`simulate_marketing`: its size, price and customers.

    Attributes
    ----------
    share : float
        Share of the buyers that the source acquires (shares are normalised to sum to 1).
    cac : float
        True cost per acquired buyer: the source's daily costs are ``cac`` times the buyers
        it acquired that day, times noise with mean 1.
    bgnbd : mapping
        BG/NBD parameters of its customers (weeks); keys left out take
        :data:`DEFAULT_BGNBD`'s values.
    gamma_gamma : mapping
        Gamma-Gamma parameters of its customers; keys left out take
        :data:`DEFAULT_GAMMA_GAMMA`'s values.
    """

    share: float
    cac: float
    bgnbd: Mapping[str, float] = MappingProxyType({})
    gamma_gamma: Mapping[str, float] = MappingProxyType({})


#: Four sources that differ in price and in customer quality. True revenue of a new customer
#: in the 12 months after acquisition (first purchase included) and 12-month ROMI:
#: email 131.0 (ROMI 2.02), search 77.7 (1.55), social 47.9 (1.41), display 69.0 (0.63).
DEFAULT_SOURCES: Mapping[str, SourceSpec] = MappingProxyType(
    {
        "search": SourceSpec(share=0.4, cac=50.0),
        "social": SourceSpec(share=0.3, cac=34.0, bgnbd={"r": 0.15}, gamma_gamma={"v": 12.0}),
        "email": SourceSpec(share=0.1, cac=65.0, bgnbd={"r": 0.45}, gamma_gamma={"v": 18.0}),
        "display": SourceSpec(share=0.2, cac=110.0, bgnbd={"r": 0.2}),
    }
)


@dataclass(frozen=True)
class MarketingTruth:
    """What generated :func:`simulate_marketing`'s tables.

    Attributes
    ----------
    time_unit : str
        ``"W"``: the BG/NBD parameters are in weeks.
    start, end : pandas.Timestamp
        The observation is ``[start, end)``; :attr:`last_day` is its last day.
    sources : pandas.DataFrame
        One row per source: ``source_id``, ``share``, ``n_buyers``, true ``cac``, the
        BG/NBD (``r, alpha, a, b``) and Gamma-Gamma (``p, q, v``) parameters of its
        customers, ``mean_spend`` = p v / (q - 1), and the true expected revenue of a new
        customer in the 12 months after acquisition, first purchase included
        (``value_12m``, see :meth:`value`) and ``romi_12m`` = ``value_12m / cac``.
    customers : pandas.DataFrame
        One row per buyer: ``customer_id``, ``source_id`` (the acquisition source, which is
        the source of the buyer's first visit), and the latent state of
        :class:`SimulationTruth` (``first_purchase, lam, p_dropout, nu, alive_at_end,
        dropout_time``).
    """

    time_unit: str
    start: pd.Timestamp
    end: pd.Timestamp
    sources: pd.DataFrame
    customers: pd.DataFrame

    @property
    def last_day(self) -> pd.Timestamp:
        """The last calendar day with observed time (the inclusive observation end day)."""
        return (self.end - pd.Timedelta(1, "ns")).normalize()

    def value(self, months: float) -> pd.Series:
        """True expected revenue per new customer within ``months`` of acquisition, by source.

        ``mean_spend * (1 + E[X(t)])``: the first purchase plus the expected repeat
        purchases of a new customer, [FHL05]_ eq. (9), each worth the Gamma-Gamma mean spend
        p v / (q - 1) ([FH13GG]_; spend is independent of the purchase process). Undiscounted.
        """
        weeks = float(months) * units_per_month(self.time_unit)
        s = self.sources
        repeat = expected_purchases_new_customer(s["r"], s["alpha"], s["a"], s["b"], weeks)
        return pd.Series(
            (s["mean_spend"] * (1.0 + repeat)).to_numpy(),
            index=pd.Index(s["source_id"], name="source_id"),
            name=f"value_{months:g}m",
        )

    def romi(self, months: float) -> pd.Series:
        """True ROMI of a new customer ``months`` after acquisition: :meth:`value` / CAC."""
        cac = self.sources.set_index("source_id")["cac"]
        return (self.value(months) / cac).rename(f"romi_{months:g}m")


def simulate_marketing(
    n_buyers: int = 20_000,
    *,
    seed: int = 0,
    start: str | dt.date | pd.Timestamp = "2024-01-01",
    acquisition_days: int = 365,
    observation_days: int = 730,
    sources: Mapping[str, SourceSpec] | None = None,
    nonbuyers_per_buyer: float = 1.0,
    cross_source_share: float = 0.2,
    extra_visits_per_user: float = 1.5,
    cost_noise: float = 0.2,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, MarketingTruth]:
    """Simulate visits, orders and daily marketing costs of several sources, with the truth.

    Each source acquires its share of ``n_buyers`` buyers, whose orders are simulated by
    :func:`simulate_orders` with the source's BG/NBD and Gamma-Gamma parameters (so the
    sources differ in customer quality); customer ids ``1..n_buyers`` follow the order of
    acquisition across sources. Then:

    * **Visits** (the classic schema ``uid, device, start_ts, end_ts, source_id``). A
      buyer's first visit comes from their source, a little before the first order (an
      exponential lead with a mean of 6 hours). With probability ``cross_source_share``
      another source brings a visit between the first visit and the first order, so
      first-touch and last-touch attribution differ for those buyers. Every user has
      Poisson(``extra_visits_per_user``) further visits at uniform times between the first
      visit and the end, from their own source (70%) or a random one. Visitors who never
      buy (``nonbuyers_per_buyer`` per buyer, ids after the buyers') make 1 + Poisson(0.5)
      visits from a source drawn by share. Sessions last 1 minute plus an exponential
      with a mean of 10 minutes; devices are ``desktop`` (70%) or ``touch``.
    * **Costs** (``source_id, dt, costs``): for every source and every day of the
      acquisition period, ``cac`` times the buyers the source acquired that day (by their
      first order's day), times Gamma noise with mean 1 and coefficient of variation
      ``cost_noise``; rounded to cents. So CAC(cohort, source) is ``cac`` up to noise.

    Parameters
    ----------
    n_buyers : int
        Buyers over all sources (at least one per source).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical tables.
    start, acquisition_days, observation_days
        As for :func:`simulate_orders`.
    sources : mapping of str to SourceSpec, optional
        The sources by name; :data:`DEFAULT_SOURCES` when omitted.
    nonbuyers_per_buyer : float
        Visitors who never buy, per buyer (non-negative).
    cross_source_share : float
        Share of buyers with a visit from another source before their first order, in [0, 1].
    extra_visits_per_user : float
        Mean number of further visits per user (non-negative).
    cost_noise : float
        Coefficient of variation of the daily cost noise (0: costs are exactly ``cac`` per
        buyer).

    Returns
    -------
    visits : pandas.DataFrame
        ``uid`` (int64), ``device``, ``start_ts``, ``end_ts`` (datetime64[ns]), ``source_id``
        (str), sorted by ``start_ts``.
    orders : pandas.DataFrame
        ``customer_id`` (int64), ``timestamp``, ``revenue``, sorted by customer and time.
    costs : pandas.DataFrame
        ``source_id`` (str), ``dt`` (datetime64[ns], a day), ``costs`` (float64).
    truth : MarketingTruth
        True parameters, CAC and 12-month value and ROMI per source, and each buyer's
        source and latent state.

    Raises
    ------
    ValueError
        For an invalid count, share, CAC, parameter or probability.

    Examples
    --------
    >>> visits, orders, costs, truth = simulate_marketing(2_000, seed=1)
    >>> sorted(truth.sources["source_id"])
    ['display', 'email', 'search', 'social']
    """
    plan = _plan_sources(DEFAULT_SOURCES if sources is None else sources, n_buyers)
    for value, name in (
        (nonbuyers_per_buyer, "nonbuyers_per_buyer"),
        (extra_visits_per_user, "extra_visits_per_user"),
        (cost_noise, "cost_noise"),
    ):
        if not (math.isfinite(float(value)) and float(value) >= 0):
            raise ValueError(f"{name} must be a non-negative number; got {value!r}")
    if not 0.0 <= float(cross_source_share) <= 1.0:
        raise ValueError(f"cross_source_share must be within [0, 1]; got {cross_source_share!r}")
    start_ts = check_start(start)
    end_ts = start_ts + pd.Timedelta(
        days=check_count(observation_days, "observation_days", minimum=1)
    )

    rng = np.random.default_rng(seed)
    child_seeds = rng.integers(0, 2**62, size=len(plan.names))
    parts = [
        simulate_orders(
            int(n_source),
            seed=int(child),
            start=start_ts,
            acquisition_days=acquisition_days,
            observation_days=observation_days,
            bgnbd=plan.specs[name].bgnbd,
            gamma_gamma=plan.specs[name].gamma_gamma,
        )
        for name, n_source, child in zip(plan.names, plan.counts, child_seeds, strict=True)
    ]
    orders, customers = _merge_sources(parts, plan.counts)
    source_code = customers["source_code"].to_numpy()

    visits = simulate_visits(
        rng,
        customers["first_purchase"].to_numpy().astype(np.int64),
        source_code,
        plan.shares,
        start_ns=start_ts.value,
        end_ns=end_ts.value,
        nonbuyers_per_buyer=float(nonbuyers_per_buyer),
        cross_source_share=float(cross_source_share),
        extra_visits_per_user=float(extra_visits_per_user),
    )
    names = np.asarray(plan.names, dtype=object)
    visits["source_id"] = names[visits.pop("source_code").to_numpy()]
    costs = simulate_costs(
        rng,
        customers["first_purchase"],
        source_code,
        plan.names,
        np.array([float(plan.specs[s].cac) for s in plan.names]),
        start=start_ts,
        acquisition_days=max(int(acquisition_days), 1),
        cost_noise=float(cost_noise),
    )
    customers["source_id"] = names[source_code]
    truth = _marketing_truth(plan, parts, customers, start=start_ts, end=end_ts)
    return visits, orders, costs, truth


@dataclass(frozen=True)
class _SourcePlan:
    """The sources of a simulation, in order: names, specs, shares (sum 1) and buyer counts."""

    names: list[str]
    specs: dict[str, SourceSpec]
    shares: np.ndarray
    counts: np.ndarray


def _plan_sources(sources: Mapping[str, SourceSpec], n_buyers: int) -> _SourcePlan:
    """Check the sources and share ``n_buyers`` among them (largest remainder, at least 1)."""
    n = check_count(n_buyers, "n_buyers", minimum=1)
    specs = dict(sources)
    names = _check_sources(specs, n)
    shares = np.array([float(specs[s].share) for s in names])
    shares = shares / shares.sum()
    return _SourcePlan(names, specs, shares, _largest_remainder(shares, n))


def _marketing_truth(
    plan: _SourcePlan,
    parts: list[tuple[pd.DataFrame, SimulationTruth]],
    customers: pd.DataFrame,
    *,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> MarketingTruth:
    """The truth: a row per source with its 12-month value and ROMI, and the buyers' state."""
    table = pd.DataFrame(
        [
            _source_row(name, plan.specs[name], truth_s, share=float(share), n_buyers=int(n))
            for name, share, n, (_, truth_s) in zip(
                plan.names, plan.shares, plan.counts, parts, strict=True
            )
        ]
    )
    truth = MarketingTruth(
        time_unit=SIMULATION_TIME_UNIT,
        start=start,
        end=end,
        sources=table,
        customers=pd.DataFrame(
            {
                c: customers[c].to_numpy()
                for c in ("customer_id", "source_id", *CUSTOMER_COLUMNS[1:])
            }
        ),
    )
    value = truth.value(12).to_numpy()
    table["value_12m"] = value
    table["romi_12m"] = value / table["cac"].to_numpy()
    return truth


def _source_row(
    name: str, spec: SourceSpec, truth: SimulationTruth, *, share: float, n_buyers: int
) -> dict[str, object]:
    """A source's row of :attr:`MarketingTruth.sources`, before its 12-month value and ROMI."""
    gg = truth.gamma_gamma
    return {
        "source_id": name,
        "share": share,
        "n_buyers": n_buyers,
        "cac": float(spec.cac),
        **truth.bgnbd,
        **gg,
        "mean_spend": gg["p"] * gg["v"] / (gg["q"] - 1) if gg["q"] > 1 else math.inf,
    }


def _merge_sources(
    parts: list[tuple[pd.DataFrame, SimulationTruth]], counts: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One orders and one customer table over all sources, ids renumbered by acquisition.

    Customers are ordered by first purchase, then source; the customer table keeps the
    position of each one's source as ``source_code``.
    """
    customers = pd.concat(
        [truth.customers.assign(source_code=code) for code, (_, truth) in enumerate(parts)],
        ignore_index=True,
    )
    order = np.lexsort(
        (customers["source_code"].to_numpy(), customers["first_purchase"].to_numpy())
    )
    new_id = np.empty(len(customers), dtype=np.int64)
    new_id[order] = np.arange(1, len(customers) + 1)
    offsets = np.cumsum([0, *counts[:-1]])
    orders_parts = []
    for (orders_s, _), offset in zip(parts, offsets, strict=True):
        local = orders_s["customer_id"].to_numpy() - 1 + offset
        orders_parts.append(orders_s.assign(customer_id=new_id[local]))
    orders = pd.concat(orders_parts, ignore_index=True)
    orders = orders.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    customers["customer_id"] = new_id
    return orders, customers.sort_values("customer_id", ignore_index=True)


def _check_sources(specs: dict[str, SourceSpec], n_buyers: int) -> list[str]:
    if not specs:
        raise ValueError("sources must name at least one source")
    if n_buyers < len(specs):
        raise ValueError(f"n_buyers ({n_buyers}) must be at least the number of sources")
    for name, spec in specs.items():
        if not isinstance(spec, SourceSpec):
            raise ValueError(f"source {name!r} must be a SourceSpec; got {spec!r}")
        for field_name in ("share", "cac"):
            value = float(getattr(spec, field_name))
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"source {name!r}: {field_name} must be positive; got {value!r}")
        check_params(spec.bgnbd, DEFAULT_BGNBD, f"source {name!r} bgnbd")
        check_params(spec.gamma_gamma, DEFAULT_GAMMA_GAMMA, f"source {name!r} gamma_gamma")
    return [str(name) for name in specs]


def _largest_remainder(shares: np.ndarray, total: int) -> np.ndarray:
    """Whole counts summing to ``total``, proportional to ``shares``, each at least 1."""
    raw = shares * total
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    for i in np.flatnonzero(counts == 0):
        counts[i] = 1
        counts[int(np.argmax(counts))] -= 1
    return counts
