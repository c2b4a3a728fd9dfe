"""Billing table -> SUBS: small hand-built tables whose SUBS values are worked out here by hand.

Period lengths: a month is 365.2425 / 12 = 30.436875 days, a year 365.2425 days; periods
paid = round(covered days / period), at least 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.billing import read_billing
from clvmodels.data.subscriptions import SUBS_COLUMNS
from clvmodels.errors import DataError
from clvmodels.subscriptions.billing import summarize_billing

MONTH, YEAR = 365.2425 / 12, 365.2425


def payments(rows, status=None) -> pd.DataFrame:
    """(customer, payment date, paid until, amount, plan) rows as summarize_billing takes them."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "payment_date", "paid_until", "amount", "plan"]
    )
    frame["payment_date"] = pd.to_datetime(frame["payment_date"], format="ISO8601")
    frame["paid_until"] = pd.to_datetime(frame["paid_until"], format="ISO8601")
    frame["amount"] = frame["amount"].astype(float)
    if status is not None:
        frame["status"] = status
    return frame


def one(subs: pd.DataFrame, customer) -> pd.Series:
    rows = subs.loc[subs["customer_id"] == customer]
    assert len(rows) == 1
    return rows.iloc[0]


def test_monthly_renewals_and_annual_prepayment():
    table = payments(
        [
            (1, "2024-01-01", "2024-02-01", 10, "basic"),
            (1, "2024-02-01", "2024-03-01", 10, "basic"),
            (1, "2024-03-01", "2024-04-01", 12, "pro"),
            (2, "2024-01-01", "2025-01-01", 120, "basic"),  # a year paid up front
        ]
    )
    subs, report = summarize_billing(table, billing_period="month", observation_end="2024-06-15")
    assert list(subs.columns) == list(SUBS_COLUMNS)
    a = one(subs, 1)
    assert round(91 / MONTH) == 3
    assert a["periods_paid"] == 3 and a["first_spell_periods"] == 3
    assert a["plan"] == "basic" and a["plan_last"] == "pro"
    assert a["cohort"] == "2024-01"
    assert a["first_payment"] == pd.Timestamp("2024-01-01")
    assert a["paid_until"] == pd.Timestamp("2024-04-01")
    assert a["churned"] and a["first_spell_churned"]  # 04-01 < 06-15
    assert a["T"] == 6  # Jan 1 -> Jun 15: 5 whole months, + 1
    assert a["revenue"] == 32 and a["price_per_period"] == 12
    assert a["reactivations"] == 0
    b = one(subs, 2)
    assert round(366 / MONTH) == 12
    assert b["periods_paid"] == 12 and b["first_spell_periods"] == 12
    assert not b["churned"] and not b["first_spell_churned"]
    assert b["T"] == 6 and b["price_per_period"] == pytest.approx(10.0)
    assert set(subs["billing_period"]) == {"month"}
    assert report["customers"] == 2 and report["churned"] == 1 and report["overlaps"] == 0


def test_yearly_billing_T_and_churn_around_the_observation_end():
    table = payments(
        [
            (1, "2020-03-10", "2021-03-10", 100, "team"),
            (1, "2021-03-10", "2022-03-10", 110, "team"),
        ]
    )
    expected = {  # observation end -> (T, churned)
        "2022-03-09": (2, False),  # 2021-03-10 passed, 2022-03-10 not yet: 1 whole year
        "2022-03-10": (3, False),  # paid until the end day itself: not churned
        "2022-03-11": (3, True),
    }
    for end, (t, churned) in expected.items():
        subs, _ = summarize_billing(table, billing_period="year", observation_end=end)
        row = one(subs, 1)
        assert (row["T"], bool(row["churned"])) == (t, churned), end
        assert row["periods_paid"] == round(730 / YEAR) == 2
        assert row["cohort"] == "2020" and row["price_per_period"] == 110
    # default observation end: the day of the latest payment
    subs, report = summarize_billing(table, billing_period="year")
    assert report["observation_end"] == "2021-03-10" and report["observation_end_default"]
    assert one(subs, 1)["T"] == 2


def test_month_ends_are_clipped():
    table = payments([(1, "2024-01-31", "2024-02-29", 10, "a")])
    for end, t in {"2024-02-28": 1, "2024-02-29": 2, "2024-03-30": 2, "2024-03-31": 3}.items():
        subs, _ = summarize_billing(table, billing_period="month", observation_end=end)
        assert one(subs, 1)["T"] == t, end
    leap = payments([(1, "2020-02-29", "2021-02-28", 10, "a")])
    for end, t in {"2021-02-27": 1, "2021-02-28": 2}.items():
        subs, _ = summarize_billing(leap, billing_period="year", observation_end=end)
        assert one(subs, 1)["T"] == t, end


def test_overlapping_renewals_are_merged_and_counted():
    table = payments(
        [
            (1, "2024-01-01", "2024-02-01", 10, "a"),
            (1, "2024-01-25", "2024-03-01", 10, "a"),  # renewed early: overlaps Jan 25-31
            (2, "2024-01-01", "2024-04-01", 30, "a"),
            (2, "2024-02-01", "2024-03-01", 10, "a"),  # inside the first period
        ]
    )
    subs, report = summarize_billing(table, billing_period="month", observation_end="2024-03-01")
    assert report["overlaps"] == 2
    assert one(subs, 1)["periods_paid"] == round(60 / MONTH) == 2  # Jan 1 - Mar 1, once
    assert one(subs, 2)["periods_paid"] == round(91 / MONTH) == 3
    assert one(subs, 2)["paid_until"] == pd.Timestamp("2024-04-01")
    assert (subs["reactivations"] == 0).all()
    assert one(subs, 2)["price_per_period"] == 10  # the last payment: 10 for 29 days -> 1


def test_duplicates_refunds_and_unpaid_statuses():
    table = payments(
        [
            (1, "2024-01-01", "2024-02-01", 10, "a"),
            (1, "2024-01-01", "2024-02-01", 10, "a"),  # an exact duplicate
            (1, "2024-02-01", "2024-03-01", 10, "a"),
            (1, "2024-03-05", None, -4, "a"),  # a refund: its date is ignored
            (1, "2024-02-15", "2024-03-15", 10, "a"),  # failed
            (2, "2024-01-10", "2024-02-10", 20, "b"),
            (2, "2024-01-20", None, -20, "b"),  # refunded in full: still a customer
            (3, "2024-02-01", None, -5, "c"),  # only a refund: no subscription
            (4, "2024-01-03", "2024-02-03", 8, "d"),  # pending
            (4, "2024-01-04", "2024-02-04", 8, "d"),  # failed
        ],
        status=["paid"] * 4 + ["failed"] + ["paid"] * 3 + ["pending", "failed"],
    )
    subs, report = summarize_billing(table, billing_period="month")
    assert report["unpaid_by_status"] == {"failed": 2, "pending": 1}
    assert report["duplicates"] == 1 and report["refunds"] == 3
    assert report["refunded_amount"] == 29 and report["refund_only_customers"] == 1
    assert report["observation_end"] == "2024-02-01"  # refunds' dates are ignored
    assert list(subs["customer_id"]) == [1, 2]
    a = one(subs, 1)
    assert a["revenue"] == 16 and a["periods_paid"] == 2
    assert a["paid_until"] == pd.Timestamp("2024-03-01")
    b = one(subs, 2)
    assert b["revenue"] == 0 and b["price_per_period"] == 20
    assert report["paid_payments"] == 7 and report["payments"] == 10


@pytest.mark.parametrize(
    ("second_payment", "grace", "reactivations", "first_spell", "periods"),
    [
        ("2024-02-10", 5, 1, 1, 2),  # 9 days after the paid-until: a lapse > grace
        ("2024-02-06", 5, 0, 2, 2),  # 5 days: within the grace, one spell
        ("2024-02-02", 0, 1, 1, 2),  # no grace: any gap is a lapse
        ("2024-02-01", 0, 0, 2, 2),  # paid on the paid-until day: no gap
    ],
)
def test_reactivation_after_a_lapse_longer_than_the_grace(
    second_payment, grace, reactivations, first_spell, periods
):
    start = pd.Timestamp(second_payment)
    until = start + pd.DateOffset(months=1)
    table = payments([(1, "2024-01-01", "2024-02-01", 10, "a"), (1, start, until, 10, "a")])
    end = until + pd.Timedelta(days=grace + 1)  # one day past paid-until + grace: churned
    subs, report = summarize_billing(
        table, billing_period="month", grace_days=grace, observation_end=end
    )
    row = one(subs, 1)
    assert row["reactivations"] == reactivations
    assert row["first_spell_periods"] == first_spell and row["periods_paid"] == periods
    assert row["churned"] and row["first_spell_churned"]
    assert report["reactivated_customers"] == reactivations
    # on the last day of the grace the customer has not churned; the first spell has ended
    # only when a reactivation followed it
    subs, _ = summarize_billing(
        table, billing_period="month", grace_days=grace, observation_end=end - pd.Timedelta(days=1)
    )
    row = one(subs, 1)
    assert not row["churned"] and bool(row["first_spell_churned"]) == (reactivations > 0)


def test_cohort_labels():
    table = payments(
        [
            (1, "2023-12-31", "2024-01-31", 1, "a"),
            (2, "2024-03-01", "2024-04-01", 1, "a"),
            (3, "2024-03-31", "2024-04-30", 1, "a"),
        ]
    )
    subs, _ = summarize_billing(table, billing_period="month", observation_end="2024-04-30")
    assert list(subs["cohort"]) == ["2023-12", "2024-03", "2024-03"]
    subs, _ = summarize_billing(table, billing_period="year", observation_end="2024-04-30")
    assert list(subs["cohort"]) == ["2023", "2024", "2024"]


def test_payments_after_the_observation_end_are_an_error():
    table = payments(
        [(1, "2024-01-01", "2024-02-01", 10, "a"), (7, "2024-02-01 10:00", "2024-03-01", 10, "a")]
    )
    summarize_billing(table, billing_period="month", observation_end="2024-02-01")  # same day
    with pytest.raises(DataError) as info:
        summarize_billing(table, billing_period="month", observation_end="2024-01-31")
    message = str(info.value)
    assert "column 'payment_date'" in message and "after the observation end 2024-01-31" in message
    assert "(1 row, e.g. customer 7 on 2024-02-01)" in message


def test_bad_settings():
    table = payments([(1, "2024-01-01", "2024-02-01", 10, "a")])
    with pytest.raises(ValueError, match="billing_period must be 'month' or 'year'"):
        summarize_billing(table, billing_period="week")
    with pytest.raises(ValueError, match="grace_days"):
        summarize_billing(table, billing_period="month", grace_days=-1)


# ---------------------------------------------------------------------- ids and the reader
def write_billing(path: Path, rows: list[str]) -> Path:
    path.write_text("company_id,plan,payment_date,paid_until,amount,status\n" + "\n".join(rows))
    return path


def test_big_integer_ids_stay_exact_through_a_csv(tmp_path):
    big = 2**53  # 9007199254740992 and ...993 are the same float64
    path = write_billing(
        tmp_path / "billing.csv",
        [
            f"{big},a,2024-01-01,2024-02-01,10,success",
            f"{big + 1},a,2024-01-01,2024-02-01,10,success",
            f"{big + 1},a,2024-02-01,2024-03-01,10,Paid",
        ],
    )
    read, counts = read_billing(path, status_col="status")
    assert read["customer_id"].dtype == np.int64
    subs, _ = summarize_billing(read, billing_period="month")
    assert subs["customer_id"].tolist() == [big, big + 1]
    assert subs["periods_paid"].tolist() == [1, 2]
    assert counts == {
        "rows": 3,
        "paid_rows": 3,
        "unpaid_rows": 0,
        "status_col": "status",
        "paid_values": ["paid", "success"],
    }


def test_text_ids_with_leading_zeros_stay_text(tmp_path):
    path = write_billing(
        tmp_path / "billing.csv",
        [
            "007,a,2024-01-01,2024-02-01,10,success",
            "07,b,2024-01-01,2024-02-01,10,success",
            "7,c,2024-01-01,2024-02-01,10,success",
            " 007 ,a,2024-02-01,2024-03-01,10,success",
        ],
    )
    subs, _ = summarize_billing(read_billing(path)[0], billing_period="month")
    assert subs["customer_id"].tolist() == ["007", "07", "7"]
    assert subs["plan"].tolist() == ["a", "b", "c"]
    assert one(subs, "007")["periods_paid"] == 2


def test_ids_that_cannot_be_kept_exactly_are_refused(tmp_path):
    scientific = write_billing(
        tmp_path / "sci.csv", ["1.23E+20,a,2024-01-01,2024-02-01,10,success"]
    )
    with pytest.raises(DataError, match="scientific notation"):
        read_billing(scientific)
    floats = pd.DataFrame(
        {
            "company_id": [1.0, 2.5],
            "plan": "a",
            "payment_date": "2024-01-01",
            "paid_until": "2024-02-01",
            "amount": 1.0,
        }
    )
    with pytest.raises(DataError, match="not whole numbers") as info:
        read_billing(floats)
    assert "column 'company_id'" in str(info.value) and "2.5" in str(info.value)
    assert read_billing(floats.iloc[:1])[0]["customer_id"].tolist() == [1]


def test_reader_statuses_and_unpaid_rows(tmp_path):
    path = write_billing(
        tmp_path / "billing.csv",
        [
            "1,a,2024-01-01,2024-02-01,10, SUCCESS ",
            "1,,2024-02-01,,10,failed",  # unpaid rows need no plan or paid-until date
            "1,a,2024-02-01,2024-03-01,10,FAILED",
            "2,b,2024-01-05,2024-02-05,5,",
            "2,b,2024-01-06,2024-02-06,5,paid",
        ],
    )
    read, counts = read_billing(path, status_col="status", paid_values=("success",))
    assert read["status"].tolist() == [
        "paid",
        "failed",
        "FAILED",
        "(missing)",
        "paid (not a paid value)",
    ]
    assert counts["paid_rows"] == 1 and counts["unpaid_rows"] == 4
    subs, report = summarize_billing(read, billing_period="month")
    assert report["unpaid_by_status"] == {
        "failed": 1,
        "FAILED": 1,
        "(missing)": 1,
        "paid (not a paid value)": 1,
    }
    assert subs["customer_id"].tolist() == [1]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"paid_until": ["2024-02-01", None]},
            "column 'paid_until': paid payments without a paid-until date (1 row, e.g. row 2)",
        ),
        (
            {"paid_until": ["2024-02-01", "2024-01-01"]},
            "column 'paid_until': payments paid "
            "until before their payment date (paid_until < payment_date) (1 row, e.g. row 2)",
        ),
        ({"plan": ["a", None]}, "column 'plan': paid payments without a plan (1 row, e.g. row 2)"),
        (
            {"payment_date": ["2024-01-01", "soon"]},
            "column 'payment_date': dates that cannot be parsed (1 row, e.g. 'soon')",
        ),
        ({"payment_date": ["2024-01-01", None]}, "column 'payment_date': missing dates (1 row"),
        (
            {"amount": ["10", "ten"]},
            "column 'amount': amounts that are not numbers (1 row, e.g. 'ten')",
        ),
        ({"amount": [10.0, np.nan]}, "column 'amount': missing (NaN) or infinite amounts"),
        ({"company_id": [1, None]}, "column 'company_id': empty or missing customer ids"),
    ],
)
def test_reader_rules(change, message):
    raw = pd.DataFrame(
        {
            "company_id": [1, 2],
            "plan": ["a", "b"],
            "payment_date": ["2024-01-01", "2024-01-02"],
            "paid_until": ["2024-02-01", "2024-02-02"],
            "amount": [10.0, 10.0],
        }
    ).assign(**change)
    with pytest.raises(DataError) as info:
        read_billing(raw)
    assert message in str(info.value)


def test_missing_columns_name_the_flag():
    raw = pd.DataFrame({"Company ID": [1], "plan": ["a"], "payment_date": ["2024-01-01"]})
    with pytest.raises(DataError) as info:
        read_billing(raw, status_col="status")
    message = str(info.value)
    assert "the billing table has no column 'company_id', 'paid_until', 'amount', 'status'" in (
        message
    )
    assert "--paid-until-col" in message and "--status-col" in message


# ---------------------------------------------------------------------- Fader & Hardie (2007)
def test_fader_hardie_2007_segments(fh2007_billing):
    read, _ = read_billing(fh2007_billing, status_col="status")
    end = fh2007_billing.attrs["observation_end"]
    subs, report = summarize_billing(read, billing_period="year", observation_end=end)
    assert len(subs) == 2000 and report["customers"] == 2000
    assert (subs["T"] == 8).all() and (subs["reactivations"] == 0).all()
    assert (subs["first_spell_periods"] == subs["periods_paid"]).all()
    assert (subs["first_spell_churned"] == subs["churned"]).all()
    for plan, survivors in fh2007_billing.attrs["survivors"].items():
        group = subs.loc[subs["plan"] == plan]
        churned = group.loc[group["first_spell_churned"]]
        # churned in year n: paid n periods; S(n-1) - S(n) of them
        counts = churned["first_spell_periods"].value_counts().sort_index()
        assert counts.index.tolist() == list(range(1, 8))
        assert counts.tolist() == [survivors[n - 1] - survivors[n] for n in range(1, 8)]
        active = group.loc[~group["first_spell_churned"]]
        assert len(active) == survivors[7]
        assert (active["first_spell_periods"] == 8).all() and (active["T"] == 8).all()
        # survivors at year t = customers who paid more than t periods
        paid = group["first_spell_periods"].to_numpy()
        assert [int((paid > t).sum()) for t in range(8)] == list(survivors)
    assert set(subs["cohort"]) == {"2000"}


def test_a_table_without_paid_payments_names_the_statuses():
    table = payments([(1, "2024-01-01", "2024-02-01", 10, "a")], status=["success"])
    with pytest.raises(DataError, match=r"no paid payments \(statuses: 'success'\)"):
        summarize_billing(table, billing_period="month")


# ---------------------------------------------------------------------- an independent loop
def loop_subs(table: pd.DataFrame, period: str, grace: int, end: pd.Timestamp) -> pd.DataFrame:
    """The SUBS rules written customer by customer, the slow obvious way."""
    length = MONTH if period == "month" else YEAR
    rows = []
    for customer, group in table.groupby("customer_id", sort=True):
        group = group.sort_values("payment_date", kind="stable")
        covered, first_spell, spells, latest = 0.0, 0.0, 0, None
        for start, until in zip(group["payment_date"], group["paid_until"], strict=True):
            if latest is not None and (start - latest).total_seconds() > grace * 86400:
                spells += 1
            begin = start if latest is None else max(start, latest)
            days = max((until - begin).total_seconds() / 86400, 0.0)
            covered += days
            first_spell += days if spells == 0 else 0.0
            latest = until if latest is None else max(latest, until)
        first_day = group["payment_date"].iloc[0].normalize()
        months = (end.year - first_day.year) * 12 + end.month - first_day.month
        whole = 0
        step = 1 if period == "month" else 12
        while first_day + pd.DateOffset(months=step * (whole + 1)) <= end:
            whole += 1
        assert period == "year" or whole in (months, months - 1)
        last = group.iloc[-1]
        last_days = (last["paid_until"] - last["payment_date"]).total_seconds() / 86400
        last_periods = max(1, int(np.floor(last_days / length + 0.5)))
        churned = latest + pd.Timedelta(days=grace) < end
        rows.append(
            {
                "customer_id": customer,
                "periods_paid": max(1, int(np.floor(covered / length + 0.5))),
                "first_spell_periods": max(1, int(np.floor(first_spell / length + 0.5))),
                "reactivations": spells,
                "churned": churned,
                "first_spell_churned": spells > 0 or churned,
                "T": whole + 1,
                "paid_until": latest,
                "plan_last": last["plan"],
                "price_per_period": last["amount"] / last_periods,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("jitter", [False, True])
@pytest.mark.parametrize("period", ["month", "year"])
def test_agrees_with_a_loop_over_customers(period, jitter):
    rng = np.random.default_rng(7 + jitter)
    n = 600
    customer = rng.integers(0, 150, n)
    start = pd.Timestamp("2019-01-31") + pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    days = rng.choice([0, 28, 31, 92, 365, 366], n)
    until = start + pd.to_timedelta(days, unit="D")
    if jitter:  # nanosecond times: the two-key sort and the grouped running maximum
        start = start + pd.to_timedelta(rng.integers(0, 10**12, n), unit="ns")
        until = until + pd.to_timedelta(rng.integers(0, 10**12, n), unit="ns")
    table = pd.DataFrame(
        {
            "customer_id": customer,
            "payment_date": start,
            "paid_until": np.maximum(until, start),
            "amount": rng.integers(1, 50, n).astype(float),
            "plan": rng.choice(["a", "b"], n).astype(object),
        }
    )
    end = pd.Timestamp("2023-03-31")
    subs, _ = summarize_billing(table, billing_period=period, grace_days=10, observation_end=end)
    expected = loop_subs(table, period, 10, end)
    columns = list(expected.columns)
    pd.testing.assert_frame_equal(subs[columns].reset_index(drop=True), expected, check_dtype=False)
