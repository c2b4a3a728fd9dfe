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

import argparse
from pathlib import Path
from typing import Any

from ..analytics_jobs import Sides, notes, options, target, verdict
from ..job import Job
from ..visits import prepare_visits


def _clv_args(visits: Path, orders: Path, out: Path) -> list[str]:
    return [
        "conversion", "--visits", str(visits), "--orders", str(orders), "-o", str(out),
        "--customer-col", "uid", "--date-col", "buy_ts",
    ]  # fmt: skip


SIDES = Sides(job="cli_conversion", clv_args=_clv_args, direct="direct_conversion")


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``clv conversion``, timed as a process."""
    return SIDES.run(args, out, "ours")


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The notebook way, timed as a process."""
    return SIDES.run(args, out, "pymc")


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The summaries' numbers and every table of both sides."""
    from ..analytics_check import conversion_agreement

    return {
        "agreement": conversion_agreement(
            SIDES.folder(out, "ours", False), SIDES.folder(out, "pymc", False)
        )
    }


def digest(agreed: dict[str, Any]) -> dict[str, Any]:
    """Which parts agree, and the worst difference."""
    return {k: v for k, v in agreed.items() if k.startswith("same_") or k == "max_rel_diff"}


JOB = Job(
    name="cli_conversion",
    target=target("clv conversion"),
    sides={"ours": child_ours, "pymc": child_pymc},
    label="clv conversion (process)",
    side_names={"pymc": "pandas (notebook way)"},
    check=child_check,
    prepare=prepare_visits,
    options=options,
    verdict=verdict,
    notes=notes,
    digest=digest,
)
