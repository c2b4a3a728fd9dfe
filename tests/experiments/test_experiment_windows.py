"""Reading assignments and building each user's window (DuckDB SQL against pandas written here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clvmodels.data.assignments import read_assignments
from clvmodels.errors import DataError
from clvmodels.experiments.windows import check_window_days, user_windows


def _orders(rows: list[tuple[object, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "revenue"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601")
    return frame


# ------------------------------------------------------------------------------ reading
def test_reads_a_csv_with_ids_as_written(tmp_path: Path) -> None:
    path = tmp_path / "ab.csv"
    path.write_text("user,arm,at\n007,A,2024-01-01\n8, B ,2024-01-02 10:00\n9,A,2024-01-03\n")
    frame = read_assignments(path, uid_col="user", group_col="arm", time_col="at")
    assert list(frame.columns) == ["uid", "group", "assigned_at"]
    assert list(frame["uid"]) == ["007", "8", "9"]  # "007" is not an integer as written
    assert list(frame["group"]) == ["A", "B", "A"]
    assert frame["assigned_at"].dtype == "datetime64[ns]"
    ints = tmp_path / "ints.csv"
    ints.write_text("uid,variant,assigned_at\n7,A,2024-01-01\n8,B,2024-01-02\n")
    assert read_assignments(ints)["uid"].dtype == "int64"


def test_first_assignment_counts_for_a_repeated_user() -> None:
    raw = pd.DataFrame(
        {
            "uid": [1, 2, 1, 3],
            "variant": ["A", "B", "A", "B"],
            "assigned_at": ["2024-01-05", "2024-01-02", "2024-01-01", "2024-01-03"],
        }
    )
    frame = read_assignments(raw)
    assert list(frame["uid"]) == [1, 2, 3]
    assert frame.loc[0, "assigned_at"] == pd.Timestamp("2024-01-01")
    assert frame.attrs["repeated_assignments"] == 1


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"uid": [1, 2, 1], "variant": ["A", "B", "B"]}, ["1 user is assigned to more", "user 1"]),
        ({"uid": [1, None, 3], "variant": ["A", "B", "B"]}, ["column 'uid'", "missing"]),
        ({"uid": [1, 2, 3], "variant": ["A", " ", None]}, ["column 'variant'", "2 rows"]),
    ],
)
def test_bad_assignments(raw: dict, words: list[str]) -> None:
    raw = {**raw, "assigned_at": ["2024-01-01"] * 3}
    with pytest.raises(DataError) as err:
        read_assignments(pd.DataFrame(raw))
    for word in words:
        assert word in str(err.value)


def test_missing_column_names_the_flag() -> None:
    with pytest.raises(DataError, match="--assignments-group-col"):
        read_assignments(pd.DataFrame({"uid": [1], "group": ["A"], "assigned_at": ["2024-01-01"]}))


# ------------------------------------------------------------------------------ windows
def test_window_boundaries_and_counts() -> None:
    assignments = read_assignments(
        pd.DataFrame(
            {
                "uid": ["007", "8", "9", "10"],
                "variant": ["A", "B", "A", "B"],
                "assigned_at": [
                    "2024-01-01 00:00",
                    "2024-01-02 10:00",
                    "2024-01-03 00:00",
                    "2024-01-30 00:00",
                ],
            }
        )
    )
    orders = _orders(
        [
            (7, "2024-01-02", 1.0),  # 7 is not "007": never assigned
            (8, "2024-01-02 09:59", 2.0),  # before 8's assignment
            (8, "2024-01-02 10:00", 3.0),  # at the assignment: counts
            (8, "2024-01-09 09:59", 4.0),  # last moment of the 7-day window
            (8, "2024-01-09 10:00", 5.0),  # the window's end: does not count
            (9, "2024-01-05", 6.0),
            (11, "2024-02-01", 7.0),  # never assigned
        ]
    )
    result = user_windows(assignments, orders, window_days=7, observation_end="2024-02-01")
    users = result.users.set_index("uid")
    assert list(users.index) == ["007", "8", "9"]  # 10's window ends 2024-02-06: left out
    assert users.loc["8", "orders"] == 2 and users.loc["8", "revenue"] == 7.0
    assert users.loc["9", "orders"] == 1 and bool(users.loc["9", "converted"])
    assert users.loc["007", "orders"] == 0 and users.loc["007", "revenue"] == 0.0
    assert not users.loc["007", "converted"]
    assert users.loc["8", "window_end"] == pd.Timestamp("2024-01-09 10:00")
    assert result.counts["users_window_past_end"] == 1
    assert result.counts["users_window_past_end_by_group"] == {"B": 1}
    assert result.counts["orders_by_unassigned"] == 2
    assert result.counts["customers_unassigned"] == 2
    # a window that ends exactly at the end of the observation end's day is complete
    edge = user_windows(assignments, orders, window_days=7, observation_end="2024-02-05")
    assert "10" in set(edge.users["uid"])


def test_windows_match_pandas_on_random_data() -> None:
    rng = np.random.default_rng(3)
    n = 300
    start = pd.Timestamp("2024-01-01")
    assignments = pd.DataFrame(
        {
            "uid": np.arange(n),
            "group": rng.choice(["A", "B"], n),
            "assigned_at": start + pd.to_timedelta(rng.integers(0, 60 * 24 * 40, n), unit="min"),
        }
    )
    m = 2000
    orders = pd.DataFrame(
        {
            "customer_id": rng.integers(0, n + 30, m),
            "timestamp": start
            + pd.to_timedelta(rng.integers(-10 * 24 * 60, 70 * 24 * 60, m), unit="min"),
            "revenue": rng.exponential(10.0, m).round(2),
        }
    )
    result = user_windows(assignments, orders, window_days=14, observation_end="2024-02-25")
    cutoff = pd.Timestamp("2024-02-26")
    kept = assignments[assignments["assigned_at"] + pd.Timedelta(days=14) <= cutoff]
    merged = orders.merge(kept, left_on="customer_id", right_on="uid")
    inside = merged[
        (merged["timestamp"] >= merged["assigned_at"])
        & (merged["timestamp"] < merged["assigned_at"] + pd.Timedelta(days=14))
    ]
    expected = inside.groupby("uid").agg(orders=("revenue", "size"), revenue=("revenue", "sum"))
    expected = expected.reindex(kept["uid"], fill_value=0)
    got = result.users.set_index("uid")
    assert list(got.index) == list(kept["uid"])
    np.testing.assert_array_equal(got["orders"], expected["orders"])
    np.testing.assert_allclose(got["revenue"], expected["revenue"])
    assert result.counts["users_window_past_end"] == n - len(kept)
    assert result.counts["orders_by_unassigned"] == int((orders["customer_id"] >= n).sum())


def test_every_assignment_after_the_orders_end() -> None:
    assignments = read_assignments(
        pd.DataFrame({"uid": [1, 2], "variant": ["A", "B"], "assigned_at": ["2024-03-01"] * 2})
    )
    orders = _orders([(1, "2024-01-05", 3.0)])
    with pytest.raises(DataError, match=r"users\) is after the observation end"):
        user_windows(assignments, orders)


def test_window_days_range() -> None:
    assert check_window_days(28) == 28
    for bad in (0, 3661, 2.5, True):
        with pytest.raises(ValueError):
            check_window_days(bad)


def test_times_with_offsets_are_on_the_orders_clock() -> None:
    raw = pd.DataFrame(
        {
            "uid": [1, 2, 3],
            "variant": ["A", "B", "A"],
            "assigned_at": ["2024-01-05T10:00:00+02:00", "2024-01-05 10:00", "2024-01-05T10:00Z"],
        }
    )
    utc = read_assignments(raw)["assigned_at"].tolist()
    assert utc == [
        pd.Timestamp("2024-01-05 08:00"),
        pd.Timestamp("2024-01-05 10:00"),
        pd.Timestamp("2024-01-05 10:00"),
    ]
    berlin = read_assignments(raw, time_zone="Europe/Berlin")["assigned_at"].tolist()
    assert berlin[0] == pd.Timestamp("2024-01-05 09:00") and berlin[1] == utc[1]
    aware = raw.assign(
        assigned_at=pd.to_datetime(["2024-01-05 10:00"] * 3).tz_localize("Asia/Tokyo")
    )
    assert read_assignments(aware)["assigned_at"].iloc[0] == pd.Timestamp("2024-01-05 01:00")


def test_reads_a_duckdb_table(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE ab AS SELECT * FROM (VALUES (1, 'A', TIMESTAMP '2024-01-01'), "
            "(2, 'B', TIMESTAMP '2024-01-02')) t(uid, variant, assigned_at)"
        )
    frame = read_assignments(path, table="ab")
    assert list(frame["uid"]) == [1, 2] and list(frame["group"]) == ["A", "B"]
    url = read_assignments(f"duckdb:///{path}#ab")
    assert list(url["uid"]) == [1, 2]
