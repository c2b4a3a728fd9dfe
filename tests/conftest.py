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


#: Fader & Hardie (2007), "How to project customer retention", Table 1: survivors per 1,000
#: at years 0-7 of the regular and the high-end segment.
FH2007_SURVIVORS = {
    "regular": (1000, 631, 468, 382, 326, 289, 262, 241),
    "high end": (1000, 869, 743, 653, 593, 551, 517, 491),
}
#: The observation end of the table below: mid-year 7 (years start on 2000-01-01).
FH2007_OBSERVATION_END = "2007-07-01"


@pytest.fixture(scope="session")
def fh2007_billing() -> pd.DataFrame:
    """Fader & Hardie (2007)'s two segments as a yearly billing table, in the simulator's names.

    1,000 customers per segment (ids 1-1000 regular, 1001-2000 high end; ``plan`` = segment),
    all starting on 2000-01-01. A customer who churns in year n (S(n-1) - S(n) of them) pays
    on Jan 1 of years 0..n-1, each payment until the next Jan 1 (100 regular, 250 high end);
    the S(7) survivors pay in years 0..7. Observed to 2007-07-01 (``attrs``), so that every
    customer has T = 8; churned ones have first_spell_periods = their churn year, survivors
    8 and are not churned. ``attrs`` also hold the survivors and the observation end.
    """
    rows = []
    customer = 0
    for plan, survivors in FH2007_SURVIVORS.items():
        amount = 100.0 if plan == "regular" else 250.0
        counts = [survivors[n - 1] - survivors[n] for n in range(1, 8)] + [survivors[7]]
        for n_paid, count in zip(range(1, 9), counts, strict=True):
            for _ in range(count):
                customer += 1
                for year in range(n_paid):
                    rows.append(
                        (customer, plan, f"{2000 + year}-01-01", f"{2001 + year}-01-01", amount)
                    )
    frame = pd.DataFrame(
        rows, columns=["company_id", "plan", "payment_date", "paid_until", "amount"]
    )
    frame.insert(0, "payment_id", np.arange(1, len(frame) + 1))
    frame["status"] = "success"
    frame["payment_date"] = pd.to_datetime(frame["payment_date"])
    frame["paid_until"] = pd.to_datetime(frame["paid_until"])
    frame.attrs["survivors"] = FH2007_SURVIVORS
    frame.attrs["observation_end"] = FH2007_OBSERVATION_END
    return frame


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server on 127.0.0.1 (``tests/pg_server.py``), stopped at the end.

    Tests that use it carry the ``postgres`` marker; ``make test`` installs PostgreSQL when it
    is missing and runs as root, so CI always runs them.
    """
    from pg_server import start_server

    server = start_server()
    try:
        yield server
    finally:
        server.stop()
