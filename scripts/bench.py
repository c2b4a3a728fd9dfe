"""Benchmark clvmodels against pymc-marketing 1.3.0, side by side, on simulated orders.

Run it with ``make bench`` (``.venv/bin/python scripts/bench.py``). In one run it:

1. simulates ~10M orders of ~1M customers (``clvmodels.examples.datasets.simulate_orders``), writes
them
   to ``OUT/orders.parquet`` and, with clvmodels, their weekly RFM summary to ``OUT/rfm.parquet``;
2. runs each job side (clvmodels = "ours", pymc-marketing = "pymc") in its own fresh
   subprocess (``scripts/bench.py --job NAME --side ours|pymc``) so that the peak memory is
   per job: the parent reads the child's rusage with ``os.wait4`` (``ru_maxrss`` is KiB on
   Linux). The child times the measured call with ``time.perf_counter`` and prints the
   result as one JSON line on stdout; the parent also times the whole process;
3. checks that the two sides agree, and writes a Markdown table and every raw number to
   ``OUT/bench.md`` and ``OUT/bench.json``.

Jobs:

* ``rfm``: ``clvmodels.summaries.rfm.rfm_summary(orders, time_unit="W")`` against
  ``pymc_marketing.clv.rfm_summary(orders, customer_id_col=..., datetime_col=...,
  monetary_value_col=..., time_unit="W")``.
* ``fit_map``: BG/NBD MAP with pymc-marketing's default priors:
  ``clvmodels.models.bgnbd.BetaGeoModel(method="map", priors="default").fit(rfm)`` against
  ``pymc_marketing.clv.BetaGeoModel().fit(data=rfm, method="map")``.
* ``score``: P(alive), expected purchases over 12 months and 12-month CLV (10% a year
  discount) for every customer, from the same fixed 100-draw posterior on both sides:
  ``clvmodels.predict.scoring.score_customers`` against pymc-marketing's
  ``expected_probability_alive``, ``expected_purchases`` and
  ``GammaGammaModel.expected_customer_lifetime_value`` with the posterior injected as
  ``model.idata``.
* ``score_200``: clvmodels alone, the same scoring of every customer with a 200-draw
  posterior (pymc-marketing's prediction memory grows with the draws and already reaches
  several GB at 100: not attempted).
* ``cdnow_clv``: 12-month CLV of the 2,357 CDNOW customers (calibration to 1997-09-30, weeks)
  from one fixed 4,000-draw posterior (4 chains x 1,000; a Laplace approximation of the
  flat-prior BG/NBD and Gamma-Gamma fits, no sampling): ``score_customers(..., n_draws=None)``
  against ``GammaGammaModel.expected_customer_spend`` followed by
  ``pymc_marketing.clv.customer_lifetime_value``.
* ``nuts``: BG/NBD by NUTS (default priors, 4 chains x 1,000 draws, 1,000 tuning steps) on
  100k simulated customers: ``clvmodels.models.bgnbd.BetaGeoModel(method="mcmc").fit(rfm)`` against
  ``pymc_marketing.clv.BetaGeoModel().fit(data, method="mcmc", nuts_sampler="nutpie",
  cores=2)``; the posteriors must agree (means within 0.1 sd, sds within 10%).
* ``cli_rfm``, ``cli_startup``, ``cli_fit``: the `clv` commands as whole processes against a
  Python process doing the same job with pymc-marketing (``scripts/bench_cli.py`` says how).
* ``rfm_spark``: the ``rfm_file`` RFM on Spark local[2] (``read_orders_spark`` +
  ``rfm_summary_spark``, as ``clv rfm --engine spark``) against clvmodels' DuckDB; the
  Spark side's peak memory is that of the Python process plus the JVM it starts.

Sizes are megabytes of 10**6 bytes; times are seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import bench_cli
from bench_cli import CLI_JOBS, CLI_TARGETS

JOBS = (
    "rfm",
    "rfm_file",
    "rfm_spark",
    "fit_map",
    "nuts",
    "score",
    "score_200",
    "cdnow_clv",
    "cohorts",
    *CLI_JOBS,
)
SIDES = ("ours", "pymc")
SIDE_NAMES = {"ours": "clvmodels", "pymc": "pymc-marketing"}
#: Jobs whose comparison side (the "pymc" slot) is not pymc-marketing, and what it is.
JOB_SIDE_NAMES = {
    "cohorts": {"pymc": "pandas notebook way"},
    "rfm_spark": {"ours": "clvmodels on DuckDB", "pymc": "clvmodels on Spark local[2]"},
}
#: The job's name in the results table, when its columns hold something else.
JOB_LABELS = {
    "cohorts": "cohorts (vs pandas)",
    "rfm_spark": "rfm_spark (DuckDB vs Spark local[2])",
}
#: Jobs that run clvmodels alone.
OURS_ONLY = {"score_200"}

SEED = 2024
#: BG/NBD parameters (weeks) of the simulation: ~10.4 orders (~10.1 purchase days) per
#: customer over the default 730 days, found empirically at 100k customers. The
#: simulator's defaults (close to CDNOW) give ~1.6 orders per customer.
BENCH_BGNBD = {"r": 1.0, "alpha": 3.0, "a": 0.8, "b": 5.0}
#: Gamma-Gamma parameters of the simulation (the simulator's defaults, close to CDNOW).
BENCH_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}

TIME_UNIT = "W"
HORIZON = "12M"
HORIZON_MONTHS = 12
ANNUAL_DISCOUNT_RATE = 0.1
#: Margin rate of the cohort LTV job (any value works; both sides use the same).
COHORT_MARGIN = 0.3
SCORE_DRAWS = 100
#: Relative sd of the multiplicative jitter of the fixed scoring posterior around the MAP.
POSTERIOR_JITTER = 0.02
#: Customers whose orders go into the exact day-level RFM agreement check.
RFM_CHECK_CUSTOMERS = 2_000
#: Customers of the pymc-marketing scoring fallback when the full size fails.
PYMC_SCORE_FALLBACK = 200_000
WARMUP_CUSTOMERS = 2_000

#: Scoring draws of the clvmodels-only ``score_200`` job (issue 6: ≥ 200 draws).
SCORE_200_DRAWS = 200
#: Issue 6's scoring target at 1M customers and 200 draws.
SCORE_200_MAX_SECONDS = 30.0
SCORE_200_MAX_PEAK_MB = 2000.0
SCORE_200_FULL_SIZE = 1_000_000

#: NUTS job: customers, chains, draws and tuning steps of issue 6's target.
NUTS_CUSTOMERS = 100_000
NUTS_CHAINS = 4
NUTS_DRAWS = 1000
NUTS_TUNE = 1000
NUTS_CORES = 2
#: The NUTS job's simulated population: the simulator's defaults (close to CDNOW, ~3 orders
#: per customer: 100k customers collapse to ~51k (x, t_x, T) tuples in weeks, the kind of
#: population whose tuple counts docs/definitions.md quotes); ``--nuts-population bench`` uses
#: BENCH_BGNBD instead (~10 orders per customer: the tuples barely collapse, as the fit_map
#: job shows).
NUTS_POPULATIONS = ("cdnow-like", "bench")
#: Posterior agreement of the two NUTS fits: |mean difference| ≤ 0.1 sd, sd within 10%.
NUTS_MEAN_TOL_SD = 0.1
NUTS_SD_RTOL = 0.1
NUTS_TARGET_RATIO = 20.0

#: CDNOW CLV job: FHL05's calibration period, 4 chains x 1,000 draws, issue 6's 1 s target.
CDNOW_CALIBRATION_END = "1997-09-30"
CDNOW_OBSERVATION_END = "1998-06-30"
CDNOW_CHAINS = 4
CDNOW_DRAWS = 1000
CDNOW_MAX_SECONDS = 1.0
CDNOW_RTOL = 1e-6

#: Spark job: the master and the agreement tolerance (ids and counts exact, values 1e-9).
SPARK_MASTER = "local[2]"
SPARK_RTOL = 1e-9

TARGETS = {
    "rfm": "≥ 8× faster, clvmodels peak ≤ 1000 MB",
    "rfm_file": "≥ 8× faster, clvmodels peak ≤ 1000 MB",
    "rfm_spark": "none set (Spark local[2] against DuckDB on one machine)",
    "fit_map": "≥ 2× faster",
    "nuts": "≥ 20× faster at 100k customers, 4×1000 draws, 1000 tune; same posterior "
    "(means within 0.1 sd, sds within 10%)",
    "score": "none set (anchor (docs/definitions.md): pymc-marketing 46 s, 5.4 GB)",
    "score_200": "1M customers × 200 draws in ≤ 30 s, peak ≤ 2000 MB",
    "cdnow_clv": "clvmodels ≤ 1 s for 2,357 customers × 4,000 draws",
    "cohorts": "≥ 5× faster than the pandas notebook way, clvmodels peak ≤ 1000 MB",
    **CLI_TARGETS,
}

BG_PARAMS = ("r", "alpha", "a", "b")
GG_PARAMS = ("p", "q", "v")


def log(message: str) -> None:
    """A progress message on stderr."""
    stamp = dt.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


# ======================================================================================
# children: one job side per process
# ======================================================================================
def child_main(args: argparse.Namespace) -> None:
    """Run one job side and print its result as a JSON line on stdout."""
    import warnings

    warnings.simplefilter("ignore")  # pymc/arviz chatter would drown the progress messages
    out = Path(args.out)
    runner = {
        ("prepare", "data"): child_prepare,
        ("posterior", "data"): child_posterior,
        ("check", "rfm"): child_check_rfm,
        ("check", "score"): child_check_score,
        ("check", "cohorts"): child_check_cohorts,
        ("cohorts", "ours"): child_cohorts_ours,
        ("cohorts", "pymc"): child_cohorts_pandas,
        ("rfm", "ours"): child_rfm_ours,
        ("rfm", "pymc"): child_rfm_pymc,
        ("rfm_file", "ours"): child_rfm_file_ours,
        ("rfm_file", "pymc"): child_rfm_pymc,
        ("fit_map", "ours"): child_fit_ours,
        ("fit_map", "pymc"): child_fit_pymc,
        ("score", "ours"): child_score_ours,
        ("score", "pymc"): child_score_pymc,
        ("score_200", "ours"): child_score_ours,
        ("warmup_score", "ours"): child_warmup_score,
        ("prepare_nuts", "data"): child_prepare_nuts,
        ("nuts", "ours"): child_nuts_ours,
        ("nuts", "pymc"): child_nuts_pymc,
        ("prepare_cdnow", "data"): child_prepare_cdnow,
        ("cdnow_clv", "ours"): child_cdnow_ours,
        ("cdnow_clv", "pymc"): child_cdnow_pymc,
        ("check", "cdnow_clv"): child_check_cdnow_clv,
        ("rfm_spark", "ours"): child_rfm_spark_duckdb,
        ("rfm_spark", "pymc"): child_rfm_spark_spark,
        ("check", "rfm_spark"): child_check_rfm_spark,
        ("cli_startup", "ours"): lambda a, o: bench_cli.child_startup(a, o, ours=True),
        ("cli_startup", "pymc"): lambda a, o: bench_cli.child_startup(a, o, ours=False),
        ("cli_rfm", "ours"): lambda a, o: bench_cli.child_cli_rfm(a, o, ours=True),
        ("cli_rfm", "pymc"): lambda a, o: bench_cli.child_cli_rfm(a, o, ours=False),
        ("check", "cli_rfm"): bench_cli.child_check_cli_rfm,
        ("cli_fit", "ours"): lambda a, o: bench_cli.child_cli_fit(a, o, ours=True),
        ("cli_fit", "pymc"): lambda a, o: bench_cli.child_cli_fit(a, o, ours=False),
    }[(args.job, args.side)]
    result = runner(args, out)
    result.update(job=args.job, side=args.side, vm_hwm_mb=vm_hwm_mb())
    print(json.dumps(result), flush=True)


def vm_hwm_mb() -> float | None:
    """This process's own peak resident memory (VmHWM of /proc/self/status), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    return None


def _input(args: argparse.Namespace, out: Path, default: str) -> Path:
    return Path(args.input) if args.input else out / default


def read_orders_frame(path: Path) -> Any:
    """Read the orders Parquet file into pandas with the least memory, for both sides.

    ``to_pandas(self_destruct=True)`` frees each Arrow column once converted and
    ``release_unused`` hands Arrow's freed pool back to the OS, so the job's peak memory is
    about the job rather than about reading its input (a plain ``pd.read_parquet`` leaves
    ~400 MB more resident at 10M orders).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    orders = pq.read_table(path).to_pandas(self_destruct=True, split_blocks=True)
    pa.default_memory_pool().release_unused()
    return orders


def child_rfm_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:

    from clvmodels.summaries.rfm import rfm_summary

    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    rfm = rfm_summary(orders, time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    rfm.to_parquet(out / "rfm_ours.parquet")
    return {"call_seconds": seconds, "n_orders": len(orders), "n_customers": len(rfm)}


def child_cohorts_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels.summaries.cohorts.cohort_table on the orders DataFrame (DuckDB SQL)."""
    from clvmodels.summaries.cohorts import cohort_ltv_wide, cohort_table

    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    table = cohort_table(orders, period="month", margin=COHORT_MARGIN)
    wide = cohort_ltv_wide(table)
    seconds = time.perf_counter() - started
    table.to_parquet(out / "cohorts_ours.parquet")
    return {"call_seconds": seconds, "n_cohorts": int(wide.shape[0]), "n_rows": len(table)}


def child_cohorts_pandas(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The analyst's notebook way: group by cohort and order month, nunique, pivot, cumsum."""
    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    month = orders["timestamp"].dt.to_period("M")
    first = month.groupby(orders["customer_id"]).min().rename("cohort")
    frame = orders.assign(order_month=month).join(first, on="customer_id")
    sizes = first.value_counts()
    report = (
        frame.groupby(["cohort", "order_month"])
        .agg(revenue=("revenue", "sum"), buyers=("customer_id", "nunique"))
        .reset_index()
    )
    report["age"] = (report["order_month"] - report["cohort"]).apply(lambda d: d.n)
    report["cohort_size"] = report["cohort"].map(sizes)
    report["ltv"] = report["revenue"] * COHORT_MARGIN / report["cohort_size"]
    pivot = report.pivot_table(index="cohort", columns="age", values="ltv", aggfunc="sum")
    cumulative = pivot.fillna(0).cumsum(axis=1).where(pivot.notna().cumsum(axis=1) > 0)
    seconds = time.perf_counter() - started
    cumulative.columns = [str(c) for c in cumulative.columns]
    cumulative.index = cumulative.index.to_timestamp()
    cumulative.to_parquet(out / "cohorts_pandas.parquet")
    return {"call_seconds": seconds, "n_cohorts": int(cumulative.shape[0])}


def child_check_cohorts(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Cumulative LTV by cohort and age: clvmodels' table against the pandas pivot."""
    import numpy as np
    import pandas as pd

    from clvmodels.summaries.cohorts import cohort_ltv_wide

    ours = cohort_ltv_wide(pd.read_parquet(out / "cohorts_ours.parquet"))
    theirs = pd.read_parquet(out / "cohorts_pandas.parquet")
    ours.columns = [str(c) for c in ours.columns]
    common = [c for c in theirs.columns if c in ours.columns]
    a = ours.loc[theirs.index, common].to_numpy(dtype=float)
    b = theirs[common].to_numpy(dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    rel = np.abs(a[both] - b[both]) / np.maximum(np.abs(b[both]), 1e-12)
    result = {"cells_compared": int(both.sum()), "max_rel_diff": float(rel.max())}
    result["agree"] = bool(result["max_rel_diff"] < 1e-9)
    return {"agreement": result}


def child_rfm_file_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """From the Parquet file to the RFM table: DuckDB reads the file itself (timed).

    The pymc-marketing side of this job is the same as ``rfm``: the file read into pandas
    (not timed), then ``rfm_summary``.
    """
    from clvmodels.summaries.rfm import rfm_summary

    started = time.perf_counter()
    rfm = rfm_summary(_input(args, out, "orders.parquet"), time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    return {"call_seconds": seconds, "n_customers": len(rfm), "reads_file_in_call": True}


def child_rfm_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    from pymc_marketing.clv import rfm_summary

    orders = read_orders_frame(_input(args, out, "orders.parquet"))
    started = time.perf_counter()
    rfm = rfm_summary(
        orders,
        customer_id_col="customer_id",
        datetime_col="timestamp",
        monetary_value_col="revenue",
        time_unit=TIME_UNIT,
    )
    seconds = time.perf_counter() - started
    rfm.to_parquet(out / "rfm_pymc.parquet")
    return {"call_seconds": seconds, "n_orders": len(orders), "n_customers": len(rfm)}


def child_fit_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import pandas as pd

    from clvmodels.models.bgnbd import BetaGeoModel

    # clvmodels imports PyMC lazily, inside fit; import it before the timer as the
    # pymc-marketing side does, so that both calls time the fit alone (the whole-process
    # time still counts the imports of both)
    import_started = time.perf_counter()
    import pymc  # noqa: F401
    import pymc_marketing.clv  # noqa: F401

    import_seconds = time.perf_counter() - import_started
    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    started = time.perf_counter()
    model = BetaGeoModel(method="map", priors="default").fit(rfm)
    seconds = time.perf_counter() - started
    return {
        "call_seconds": seconds,
        "n_customers": len(rfm),
        "params": dict(model.params_),
        "n_tuples": int(model.n_tuples_),
        "find_map_seconds": model.fit_report_.get("seconds"),
        "pre_import_seconds": import_seconds,
        "converged": bool(model.fit_report_.get("converged", True)),
    }


def child_fit_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel

    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    data = rfm[["customer_id", "frequency", "recency", "T"]]
    started = time.perf_counter()
    model = BetaGeoModel()
    model.fit(data=data, method="map", progressbar=False)
    seconds = time.perf_counter() - started
    posterior = model.fit_result
    return {
        "call_seconds": seconds,
        "n_customers": len(rfm),
        "params": {name: float(posterior[name].values.item()) for name in BG_PARAMS},
    }


def score_posterior_path(out: Path, draws: int) -> Path:
    """Where the fixed scoring posterior of ``draws`` draws is written."""
    name = "score_posterior.nc" if draws == SCORE_DRAWS else f"score_posterior_{draws}.nc"
    return out / name


def _score_posterior(out: Path, draws: int = SCORE_DRAWS) -> Any:
    import xarray as xr

    with xr.open_dataset(score_posterior_path(out, draws), engine="h5netcdf") as ds:
        return ds.load()


def child_score_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' scoring of every customer (``score``: 100 draws; ``score_200``: 200)."""
    import pandas as pd

    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.predict.scoring import score_customers

    draws = SCORE_200_DRAWS if args.job == "score_200" else SCORE_DRAWS
    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    posterior = _score_posterior(out, draws)
    started = time.perf_counter()
    bg = BetaGeoModel.from_posterior(posterior)
    gg = GammaGammaModel.from_posterior(posterior)
    scores = score_customers(
        rfm,
        bg,  # type: ignore[arg-type]
        gg,  # type: ignore[arg-type]
        time_unit=TIME_UNIT,
        horizon=HORIZON,
        annual_discount_rate=ANNUAL_DISCOUNT_RATE,
        n_draws=draws,
    )
    seconds = time.perf_counter() - started
    scores[["customer_id", "p_alive", "expected_purchases", "clv"]].to_parquet(
        out / f"{args.job}_ours.parquet"
    )
    return {
        "call_seconds": seconds,
        "n_customers": len(scores),
        "n_draws": int(scores.attrs.get("n_draws", draws)),
    }


def child_score_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    import pandas as pd
    import xarray as xr
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    rfm = pd.read_parquet(_input(args, out, "rfm.parquet"))
    if args.score_customers and args.score_customers < len(rfm):
        rfm = rfm.sample(n=args.score_customers, random_state=0).sort_values("customer_id")
    data = rfm[["customer_id", "frequency", "recency", "T", "monetary_value"]].reset_index(
        drop=True
    )
    posterior = _score_posterior(out)
    horizon_weeks = HORIZON_MONTHS * (365.25 / 12) / 7
    # pymc-marketing's discount_rate is monthly: (1 + d) ** month; this equals 10% a year
    monthly_rate = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1

    started = time.perf_counter()
    # a fitted model as pymc-marketing's own tests make one: build on the data, then set
    # idata to a DataTree whose posterior group holds the draws
    bg = BetaGeoModel()
    bg.build_model(data[["customer_id", "frequency", "recency", "T"]])
    bg.idata = xr.DataTree.from_dict({"posterior": posterior[list(BG_PARAMS)]})
    gg = GammaGammaModel()
    gg.idata = xr.DataTree.from_dict({"posterior": posterior[list(GG_PARAMS)]})
    setup_seconds = time.perf_counter() - started

    t0 = time.perf_counter()
    p_alive = bg.expected_probability_alive(data).mean(("chain", "draw"))
    t1 = time.perf_counter()
    purchases = bg.expected_purchases(data, future_t=horizon_weeks).mean(("chain", "draw"))
    t2 = time.perf_counter()
    clv = gg.expected_customer_lifetime_value(
        transaction_model=bg,
        data=data,
        future_t=HORIZON_MONTHS,
        discount_rate=monthly_rate,
        time_unit=TIME_UNIT,
    ).mean(("chain", "draw"))
    t3 = time.perf_counter()

    frames = [
        arr.to_series().rename(name)
        for name, arr in (("p_alive", p_alive), ("expected_purchases", purchases), ("clv", clv))
    ]
    table = pd.concat(frames, axis=1)
    table.index.name = "customer_id"
    table.reset_index().to_parquet(out / "score_pymc.parquet")
    return {
        "call_seconds": t3 - t0,
        "n_customers": len(data),
        "n_draws": int(posterior.sizes["chain"] * posterior.sizes["draw"]),
        "setup_seconds": setup_seconds,
        "breakdown_seconds": {
            "expected_probability_alive": t1 - t0,
            "expected_purchases": t2 - t1,
            "expected_customer_lifetime_value": t3 - t2,
        },
        "call_note": "prediction calls only; building the model and injecting the posterior "
        "(setup_seconds) is not counted",
    }


# ======================================================================================
# children of the nuts, cdnow_clv and rfm_spark jobs
# ======================================================================================
def _posterior_moments(posterior: Any, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Mean and sd (ddof=1) of each parameter over all chains and draws."""
    import numpy as np

    moments = {}
    for name in names:
        values = np.asarray(posterior[name].values, dtype="float64").reshape(-1)
        moments[name] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}
    return moments


def child_prepare_nuts(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Simulate the NUTS job's customers (seeded) and write their weekly RFM table."""
    from clvmodels.examples.datasets import simulate_orders
    from clvmodels.models.inputs import collapse_rfm
    from clvmodels.summaries.rfm import rfm_summary

    params: dict[str, Any] = {}
    if args.nuts_population == "bench":
        params = {"bgnbd": BENCH_BGNBD, "gamma_gamma": BENCH_GAMMA_GAMMA}
    orders, truth = simulate_orders(n_customers=args.nuts_customers, seed=SEED, **params)
    rfm = rfm_summary(orders, time_unit=TIME_UNIT)
    rfm.to_parquet(out / "nuts_rfm.parquet", index=False)
    return {
        "nuts_data": {
            "customers": len(rfm),
            "population": args.nuts_population,
            "true_bgnbd": dict(truth.bgnbd),
            "seed": SEED,
            "n_orders": len(orders),
            "repeat_customers": int((rfm["frequency"] > 0).sum()),
            "n_tuples": len(collapse_rfm(rfm).tuples),
        }
    }


def _nuts_settings(args: argparse.Namespace) -> dict[str, int]:
    return {"chains": args.nuts_chains, "draws": args.nuts_draws, "tune": args.nuts_tune}


def child_nuts_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' BG/NBD by NUTS on count-weighted (x, t_x, T) tuples, default priors."""
    import pandas as pd

    from clvmodels.models.bgnbd import BetaGeoModel

    # imported before the timer, as on the pymc-marketing side (see child_fit_ours)
    import_started = time.perf_counter()
    import pymc  # noqa: F401
    import pymc_marketing.clv  # noqa: F401

    import_seconds = time.perf_counter() - import_started
    rfm = pd.read_parquet(out / "nuts_rfm.parquet")
    started = time.perf_counter()
    model = BetaGeoModel(
        method="mcmc",
        priors="default",
        chains=args.nuts_chains,
        draws=args.nuts_draws,
        tune=args.nuts_tune,
        seed=SEED,
    )
    model.fit(rfm)
    seconds = time.perf_counter() - started
    report = model.fit_report_
    return {
        "call_seconds": seconds,
        "n_customers": len(rfm),
        "n_tuples": int(model.n_tuples_),
        "pre_import_seconds": import_seconds,
        "sampling_seconds": report.get("seconds"),
        "sampler": report.get("sampler"),
        "settings": _nuts_settings(args),
        "posterior": _posterior_moments(model.posterior_, BG_PARAMS),
        "convergence": _convergence(report),
    }


def _convergence(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("max_r_hat", "min_ess_bulk", "divergences", "converged", "r_hat", "ess_bulk")
    return {key: report[key] for key in keys if key in report}


def child_nuts_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """pymc-marketing's BG/NBD by NUTS, one row per customer, default priors, nutpie."""
    import numpy as np
    import pandas as pd
    import xarray as xr
    from pymc_marketing.clv import BetaGeoModel

    from clvmodels.models._pymc.summary import sampler_diagnostics

    rfm = pd.read_parquet(out / "nuts_rfm.parquet")
    data = rfm[["customer_id", "frequency", "recency", "T"]]
    settings = _nuts_settings(args)
    started = time.perf_counter()
    model = BetaGeoModel()
    idata = model.fit(
        data=data,
        method="mcmc",
        cores=min(NUTS_CORES, settings["chains"]),
        nuts_sampler="nutpie",
        random_seed=SEED,
        progressbar=False,
        chains=settings["chains"],
        draws=settings["draws"],
        tune=settings["tune"],
    )
    seconds = time.perf_counter() - started
    draws = idata["posterior"]
    posterior = xr.Dataset({name: draws[name].astype("float64") for name in BG_PARAMS})
    posterior = posterior.assign_coords(
        chain=np.arange(posterior.sizes["chain"]), draw=np.arange(posterior.sizes["draw"])
    ).drop_attrs()
    try:
        divergences = int(np.asarray(idata["sample_stats"]["diverging"]).sum())
    except KeyError:
        divergences = 0
    return {
        "call_seconds": seconds,
        "n_customers": len(rfm),
        "settings": settings,
        "posterior": _posterior_moments(posterior, BG_PARAMS),
        "convergence": _convergence(sampler_diagnostics(posterior, divergences)),
    }


def check_nuts(ours: dict[str, Any], pymc: dict[str, Any]) -> dict[str, Any]:
    """Do the two NUTS posteriors agree: means within 0.1 sd, sds within 10%?

    The sd is pymc-marketing's (the reference). Monte Carlo error alone is ~0.03 sd on a
    mean and ~2% on an sd at 4×1000 draws; at few draws the check is loose by nature.
    """
    mean_in_sd, sd_rel = {}, {}
    for name in BG_PARAMS:
        a, b = ours["posterior"][name], pymc["posterior"][name]
        mean_in_sd[name] = abs(a["mean"] - b["mean"]) / b["sd"]
        sd_rel[name] = abs(a["sd"] / b["sd"] - 1)
    worst_mean, worst_sd = max(mean_in_sd.values()), max(sd_rel.values())
    return {
        "mean_diff_in_sd": mean_in_sd,
        "sd_rel_diff": sd_rel,
        "max_mean_diff_in_sd": worst_mean,
        "max_sd_rel_diff": worst_sd,
        "agree": bool(worst_mean <= NUTS_MEAN_TOL_SD and worst_sd <= NUTS_SD_RTOL),
    }


def child_prepare_cdnow(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """CDNOW's weekly RFM table and one fixed posterior (Laplace, flat priors) for both sides.

    The posterior is clvmodels' Laplace approximation at the flat-prior MAP (the published
    maximum-likelihood fit) of BG/NBD and of Gamma-Gamma: chains × draws Gaussian draws, no
    sampler. Both sides score with exactly these draws.
    """
    import xarray as xr

    from clvmodels.examples.datasets import load_cdnow
    from clvmodels.model import CLVModel
    from clvmodels.summaries.rfm import rfm_summary

    orders = load_cdnow("sample")[["customer_id", "timestamp", "revenue"]]
    rfm = rfm_summary(
        orders,
        time_unit=TIME_UNIT,
        calibration_end=CDNOW_CALIBRATION_END,
        observation_end=CDNOW_OBSERVATION_END,
    )
    rfm.to_parquet(out / "cdnow_rfm.parquet", index=False)
    started = time.perf_counter()
    model = CLVModel(
        time_unit=TIME_UNIT,
        method="laplace",
        priors="flat",
        chains=CDNOW_CHAINS,
        draws=args.cdnow_draws,
        seed=SEED,
    ).fit(rfm)
    seconds = time.perf_counter() - started
    bg, gg = model.transaction_model_, model.spend_model_
    posterior = xr.merge([bg.posterior_, gg.posterior_])
    posterior.to_netcdf(out / "cdnow_posterior.nc", engine="h5netcdf")
    return {
        "cdnow": {
            "customers": len(rfm),
            "repeat_customers": int((rfm["frequency"] > 0).sum()),
            "calibration": f"{rfm.attrs['first_order']} to {rfm.attrs['calibration_end']}",
            "posterior": {
                "source": "clvmodels' Laplace approximation at the flat-prior MAP "
                "(CLVModel(method='laplace', priors='flat')), BG/NBD and Gamma-Gamma",
                "chains": CDNOW_CHAINS,
                "draws": args.cdnow_draws,
                "total_draws": CDNOW_CHAINS * args.cdnow_draws,
                "seconds": seconds,
                "converged": bool(model.converged_),
                "moments": {
                    **_posterior_moments(bg.posterior_, BG_PARAMS),
                    **_posterior_moments(gg.posterior_, GG_PARAMS),
                },
            },
        }
    }


def _cdnow_inputs(out: Path) -> tuple[Any, Any]:
    import pandas as pd
    import xarray as xr

    rfm = pd.read_parquet(out / "cdnow_rfm.parquet")
    with xr.open_dataset(out / "cdnow_posterior.nc", engine="h5netcdf") as ds:
        posterior = ds.load()
    return rfm, posterior


def child_cdnow_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' 12-month CLV of the CDNOW customers with every posterior draw."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.predict.scoring import score_customers

    rfm, posterior = _cdnow_inputs(out)
    settings = {
        "time_unit": TIME_UNIT,
        "horizon": f"{HORIZON_MONTHS}M",
        "annual_discount_rate": ANNUAL_DISCOUNT_RATE,
        "n_draws": None,
    }
    started = time.perf_counter()
    bg = BetaGeoModel.from_posterior(posterior)
    gg = GammaGammaModel.from_posterior(posterior)
    scores = score_customers(rfm, bg, gg, **settings)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    score_customers(rfm, bg, gg, **settings)  # type: ignore[arg-type]
    repeat_seconds = time.perf_counter() - started

    # Untimed, for the agreement check: the same scoring with a spend of exactly 1 (a
    # Gamma-Gamma point p=1, q=2, v=1 and a mean spend of 1 give p(v + x)/(p x + q - 1) = 1
    # for every x), so its "clv" is each customer's posterior-mean discounted purchases.
    unit = xr.Dataset(
        {
            name: (("chain", "draw"), [[value]])
            for name, value in (("p", 1.0), ("q", 2.0), ("v", 1.0))
        }
    )
    unit_rfm = rfm.assign(monetary_value=np.where(rfm["frequency"] > 0, 1.0, 0.0))
    unit_scores = score_customers(
        unit_rfm,
        bg,  # type: ignore[arg-type]
        GammaGammaModel.from_posterior(unit),  # type: ignore[arg-type]
        **settings,  # type: ignore[arg-type]
    )
    pd.DataFrame(
        {
            "customer_id": scores["customer_id"],
            "clv": scores["clv"],
            "expected_spend": scores["expected_spend"],
            "discounted_purchases": unit_scores["clv"],
            "unit_spend": unit_scores["expected_spend"],
        }
    ).to_parquet(out / "cdnow_clv_ours.parquet", index=False)
    return {
        "call_seconds": seconds,
        "repeat_call_seconds": repeat_seconds,
        "n_customers": len(scores),
        "n_draws": int(scores.attrs["n_draws"]),
        "total_clv": float(scores["clv"].sum()),
    }


def child_cdnow_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """pymc-marketing's CLV path: posterior-mean Gamma-Gamma spend, customer_lifetime_value."""
    import pandas as pd
    import xarray as xr
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value

    rfm, posterior = _cdnow_inputs(out)
    data = rfm[["customer_id", "frequency", "recency", "T", "monetary_value"]]
    # pymc-marketing's discount_rate is monthly: (1 + d) ** month; this equals 10% a year
    monthly_rate = (1 + ANNUAL_DISCOUNT_RATE) ** (1 / 12) - 1

    started = time.perf_counter()
    bg = BetaGeoModel()
    bg.build_model(data[["customer_id", "frequency", "recency", "T"]])
    bg.idata = xr.DataTree.from_dict({"posterior": posterior[list(BG_PARAMS)]})
    gg = GammaGammaModel()
    gg.idata = xr.DataTree.from_dict({"posterior": posterior[list(GG_PARAMS)]})
    setup_seconds = time.perf_counter() - started

    # what GammaGammaModel.expected_customer_lifetime_value does, in two timed steps
    t0 = time.perf_counter()
    spend = gg.expected_customer_spend(data=data).mean(("chain", "draw"))
    t1 = time.perf_counter()
    clv = customer_lifetime_value(
        transaction_model=bg,
        data=data.assign(future_spend=spend.to_numpy()),
        future_t=HORIZON_MONTHS,
        discount_rate=monthly_rate,
        time_unit=TIME_UNIT,
    ).mean(("chain", "draw"))
    t2 = time.perf_counter()
    table = pd.concat(
        [spend.to_series().rename("expected_spend"), clv.to_series().rename("clv")], axis=1
    )
    table.index.name = "customer_id"
    table.reset_index().to_parquet(out / "cdnow_clv_pymc.parquet", index=False)
    return {
        "call_seconds": t2 - t0,
        "n_customers": len(data),
        "n_draws": int(posterior.sizes["chain"] * posterior.sizes["draw"]),
        "setup_seconds": setup_seconds,
        "breakdown_seconds": {
            "expected_customer_spend": t1 - t0,
            "customer_lifetime_value": t2 - t1,
        },
        "total_clv": float(table["clv"].sum()),
    }


def child_check_cdnow_clv(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """CLV per customer: pymc-marketing's against clvmodels' on pymc-marketing's definition.

    pymc-marketing multiplies each customer's posterior-MEAN spend by each draw's discounted
    purchases; clvmodels' CLV is the posterior mean of spend × discounted purchases per draw.
    The check aligns the definitions with clvmodels' own outputs: its ``expected_spend``
    (posterior mean) times its unit-spend CLV (posterior-mean discounted purchases), both from
    ``score_customers``; the two sides must agree to 1e-6.
    """
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(out / "cdnow_clv_ours.parquet").set_index("customer_id")
    pymc = pd.read_parquet(out / "cdnow_clv_pymc.parquet").set_index("customer_id")
    joined = ours.join(pymc, how="inner", rsuffix="_pymc")

    def max_rel(a: Any, b: Any) -> float:
        a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
        return float((np.abs(a - b) / np.maximum(np.abs(b), 1e-12)).max())

    aligned = joined["expected_spend"] * joined["discounted_purchases"]
    result: dict[str, Any] = {
        "customers_compared": len(joined),
        "same_customers": bool(len(joined) == len(ours) == len(pymc)),
        "unit_spend_is_one": bool((joined["unit_spend"] == 1.0).all()),
        "expected_spend_max_rel_diff": max_rel(
            joined["expected_spend"], joined["expected_spend_pymc"]
        ),
        "clv_aligned_max_rel_diff": max_rel(aligned, joined["clv_pymc"]),
        "clv_native_max_rel_diff": max_rel(joined["clv"], joined["clv_pymc"]),
        "clv_native_median_rel_diff": float(
            np.median(np.abs(joined["clv"] - joined["clv_pymc"]) / joined["clv_pymc"].abs())
        ),
        "note": "clv_aligned = clvmodels' posterior-mean spend × its posterior-mean discounted "
        "purchases (pymc-marketing's definition); clv_native = clvmodels' posterior mean of "
        "spend × discounted purchases per draw, which differs by the posterior covariance of "
        "the two. Discounting: pymc-marketing's monthly rate (1.1^(1/12) - 1) per month "
        "equals clvmodels' 10% a year; both use months of 365.25/12 days in weeks",
    }
    result["max_rel_diff"] = result["clv_aligned_max_rel_diff"]
    result["agree"] = bool(
        result["same_customers"]
        and result["unit_spend_is_one"]
        and result["expected_spend_max_rel_diff"] < CDNOW_RTOL
        and result["clv_aligned_max_rel_diff"] < CDNOW_RTOL
    )
    return {"agreement": result}


def _proc_status_kib(pid: int, field: str) -> int | None:
    """A ``kB`` field (VmRSS, VmHWM) of /proc/PID/status, or None when unreadable."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _process_tree(root: int) -> dict[int, str]:
    """``root`` and all its descendants, pid to command name, from /proc."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        close = stat.rfind(")")
        pid, ppid = int(entry.name), int(stat[close + 2 :].split()[1])
        names[pid] = stat[stat.find("(") + 1 : close]
        children.setdefault(ppid, []).append(pid)
    tree: dict[int, str] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        tree[pid] = names.get(pid, "?")
        todo.extend(children.get(pid, []))
    return tree


class TreeMemory:
    """Peak resident memory of this process and its descendants (Spark's JVM), from /proc.

    A thread sums VmRSS over the process tree every ``interval`` seconds (the sampled peak
    is a lower bound of the tree's true peak) and keeps each process's VmHWM, its exact own
    peak (their sum is an upper bound: the processes need not peak at the same moment).
    ``os.wait4``'s ru_maxrss would see the Python process alone: the JVM outlives it.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_sum_kib = 0
        self.hwm_kib: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        """Add one sample of the process tree."""
        total = 0
        for pid, name in _process_tree(os.getpid()).items():
            total += _proc_status_kib(pid, "VmRSS") or 0
            hwm = _proc_status_kib(pid, "VmHWM")
            if hwm is not None:
                self.hwm_kib[pid] = (name, max(hwm, self.hwm_kib.get(pid, (name, 0))[1]))
        self.peak_sum_kib = max(self.peak_sum_kib, total)

    def report(self) -> dict[str, Any]:
        """Sampled tree peak, the sum of per-process peaks, and each process's peak (MB)."""
        return {
            "tree_peak_sampled_mb": self.peak_sum_kib * 1024 / 1e6,
            "tree_hwm_sum_mb": sum(kib for _, kib in self.hwm_kib.values()) * 1024 / 1e6,
            "processes_hwm_mb": {
                f"{name} ({pid})": kib * 1024 / 1e6 for pid, (name, kib) in self.hwm_kib.items()
            },
        }


def child_rfm_spark_duckdb(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' DuckDB RFM straight from the Parquet file (as the rfm_file job)."""
    from clvmodels.summaries.rfm import rfm_summary

    started = time.perf_counter()
    rfm = rfm_summary(_input(args, out, "orders.parquet"), time_unit=TIME_UNIT)
    seconds = time.perf_counter() - started
    rfm.to_parquet(out / "rfm_spark_duckdb.parquet", index=False)
    return {"call_seconds": seconds, "n_customers": len(rfm), "reads_file_in_call": True}


def _spark_rfm(spark: Any, path: str) -> tuple[Any, int]:
    """What ``clv rfm ORDERS --engine spark`` computes: validated read, extent, RFM, sorted."""
    from clvmodels.spark.engine import orders_extent_spark, read_orders_spark, rfm_summary_spark

    table = read_orders_spark(spark, path)
    extent = orders_extent_spark(table)
    rfm: Any = rfm_summary_spark(table, time_unit=TIME_UNIT, extent=extent).toPandas()
    return rfm.sort_values("customer_id", ignore_index=True), extent.n_orders


def child_rfm_spark_spark(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """The same RFM on Spark local[2]: session start, a first (cold) and a second run."""
    from clvmodels.spark.engine import spark_session

    path = str(_input(args, out, "orders.parquet"))
    with TreeMemory() as memory:
        started = time.perf_counter()
        spark = spark_session(SPARK_MASTER, app_name="clvmodels-bench")
        session_seconds = time.perf_counter() - started
        started = time.perf_counter()
        rfm, n_orders = _spark_rfm(spark, path)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        _spark_rfm(spark, path)
        warm_seconds = time.perf_counter() - started
    spark.stop()
    rfm.to_parquet(out / "rfm_spark_spark.parquet", index=False)
    return {
        "call_seconds": seconds,
        "warm_call_seconds": warm_seconds,
        "session_start_seconds": session_seconds,
        "n_customers": len(rfm),
        "n_orders": n_orders,
        "master": SPARK_MASTER,
        "memory": memory.report(),
    }


def child_check_rfm_spark(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Spark's RFM against DuckDB's: ids and frequencies exactly, values to 1e-9."""
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(out / "rfm_spark_duckdb.parquet")
    b = pd.read_parquet(out / "rfm_spark_spark.parquet")
    same = bool(
        len(a) == len(b)
        and list(a.columns) == list(b.columns)
        and (a["customer_id"].to_numpy() == b["customer_id"].to_numpy()).all()
    )
    result: dict[str, Any] = {
        "customers": len(a),
        "same_customers_and_columns": same,
        "frequency_equal": bool(
            same and (a["frequency"].to_numpy() == b["frequency"].to_numpy()).all()
        ),
    }
    worst = float("inf")
    if same:
        for column in ("recency", "T", "monetary_value"):
            x, y = a[column].to_numpy("float64"), b[column].to_numpy("float64")
            # relative above 1, absolute below (recency and T are often 0)
            diff = float((np.abs(x - y) / np.maximum(np.abs(y), 1.0)).max()) if len(x) else 0.0
            result[f"{column}_max_diff"] = diff
        worst = max(result[f"{c}_max_diff"] for c in ("recency", "T", "monetary_value"))
    result["max_rel_diff"] = worst
    result["agree"] = bool(same and result["frequency_equal"] and worst <= SPARK_RTOL)
    return {"agreement": result}


# ======================================================================================
# parent: data, subprocesses, agreement checks, report
# ======================================================================================
def run_child(
    args: argparse.Namespace, job: str, side: str, *, tag: str = "", extra: list[str] | None = None
) -> dict[str, Any]:
    """Run one job side in a fresh process; return its JSON result plus rusage numbers."""
    out = Path(args.out)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    name = f"{job}-{side}{tag}"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--job",
        job,
        "--side",
        side,
        "--out",
        str(out),
        *(extra or []),
    ]
    stdout_path, stderr_path = logs / f"{name}.out", logs / f"{name}.err"
    load_before = [round(v, 2) for v in os.getloadavg()]
    started = time.perf_counter()
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr)
        deadline = started + args.timeout
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline and not timed_out:
                proc.kill()
                timed_out = True
            time.sleep(0.05)
    process_seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # we reaped it, tell Popen
    rusage = {
        "exit_code": proc.returncode,
        "timed_out": timed_out,
        "process_seconds": process_seconds,
        "peak_rss_mb": usage.ru_maxrss * 1024 / 1e6,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "command": " ".join(cmd[1:]),
        "load_average_before": load_before,
    }
    result: dict[str, Any] | None = None
    for line in reversed(stdout_path.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                continue
            if parsed.get("job") == job:
                result = parsed
                break
    if proc.returncode != 0 or result is None:
        tail = stderr_path.read_text(errors="replace").splitlines()[-15:]
        why = "timed out" if timed_out else f"exit code {proc.returncode}"
        log(f"  {name} FAILED ({why}); last stderr lines:\n    " + "\n    ".join(tail))
        return {"ok": False, **rusage, "stderr_tail": tail}
    return {"ok": True, **result, **rusage}


def machine_info() -> dict[str, Any]:
    """CPU, memory, Python and library versions of this machine."""
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    total_ram_gib = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total_ram_gib = int(line.split()[1]) * 1024 / 2**30
                break
    except OSError:
        pass
    versions = {}
    for package in (
        "clvmodels",
        "pymc-marketing",
        "pymc",
        "pytensor",
        "numpy",
        "scipy",
        "pandas",
        "duckdb",
        "pyarrow",
        "xarray",
        "arviz",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "total_ram_gib": round(total_ram_gib, 1),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        "versions": versions,
        "git_commit": commit or "unknown",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }


def child_prepare(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Simulate the orders, write them and their clvmodels RFM summary (weeks) to OUT.

    Also writes the first customers' RFM rows for the untimed warm-up fits.
    """
    import pandas as pd

    meta_path = out / "data.json"
    wanted = {
        "customers": args.customers,
        "seed": SEED,
        "bgnbd": BENCH_BGNBD,
        "gamma_gamma": BENCH_GAMMA_GAMMA,
    }
    if args.reuse_data and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in wanted.items()) and (out / "rfm.parquet").exists():
            log(f"reusing {out / 'orders.parquet'} ({meta['n_orders']:,} orders)")
            return {"meta": meta}
    from clvmodels.examples.datasets import simulate_orders
    from clvmodels.summaries.rfm import rfm_summary

    log(f"simulating orders of {args.customers:,} customers (BG/NBD {BENCH_BGNBD}) ...")
    started = time.perf_counter()
    orders, truth = simulate_orders(
        n_customers=args.customers, seed=SEED, bgnbd=BENCH_BGNBD, gamma_gamma=BENCH_GAMMA_GAMMA
    )
    simulate_seconds = time.perf_counter() - started
    orders.to_parquet(out / "orders.parquet", index=False)
    days = orders["timestamp"].dt.normalize()
    n_purchase_days = int(
        pd.DataFrame({"c": orders["customer_id"], "d": days}).drop_duplicates().shape[0]
    )
    last_day = str(days.max().date())
    log(
        f"  {len(orders):,} orders ({len(orders) / args.customers:.1f} per customer, "
        f"{n_purchase_days / args.customers:.1f} purchase days) in {simulate_seconds:.1f} s; "
        f"written to {out / 'orders.parquet'}"
    )
    rfm = rfm_summary(orders, time_unit=TIME_UNIT)
    rfm.to_parquet(out / "rfm.parquet", index=False)
    rfm.iloc[:WARMUP_CUSTOMERS].to_parquet(out / "rfm_warmup.parquet", index=False)
    meta = {
        **wanted,
        "n_orders": len(orders),
        "n_purchase_days": n_purchase_days,
        "orders_per_customer": len(orders) / args.customers,
        "first_day": str(days.min().date()),
        "last_day": last_day,
        "repeat_customers": int((rfm["frequency"] > 0).sum()),
        "simulate_seconds": simulate_seconds,
        "orders_parquet_mb": (out / "orders.parquet").stat().st_size / 1e6,
    }
    del orders, truth, days, rfm
    meta_path.write_text(json.dumps(meta, indent=2))
    return {"meta": meta}


def prepare_data(args: argparse.Namespace) -> dict[str, Any]:
    """Run :func:`child_prepare` in a subprocess and return the data's description."""
    extra = ["--customers", str(args.customers)] + (["--reuse-data"] if args.reuse_data else [])
    result = run_child(args, "prepare", "data", extra=extra)
    if not result.get("ok"):
        raise SystemExit("preparing the data failed; see the log above")
    return dict(result["meta"], prepare_peak_rss_mb=result["peak_rss_mb"])


#: Jobs that fit (warm-up: a small MAP fit per side) and that score (a small scoring).
FITTING_JOBS = {"fit_map", "nuts"}
SCORING_JOBS = {"score", "score_200", "cdnow_clv"}


def warm_up(args: argparse.Namespace, sides: list[str], jobs: list[str]) -> None:
    """Untimed runs on a few customers that fill the on-disk compile caches.

    A small MAP fit per side fills PyTensor's cache; a small clvmodels scoring fills
    numba's (``cache=True``), so that the timed jobs measure the steady state a user sees
    from the second run on. nutpie compiles each model afresh in every process: no cache.
    """
    path = Path(args.out) / "rfm_warmup.parquet"
    n = min(WARMUP_CUSTOMERS, args.customers)
    if FITTING_JOBS & set(jobs):
        log(f"warm-up: BG/NBD MAP on {n:,} customers per side (PyTensor compile cache)")
        for side in sides:
            run_child(args, "fit_map", side, tag="-warmup", extra=["--input", str(path)])
    if SCORING_JOBS & set(jobs):
        log(f"warm-up: clvmodels scoring of {n:,} customers (numba compile cache)")
        run_child(args, "warmup_score", "ours", extra=["--input", str(path)])


def child_warmup_score(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Score a few customers with a small made-up posterior, untimed by the parent."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.predict.scoring import score_customers

    rfm = pd.read_parquet(_input(args, out, "rfm_warmup.parquet"))
    rng = np.random.default_rng(SEED)
    posterior = xr.Dataset(
        {
            name: (
                ("chain", "draw"),
                value * np.exp(POSTERIOR_JITTER * rng.standard_normal((2, 10))),
            )
            for name, value in {**BENCH_BGNBD, **BENCH_GAMMA_GAMMA}.items()
        }
    )
    started = time.perf_counter()
    score_customers(
        rfm,
        BetaGeoModel.from_posterior(posterior),  # type: ignore[arg-type]
        GammaGammaModel.from_posterior(posterior),  # type: ignore[arg-type]
        time_unit=TIME_UNIT,
        horizon=HORIZON,
        annual_discount_rate=ANNUAL_DISCOUNT_RATE,
        n_draws=None,
    )
    return {"call_seconds": time.perf_counter() - started, "n_customers": len(rfm)}


def build_score_posterior(
    args: argparse.Namespace, map_params: dict[str, float] | None, draws: int = SCORE_DRAWS
) -> dict:
    """Write the fixed scoring posterior (in a subprocess); return its description."""
    path = Path(args.out) / "map_params.json"
    path.unlink(missing_ok=True)
    if map_params is not None:
        path.write_text(json.dumps(map_params))
    result = run_child(
        args, "posterior", "data", tag=f"-{draws}", extra=["--score-draws", str(draws)]
    )
    if not result.get("ok"):
        raise SystemExit("building the scoring posterior failed; see the log above")
    return result["posterior"]


def child_posterior(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Draws around the BG/NBD MAP (and the true Gamma-Gamma values) with a small jitter."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    source = "MAP of the fit_map job (clvmodels, default priors)"
    map_path = out / "map_params.json"
    map_params = json.loads(map_path.read_text()) if map_path.exists() else None
    if map_params is None:
        from clvmodels.models.bgnbd import BetaGeoModel

        log("  no fit_map result: fitting the BG/NBD MAP for the scoring posterior ...")
        model = BetaGeoModel(method="map", priors="default").fit(
            pd.read_parquet(out / "rfm.parquet")
        )
        map_params = dict(model.params_)
        source = "MAP fitted for the purpose (clvmodels, default priors)"
    centre = {**map_params, **BENCH_GAMMA_GAMMA}
    draws = args.score_draws or SCORE_DRAWS
    rng = np.random.default_rng(SEED)
    variables = {
        name: (
            ("chain", "draw"),
            (value * np.exp(POSTERIOR_JITTER * rng.standard_normal(draws)))[None, :],
        )
        for name, value in centre.items()
    }
    posterior = xr.Dataset(variables, coords={"chain": [0], "draw": np.arange(draws)})
    posterior.to_netcdf(score_posterior_path(out, draws), engine="h5netcdf")
    return {
        "posterior": {
            "draws": draws,
            "bgnbd_centre": map_params,
            "bgnbd_centre_source": source,
            "gamma_gamma_centre": BENCH_GAMMA_GAMMA,
            "gamma_gamma_centre_source": "the simulation's true p, q, v",
            "jitter": f"each draw = centre × exp({POSTERIOR_JITTER} × N(0, 1)), seed {SEED}",
            "means": {name: float(posterior[name].mean()) for name in centre},
        }
    }


def child_check_rfm(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Compare the two RFM outputs: in weeks over all customers, in days exactly on a sample."""
    import numpy as np
    import pandas as pd

    meta = json.loads((out / "data.json").read_text())
    ours = pd.read_parquet(out / "rfm_ours.parquet").set_index("customer_id").sort_index()
    pymc = pd.read_parquet(out / "rfm_pymc.parquet").set_index("customer_id").sort_index()
    same_ids = bool(ours.index.equals(pymc.index))
    joined = ours.merge(pymc, left_index=True, right_index=True, suffixes=("_ours", "_pymc"))
    weeks = {
        "same_customers": same_ids,
        "frequency_equal_share": float(
            (joined["frequency_ours"] == joined["frequency_pymc"]).mean()
        ),
        "recency_max_abs_diff_weeks": float(
            (joined["recency_ours"] - joined["recency_pymc"]).abs().max()
        ),
        "T_max_abs_diff_weeks": float((joined["T_ours"] - joined["T_pymc"]).abs().max()),
        "note": "pymc-marketing's time_unit='W' counts calendar weeks (purchases in one week "
        "are one occasion, recency and T are whole weeks); clvmodels counts purchase days "
        "and measures recency and T in days / 7, so these differ by definition",
    }
    # the exact check: both at day resolution on a sample of customers, same observation end
    from pymc_marketing.clv import rfm_summary as pymc_rfm

    from clvmodels.summaries.rfm import rfm_summary as ours_rfm

    rng = np.random.default_rng(SEED)
    ids = np.sort(
        rng.choice(ours.index.to_numpy(), min(RFM_CHECK_CUSTOMERS, len(ours)), replace=False)
    )
    orders = pd.read_parquet(out / "orders.parquet", filters=[("customer_id", "in", ids)])
    a = ours_rfm(orders, time_unit="D", observation_end=meta["last_day"]).set_index("customer_id")
    b = (
        pymc_rfm(
            orders,
            customer_id_col="customer_id",
            datetime_col="timestamp",
            monetary_value_col="revenue",
            time_unit="D",
            observation_period_end=meta["last_day"],
        )
        .set_index("customer_id")
        .sort_index()
    )
    a = a.sort_index()
    days = {
        "customers": len(ids),
        "same_customers": bool(a.index.equals(b.index)),
        "frequency_equal": bool((a["frequency"].to_numpy() == b["frequency"].to_numpy()).all()),
        "recency_max_abs_diff_days": float(np.abs(a["recency"] - b["recency"]).max()),
        "T_max_abs_diff_days": float(np.abs(a["T"] - b["T"]).max()),
        "monetary_value_max_rel_diff": float(
            (
                np.abs(a["monetary_value"] - b["monetary_value"])
                / np.maximum(np.abs(b["monetary_value"]), 1e-12)
            ).max()
        ),
    }
    days["agree"] = bool(
        days["same_customers"]
        and days["frequency_equal"]
        and days["recency_max_abs_diff_days"] < 1e-9
        and days["T_max_abs_diff_days"] < 1e-9
        and days["monetary_value_max_rel_diff"] < 1e-9
    )
    return {
        "agreement": {"weeks_all_customers": weeks, "days_sample": days, "agree": days["agree"]}
    }


def check_fit(ours: dict[str, Any], pymc: dict[str, Any]) -> dict[str, Any]:
    """Relative differences of the two MAP estimates."""
    rel = {
        name: abs(ours["params"][name] - pymc["params"][name]) / abs(pymc["params"][name])
        for name in BG_PARAMS
    }
    worst = max(rel.values())
    return {"rel_diff": rel, "max_rel_diff": worst, "agree": bool(worst < 1e-3)}


def child_check_score(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Relative differences of the posterior-mean scores on the customers both sides scored."""
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(out / "score_ours.parquet").set_index("customer_id")
    pymc = pd.read_parquet(out / "score_pymc.parquet").set_index("customer_id")
    joined = ours.merge(pymc, left_index=True, right_index=True, suffixes=("_ours", "_pymc"))
    result: dict[str, Any] = {"customers_compared": len(joined)}
    for name in ("p_alive", "expected_purchases", "clv"):
        a, b = joined[f"{name}_ours"].to_numpy(), joined[f"{name}_pymc"].to_numpy()
        rel = np.abs(a - b) / np.maximum(np.abs(b), 1e-12)
        result[name] = {
            "max_rel_diff": float(np.nanmax(rel)) if len(rel) else float("nan"),
            "median_rel_diff": float(np.nanmedian(rel)) if len(rel) else float("nan"),
            "pymc_non_finite": int((~np.isfinite(b)).sum()),
        }
    result["agree"] = bool(
        result["p_alive"]["max_rel_diff"] < 1e-6
        and result["expected_purchases"]["max_rel_diff"] < 1e-6
    )
    result["clv_note"] = (
        "CLV differs slightly by construction: pymc-marketing multiplies each draw's purchases "
        "by the posterior-MEAN spend, clvmodels by each draw's own spend"
    )
    return {"agreement": result}


def side_name(job: str, side: str) -> str:
    """Who runs this side of the job (pymc-marketing unless the job says otherwise)."""
    return JOB_SIDE_NAMES.get(job, {}).get(side, SIDE_NAMES[side])


def summarise(job: str, entry: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Ratios and target verdict of one job (None: not applicable at this size)."""
    ours, pymc = entry.get("ours"), entry.get("pymc")
    agreement = entry.get("agreement") or {}
    row: dict[str, Any] = {"target": TARGETS[job]}
    ours_ok = bool(ours and ours.get("ok"))
    have_both = bool(ours_ok and pymc and pymc.get("ok"))
    if have_both:
        assert ours is not None and pymc is not None
        pymc_call = pymc.get("call_seconds_extrapolated", pymc["call_seconds"])
        pymc_process = pymc.get("process_seconds_extrapolated", pymc["process_seconds"])
        row["ratio_call"] = pymc_call / ours["call_seconds"]
        row["ratio_process"] = pymc_process / ours["process_seconds"]
        row["ratio_peak_rss"] = pymc["peak_rss_mb"] / ours["peak_rss_mb"]
    row["met"] = None
    if job in {"rfm", "rfm_file"} and have_both:
        row["met"] = bool(row["ratio_call"] >= 8 and ours["peak_rss_mb"] <= 1000)  # type: ignore[index]
    elif job == "fit_map" and have_both:
        row["met"] = bool(row["ratio_call"] >= 2)
    elif job == "cohorts" and have_both:
        row["met"] = bool(row["ratio_call"] >= 5 and ours["peak_rss_mb"] <= 1000)  # type: ignore[index]
    elif job == "nuts" and have_both:
        full = (args.nuts_customers, args.nuts_chains, args.nuts_draws, args.nuts_tune) == (
            NUTS_CUSTOMERS,
            NUTS_CHAINS,
            NUTS_DRAWS,
            NUTS_TUNE,
        )
        if full:
            row["met"] = bool(
                row["ratio_call"] >= NUTS_TARGET_RATIO and agreement.get("agree", False)
            )
        else:
            row["not_judged"] = "smaller than the target's 100k customers, 4×1000 draws, 1000 tune"
    elif job == "score_200" and ours_ok:
        assert ours is not None
        if ours["n_customers"] >= SCORE_200_FULL_SIZE:
            row["met"] = bool(
                ours["call_seconds"] <= SCORE_200_MAX_SECONDS
                and ours["peak_rss_mb"] <= SCORE_200_MAX_PEAK_MB
            )
        else:
            row["not_judged"] = f"fewer than the target's {SCORE_200_FULL_SIZE:,} customers"
    elif job == "cdnow_clv" and ours_ok:
        assert ours is not None
        if ours["n_draws"] == CDNOW_CHAINS * CDNOW_DRAWS:
            row["met"] = bool(ours["call_seconds"] <= CDNOW_MAX_SECONDS)
        else:
            row["not_judged"] = f"{ours['n_draws']:,} draws rather than the target's 4,000"
    elif job in CLI_JOBS and ours_ok:
        assert ours is not None
        row.update(bench_cli.summarise_cli(job, ours, pymc if have_both else None, args))
    return row


def fmt(value: Any, digits: int = 2) -> str:
    """Format a number for the table (— when missing)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{digits}f}"


#: Result fields printed under a side in the Markdown details, when present.
DETAIL_KEYS = (
    "params",
    "n_tuples",
    "n_draws",
    "pre_import_seconds",
    "find_map_seconds",
    "sampling_seconds",
    "sampler",
    "settings",
    "posterior",
    "convergence",
    "setup_seconds",
    "breakdown_seconds",
    "repeat_call_seconds",
    "session_start_seconds",
    "warm_call_seconds",
    "memory",
    "command_peak_rss_mb",
    "process_medians_seconds",
    "runs_seconds",
    "measured_commands",
    "measured_command",
)


def markdown(report: dict[str, Any]) -> str:
    """The Markdown report: machine, data, the results table and per-job details."""
    m = report["machine"]
    data = report["data"]
    lines = [
        "# clvmodels vs pymc-marketing benchmark",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['total_ram_gib']} GiB RAM, "
        f"Python {m['python']}, load average at start {m['load_average_at_start']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + f"; commit {m['git_commit']}; {m['date']}.",
        "",
        f"Data: {data['customers']:,} simulated customers, {data['n_orders']:,} orders "
        f"({data['orders_per_customer']:.1f} per customer), {data['first_day']} to "
        f"{data['last_day']}; BG/NBD {data['bgnbd']}, Gamma-Gamma {data['gamma_gamma']}, "
        f"seed {data['seed']}. The nuts and cdnow_clv jobs have their own data (see their "
        "details).",
        "",
        "Seconds are the measured call (perf_counter inside a fresh subprocess); ratio = "
        "pymc-marketing s / clvmodels s; peak = ru_maxrss of that job's whole process "
        "(MB = 10^6 bytes), except Spark's, which adds its JVM (see rfm_spark). In rfm_spark "
        "the columns hold clvmodels on DuckDB and clvmodels on Spark local[2]; in cohorts "
        "the pymc-marketing column holds the pandas notebook way.",
        "",
        "| job | clvmodels s | pymc-marketing s | ratio | clvmodels peak MB "
        "| pymc-marketing peak MB | target | met? |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for job, entry in report["jobs"].items():
        ours, pymc, summary = entry.get("ours") or {}, entry.get("pymc") or {}, entry["summary"]
        pymc_s = fmt(pymc.get("call_seconds_extrapolated", pymc.get("call_seconds")))
        pymc_peak = fmt(pymc.get("peak_rss_mb"), 0)
        if pymc.get("extrapolated_from"):
            pymc_s += f" (extrapolated from {pymc['extrapolated_from']:,})"
            pymc_peak += f" (at {pymc['extrapolated_from']:,})"
        ratio = fmt(summary.get("ratio_call"), 1)
        met = {True: "yes", False: "NO", None: "—"}[summary["met"]]
        if summary.get("not_judged"):
            met = f"— ({summary['not_judged']})"
        lines.append(
            f"| {JOB_LABELS.get(job, job)} | {fmt(ours.get('call_seconds'))} | {pymc_s} | "
            f"{ratio + '×' if ratio != '—' else ratio} | {fmt(ours.get('peak_rss_mb'), 0)} | "
            f"{pymc_peak} | {summary['target']} | {met} |"
        )
    lines += ["", "## Details", ""]
    for job, entry in report["jobs"].items():
        lines.append(f"### {job}")
        for key in ("data", "config"):
            if key in entry:
                lines.append(f"- {key}: {_short(entry[key])}")
        for side in SIDES:
            r = entry.get(side)
            if not r:
                continue
            name = side_name(job, side)
            if not r.get("ok"):
                lines.append(f"- {name}: FAILED (exit code {r.get('exit_code')})")
                continue
            peak_how = f"ru_maxrss; the child's own VmHWM {fmt(r.get('vm_hwm_mb'), 0)} MB"
            cpu_how = ""
            if "peak_rss_mb_python" in r:
                peak_how = (
                    "the sum of its processes' VmHWM, the JVM's included; ru_maxrss of the "
                    f"Python process alone {r['peak_rss_mb_python']:.0f} MB"
                )
                cpu_how = " (the Python process; the JVM's is not counted)"
            lines.append(
                f"- {name}: call {r['call_seconds']:.2f} s, whole process "
                f"{r['process_seconds']:.2f} s, CPU {r['cpu_seconds']:.1f} s{cpu_how}, "
                f"peak {r['peak_rss_mb']:.0f} MB ({peak_how}), "
                f"{r.get('n_customers', 0):,} customers"
            )
            if r.get("extrapolated_from"):
                lines.append(
                    f"  - measured on {r['extrapolated_from']:,} customers and extrapolated "
                    f"linearly: call {r['call_seconds_extrapolated']:.1f} s, process "
                    f"{r['process_seconds_extrapolated']:.1f} s ({r['extrapolation_reason']})"
                )
            for key in DETAIL_KEYS:
                if key in r:
                    lines.append(f"  - {key}: {_short(r[key])}")
        summary = entry["summary"]
        if "ratio_process" in summary:
            lines.append(
                f"- ratios: call {summary['ratio_call']:.2f}×, whole process "
                f"{summary['ratio_process']:.2f}×, peak memory {summary['ratio_peak_rss']:.2f}×"
            )
        if "agreement" in entry:
            lines.append(f"- agreement: {_short(entry['agreement'])}")
        for note in entry.get("notes", []):
            lines.append(f"- note: {note}")
        lines.append("")
    for key, title in (
        ("score_posterior", "Scoring posterior"),
        ("score_200_posterior", "Scoring posterior of score_200"),
    ):
        if key in report:
            lines.append(f"{title}: {_short(report[key])}")
            lines.append("")
    return "\n".join(lines)


def _short(value: Any) -> str:
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return float(f"{v:.6g}")
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), ensure_ascii=False)


def spark_missing() -> str | None:
    """Why the Spark side cannot run here (no pyspark, no java), or None."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'clvmodels[spark]')"
    if shutil.which("java") is None:
        return "no java on PATH (Spark needs Java 17)"
    return None


def job_extra(args: argparse.Namespace, job: str, side: str) -> list[str]:
    """The options a job side's subprocess needs beyond --job/--side/--out."""
    if job in {"nuts", "prepare_nuts"}:
        return [
            "--nuts-customers", str(args.nuts_customers),
            "--nuts-population", args.nuts_population,
            "--nuts-chains", str(args.nuts_chains),
            "--nuts-draws", str(args.nuts_draws),
            "--nuts-tune", str(args.nuts_tune),
        ]  # fmt: skip
    if job == "prepare_cdnow":
        return ["--cdnow-draws", str(args.cdnow_draws)]
    if job == "cli_startup":
        return ["--startup-runs", str(args.startup_runs)]
    if job == "cli_fit":
        return ["--cli-fit-models", args.cli_fit_models] + (
            ["--no-warmup"] if args.no_warmup else []
        )
    if job == "score" and side == "pymc":
        return ["--score-customers", str(args.pymc_score_customers or args.customers)]
    return []


def prepare_job(
    args: argparse.Namespace,
    job: str,
    entry: dict[str, Any],
    report: dict[str, Any],
    map_params: Any,
) -> bool:
    """Build what a job needs before its sides run (data, posterior); False when that failed."""
    if job == "score":
        log(f"score: building the fixed {SCORE_DRAWS}-draw posterior")
        report["score_posterior"] = build_score_posterior(args, map_params)
    elif job == "score_200":
        log(f"score_200: building the fixed {SCORE_200_DRAWS}-draw posterior")
        report["score_200_posterior"] = build_score_posterior(args, map_params, SCORE_200_DRAWS)
    elif job == "nuts":
        log(
            f"nuts: simulating {args.nuts_customers:,} customers ({args.nuts_population}); "
            f"{args.nuts_chains} chains × {args.nuts_draws} draws, {args.nuts_tune} tune"
        )
        result = run_child(args, "prepare_nuts", "data", extra=job_extra(args, "prepare_nuts", ""))
        if not result.get("ok"):
            return False
        entry["data"] = result["nuts_data"]
        entry["config"] = _nuts_settings(args)
    elif job == "cdnow_clv":
        log(
            f"cdnow_clv: CDNOW RFM and the fixed {CDNOW_CHAINS}×{args.cdnow_draws}-draw "
            "posterior (Laplace, flat priors)"
        )
        result = run_child(
            args, "prepare_cdnow", "data", extra=job_extra(args, "prepare_cdnow", "")
        )
        if not result.get("ok"):
            return False
        entry["data"] = result["cdnow"]
    return True


def check_job(args: argparse.Namespace, job: str, entry: dict[str, Any]) -> dict[str, Any] | None:
    """The agreement of a job's two sides (None for jobs without a check of their own)."""
    if job in {"rfm_file", "cli_startup"}:
        return None
    if job == "cli_fit":
        return bench_cli.check_cli_fit(entry["ours"], entry["pymc"])
    if job == "fit_map":
        return check_fit(entry["ours"], entry["pymc"])
    if job == "nuts":
        return check_nuts(entry["ours"], entry["pymc"])
    checked = run_child(args, "check", job)
    if not checked.get("ok"):
        raise RuntimeError(f"the {job} agreement check failed")
    return dict(checked["agreement"])


def job_notes(job: str, entry: dict[str, Any]) -> list[str]:
    """What a reader of the table should know about a job's two sides."""
    ours, pymc = entry.get("ours") or {}, entry.get("pymc") or {}
    if job in CLI_JOBS:
        return bench_cli.cli_notes(job, ours, pymc) if ours.get("ok") else []
    if job == "cohorts":
        return [
            "the comparison side of this job is not pymc-marketing (it has no cohort tables) "
            "but the pandas group-by / nunique / pivot_table / cumsum of the analyst's "
            "notebook, on the same DataFrame"
        ]
    if job == "rfm_file":
        return [
            "clvmodels' call includes reading the Parquet file (DuckDB reads it itself); "
            "pymc-marketing's call starts from the file already read into pandas; the "
            "agreement of the two summaries is the rfm job's check"
        ]
    if job == "fit_map" and ours.get("ok"):
        return [
            f"clvmodels fits {ours.get('n_tuples', 0):,} distinct (x, t_x, T) tuples for "
            f"{ours['n_customers']:,} customers"
        ]
    if job == "nuts":
        return [
            "both sides sample BG/NBD with pymc-marketing's default priors on the same weekly "
            "RFM table with nutpie; clvmodels fits the distinct (x, t_x, T) tuples with count "
            "weights, pymc-marketing one row per customer; the time is the whole fit call "
            "(graph, compilation, tuning and sampling); the agreement compares posterior "
            "means (in pymc-marketing's posterior sd) and sds"
        ]
    if job == "score_200":
        return [
            f"clvmodels alone: pymc-marketing's scoring at {SCORE_DRAWS} draws already peaks "
            "at several GB (the score job) and its prediction memory grows with the draws"
        ]
    if job == "cdnow_clv":
        notes = [
            "both sides use every draw of one fixed posterior; clvmodels' call scores P(alive), "
            "purchases, spend and CLV with intervals (score_customers, n_draws=None); "
            "pymc-marketing's is expected_customer_spend + customer_lifetime_value (what "
            "GammaGammaModel.expected_customer_lifetime_value runs); building its models "
            "(setup_seconds) is not counted",
        ]
        if pymc.get("ok") and ours.get("ok"):
            notes.append(
                f"clvmodels' repeat call in the same process: {ours['repeat_call_seconds']:.2f} s"
            )
        return notes
    if job == "rfm_spark":
        notes = [
            "both sides read the orders Parquet file in the call; the Spark call is the "
            "validated read, the orders' extent and rfm_summary_spark collected to pandas and "
            "sorted (what `clv rfm --engine spark` runs), after the session has started; the "
            "session start and a second (warm) run are in the details",
            "Spark's peak memory is the sum of the per-process peaks (VmHWM) of its Python "
            "process and every descendant (the JVM), read from /proc while it runs: an upper "
            "bound; the sampled peak of the summed RSS (a lower bound) and ru_maxrss of the "
            "Python process alone (peak_rss_mb_python) are in the details",
        ]
        if pymc.get("ok"):
            notes.append(
                f"Spark cold (session start + first run): "
                f"{pymc['session_start_seconds'] + pymc['call_seconds']:.1f} s; warm second "
                f"run {pymc['warm_call_seconds']:.1f} s"
            )
        return notes
    return []


def parent_main(args: argparse.Namespace) -> int:
    """Run the whole benchmark; return the exit code."""
    jobs = [j.strip() for j in args.jobs.split(",") if j.strip()]
    unknown = set(jobs) - set(JOBS)
    if unknown:
        raise SystemExit(f"unknown job(s) {sorted(unknown)}; choose from {', '.join(JOBS)}")
    sides = ["ours"] if args.skip_pymc else list(SIDES)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report: dict[str, Any] = {"machine": machine_info()}
    log(
        f"machine: {report['machine']['nproc']} cores, {report['machine']['total_ram_gib']} GiB, "
        f"{report['machine']['cpu_model']}; load {report['machine']['load_average_at_start']}"
    )
    log(f"data: simulating {args.customers:,} customers' orders (BG/NBD {BENCH_BGNBD}) ...")
    report["data"] = prepare_data(args)
    data = report["data"]
    log(
        f"  {data['n_orders']:,} orders ({data['orders_per_customer']:.1f} per customer, "
        f"{data['n_purchase_days'] / args.customers:.1f} purchase days), "
        f"{data['repeat_customers']:,} repeat customers; in {out}"
    )
    report["config"] = {
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
            **_nuts_settings(args),
        },
        "cdnow_draws": CDNOW_CHAINS * args.cdnow_draws,
        "warmup": not args.no_warmup,
    }
    report["jobs"] = {}
    failed = False

    if not args.no_warmup:
        warm_up(args, sides, jobs)

    map_params = None
    for job in jobs:
        entry: dict[str, Any] = {"notes": []}
        report["jobs"][job] = entry
        if not prepare_job(args, job, entry, report, map_params):
            log(f"{job}: preparing its data failed; skipping the job")
            entry["notes"].append("preparing the job's data failed (see logs/)")
            entry["summary"] = summarise(job, entry, args)
            failed = True
            continue
        for side in ["ours"] if job in OURS_ONLY else sides:
            if job == "rfm_spark" and side == "pymc" and (problem := spark_missing()):
                log(f"{job}: skipping Spark: {problem}")
                entry["notes"].append(f"Spark side not run: {problem}")
                continue
            log(f"{job}: {side_name(job, side)} ...")
            extra = job_extra(args, job, side)
            result = run_child(args, job, side, extra=extra)
            if job == "score" and side == "pymc":
                result = _score_pymc_fallback(args, result, extra, entry)
            if job == "rfm_spark" and side == "pymc" and result.get("ok"):
                # the JVM is a child of the job's process and outlives it: ru_maxrss of
                # the process does not see it (TreeMemory)
                result["peak_rss_mb_python"] = result["peak_rss_mb"]
                result["peak_rss_mb"] = result["memory"]["tree_hwm_sum_mb"]
            entry[side] = result
            if result.get("ok"):
                log(
                    f"  {side_name(job, side)}: call {result['call_seconds']:.2f} s, process "
                    f"{result['process_seconds']:.2f} s, peak {result['peak_rss_mb']:.0f} MB"
                )
            else:
                failed = True
        if job == "fit_map" and entry.get("ours", {}).get("ok"):
            map_params = entry["ours"]["params"]
        if job == "nuts" and entry.get("ours", {}).get("ok"):
            conv = entry["ours"]["convergence"]
            log(
                f"  clvmodels NUTS: max r-hat {conv.get('max_r_hat', float('nan')):.4f}, min "
                f"bulk ESS {conv.get('min_ess_bulk', float('nan')):.0f}, "
                f"{conv.get('divergences')} divergences"
            )
        if job not in OURS_ONLY and all(entry.get(s, {}).get("ok") for s in SIDES):
            try:
                agreement = check_job(args, job, entry)
                if agreement is not None:
                    entry["agreement"] = agreement
                    log(
                        f"  agreement: {'yes' if agreement['agree'] else 'NO'} "
                        f"{_short(_agreement_digest(job, agreement))}"
                    )
            except Exception as exc:  # report the check's failure, keep the timings
                entry["agreement"] = {"agree": False, "error": repr(exc)}
                log(f"  agreement check failed: {exc!r}")
                failed = True
        entry["notes"] += job_notes(job, entry)
        entry["summary"] = summarise(job, entry, args)

    report["total_seconds"] = time.perf_counter() - started
    text = markdown(report)
    (out / "bench.md").write_text(text + "\n")
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(text)
    log(
        f"done in {report['total_seconds']:.0f} s; wrote {out / 'bench.md'} and "
        f"{out / 'bench.json'}"
    )
    return 1 if failed else 0


def _agreement_digest(job: str, agreement: dict[str, Any]) -> dict[str, Any]:
    if job == "rfm":
        return {
            "days": agreement["days_sample"],
            "weeks_frequency_equal_share": agreement["weeks_all_customers"][
                "frequency_equal_share"
            ],
        }
    if job == "nuts":
        return {
            "max_mean_diff_in_sd": agreement["max_mean_diff_in_sd"],
            "max_sd_rel_diff": agreement["max_sd_rel_diff"],
        }
    if job == "score":
        return {k: agreement[k]["max_rel_diff"] for k in ("p_alive", "expected_purchases", "clv")}
    return {"max_rel_diff": agreement.get("max_rel_diff")}


def _score_pymc_fallback(
    args: argparse.Namespace, result: dict[str, Any], extra: list[str], entry: dict[str, Any]
) -> dict[str, Any]:
    """Rerun pymc-marketing's scoring smaller if the full size failed; extrapolate linearly."""
    n_requested = int(extra[1])
    if not result.get("ok") and n_requested > PYMC_SCORE_FALLBACK:
        reason = "timed out" if result.get("timed_out") else f"exit code {result['exit_code']}"
        log(
            f"  pymc-marketing scoring of {n_requested:,} customers failed ({reason}); "
            f"retrying with {PYMC_SCORE_FALLBACK:,} and extrapolating"
        )
        entry["notes"].append(
            f"pymc-marketing scoring of {n_requested:,} customers failed ({reason}, peak "
            f"{result['peak_rss_mb']:.0f} MB); rerun with {PYMC_SCORE_FALLBACK:,}"
        )
        entry["pymc_full_size_attempt"] = result
        result = run_child(
            args,
            "score",
            "pymc",
            tag="-fallback",
            extra=["--score-customers", str(PYMC_SCORE_FALLBACK)],
        )
        result["extrapolation_reason"] = f"the full size failed ({reason})"
    elif result.get("ok") and result["n_customers"] < args.customers:
        result["extrapolation_reason"] = "--pymc-score-customers"
    if result.get("ok") and result["n_customers"] < args.customers:
        scale = args.customers / result["n_customers"]
        result["extrapolated_from"] = result["n_customers"]
        result["call_seconds_extrapolated"] = result["call_seconds"] * scale
        result["process_seconds_extrapolated"] = (
            result["process_seconds"] - result["call_seconds"] + result["call_seconds"] * scale
        )
        entry["notes"].append(
            f"pymc-marketing scored {result['n_customers']:,} customers; its seconds are "
            f"extrapolated linearly to {args.customers:,} (x{scale:.2f}); its peak memory is "
            "as measured at the smaller size"
        )
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (``--job`` and ``--side`` run one job side: internal)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
        default=",".join(bench_cli.FIT_MODELS),
        help="transaction models of the cli_fit job (default bgnbd,pareto,mbgnbd)",
    )
    # internal: one job side in this process
    parser.add_argument(
        "--job",
        choices=(
            *JOBS,
            "prepare",
            "prepare_nuts",
            "prepare_cdnow",
            "posterior",
            "check",
            "warmup_score",
        ),
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--score-draws", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--score-customers", type=int, default=None, help=argparse.SUPPRESS)
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


if __name__ == "__main__":
    sys.exit(main())
