"""From payments to subscriptions: one row per customer (the SUBS table).

:func:`summarize_billing` turns the payments of a billing table (as
:func:`clvmodels.data.billing.read_billing` returns them) into one row per customer: plan,
signup cohort, periods paid, churned, periods observed (T), reactivations, the first spell
(what the shifted-beta-geometric model uses), revenue and the current price. The rules are
stated for users in ``docs/subscriptions.md`` ("From a billing table"):

* paid rows are those with status ``"paid"``; the others are dropped and counted per status;
* a paid row with a negative amount is a refund: it reduces revenue, its dates are ignored;
* exact duplicates (customer, payment date, paid-until, amount) are dropped and counted;
* each payment covers the days [payment date, paid-until); overlapping periods are merged
  (the union is counted once) and the overlaps counted;
* a payment that starts more than ``grace_days`` after the latest paid-until so far starts a
  new spell (a reactivation).

Pure pandas and numpy; every step is vectorised over all customers at once (sorted by
customer and payment date; running maxima and sums by group), no Python loop per customer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import numpy as np
import pandas as pd

from clvmodels.data.rules import RULES
from clvmodels.data.subscriptions import BILLING_PERIOD_DAYS
from clvmodels.errors import DataError, Label

BillingPeriod = Literal["month", "year"]

_DAY_NS = 86_400 * 10**9
#: The longest grace accepted (ten years).
MAX_GRACE_DAYS = 3660


def check_billing_period(value: Any, name: str = "billing_period") -> BillingPeriod:
    """Return ``"month"`` or ``"year"``; raise ``ValueError`` (naming ``name``) otherwise."""
    period = str(value).strip().lower()
    if period not in BILLING_PERIOD_DAYS:
        raise ValueError(f"{name} must be 'month' or 'year'; got {value!r}")
    return period  # type: ignore[return-value]


def check_grace_days(value: Any, name: str = "grace_days") -> int:
    """Return the grace as a whole number of days in [0, 3660]; raise ``ValueError`` otherwise."""
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{name} must be a whole number of days; got {value!r}")
    days = int(value)
    if not 0 <= days <= MAX_GRACE_DAYS:
        raise ValueError(f"{name} must be in [0, {MAX_GRACE_DAYS}] days; got {value!r}")
    return days


def summarize_billing(
    payments: pd.DataFrame,
    *,
    billing_period: str,
    grace_days: int = 0,
    observation_end: str | dt.date | pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One row per customer (the SUBS table) from the payments of a billing table.

    Parameters
    ----------
    payments : pandas.DataFrame
        ``customer_id``, ``payment_date``, ``paid_until`` (datetime64), ``amount``, ``plan``
        and optionally ``status`` (rows whose status is not ``"paid"`` are dropped and
        counted), as :func:`clvmodels.data.billing.read_billing` returns them.
    billing_period : {"month", "year"}
        The period of a renewal; its average length is 365.2425 / 12 or 365.2425 days.
    grace_days : int
        Days a customer may stay unpaid after a paid-until date and still be the same spell
        (and not churned). Default 0.
    observation_end : date, optional
        The day the billing table was observed to. Default: the day of the latest paid
        payment. A paid payment on a later day is an error.

    Returns
    -------
    subs : pandas.DataFrame
        :data:`clvmodels.data.subscriptions.SUBS_COLUMNS`, one row per customer with at
        least one paid payment that is not a refund, sorted by ``customer_id``. With ``P``
        the period length in days, per customer:

        * ``periods_paid = max(1, round(U / P))``, ``U`` the length in days of the union of
          the covered intervals [payment_date, paid_until) (half up);
        * ``churned = paid_until + grace < observation_end``;
        * ``T = m + 1``, ``m`` the whole calendar periods from the day of the first payment to
          the observation end (a month from Jan 31 is Feb 28/29);
        * ``reactivations``: payments starting more than ``grace`` days after the running
          maximum of the earlier paid-until dates;
        * ``first_spell_periods``: ``periods_paid`` of the payments before the first
          reactivation; ``first_spell_churned = reactivations > 0 or churned``;
        * ``revenue``: sum of the paid amounts, refunds (negative) included;
        * ``price_per_period``: the last payment's amount / max(1, round(its days / P)).
    report : dict
        The settings used and the counts: ``payments``, ``paid_payments``,
        ``unpaid_by_status``, ``duplicates``, ``refunds``, ``refunded_amount``,
        ``refund_only_customers``, ``overlaps``, ``customers``, ``churned``,
        ``reactivations``, ``reactivated_customers``.

    Raises
    ------
    DataError
        Paid payments after the observation end, missing payment dates, paid-until dates that
        are missing (on payments that are not refunds) or before the payment date.
    """
    period = check_billing_period(billing_period)
    grace = check_grace_days(grace_days)
    paid, report = _paid_payments(payments)
    end = _observation_end(paid, observation_end)
    report.update(
        billing_period=period,
        period_days=BILLING_PERIOD_DAYS[period],
        grace_days=grace,
        observation_end=end.date().isoformat(),
        observation_end_default=observation_end is None,
    )
    subs, counts = _customers(paid, period, grace, end)
    report.update(counts)
    return subs, report


def _paid_payments(payments: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The paid rows without exact duplicates, checked, and the counts of what was dropped."""
    report: dict[str, Any] = {"payments": len(payments)}
    if "status" in payments.columns:
        status = payments["status"].astype(object)
        is_paid = (status == "paid").to_numpy(dtype=bool)
        unpaid = status[~is_paid].fillna("(missing)").value_counts(sort=True)
        report["unpaid_by_status"] = {str(k): int(v) for k, v in unpaid.items()}
        paid = payments.loc[is_paid]
    else:
        report["unpaid_by_status"] = {}
        paid = payments
    columns = ["customer_id", "payment_date", "paid_until", "amount", "plan"]
    paid = paid[columns].reset_index(drop=True)
    report["paid_payments"] = len(paid)
    if len(paid) == 0:
        statuses = ", ".join(repr(s) for s in report["unpaid_by_status"]) or "none"
        raise DataError(
            f"the billing table has no paid payments (statuses: {statuses})",
            column="status" if report["unpaid_by_status"] else None,
            hint="Name the statuses of paid payments with --paid-values (paid_values)",
        )
    duplicated = paid.duplicated(["customer_id", "payment_date", "paid_until", "amount"])
    report["duplicates"] = int(duplicated.sum())
    paid = paid.loc[~duplicated.to_numpy()].reset_index(drop=True)
    _check_dates(paid)
    refund = (paid["amount"] < 0).to_numpy()
    report["refunds"] = int(refund.sum())
    report["refunded_amount"] = 0.0 - float(paid["amount"].to_numpy()[refund].sum())
    return paid, report


def _check_dates(paid: pd.DataFrame) -> None:
    """The rules of :func:`read_billing`, for tables built in memory."""
    missing = paid["payment_date"].isna().to_numpy()
    if missing.any():
        raise RULES["missing_date"].error(
            "payment_date", n_rows=int(missing.sum()), examples=_customers_of(paid, missing)
        )
    no_amount = ~np.isfinite(paid["amount"].to_numpy(dtype="float64"))
    if no_amount.any():
        raise RULES["missing_amount"].error(
            "amount", n_rows=int(no_amount.sum()), examples=_customers_of(paid, no_amount)
        )
    no_until = (paid["paid_until"].isna() & (paid["amount"] >= 0)).to_numpy()
    if no_until.any():
        raise RULES["missing_paid_until"].error(
            "paid_until", n_rows=int(no_until.sum()), examples=_customers_of(paid, no_until)
        )
    backwards = (paid["paid_until"] < paid["payment_date"]).to_numpy()
    if backwards.any():
        raise RULES["paid_until_order"].error(
            "paid_until",
            n_rows=int(backwards.sum()),
            examples=_customers_of(paid, backwards),
            paid_until="paid_until",
            payment_date="payment_date",
        )


def _customers_of(paid: pd.DataFrame, mask: np.ndarray) -> list[Label]:
    rows = paid.loc[mask].head(5)
    return [
        Label(f"customer {c} on {d.date() if pd.notna(d) else 'no date'}")
        for c, d in zip(rows["customer_id"], rows["payment_date"], strict=True)
    ]


def _observation_end(paid: pd.DataFrame, observation_end: Any) -> pd.Timestamp:
    """The observation end as a day; payments (not refunds) on a later day are an error."""
    paid = paid.loc[(paid["amount"] >= 0).to_numpy()]
    days = paid["payment_date"].dt.normalize()
    if observation_end is None:
        return pd.Timestamp(days.max())
    end = pd.Timestamp(observation_end)
    if end.tzinfo is not None:
        end = end.tz_localize(None)
    end = end.normalize()
    after = (days > end).to_numpy()
    if after.any():
        raise RULES["after_observation_end"].error(
            "payment_date",
            n_rows=int(after.sum()),
            examples=_customers_of(paid, after),
            observation_end=end.date().isoformat(),
        )
    return end


def _customers(
    paid: pd.DataFrame, period: BillingPeriod, grace: int, end: pd.Timestamp
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The SUBS rows: vectorised over customers (sorted by customer and payment date)."""
    codes, ids = pd.factorize(paid["customer_id"], sort=True)
    amount = paid["amount"].to_numpy(dtype="float64")
    revenue = np.bincount(codes, weights=amount, minlength=len(ids))
    cover = amount >= 0
    c = codes[cover]
    start = paid["payment_date"].to_numpy("datetime64[ns]")[cover].view("int64")
    stop = paid["paid_until"].to_numpy("datetime64[ns]")[cover].view("int64")
    order, running_max = _by_customer_and_date(c, start, stop)
    c, start, stop = c[order], start[order], stop[order]
    plans = paid["plan"].to_numpy(dtype=object)[cover][order]
    amounts = amount[cover][order]
    first = np.r_[True, c[1:] != c[:-1]]
    last = np.r_[c[1:] != c[:-1], True]
    running = running_max(c, stop)
    before = np.empty_like(running)  # latest paid-until of the customer's earlier payments
    before[1:] = running[:-1]
    before[first] = start[first]
    days = np.maximum(stop - np.maximum(start, before), 0) / _DAY_NS
    overlap = ~first & (start < before)
    new_spell = ~first & (start - before > grace * _DAY_NS)
    spell_no = np.cumsum(new_spell)
    spell_no -= np.repeat(spell_no[first], np.diff(np.r_[np.flatnonzero(first), len(c)]))
    kept = c[first]  # the customers with a payment that is not a refund
    n = len(ids)
    period_days = BILLING_PERIOD_DAYS[period]
    paid_until = running[last]
    first_day = start[first]
    churned = paid_until + grace * _DAY_NS < end.value
    reactivations = np.bincount(c, weights=new_spell, minlength=n)[kept].astype("int64")
    last_days = (stop[last] - start[last]) / _DAY_NS
    first_payment = pd.DatetimeIndex(first_day.view("datetime64[ns]"))
    subs = pd.DataFrame(
        {
            "customer_id": _ids(ids, kept),
            "plan": plans[first],
            "plan_last": plans[last],
            "cohort": _cohorts(first_payment, period),
            "first_payment": first_payment,
            "paid_until": paid_until.view("datetime64[ns]"),
            "periods_paid": _periods(np.bincount(c, weights=days, minlength=n)[kept], period_days),
            "churned": churned,
            "T": _periods_observed(first_payment.normalize(), end, period) + 1,
            "reactivations": reactivations,
            "first_spell_periods": _periods(
                np.bincount(c, weights=days * (spell_no == 0), minlength=n)[kept], period_days
            ),
            "first_spell_churned": (reactivations > 0) | churned,
            "revenue": revenue[kept],
            "price_per_period": amounts[last] / _periods(last_days, period_days),
            "billing_period": period,
        }
    )
    counts = {
        "overlaps": int(overlap.sum()),
        "customers": len(subs),
        "refund_only_customers": n - len(kept),
        "churned": int(churned.sum()),
        "reactivations": int(reactivations.sum()),
        "reactivated_customers": int((reactivations > 0).sum()),
    }
    return subs, counts


def _by_customer_and_date(
    codes: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, Any]:
    """The stable order by customer, then payment time; and the running maximum by customer.

    When the customer code and the dates (as ticks of the coarsest unit that divides them
    all: a day, second, millisecond, microsecond or nanosecond) fit in 62 bits together, one
    integer key ``code << bits | ticks`` does both: one stable sort, and one running maximum
    over all rows (a later customer's key is larger than every earlier one's). Otherwise a
    two-key sort and a maximum per group. Same-time payments keep the table's order.
    """
    low = int(min(start.min(), stop.min())) if len(start) else 0
    unit = next(u for u in (_DAY_NS, 10**9, 10**6, 10**3, 1) if _divides(u, low, start, stop))
    bits = max(int((max(int(start.max()), int(stop.max())) - low) // unit).bit_length(), 1)
    if int(codes.max()).bit_length() + bits > 62:
        order = np.lexsort((start, codes))

        def by_group(sorted_codes: np.ndarray, values: np.ndarray) -> np.ndarray:
            series = pd.Series(values).groupby(sorted_codes, sort=False)
            return series.cummax().to_numpy()

        return order, by_group
    shift = np.int64(bits)

    def key(sorted_codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        return (sorted_codes.astype("int64") << shift) | ((values - low) // unit)

    def running(sorted_codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        top = np.maximum.accumulate(key(sorted_codes, values)) & ((np.int64(1) << shift) - 1)
        return top * unit + low

    return np.argsort(key(codes, start), kind="stable"), running


def _divides(unit: int, low: int, *values: np.ndarray) -> bool:
    return not any(((v - low) % unit).any() for v in values)


def _ids(ids: pd.Index, kept: np.ndarray) -> np.ndarray:
    """The customer ids as written: int64, or text (object)."""
    values = ids.to_numpy()[kept]
    return values.astype("int64") if pd.api.types.is_integer_dtype(ids.dtype) else values


def _periods(days: np.ndarray, period_days: float) -> np.ndarray:
    """``max(1, round(days / P))``, halves rounded up."""
    return np.maximum(np.floor(days / period_days + 0.5), 1).astype("int64")


def _cohorts(first_payment: pd.DatetimeIndex, period: BillingPeriod) -> np.ndarray:
    """``"2024-03"`` (month) or ``"2024"`` (year) of each first payment."""
    if period == "year":
        keys = first_payment.year.to_numpy()
        unique, inverse = np.unique(keys, return_inverse=True)
        labels = np.array([f"{y:04d}" for y in unique], dtype=object)
    else:
        keys = first_payment.year.to_numpy() * 12 + first_payment.month.to_numpy() - 1
        unique, inverse = np.unique(keys, return_inverse=True)
        labels = np.array([f"{k // 12:04d}-{k % 12 + 1:02d}" for k in unique], dtype=object)
    return labels[inverse]


def _periods_observed(
    first_day: pd.DatetimeIndex, end: pd.Timestamp, period: BillingPeriod
) -> np.ndarray:
    """Whole calendar periods from each first day to ``end`` (month/year arithmetic).

    ``m`` whole periods have passed when the first day plus ``m`` periods (its day clipped to
    the month's last day: Jan 31 + 1 month = Feb 28/29) is not after ``end``.
    """
    year = first_day.year.to_numpy()
    month = first_day.month.to_numpy()
    day = first_day.day.to_numpy()
    if period == "month":
        whole = (end.year - year) * 12 + (end.month - month)
        due_day = np.minimum(day, end.days_in_month)
        return (whole - (due_day > end.day)).astype("int64")
    whole = end.year - year
    # the anniversary in the end's year: Feb 29 becomes Feb 28 in a common year
    leap = end.is_leap_year
    due_day = np.where((month == 2) & (day == 29) & (not leap), 28, day)
    late = (month > end.month) | ((month == end.month) & (due_day > end.day))
    return (whole - late).astype("int64")
