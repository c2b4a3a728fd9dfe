"""The Spark engine: the DuckDB engine's RFM, cohort and scoring computations on Apache Spark.

Every function here computes exactly what its DuckDB counterpart computes, with the same
definitions (docs/definitions.md, :mod:`clvmodels.summaries.rfm`,
:mod:`clvmodels.summaries.cohorts`), so the two
engines agree: ids and counts exactly, values to rounding (1e-9).

====================================  ==================================================
Spark engine (module.function)        DuckDB / pandas engine
====================================  ==================================================
:func:`read.read_orders_spark`        :func:`clvmodels.data.io.read_orders`
:func:`read.order_period_spark`       :func:`clvmodels.summaries.period.order_period`
:func:`rfm.rfm_summary_spark`         :func:`clvmodels.summaries.rfm.rfm_summary`
:func:`cohorts.cohort_table_spark`    :func:`clvmodels.summaries.cohorts.cohort_table`
:func:`payback.payback_orders_spark`  :func:`clvmodels.marketing.payback.payback_orders`
:func:`score.score_spark`             :func:`clvmodels.predict.scoring.score_customers`
====================================  ==================================================

Modules: ``session`` (:func:`~clvmodels.spark.session.spark_session`, the session of a job
and Spark's errors as :class:`clvmodels.errors.ClvError`), ``read`` (tables, orders, their
extent and dates), ``orders`` (the orders contract's rules as Spark SQL, ``strftime``
formats), ``validate`` (checking a raw table against them in one pass), ``rfm``, ``cohorts``,
``payback``, ``score``, ``write`` (:func:`~clvmodels.spark.write.write_spark_table`) and
``jobs`` (read orders -> RFM -> scores / cohorts / payback orders: what
``clv ... --engine spark`` runs, one job per command).

What runs where. Per-order work (reading, validating, aggregating orders into purchase
occasions, per-customer RFM and per-cohort cells) runs in Spark and scales with the cluster.
Results that are small by construction (the cohort table: cohorts x ages rows) come back as
pandas DataFrames, so everything built on them
(:func:`clvmodels.summaries.cohorts.average_ltv_curve`,
plots, payback) is the same code for both engines. Per-customer results (RFM, scores) stay
Spark DataFrames, except payback's buyers table, which payback needs on the driver.
Scoring ships the fitted posterior draws (a few small numpy arrays) to the executors as a
broadcast variable and runs :func:`clvmodels.predict.scoring.score_customers` on each
partition with ``mapInPandas``: the math is the same code, not a port.

pyspark is an optional dependency (``pip install 'clvmodels[spark]'``; Spark 4 needs Java
17). It is imported inside the functions, so ``import clvmodels`` never needs it.

Time zones: order times become ``TIMESTAMP_NTZ`` (wall-clock time, no zone), as the DuckDB
engine keeps them, and a purchase day is the calendar day of that wall-clock time. Sessions
made by :func:`clvmodels.spark.session.spark_session` use UTC, so zone-aware inputs are read
as UTC wall-clock time.
"""
