"""Business KPIs per calendar period from an orders table, and their seasonal decomposition.

Every number is aggregated in DuckDB SQL over the validated orders (the orders contract,
``docs/orders.md``); pandas only assembles the per-period table, which has one row a period.

Definitions
-----------
* **Period**: a calendar ``day`` (the order's calendar date, naive times as written), an ISO
  ``week`` (Monday to Sunday) or a calendar ``month`` (:mod:`clvmodels.summaries.calendar`).
  ``period_start`` is its first day.
* **Observation end**: the last day used (default: the last order's day). Orders after it
  are counted (``after_observation_end``) and left out; the machine's clock is never used.
* Every period from the first order's period to the observation end's period is a row
  (with the default observation end, the last order's period); periods without orders
  have 0 revenue, orders and buyers, and NaN ratios.
* ``revenue``: the sum of the period's order revenue; ``orders``: its number of order rows.
* ``buyers``: the distinct customers with an order in the period.
* ``new_buyers``: buyers whose first order ever (in the orders read, up to the observation
  end) is in the period; ``returning_buyers`` = ``buyers - new_buyers``.
* ``average_order_value`` = ``revenue / orders``; ``revenue_per_buyer`` = ``revenue /
  buyers`` (NaN in a period without orders).
* ``revenue_growth`` = revenue / previous period's revenue - 1, and ``buyers_growth`` the
  same of buyers: the period-over-period relative change (NaN for the first period and
  after a period with 0).
* Rolling means ``revenue_rolling_N`` and ``orders_rolling_N``: the mean over the trailing
  window of N periods ending with (and including) the period, empty periods counting as 0;
  NaN until the window is full (the first N - 1 periods). N is 7 and 28 for days, 4 and
  13 for weeks, 3 and 12 for months (:data:`ROLLING_WINDOWS`).
* ``complete``: false for the last period when the observation end falls inside it (a
  partial week or month); a day is always complete.

Seasonality
-----------
:func:`seasonal_decomposition` splits the revenue of the complete periods into trend,
seasonal components and remainder with STL (Cleveland et al. 1990;
``statsmodels.tsa.seasonal.STL(revenue, period=p)``, statsmodels' defaults): daily revenue
with the weekly period 7 (at least 14 complete days), and with more than two years (at
least 731 complete days: statsmodels' MSTL drops a period of half the series' length or
more) also the yearly period 365 through MSTL (Bandara et al. 2021;
``statsmodels.tsa.seasonal.MSTL(revenue, periods=(7, 365))``); weekly revenue with period
52 and monthly revenue with period 12, each with at least two years (104 weeks, 24
months). With less, there is no decomposition ("not enough data").

The fit is not robust (``robust=False``): with two cycles each seasonal sub-series has two
points, and robust STL's bisquare weights then jump with the last bits of the data (the
strength of a 104-week series moved from 0.08 to 0.61 under changes of 1e-12), while the
plain fit is linear in the data. With only two or three cycles the yearly component takes
up most of the year-to-year change and its strength says little; read it as indicative.
The strength of each seasonal component s (Wang, Smith & Hyndman 2006) is
``max(0, 1 - var(resid) / var(s + resid))``: 0 is none, near 1 is strong. ``cycles`` in the
result's info is the number of whole cycles of each period in the series.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Literal

import numpy as np
import pandas as pd

from clvmodels.data.contract import OrdersSource, exact_duplicates, warn_duplicates
from clvmodels.data.io import duckdb_connection, register_orders
from clvmodels.errors import DataError
from clvmodels.summaries.calendar import day_index, period_index_sql, period_start_sql
from clvmodels.summaries.period import DateLike, resolve_period

KpiPeriod = Literal["day", "week", "month"]
KPI_PERIODS: tuple[KpiPeriod, ...] = ("day", "week", "month")
#: The trailing windows (in periods) of the rolling means, per period.
ROLLING_WINDOWS: dict[str, tuple[int, int]] = {"day": (7, 28), "week": (4, 13), "month": (3, 12)}
#: The seasonal periods looked for, each with the complete periods it needs (two cycles).
SEASONS: dict[str, tuple[tuple[int, int], ...]] = {
    "day": ((7, 14), (365, 731)),
    "week": ((52, 104),),
    "month": ((12, 24),),
}
_EPOCH = dt.date(1970, 1, 1)
_EPOCH_SQL = f"DATE '{_EPOCH.isoformat()}'"

KPI_COLUMNS = (
    "period_start",
    "revenue",
    "orders",
    "buyers",
    "new_buyers",
    "returning_buyers",
    "average_order_value",
    "revenue_per_buyer",
    "revenue_growth",
    "buyers_growth",
)

_KPI_SQL = """
WITH used AS (
    SELECT customer_id, {index} AS idx, revenue
    FROM (SELECT customer_id, CAST("timestamp" AS DATE) AS day, revenue FROM clv_orders)
    WHERE day <= $observation_end
),
per_period AS (
    SELECT idx, SUM(revenue) AS revenue, COUNT(*) AS orders,
           COUNT(DISTINCT customer_id) AS buyers
    FROM used GROUP BY idx
),
firsts AS (
    SELECT idx, COUNT(*) AS new_buyers
    FROM (SELECT MIN(idx) AS idx FROM used GROUP BY customer_id)
    GROUP BY idx
),
filled AS (
    SELECT s.idx,
           coalesce(p.revenue, 0.0) AS revenue,
           CAST(coalesce(p.orders, 0) AS BIGINT) AS orders,
           CAST(coalesce(p.buyers, 0) AS BIGINT) AS buyers,
           CAST(coalesce(f.new_buyers, 0) AS BIGINT) AS new_buyers
    FROM (SELECT range AS idx FROM range($first_idx, $last_idx + 1)) s
    LEFT JOIN per_period p USING (idx)
    LEFT JOIN firsts f USING (idx)
)
SELECT {start} AS period_start, revenue, orders, buyers, new_buyers,
       buyers - new_buyers AS returning_buyers,
       revenue / NULLIF(orders, 0) AS average_order_value,
       revenue / NULLIF(buyers, 0) AS revenue_per_buyer,
       revenue / NULLIF(lag(revenue) OVER w, 0) - 1 AS revenue_growth,
       CAST(buyers AS DOUBLE) / NULLIF(lag(buyers) OVER w, 0) - 1 AS buyers_growth{rolling},
       idx < $last_idx OR $last_complete AS complete
FROM filled
WINDOW w AS (ORDER BY idx){windows}
ORDER BY idx
"""
_ROLLING = """,
       CASE WHEN count(*) OVER w{n} = {n} THEN avg({column}) OVER w{n} END
           AS {column}_rolling_{n}"""
_WINDOW = ",\n       w{n} AS (ORDER BY idx ROWS BETWEEN {back} PRECEDING AND CURRENT ROW)"


def check_kpi_period(period: str) -> KpiPeriod:
    """Return ``period`` if it is ``"day"``, ``"week"`` or ``"month"``; raise ``ValueError``."""
    value = str(period).lower()
    if value not in KPI_PERIODS:
        raise ValueError(f"period must be 'day', 'week' or 'month'; got {period!r}")
    return value


def kpi_index(day: dt.date, period: KpiPeriod) -> int:
    """Index of the period that holds ``day``: days since 1970-01-01, or the calendar index."""
    if period == "day":
        return (day - _EPOCH).days
    return day_index(day, period)


def _index_sql(day: str, period: KpiPeriod) -> str:
    if period == "day":
        return f"CAST(date_diff('day', {_EPOCH_SQL}, {day}) AS BIGINT)"
    return period_index_sql(day, period)


def _start_sql(index: str, period: KpiPeriod) -> str:
    if period == "day":
        return f"CAST({_EPOCH_SQL} + CAST({index} AS INTEGER) AS DATE)"
    return f"CAST({period_start_sql(f'CAST({index} AS INTEGER)', period)} AS DATE)"


def period_end(day: dt.date, period: KpiPeriod) -> dt.date:
    """The last day of the period that holds ``day``."""
    if period == "day":
        return day
    if period == "week":
        return day + dt.timedelta(days=6 - day.weekday())
    following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def kpi_sql(period: KpiPeriod) -> str:
    """The DuckDB SQL of :func:`kpi_table` over the view ``clv_orders`` (parameters by name)."""
    windows = ROLLING_WINDOWS[period]
    rolling = "".join(
        _ROLLING.format(n=n, column=column) for n in windows for column in ("revenue", "orders")
    )
    return _KPI_SQL.format(
        index=_index_sql("day", period),
        start=_start_sql("idx", period),
        rolling=rolling,
        windows="".join(_WINDOW.format(n=n, back=n - 1) for n in windows),
    )


def kpi_table(
    orders: pd.DataFrame | str | os.PathLike[str] | OrdersSource,
    *,
    period: str = "day",
    observation_end: DateLike = None,
) -> pd.DataFrame:
    """Revenue, orders, buyers, new and returning buyers, ratios, growth and rolling means.

    Parameters
    ----------
    orders : DataFrame, path or OrdersSource
        Orders read through the orders contract in DuckDB (a file is never loaded into
        pandas). They need revenue (a revenue column or ``value_per_order``).
    period : {"day", "week", "month"}
        Calendar day, ISO week (Monday to Sunday) or calendar month.
    observation_end : date, optional
        The last day used; default the last order's day. Orders after it are counted in
        ``attrs["data_problems"]["after_observation_end"]`` and left out.

    Returns
    -------
    pandas.DataFrame
        One row per period, from the first order's period to the observation end's: the
        columns of :data:`KPI_COLUMNS`, the rolling means of :data:`ROLLING_WINDOWS`
        (``revenue_rolling_7``, ``orders_rolling_7``, ...), then ``complete``. The module
        docstring defines each. ``attrs`` holds ``period``, ``first_order``, ``last_order``,
        ``observation_end``, ``n_orders_read``, ``n_orders_used``, ``customers`` (distinct
        buyers over all periods) and ``data_problems``: ``after_observation_end`` and, for
        a file or an :class:`OrdersSource` (not for orders validated already),
        ``exact_duplicates`` (rows repeating another row exactly: kept, and warned about,
        unless ``dedupe``).

    Raises
    ------
    DataError
        For orders that break the contract, orders without revenue, or an observation end
        before the first order.
    """
    kind = check_kpi_period(period)
    with duckdb_connection() as con:
        info = register_orders(con, orders, defer_duplicates=True)
        problems: dict[str, int] = {}
        if info.duplicates_deferred:  # counted here, so that the summary reports them too
            problems["exact_duplicates"] = exact_duplicates(con, "clv_orders")
            if problems["exact_duplicates"]:
                warn_duplicates(problems["exact_duplicates"])
        if info.revenue == "none":
            raise DataError(
                "KPIs need revenue: the orders were read without a revenue column",
                hint="Name it with --revenue-col, or give --value-per-order with --no-revenue",
            )
        first, last = _span(con, info.span)
        dates = resolve_period(first, last, observation_end=observation_end)
        end = dates.observation_end
        params = {
            "observation_end": end,
            "first_idx": kpi_index(first, kind),
            "last_idx": kpi_index(end, kind),
            "last_complete": period_end(end, kind) == end,
        }
        table = con.execute(kpi_sql(kind), params).df()
        after = 0
        if end < last:
            row = con.execute(
                'SELECT count(*) FROM clv_orders WHERE CAST("timestamp" AS DATE) > $end',
                {"end": end},
            ).fetchone()
            assert row is not None
            after = int(row[0])
    table["period_start"] = pd.to_datetime(table["period_start"]).astype("datetime64[ns]")
    table["complete"] = table["complete"].astype(bool)
    table.attrs = {
        "period": kind,
        "first_order": first.isoformat(),
        "last_order": last.isoformat(),
        "observation_end": end.isoformat(),
        "n_orders_read": info.n_rows,
        "n_orders_used": info.n_rows - after,
        "customers": int(table["new_buyers"].sum()),  # each has one first period
        "data_problems": {"after_observation_end": after, **problems},
    }
    return table


def _span(con: Any, span: tuple[dt.datetime, dt.datetime] | None) -> tuple[dt.date, dt.date]:
    """The first and last order days (the contract's pass found them, unless netting)."""
    if span is None:
        found = con.execute('SELECT MIN("timestamp"), MAX("timestamp") FROM clv_orders').fetchone()
        assert found is not None
        span = (found[0], found[1])
    return span[0].date(), span[1].date()


def seasonal_decomposition(
    kpis: pd.DataFrame, period: str | None = None, *, column: str = "revenue"
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """STL (or MSTL) of ``column`` over the complete periods of a :func:`kpi_table`.

    Parameters
    ----------
    kpis : pandas.DataFrame
        A :func:`kpi_table` (``period_start``, ``complete`` and ``column``).
    period : {"day", "week", "month"}, optional
        The table's period; default ``kpis.attrs["period"]``.
    column : str
        The series to decompose.

    Returns
    -------
    (pandas.DataFrame, dict)
        The decomposition, ``period_start, observed, trend, seasonal_<p>`` per seasonal
        period p ``..., resid`` (no rows without enough data), and what was done:
        ``found`` (bool), ``method`` (``"STL"``, ``"MSTL"`` or None), ``periods``,
        ``strength`` and ``cycles`` (per period), ``n_periods`` used, ``robust`` (false)
        and, when nothing was
        decomposed, ``reason``.
    """
    kind = check_kpi_period(period or kpis.attrs["period"])
    rows = kpis.loc[kpis["complete"], ["period_start", column]].reset_index(drop=True)
    n = len(rows)
    periods = [p for p, needed in SEASONS[kind] if n >= needed]
    info: dict[str, Any] = {"column": column, "n_periods": n, "robust": False}
    if not periods:
        p, needed = SEASONS[kind][0]
        reason = f"not enough data: {n} complete {kind}s, period {p} needs at least {needed}"
        empty = pd.DataFrame(
            columns=["period_start", "observed", "trend", f"seasonal_{p}", "resid"]
        )
        return empty, {**info, "found": False, "method": None, "periods": [], "reason": reason}
    values = rows[column].to_numpy(dtype="float64")
    seasonal, trend, resid = _decompose(values, periods)
    out = pd.DataFrame({"period_start": rows["period_start"], "observed": values, "trend": trend})
    for p, component in seasonal.items():
        out[f"seasonal_{p}"] = component
    out["resid"] = resid
    strength = {str(p): _strength(component, resid) for p, component in seasonal.items()}
    method = "MSTL" if len(periods) > 1 else "STL"
    cycles = {str(p): n // p for p in periods}
    return out, {
        **info,
        "found": True,
        "method": method,
        "periods": periods,
        "strength": strength,
        "cycles": cycles,
    }


def _decompose(
    values: np.ndarray, periods: list[int]
) -> tuple[dict[int, np.ndarray], np.ndarray, np.ndarray]:
    """Seasonal components by period, trend and remainder (statsmodels, imported here)."""
    from statsmodels.tsa.seasonal import MSTL, STL

    if len(periods) == 1:
        fit = STL(values, period=periods[0]).fit()
        seasonal = {periods[0]: np.asarray(fit.seasonal, dtype="float64")}
        return seasonal, np.asarray(fit.trend), np.asarray(fit.resid)
    fit = MSTL(values, periods=tuple(periods)).fit()
    components = np.asarray(fit.seasonal, dtype="float64").reshape(len(values), -1)
    seasonal = {p: components[:, i] for i, p in enumerate(periods)}
    return seasonal, np.asarray(fit.trend), np.asarray(fit.resid)


def _strength(component: np.ndarray, resid: np.ndarray) -> float:
    """Strength of a seasonal component: max(0, 1 - var(resid) / var(component + resid))."""
    total = float(np.var(component + resid))
    if total == 0.0:
        return 0.0
    return max(0.0, 1.0 - float(np.var(resid)) / total)


def kpi_summary(kpis: pd.DataFrame, seasonality: dict[str, Any]) -> dict[str, Any]:
    """The summary of a :func:`kpi_table` and its :func:`seasonal_decomposition` info.

    ``last_complete_period`` is the last row with ``complete`` true (its start, revenue,
    revenue_growth, buyers and buyers_growth; None when there is none).
    """
    attrs = kpis.attrs
    done = kpis.loc[kpis["complete"]]
    last: dict[str, Any] | None = None
    if len(done):
        row = done.iloc[-1]
        last = {
            "period_start": row["period_start"].date().isoformat(),
            **{key: _number(row[key]) for key in ("revenue", "revenue_growth")},
            **{key: _number(row[key]) for key in ("buyers", "buyers_growth")},
        }
    return {
        "period": attrs["period"],
        "periods": len(kpis),
        "first_period": kpis["period_start"].iloc[0].date().isoformat(),
        "last_period": kpis["period_start"].iloc[-1].date().isoformat(),
        "last_period_complete": bool(kpis["complete"].iloc[-1]),
        **{key: attrs[key] for key in ("first_order", "last_order", "observation_end")},
        **{key: attrs[key] for key in ("n_orders_read", "n_orders_used", "customers")},
        "total_revenue": float(kpis["revenue"].sum()),
        "total_orders": int(kpis["orders"].sum()),
        "rolling_windows": list(ROLLING_WINDOWS[attrs["period"]]),
        "last_complete_period": last,
        "seasonality": seasonality,
        "data_problems": attrs["data_problems"],
    }


def _number(value: Any) -> float | int | None:
    """A JSON number (NaN becomes None)."""
    if pd.isna(value):
        return None
    return int(value) if isinstance(value, int | np.integer) else float(value)
