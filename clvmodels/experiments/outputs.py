"""The files of the ``clv experiment`` output folder and their columns, named once.

:mod:`clvmodels.jobs.experiment` writes them; :mod:`clvmodels.report.experiment` reads them
back (the report's "Experiment" section). Nothing here imports more than the standard library,
so the report can name the files without loading the tests.

* :data:`EXPERIMENT_FILES`: name -> file in the folder (``clv`` only with ``--model``;
  ``experiment.json`` is written last, so a folder with it is complete).
* :data:`SUMMARY_COLUMNS`: ``summary.csv``, one row per group.
* :data:`TEST_COLUMNS`: ``tests.csv``, one row per metric, variant and test.
* :data:`CLV_COLUMNS`: ``clv.csv``, one row per group (the value comparison's table,
  ``clvmodels.experiments.value``): mean CLV with its 94% interval and, for each variant, the
  difference against the control (``lift``) with its interval and ``prob_beats_control``
  (empty for the control).
* :data:`METRICS`: the metrics of ``tests.csv`` in the order they are shown, with their names
  in words.
"""

from __future__ import annotations

#: name -> file name of everything ``clv experiment`` writes (``clv`` only with a model).
EXPERIMENT_FILES = {
    "lifts_plot": "lifts.png",
    "summary": "summary.csv",
    "tests": "tests.csv",
    "clv": "clv.csv",
    "checks": "checks.json",
    "srm": "srm.json",
    "experiment": "experiment.json",
}
#: The columns of the tests table, in order.
TEST_COLUMNS = (
    "metric",
    "group",
    "test",
    "difference",
    "relative_lift",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_adjusted",
)
#: The columns of the summary table, in order.
SUMMARY_COLUMNS = (
    "group",
    "users",
    "converters",
    "conversion_rate",
    "revenue",
    "revenue_per_user",
    "orders_per_user",
)
#: The columns of ``clv.csv``, in order.
CLV_COLUMNS = (
    "group",
    "users",
    "customers",
    "mean_clv",
    "ci_low",
    "ci_high",
    "lift",
    "lift_low",
    "lift_high",
    "prob_beats_control",
)
#: metric -> its name in words, in the order of the report.
METRICS = {
    "conversion": "conversion rate",
    "revenue_per_user": "revenue per user",
    "orders_per_user": "orders per user",
    "clv": "predicted CLV per user",
}
#: The clv rows' label in the forest plot (their intervals are 94%, the others' 95%).
CLV_LIFT_LABEL = "clv (94%)"
