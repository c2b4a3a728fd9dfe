"""Shared fixtures: the CDNOW sample (from the lifetimes wheel) and fits on it."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

CALIBRATION_END = "1997-09-30"
OBSERVATION_END = "1998-06-30"


def lifetimes_datasets() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.submodule_search_locations, "lifetimes is a test dependency"
    return Path(spec.submodule_search_locations[0]) / "datasets"


@pytest.fixture(scope="session")
def cdnow_orders() -> pd.DataFrame:
    """The CDNOW sample's 6,919 orders of 2,357 customers (ids 1..2357, as in the summary)."""
    from clvmodels.data.io import read_orders

    raw = pd.read_csv(
        lifetimes_datasets() / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "n_items", "revenue"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 21 exact duplicate rows: kept, as lifetimes keeps them
        return read_orders(raw, date_col="date")


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """lifetimes' published calibration summary (2 decimals), weeks, end 1997-09-30."""
    return pd.read_csv(lifetimes_datasets() / "cdnow_customers_summary.csv")


@pytest.fixture(scope="session")
def cdnow_rfm(cdnow_orders: pd.DataFrame) -> pd.DataFrame:
    from clvmodels.summaries.rfm import rfm_summary

    return rfm_summary(
        cdnow_orders,
        time_unit="W",
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
    )


@pytest.fixture(scope="session")
def cdnow_flat_model(cdnow_rfm: pd.DataFrame):
    """CLVModel with flat priors by MAP on CDNOW: the maximum-likelihood fit the papers publish."""
    from clvmodels.model import CLVModel

    return CLVModel(time_unit="W", method="map", priors="flat", seed=1).fit(cdnow_rfm)


def fixed_posterior(
    params: dict[str, float], n_draws: int = 50, sd: float = 0.05, seed: int = 0
) -> xr.Dataset:
    """Draws scattered (log-normally, relative sd ``sd``) around ``params``, without sampling."""
    rng = np.random.default_rng(seed)
    return xr.Dataset(
        {
            name: (
                ("chain", "draw"),
                (value * np.exp(rng.normal(0, sd, size=n_draws))).reshape(1, n_draws),
            )
            for name, value in params.items()
        },
        coords={"chain": [0], "draw": np.arange(n_draws)},
    )


# published maximum-likelihood values (docs/definitions.md)
BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GAMMA_GAMMA_PUBLISHED = {"p": 6.25, "q": 3.74, "v": 15.44}


def assert_same_posterior(fits: dict, names: tuple[str, ...]) -> None:
    """Two converged fits, ``compiled`` and ``pymc-marketing``, with the same posterior.

    Issue 6's bar: posterior means within 0.1 sd and sds within 10% (the reference's sd).
    """
    for fit in fits.values():
        assert fit.report["converged"], fit.report
    for name in names:
        ours = fits["compiled"].posterior[name]
        theirs = fits["pymc-marketing"].posterior[name]
        sd = float(theirs.std())
        assert abs(float(ours.mean()) - float(theirs.mean())) < 0.1 * sd, name
        assert float(ours.std()) == pytest.approx(sd, rel=0.10), name
