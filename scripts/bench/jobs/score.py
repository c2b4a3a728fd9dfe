"""``score``: P(alive), 12-month purchases and CLV of every customer from one fixed posterior.

Both sides score with the same 100 draws (10% a year discount):
``clvmodels.predict.scoring.score_customers`` against pymc-marketing's
``expected_probability_alive``, ``expected_purchases`` and
``GammaGammaModel.expected_customer_lifetime_value`` with the posterior injected as
``model.idata``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..common import (
    ANNUAL_DISCOUNT_RATE,
    HORIZON,
    HORIZON_MONTHS,
    MONTHLY_DISCOUNT_RATE,
    SCORE_DRAWS,
    TIME_UNIT,
    log,
)
from ..data import input_path
from ..job import Job
from ..posterior import (
    build_score_posterior,
    fit_map_params,
    load_score_posterior,
    pymc_models_with,
)
from ..runner import run_child

TARGET = "none set (anchor (docs/definitions.md): pymc-marketing 46 s, 5.4 GB)"
#: Customers of the pymc-marketing scoring fallback when the full size fails.
PYMC_SCORE_FALLBACK = 200_000


def score_ours(args: argparse.Namespace, out: Path, draws: int) -> dict[str, Any]:
    """clvmodels' scoring of every customer with the fixed ``draws``-draw posterior."""
    import pandas as pd

    from clvmodels.models.bgnbd import BetaGeoModel
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.predict.scoring import score_customers

    rfm = pd.read_parquet(input_path(args, out, "rfm.parquet"))
    posterior = load_score_posterior(out, draws)
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


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' scoring of every customer with the 100-draw posterior."""
    return score_ours(args, out, SCORE_DRAWS)


def _pymc_data(args: argparse.Namespace, out: Path) -> Any:
    """The RFM rows pymc-marketing scores (a sample with ``--score-customers``)."""
    import pandas as pd

    rfm = pd.read_parquet(input_path(args, out, "rfm.parquet"))
    if args.score_customers and args.score_customers < len(rfm):
        rfm = rfm.sample(n=args.score_customers, random_state=0).sort_values("customer_id")
    columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return rfm[columns].reset_index(drop=True)


def _write_pymc_scores(out: Path, p_alive: Any, purchases: Any, clv: Any) -> None:
    """pymc-marketing's posterior-mean scores as one table, for the agreement check."""
    import pandas as pd

    frames = [
        arr.to_series().rename(name)
        for name, arr in (("p_alive", p_alive), ("expected_purchases", purchases), ("clv", clv))
    ]
    table = pd.concat(frames, axis=1)
    table.index.name = "customer_id"
    table.reset_index().to_parquet(out / "score_pymc.parquet")


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """pymc-marketing's three prediction calls on the same posterior."""
    import pymc_marketing.clv  # noqa: F401  (imported before the timers)

    data = _pymc_data(args, out)
    posterior = load_score_posterior(out)
    horizon_weeks = HORIZON_MONTHS * (365.25 / 12) / 7

    started = time.perf_counter()
    bg, gg = pymc_models_with(data, posterior)
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
        discount_rate=MONTHLY_DISCOUNT_RATE,
        time_unit=TIME_UNIT,
    ).mean(("chain", "draw"))
    t3 = time.perf_counter()

    _write_pymc_scores(out, p_alive, purchases, clv)
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


def child_check(args: argparse.Namespace, out: Path) -> dict[str, Any]:
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


def prepare(args: argparse.Namespace, entry: dict[str, Any], report: dict[str, Any]) -> bool:
    """Build the fixed 100-draw posterior around the fit_map job's MAP (if it ran)."""
    log(f"score: building the fixed {SCORE_DRAWS}-draw posterior")
    report["score_posterior"] = build_score_posterior(args, fit_map_params(report))
    return True


def _pymc_customers(args: argparse.Namespace) -> int:
    """How many customers pymc-marketing scores at first."""
    return int(args.pymc_score_customers or args.customers)


def options(args: argparse.Namespace, side: str) -> list[str]:
    """pymc-marketing's side scores ``--pymc-score-customers`` customers (default all)."""
    return ["--score-customers", str(_pymc_customers(args))] if side == "pymc" else []


def _rerun_smaller(args: argparse.Namespace, result: dict, entry: dict[str, Any]) -> dict:
    """Rerun pymc-marketing's scoring on PYMC_SCORE_FALLBACK customers after a failure."""
    n_requested = _pymc_customers(args)
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
    return result


def _extrapolate(args: argparse.Namespace, result: dict, entry: dict[str, Any]) -> None:
    """Scale pymc-marketing's seconds linearly from the customers it scored to all."""
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


def finish(
    args: argparse.Namespace, side: str, result: dict[str, Any], entry: dict[str, Any]
) -> dict[str, Any]:
    """Rerun pymc-marketing's scoring smaller if the full size failed; extrapolate linearly."""
    if side != "pymc":
        return result
    if not result.get("ok") and _pymc_customers(args) > PYMC_SCORE_FALLBACK:
        result = _rerun_smaller(args, result, entry)
    elif result.get("ok") and result["n_customers"] < args.customers:
        result["extrapolation_reason"] = "--pymc-score-customers"
    if result.get("ok") and result["n_customers"] < args.customers:
        _extrapolate(args, result, entry)
    return result


def digest(agreement: dict[str, Any]) -> dict[str, Any]:
    """The worst relative difference of each score."""
    return {k: agreement[k]["max_rel_diff"] for k in ("p_alive", "expected_purchases", "clv")}


JOB = Job(
    name="score",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    check=child_check,
    prepare=prepare,
    options=options,
    finish=finish,
    digest=digest,
)
