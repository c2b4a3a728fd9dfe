"""The CDNOW data (Fader, Hardie & Lee 2005) shipped in the ``lifetimes`` 0.11.3 wheel.

The loaders (:func:`load_cdnow`, :func:`load_cdnow_summary`) read the files shipped in the
``lifetimes`` 0.11.3 wheel without importing ``lifetimes.datasets`` (which needs
``pkg_resources``, gone on Python 3.12).

.. [FHL05] http://brucehardie.com/papers/018/fader_et_al_mksc_05.pdf
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

import pandas as pd

from clvmodels.errors import ClvError

CdnowKind = Literal["sample", "master"]

_CDNOW_FILES: dict[str, str] = {"sample": "CDNOW_sample.txt", "master": "CDNOW_master.txt"}
_CDNOW_COLUMNS: dict[str, list[str]] = {
    "sample": ["original_id", "customer_id", "date", "n_items", "revenue"],
    "master": ["customer_id", "date", "n_items", "revenue"],
}


def load_cdnow(kind: CdnowKind = "sample") -> pd.DataFrame:
    """Read a CDNOW transaction log (Fader, Hardie & Lee 2005) from the ``lifetimes`` wheel.

    CDNOW is the online CD shop whose customers who first bought in 1997 Q1 were followed
    until the end of June 1998. ``"master"`` holds all 23,570 customers (69,659 rows);
    ``"sample"`` the 1/10 sample of 2,357 customers (6,919 rows) that [FHL05]_ fits.

    Parameters
    ----------
    kind : {"sample", "master"}
        Which log to read.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (int64; for the sample, the 1..2357 sample id that
        :func:`load_cdnow_summary` uses), ``timestamp`` (datetime64[ns], a day),
        ``revenue`` (float64, dollars) and ``n_items`` (int64, CDs bought), sorted by
        customer and time. Several orders can fall on one day. The rows are as published:
        the sample has 21 rows that exactly repeat another (which
        :func:`clvmodels.data.io.validate_orders` warns about) and 8 with revenue 0; the master
        has 255 and 80.

    Raises
    ------
    ClvError
        When ``lifetimes`` is not installed or its data file is missing.
    ValueError
        For an unknown ``kind``.
    """
    if kind not in _CDNOW_FILES:
        raise ValueError(f"kind must be 'sample' or 'master'; got {kind!r}")
    path = _lifetimes_file(_CDNOW_FILES[kind])
    with path.open(encoding="ascii") as handle:
        has_header = not handle.readline().split()[0].isdigit()
    raw = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        skiprows=1 if has_header else 0,
        names=_CDNOW_COLUMNS[kind],
        dtype={"date": "string"},
    )
    orders = pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype("int64"),
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[ns]"),
            "revenue": raw["revenue"].astype("float64"),
            "n_items": raw["n_items"].astype("int64"),
        }
    )
    return orders.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)


def load_cdnow_summary() -> pd.DataFrame:
    """Read the RFM summary of the CDNOW sample that [FHL05]_ fits (``lifetimes`` wheel).

    Calibration 1997-01-01 to 1997-09-30 (39 weeks), times in weeks; the published BG/NBD
    maximum-likelihood fit is r=0.243, alpha=4.414, a=0.793, b=2.426.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (int64, 1..2357; the file's ``ID``), ``frequency`` (int64),
        ``recency`` and ``T`` (float64, weeks): 2,357 rows.

    Raises
    ------
    ClvError
        When ``lifetimes`` is not installed or its data file is missing.
    """
    summary = pd.read_csv(_lifetimes_file("cdnow_customers_summary.csv"))
    return pd.DataFrame(
        {
            "customer_id": summary["ID"].astype("int64"),
            "frequency": summary["frequency"].astype("int64"),
            "recency": summary["recency"].astype("float64"),
            "T": summary["T"].astype("float64"),
        }
    )


def _lifetimes_file(name: str) -> Path:
    """Path of a data file in ``lifetimes/datasets`` without importing ``lifetimes``."""
    install = "pip install lifetimes==0.11.3"
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise ClvError(f"the CDNOW data ships with the lifetimes package: {install}")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / name
    if not path.is_file():
        raise ClvError(f"{path} is missing from the installed lifetimes package: {install}")
    return path
