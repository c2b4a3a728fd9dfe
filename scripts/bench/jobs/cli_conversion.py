"""``cli_conversion``: ``clv conversion --visits V --orders O -o OUT`` as a whole process.

The visits and orders are simulated once a run, untimed (:mod:`bench.visits`: ~10M visits
of 1M users at the default ``--visits-users``, orders of a fifth of them). Our side runs
the command (read, first visits and orders, rates by source, device and cohort, orders by
cohort, summary, plots). The other side is a process doing the same the notebook way
(:func:`bench.analytics_direct.direct_conversion`: pandas ``groupby`` of the first visit and
the first order, ``merge``, ``(first_order.normalize() - first_visit.normalize()).dt.days``,
matplotlib). The check (its own process, :func:`bench.analytics_check.conversion_agreement`)
compares the summaries' numbers and the tables of both.
"""

from __future__ import annotations

from pathlib import Path

from ..analytics_check import conversion_agreement
from ..analytics_jobs import Sides, visits_job


def _clv_args(visits: Path, orders: Path, out: Path) -> list[str]:
    return [
        "conversion", "--visits", str(visits), "--orders", str(orders), "-o", str(out),
        "--customer-col", "uid", "--date-col", "buy_ts",
    ]  # fmt: skip


SIDES = Sides(job="cli_conversion", clv_args=_clv_args, direct="direct_conversion")


JOB = visits_job(SIDES, "clv conversion", conversion_agreement)
