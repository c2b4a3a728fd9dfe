"""``cli_engagement``: ``clv engagement VISITS -o OUT`` as a whole process.

The visits are simulated once a run, untimed (:mod:`bench.visits`: ~10M visits of 1M users
at the default ``--visits-users``). Our side runs the command (read, DAU, WAU, MAU, sticky
factors, session lengths, per device and source, visitor retention, plots). The other side
is a process doing the same the notebook way
(:func:`bench.analytics_direct.direct_engagement`: pandas, ``start_ts.dt.date``, ISO
year-week and year-month, ``groupby().nunique()``, the retention pivot, matplotlib). The
check (its own process, :func:`bench.analytics_check.engagement_agreement`) compares the
summaries' numbers and the tables of both.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..analytics_jobs import Sides, notes, options, target, verdict
from ..job import Job
from ..visits import prepare_visits

SIDES = Sides(
    job="cli_engagement",
    clv_args=lambda visits, orders, out: ["engagement", str(visits), "-o", str(out)],
    direct="direct_engagement",
)


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``clv engagement``, timed as a process."""
    return SIDES.run(args, out, "ours")


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The notebook way, timed as a process."""
    return SIDES.run(args, out, "pymc")


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The summaries' numbers and every table of both sides."""
    from ..analytics_check import engagement_agreement

    return {
        "agreement": engagement_agreement(
            SIDES.folder(out, "ours", False), SIDES.folder(out, "pymc", False)
        )
    }


def digest(agreed: dict[str, Any]) -> dict[str, Any]:
    """Which parts agree, and the worst difference."""
    return {k: v for k, v in agreed.items() if k.startswith("same_") or k == "max_rel_diff"}


JOB = Job(
    name="cli_engagement",
    target=target("clv engagement"),
    sides={"ours": child_ours, "pymc": child_pymc},
    label="clv engagement (process)",
    side_names={"pymc": "pandas (notebook way)"},
    check=child_check,
    prepare=prepare_visits,
    options=options,
    verdict=verdict,
    notes=notes,
    digest=digest,
)
