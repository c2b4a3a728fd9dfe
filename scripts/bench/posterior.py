"""The fixed posteriors both sides score with, and pymc-marketing models that hold them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .common import (
    BENCH_GAMMA_GAMMA,
    BG_PARAMS,
    GG_PARAMS,
    POSTERIOR_JITTER,
    SCORE_DRAWS,
    SEED,
    log,
)
from .runner import run_child


def score_posterior_path(out: Path, draws: int) -> Path:
    """Where the fixed scoring posterior of ``draws`` draws is written."""
    name = "score_posterior.nc" if draws == SCORE_DRAWS else f"score_posterior_{draws}.nc"
    return out / name


def load_score_posterior(out: Path, draws: int = SCORE_DRAWS) -> Any:
    """The fixed scoring posterior of ``draws`` draws, read into memory."""
    import xarray as xr

    with xr.open_dataset(score_posterior_path(out, draws), engine="h5netcdf") as ds:
        return ds.load()


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


def fit_map_params(report: dict[str, Any]) -> dict[str, float] | None:
    """The BG/NBD MAP of this run's fit_map job (clvmodels' side), if it ran and succeeded."""
    ours = report["jobs"].get("fit_map", {}).get("ours", {})
    return ours["params"] if ours.get("ok") else None


def _map_centre(out: Path) -> tuple[dict[str, float], str]:
    """The BG/NBD centre of the posterior (the fit_map job's, else fitted now) and its source."""
    map_path = out / "map_params.json"
    if map_path.exists():
        return json.loads(
            map_path.read_text()
        ), "MAP of the fit_map job (clvmodels, default priors)"
    import pandas as pd

    from clvmodels.models.bgnbd import BetaGeoModel

    log("  no fit_map result: fitting the BG/NBD MAP for the scoring posterior ...")
    model = BetaGeoModel(method="map", priors="default").fit(pd.read_parquet(out / "rfm.parquet"))
    return dict(model.params_), "MAP fitted for the purpose (clvmodels, default priors)"


def child_posterior(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Draws around the BG/NBD MAP (and the true Gamma-Gamma values) with a small jitter."""
    import numpy as np
    import xarray as xr

    map_params, source = _map_centre(out)
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


def posterior_moments(posterior: Any, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Mean and sd (ddof=1) of each parameter over all chains and draws."""
    import numpy as np

    moments = {}
    for name in names:
        values = np.asarray(posterior[name].values, dtype="float64").reshape(-1)
        moments[name] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))}
    return moments


def pymc_models_with(data: Any, posterior: Any) -> tuple[Any, Any]:
    """pymc-marketing's BG/NBD and Gamma-Gamma models holding ``posterior``'s draws.

    A fitted model as pymc-marketing's own tests make one: build on the data, then set
    ``idata`` to a DataTree whose posterior group holds the draws.
    """
    import xarray as xr
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel

    bg = BetaGeoModel()
    bg.build_model(data[["customer_id", "frequency", "recency", "T"]])
    bg.idata = xr.DataTree.from_dict({"posterior": posterior[list(BG_PARAMS)]})
    gg = GammaGammaModel()
    gg.idata = xr.DataTree.from_dict({"posterior": posterior[list(GG_PARAMS)]})
    return bg, gg
