"""``cli_fit``: ``clv fit`` on the CDNOW sample as whole processes, one per model.

``clv fit`` on the CDNOW sample (2,357 customers, its 6,919 orders written to CSV) with each
transaction model (bgnbd, pareto, mbgnbd), MAP, default priors, Gamma-Gamma for spend,
against a process per model that reads the CSV, summarises it with pymc-marketing's
``rfm_summary`` (days, recency and T divided by 7: clvmodels' weeks) and fits
pymc-marketing's model and ``GammaGammaModel`` with ``fit(method="map")``. The fit step is
what ``clv fit`` prints ("fitted in X s": both fits and writing the model) and, on
pymc-marketing's side, the two ``fit`` calls.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..job import Job
from ..runner import clv_command, run_timed

TARGET = "each `clv fit` process ≤ 5 s and its fit step ≤ 1 s (bgnbd, pareto, mbgnbd)"
FIT_MAX_PROCESS_SECONDS = 5.0
FIT_MAX_STEP_SECONDS = 1.0
FIT_MODELS = ("bgnbd", "pareto", "mbgnbd")
#: pymc-marketing's class for each of our transaction models.
PYMC_MODEL_CLASSES = {
    "bgnbd": "BetaGeoModel",
    "pareto": "ParetoNBDModel",
    "mbgnbd": "ModifiedBetaGeoModel",
}
FIT_PARAMS = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "mbgnbd": ("r", "alpha", "a", "b"),
    "pareto": ("r", "alpha", "s", "beta"),
}
#: Agreement of the two sides' MAP estimates (same data, priors and optimiser).
FIT_RTOL = 1e-3

PYMC_FIT_CODE = """
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
import pymc_marketing.clv as clv
kind, path, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
orders = pd.read_csv(path, parse_dates=["timestamp"])
rfm = clv.rfm_summary(orders, customer_id_col="customer_id", datetime_col="timestamp",
                      monetary_value_col="revenue", time_unit="D")
rfm["recency"] /= 7
rfm["T"] /= 7
started = time.perf_counter()
model = getattr(clv, kind)()
model.fit(data=rfm[["customer_id", "frequency", "recency", "T"]], method="map", progressbar=False)
repeat = rfm[rfm["frequency"] > 0]
spend = clv.GammaGammaModel()
spend.fit(data=repeat[["customer_id", "frequency", "monetary_value"]], method="map",
          progressbar=False)
seconds = time.perf_counter() - started
params = {n: float(model.fit_result[n].values.item()) for n in names}
print(json.dumps({"fit_seconds": seconds, "params": params, "n_customers": len(rfm)}))
"""


def cdnow_csv(out: Path) -> Path:
    """The CDNOW sample's orders as CSV (customer_id, timestamp, revenue), written once."""
    path = out / "cdnow_orders.csv"
    if not path.exists():
        from clvmodels.examples.cdnow import load_cdnow

        orders = load_cdnow("sample")[["customer_id", "timestamp", "revenue"]]
        orders.to_csv(path.with_suffix(".tmp"), index=False)
        path.with_suffix(".tmp").rename(path)
    return path


def _timed_twice(cmd: list[str], warm: bool) -> dict[str, Any]:
    """Run ``cmd`` once untimed when ``warm`` (the compile caches), then timed."""
    if warm:
        run_timed(cmd)
    return run_timed(cmd)


def _fit_ours(args: argparse.Namespace, out: Path, orders: Path, kind: str) -> dict[str, Any]:
    """One ``clv fit`` process: its times, peak and estimates (from the written model.json)."""
    model_dir = out / f"cli_fit_{kind}"
    cmd = [*clv_command(), "fit", str(orders), "-o", str(model_dir), "--model", kind]
    cmd += ["--method", "map"]
    result = _timed_twice(cmd, not args.no_warmup)
    fitted = re.search(r"fitted in ([0-9.]+) s", result["stdout"])
    meta = json.loads((model_dir / "model.json").read_text())
    summary = meta["transaction_model"]["summary"]
    report = meta["transaction_model"].get("fit_report", {})
    spend_report = meta["spend_model"].get("fit_report", {})
    return {
        "process_seconds": result["seconds"],
        "fit_step_seconds": float(fitted.group(1)) if fitted else float("nan"),
        "map_seconds": [report.get("seconds"), spend_report.get("seconds")],
        "peak_rss_mb": result["peak_rss_mb"],
        "params": {name: summary[name]["mean"] for name in FIT_PARAMS[kind]},
        "n_customers": report.get("n_customers"),
    }


def _fit_pymc(args: argparse.Namespace, orders: Path, kind: str) -> dict[str, Any]:
    """One pymc-marketing process: its times, peak and estimates (its JSON line)."""
    names = ",".join(FIT_PARAMS[kind])
    cmd = [sys.executable, "-c", PYMC_FIT_CODE, PYMC_MODEL_CLASSES[kind], str(orders), names]
    result = _timed_twice(cmd, not args.no_warmup)
    line = json.loads(result["stdout"].strip().splitlines()[-1])
    return {
        "process_seconds": result["seconds"],
        "fit_step_seconds": line["fit_seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "params": line["params"],
        "n_customers": line["n_customers"],
    }


def child_cli_fit(args: argparse.Namespace, out: Path, *, ours: bool) -> dict[str, Any]:
    """One process per transaction model: ``clv fit`` or pymc-marketing's fits.

    Unless ``--no-warmup``, each command first runs once untimed, so that the timed run sees
    the compile caches a second run (or ``make install``'s warm-up) leaves.
    """
    orders = cdnow_csv(out)
    per_model: dict[str, dict[str, Any]] = {}
    for kind in [m.strip() for m in args.cli_fit_models.split(",") if m.strip()]:
        if ours:
            per_model[kind] = _fit_ours(args, out, orders, kind)
        else:
            per_model[kind] = _fit_pymc(args, orders, kind)
    return {
        "call_seconds": sum(m["process_seconds"] for m in per_model.values()),
        "models": per_model,
        "command_peak_rss_mb": max(m["peak_rss_mb"] for m in per_model.values()),
        "n_customers": next(iter(per_model.values()))["n_customers"],
    }


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The `clv fit` side."""
    return child_cli_fit(args, out, ours=True)


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The pymc-marketing side."""
    return child_cli_fit(args, out, ours=False)


def options(args: argparse.Namespace, side: str) -> list[str]:
    """The models to fit, and whether to warm up each command."""
    return ["--cli-fit-models", args.cli_fit_models] + (["--no-warmup"] if args.no_warmup else [])


def compare(ours: dict[str, Any], pymc: dict[str, Any]) -> dict[str, Any]:
    """Relative differences of the two sides' MAP estimates, per model."""
    result: dict[str, Any] = {}
    for kind, mine in ours["models"].items():
        theirs = pymc["models"][kind]["params"]
        rel = {n: abs(v - theirs[n]) / abs(theirs[n]) for n, v in mine["params"].items()}
        result[kind] = max(rel.values())
    result["max_rel_diff"] = max(result.values())
    result["agree"] = bool(result["max_rel_diff"] < FIT_RTOL)
    return result


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met when every model's process takes ≤ 5 s and its fit step ≤ 1 s (all three models)."""
    models = entry["ours"]["models"]
    if set(models) != set(FIT_MODELS):
        return {
            "met": None,
            "not_judged": f"models {sorted(models)} rather than all of {list(FIT_MODELS)}",
        }
    return {
        "met": all(
            m["process_seconds"] <= FIT_MAX_PROCESS_SECONDS
            and m["fit_step_seconds"] <= FIT_MAX_STEP_SECONDS
            for m in models.values()
        )
    }


def notes(entry: dict[str, Any]) -> list[str]:
    """Per-model figures of both sides."""
    ours, pymc = entry.get("ours") or {}, entry.get("pymc") or {}
    if not ours.get("ok"):
        return []
    lines = []
    for kind, mine in ours.get("models", {}).items():
        theirs = pymc.get("models", {}).get(kind, {})
        lines.append(
            f"{kind}: clv fit process {mine['process_seconds']:.2f} s, fit step "
            f"{mine['fit_step_seconds']:.2f} s, peak {mine['peak_rss_mb']:.0f} MB"
            + (
                f"; pymc-marketing process {theirs['process_seconds']:.2f} s, fit "
                f"{theirs['fit_step_seconds']:.2f} s, peak {theirs['peak_rss_mb']:.0f} MB"
                if theirs
                else ""
            )
        )
    return lines


JOB = Job(
    name="cli_fit",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    compare=compare,
    options=options,
    verdict=verdict,
    notes=notes,
)
