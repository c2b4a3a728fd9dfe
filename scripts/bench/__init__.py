"""Benchmark clvmodels against pymc-marketing 1.3.0, side by side, on simulated orders.

Run it with ``make bench`` (``.venv/bin/python scripts/bench``; ``--help`` lists the
options). In one run it:

1. simulates ~10M orders of ~1M customers (``clvmodels.examples.simulate.simulate_orders``),
   writes them to ``OUT/orders.parquet`` and, with clvmodels, their weekly RFM summary to
   ``OUT/rfm.parquet`` (:mod:`bench.data`);
2. runs each job side (clvmodels = "ours", pymc-marketing = "pymc") in its own fresh
   subprocess (``scripts/bench --job NAME --side ours|pymc``) so that the peak memory is
   per job: the parent reads the child's rusage with ``os.wait4`` (``ru_maxrss`` is KiB on
   Linux). The child times the measured call with ``time.perf_counter`` and prints the
   result as one JSON line on stdout; the parent also times the whole process
   (:mod:`bench.runner`, :mod:`bench.child`);
3. checks that the two sides agree, and writes a Markdown table and every raw number to
   ``OUT/bench.md`` and ``OUT/bench.json`` (:mod:`bench.suite`, :mod:`bench.report`).

Jobs, one module each in :mod:`bench.jobs` (its docstring says what each side runs):
``rfm``, ``rfm_file``, ``rfm_spark`` (DuckDB against Spark local[2]), ``fit_map``, ``nuts``,
``score``, ``score_200`` (clvmodels alone), ``cdnow_clv``, ``cohorts`` (against the pandas
notebook way), and the `clv` commands as whole processes: ``cli_rfm``, ``cli_startup``,
``cli_fit``, ``cli_churn`` (on simulated subscriptions: :mod:`bench.subscriptions`),
``sbg_fit``, ``cnbd_fit`` (``clv fit`` of BG/CNBD-k and MBG/CNBD-k against BG/NBD and
MBG/NBD), and ``cli_engagement`` and ``cli_conversion`` (on simulated visits and orders:
:mod:`bench.visits`; against pandas the notebook way), ``cli_experiment`` (``clv experiment``
with a model per arm on a simulated experiment; against pandas + scipy without CLV).

Modules: ``__main__`` (the entry point), ``cli`` (the options), ``suite`` (the parent's run),
``runner`` (processes, timed), ``child`` (one side in this process), ``registry`` (the jobs
in order), ``job`` (what a job is), ``common`` (shared settings), ``data`` (the simulated
orders), ``posterior`` (the fixed scoring posteriors), ``warmup`` (the compile caches),
``memory`` (/proc peaks), ``report`` (bench.md and bench.json), ``subscriptions`` (the
simulated subscriptions), ``churn_direct`` (cli_churn's other side and check), ``visits``
(the simulated visits and orders), ``analytics_jobs`` (what cli_engagement and
cli_conversion share), ``analytics_direct`` (their other side: pandas, the notebook way),
``analytics_check`` (their agreement checks).

Sizes are megabytes of 10**6 bytes; times are seconds.
"""
