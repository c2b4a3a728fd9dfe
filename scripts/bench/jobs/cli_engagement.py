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

from ..analytics_check import engagement_agreement
from ..analytics_jobs import Sides, visits_job

SIDES = Sides(
    job="cli_engagement",
    clv_args=lambda visits, orders, out: ["engagement", str(visits), "-o", str(out)],
    direct="direct_engagement",
)


JOB = visits_job(SIDES, "clv engagement", engagement_agreement)
