"""Empirical cohort LTV: a table worked out by hand, right-censoring, invariants, an
independent pandas computation, the `clv cohorts` command and the plots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from clvmodels.cli.cohorts import cohorts
from clvmodels.errors import DataError
from clvmodels.plots.base import save_figure
from clvmodels.plots.cohorts import plot_cohort_heatmap, plot_retention_curves
from clvmodels.summaries.cohorts import (
    COHORT_COLUMNS,
    average_ltv_curve,
    cohort_ltv_wide,
    cohort_table,
    partial_cells,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_orders(rows: list[tuple[object, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "timestamp", "revenue"])
    return frame.assign(
        timestamp=pd.to_datetime(frame["timestamp"], format="ISO8601").astype("datetime64[ns]"),
        revenue=frame["revenue"].astype("float64"),
    )


# ------------------------------------------------------------------ the hand-built example
# Five customers over four months, margin 0.5, observation end 2024-03-15 (mid-March):
#   F: first order in December 2023, nothing in January, again in February.
#   A: two orders in January (a same-month repeat), then February and March.
#   B: January, then 2 March; the 20 March order is after the observation end.
#   D: one order on 31 January (still the January cohort).
#   C: acquired mid-way, in February; twice in February, once in March.
#   E: first order on 16 March, after the observation end: in no cohort at all.
HAND_ROWS = [
    ("F", "2023-12-10 09:00", 50.0),
    ("F", "2024-02-14 12:00", 25.0),
    ("A", "2024-01-05 10:00", 10.0),
    ("A", "2024-01-20 18:30", 5.0),
    ("A", "2024-02-10 08:00", 20.0),
    ("A", "2024-03-10 20:00", 8.0),
    ("B", "2024-01-15 11:00", 30.0),
    ("B", "2024-03-02 16:00", 12.0),
    ("B", "2024-03-20 10:00", 7.0),
    ("C", "2024-02-03 13:00", 40.0),
    ("C", "2024-02-25 15:00", 10.0),
    ("C", "2024-03-05 09:30", 15.0),
    ("D", "2024-01-31 23:59", 6.0),
    ("E", "2024-03-16 10:00", 100.0),
]
HAND_END = "2024-03-15"
HAND_MARGIN = 0.5

# fmt: off
HAND_EXPECTED = pd.DataFrame(
    [
        # cohort, age, size, active, retention, orders, revenue, margin, ltv, cumulative_ltv,
        # complete
        # December 2023 cohort = {F}: size 1; ages 0..3 (December .. March).
        ("2023-12-01", 0, 1, 1, 1.0, 1, 50.0, 25.0, 25.0, 25.0, True),   # 50 * 0.5 = 25; 25 / 1
        ("2023-12-01", 1, 1, 0, 0.0, 0, 0.0, 0.0, 0.0, 25.0, True),      # January: no orders
        ("2023-12-01", 2, 1, 1, 1.0, 1, 25.0, 12.5, 12.5, 37.5, True),   # 25 * 0.5; 25 + 12.5
        ("2023-12-01", 3, 1, 0, 0.0, 0, 0.0, 0.0, 0.0, 37.5, False),     # March: partial
        # January 2024 cohort = {A, B, D}: size 3.
        # age 0: A 10 + 5, B 30, D 6 -> 4 orders, revenue 51, margin 25.5, ltv 25.5 / 3 = 8.5
        ("2024-01-01", 0, 3, 3, 1.0, 4, 51.0, 25.5, 8.5, 8.5, True),
        # age 1: A 20 -> margin 10, ltv 10 / 3; cumulative (25.5 + 10) / 3 = 35.5 / 3
        ("2024-01-01", 1, 3, 1, 1 / 3, 1, 20.0, 10.0, 10 / 3, 35.5 / 3, True),
        # age 2 (March, partial): A 8, B 12 (B's 20 March order is after the end) -> 2 orders,
        # revenue 20, margin 10; cumulative (35.5 + 10) / 3 = 45.5 / 3
        ("2024-01-01", 2, 3, 2, 2 / 3, 2, 20.0, 10.0, 10 / 3, 45.5 / 3, False),
        # February 2024 cohort = {C}: size 1.
        ("2024-02-01", 0, 1, 1, 1.0, 2, 50.0, 25.0, 25.0, 25.0, True),   # 40 + 10 -> margin 25
        ("2024-02-01", 1, 1, 1, 1.0, 1, 15.0, 7.5, 7.5, 32.5, False),    # 15 * 0.5; 25 + 7.5
    ],
    columns=list(COHORT_COLUMNS),
)
# fmt: on
HAND_EXPECTED["cohort"] = pd.to_datetime(HAND_EXPECTED["cohort"]).astype("datetime64[ns]")


@pytest.fixture
def hand_orders() -> pd.DataFrame:
    return make_orders(HAND_ROWS)


@pytest.fixture
def hand_table(hand_orders: pd.DataFrame) -> pd.DataFrame:
    return cohort_table(hand_orders, margin=HAND_MARGIN, observation_end=HAND_END)


def test_hand_built_example(hand_table):
    pd.testing.assert_frame_equal(hand_table, HAND_EXPECTED, check_exact=False, rtol=1e-12)
    assert hand_table.attrs == {
        "period": "month",
        "margin": 0.5,
        "first_order": "2023-12-10",
        "observation_end": "2024-03-15",
        "last_period_complete": False,
    }


def test_input_is_not_modified(hand_orders):
    before = hand_orders.copy()
    cohort_table(hand_orders, margin=0.3, observation_end=HAND_END)
    pd.testing.assert_frame_equal(hand_orders, before)


def test_period_ending_on_the_observation_end_is_complete(hand_orders):
    # 31 March is March's last day: March is fully observed, and B's 20 March order counts.
    table = cohort_table(hand_orders, margin=HAND_MARGIN, observation_end="2024-03-31")
    assert table["complete"].all()
    assert table.attrs["last_period_complete"] is True
    jan_march = table[(table["cohort"] == "2024-01-01") & (table["age"] == 2)].iloc[0]
    assert jan_march["orders"] == 3  # A 8, B 12, B 7
    assert jan_march["revenue"] == pytest.approx(27.0)
    # E (16 March) now forms a March cohort of its own, observed for its one (complete) age
    march = table[table["cohort"] == "2024-03-01"]
    assert march[["age", "cohort_size", "revenue"]].values.tolist() == [[0, 1, 100.0]]


def test_default_observation_end_is_the_last_order_day(hand_orders):
    table = cohort_table(hand_orders)
    assert table.attrs["observation_end"] == "2024-03-20"
    # only the last age of each cohort is partial, and it is March 2024 for every cohort
    last_age = table.groupby("cohort")["age"].transform("max")
    assert (~table["complete"] == (table["age"] == last_age)).all()
    partial = table[~table["complete"]]
    months = {
        (cohort + pd.DateOffset(months=int(age))).strftime("%Y-%m")
        for cohort, age in zip(partial["cohort"], partial["age"], strict=True)
    }
    assert months == {"2024-03"}
    assert len(partial) == 4  # December, January, February and E's March cohort


def test_weekly_cohorts_start_on_monday():
    # 1 January 2024 is a Monday; 7 January a Sunday (same ISO week), 8 January a Monday.
    orders = make_orders(
        [("Y", "2024-01-01", 10.0), ("X", "2024-01-07 23:00", 4.0), ("X", "2024-01-08", 6.0)]
    )
    # observation end on a Sunday: the week of 8 January is fully observed
    table = cohort_table(orders, period="week", observation_end="2024-01-14")
    assert table["cohort"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-01", "2024-01-01"]
    assert table[["age", "cohort_size", "active_customers", "orders"]].values.tolist() == [
        [0, 2, 2, 2],  # Y on Monday, X on Sunday: one week
        [1, 2, 1, 1],  # X on the next Monday
    ]
    assert table["complete"].all()
    # one day earlier, that week is partial
    assert cohort_table(orders, period="week", observation_end="2024-01-13")[
        "complete"
    ].tolist() == [True, False]


def test_calendar_months_not_30_day_blocks():
    # 31 January -> 1 February is one month of age; 1 February -> 28 February is none.
    orders = make_orders(
        [("a", "2024-01-31", 1.0), ("a", "2024-02-01", 2.0), ("a", "2024-02-28", 4.0)]
    )
    table = cohort_table(orders, observation_end="2024-02-29")
    assert table[["age", "orders", "revenue"]].values.tolist() == [[0, 1, 1.0], [1, 2, 6.0]]


# ------------------------------------------------------------------ right-censoring
def test_average_curve_uses_only_cohorts_that_fully_reached_each_age(hand_table):
    curve = average_ltv_curve(hand_table)
    expected = pd.DataFrame(
        {
            # age 0: all three cohorts (their first periods are complete), 1 + 3 + 1 customers;
            #   (25 * 1 + 8.5 * 3 + 25 * 1) / 5 = 75.5 / 5 = 15.1; retention (1 + 3 + 1) / 5 = 1
            # age 1: December (January) and January (February); February's age 1 is the
            #   partial March, left out: (25 * 1 + 35.5 / 3 * 3) / 4 = 60.5 / 4 = 15.125;
            #   retention (0 + 1) / 4 = 0.25
            # age 2: only December (February): 37.5, retention 1; January's age 2 is March
            # age 3: December's age 3 is March (partial): no cohort, no row
            "age": [0, 1, 2],
            "n_cohorts": [3, 2, 1],
            "customers": [5, 4, 1],
            "cumulative_ltv": [15.1, 15.125, 37.5],
            "retention": [1.0, 0.25, 1.0],
        }
    )
    pd.testing.assert_frame_equal(curve, expected, check_exact=False, rtol=1e-12)
    # what a naive mean over every row at age 1 would say instead (the partial February cohort
    # included): (25 + 35.5 + 32.5) / 5 = 18.6
    naive = hand_table[hand_table["age"] == 1]
    naive_ltv = (naive["cumulative_ltv"] * naive["cohort_size"]).sum() / naive["cohort_size"].sum()
    assert naive_ltv == pytest.approx(18.6)


def test_wide_pivot_and_partial_cells(hand_table):
    wide = cohort_ltv_wide(hand_table)
    assert wide.index.strftime("%Y-%m").tolist() == ["2023-12", "2024-01", "2024-02"]
    assert wide.columns.tolist() == [0, 1, 2, 3]
    expected = np.array(
        [
            [25.0, 25.0, 37.5, 37.5],
            [8.5, 35.5 / 3, 45.5 / 3, np.nan],
            [25.0, 32.5, np.nan, np.nan],
        ]
    )
    np.testing.assert_allclose(wide.to_numpy(), expected, rtol=1e-12)
    complete_only = cohort_ltv_wide(hand_table, complete_only=True).to_numpy()
    np.testing.assert_allclose(
        complete_only,
        np.where([[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]], np.nan, expected),
        rtol=1e-12,
    )
    assert partial_cells(hand_table).to_numpy().tolist() == [
        [False, False, False, True],
        [False, False, True, False],
        [False, True, False, False],
    ]


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("margin", [0.0, -0.1, 1.5, float("nan")])
def test_margin_outside_zero_one_is_refused(hand_orders, margin):
    with pytest.raises(ValueError, match="margin"):
        cohort_table(hand_orders, margin=margin)


def test_unknown_period_is_refused(hand_orders):
    with pytest.raises(ValueError, match="period"):
        cohort_table(hand_orders, period="day")  # type: ignore[arg-type]


def test_observation_end_before_first_order(hand_orders):
    with pytest.raises(DataError, match="before the first order"):
        cohort_table(hand_orders, observation_end="2023-12-09")


def test_missing_column_and_empty_table(hand_orders):
    with pytest.raises(DataError, match="'revenue'"):
        cohort_table(hand_orders.drop(columns="revenue"))
    with pytest.raises(DataError, match="no rows"):
        cohort_table(hand_orders.iloc[:0])


# ------------------------------------------------------------------ invariants (hypothesis)
order_rows = st.lists(
    st.tuples(
        st.integers(0, 7),  # customer
        st.integers(0, 150),  # day offset from 2024-01-25
        st.floats(0, 1000, allow_nan=False, allow_infinity=False),  # revenue
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(
    rows=order_rows,
    period=st.sampled_from(["month", "week"]),
    margin=st.floats(0.01, 1.0),
    end_offset=st.one_of(st.none(), st.integers(0, 200)),
)
def test_invariants(rows, period, margin, end_offset):
    start = pd.Timestamp("2024-01-25")
    orders = pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [start + pd.Timedelta(days=r[1], hours=r[1] % 24) for r in rows],
            "revenue": [r[2] for r in rows],
        }
    ).astype({"timestamp": "datetime64[ns]"})
    first_day = orders["timestamp"].min().normalize()
    end = None if end_offset is None else first_day + pd.Timedelta(days=end_offset)
    table = cohort_table(orders, period=period, margin=margin, observation_end=end)
    end_day = pd.Timestamp(table.attrs["observation_end"])
    used = orders[orders["timestamp"].dt.normalize() <= end_day]

    # every customer with an order up to the end is in exactly one cohort
    ages0 = table[table["age"] == 0]
    assert ages0["cohort_size"].sum() == used["customer_id"].nunique()
    assert (ages0["active_customers"] == ages0["cohort_size"]).all()
    assert (ages0["retention"] == 1.0).all()
    # retention within [0, 1]; ages 0, 1, ... without gaps; only the last age may be partial
    assert table["retention"].between(0, 1).all()
    for _, group in table.groupby("cohort"):
        assert group["age"].tolist() == list(range(len(group)))
        assert group["complete"].iloc[:-1].all()
        # cumulative LTV never decreases with age, and adds up the per-age LTV
        cumulative = group["cumulative_ltv"].to_numpy()
        assert (np.diff(cumulative) >= -1e-12 * max(1.0, cumulative.max())).all()
        np.testing.assert_allclose(cumulative, group["ltv"].cumsum(), rtol=1e-9, atol=1e-9)
    # every order up to the end is counted once; margin is revenue times the rate
    assert table["orders"].sum() == len(used)
    np.testing.assert_allclose(table["revenue"].sum(), used["revenue"].sum(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(table["margin"], table["revenue"] * margin, rtol=1e-12)
    # all cohorts share the calendar period of the observation end as their last age
    assert table.groupby("cohort")["complete"].last().nunique() == 1
    curve = average_ltv_curve(table)
    assert curve["retention"].between(0, 1).all()


# ------------------------------------------------------------------ independent pandas check
def pandas_cohorts(
    orders: pd.DataFrame, *, period: str, margin: float, observation_end: str
) -> pd.DataFrame:
    """An independent, deliberately plain implementation with pandas periods."""
    freq = "M" if period == "month" else "W-SUN"  # weeks ending on Sunday start on Monday
    end = pd.Timestamp(observation_end)
    used = orders[orders["timestamp"].dt.normalize() <= end].copy()
    used["p"] = pd.PeriodIndex(used["timestamp"].dt.to_period(freq)).asi8
    used["cohort"] = used.groupby("customer_id")["p"].transform("min")
    used["age"] = used["p"] - used["cohort"]
    sizes = used.groupby("cohort")["customer_id"].nunique()
    cells = used.groupby(["cohort", "age"]).agg(
        active_customers=("customer_id", "nunique"),
        orders=("revenue", "size"),
        revenue=("revenue", "sum"),
    )
    end_period = pd.Period(end, freq)
    end_is_last_day = end_period.end_time.normalize() == end
    rows = []
    for cohort, size in sizes.items():
        cumulative = 0.0
        for age in range(end_period.ordinal - cohort + 1):
            cell = cells.loc[(cohort, age)] if (cohort, age) in cells.index else None
            active = int(cell["active_customers"]) if cell is not None else 0
            n_orders = int(cell["orders"]) if cell is not None else 0
            revenue = float(cell["revenue"]) if cell is not None else 0.0
            cumulative += revenue * margin
            rows.append(
                {
                    "cohort": pd.Period(ordinal=cohort, freq=freq).start_time,
                    "age": age,
                    "cohort_size": int(size),
                    "active_customers": active,
                    "retention": active / size,
                    "orders": n_orders,
                    "revenue": revenue,
                    "margin": revenue * margin,
                    "ltv": revenue * margin / size,
                    "cumulative_ltv": cumulative / size,
                    "complete": cohort + age < end_period.ordinal or end_is_last_day,
                }
            )
    out = pd.DataFrame(rows)
    return out.astype({"cohort": "datetime64[ns]", "complete": bool})


def simulated_orders(seed: int, n_customers: int = 400) -> pd.DataFrame:
    """Customers acquired over 14 months, each with a geometric number of later orders."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2023-01-01T00:00:00", "s")
    first = rng.integers(0, 420 * 86400, n_customers)
    n_repeat = rng.geometric(0.3, n_customers) - 1
    owner = np.repeat(np.arange(n_customers), n_repeat + 1)
    gaps = rng.exponential(40 * 86400, owner.size).astype(np.int64)
    is_first = np.r_[True, owner[1:] != owner[:-1]]
    gaps[is_first] = 0
    offsets = first[owner] + np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[is_first], n_repeat + 1)
    orders = pd.DataFrame(
        {
            "customer_id": np.char.add("cust-", owner.astype(str)),
            "timestamp": (start + offsets.astype("timedelta64[s]")).astype("datetime64[ns]"),
            "revenue": np.round(rng.gamma(2.0, 30.0, owner.size), 2),
        }
    )
    return orders.sample(frac=1.0, random_state=seed, ignore_index=True)


@pytest.mark.parametrize(
    ("period", "margin", "observation_end"),
    [("month", 0.35, "2024-02-17"), ("week", 1.0, "2023-11-05"), ("month", 0.8, "2023-12-31")],
)
def test_agrees_with_independent_pandas(period, margin, observation_end):
    orders = simulated_orders(seed=7)
    ours = cohort_table(orders, period=period, margin=margin, observation_end=observation_end)
    ref = pandas_cohorts(orders, period=period, margin=margin, observation_end=observation_end)
    assert len(ours) == len(ref) > 20
    exact = ["cohort", "age", "cohort_size", "active_customers", "orders", "complete"]
    pd.testing.assert_frame_equal(ours[exact], ref[exact])
    for column in ("retention", "revenue", "margin", "ltv", "cumulative_ltv"):
        np.testing.assert_allclose(ours[column], ref[column], rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------ the command
@pytest.fixture
def hand_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    make_orders(HAND_ROWS).rename(columns={"customer_id": "client"}).to_csv(path, index=False)
    return path


def test_cli_writes_table_wide_and_plots(hand_csv, tmp_path):
    out = tmp_path / "out" / "cohorts.parquet"
    wide = tmp_path / "out" / "wide.csv"
    result = CliRunner().invoke(
        cohorts,
        [
            str(hand_csv),
            *("--customer-col", "client", "--margin", "0.5", "--observation-end", HAND_END),
            *("-o", str(out), "--wide", str(wide)),
        ],
    )
    assert result.exit_code == 0, result.output
    written = pd.read_parquet(out)
    pd.testing.assert_frame_equal(written, HAND_EXPECTED, check_exact=False, rtol=1e-12)
    flat = pd.read_csv(wide)
    assert flat.columns.tolist() == ["cohort", "0", "1", "2", "3"]
    assert flat["0"].tolist() == [25.0, 8.5, 25.0]
    assert flat["3"].isna().tolist() == [False, True, True]
    for name in ("cohorts_heatmap.png", "cohorts_retention.png"):
        assert (out.parent / name).read_bytes().startswith(PNG_SIGNATURE)
    assert "3 monthly cohorts" in result.output
    assert "M1 retention (average of 2 fully observed cohorts): 25.0%" in result.output
    assert "partly observed" in result.output
    assert f"wrote {out}" in result.output


def test_cli_plots_folder_and_weekly_json(hand_csv, tmp_path):
    out = tmp_path / "weekly.json"
    plots = tmp_path / "plots"
    result = CliRunner().invoke(
        cohorts,
        [
            str(hand_csv),
            *("--customer-col", "client", "--period", "week"),
            *("-o", str(out), "--plots", str(plots)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert pd.read_json(out)["cohort_size"].sum() > 0
    assert sorted(p.name for p in plots.iterdir()) == ["weekly_heatmap.png", "weekly_retention.png"]
    assert "W1 retention" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no column 'customer_id'"),
        (["--customer-col", "client", "--observation-end", "2023-01-31"], "before the first order"),
        (["--customer-col", "client", "--wide", "wide.xlsx"], "must end in"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(hand_csv, tmp_path, args, message):
    out = tmp_path / "result" / "cohorts.csv"
    result = CliRunner().invoke(cohorts, [str(hand_csv), "-o", str(out), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0
    assert result.output.startswith("Error: ")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["orders.csv"]


def test_cli_has_help_with_example():
    result = CliRunner().invoke(cohorts, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "clv cohorts" in result.output


# ------------------------------------------------------------------ plots
def test_plots_draw_into_a_given_axes_and_save_valid_pngs(hand_table, tmp_path):
    figure = Figure()
    left, right = figure.subplots(1, 2)
    assert plot_cohort_heatmap(hand_table, ax=left) is left
    assert plot_retention_curves(hand_table, ax=right) is right
    assert len(left.texts) == 9  # one value per observed cell
    assert len(left.patches) == 3  # the three partial cells, hatched
    assert len(right.lines) >= 4

    for name, ax in (
        ("heat.png", plot_cohort_heatmap(hand_table)),
        ("retention.png", plot_retention_curves(hand_table)),
        ("both.png", left),
    ):
        assert isinstance(ax, Axes)
        path = save_figure(ax, tmp_path / "png" / name)
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = matplotlib.image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == [
        "both.png",
        "heat.png",
        "retention.png",
    ]  # no temporary files left behind


def test_plots_do_not_touch_pyplot():
    code = (
        "import sys, pandas as pd\n"
        "from clvmodels.summaries.cohorts import cohort_table\n"
        "from clvmodels.plots.cohorts import plot_cohort_heatmap, plot_retention_curves\n"
        "o = pd.DataFrame({'customer_id': [1, 1, 2], 'timestamp': pd.to_datetime("
        "['2024-01-03', '2024-02-05', '2024-02-07']), 'revenue': [1.0, 2.0, 3.0]})\n"
        "t = cohort_table(o)\n"
        "plot_cohort_heatmap(t); plot_retention_curves(t)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_nanosecond_order_at_month_end_stays_in_its_month():
    """DuckDB would round 23:59:59.9999996 up to the next day (and month); pandas floors."""
    from clvmodels.summaries.cohorts import cohort_table

    stamps = ["2024-01-05 09:00:00", "2024-01-31 23:59:59.9999996", "2024-03-01 00:00:00"]
    orders = pd.DataFrame(
        {
            "customer_id": [1, 1, 2],
            "timestamp": pd.to_datetime(stamps, format="ISO8601"),
            "revenue": [10.0, 20.0, 5.0],
        }
    )
    table = cohort_table(orders, period="month", observation_end="2024-03-31")
    first = table[(table["cohort"] == table["cohort"].min()) & (table["age"] == 0)]
    month_of_each = orders["timestamp"].dt.to_period("M")  # pandas' own months: the oracle
    expected = orders.loc[month_of_each == month_of_each.iloc[0], "revenue"].sum()
    assert float(first["revenue"].iloc[0]) == pytest.approx(expected)
