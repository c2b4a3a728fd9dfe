"""The benchmark's jobs, one module each; every module defines its :class:`bench.job.Job` as
``JOB`` (``bench.registry`` lists them): rfm, rfm_file, rfm_spark, fit_map, nuts, score,
score_200, cdnow_clv, cohorts, cli_rfm, cli_startup, cli_fit, sbg_fit, cli_churn.
"""
