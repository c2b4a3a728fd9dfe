"""Score these orders: a saved model + orders -> RFM -> scores, written chunk by chunk.

:func:`score_orders` is what ``clv score`` does between parsing its options and printing: it
loads the model, refuses an RFM table given as the orders and a fit that is not usable,
summarises the orders in the model's time unit up to the observation end, scores the customers
and writes the scores as they come, tallying what the command reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clvmodels.data.contract import OrdersSource
from clvmodels.data.customers import (
    CustomersSource,
    model_covariates,
    refuse_customers_on_engine,
)
from clvmodels.data.database_url import DatabaseURL
from clvmodels.data.io import write_table_chunks
from clvmodels.data.paths import OutputTarget, output_target
from clvmodels.data.readers import file_columns
from clvmodels.errors import DataError
from clvmodels.model import CLVModel
from clvmodels.persistence import load_model
from clvmodels.summaries.rfm import rfm_summary


@dataclass(frozen=True)
class ScoreSettings:
    """What the scores are for: horizon, discounting, margin and posterior draws."""

    horizon: str = "12M"
    annual_discount_rate: float = 0.1
    margin: float = 1.0
    n_draws: int | None = 200


@dataclass(frozen=True)
class ScoringData:
    """What a scoring is about to use: how many customers, with orders up to which day."""

    n_customers: int
    up_to: str


@dataclass
class ScoreTotals:
    """Sums over the written scores, for the report of the scoring."""

    customers: int = 0
    purchases: float = 0.0
    p_alive: float = 0.0
    clv: float = 0.0
    draws: int = 0
    population_mean_spend: int = 0
    columns: list[str] = field(default_factory=list)

    def tallied(self, chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Pass the chunks on, adding each one to the totals."""
        for chunk in chunks:
            self.customers += len(chunk)
            self.purchases += float(chunk["expected_purchases"].sum())
            self.p_alive += float(chunk["p_alive"].sum())
            if "clv" in chunk.columns:
                self.clv += float(chunk["clv"].sum())
            self.draws = chunk.attrs.get("n_draws", 1)
            self.population_mean_spend = chunk.attrs.get("n_population_mean_spend", 0)
            self.columns[:] = [str(c) for c in chunk.columns]
            yield chunk


@dataclass
class ScoreResult:
    """What :func:`score_orders` did: the model used, its data, the totals, the file or table."""

    model: CLVModel
    data: ScoringData
    totals: ScoreTotals
    target: OutputTarget


@dataclass(frozen=True)
class EngineOrders:
    """Orders that another engine (``--engine spark``) reads, summarises and scores.

    ``scores`` takes the model and the observation end and returns the scores table as
    :meth:`clvmodels.model.CLVModel.score` does, with the RFM table's dates in ``attrs``.
    """

    path: str
    date_col: str
    table: str | None
    query: str | None
    scores: Callable[[CLVModel, str | None], pd.DataFrame]


def refuse_rfm_table(orders: OrdersSource | EngineOrders) -> None:
    """Refuse an RFM table (frequency, recency, T; no order dates) given as the orders."""
    if orders.table or orders.query or isinstance(orders.path, pd.DataFrame):
        return
    names = file_columns(orders.path)
    if (
        names is not None
        and {"frequency", "recency", "T"} <= names
        and orders.date_col not in names
    ):
        raise DataError(
            f"{orders.path} is an RFM table (columns frequency, recency, T; no order dates in a "
            f"'{orders.date_col}' column), not orders: clv score summarises the orders itself "
            "in the model's time unit, so pass the orders file (customer, date, revenue)"
        )


def score_orders(
    model_dir: str | Path,
    orders: OrdersSource | EngineOrders,
    target: str | Path | DatabaseURL,
    settings: ScoreSettings = ScoreSettings(),
    *,
    observation_end: str | None = None,
    progress: bool = False,
    announce: Callable[[ScoringData], None] = lambda _: None,
    customers: CustomersSource | None = None,
) -> ScoreResult:
    """Score the customers of ``orders`` with the model in ``model_dir``; write ``target``.

    Parameters
    ----------
    model_dir : path
        A model folder (:func:`clvmodels.persistence.save_model`).
    orders : OrdersSource or EngineOrders
        The orders (not an RFM table: the RFM is made here, in the model's time unit), read
        and scored by DuckDB and pandas, or by another engine.
    target : path or DatabaseURL
        The scores file: Parquet (written chunk by chunk), CSV or JSON; or a database table
        (``URL#table``: chunks appended to a temporary table, swapped in one transaction).
    settings : ScoreSettings
        Horizon, annual discount rate, margin and posterior draws.
    observation_end : str, optional
        ``YYYY-MM-DD``: score with the orders up to this day; the model's observation end
        without it.
    progress : bool
        Show a progress bar while scoring.
    announce : callable
        Called with the :class:`ScoringData` once the orders are summarised.
    customers : CustomersSource, optional
        The customers table holding the covariates of a model fitted with them
        (:func:`clvmodels.data.customers.model_covariates`).

    Raises
    ------
    DataError
        For an RFM table given as the orders, a fit that is not usable, and orders that
        break the orders contract.
    """
    model = load_model(model_dir)
    end = observation_end or model.data_info_.get("calibration_end")
    refuse_rfm_table(orders)
    model.check_usable()  # before reading the orders: a fit that is not usable is refused
    chunks: Iterator[pd.DataFrame]
    if isinstance(orders, EngineOrders):
        refuse_customers_on_engine(model, customers)
        scored = orders.scores(model, end)
        data = ScoringData(len(scored), str(scored.attrs["calibration_end"]))
        chunks = iter([scored])
    else:
        summary = rfm_summary(orders, time_unit=model.time_unit, observation_end=end)
        summary = model_covariates(summary, model, customers)
        data = ScoringData(len(summary), str(summary.attrs["calibration_end"]))
        chunks = model.iter_score(
            summary,
            horizon=settings.horizon,
            annual_discount_rate=settings.annual_discount_rate,
            margin=settings.margin,
            n_draws=settings.n_draws,
            progress=progress,
        )
    announce(data)
    totals = ScoreTotals()
    write_table_chunks(totals.tallied(chunks), target)
    return ScoreResult(model=model, data=data, totals=totals, target=output_target(target))
