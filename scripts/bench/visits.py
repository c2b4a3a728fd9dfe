"""The benchmark's visits and orders (the classic ticketing schema), simulated with numpy.

One definition for the ``cli_engagement`` and ``cli_conversion`` jobs
(:func:`visits_tables`). The data are clean on purpose (the tests cover bad rows), so that
both sides of each job read every row the same way:

* **visits** (``uid`` int64, ``device`` text, ``start_ts``, ``end_ts`` naive timestamps to
  the second, ``source_id`` text): ``n_users`` users, :data:`VISITS_PER_USER` visits each on
  average — every user has one first visit, the others are spread over the users by a
  Gamma(1) activity weight (a few heavy users, many light ones), so the table has exactly
  ``n_users * VISITS_PER_USER`` rows. A user's first visit falls on a uniform day of the
  year from :data:`FIRST_DAY` (the first and last days always have visits at 1M users); later
  visits fall between it and :data:`LAST_DAY`, more of them soon after, on weekdays more than
  at weekends (:data:`WEEKDAY_WEIGHTS`). Start times of day are around 15:00; lengths are
  lognormal (median 6 minutes) in whole seconds, one in a thousand 0.
* each user has a device (desktop, touch, tablet) and a source (``"1"`` to ``"10"``) used in
  most of their visits; the others are drawn from the same shares.
* **orders** (``uid``, ``buy_ts``, ``revenue``): :data:`BUYER_SHARE` of the users buy. The
  first order comes k days after the first visit's start (two in five on the same day, the others
  after an exponential number of days), a few more orders follow; orders after
  :data:`LAST_DAY` are left out (the observation end is the last visit's day), so no order
  comes before its buyer's first visit and every buyer has visits.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import log
from .runner import run_child

FIRST_DAY = np.datetime64("2017-06-01")
LAST_DAY = np.datetime64("2018-05-31")
VISITS_PER_USER = 10
BUYER_SHARE = 0.2
DEVICES = ("desktop", "touch", "tablet")
DEVICE_SHARES = (0.7, 0.25, 0.05)
SOURCES = tuple(str(i) for i in range(1, 11))
SOURCE_SHARES = (0.2, 0.15, 0.15, 0.12, 0.1, 0.08, 0.07, 0.06, 0.04, 0.03)
#: Monday to Sunday: how likely a later visit is on each day of the week (relative).
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 0.95, 0.9, 0.7, 0.6)
#: Share of a user's visits from their own device and source (the others: drawn anew).
LOYALTY = 0.9
DAY_SECONDS = 86_400
#: Users of the jobs (judged at 1M: 10M visits), the seed, and the warm-up copy's first visits.
VISITS_USERS = 1_000_000
VISITS_SEED = 14
WARMUP_VISITS = 3_000


def _later_days(rng: Any, first: Any, span: int) -> Any:
    """A later visit's day offset from each user's first day, weekdays favoured."""
    left = span - first  # days after the first visit's day up to LAST_DAY
    offset = np.floor(left * rng.random(first.size) ** 2).astype(np.int64)
    # thin by the day of the week: rejected offsets are drawn again
    weights = np.asarray(WEEKDAY_WEIGHTS) / max(WEEKDAY_WEIGHTS)
    first_weekday = (FIRST_DAY.astype("datetime64[D]").view("int64") + 3) % 7  # Monday = 0
    pending = np.arange(first.size)
    for _ in range(30):  # each offset is tested once; a rejected one is drawn again
        weekday = (first_weekday + first[pending] + offset[pending]) % 7
        pending = pending[rng.random(pending.size) > weights[weekday]]
        if not pending.size:
            break
        offset[pending] = np.floor(left[pending] * rng.random(pending.size) ** 2).astype(np.int64)
    return offset


def _pick(rng: Any, own: Any, values: tuple[str, ...], shares: tuple[float, ...]) -> Any:
    """Each visit's value as Arrow text: its user's own (``own``, codes) mostly, else drawn."""
    import pyarrow as pa

    fresh = rng.choice(len(values), size=own.size, p=shares)
    codes = np.where(rng.random(own.size) < LOYALTY, own, fresh).astype(np.int8)
    return pa.DictionaryArray.from_arrays(codes, pa.array(values)).cast(pa.string())


def _visits(rng: Any, n_users: int) -> tuple[dict[str, Any], Any, Any]:
    """The visits' columns (sorted by start), each user's first start and first day."""
    span = int((LAST_DAY - FIRST_DAY).astype(int))
    uid = rng.permutation(np.arange(1, n_users + 1, dtype=np.int64) * 7919 % 10**9)
    first_day = rng.integers(0, span + 1, n_users)
    first_day[:2] = (0, span)  # the range's ends always have a visit
    weight = np.cumsum(rng.gamma(1.0, 1.0, n_users))
    extra = n_users * (VISITS_PER_USER - 1)
    who = np.searchsorted(weight, rng.random(extra) * weight[-1], side="right")
    who = np.minimum(who, n_users - 1)
    user = np.concatenate([np.arange(n_users), who])
    day = np.concatenate([first_day, first_day[who] + _later_days(rng, first_day[who], span)])
    seconds = np.clip(rng.normal(15 * 3600, 4 * 3600, user.size), 0, DAY_SECONDS - 1)
    start = (FIRST_DAY + day.astype("timedelta64[D]")).astype("datetime64[s]") + seconds.astype(
        "timedelta64[s]"
    )
    first_start = start[:n_users].copy()
    length = np.rint(rng.lognormal(np.log(360.0), 1.1, user.size)).astype(np.int64)
    length[rng.random(user.size) < 0.001] = 0
    own_device = rng.choice(len(DEVICES), size=n_users, p=DEVICE_SHARES)
    own_source = rng.choice(len(SOURCES), size=n_users, p=SOURCE_SHARES)
    order = np.argsort(start, kind="stable")
    user = user[order]
    columns = {
        "uid": uid[user],
        "device": _pick(rng, own_device[user], DEVICES, DEVICE_SHARES),
        "start_ts": start[order],
        "end_ts": start[order] + length[order].astype("timedelta64[s]"),
        "source_id": _pick(rng, own_source[user], SOURCES, SOURCE_SHARES),
    }
    return columns, uid, first_start


def _orders(rng: Any, uid: Any, first_start: Any) -> dict[str, Any]:
    """Orders of the buyers: a first one k days after the first visit, then a few more."""
    n_users = uid.size
    buyer = np.flatnonzero(rng.random(n_users) < BUYER_SHARE)
    k = np.where(rng.random(buyer.size) < 0.4, 0, 1 + rng.exponential(10.0, buyer.size))
    delay = k.astype(np.int64) * DAY_SECONDS + rng.integers(60, 3 * 3600, buyer.size)
    first_order = first_start[buyer] + delay.astype("timedelta64[s]")
    more = rng.poisson(1.0, buyer.size)
    repeat_of = np.repeat(np.arange(buyer.size), more)
    later = rng.exponential(45.0 * DAY_SECONDS, repeat_of.size).astype(np.int64)
    times = np.concatenate([first_order, first_order[repeat_of] + later.astype("timedelta64[s]")])
    who = np.concatenate([buyer, buyer[repeat_of]])
    revenue = np.round(rng.lognormal(np.log(3.0), 0.9, who.size), 2)
    end = (LAST_DAY + np.timedelta64(1, "D")).astype("datetime64[s]")
    keep = times < end
    order = np.argsort(times[keep], kind="stable")
    return {
        "uid": uid[who[keep]][order],
        "buy_ts": times[keep][order],
        "revenue": revenue[keep][order],
    }


def visits_tables(n_users: int, seed: int) -> tuple[Any, Any]:
    """The visits and orders as Arrow tables (timestamps in seconds, text as strings)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    visits, uid, first_start = _visits(rng, n_users)
    orders = _orders(rng, uid, first_start)
    return pa.table(visits), pa.table(orders)


def visits_paths(out: Path, warmup: bool = False) -> tuple[Path, Path]:
    """The visits and orders Parquet files of the two jobs (or their small warm-up copies)."""
    tag = "_warmup" if warmup else ""
    return out / f"visits{tag}.parquet", out / f"visits_orders{tag}.parquet"


def child_prepare_visits(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Simulate the visits and orders; write them and a small warm-up copy (the first users)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    visits, orders = visits_tables(args.visits_users, VISITS_SEED)
    seconds = time.perf_counter() - started
    visits_path, orders_path = visits_paths(out)
    pq.write_table(visits, visits_path)
    pq.write_table(orders, orders_path)
    # the warm-up copy: every visit and order of a few users
    few = pc.unique(visits.column("uid").slice(0, WARMUP_VISITS))
    small_visits, small_orders = visits_paths(out, warmup=True)
    for table, path in ((visits, small_visits), (orders, small_orders)):
        pq.write_table(table.filter(pc.is_in(table.column("uid"), few)), path)
    starts = visits.column("start_ts")
    return {
        "visits_data": {
            "users": args.visits_users,
            "visits": visits.num_rows,
            "orders": orders.num_rows,
            "buyers": len(pc.unique(orders.column("uid"))),
            "seed": VISITS_SEED,
            "first_start": str(pc.min(starts)),
            "last_start": str(pc.max(starts)),
            "simulate_seconds": seconds,
            "visits_parquet_mb": visits_path.stat().st_size / 1e6,
            "warmup_users": len(few),
        }
    }


def prepare_visits(args: argparse.Namespace, entry: dict[str, Any], report: dict[str, Any]) -> bool:
    """Simulate the visits and orders once a run (in a subprocess); False when that failed."""
    if "visits_data" not in report:
        log(f"simulating the visits of {args.visits_users:,} users and their orders (untimed)")
        result = run_child(
            args, "prepare_visits", "data", extra=["--visits-users", str(args.visits_users)]
        )
        if not result.get("ok"):
            return False
        report["visits_data"] = result["visits_data"]
        log(
            f"  {result['visits_data']['visits']:,} visits, "
            f"{result['visits_data']['orders']:,} orders in "
            f"{result['visits_data']['simulate_seconds']:.1f} s"
        )
    entry["data"] = report["visits_data"]
    return True
