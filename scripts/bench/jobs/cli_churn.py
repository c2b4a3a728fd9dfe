"""``cli_churn``: ``clv churn SUBS -o OUT --by plan --companies C`` as a whole process.

The subscriptions (``--churn-subscriptions``, default 1M) and their companies are simulated
once, untimed (:func:`bench.subscriptions.subscriptions_tables`), into
``OUT/churn_subs.parquet`` and ``OUT/churn_companies.parquet``. Our side runs the command
(read, sBG per plan, Kaplan–Meier, log-rank, Cox on industry and size band, the sBG with
dropout covariates, residual values, profile, plots); its steps' seconds come from
``summary.json``. The other side is a process doing the same analysis the direct way
(:func:`pandas_churn`): pandas, statsmodels' ``SurvfuncRight`` per plan on one row per
customer, ``survdiff`` (overall and pairwise), ``PHReg`` (Efron ties) on all rows,
pymc-marketing's ``ShiftedBetaGeoModel().fit(method="map")`` per plan with cohort = plan and
signup month (it needs one T per cohort), and matplotlib plots. Each process is timed with
``os.wait4`` after an untimed run on :data:`WARMUP_SUBSCRIPTIONS` rows (compile caches).

The check (its own process): our per-plan alpha, beta against the sBG's MAP under the same
default priors on the same customers, written with scipy (pymc-marketing fits per cohort, a
different grouping, so its values are not comparable); our Kaplan–Meier and overall
log-rank statistic against the other side's; our Cox hazard ratios (a 200,000-row sample at
1M) against the other side's full fit, in our standard errors.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ..common import log
from ..job import Job, both_sides
from ..runner import PACKAGE_DIR, clv_command, run_child, run_timed
from ..subscriptions import subscriptions_tables

TARGET = (
    "`clv churn` process ≤ 30 s at ≤ 1000 MB peak (read, KM, log-rank, Cox, sBG, plots; "
    "judged at 1M subscriptions)"
)
CHURN_SUBSCRIPTIONS = 1_000_000
CHURN_MAX_SECONDS = 30.0
CHURN_MAX_PEAK_MB = 1000.0
CHURN_SEED = 36
WARMUP_SUBSCRIPTIONS = 3_000
#: Tolerances of the check: relative (sBG), absolute (Kaplan–Meier), relative (log-rank),
#: and our standard errors (Cox: a sample against the full fit).
SBG_RTOL, KM_ATOL, LOGRANK_RTOL, COX_SE = 1e-3, 1e-9, 1e-6, 3.0
HORIZON = 12
SIDE_FILES = {"ours": "cli_churn_ours", "pymc": "cli_churn_pandas.json"}


def options(args: argparse.Namespace, side: str) -> list[str]:
    """The job's size (and whether to warm up), for its processes."""
    warmup = ["--no-warmup"] if args.no_warmup else []
    return ["--churn-subscriptions", str(args.churn_subscriptions), *warmup]


def _paths(out: Path, warmup: bool = False) -> tuple[Path, Path]:
    tag = "_warmup" if warmup else ""
    return out / f"churn_subs{tag}.parquet", out / f"churn_companies{tag}.parquet"


def child_prepare(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Simulate the subscriptions and companies; write them and a small warm-up copy."""
    started = time.perf_counter()
    subs, companies, truth = subscriptions_tables(args.churn_subscriptions, CHURN_SEED)
    seconds = time.perf_counter() - started
    subs_path, companies_path = _paths(out)
    subs.to_parquet(subs_path, index=False)
    companies.to_parquet(companies_path, index=False)
    small_subs, small_companies = _paths(out, warmup=True)
    subs.iloc[:WARMUP_SUBSCRIPTIONS].to_parquet(small_subs, index=False)
    companies.iloc[:WARMUP_SUBSCRIPTIONS].to_parquet(small_companies, index=False)
    return {
        "churn_data": {
            "subscriptions": len(subs),
            "seed": CHURN_SEED,
            "churned_share": float(subs["churned"].mean()),
            "plans": subs["plan"].value_counts().to_dict(),
            "cohorts": int(subs["cohort"].nunique()),
            "simulate_seconds": seconds,
            "subs_parquet_mb": subs_path.stat().st_size / 1e6,
            "truth": truth,
        }
    }


def prepare(args: argparse.Namespace, entry: dict[str, Any], report: dict[str, Any]) -> bool:
    """Simulate the job's subscriptions (in a subprocess); False when that failed."""
    log(f"cli_churn: simulating {args.churn_subscriptions:,} subscriptions and companies")
    result = run_child(args, "prepare_churn", "data", extra=options(args, ""))
    if not result.get("ok"):
        return False
    entry["data"] = result["churn_data"]
    return True


def _churn_command(subs: Path, companies: Path, target: Path) -> list[str]:
    return [
        *clv_command(), "churn", str(subs), "-o", str(target),
        "--by", "plan", "--companies", str(companies),
    ]  # fmt: skip


def _pandas_command(subs: Path, companies: Path, target: Path) -> list[str]:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from bench.jobs.cli_churn import pandas_churn; pandas_churn(*sys.argv[2:])"
    )
    return [sys.executable, "-c", code, str(PACKAGE_DIR.parent), str(subs), str(companies),
            str(target)]  # fmt: skip


def _run_side(args: argparse.Namespace, out: Path, side: str) -> tuple[dict, Path, list[str]]:
    """Warm up on the small copy (unless --no-warmup), then the timed run on the full one."""
    build = _churn_command if side == "ours" else _pandas_command
    runs = [True, False] if not args.no_warmup else [False]
    for warmup in runs:
        target = out / (("warmup_" if warmup else "") + SIDE_FILES[side])
        if target.is_dir():
            shutil.rmtree(target)
        cmd = build(*_paths(out, warmup), target)
        result = run_timed(cmd)
    return result, target, cmd


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``clv churn`` on the subscriptions, timed as a process."""
    result, target, cmd = _run_side(args, out, "ours")
    summary = json.loads((target / "summary.json").read_text())
    return {
        "call_seconds": result["seconds"],
        "command_peak_rss_mb": result["peak_rss_mb"],
        "breakdown_seconds": summary["seconds"],
        "n_customers": summary["customers"],
        "sbg_fit": {k: summary["fit"].get(k) for k in ("method", "converged", "seconds")},
        "warmed_up": not args.no_warmup,
        "measured_command": " ".join(cmd),
        "output_tail": result["stdout"].strip().splitlines()[-3:],
    }


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The direct way (:func:`pandas_churn`), timed as a process."""
    result, target, _ = _run_side(args, out, "pymc")
    done = json.loads(target.read_text())
    return {
        "call_seconds": result["seconds"],
        "command_peak_rss_mb": result["peak_rss_mb"],
        "breakdown_seconds": done["seconds"],
        "n_customers": done["customers"],
        "sbg_cohorts": len(done["sbg"]),
        "measured_command": "python -c <pandas_churn: pandas, statsmodels, pymc-marketing>",
    }


def pandas_churn(subs_path: str, companies_path: str, out_path: str) -> None:
    """The analysis of ``clv churn --by plan --companies`` written directly; results as JSON."""
    from ..churn_direct import direct_churn

    Path(out_path).write_text(json.dumps(direct_churn(subs_path, companies_path, HORIZON)))


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Our sBG against a scipy MLE; Kaplan–Meier, log-rank and Cox against the other side."""
    from ..churn_direct import agreement

    ours = out / SIDE_FILES["ours"]
    other = json.loads((out / SIDE_FILES["pymc"]).read_text())
    tolerances = {"sbg_rtol": SBG_RTOL, "km_atol": KM_ATOL, "logrank_rtol": LOGRANK_RTOL,
                  "cox_se": COX_SE}  # fmt: skip
    return {"agreement": agreement(ours, other, _paths(out)[0], tolerances)}


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met at 1M subscriptions when `clv churn` takes ≤ 30 s and peaks at ≤ 1000 MB."""
    ours, _ = both_sides(entry)
    if args.churn_subscriptions < CHURN_SUBSCRIPTIONS:
        return {
            "met": None,
            "not_judged": f"fewer than the target's {CHURN_SUBSCRIPTIONS:,} subscriptions",
        }
    return {
        "met": bool(
            ours["call_seconds"] <= CHURN_MAX_SECONDS
            and ours["command_peak_rss_mb"] <= CHURN_MAX_PEAK_MB
        )
    }


def notes(entry: dict[str, Any]) -> list[str]:
    """What both processes run, and each step's seconds."""
    ours, other = both_sides(entry)
    if not ours.get("ok"):
        return []
    warm = f", after an untimed run on {WARMUP_SUBSCRIPTIONS:,} rows" if ours["warmed_up"] else ""
    lines = [
        f"both sides are whole processes on the same Parquet files{warm}; peak = the "
        "process's ru_maxrss. The subscriptions are simulated in the job "
        "(--churn-subscriptions), not the orders of --customers",
        "clvmodels steps (summary.json): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in ours["breakdown_seconds"].items()),
    ]
    if other is not None:
        lines.append(
            f"the other side fits pymc-marketing per plan on {other['sbg_cohorts']} (plan, "
            "signup month) cohorts and PHReg on all rows (clvmodels: a 200,000-row sample "
            "above that); its steps: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in other["breakdown_seconds"].items())
        )
    return lines


def digest(agreed: dict[str, Any]) -> dict[str, Any]:
    """The worst difference of each check."""
    keys = ("sbg_max_rel_diff", "km_max_abs_diff", "logrank_rel_diff", "cox_max_diff_in_se")
    return {key: agreed.get(key) for key in keys}


JOB = Job(
    name="cli_churn",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    label="clv churn (process)",
    side_names={"pymc": "pandas + statsmodels + pymc-marketing"},
    check=child_check,
    prepare=prepare,
    options=options,
    verdict=verdict,
    notes=notes,
    digest=digest,
)
