"""Scoring in Spark: :func:`clvmodels.predict.scoring.score_customers` on every partition.

The fitted posterior draws (a few small numpy arrays) go to the executors as a broadcast
variable, and each partition is scored with ``mapInPandas`` by
:func:`clvmodels.predict.scoring.score_customers` itself: the math is the same code, not a port.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from clvmodels.models.inputs import EXTRA_RFM_COLUMNS, RFM_COLUMNS
from clvmodels.predict.columns import SCORE_COLUMNS
from clvmodels.predict.scoring import monthly_steps
from clvmodels.units import check_time_unit, parse_duration

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from clvmodels.model import CLVModel


def score_spark(
    rfm: DataFrame,
    model: CLVModel,
    *,
    horizon: str = "12M",
    annual_discount_rate: float = 0.1,
    margin: float = 1.0,
    n_draws: int | None = 200,
    rows_per_batch: int = 100_000,
) -> DataFrame:
    """:func:`clvmodels.predict.scoring.score_customers` on every partition of a Spark RFM table.

    The posterior draws (thinned on the driver to ``n_draws``, a few numpy arrays) go to the
    executors once, as a broadcast variable; each executor rebuilds the two models from them
    and scores its partition in batches with :func:`clvmodels.predict.scoring.score_customers`, so
    every score is computed by the same code as on one machine. Executors need clvmodels and
    its dependencies installed (see the README).

    Parameters
    ----------
    rfm : pyspark.sql.DataFrame
        ``customer_id, frequency, recency, T, monetary_value`` in the model's time unit
        (e.g. from :func:`clvmodels.spark.rfm.rfm_summary_spark`); it is not validated again here.
    model : CLVModel
        A fitted (or loaded) model.
    horizon, annual_discount_rate, margin, n_draws
        As in :func:`clvmodels.predict.scoring.score_customers`.
    rows_per_batch : int
        Customers scored together on an executor (memory: about draws x rows x 8 bytes per
        intermediate array, bounded by scoring's own chunking).

    Returns
    -------
    pyspark.sql.DataFrame
        :data:`clvmodels.predict.scoring.SCORE_COLUMNS`, row for row in the order of ``rfm``.
    """
    from pyspark.sql import types as T

    model._check_fitted()
    duration = parse_duration(horizon)
    monthly_steps(duration.months, annual_discount_rate)  # bad arguments fail on the driver
    transaction = model.transaction_model_
    payload = {
        "time_unit": check_time_unit(model.time_unit),
        "transaction_name": transaction.name,
        "transaction_draws": transaction.param_draws(n_draws),
        "spend_draws": model.require_spend_model().param_draws(n_draws),
        "horizon": str(duration),
        "annual_discount_rate": float(annual_discount_rate),
        "margin": float(margin),
    }
    spark = rfm.sparkSession
    shared = spark.sparkContext.broadcast(payload)
    # the regularity models' statistic goes in with the RFM (when there) but not out
    inputs = rfm.select(*RFM_COLUMNS, *[c for c in EXTRA_RFM_COLUMNS if c in rfm.columns])
    schema = T.StructType(
        [*rfm.select(*RFM_COLUMNS).schema.fields]
        + [T.StructField(name, T.DoubleType()) for name in SCORE_COLUMNS[len(RFM_COLUMNS) :]]
    )

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in _regroup(batches, rows_per_batch):
            yield score_payload(frame, shared.value)

    return inputs.mapInPandas(score_partition, schema)


def score_payload(rfm: pd.DataFrame, payload: Mapping[str, Any]) -> pd.DataFrame:
    """Score a pandas RFM batch with models rebuilt from broadcast draws (runs on executors)."""
    from clvmodels.model import MODELS
    from clvmodels.models.gamma_gamma import GammaGammaModel
    from clvmodels.predict.scoring import score_customers

    transaction = MODELS[payload["transaction_name"]].model_class.from_posterior(
        payload["transaction_draws"]
    )
    spend = GammaGammaModel.from_posterior(payload["spend_draws"])
    scores = score_customers(
        rfm,
        transaction,
        spend,
        time_unit=payload["time_unit"],
        horizon=payload["horizon"],
        annual_discount_rate=payload["annual_discount_rate"],
        margin=payload["margin"],
        n_draws=None,  # thinned on the driver
    )
    return scores.loc[:, list(SCORE_COLUMNS)]


def _regroup(batches: Iterator[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Arrow's batches (10,000 rows) joined into batches of about ``rows``."""
    pending: list[pd.DataFrame] = []
    size = 0
    for batch in batches:
        if len(batch) == 0:
            continue
        pending.append(batch)
        size += len(batch)
        if size >= rows:
            yield pd.concat(pending, ignore_index=True)
            pending, size = [], 0
    if pending:
        yield pd.concat(pending, ignore_index=True)


def draws_used(model: CLVModel, n_draws: int | None) -> int:
    """How many posterior draws :func:`score_spark` uses (the ``n_draws`` attr of scores)."""
    return len(next(iter(model.transaction_model_.param_draws(n_draws).values())))
