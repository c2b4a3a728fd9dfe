"""Example data: a BG/NBD + Gamma-Gamma orders simulator with known truth, and CDNOW.

Simulation (:func:`simulate_orders`) follows the generative stories of the two models:

* BG/NBD, Fader, Hardie & Lee (2005), section 3 [FHL05]_: while active, a customer's
  repeat purchases follow a Poisson process with rate lambda ~ Gamma(r, alpha); after each
  repeat purchase the customer drops out with probability p ~ Beta(a, b). The first
  purchase (at acquisition) never triggers a dropout, as in ``lifetimes``'
  ``beta_geometric_nbd_model`` generator.
* Gamma-Gamma, Fader & Hardie (2013) [FH13GG]_: each transaction's value is
  z ~ Gamma(p, nu) with nu ~ Gamma(q, v) per customer.

The CDNOW loaders (:func:`load_cdnow`, :func:`load_cdnow_summary`) read the files shipped in
the ``lifetimes`` 0.11.3 wheel without importing ``lifetimes.datasets`` (which needs
``pkg_resources``, gone on Python 3.12).

.. [FHL05] http://brucehardie.com/papers/018/fader_et_al_mksc_05.pdf
.. [FH13GG] http://www.brucehardie.com/notes/025/gamma_gamma.pdf
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd

from clvmodels.errors import ClvError
from clvmodels.models.bgnbd import expected_purchases_new_customer
from clvmodels.units import DAYS_PER_UNIT, TimeUnit, units_per_month

#: BG/NBD parameters of the simulator (time unit: weeks), close to the CDNOW fit of [FHL05]_.
DEFAULT_BGNBD: Mapping[str, float] = MappingProxyType({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5})
#: Gamma-Gamma parameters of the simulator, close to the CDNOW fit of [FH13GG]_.
DEFAULT_GAMMA_GAMMA: Mapping[str, float] = MappingProxyType({"p": 6.0, "q": 4.0, "v": 15.0})

#: The simulator's time unit: BG/NBD rates are purchases per week.
SIMULATION_TIME_UNIT: TimeUnit = "W"

ORDER_COLUMNS = ("customer_id", "timestamp", "revenue")
CUSTOMER_COLUMNS = (
    "customer_id",
    "first_purchase",
    "lam",
    "p_dropout",
    "nu",
    "alive_at_end",
    "dropout_time",
)

_NS_PER_DAY = 86_400 * 10**9
_NS_PER_UNIT = int(DAYS_PER_UNIT[SIMULATION_TIME_UNIT]) * _NS_PER_DAY


# --------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationTruth:
    """What generated a simulated orders table: parameters and each customer's latent state.

    Attributes
    ----------
    time_unit : str
        ``"W"``: ``lam`` is purchases per week and ``r, alpha`` are in weeks.
    bgnbd : dict
        ``r, alpha, a, b`` used.
    gamma_gamma : dict
        ``p, q, v`` used.
    start : pandas.Timestamp
        Start of acquisition and of the observation.
    end : pandas.Timestamp
        End of the observation (exclusive): every order is in ``[start, end)``. As a day for
        :func:`clvmodels.summaries.rfm.rfm_summary`, the last observed day is :attr:`last_day`.
    customers : pandas.DataFrame
        One row per customer: ``customer_id``; ``first_purchase`` (the acquisition time);
        ``lam`` (purchase rate per week); ``p_dropout`` (dropout probability after each
        repeat purchase); ``nu`` (Gamma-Gamma rate, so the customer's mean spend per
        transaction is ``p / nu``); ``alive_at_end`` (has not dropped out by ``end``);
        ``dropout_time`` (time of the last purchase of a customer who dropped out before
        ``end``, NaT otherwise).
    """

    time_unit: TimeUnit
    bgnbd: dict[str, float]
    gamma_gamma: dict[str, float]
    start: pd.Timestamp
    end: pd.Timestamp
    customers: pd.DataFrame

    @property
    def last_day(self) -> pd.Timestamp:
        """The last calendar day with observed time (the inclusive observation end day)."""
        return (self.end - pd.Timedelta(1, "ns")).normalize()


def simulate_orders(
    n_customers: int = 10_000,
    *,
    seed: int = 0,
    start: str | dt.date | pd.Timestamp = "2024-01-01",
    acquisition_days: int = 365,
    observation_days: int = 730,
    bgnbd: Mapping[str, float] | None = None,
    gamma_gamma: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, SimulationTruth]:
    """Simulate an orders table from the BG/NBD and Gamma-Gamma models, with its truth.

    Customers are acquired uniformly at random (continuous time, so timestamps have a time
    of day) over the first ``acquisition_days`` days after ``start``; customer ids
    ``1..n_customers`` follow the order of acquisition. The first purchase happens at
    acquisition. Then, per [FHL05]_ section 3:

    1. lambda ~ Gamma(shape=r, rate=alpha), purchases per week;
    2. p ~ Beta(a, b);
    3. while active, repeat purchases follow a Poisson process with rate lambda;
    4. after each repeat purchase the customer drops out with probability p (the first
       purchase never triggers a dropout).

    Each transaction's revenue is z ~ Gamma(shape=p, rate=nu), nu ~ Gamma(shape=q, rate=v)
    per customer ([FH13GG]_ section 1), rounded to cents (at least 0.01).
    The observation ends ``observation_days`` after ``start``.

    The simulation is vectorised. The number of repeat purchases a customer makes before
    dropping out is K ~ Geometric(p) on {1, 2, ...}; the number of Poisson arrivals in the
    customer's window of length w (acquisition to end) is N ~ Poisson(lambda w); the
    customer makes m = min(K, N) repeat purchases, at the m smallest of N sorted uniform
    times on the window. These are drawn as ``w S_i / (S_m + G)``, i = 1..m, with S_i the
    cumulative sums of m standard exponentials and G ~ Gamma(N - m + 1) standing in for the
    remaining N + 1 - m spacings (uniform order statistics as normalised exponential
    spacings), so memory grows with the number of orders, not of arrivals.

    With the default parameters a customer places 3.0 orders on average (2.0 repeat
    purchases: [FHL05]_ eq. 9 averaged over the windows of 52 to 104 weeks) and 47% of
    customers never buy again; ``bgnbd={"r": 2.0, "alpha": 4.0, "a": 0.8, "b": 2.5}``
    gives 9.9 orders per customer (1M customers, 9.9M orders).

    Timestamps are continuous, so a customer can buy twice on one calendar day (1.5% of
    repeat purchases with the defaults, mostly by the heaviest buyers). The field's
    convention merges those into one purchase occasion
    (:func:`clvmodels.summaries.rfm.rfm_summary`),
    so a BG/NBD fit on the day-level summary sees slightly fewer purchases than were
    simulated: with the defaults, alpha comes out about 5% high and r about 1.5% high
    (400,000 customers; a fit on the exact continuous-time summary is within 1%).

    Parameters
    ----------
    n_customers : int
        Number of customers (at least 1).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical output.
    start : date
        Start of acquisition and of the observation, as ``YYYY-MM-DD`` text, a ``date`` or a
        timezone-naive ``Timestamp``.
    acquisition_days : int
        Length of the acquisition period in days (0 acquires everyone at ``start``); at
        most ``observation_days``.
    observation_days : int
        Length of the observation in days (positive): orders fall in
        ``[start, start + observation_days)``.
    bgnbd : mapping, optional
        BG/NBD parameters ``r, alpha, a, b`` (weeks), all positive; keys left out take
        their values from :data:`DEFAULT_BGNBD`.
    gamma_gamma : mapping, optional
        Gamma-Gamma parameters ``p, q, v``, all positive; keys left out take their values
        from :data:`DEFAULT_GAMMA_GAMMA`. The mean spend per transaction is
        ``p v / (q - 1)`` when q > 1 (30.0 with the defaults).

    Returns
    -------
    orders : pandas.DataFrame
        ``customer_id`` (int64), ``timestamp`` (datetime64[ns]), ``revenue`` (float64),
        sorted by customer and time.
    truth : SimulationTruth
        The parameters and each customer's latent state.

    Raises
    ------
    ValueError
        For a non-positive customer count or parameter, unknown parameter names, or an
        acquisition period longer than the observation.

    Examples
    --------
    >>> orders, truth = simulate_orders(1_000, seed=1)
    >>> list(orders.columns)
    ['customer_id', 'timestamp', 'revenue']
    """
    n = _check_count(n_customers, "n_customers", minimum=1)
    acquisition = _check_count(acquisition_days, "acquisition_days", minimum=0)
    observation = _check_count(observation_days, "observation_days", minimum=1)
    if acquisition > observation:
        raise ValueError(
            f"acquisition_days ({acquisition}) must not exceed observation_days ({observation})"
        )
    bg = _check_params(bgnbd, DEFAULT_BGNBD, "bgnbd")
    gg = _check_params(gamma_gamma, DEFAULT_GAMMA_GAMMA, "gamma_gamma")
    start_ts = _check_start(start)
    end_ts = start_ts + pd.Timedelta(days=observation)
    start_ns = start_ts.value
    observation_ns = observation * _NS_PER_DAY

    rng = np.random.default_rng(seed)
    # acquisition (= first purchase) in ns after start; ids follow acquisition order
    acquired_ns = np.sort(
        np.floor(rng.uniform(0.0, acquisition * _NS_PER_DAY, size=n)).astype(np.int64)
    )
    window_ns = observation_ns - acquired_ns
    window = window_ns / _NS_PER_UNIT  # weeks each customer is observed after acquisition

    # BG/NBD latent state ([FHL05] section 3)
    lam = rng.gamma(bg["r"], 1.0 / bg["alpha"], size=n)
    p_dropout = rng.beta(bg["a"], bg["b"], size=n)
    with np.errstate(divide="ignore"):
        # K ~ Geometric(p) on {1, 2, ...} by inversion; p == 0 gives K = inf (never drops out)
        n_before_dropout = np.floor(np.log1p(-rng.random(size=n)) / np.log1p(-p_dropout)) + 1
    n_arrivals = rng.poisson(lam * window)
    n_repeat = np.minimum(n_before_dropout, n_arrivals).astype(np.int64)
    dropped = n_before_dropout <= n_arrivals

    # times of the m = min(K, N) first of N uniform arrivals, as fractions of the window
    total_repeat = int(n_repeat.sum())
    spacings = np.cumsum(rng.standard_exponential(total_repeat))
    group_end = np.cumsum(n_repeat)
    before_group = np.concatenate(([0.0], spacings))[group_end - n_repeat]
    spacings -= np.repeat(before_group, n_repeat)  # S_i within each customer
    remainder = rng.gamma(n_arrivals - n_repeat + 1.0)  # the other N + 1 - m spacings
    last_spacing = np.where(n_repeat > 0, np.concatenate(([0.0], spacings))[group_end], 0.0)
    spacings /= np.repeat(last_spacing + remainder, n_repeat)
    offset_ns = np.floor(spacings * np.repeat(window_ns, n_repeat)).astype(np.int64)
    del spacings
    np.minimum(offset_ns, np.repeat(window_ns - 1, n_repeat), out=offset_ns)

    # assemble orders: each customer's first purchase, then their repeats
    n_orders = n_repeat + 1
    first_row = np.cumsum(n_orders) - n_orders
    is_repeat = np.ones(int(n_orders.sum()), dtype=bool)
    is_repeat[first_row] = False
    acquired_ns -= acquired_ns % 1000  # microseconds: what DuckDB, Spark and Parquet hold
    offset_ns -= offset_ns % 1000
    timestamp_ns = np.repeat(acquired_ns + start_ns, n_orders)
    timestamp_ns[is_repeat] += offset_ns
    del offset_ns, is_repeat

    # Gamma-Gamma spend ([FH13GG] section 1)
    nu = rng.gamma(gg["q"], 1.0 / gg["v"], size=n)
    revenue = rng.gamma(gg["p"], np.repeat(1.0 / nu, n_orders))
    revenue = np.maximum(np.round(revenue, 2), 0.01)

    customer_id = np.arange(1, n + 1, dtype=np.int64)
    orders = pd.DataFrame(
        {
            "customer_id": np.repeat(customer_id, n_orders),
            "timestamp": timestamp_ns.view("datetime64[ns]"),
            "revenue": revenue,
        }
    )
    last_ns = timestamp_ns[first_row + n_repeat]
    dropout_ns = np.where(dropped, last_ns, np.datetime64("NaT").astype(np.int64))
    customers = pd.DataFrame(
        {
            "customer_id": customer_id,
            "first_purchase": (acquired_ns + start_ns).view("datetime64[ns]"),
            "lam": lam,
            "p_dropout": p_dropout,
            "nu": nu,
            "alive_at_end": ~dropped,
            "dropout_time": dropout_ns.view("datetime64[ns]"),
        }
    )
    truth = SimulationTruth(
        time_unit=SIMULATION_TIME_UNIT,
        bgnbd=bg,
        gamma_gamma=gg,
        start=start_ts,
        end=end_ts,
        customers=customers,
    )
    return orders, truth


def _check_count(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number; got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be at least {minimum}; got {value}")
    return int(value)


def _check_params(
    given: Mapping[str, float] | None, defaults: Mapping[str, float], name: str
) -> dict[str, float]:
    given = {} if given is None else dict(given)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown {name} parameter(s) {', '.join(map(repr, unknown))}; "
            f"the parameters are {', '.join(defaults)}"
        )
    params: dict[str, float] = {}
    for key, default in defaults.items():
        value = given.get(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} parameter {key!r} must be a number; got {value!r}") from None
        if not (math.isfinite(number) and number > 0):
            raise ValueError(f"{name} parameter {key!r} must be positive and finite; got {value!r}")
        params[key] = number
    return params


def _check_start(start: str | dt.date | pd.Timestamp) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start {start!r} is not a date (use YYYY-MM-DD)") from exc
    if pd.isna(stamp):
        raise ValueError(f"start {start!r} is not a date (use YYYY-MM-DD)")
    if stamp.tz is not None:
        raise ValueError(f"start must be timezone-naive; got {stamp}")
    return stamp.as_unit("ns")


# --------------------------------------------------------------------------------------
# CDNOW
# --------------------------------------------------------------------------------------
CdnowKind = Literal["sample", "master"]

_CDNOW_FILES: dict[str, str] = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}
_CDNOW_COLUMNS: dict[str, list[str]] = {
    "sample": ["original_id", "customer_id", "date", "n_items", "revenue"],
    "master": ["customer_id", "date", "n_items", "revenue"],
}


def load_cdnow(kind: CdnowKind = "sample") -> pd.DataFrame:
    """Read a CDNOW transaction log (Fader, Hardie & Lee 2005) from the ``lifetimes`` wheel.

    CDNOW is the online CD shop whose customers who first bought in 1997 Q1 were followed
    until the end of June 1998. ``"master"`` holds all 23,570 customers (69,659 rows);
    ``"sample"`` the 1/10 sample of 2,357 customers (6,919 rows) that [FHL05]_ fits.

    Parameters
    ----------
    kind : {"sample", "master"}
        Which log to read.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (int64; for the sample, the 1..2357 sample id that
        :func:`load_cdnow_summary` uses), ``timestamp`` (datetime64[ns], a day),
        ``revenue`` (float64, dollars) and ``n_items`` (int64, CDs bought), sorted by
        customer and time. Several orders can fall on one day. The rows are as published:
        the sample has 21 rows that exactly repeat another (which
        :func:`clvmodels.data.io.validate_orders` warns about) and 8 with revenue 0; the master
        has 255 and 80.

    Raises
    ------
    ClvError
        When ``lifetimes`` is not installed or its data file is missing.
    ValueError
        For an unknown ``kind``.
    """
    if kind not in _CDNOW_FILES:
        raise ValueError(f"kind must be 'sample' or 'master'; got {kind!r}")
    path = _lifetimes_file(_CDNOW_FILES[kind])
    with path.open(encoding="ascii") as handle:
        has_header = not handle.readline().split()[0].isdigit()
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        skiprows=1 if has_header else 0,
        names=_CDNOW_COLUMNS[kind],
        dtype={"date": "string"},
    )
    orders = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("int64"),
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[ns]"),
            "revenue": raw["revenue"].astype("float64"),
            "n_items": raw["n_items"].astype("int64"),
        }
    )
    return orders.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)


def load_cdnow_summary() -> pd.DataFrame:
    """Read the RFM summary of the CDNOW sample that [FHL05]_ fits (``lifetimes`` wheel).

    Calibration 1997-01-01 to 1997-09-30 (39 weeks), times in weeks; the published BG/NBD
    maximum-likelihood fit is r=0.243, alpha=4.414, a=0.793, b=2.426.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (int64, 1..2357; the file's ``ID``), ``frequency`` (int64),
        ``recency`` and ``T`` (float64, weeks): 2,357 rows.

    Raises
    ------
    ClvError
        When ``lifetimes`` is not installed or its data file is missing.
    """
    summary = pd.read_csv(_lifetimes_file("cdnow_customers_summary.csv"))
    return pd.DataFrame(
        {
            "customer_id": summary["ID"].astype("int64"),
            "frequency": summary["frequency"].astype("int64"),
            "recency": summary["recency"].astype("float64"),
            "T": summary["T"].astype("float64"),
        }
    )


def _lifetimes_file(name: str) -> Path:
    """Path of a data file in ``lifetimes/datasets`` without importing ``lifetimes``."""
    install = "pip install lifetimes==0.11.3"
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise ClvError(f"the CDNOW data ships with the lifetimes package: {install}")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / name
    if not path.is_file():
        raise ClvError(f"{path} is missing from the installed lifetimes package: {install}")
    return path


# --------------------------------------------------------------------------------------
# marketing: visits, orders and costs of several acquisition sources
# --------------------------------------------------------------------------------------
VISIT_COLUMNS = ("uid", "device", "start_ts", "end_ts", "source_id")
COST_COLUMNS = ("source_id", "dt", "costs")
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
    n = _check_count(n_buyers, "n_buyers", minimum=1)
    specs = dict(DEFAULT_SOURCES if sources is None else sources)
    names = _check_sources(specs, n)
    for value, name in (
        (nonbuyers_per_buyer, "nonbuyers_per_buyer"),
        (extra_visits_per_user, "extra_visits_per_user"),
        (cost_noise, "cost_noise"),
    ):
        if not (math.isfinite(float(value)) and float(value) >= 0):
            raise ValueError(f"{name} must be a non-negative number; got {value!r}")
    if not 0.0 <= float(cross_source_share) <= 1.0:
        raise ValueError(f"cross_source_share must be within [0, 1]; got {cross_source_share!r}")
    start_ts = _check_start(start)
    end_ts = start_ts + pd.Timedelta(
        days=_check_count(observation_days, "observation_days", minimum=1)
    )
    shares = np.array([float(specs[s].share) for s in names])
    shares = shares / shares.sum()
    counts = _largest_remainder(shares, n)

    rng = np.random.default_rng(seed)
    child_seeds = rng.integers(0, 2**62, size=len(names))
    parts, rows = [], []
    for code, (name, n_source, child) in enumerate(zip(names, counts, child_seeds, strict=True)):
        spec = specs[name]
        orders_s, truth_s = simulate_orders(
            int(n_source),
            seed=int(child),
            start=start_ts,
            acquisition_days=acquisition_days,
            observation_days=observation_days,
            bgnbd=spec.bgnbd,
            gamma_gamma=spec.gamma_gamma,
        )
        parts.append((code, orders_s, truth_s.customers))
        gg = truth_s.gamma_gamma
        rows.append(
            {
                "source_id": name,
                "share": float(shares[code]),
                "n_buyers": int(n_source),
                "cac": float(spec.cac),
                **truth_s.bgnbd,
                **gg,
                "mean_spend": gg["p"] * gg["v"] / (gg["q"] - 1) if gg["q"] > 1 else math.inf,
            }
        )

    # one customer table over all sources, ids renumbered in the order of acquisition
    customers = pd.concat([c.assign(source_code=code) for code, _, c in parts], ignore_index=True)
    order = np.lexsort(
        (customers["source_code"].to_numpy(), customers["first_purchase"].to_numpy())
    )
    new_id = np.empty(len(customers), dtype=np.int64)
    new_id[order] = np.arange(1, len(customers) + 1)
    offsets = np.cumsum([0, *counts[:-1]])
    orders_parts = []
    for (_code, orders_s, _), offset in zip(parts, offsets, strict=True):
        local = orders_s["customer_id"].to_numpy() - 1 + offset
        orders_parts.append(orders_s.assign(customer_id=new_id[local]))
    orders = pd.concat(orders_parts, ignore_index=True)
    orders = orders.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)
    customers["customer_id"] = new_id
    customers = customers.sort_values("customer_id", ignore_index=True)
    source_code = customers["source_code"].to_numpy()

    visits = _simulate_visits(
        rng,
        customers["first_purchase"].to_numpy().astype(np.int64),
        source_code,
        shares,
        start_ns=start_ts.value,
        end_ns=end_ts.value,
        nonbuyers_per_buyer=float(nonbuyers_per_buyer),
        cross_source_share=float(cross_source_share),
        extra_visits_per_user=float(extra_visits_per_user),
    )
    visits["source_id"] = np.asarray(names, dtype=object)[visits.pop("source_code").to_numpy()]

    costs = _simulate_costs(
        rng,
        customers["first_purchase"],
        source_code,
        names,
        np.array([float(specs[s].cac) for s in names]),
        start=start_ts,
        acquisition_days=max(int(acquisition_days), 1),
        cost_noise=float(cost_noise),
    )

    table = pd.DataFrame(rows)
    truth = MarketingTruth(
        time_unit=SIMULATION_TIME_UNIT,
        start=start_ts,
        end=end_ts,
        sources=table,
        customers=pd.DataFrame(
            {
                "customer_id": customers["customer_id"].to_numpy(),
                "source_id": np.asarray(names, dtype=object)[source_code],
                **{c: customers[c].to_numpy() for c in CUSTOMER_COLUMNS[1:]},
            }
        ),
    )
    value = truth.value(12).to_numpy()
    table["value_12m"] = value
    table["romi_12m"] = value / table["cac"].to_numpy()
    return visits, orders, costs, truth


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
        _check_params(spec.bgnbd, DEFAULT_BGNBD, f"source {name!r} bgnbd")
        _check_params(spec.gamma_gamma, DEFAULT_GAMMA_GAMMA, f"source {name!r} gamma_gamma")
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


def _simulate_visits(
    rng: np.random.Generator,
    first_purchase_ns: np.ndarray,
    source_code: np.ndarray,
    shares: np.ndarray,
    *,
    start_ns: int,
    end_ns: int,
    nonbuyers_per_buyer: float,
    cross_source_share: float,
    extra_visits_per_user: float,
) -> pd.DataFrame:
    """Visits of buyers (first visit from their source before the first order) and others."""
    n_sources = len(shares)
    n_buyers = len(first_purchase_ns)
    hour_ns = 3_600 * 10**9

    def other_source(own: np.ndarray) -> np.ndarray:
        if n_sources == 1:
            return own
        return (own + rng.integers(1, n_sources, size=len(own))) % n_sources

    # buyers: the first visit, a little before the first order
    lead = np.floor(rng.exponential(6.0 * hour_ns, size=n_buyers)).astype(np.int64) + 1
    first_visit = first_purchase_ns - lead
    uid = [np.arange(1, n_buyers + 1)]
    when = [first_visit]
    source = [source_code]
    # a visit from another source between the first visit and the first order
    cross = np.flatnonzero(rng.random(n_buyers) < cross_source_share)
    uid.append(cross + 1)
    when.append(
        first_visit[cross] + np.floor(rng.random(len(cross)) * lead[cross]).astype(np.int64)
    )
    source.append(other_source(source_code[cross]))

    # visitors who never buy
    n_others = round(nonbuyers_per_buyer * n_buyers)
    other_code = rng.choice(n_sources, size=n_others, p=shares)
    other_first = start_ns + np.floor(rng.random(n_others) * (end_ns - start_ns)).astype(np.int64)
    extra_others = rng.poisson(0.5, size=n_others)
    other_uid = np.arange(n_buyers + 1, n_buyers + n_others + 1)
    uid.append(other_uid)
    when.append(other_first)
    source.append(other_code)

    # further visits of everyone, after their first visit
    all_uid = np.concatenate([np.arange(1, n_buyers + 1), other_uid])
    all_first = np.concatenate([first_visit, other_first])
    all_code = np.concatenate([source_code, other_code])
    n_extra = rng.poisson(extra_visits_per_user, size=len(all_uid))
    n_extra[n_buyers:] += extra_others
    rep_first = np.repeat(all_first, n_extra)
    rep_code = np.repeat(all_code, n_extra)
    uid.append(np.repeat(all_uid, n_extra))
    when.append(
        rep_first + np.floor(rng.random(len(rep_first)) * (end_ns - rep_first)).astype(np.int64)
    )
    own = rng.random(len(rep_code)) < 0.7
    source.append(np.where(own, rep_code, rng.integers(0, n_sources, size=len(rep_code))))

    start_at = np.concatenate(when)
    duration = 60 * 10**9 + np.floor(rng.exponential(600.0 * 10**9, size=len(start_at)))
    visits = pd.DataFrame(
        {
            "uid": np.concatenate(uid).astype(np.int64),
            "device": np.where(rng.random(len(start_at)) < 0.7, "desktop", "touch").astype(object),
            "start_ts": start_at.view("datetime64[ns]"),
            "end_ts": (start_at + duration.astype(np.int64)).view("datetime64[ns]"),
            "source_code": np.concatenate(source).astype(np.int64),
        }
    )
    return visits.sort_values(["start_ts", "uid"], kind="stable", ignore_index=True)


def _simulate_costs(
    rng: np.random.Generator,
    first_purchase: pd.Series,
    source_code: np.ndarray,
    names: list[str],
    cac: np.ndarray,
    *,
    start: pd.Timestamp,
    acquisition_days: int,
    cost_noise: float,
) -> pd.DataFrame:
    """Daily costs: CAC times the buyers acquired that day, times Gamma noise with mean 1."""
    day = ((first_purchase.dt.normalize() - start.normalize()) // pd.Timedelta(days=1)).to_numpy()
    n_days = max(acquisition_days, int(day.max()) + 1)
    buyers = np.zeros((len(names), n_days))
    np.add.at(buyers, (source_code, day), 1.0)
    if cost_noise > 0:
        shape = 1.0 / cost_noise**2
        noise = rng.gamma(shape, 1.0 / shape, size=buyers.shape)
    else:
        noise = np.ones(buyers.shape)
    costs = np.round(cac[:, None] * buyers * noise, 2)
    days = pd.date_range(start.normalize(), periods=n_days, freq="D").as_unit("ns")
    return pd.DataFrame(
        {
            "source_id": np.repeat(np.asarray(names, dtype=object), n_days),
            "dt": np.tile(days.to_numpy(), len(names)),
            "costs": costs.reshape(-1),
        }
    )
