"""Every job of the benchmark in the order it runs them, and the helper tasks of the children."""

from __future__ import annotations

from .data import child_prepare
from .job import Child, Job
from .jobs import (
    cdnow_clv,
    cli_churn,
    cli_conversion,
    cli_engagement,
    cli_experiment,
    cli_fit,
    cli_rfm,
    cli_startup,
    cnbd_fit,
    cohorts,
    fit_map,
    nuts,
    pg_rfm,
    rfm,
    rfm_file,
    rfm_spark,
    sbg_fit,
    score,
    score_200,
)
from .posterior import child_posterior
from .visits import child_prepare_visits
from .warmup import child_warmup_score

JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        rfm.JOB,
        rfm_file.JOB,
        rfm_spark.JOB,
        fit_map.JOB,
        nuts.JOB,
        score.JOB,
        score_200.JOB,
        cdnow_clv.JOB,
        cohorts.JOB,
        cli_rfm.JOB,
        cli_startup.JOB,
        cli_fit.JOB,
        sbg_fit.JOB,
        cnbd_fit.JOB,
        cli_churn.JOB,
        pg_rfm.JOB,
        cli_engagement.JOB,
        cli_conversion.JOB,
        cli_experiment.JOB,
    )
}
#: The children that are not a job's side, by (``--job``, ``--side``); ``--job check
#: --side NAME`` runs job NAME's agreement check.
TASKS: dict[tuple[str, str], Child] = {
    ("prepare", "data"): child_prepare,
    ("prepare_nuts", "data"): nuts.child_prepare,
    ("prepare_cdnow", "data"): cdnow_clv.child_prepare,
    ("prepare_churn", "data"): cli_churn.child_prepare,
    ("prepare_experiment", "data"): cli_experiment.child_prepare,
    ("prepare_visits", "data"): child_prepare_visits,
    ("posterior", "data"): child_posterior,
    ("warmup_score", "ours"): child_warmup_score,
}
#: Every value ``--job`` takes: the jobs, then the children's internal tasks.
CHILD_JOBS = (
    *JOBS,
    "prepare",
    "prepare_nuts",
    "prepare_cdnow",
    "prepare_churn",
    "prepare_experiment",
    "prepare_visits",
    "posterior",
    "check",
    "warmup_score",
)


def child_for(job: str, side: str) -> Child:
    """The function a child process runs for ``--job job --side side``."""
    if job == "check":
        check = JOBS[side].check
        if check is None:
            raise KeyError((job, side))
        return check
    if job in JOBS:
        return JOBS[job].sides[side]
    return TASKS[(job, side)]
