"""Summarise these orders: orders -> one RFM row per customer -> a table file.

:func:`rfm_orders` is what ``clv rfm`` does between parsing its options and printing. It needs
DuckDB and pandas only, never the modelling stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.database_url import DatabaseURL
from clvmodels.data.io import write_table
from clvmodels.data.paths import OutputTarget
from clvmodels.summaries.rfm import rfm_summary

#: Another engine's RFM (``--engine spark``): () -> (the RFM table as
#: :func:`clvmodels.summaries.rfm.rfm_summary` returns it, the number of orders read).
OtherRfm = Callable[[], tuple[pd.DataFrame, int]]


@dataclass
class RfmResult:
    """What :func:`rfm_orders` wrote: the RFM table, the orders read, and the file or table."""

    summary: pd.DataFrame
    n_orders: int
    target: OutputTarget

    @property
    def n_repeat(self) -> int:
        """Customers who bought again (``frequency > 0``)."""
        return int((self.summary["frequency"] > 0).sum())


def rfm_orders(
    orders: OrdersSource | OtherRfm,
    target: str | Path | DatabaseURL,
    *,
    time_unit: str = "W",
    observation_end: str | None = None,
    calibration_end: str | None = None,
) -> RfmResult:
    """Summarise ``orders`` (:func:`clvmodels.summaries.rfm.rfm_summary`) and write ``target``.

    ``orders`` is an :class:`~clvmodels.data.contract.OrdersSource` summarised in DuckDB, or
    another engine's summary (:data:`OtherRfm`, made with the same arguments); the file is
    written the same way (Parquet, CSV or JSON by its suffix, atomically; or a database table
    ``URL#table``, replaced in one transaction).
    """
    if not isinstance(orders, OrdersSource):
        summary, n_orders = orders()
    else:
        summary = rfm_summary(
            orders,
            time_unit=time_unit,
            observation_end=observation_end,
            calibration_end=calibration_end,
        )
        n_orders = summary.attrs["n_orders"]
    return RfmResult(summary=summary, n_orders=n_orders, target=write_table(summary, target))
