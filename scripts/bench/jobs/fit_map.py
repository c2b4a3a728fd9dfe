"""``fit_map``: BG/NBD MAP with pymc-marketing's default priors.

``clvmodels.models.bgnbd.BetaGeoModel(method="map", priors="default").fit(rfm)`` against
``pymc_marketing.clv.BetaGeoModel().fit(data=rfm, method="map")``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ..common import BG_PARAMS
from ..data import input_path
from ..job import Job, both_sides

TARGET = "≥ 2× faster"


def pre_import_pymc() -> float:
    """Import PyMC and pymc-marketing; return the seconds it took.

    clvmodels imports PyMC lazily, inside fit; import it before the timer as the
    pymc-marketing side does, so that both calls time the fit alone (the whole-process
    time still counts the imports of both).
    """
    import_started = time.perf_counter()
    import pymc  # noqa: F401
    import pymc_marketing.clv  # noqa: F401

    return time.perf_counter() - import_started


def child_ours(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """clvmodels' BG/NBD MAP fit on the weekly RFM table."""
    import pandas as pd

    from clvmodels.models.bgnbd import BetaGeoModel

    import_seconds = pre_import_pymc()
    rfm = pd.read_parquet(input_path(args, out, "rfm.parquet"))
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


def child_pymc(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """pymc-marketing's BG/NBD MAP fit on the same table."""
    import pandas as pd
    from pymc_marketing.clv import BetaGeoModel

    rfm = pd.read_parquet(input_path(args, out, "rfm.parquet"))
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


def compare(ours: dict[str, Any], pymc: dict[str, Any]) -> dict[str, Any]:
    """Relative differences of the two MAP estimates."""
    rel = {
        name: abs(ours["params"][name] - pymc["params"][name]) / abs(pymc["params"][name])
        for name in BG_PARAMS
    }
    worst = max(rel.values())
    return {"rel_diff": rel, "max_rel_diff": worst, "agree": bool(worst < 1e-3)}


def verdict(args: argparse.Namespace, entry: dict[str, Any], row: dict[str, Any]) -> dict:
    """Met when clvmodels' call is ≥ 2× faster."""
    _, pymc = both_sides(entry)
    return {} if pymc is None else {"met": bool(row["ratio_call"] >= 2)}


def notes(entry: dict[str, Any]) -> list[str]:
    """How many distinct tuples clvmodels fits."""
    ours = entry.get("ours") or {}
    if not ours.get("ok"):
        return []
    return [
        f"clvmodels fits {ours.get('n_tuples', 0):,} distinct (x, t_x, T) tuples for "
        f"{ours['n_customers']:,} customers"
    ]


JOB = Job(
    name="fit_map",
    target=TARGET,
    sides={"ours": child_ours, "pymc": child_pymc},
    compare=compare,
    verdict=verdict,
    notes=notes,
)
