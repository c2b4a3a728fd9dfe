"""An experiment's analysis: summary per group, tests against the control, SRM, normality.

Definitions (``docs/experiments.md``, "clv experiment"):

* The **control** defaults to the first group in sorted order; every other group is a
  **variant**, compared with the control.
* ``summary`` (one row per group): ``users`` (with a complete window), ``converters`` (users
  with at least one order in their window), ``conversion_rate = converters / users``,
  ``revenue`` (in the windows), ``revenue_per_user = revenue / users`` and
  ``orders_per_user = orders / users`` (both over all users, zeros included).
* ``tests`` (one row per metric, variant and test): ``metric`` (``conversion``,
  ``revenue_per_user``, ``orders_per_user``), ``group``, ``test`` (``chi2`` for conversion;
  ``welch_t``, ``mann_whitney``, ``bootstrap`` for the means), ``difference`` (variant minus
  control), ``relative_lift`` (difference / control's value), ``ci_low``, ``ci_high`` (the
  difference's interval at ``level``, 95% by default), ``p_value`` and ``p_value_adjusted``
  (Holm over the variants within each (metric, test)). Mann–Whitney gives a p-value only, the
  bootstrap an interval only (other columns empty); the tests are in
  :mod:`clvmodels.experiments.stats`.
* ``srm``: users assigned per group (before users with incomplete windows are left out)
  against the planned split (default: equal shares).
* ``checks``: per mean metric and group, skewness, kurtosis, normality p-value and a note on
  whether the t-test's normal approximation holds at this n.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import DataError
from clvmodels.experiments import stats
from clvmodels.experiments.outputs import CLV_LIFT_LABEL, SUMMARY_COLUMNS, TEST_COLUMNS

#: The metrics compared as means per user, and their names in notes.
MEAN_METRICS = {"revenue_per_user": "revenue per user", "orders_per_user": "orders per user"}
_MEAN_SOURCE = {"revenue_per_user": "revenue", "orders_per_user": "orders"}
#: Bootstrap resamples by default.
N_BOOT = 2000


@dataclass
class Analysis:
    """What :func:`analyse` found: the tables and the settings used.

    Attributes
    ----------
    summary, tests : pandas.DataFrame
        See the module docstring (columns :data:`SUMMARY_COLUMNS`, :data:`TEST_COLUMNS`).
    srm, checks : dict
        See :func:`clvmodels.experiments.stats.srm_test` and ``normality_check``.
    control : str
    variants : list of str
    settings : dict
        ``control``, ``planned_split``, ``seed``, ``n_boot``, ``level``, and which were defaults.
    """

    summary: pd.DataFrame
    tests: pd.DataFrame
    srm: dict[str, Any]
    checks: dict[str, Any]
    control: str
    variants: list[str]
    settings: dict[str, Any] = field(default_factory=dict)


def parse_split(text: str) -> dict[str, float]:
    """Parse a planned split ``A=50,B=50`` (any positive weights) into group -> weight.

    Raises
    ------
    ValueError
        An entry without ``=``, a weight that is not a positive finite number, or a group
        named twice.
    """
    split: dict[str, float] = {}
    for part in str(text).split(","):
        name, sep, weight = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"planned split {text!r}: write it as A=50,B=50")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(
                f"planned split {text!r}: {weight.strip()!r} is not a number"
            ) from None
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"planned split {text!r}: the share of {name} must be positive")
        if name in split:
            raise ValueError(f"planned split {text!r}: {name} is named twice")
        split[name] = value
    return split


def check_groups(
    assigned: Mapping[str, int],
    kept: Mapping[str, int],
    *,
    control: str | None,
    planned_split: Mapping[str, float] | None,
) -> tuple[str, list[str], dict[str, float]]:
    """The control, the variants and the planned split, checked against the groups.

    Parameters
    ----------
    assigned : mapping
        Group -> users assigned.
    kept : mapping
        Group -> users with a complete window.

    Raises
    ------
    DataError
        One group only; a control or planned-split group without users; a group with users
        but no complete window; a group missing from the planned split.
    """
    groups = sorted(assigned)
    if len(groups) < 2:
        raise DataError(
            f"the assignments have one group only ({', '.join(groups)}): an experiment "
            "compares at least two",
            hint="check --assignments-group-col",
        )
    chosen = groups[0] if control is None else str(control)
    if chosen not in assigned:
        raise DataError(
            f"the control {chosen!r} has no users; the groups are {', '.join(groups)}",
            hint="pass one of them to --control",
        )
    empty = [g for g in groups if kept.get(g, 0) == 0]
    if empty:
        raise DataError(
            f"group {', '.join(empty)} has no user with a complete window by the observation end",
            hint="lower --window-days or pass a later --observation-end",
        )
    split = dict.fromkeys(groups, 1.0) if planned_split is None else dict(planned_split)
    unknown = [g for g in split if g not in assigned]
    if unknown:
        raise DataError(
            f"the planned split names {', '.join(unknown)}, which has no users; the groups "
            f"are {', '.join(groups)}",
            hint="--planned-split names the groups as the assignments write them",
        )
    missing = [g for g in groups if g not in split]
    if missing:
        raise DataError(
            f"the planned split gives no share to {', '.join(missing)}",
            hint="name every group in --planned-split, e.g. " + ",".join(f"{g}=1" for g in groups),
        )
    return chosen, [g for g in groups if g != chosen], {g: split[g] for g in groups}


def summary_table(users: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """One row per group (``groups`` order): see the module docstring."""
    grouped = users.groupby("group", sort=False).agg(
        users=("uid", "size"),
        converters=("converted", "sum"),
        revenue=("revenue", "sum"),
        orders=("orders", "sum"),
    )
    table = grouped.reindex(groups)
    table["conversion_rate"] = table["converters"] / table["users"]
    table["revenue_per_user"] = table["revenue"] / table["users"]
    table["orders_per_user"] = table["orders"] / table["users"]
    table = table.rename_axis("group").reset_index()
    table["group"] = table["group"].astype(object)
    table["converters"] = table["converters"].astype("int64")
    return table[list(SUMMARY_COLUMNS)]


def analyse(
    users: pd.DataFrame,
    assigned: Mapping[str, int],
    *,
    control: str | None = None,
    planned_split: Mapping[str, float] | None = None,
    seed: int = 0,
    n_boot: int = N_BOOT,
    level: float = 0.95,
) -> Analysis:
    """Summarise and test an experiment from its per-user window table.

    Parameters
    ----------
    users : pandas.DataFrame
        The per-user window table (:func:`clvmodels.experiments.windows.user_windows`).
    assigned : mapping
        Group -> users assigned (the SRM test's observed counts).
    control : str, optional
        Default: the first group in sorted order.
    planned_split : mapping, optional
        Group -> planned share (default: equal shares).
    seed : int
        Seeds the bootstrap.
    n_boot : int
        Bootstrap resamples.
    level : float
        The intervals' confidence level.

    Returns
    -------
    Analysis
    """
    kept = users["group"].value_counts().to_dict()
    chosen, variants, split = check_groups(
        assigned, kept, control=control, planned_split=planned_split
    )
    groups = [chosen, *variants]
    summary = summary_table(users, groups)
    values = {
        g: {m: frame[_MEAN_SOURCE[m]].to_numpy(dtype="float64") for m in MEAN_METRICS}
        for g, frame in users.groupby("group", sort=False)
    }
    rows = _conversion_rows(summary, chosen, variants, level)
    rows += _mean_rows(values, chosen, variants, seed=seed, n_boot=n_boot, level=level)
    tests = _with_holm(pd.DataFrame(rows, columns=list(TEST_COLUMNS[:-1])))
    srm = stats.srm_test({g: int(assigned[g]) for g in groups}, split)
    checks = {
        metric: {g: stats.normality_check(values[g][metric], what) for g in groups}
        for metric, what in MEAN_METRICS.items()
    }
    settings = {
        "control": chosen,
        "control_is_default": control is None,
        "planned_split": srm["planned"],
        "planned_split_is_default": planned_split is None,
        "seed": seed,
        "n_boot": n_boot,
        "level": level,
    }
    return Analysis(summary, tests, srm, checks, chosen, variants, settings)


def _conversion_rows(
    summary: pd.DataFrame, control: str, variants: list[str], level: float
) -> list[dict[str, Any]]:
    by_group = summary.set_index("group")
    c = by_group.loc[control]
    rows = []
    for g in variants:
        v = by_group.loc[g]
        result = stats.conversion_test(
            int(c["converters"]),
            int(c["users"]),
            int(v["converters"]),
            int(v["users"]),
            level=level,
        )
        rows.append({"metric": "conversion", "group": g, "test": "chi2", **_columns(result)})
    return rows


def _columns(result: Mapping[str, float]) -> dict[str, float]:
    return {k: result[k] for k in ("difference", "relative_lift", "ci_low", "ci_high", "p_value")}


def _mean_rows(
    values: Mapping[str, Mapping[str, np.ndarray]],
    control: str,
    variants: list[str],
    *,
    seed: int,
    n_boot: int,
    level: float,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    groups = [control, *variants]
    for k, metric in enumerate(MEAN_METRICS):
        boot = {
            g: stats.bootstrap_means(values[g][metric], n_boot, np.random.default_rng([seed, k, j]))
            for j, g in enumerate(groups)
        }
        x_c = values[control][metric]
        for g in variants:
            x_v = values[g][metric]
            base = {"metric": metric, "group": g}
            rows.append(
                {**base, "test": "welch_t", **_columns(stats.welch_test(x_c, x_v, level=level))}
            )
            empty = dict.fromkeys(("difference", "relative_lift", "ci_low", "ci_high"), math.nan)
            rows.append(
                {**base, "test": "mann_whitney", **empty, "p_value": stats.mann_whitney_p(x_c, x_v)}
            )
            low, high = stats.percentile_interval(boot[control], boot[g], level=level)
            rows.append(
                {
                    **base,
                    "test": "bootstrap",
                    **empty,
                    "ci_low": low,
                    "ci_high": high,
                    "p_value": math.nan,
                }
            )
    return rows


def _with_holm(tests: pd.DataFrame) -> pd.DataFrame:
    adjusted = pd.Series(np.nan, index=tests.index)
    for _, part in tests.groupby(["metric", "test"], sort=False):
        adjusted.loc[part.index] = stats.holm(part["p_value"].to_numpy())
    tests["p_value_adjusted"] = adjusted
    tests["group"] = tests["group"].astype(object)
    return tests


def lift_rows(
    tests: pd.DataFrame,
    summary: pd.DataFrame,
    control: str,
    clv: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Relative lifts with intervals, for the forest plot: one row per metric and variant.

    The lift is ``relative_lift`` of chi2 (conversion) and welch_t (means); its interval is
    the difference's interval divided by the control's value (the control's own uncertainty
    is in the interval of the difference, not in the divisor). With ``clv`` (the ``clv.csv``
    table, :data:`clvmodels.experiments.outputs.CLV_COLUMNS`) the ``clv`` rows of ``tests``
    (test ``posterior``) are added the same way over the control's ``mean_clv``, labelled
    :data:`clvmodels.experiments.outputs.CLV_LIFT_LABEL` (their intervals are 94%).
    """
    base = summary.set_index("group").loc[control]
    control_value = {
        "conversion": base["conversion_rate"],
        "revenue_per_user": base["revenue_per_user"],
        "orders_per_user": base["orders_per_user"],
    }
    shown = ((tests["metric"] == "conversion") & (tests["test"] == "chi2")) | (
        tests["metric"].isin(list(MEAN_METRICS)) & (tests["test"] == "welch_t")
    )
    if clv is not None:
        control_value["clv"] = clv.loc[clv["group"] == control, "mean_clv"].iloc[0]
        shown = shown | ((tests["metric"] == "clv") & (tests["test"] == "posterior"))
    rows = []
    for row in tests[shown].itertuples(index=False):
        value = float(control_value[row.metric])
        scale = value if value != 0 else math.nan
        rows.append(
            {
                "metric": CLV_LIFT_LABEL if row.metric == "clv" else row.metric,
                "group": row.group,
                "lift": row.relative_lift,
                "lift_low": row.ci_low / scale,
                "lift_high": row.ci_high / scale,
            }
        )
    return pd.DataFrame(rows, columns=["metric", "group", "lift", "lift_low", "lift_high"])
