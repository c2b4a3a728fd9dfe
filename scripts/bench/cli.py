"""The benchmark's options, and its entry point: the whole run, or one job side (``--job``)."""

from __future__ import annotations

import argparse

from . import __doc__ as overview
from .child import child_main
from .jobs.cdnow_clv import CDNOW_CHAINS, CDNOW_DRAWS
from .jobs.cli_churn import CHURN_SUBSCRIPTIONS
from .jobs.cli_experiment import EXPERIMENT_USERS
from .jobs.cli_fit import FIT_MODELS
from .jobs.nuts import NUTS_CHAINS, NUTS_CUSTOMERS, NUTS_DRAWS, NUTS_POPULATIONS, NUTS_TUNE
from .registry import CHILD_JOBS, JOBS
from .suite import parent_main
from .visits import VISITS_PER_USER, VISITS_USERS


def _run_options(parser: argparse.ArgumentParser) -> None:
    """The data, the jobs, the work folder and how the run goes."""
    parser.add_argument(
        "--customers",
        type=int,
        default=1_000_000,
        help="simulated customers (default 1,000,000: ~10M orders)",
    )
    parser.add_argument(
        "--jobs", default=",".join(JOBS), help=f"comma-separated jobs (default {','.join(JOBS)})"
    )
    parser.add_argument("--out", default="bench-output", help="work folder (default bench-output)")
    parser.add_argument(
        "--skip-pymc",
        action="store_true",
        help="run clvmodels only (skips every job's comparison side, Spark's too)",
    )
    parser.add_argument(
        "--pymc-score-customers",
        type=int,
        default=None,
        help="customers pymc-marketing scores (default all); its time is "
        "extrapolated linearly to --customers",
    )
    parser.add_argument(
        "--reuse-data",
        action="store_true",
        help="reuse OUT/orders.parquet and OUT/rfm.parquet when they match",
    )
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the small untimed fits and scoring that warm the PyTensor and numba "
        "compile caches",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds after which a job side is killed (default 3600)",
    )


def _nuts_options(parser: argparse.ArgumentParser) -> None:
    """The nuts job's customers and sampler settings."""
    parser.add_argument(
        "--nuts-customers",
        type=int,
        default=NUTS_CUSTOMERS,
        help=f"customers of the nuts job (default {NUTS_CUSTOMERS:,}; simulated apart)",
    )
    parser.add_argument(
        "--nuts-population",
        choices=NUTS_POPULATIONS,
        default=NUTS_POPULATIONS[0],
        help="the nuts job's simulated customers: the simulator's defaults, close to CDNOW "
        "(cdnow-like, the default) or the other jobs' (bench)",
    )
    parser.add_argument(
        "--nuts-chains", type=int, default=NUTS_CHAINS, help=f"default {NUTS_CHAINS}"
    )
    parser.add_argument(
        "--nuts-draws",
        type=int,
        default=NUTS_DRAWS,
        help=f"draws per chain of the nuts job (default {NUTS_DRAWS})",
    )
    parser.add_argument(
        "--nuts-tune",
        type=int,
        default=NUTS_TUNE,
        help=f"tuning steps per chain of the nuts job (default {NUTS_TUNE})",
    )


def _job_options(parser: argparse.ArgumentParser) -> None:
    """The sizes of the cdnow_clv, cli_startup, cli_fit, cli_churn and visits jobs."""
    parser.add_argument(
        "--cdnow-draws",
        type=int,
        default=CDNOW_DRAWS,
        help=f"draws per chain ({CDNOW_CHAINS} chains) of the cdnow_clv posterior "
        f"(default {CDNOW_DRAWS})",
    )
    parser.add_argument(
        "--startup-runs",
        type=int,
        default=7,
        help="runs of each command whose median the cli_startup job reports (default 7)",
    )
    parser.add_argument(
        "--cli-fit-models",
        default=",".join(FIT_MODELS),
        help="transaction models of the cli_fit job (default bgnbd,pareto,mbgnbd)",
    )
    parser.add_argument(
        "--churn-subscriptions",
        type=int,
        default=CHURN_SUBSCRIPTIONS,
        help=f"simulated subscriptions of the cli_churn job (default {CHURN_SUBSCRIPTIONS:,}; "
        "judged at 1M)",
    )
    parser.add_argument(
        "--experiment-users",
        type=int,
        default=EXPERIMENT_USERS,
        help=f"simulated users of the cli_experiment job, ~10 orders each (default "
        f"{EXPERIMENT_USERS:,}; judged at 1M)",
    )
    parser.add_argument(
        "--visits-users",
        type=int,
        default=VISITS_USERS,
        help=f"simulated users of the cli_engagement and cli_conversion jobs, "
        f"{VISITS_PER_USER} visits each on average (default {VISITS_USERS:,}; judged at "
        f"{VISITS_USERS * VISITS_PER_USER:,} visits)",
    )


def _database_options(parser: argparse.ArgumentParser) -> None:
    """Where the pg_rfm job's PostgreSQL server is."""
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="an existing PostgreSQL database for the pg_rfm job, e.g. "
        "postgresql://me@localhost:5432/scratch (its table orders is replaced; default: a "
        "throw-away server on 127.0.0.1, started and stopped by the benchmark)",
    )


def _internal_options(parser: argparse.ArgumentParser) -> None:
    """One job side in this process (what the parent passes its children; not shown)."""
    parser.add_argument("--job", choices=CHILD_JOBS, help=argparse.SUPPRESS)
    parser.add_argument("--score-draws", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--score-customers", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pg-url", default=None, help=argparse.SUPPRESS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--job`` and ``--side`` run one job side: internal)."""
    parser = argparse.ArgumentParser(description=(overview or "").split("\n\n")[0])
    _run_options(parser)
    _nuts_options(parser)
    _job_options(parser)
    _database_options(parser)
    _internal_options(parser)
    args = parser.parse_args(argv)
    if args.customers < 100:
        parser.error("--customers must be at least 100")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: the parent benchmark, or one job side when ``--job`` is given."""
    args = parse_args(argv)
    if args.job:
        if not args.side:
            raise SystemExit("--job needs --side ours|pymc")
        child_main(args)
        return 0
    return parent_main(args)
