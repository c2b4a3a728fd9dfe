"""Churn drivers from the companies, activities and people tables, aligned to SUBS rows.

Activity is read only where it cannot contain the outcome:

* :func:`activity_baseline`, a landmark analysis: the mean monthly activity over each
  customer's first ``N`` billing periods; customers whose first spell ended within those
  periods are left out, and the Cox model uses only the time after the landmark
  (``entry = N``), so no churner's last months are read;
* :func:`activity_episodes`, episode splitting: one row per customer and billing period
  ``(k − 1, k]`` whose covariate is the activity of period ``k − lag``, never of the period
  in which the customer stops.

Activity covariates are ``log2(1 + mean monthly count)``: the Cox hazard ratio is per doubling.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, DataQualityWarning
from clvmodels.subscriptions.survival import natural_key, survival_durations

_DURATION_COLUMNS = ("customer_id", "first_spell_periods", "T", "first_spell_churned")


def company_covariates(
    customer_ids: Any,
    companies: pd.DataFrame,
    *,
    key: str = "id",
    columns: Sequence[str] = ("industry", "size_band"),
) -> pd.DataFrame:
    """Company columns aligned to the SUBS rows, matched on ids exactly.

    Parameters
    ----------
    customer_ids : array_like
        SUBS ``customer_id`` (int64 or strings, kept as written).
    companies : DataFrame
        The companies table; ``key`` its id column (unique).
    columns : sequence of str
        The columns to take.

    Returns
    -------
    DataFrame
        ``customer_id`` and ``columns``, one row per customer in the given order; customers
        without a company have missing values, are counted in ``attrs["missing_companies"]``
        and a :class:`~clvmodels.errors.DataQualityWarning` says how many.

    Raises
    ------
    DataError
        A missing column, duplicate company ids, ids stored as floats, or no customer found.
    """
    ids = pd.Series(customer_ids).reset_index(drop=True)
    _require(companies, [key, *columns], "companies")
    at = _match(ids, companies[key], key)
    found = at >= 0
    if not found.any():
        raise DataError(
            "no customer id matches a company id",
            column=key,
            n_rows=len(ids),
            examples=ids.head(5).tolist(),
            hint="check the --company-key column and that ids are written the same way",
        )
    out = pd.DataFrame({"customer_id": ids.to_numpy()})
    for col in columns:
        values = companies[col].reset_index(drop=True)
        out[col] = values.reindex(np.where(found, at, -1)).to_numpy()
        out.loc[~found, col] = None
    missing = int((~found).sum())
    out.attrs["missing_companies"] = missing
    if missing:
        examples = ", ".join(map(str, ids[~found].head(5)))
        warnings.warn(
            f"{missing:,} customers have no row in the companies table (e.g. {examples}); "
            "their company covariates are missing",
            DataQualityWarning,
            stacklevel=2,
        )
    return out


def activity_baseline(
    subs: pd.DataFrame,
    activities: pd.DataFrame,
    *,
    key: str = "company_id",
    month_col: str = "month",
    measures: Sequence[str] | None = None,
    baseline_periods: int = 3,
) -> pd.DataFrame:
    """Mean monthly activity over the first ``baseline_periods`` billing periods (a landmark).

    The window is the calendar months of periods ``1..N`` counted from the month of
    ``first_payment`` (``N`` months for monthly billing, ``12 N`` for yearly); a month
    without an activity row counts 0. Customers whose duration is ``<= N`` (churned in the
    window, or observed for fewer than ``N`` renewals) are excluded and counted in
    ``attrs["excluded"]``; the others are at risk from ``entry = N`` on.

    Returns
    -------
    DataFrame
        ``customer_id, duration, event, entry`` and one column ``log2(1+<measure>)`` per
        measure (:func:`survival_durations` gives duration and event), for the customers
        who reached the landmark.
    """
    if int(baseline_periods) < 1:
        raise ValueError(f"baseline_periods must be >= 1; got {baseline_periods}")
    base = _durations(subs)
    step = _months_per_period(subs)
    pos, offset, values, names = _activity_offsets(subs, activities, key, month_col, measures)
    window = int(baseline_periods) * step
    inside = (offset >= 0) & (offset < window)
    keep = base["duration"].to_numpy() > int(baseline_periods)
    out = base.assign(entry=int(baseline_periods))
    for j, name in enumerate(names):
        total = np.bincount(pos[inside], weights=values[inside, j], minlength=len(base))
        out[f"log2(1+{name})"] = np.log2(1 + total / window)
    out = out[keep].reset_index(drop=True)
    out.attrs["excluded"] = int((~keep).sum())
    return out


def activity_episodes(
    subs: pd.DataFrame,
    activities: pd.DataFrame,
    *,
    key: str = "company_id",
    month_col: str = "month",
    measures: Sequence[str] | None = None,
    lag_periods: int = 1,
) -> pd.DataFrame:
    """Time-varying activity by episode splitting: one row per customer and billing period.

    Row ``k`` (``entry = k − 1``, ``exit = k``, ``k = lag + 1 .. duration``) carries the mean
    monthly activity of period ``k − lag`` and ``event = 1`` only on a churner's last row;
    ``cox(exit, event, covariates, entry=entry)`` then fits the hazard at ``k`` on the
    activity ``lag`` periods earlier. Customers with duration ``<= lag`` have no row.

    Returns
    -------
    DataFrame
        ``customer_id, period, entry, exit, event`` and ``log2(1+<measure>)`` per measure.
    """
    lag = int(lag_periods)
    if lag < 1:
        raise ValueError(f"lag_periods must be >= 1; got {lag_periods}")
    base = _durations(subs)
    step = _months_per_period(subs)
    pos, offset, values, names = _activity_offsets(subs, activities, key, month_col, measures)
    duration, event = base["duration"].to_numpy(), base["event"].to_numpy()
    rows = np.maximum(duration - lag, 0)
    who = np.repeat(np.arange(len(base)), rows)
    k = np.arange(len(who)) - np.repeat(np.cumsum(rows) - rows, rows) + lag + 1
    width = int(duration.max()) + 1
    seen = offset >= 0
    act_key = pos[seen] * width + offset[seen] // step
    uniq, inverse = np.unique(act_key, return_inverse=True)
    ep_key = who * width + (k - lag - 1)
    at = np.minimum(np.searchsorted(uniq, ep_key), max(len(uniq) - 1, 0))
    hit = (uniq[at] == ep_key) if len(uniq) else np.zeros(len(ep_key), dtype=bool)
    out = pd.DataFrame(
        {
            "customer_id": base["customer_id"].to_numpy()[who],
            "period": k,
            "entry": k - 1,
            "exit": k,
            "event": ((k == duration[who]) & (event[who] == 1)).astype(np.int64),
        }
    )
    for j, name in enumerate(names):
        sums = np.bincount(inverse, weights=values[seen, j], minlength=len(uniq))
        mean = np.where(hit, sums[at] if len(uniq) else 0.0, 0.0) / step
        out[f"log2(1+{name})"] = np.log2(1 + mean)
    return out


def profile(
    subs: pd.DataFrame,
    groups: str | Sequence[str] | None = None,
    companies: pd.DataFrame | None = None,
    people: pd.DataFrame | None = None,
    *,
    company_key: str = "id",
    people_key: str = "company_id",
    columns: Sequence[str] = ("size_band", "industry"),
) -> pd.DataFrame:
    """The typical customer per group.

    Parameters
    ----------
    subs : DataFrame
        The SUBS table.
    groups : str or sequence of str, optional
        SUBS columns to group by (the ``--by`` columns); without them, ``group = "all"``.
    companies, people : DataFrame, optional
        For the ``share_<value>`` mix of ``columns`` and for ``mean_users``.

    Returns
    -------
    DataFrame
        The group columns, ``customers``, ``churned_share``, ``median_tenure_periods`` (median
        ``periods_paid`` so far, active customers included), ``mean_users`` (people not
        deleted, per company; NaN without ``people``), ``share_<value>`` for each value of
        ``columns`` (``<column>_unknown`` for customers without a company; a value present
        in two columns is prefixed by its column) and ``revenue_per_customer``.
    """
    by = [groups] if isinstance(groups, str) else list(groups or [])
    _require(subs, ["customer_id", "churned", "periods_paid", "revenue", *by], "SUBS")
    frame = subs[["customer_id", "churned", "periods_paid", "revenue", *by]].reset_index(drop=True)
    if not by:
        frame["group"], by = "all", ["group"]
    frame["users"] = (
        np.nan if people is None else _active_users(frame["customer_id"], people, people_key)
    )
    shares: list[str] = []
    if companies is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            mix = company_covariates(
                frame["customer_id"], companies, key=company_key, columns=columns
            )
        shares = _add_shares(frame, mix, columns)
    grouped = frame.groupby(by, sort=True, observed=True, dropna=False)
    out = grouped.agg(
        customers=("customer_id", "size"),
        churned_share=("churned", "mean"),
        median_tenure_periods=("periods_paid", "median"),
        mean_users=("users", "mean"),
        **{s: (s, "mean") for s in shares},
        revenue_per_customer=("revenue", "mean"),
    )
    return out.reset_index()


def _add_shares(frame: pd.DataFrame, mix: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    values = {col: mix[col].dropna().unique().tolist() for col in columns}
    names: list[str] = []
    for col in columns:
        others = {v for c, vs in values.items() if c != col for v in vs}
        for value in sorted(values[col], key=natural_key):
            name = f"share_{col}_{value}" if value in others else f"share_{value}"
            frame[name] = (mix[col] == value).to_numpy(dtype=float)
            names.append(name)
        unknown = mix[col].isna().to_numpy()
        if unknown.any():
            frame[f"share_{col}_unknown"] = unknown.astype(float)
            names.append(f"share_{col}_unknown")
    return names


def _active_users(customer_ids: pd.Series, people: pd.DataFrame, key: str) -> np.ndarray:
    _require(people, [key, "deleted_at"], "people")
    active = people[people["deleted_at"].isna()]
    counts = active.groupby(key, sort=False).size()
    at = _match(customer_ids, pd.Series(counts.index), key)
    return np.where(at >= 0, counts.to_numpy()[np.maximum(at, 0)], 0).astype(float)


def _durations(subs: pd.DataFrame) -> pd.DataFrame:
    _require(subs, [*_DURATION_COLUMNS, "first_payment"], "SUBS")
    duration, event = survival_durations(
        subs["first_spell_periods"], subs["T"], subs["first_spell_churned"]
    )
    return pd.DataFrame(
        {"customer_id": subs["customer_id"].to_numpy(), "duration": duration, "event": event}
    )


def _months_per_period(subs: pd.DataFrame) -> int:
    if "billing_period" not in subs.columns:
        return 1
    periods = subs["billing_period"].dropna().unique().tolist()
    if len(periods) != 1 or periods[0] not in ("month", "year"):
        raise DataError(
            "billing_period must be 'month' or 'year', the same on every row",
            column="billing_period",
            examples=periods[:5],
        )
    return 1 if periods[0] == "month" else 12


def _activity_offsets(
    subs: pd.DataFrame,
    activities: pd.DataFrame,
    key: str,
    month_col: str,
    measures: Sequence[str] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Per activity row: the customer's SUBS row, months since its first payment, counts."""
    _require(activities, [key, month_col], "activities")
    names = list(measures) if measures is not None else [
        c for c in activities.columns
        if c not in (key, month_col) and pd.api.types.is_numeric_dtype(activities[c])
    ]  # fmt: skip
    _require(activities, names, "activities")
    if not names:
        raise DataError("no numeric activity measure columns", column=month_col)
    month = _month_index(activities[month_col], month_col)
    first = _month_index(subs["first_payment"], "first_payment")
    pos = _match(activities[key], subs["customer_id"], key)
    values = activities[names].to_numpy(dtype=float)
    bad = np.isnan(values) | (values < 0)
    if bad.any():
        raise DataError(
            "activity counts must be present and >= 0",
            column=names[int(np.flatnonzero(bad.any(axis=0))[0])],
            n_rows=int(bad.any(axis=1).sum()),
        )
    keep = pos >= 0
    pos, month, values = pos[keep], month[keep], values[keep]
    dup = pd.Series(pos * 1_000_000 + (month - month.min() if len(month) else month)).duplicated()
    if dup.any():
        raise DataError(
            "more than one activity row for a customer and month",
            column=month_col,
            n_rows=int(dup.sum()),
            examples=activities[key].to_numpy()[np.flatnonzero(keep)[dup.to_numpy()][:5]],
        )
    return pos, month - first[pos], values, names


def _month_index(values: pd.Series, column: str) -> np.ndarray:
    if not pd.api.types.is_datetime64_any_dtype(values):
        raise DataError("expected dates (datetime64)", column=column, examples=values.head(3))
    if values.isna().any():
        raise DataError("missing dates", column=column, n_rows=int(values.isna().sum()))
    return values.to_numpy().astype("datetime64[M]").astype(np.int64)


def _match(left: pd.Series, right: pd.Series, column: str) -> np.ndarray:
    """Position in ``right`` of each id in ``left`` (-1 if absent); ids compared as written."""
    a, b = _id_values(left, column), _id_values(right, column)
    if a.dtype.kind != b.dtype.kind:
        a, b = a.astype(str).astype(object), b.astype(str).astype(object)
    index = pd.Index(b)
    if not index.is_unique:
        dup = index[index.duplicated()]
        raise DataError("duplicate ids", column=column, n_rows=len(dup), examples=dup[:5])
    return index.get_indexer(a)


def _id_values(ids: pd.Series, column: str) -> np.ndarray:
    ids = pd.Series(ids)
    if pd.api.types.is_float_dtype(ids):
        raise DataError(
            "ids stored as floats cannot be matched exactly",
            column=column,
            examples=ids.head(3).tolist(),
            hint="read the id column as integers or text",
        )
    if pd.api.types.is_integer_dtype(ids):
        return ids.to_numpy(dtype=np.int64)
    return ids.astype(str).to_numpy(dtype=object)


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing from the {table} table (it has {', '.join(map(str, frame.columns[:12]))})",
            column=missing[0],
        )
