"""The report's "Experiment" section on the folder ``run_experiment`` writes from a few users.

The folder is written by the job behind ``clv experiment``; the section must show the numbers
of its files, and the conversion test computed by hand below checks that they are the right
ones. ``clv.csv`` (written only with ``--model``) is made by hand here, in the columns of
:data:`clvmodels.experiments.outputs.CLV_COLUMNS`.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from test_report_analytics import parse  # the page's sections, texts, tables and images

from clvmodels.cli.report import report as report_command
from clvmodels.data.contract import OrdersSource
from clvmodels.data.io import read_orders
from clvmodels.errors import DataError
from clvmodels.experiments.analysis import lift_rows
from clvmodels.experiments.outputs import CLV_COLUMNS, TEST_COLUMNS
from clvmodels.jobs.experiment import run_experiment
from clvmodels.report.build import SECTION_IDS, build_report
from clvmodels.report.experiment import TEST_HEADER, experiment_section, read_experiment
from clvmodels.report.html import Section

# 20 users per group, assigned an hour apart from 2024-01-01; 6 converters in A each order
# once for 10.0, 10 in B each once for 20.0, 2 in C each once for 10.0, a day after their
# assignment (the default 28-day
# windows, all complete by the observation end 2024-02-01).
GROUPS, N = ("A", "B", "C"), 20
CONVERTERS, PRICE = {"A": 6, "B": 10, "C": 2}, {"A": 10.0, "B": 20.0, "C": 10.0}
# By hand: B against A, rates 0.5 and 0.3, pooled 16/40 = 0.4; Pearson's chi-squared without
# correction (p_B - p_A)^2 / (p (1 - p) (1/20 + 1/20)) = 0.04 / 0.024, one degree of freedom:
# p = erfc(sqrt(chi2 / 2)). C against A: 0.1 and 0.3, pooled 0.2: 0.04 / 0.016.
P_B = math.erfc(math.sqrt(0.2**2 / (0.4 * 0.6 * (1 / N + 1 / N)) / 2))
P_C = math.erfc(math.sqrt(0.2**2 / (0.2 * 0.8 * (1 / N + 1 / N)) / 2))
# Holm over the two variants: the smaller p (C's) times 2, the larger at least that.
HOLM_C = 2 * P_C
HOLM_B = max(HOLM_C, P_B)


def _write(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    assignments, orders = [], []
    for k in range(len(GROUPS) * N):
        group, i = GROUPS[k // N], k % N
        at = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=k)
        assignments.append((f"u{k:03d}", group, at))
        if i < CONVERTERS[group]:
            orders.append((f"u{k:03d}", at + pd.Timedelta(days=1), PRICE[group]))
    ab, bought = folder / "ab.csv", folder / "orders.csv"
    pd.DataFrame(assignments, columns=["uid", "variant", "assigned_at"]).to_csv(ab, index=False)
    pd.DataFrame(orders, columns=["customer_id", "timestamp", "revenue"]).to_csv(
        bought, index=False
    )
    return ab, bought


def _with_clv(source: Path, target: Path, *, plot: bool = True) -> Path:
    """A copy of ``source`` as if run with --model: clv.csv, its tests rows and note."""
    folder = Path(shutil.copytree(source, target))
    if not plot:
        (folder / "lifts.png").unlink()
    clv = pd.DataFrame(
        [
            ("A", 20, 6, 12.5, 8.25, 17.0, None, None, None, None),
            ("B", 20, 10, 15.0, 11.5, 19.75, 2.5, -1.25, 6.5, 0.875),
            ("C", 20, 2, 5.0, 2.0, 8.0, -7.5, -12.0, -3.0, 0.001),
        ],
        columns=list(CLV_COLUMNS),
    )
    clv.to_csv(folder / "clv.csv", index=False)
    tests = pd.read_csv(folder / "tests.csv")
    row = dict(
        zip(TEST_COLUMNS, ["clv", "B", "posterior", 2.5, 0.2, -1.25, 6.5, None, None], strict=True)
    )
    pd.concat([tests, pd.DataFrame([row])]).to_csv(folder / "tests.csv", index=False)
    info = json.loads((folder / "experiment.json").read_text())
    info["clv_note"] = "The model is a point fit (MAP, one draw): sampling uncertainty only."
    info["settings"].update(horizon="12M", margin=1.0, annual_discount_rate=0.1, clv_draws=1)
    (folder / "experiment.json").write_text(json.dumps(info))
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("experiment")
    ab, orders = _write(base)
    out = {"orders": orders, "ab": ab, "folder": base / "ab_out", "skewed": base / "srm_out"}
    run_experiment(ab, OrdersSource(orders), out["folder"], observation_end="2024-02-01")
    run_experiment(
        ab,
        OrdersSource(orders),
        out["skewed"],
        observation_end="2024-02-01",
        planned_split={"A": 80, "B": 10, "C": 10},
    )
    out["clv"] = _with_clv(out["folder"], base / "with_clv")
    out["bare"] = _with_clv(out["folder"], base / "bare", plot=False)
    return out


def section_page(section: Section):
    return parse(f"<section id='{section.id}'>{section.body}</section>")


@pytest.fixture(scope="module")
def page(inputs):
    return section_page(experiment_section(read_experiment(inputs["clv"])))


def tables(page, header: list[str]) -> list[list[list[str]]]:
    """The rows of the section's tables whose header is ``header``."""
    return [rows[1:] for rows in page.tables["experiment"] if rows and rows[0] == header]


def text(page) -> str:
    return " ".join(" ".join(page.text["experiment"]).split())


def test_section_is_last_and_absent_without_the_folder(inputs) -> None:
    orders = read_orders(inputs["orders"])
    ids = parse(build_report(orders, experiment=inputs["folder"])).ids
    assert ids == [*SECTION_IDS, "experiment"]
    assert "experiment" not in parse(build_report(orders)).ids


def test_groups_table_is_summary_csv(page, inputs) -> None:
    summary = pd.read_csv(inputs["folder"] / "summary.csv")
    header = ["group", "users", "converters", "conversion rate", "revenue"]
    header += ["revenue per user", "orders per user"]
    (rows,) = tables(page, header)
    assert rows == [
        [
            f"{r.group}{' (control)' if r.group == 'A' else ''}",
            f"{r.users:,.0f}",
            f"{r.converters:,.0f}",
            f"{r.conversion_rate:.2%}",
            f"{r.revenue:,.2f}",
            f"{r.revenue_per_user:,.4f}",
            f"{r.orders_per_user:,.4f}",
        ]
        for r in summary.itertuples()
    ]
    # by hand: 6 and 10 converters of 20; revenue 6 x 10 and 10 x 20
    assert [r[2:6] for r in rows] == [
        ["6", "30.00%", "60.00", "3.0000"],
        ["10", "50.00%", "200.00", "10.0000"],
        ["2", "10.00%", "20.00", "1.0000"],
    ]


def test_tests_tables_are_tests_csv_and_the_chi2_by_hand(page, inputs) -> None:
    tests = pd.read_csv(inputs["clv"] / "tests.csv")
    shown = tables(page, TEST_HEADER)
    assert len(shown) == 4  # conversion, revenue per user, orders per user, clv
    metrics = ["conversion", "revenue_per_user", "orders_per_user", "clv"]
    for rows, metric in zip(shown, metrics, strict=True):
        part = tests[tests["metric"] == metric]
        assert [r[1] for r in rows] == list(part["test"])

        def cell(value, spec: str) -> str:
            return "" if pd.isna(value) else format(value, spec)

        assert [r[2:] for r in rows] == [
            [
                cell(r.difference, "+.4g"),
                cell(r.relative_lift, "+.2%"),
                "" if pd.isna(r.ci_low) else f"[{r.ci_low:+.4g}, {r.ci_high:+.4g}]",
                cell(r.p_value, ".3g"),
                cell(r.p_value_adjusted, ".3g"),
            ]
            for r in part.itertuples()
        ]
    b, c = shown[0]
    # by hand: 0.5 - 0.3 and 0.1 - 0.3, over 0.3; p and Holm's p as above
    assert b[:4] == ["B", "chi2", "+0.2", "+66.67%"]
    assert c[:4] == ["C", "chi2", "-0.2", "-66.67%"]
    assert (b[5], c[5]) == (f"{P_B:.3g}", f"{P_C:.3g}") == ("0.197", "0.114")
    assert b[6] == c[6] == f"{HOLM_B:.3g}" == f"{HOLM_C:.3g}" == "0.228"
    welch, whitney, bootstrap = shown[1][:3]
    assert welch[2] == "+7"  # 10 - 3 revenue per user
    assert whitney[2:5] == ["", "", ""] and whitney[5] != ""
    assert bootstrap[2] == "" and bootstrap[4].startswith("[") and bootstrap[5] == ""
    assert "SAMPLE RATIO MISMATCH" not in text(page) and "sample ratio OK" in text(page)


def test_srm_flagged_is_a_warning_before_the_results(inputs) -> None:
    folder = read_experiment(inputs["skewed"])
    srm = json.loads((inputs["skewed"] / "srm.json").read_text())
    assert srm["flagged"] is True  # 20 users in each group against 80:10:10
    body = experiment_section(folder).body
    warning = body.index("SAMPLE RATIO MISMATCH")
    assert warning < body.index("<table")
    assert "do not trust the results below" in body
    assert f"p = {srm['p_value']:.3g}" in body
    (rows,) = tables(
        section_page(experiment_section(folder)),
        ["group", "planned share", "expected users", "assigned users"],
    )
    assert rows == [
        ["A", "80.00%", "48.0", "20"],
        ["B", "10.00%", "6.0", "20"],
        ["C", "10.00%", "6.0", "20"],
    ]


def test_normality_notes_are_checks_json(page, inputs) -> None:
    checks = json.loads((inputs["folder"] / "checks.json").read_text())
    header = ["metric", "group", "users", "skewness", "excess kurtosis", "normality p", "note"]
    (rows,) = tables(page, header)
    expected = [
        (metric, group, entry["note"])
        for metric, by_group in checks.items()
        for group, entry in by_group.items()
    ]
    assert [(r[0], r[1], r[6]) for r in rows] == expected
    assert {r[2] for r in rows} == {"20"}


def test_clv_table_and_its_note(page, inputs) -> None:
    header = ["group", "users", "customers", "mean CLV", "94% interval", "lift"]
    header += ["94% interval", "P(beats control)"]
    (rows,) = tables(page, header)
    assert rows == [
        ["A", "20", "6", "12.50", "[8.25, 17.00]", "", "", ""],
        ["B", "20", "10", "15.00", "[11.50, 19.75]", "+2.50", "[-1.25, +6.50]", "87.50%"],
        ["C", "20", "2", "5.00", "[2.00, 8.00]", "-7.50", "[-12.00, -3.00]", "0.10%"],
    ]
    shown = text(page)
    assert "Uncertainty: The model is a point fit (MAP, one draw)" in shown
    assert "horizon 12M, margin 1.0, annual discount rate 0.1, posterior draws 1" in shown
    without = section_page(experiment_section(read_experiment(inputs["folder"])))
    assert not tables(without, header) and "Predicted CLV" not in text(without)


def test_forest_plot_is_the_folders_or_redrawn(page, inputs) -> None:
    (src,) = page.images["experiment"]
    assert base64.b64decode(src.split(",", 1)[1]) == (inputs["clv"] / "lifts.png").read_bytes()
    bare = section_page(experiment_section(read_experiment(inputs["bare"])))
    (src,) = bare.images["experiment"]
    redrawn = base64.b64decode(src.split(",", 1)[1])
    assert (
        redrawn.startswith(b"\x89PNG\r\n\x1a\n")
        and redrawn != (inputs["clv"] / "lifts.png").read_bytes()
    )
    assert "Redrawn from tests.csv" in text(bare)
    # the redrawn clv row, by hand: the difference 2.5 [-1.25, 6.5] over the control's 12.5
    folder = read_experiment(inputs["bare"])
    lifts = lift_rows(folder.tests, folder.summary, "A", clv=folder.clv)
    lifts = lifts.set_index(["metric", "group"])
    shown = lifts.loc[("clv (94%)", "B"), ["lift", "lift_low", "lift_high"]].tolist()
    assert shown == pytest.approx([0.2, -0.1, 0.52])
    assert lifts.loc[("conversion", "C"), "lift"] == pytest.approx(-0.2 / 0.3)


def test_a_folder_that_is_not_an_experiment_is_one_line(inputs, tmp_path) -> None:
    with pytest.raises(DataError, match="experiment folder not found"):
        read_experiment(tmp_path / "nowhere")
    broken = Path(shutil.copytree(inputs["folder"], tmp_path / "broken"))
    for name in ("srm.json", "experiment.json"):
        (broken / name).unlink()
    with pytest.raises(DataError) as caught:
        read_experiment(broken)
    message = str(caught.value)
    assert "is not a `clv experiment` output folder: srm.json, experiment.json missing" in message
    assert "\n" not in message and "clv experiment --assignments" in message
    bad = Path(shutil.copytree(inputs["folder"], tmp_path / "bad"))
    tests = pd.read_csv(bad / "tests.csv").drop(columns=["p_value_adjusted"])
    tests.to_csv(bad / "tests.csv", index=False)
    with pytest.raises(DataError, match=r"tests\.csv has no column 'p_value_adjusted'"):
        read_experiment(bad)
    shutil.copy(inputs["folder"] / "tests.csv", bad / "tests.csv")
    srm = json.loads((bad / "srm.json").read_text())
    del srm["flagged"]
    (bad / "srm.json").write_text(json.dumps(srm))
    with pytest.raises(DataError, match=r"srm\.json has no 'flagged'"):
        read_experiment(bad)
    shutil.copy(inputs["folder"] / "srm.json", bad / "srm.json")
    summary = pd.read_csv(bad / "summary.csv")
    summary.loc[1, "group"] = "D"
    summary.to_csv(bad / "summary.csv", index=False)
    with pytest.raises(DataError, match=r"its groups \(A, D, C\) are not those of experiment"):
        read_experiment(bad)
    no_clv = Path(shutil.copytree(inputs["clv"], tmp_path / "no_clv"))
    (no_clv / "clv.csv").unlink()
    with pytest.raises(DataError, match=r"tests\.csv has clv rows but clv\.csv is missing"):
        read_experiment(no_clv)


def test_cli_report_with_the_folder_and_with_a_wrong_one(inputs, tmp_path) -> None:
    out = tmp_path / "report.html"
    args = ["-o", str(out), "--orders", str(inputs["orders"])]
    result = CliRunner().invoke(report_command, [*args, "--experiment", str(inputs["clv"])])
    assert result.exit_code == 0, result.output
    assert "experiment  shown" in result.output
    assert "id='experiment'" in out.read_text()
    out.unlink()
    result = CliRunner().invoke(report_command, [*args, "--experiment", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a `clv experiment` output folder: summary.csv, tests.csv" in result.output
    assert "Traceback" not in result.output and not out.exists()
