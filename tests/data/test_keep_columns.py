"""OrdersSource.keep_columns: an extra column carried through the orders contract as text."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import orders_frame
from clvmodels.errors import DataError

CSV = "customer_id,timestamp,revenue,partner_id,size\n1,2024-01-02,10,007,1\n2,2024-01-03,5,,2\n"


def test_kept_column_is_text_as_written(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    frame = orders_frame(OrdersSource(path, keep_columns=("partner_id",)))
    assert list(frame.columns) == ["customer_id", "timestamp", "revenue", "partner_id"]
    assert frame["partner_id"].iloc[0] == "007"  # not the number 7
    assert pd.isna(frame["partner_id"].iloc[1])

    parquet = tmp_path / "orders.parquet"
    pd.read_csv(path).to_parquet(parquet)  # size is an integer column there
    frame = orders_frame(OrdersSource(parquet, keep_columns=("size",)))
    assert frame["size"].tolist() == ["1", "2"]


def test_kept_column_errors(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    with pytest.raises(DataError, match="no column 'partner'") as caught:
        orders_frame(OrdersSource(path, keep_columns=("partner",)))
    assert caught.value.column == "partner"
    with pytest.raises(DataError, match="--refunds net"):
        OrdersSource(path, keep_columns=("partner_id",), refunds="net")
    with pytest.raises(DataError, match="order column"):
        OrdersSource(path, keep_columns=("revenue",))
