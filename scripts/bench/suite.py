"""The parent: the data, then each job's sides in their own processes, the checks, the report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .common import ANNUAL_DISCOUNT_RATE, BENCH_BGNBD, HORIZON, SCORE_DRAWS, SIDES, TIME_UNIT, log
from .data import prepare_data
from .job import Job
from .jobs import nuts
from .jobs.cdnow_clv import CDNOW_CHAINS
from .jobs.score_200 import SCORE_200_DRAWS
from .registry import JOBS
from .report import machine_info, short, summarise, write_report
from .runner import run_child
from .warmup import warm_up


def chosen_jobs(args: argparse.Namespace) -> list[str]:
    """The ``--jobs`` to run, in the order given; exits on an unknown name."""
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = set(jobs) - set(JOBS)
    if unknown:
        raise SystemExit(f"unknown job(s) {sorted(unknown)}; choose from {', '.join(JOBS)}")
    return jobs


def _config(args: argparse.Namespace, jobs: list[str], sides: list[str]) -> dict[str, Any]:
    """The run's settings, as the report records them."""
    return {
        "jobs": jobs,
        "sides": sides,
        "time_unit": TIME_UNIT,
        "horizon": HORIZON,
        "annual_discount_rate": ANNUAL_DISCOUNT_RATE,
        "score_draws": SCORE_DRAWS,
        "score_200_draws": SCORE_200_DRAWS,
        "pymc_score_customers": args.pymc_score_customers,
        "nuts": {
            "customers": args.nuts_customers,
            "population": args.nuts_population,
            **nuts.settings(args),
        },
        "cdnow_draws": CDNOW_CHAINS * args.cdnow_draws,
        "warmup": not args.no_warmup,
    }


def start_report(args: argparse.Namespace, jobs: list[str], sides: list[str]) -> dict[str, Any]:
    """The machine, the simulated data (prepared in a subprocess) and the run's settings."""
    report: dict[str, Any] = {"machine": machine_info()}
    machine = report["machine"]
    log(
        f"machine: {machine['nproc']} cores, {machine['total_ram_gib']} GiB, "
        f"{machine['cpu_model']}; load {machine['load_average_at_start']}"
    )
    log(f"data: simulating {args.customers:,} customers' orders (BG/NBD {BENCH_BGNBD}) ...")
    report["data"] = data = prepare_data(args)
    log(
        f"  {data['n_orders']:,} orders ({data['orders_per_customer']:.1f} per customer, "
        f"{data['n_purchase_days'] / args.customers:.1f} purchase days), "
        f"{data['repeat_customers']:,} repeat customers; in {args.out}"
    )
    report["config"] = _config(args, jobs, sides)
    report["jobs"] = {}
    return report


def run_side(args: argparse.Namespace, job: Job, side: str, entry: dict[str, Any]) -> bool:
    """Run one side of ``job`` into ``entry``; False when it failed (a skip is no failure)."""
    if job.unavailable and (problem := job.unavailable(side)):
        log(f"{job.name}: skipping Spark: {problem}")
        entry["notes"].append(f"Spark side not run: {problem}")
        return True
    name = job.side_name(side)
    log(f"{job.name}: {name} ...")
    extra = job.options(args, side) if job.options else []
    result = run_child(args, job.name, side, extra=extra)
    if job.finish:
        result = job.finish(args, side, result, entry)
    entry[side] = result
    if not result.get("ok"):
        return False
    log(
        f"  {name}: call {result['call_seconds']:.2f} s, process "
        f"{result['process_seconds']:.2f} s, peak {result['peak_rss_mb']:.0f} MB"
    )
    return True


def agreement(args: argparse.Namespace, job: Job, entry: dict[str, Any]) -> dict | None:
    """The agreement of a job's two sides (None for jobs without a check of their own)."""
    if job.compare:
        return job.compare(entry["ours"], entry["pymc"])
    if job.check is None:
        return None
    checked = run_child(args, "check", job.name)
    if not checked.get("ok"):
        raise RuntimeError(f"the {job.name} agreement check failed")
    return dict(checked["agreement"])


def check_sides(args: argparse.Namespace, job: Job, entry: dict[str, Any]) -> bool:
    """Record and log the agreement of the two sides; False when the check itself failed."""
    try:
        agreed = agreement(args, job, entry)
    except Exception as exc:  # report the check's failure, keep the timings
        entry["agreement"] = {"agree": False, "error": repr(exc)}
        log(f"  agreement check failed: {exc!r}")
        return False
    if agreed is not None:
        entry["agreement"] = agreed
        digest = job.digest(agreed) if job.digest else {"max_rel_diff": agreed.get("max_rel_diff")}
        log(f"  agreement: {'yes' if agreed['agree'] else 'NO'} {short(digest)}")
    return True


def run_job(args: argparse.Namespace, job: Job, sides: list[str], report: dict) -> bool:
    """Prepare, run each side of, check and summarise one job; False when any part failed."""
    entry: dict[str, Any] = {"notes": []}
    report["jobs"][job.name] = entry
    if job.prepare and not job.prepare(args, entry, report):
        log(f"{job.name}: preparing its data failed; skipping the job")
        entry["notes"].append("preparing the job's data failed (see logs/)")
        entry["summary"] = summarise(job.name, entry, args)
        return False
    ok = True
    for side in [s for s in sides if s in job.sides]:
        ok = run_side(args, job, side, entry) and ok
    if "pymc" in job.sides and all(entry.get(s, {}).get("ok") for s in SIDES):
        ok = check_sides(args, job, entry) and ok
    entry["notes"] += job.notes(entry) if job.notes else []
    entry["summary"] = summarise(job.name, entry, args)
    return ok


def parent_main(args: argparse.Namespace) -> int:
    """Run the whole benchmark; return the exit code."""
    jobs = chosen_jobs(args)
    sides = ["ours"] if args.skip_pymc else list(SIDES)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = start_report(args, jobs, sides)
    if not args.no_warmup:
        warm_up(args, sides, jobs)
    failed = False
    for name in jobs:
        failed = not run_job(args, JOBS[name], sides, report) or failed
    report["total_seconds"] = time.perf_counter() - started
    text = write_report(out, report)
    print(text)
    log(
        f"done in {report['total_seconds']:.0f} s; wrote {out / 'bench.md'} and "
        f"{out / 'bench.json'}"
    )
    return 1 if failed else 0
