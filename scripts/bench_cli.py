"""The benchmark's command-line jobs: each `clv` command timed as a whole process.

Used by ``scripts/bench.py`` (``make bench JOBS=cli_rfm,cli_startup,cli_fit``). The job side's
child starts the measured program as its own process (``clv ...`` on our side, ``python -c``
with pymc-marketing on the other), and times it with ``os.wait4``: the wall time of the whole
process (imports, reading, the work, writing) and its peak resident memory (``ru_maxrss``).

Jobs:

* ``cli_startup``: ``clv --help`` and ``clv --version``, the median of several runs each,
  against a process that imports pymc-marketing and prints its version.
* ``cli_rfm``: ``clv rfm OUT/orders.parquet -o ...`` (weeks) against a process that reads the
  same Parquet file into pandas and runs ``pymc_marketing.clv.rfm_summary(time_unit="W")``.
* ``cli_fit``: ``clv fit`` on the CDNOW sample (2,357 customers, its 6,919 orders written to
  CSV) with each transaction model (bgnbd, pareto, mbgnbd), MAP, default priors, Gamma-Gamma
  for spend, against a process per model that reads the CSV, summarises it with
  pymc-marketing's ``rfm_summary`` (days, recency and T divided by 7: clvmodels' weeks) and
  fits pymc-marketing's model and ``GammaGammaModel`` with ``fit(method="map")``. The fit
  step is what ``clv fit`` prints ("fitted in X s": both fits and writing the model) and, on
  pymc-marketing's side, the two ``fit`` calls.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLI_JOBS = ("cli_rfm", "cli_startup", "cli_fit")
CLI_TARGETS = {
    "cli_rfm": "`clv rfm` process ≥ 10× faster than the pymc-marketing rfm_summary process, "
    "clv peak ≤ 1000 MB (judged at 1M customers)",
    "cli_startup": "`clv --help` and `clv --version` ≤ 0.5 s (median)",
    "cli_fit": "each `clv fit` process ≤ 5 s and its fit step ≤ 1 s (bgnbd, pareto, mbgnbd)",
}
CLI_RFM_MIN_RATIO = 10.0
CLI_RFM_MAX_PEAK_MB = 1000.0
CLI_RFM_FULL_SIZE = 1_000_000
STARTUP_MAX_SECONDS = 0.5
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


def clv_command() -> list[str]:
    """The `clv` console script of this interpreter's environment (``python -m`` if absent)."""
    script = Path(sys.executable).with_name("clv")
    return [str(script)] if script.exists() else [sys.executable, "-m", "clvmodels"]


def run_timed(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` as its own process, timed with ``os.wait4`` (wall seconds, ru_maxrss MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # read both pipes to their end in threads, then reap with wait4 for the rusage
    import threading

    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=(name, stream))
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    stdout = chunks.get("stdout", b"").decode(errors="replace")
    stderr = chunks.get("stderr", b"").decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6, "stdout": stdout}


# ------------------------------------------------------------------------- cli_startup
def child_startup(args: Any, out: Path, *, ours: bool) -> dict[str, Any]:
    """Median wall time of ``clv --help`` and ``clv --version`` (or of importing pymc-marketing)."""
    runs = max(1, args.startup_runs)
    if ours:
        commands = {"help": [*clv_command(), "--help"], "version": [*clv_command(), "--version"]}
    else:
        code = "import pymc_marketing; print(pymc_marketing.__version__)"
        commands = {"import_and_version": [sys.executable, "-c", code]}
    medians, peaks, all_runs = {}, {}, {}
    for name, cmd in commands.items():
        results = [run_timed(cmd) for _ in range(runs)]
        all_runs[name] = [round(r["seconds"], 4) for r in results]
        medians[name] = statistics.median(r["seconds"] for r in results)
        peaks[name] = max(r["peak_rss_mb"] for r in results)
    return {
        "call_seconds": max(medians.values()),
        "process_medians_seconds": medians,
        "runs_seconds": all_runs,
        "command_peak_rss_mb": max(peaks.values()),
        "measured_commands": {name: " ".join(cmd) for name, cmd in commands.items()},
    }


# ----------------------------------------------------------------------------- cli_rfm
PYMC_RFM_CODE = """
import sys, time
import pandas as pd
from pymc_marketing.clv import rfm_summary
orders = pd.read_parquet(sys.argv[1])
started = time.perf_counter()
rfm = rfm_summary(orders, customer_id_col="customer_id", datetime_col="timestamp",
                  monetary_value_col="revenue", time_unit="W")
print("rfm_seconds", time.perf_counter() - started, len(rfm))
rfm.to_parquet(sys.argv[2], index=False)
"""


def child_cli_rfm(args: Any, out: Path, *, ours: bool) -> dict[str, Any]:
    """``clv rfm orders.parquet -o ...`` or the pymc-marketing process, on the same file."""
    orders = Path(args.input) if args.input else out / "orders.parquet"
    target = out / f"cli_rfm_{'ours' if ours else 'pymc'}.parquet"
    if ours:
        cmd = [*clv_command(), "rfm", str(orders), "--time-unit", "W", "-o", str(target)]
    else:
        cmd = [sys.executable, "-c", PYMC_RFM_CODE, str(orders), str(target)]
    result = run_timed(cmd)
    import pyarrow.parquet as pq

    return {
        "call_seconds": result["seconds"],
        "command_peak_rss_mb": result["peak_rss_mb"],
        "n_customers": pq.ParquetFile(target).metadata.num_rows,
        "measured_command": " ".join(cmd) if ours else "python -c <read_parquet, rfm_summary>",
        "output_tail": result["stdout"].strip().splitlines()[-3:],
    }


def child_check_cli_rfm(args: Any, out: Path) -> dict[str, Any]:
    """Both outputs hold the same customers (their weeks differ by definition: see rfm)."""
    import pyarrow.parquet as pq

    ids = [
        set(pq.read_table(out / f"cli_rfm_{side}.parquet", columns=["customer_id"])[0].to_pylist())
        for side in ("ours", "pymc")
    ]
    return {"agreement": {"customers": len(ids[0]), "agree": ids[0] == ids[1]}}


# ----------------------------------------------------------------------------- cli_fit
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


def child_cli_fit(args: Any, out: Path, *, ours: bool) -> dict[str, Any]:
    """One process per transaction model: ``clv fit`` or pymc-marketing's fits.

    Unless ``--no-warmup``, each command first runs once untimed, so that the timed run sees
    the compile caches a second run (or ``make install``'s warm-up) leaves.
    """
    orders = cdnow_csv(out)
    per_model: dict[str, dict[str, Any]] = {}
    for kind in [m.strip() for m in args.cli_fit_models.split(",") if m.strip()]:
        if ours:
            model_dir = out / f"cli_fit_{kind}"
            cmd = [*clv_command(), "fit", str(orders), "-o", str(model_dir), "--model", kind]
            cmd += ["--method", "map"]
            if not args.no_warmup:
                run_timed(cmd)
            result = run_timed(cmd)
            fitted = re.search(r"fitted in ([0-9.]+) s", result["stdout"])
            meta = json.loads((model_dir / "model.json").read_text())
            summary = meta["transaction_model"]["summary"]
            report = meta["transaction_model"].get("fit_report", {})
            spend_report = meta["spend_model"].get("fit_report", {})
            per_model[kind] = {
                "process_seconds": result["seconds"],
                "fit_step_seconds": float(fitted.group(1)) if fitted else float("nan"),
                "map_seconds": [report.get("seconds"), spend_report.get("seconds")],
                "peak_rss_mb": result["peak_rss_mb"],
                "params": {name: summary[name]["mean"] for name in FIT_PARAMS[kind]},
                "n_customers": report.get("n_customers"),
            }
        else:
            names = ",".join(FIT_PARAMS[kind])
            cmd = [sys.executable, "-c", PYMC_FIT_CODE, PYMC_MODEL_CLASSES[kind], str(orders)]
            if not args.no_warmup:
                run_timed([*cmd, names])
            result = run_timed([*cmd, names])
            line = json.loads(result["stdout"].strip().splitlines()[-1])
            per_model[kind] = {
                "process_seconds": result["seconds"],
                "fit_step_seconds": line["fit_seconds"],
                "peak_rss_mb": result["peak_rss_mb"],
                "params": line["params"],
                "n_customers": line["n_customers"],
            }
    return {
        "call_seconds": sum(m["process_seconds"] for m in per_model.values()),
        "models": per_model,
        "command_peak_rss_mb": max(m["peak_rss_mb"] for m in per_model.values()),
        "n_customers": next(iter(per_model.values()))["n_customers"],
    }


def check_cli_fit(ours: dict[str, Any], pymc: dict[str, Any]) -> dict[str, Any]:
    """Relative differences of the two sides' MAP estimates, per model."""
    result: dict[str, Any] = {}
    for kind, mine in ours["models"].items():
        theirs = pymc["models"][kind]["params"]
        rel = {n: abs(v - theirs[n]) / abs(theirs[n]) for n, v in mine["params"].items()}
        result[kind] = max(rel.values())
    result["max_rel_diff"] = max(result.values())
    result["agree"] = bool(result["max_rel_diff"] < FIT_RTOL)
    return result


# ----------------------------------------------------------------------------- summary
def summarise_cli(job: str, ours: dict[str, Any], pymc: dict[str, Any] | None, args: Any) -> dict:
    """Target verdict of a CLI job (``met`` None: not judged at this size or subset)."""
    row: dict[str, Any] = {"met": None}
    if job == "cli_startup":
        row["met"] = bool(ours["call_seconds"] <= STARTUP_MAX_SECONDS)
    elif job == "cli_rfm":
        if args.customers < CLI_RFM_FULL_SIZE:
            row["not_judged"] = f"fewer than the target's {CLI_RFM_FULL_SIZE:,} customers"
        elif pymc is not None:
            row["met"] = bool(
                pymc["call_seconds"] / ours["call_seconds"] >= CLI_RFM_MIN_RATIO
                and ours["command_peak_rss_mb"] <= CLI_RFM_MAX_PEAK_MB
            )
    elif job == "cli_fit":
        models = ours["models"]
        if set(models) != set(FIT_MODELS):
            row["not_judged"] = f"models {sorted(models)} rather than all of {list(FIT_MODELS)}"
        else:
            row["met"] = all(
                m["process_seconds"] <= FIT_MAX_PROCESS_SECONDS
                and m["fit_step_seconds"] <= FIT_MAX_STEP_SECONDS
                for m in models.values()
            )
    return row


def cli_notes(job: str, ours: dict[str, Any], pymc: dict[str, Any]) -> list[str]:
    """Lines for the report: what each side ran, and per-model figures of cli_fit."""
    if job == "cli_startup":
        notes = [
            "seconds: the slower median of `clv --help` and `clv --version` "
            f"({_medians(ours)}); pymc-marketing: a process that imports it and prints its "
            "version"
        ]
        if pymc:
            notes[0] += f" ({_medians(pymc)})"
        return notes
    if job == "cli_rfm":
        return [
            "both sides are whole processes on the same Parquet file: `clv rfm` (DuckDB, "
            "weeks of days / 7) against pandas read_parquet + pymc_marketing.clv.rfm_summary "
            "(calendar weeks); peak = the process's ru_maxrss"
        ]
    if job == "cli_fit":
        lines = []
        for kind, mine in ours.get("models", {}).items():
            theirs = (pymc or {}).get("models", {}).get(kind, {})
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
    return []


def _medians(result: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3f} s" for k, v in result["process_medians_seconds"].items())
