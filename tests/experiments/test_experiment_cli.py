"""clv experiment end to end: files, printed lines, values against scipy; bad input exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats as st

from clvmodels.cli import cli

ORDER_FLAGS = ["--customer-col", "Uid", "--date-col", "Buy Ts", "--revenue-col", "Revenue"]


def _write(tmp_path: Path, n: int = 400, seed: int = 4) -> tuple[Path, Path]:
    """Users 0..n-1 in A/B, assigned over January; converters buy 1-3 times within days."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    at = start + pd.to_timedelta(rng.integers(0, 31 * 24 * 60, n), unit="min")
    group = np.where(np.arange(n) % 2 == 0, "A", "B")
    pd.DataFrame({"user": np.arange(n), "arm": group, "at": at}).to_csv(
        tmp_path / "ab.csv", index=False
    )
    rows = []
    for u, g, a in zip(range(n), group, at, strict=True):
        if rng.random() < (0.3 if g == "A" else 0.4):
            for _ in range(rng.integers(1, 4)):
                rows.append((u, a + pd.Timedelta(hours=float(rng.uniform(0, 24 * 40))), 10.0))
    rows.append((n + 5, start, 99.0))  # never assigned
    orders = pd.DataFrame(rows, columns=["Uid", "Buy Ts", "Revenue"])
    orders["Revenue"] = rng.exponential(25.0, len(orders)).round(2)
    orders.to_csv(tmp_path / "orders.csv", index=False)
    return tmp_path / "ab.csv", tmp_path / "orders.csv"


def run(*args: str):
    return CliRunner().invoke(cli, ["experiment", *args])


def _args(ab: Path, orders: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--assignments",
        str(ab),
        "--assignments-uid-col",
        "user",
        "--assignments-group-col",
        "arm",
        "--assignments-time-col",
        "at",
        "--orders",
        str(orders),
        *ORDER_FLAGS,
        "-o",
        str(out),
        *extra,
    ]


def test_end_to_end(tmp_path: Path) -> None:
    ab, orders = _write(tmp_path)
    out = tmp_path / "out"
    result = run(*_args(ab, orders, out, "--window-days", "14", "--observation-end", "2024-02-20"))
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {
        "summary.csv",
        "tests.csv",
        "srm.json",
        "checks.json",
        "lifts.png",
        "experiment.json",
    }
    # the user table, recomputed here with pandas
    a = pd.read_csv(ab, parse_dates=["at"])
    o = pd.read_csv(orders, parse_dates=["Buy Ts"])
    kept = a[a["at"] + pd.Timedelta(days=14) <= pd.Timestamp("2024-02-21")]
    m = o.merge(kept, left_on="Uid", right_on="user")
    m = m[(m["Buy Ts"] >= m["at"]) & (m["Buy Ts"] < m["at"] + pd.Timedelta(days=14))]
    per_user = m.groupby("user")["Revenue"].agg(["size", "sum"]).reindex(kept["user"], fill_value=0)
    per_user["arm"] = kept.set_index("user")["arm"]
    summary = pd.read_csv(out / "summary.csv").set_index("group")
    for g in ("A", "B"):
        part = per_user[per_user["arm"] == g]
        assert summary.loc[g, "users"] == len(part)
        assert summary.loc[g, "converters"] == int((part["size"] > 0).sum())
        assert summary.loc[g, "revenue_per_user"] == pytest.approx(part["sum"].mean())
        assert summary.loc[g, "orders_per_user"] == pytest.approx(part["size"].mean())
    tests = pd.read_csv(out / "tests.csv")
    assert list(tests.columns) == [
        "metric",
        "group",
        "test",
        "difference",
        "relative_lift",
        "ci_low",
        "ci_high",
        "p_value",
        "p_value_adjusted",
    ]
    assert set(zip(tests["metric"], tests["test"], strict=True)) == {
        ("conversion", "chi2"),
        *(
            (m, t)
            for m in ("revenue_per_user", "orders_per_user")
            for t in ("welch_t", "mann_whitney", "bootstrap")
        ),
    }
    rev = {g: per_user.loc[per_user["arm"] == g, "sum"].to_numpy() for g in ("A", "B")}
    welch = tests[(tests["metric"] == "revenue_per_user") & (tests["test"] == "welch_t")].iloc[0]
    assert welch["p_value"] == pytest.approx(
        st.ttest_ind(rev["B"], rev["A"], equal_var=False).pvalue
    )
    mw = tests[(tests["metric"] == "revenue_per_user") & (tests["test"] == "mann_whitney")].iloc[0]
    assert pd.isna(mw["difference"]) and pd.isna(mw["ci_low"])
    srm = json.loads((out / "srm.json").read_text())
    assert srm["observed"] == {"A": 200, "B": 200} and srm["flagged"] is False
    checks = json.loads((out / "checks.json").read_text())
    assert set(checks) == {"revenue_per_user", "orders_per_user"}
    assert set(checks["revenue_per_user"]["A"]) >= {
        "skewness",
        "kurtosis",
        "normality_p_value",
        "note",
    }
    info = json.loads((out / "experiment.json").read_text())
    assert info["settings"]["window_days"] == 14 and info["settings"]["control"] == "A"
    assert info["counts"]["orders_by_unassigned"] == 1
    assert info["counts"]["users_window_past_end"] == 400 - len(kept)
    assert "control: A (default)" in result.output
    assert "planned split: A=50.0%, B=50.0% (default)" in result.output
    assert "sample ratio: OK" in result.output
    assert "B conversion: lift" in result.output and "B revenue_per_user: lift" in result.output


def test_srm_flagged_loudly_and_control_chosen(tmp_path: Path) -> None:
    ab, orders = _write(tmp_path)
    out = tmp_path / "out"
    result = run(*_args(ab, orders, out, "--planned-split", "A=80,B=20", "--control", "B"))
    assert result.exit_code == 0, result.output
    assert "SAMPLE RATIO MISMATCH" in result.output
    assert "control: B;" in result.output
    assert json.loads((out / "srm.json").read_text())["flagged"] is True
    assert set(pd.read_csv(out / "tests.csv")["group"]) == {"A"}


@pytest.mark.parametrize(
    ("change", "extra", "words"),
    [
        ("two groups", [], "assigned to more than one group"),
        ("one group", [], "one group only"),
        ("late", [], "users) is after the observation end"),
        (None, ["--control", "Z"], "the control 'Z' has no users"),
        (
            None,
            ["--planned-split", "A=50,B=25,C=25"],
            "the planned split names C, which has no users",
        ),
        (None, ["--planned-split", "A=50"], "gives no share to B"),
        (None, ["--planned-split", "A50"], "--planned-split"),
        (None, ["--window-days", "0"], "--window-days"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, change: str | None, extra: list[str], words: str
) -> None:
    ab, orders = _write(tmp_path, n=40)
    frame = pd.read_csv(ab)
    if change == "two groups":
        frame = pd.concat(
            [frame, frame.head(1).assign(arm="B" if frame.loc[0, "arm"] == "A" else "A")]
        )
    elif change == "one group":
        frame["arm"] = "A"
    elif change == "late":
        frame["at"] = "2025-01-01"
    frame.to_csv(ab, index=False)
    result = run(*_args(ab, orders, tmp_path / "out", *extra))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(lines) == 1 and words in lines[0], result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out" / "tests.csv").exists()


def test_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    ab, orders = _write(tmp_path, n=40)
    result = run(*_args(ab, orders, tmp_path))
    assert result.exit_code == 2 and "nothing was written" in result.output


def test_help_has_examples() -> None:
    result = CliRunner().invoke(cli, ["experiment", "--help"])
    assert result.exit_code == 0
    for word in ("--planned-split", "--window-days", "clv experiment --assignments", "Holm"):
        assert word in result.output


def test_clv_toml_fills_the_assignments_and_the_design(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, n=60)
    (tmp_path / "clv.toml").write_text(
        '[assignments]\npath = "ab.csv"\nassignments_uid_col = "user"\n'
        'assignments_group_col = "arm"\nassignments_time_col = "at"\ncontrol = "B"\n'
        'window_days = 10\n[orders]\npath = "orders.csv"\ncustomer_col = "Uid"\n'
        'date_col = "Buy Ts"\nrevenue_col = "Revenue"\n'
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["experiment", "-o", "out"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert info["settings"]["control"] == "B" and info["settings"]["window_days"] == 10


def test_value_part_is_written_when_a_model_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in for clvmodels.experiments.value: the job writes clv.csv and the clv rows."""
    from types import SimpleNamespace

    import clvmodels.experiments.value
    import clvmodels.jobs.experiment as job
    import clvmodels.persistence
    from clvmodels.data.contract import OrdersSource

    seen = {}

    def fake_comparison(model, users, orders, *, control, **kwargs):
        seen.update(model=model, control=control, columns=list(users.columns), **kwargs)
        means = users.groupby("group")["revenue"].mean() * 3
        table = pd.DataFrame(
            {
                "group": ["A", "B"],
                "users": users["group"].value_counts().sort_index().to_numpy(),
                "customers": [1, 1],
                "mean_clv": [means["A"], means["B"]],
                "ci_low": [0.0, 0.0],
                "ci_high": [1e3, 1e3],
                "lift": [np.nan, means["B"] - means["A"]],
                "lift_low": [np.nan, means["B"] - means["A"] - 5],
                "lift_high": [np.nan, means["B"] - means["A"] + 5],
                "prob_beats_control": [np.nan, 0.9],
            }
        )
        return SimpleNamespace(
            table=table,
            per_user=None,
            draws=1,
            note="MAP: sampling only",
            n_models=1,
            warning="WARNING: pooled",
        )

    monkeypatch.setattr(clvmodels.experiments.value, "value_comparison", fake_comparison)
    monkeypatch.setattr(clvmodels.persistence, "load_model", lambda path: f"model at {path}")
    ab, orders = _write(tmp_path, n=80)
    source = OrdersSource(orders, customer_col="Uid", date_col="Buy Ts", revenue_col="Revenue")
    columns = {"uid_col": "user", "group_col": "arm", "time_col": "at"}
    out = tmp_path / "out"
    outcome = job.run_experiment(
        ab, source, out, assignments_columns=columns, model_dir="m", horizon="6M", margin=0.5
    )
    assert seen["model"] == "model at m" and seen["control"] == "A"
    assert seen["horizon"] == "6M" and seen["margin"] == 0.5 and seen["n_draws"] == 200
    assert {"uid", "group", "window_end"} <= set(seen["columns"])
    assert (out / "clv.csv").exists() and (out / "lifts.png").exists()
    tests = pd.read_csv(out / "tests.csv")
    clv = tests[tests["metric"] == "clv"].iloc[0]
    table = pd.read_csv(out / "clv.csv").set_index("group")
    assert clv["test"] == "posterior" and clv["group"] == "B"
    assert clv["difference"] == pytest.approx(table.loc["B", "lift"])
    assert clv["ci_low"] == pytest.approx(table.loc["B", "lift_low"])
    assert clv["relative_lift"] == pytest.approx(
        table.loc["B", "lift"] / table.loc["A", "mean_clv"]
    )
    assert pd.isna(clv["p_value"]) and pd.isna(clv["p_value_adjusted"])
    info = json.loads((out / "experiment.json").read_text())
    assert info["settings"]["clv_draws"] == 1 and info["clv_note"] == "MAP: sampling only"
    from clvmodels.cli.experiment import experiment_lines

    lines = experiment_lines(outcome)
    assert any(line.startswith("B clv: lift") and "posterior" in line for line in lines)
    assert lines[-1] == "clv: MAP: sampling only" and "WARNING: pooled" in lines
