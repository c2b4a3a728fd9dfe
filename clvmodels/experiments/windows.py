"""Each assigned user's test window and what they bought in it, in DuckDB SQL.

Definitions (``docs/experiments.md``, "clv experiment"):

* A user's **window** runs from their own assignment time ``assigned_at`` for ``window_days``
  days: ``[assigned_at, window_end)`` with ``window_end = assigned_at + window_days``.
* The **observation end** is a day (default: the last order's day); the data are complete up
  to the end of that day, ``cutoff = observation_end + 1 day`` at midnight. A user whose
  window passes it (``window_end > cutoff``) is **left out** of every table and counted
  (``users_window_past_end``, per group too): their window is not complete yet.
* An order counts for a user when its time is in the user's window. Orders before the user's
  assignment do not count, nor do orders after the window, nor orders by customers never
  assigned (counted: ``orders_by_unassigned``, ``customers_unassigned``).
* A **converter** has at least one counted order; ``orders`` and ``revenue`` are the user's
  counted orders and their revenue (0 when none, so means over users include the zeros).

User ids are matched to the orders' customer ids by
:func:`clvmodels.data.columns.id_match_keys`: ``7`` matches ``"7"``, ``"007"`` never matches 7.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clvmodels.data.columns import id_match_keys
from clvmodels.data.io import duckdb_connection, floor_to_microseconds
from clvmodels.errors import DataError
from clvmodels.summaries.period import DateLike, order_period

#: The longest window accepted, in days (ten years).
MAX_WINDOW_DAYS = 3660
#: The columns of :attr:`UserWindows.users`.
WINDOW_COLUMNS = ("uid", "group", "assigned_at", "window_end", "converted", "orders", "revenue")

_WINDOW_SQL = """
WITH kept AS (
    SELECT row_id, key, assigned_at,
           assigned_at + to_days(CAST($window_days AS INTEGER)) AS window_end
    FROM assignments
    WHERE assigned_at + to_days(CAST($window_days AS INTEGER)) <= $cutoff
)
SELECT kept.row_id,
       count(o.key) AS orders,
       coalesce(sum(o.revenue), 0.0) AS revenue
FROM kept
LEFT JOIN orders AS o
  ON o.key = kept.key AND o.timestamp >= kept.assigned_at AND o.timestamp < kept.window_end
GROUP BY kept.row_id
ORDER BY kept.row_id
"""

_UNASSIGNED_SQL = """
SELECT count(*) AS orders_by_unassigned, count(DISTINCT key) AS customers_unassigned
FROM orders ANTI JOIN assignments USING (key)
"""


@dataclass
class UserWindows:
    """The per-user window table and what was left out.

    Attributes
    ----------
    users : pandas.DataFrame
        ``uid, group, assigned_at, window_end, converted, orders, revenue``: one row per
        assigned user whose window is complete, in the assignments' order.
    observation_end : datetime.date
        The last day of data used.
    window_days : int
    counts : dict
        ``users_assigned``, ``users_window_past_end`` (and ``..._by_group``),
        ``orders_by_unassigned``, ``customers_unassigned``.
    """

    users: pd.DataFrame
    observation_end: dt.date
    window_days: int
    counts: dict[str, Any] = field(default_factory=dict)


def check_window_days(value: Any, name: str = "window_days") -> int:
    """``value`` as a whole number of days from 1 to :data:`MAX_WINDOW_DAYS`, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number of days; got {value!r}")
    if not 1 <= int(value) <= MAX_WINDOW_DAYS:
        raise ValueError(f"{name} must be from 1 to {MAX_WINDOW_DAYS:,} days; got {value}")
    return int(value)


def user_windows(
    assignments: pd.DataFrame,
    orders: pd.DataFrame,
    *,
    window_days: int = 28,
    observation_end: DateLike = None,
) -> UserWindows:
    """Build the per-user window table (definitions in the module docstring).

    Parameters
    ----------
    assignments : pandas.DataFrame
        ``uid, group, assigned_at``, one row per user
        (:func:`clvmodels.data.assignments.read_assignments`).
    orders : pandas.DataFrame
        Validated orders ``customer_id, timestamp, revenue``
        (:func:`clvmodels.data.io.read_orders`).
    window_days : int
        Length of each user's window in days (default 28).
    observation_end : date, optional
        The last day of data (default: the last order's day).

    Returns
    -------
    UserWindows

    Raises
    ------
    DataError
        No orders, no revenue column, every assignment after the observation end, or no user
        with a complete window.
    """
    days = check_window_days(window_days)
    if len(orders) == 0:
        raise DataError("the orders table has no rows")
    if "revenue" not in orders.columns:
        raise DataError(
            "the experiment needs the orders' revenue",
            hint="name it with --revenue-col, or give --no-revenue --value-per-order V",
        )
    end = order_period(orders, observation_end=observation_end).observation_end
    cutoff = pd.Timestamp(end) + pd.Timedelta(days=1)
    _check_assignment_times(assignments, orders, end, cutoff)
    order_keys, user_keys = id_match_keys(orders["customer_id"], assignments["uid"])
    with duckdb_connection() as con:
        con.register(
            "assignments",
            pd.DataFrame(
                {
                    "row_id": np.arange(len(assignments), dtype="int64"),
                    "key": user_keys.to_numpy(),
                    "assigned_at": floor_to_microseconds(assignments["assigned_at"]).to_numpy(),
                },
                copy=False,
            ),
        )
        con.register(
            "orders",
            pd.DataFrame(
                {
                    "key": order_keys.to_numpy(),
                    "timestamp": floor_to_microseconds(orders["timestamp"]).to_numpy(),
                    "revenue": orders["revenue"].to_numpy(dtype="float64"),
                },
                copy=False,
            ),
        )
        found = con.execute(
            _WINDOW_SQL, {"window_days": days, "cutoff": cutoff.to_pydatetime()}
        ).df()
        counts_row = con.execute(_UNASSIGNED_SQL).df().iloc[0]
    rows = found["row_id"].to_numpy()
    assigned_at = assignments["assigned_at"].to_numpy(dtype="datetime64[ns]")
    users = pd.DataFrame(
        {
            "uid": assignments["uid"].to_numpy()[rows],
            "group": assignments["group"].to_numpy()[rows],
            "assigned_at": assigned_at[rows],
            "window_end": (assigned_at[rows] + np.timedelta64(days, "D")),
            "converted": found["orders"].to_numpy() > 0,
            "orders": found["orders"].to_numpy(dtype="int64"),
            "revenue": found["revenue"].to_numpy(dtype="float64"),
        }
    )
    users["uid"] = users["uid"].astype(assignments["uid"].dtype)
    if len(users) == 0:
        raise DataError(
            f"no assigned user has a complete {days}-day window by the observation end {end}",
            hint="lower --window-days or pass a later --observation-end",
        )
    past = pd.Series(True, index=assignments.index)
    past.iloc[rows] = False
    counts: dict[str, Any] = {
        "users_assigned": len(assignments),
        "users_window_past_end": int(past.sum()),
        "users_window_past_end_by_group": {
            str(g): int(n)
            for g, n in assignments.loc[past, "group"].value_counts().sort_index().items()
        },
        **{name: int(counts_row[name]) for name in counts_row.index},
    }
    return UserWindows(users=users, observation_end=end, window_days=days, counts=counts)


def _check_assignment_times(
    assignments: pd.DataFrame, orders: pd.DataFrame, end: dt.date, cutoff: pd.Timestamp
) -> None:
    """Every assignment after the observation end: the orders cannot say anything yet."""
    after = assignments["assigned_at"] >= cutoff
    if bool(after.all()):
        first = pd.Timestamp(assignments["assigned_at"].min())
        last_order = pd.Timestamp(orders["timestamp"].max()).date()
        raise DataError(
            f"every assignment ({len(assignments):,} users) is after the observation end "
            f"{end}: the first on {first.date()}, and the orders end on {last_order}",
            hint="are these the orders of this experiment? Pass orders that run past the "
            "assignments' window",
        )
