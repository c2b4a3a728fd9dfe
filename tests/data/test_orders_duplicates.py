"""The exact-duplicate count that rfm_summary takes inside its own aggregate.

Oracle: pandas ``DataFrame.duplicated()`` on the same rows (an independent implementation).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.contract import OrdersSource
from clvmodels.errors import DataQualityWarning
from clvmodels.summaries.rfm import rfm_summary


def _orders(seed: int, n: int = 4000) -> pd.DataFrame:
    """Orders with many same-day rows: pairs, triples, exact and partial duplicates."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, 300, n),
            "timestamp": start
            + pd.to_timedelta(rng.integers(0, 40, n), unit="D")
            + pd.to_timedelta(rng.integers(0, 3, n), unit="h"),
            "revenue": rng.integers(1, 4, n).astype(float),
        }
    )


def _warned_duplicates(caught: list[warnings.WarningMessage]) -> int:
    counts = [
        int(m.group(1).replace(",", ""))
        for w in caught
        if issubclass(w.category, DataQualityWarning)
        and (m := re.match(r"([\d,]+) order rows are exact duplicates", str(w.message)))
    ]
    assert len(counts) <= 1
    return counts[0] if counts else 0


@pytest.mark.parametrize(
    "periods",
    [
        {},
        {"calibration_end": "2024-01-20"},
        {"observation_end": "2024-01-25"},
        {"observation_end": "2024-01-25", "calibration_end": "2024-01-10"},
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_duplicate_count_matches_pandas(tmp_path: Path, seed: int, periods: dict[str, str]) -> None:
    orders = _orders(seed)
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path, index=False)
    expected = int(orders.duplicated().sum())
    assert expected > 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rfm_summary(OrdersSource(path), time_unit="D", **periods)
    assert _warned_duplicates(caught) == expected


def test_duplicate_count_text_ids_no_revenue_and_signed_zero(tmp_path: Path) -> None:
    orders = _orders(3).assign(customer_id=lambda f: "c-" + f["customer_id"].astype(str))
    # -0.0 and 0.0 are the same revenue (DuckDB's DISTINCT and pandas agree)
    extra = pd.DataFrame(
        {
            "customer_id": ["z", "z", "y", "y", "y"],
            "timestamp": pd.to_datetime(["2024-02-01 10:00"] * 2 + ["2024-02-02 09:00"] * 3),
            "revenue": [0.0, -0.0, 5.0, 5.0, 6.0],
        }
    )
    orders = pd.concat([orders, extra], ignore_index=True)
    path = tmp_path / "orders.csv"
    orders.to_csv(path, index=False)
    read_back = pd.read_csv(path, dtype={"customer_id": str})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rfm_summary(OrdersSource(path, refunds="net"), time_unit="D")
    # the CSV writes -0.0 as "-0.0": netting refunds is not needed, and it is one duplicate
    assert _warned_duplicates(caught) == int(read_back.duplicated().sum())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rfm_summary(OrdersSource(path, revenue_col=None), time_unit="D")
    expected = int(read_back[["customer_id", "timestamp"]].duplicated().sum())
    assert _warned_duplicates(caught) == expected


def test_no_duplicates_no_warning(tmp_path: Path) -> None:
    orders = _orders(4).drop_duplicates()
    path = tmp_path / "orders.parquet"
    orders.to_parquet(path, index=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rfm = rfm_summary(OrdersSource(path), time_unit="D")
    assert _warned_duplicates(caught) == 0
    assert rfm.attrs["n_orders"] == len(orders)
