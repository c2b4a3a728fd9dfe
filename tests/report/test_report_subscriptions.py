"""The report's subscriptions section and the subscription plots, on a hand-written churn folder.

The fixture is a ``clv churn`` output folder written here in the brief's formats: Kaplan-Meier
survival from Fader & Hardie (2007)'s published survivors per 1,000 (regular and high-end
customers), the sBG survival and retention from their closed forms at F&H's parameters,
written in this file.
"""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.collections import LineCollection
from scipy.special import betaln

from clvmodels.cli.report import report as report_command
from clvmodels.errors import DataError
from clvmodels.plots.subscriptions import (
    plot_hazard_ratios,
    plot_retention,
    plot_survival,
    save_subscription_plots,
)
from clvmodels.report.build import SECTION_IDS, build_report
from clvmodels.report.subscriptions import CHURN_FILES, read_churn

# Fader & Hardie (2007), survivors per 1,000 at years 0-7 and their MAP fits on those years
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
PLANS = {"basic": (0.704, 1.182, REGULAR), "pro": (0.668, 3.806, HIGH_END[:5])}
HORIZON = 12
PNG = b"\x89PNG\r\n\x1a\n"


def survival(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    """S(t) = B(alpha, beta + t) / B(alpha, beta) (F&H 2007, eq. 5)."""
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def retention_rate(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    """r_t = (beta + t - 1) / (alpha + beta + t - 1) (F&H 2007, eq. 8)."""
    return (beta + t - 1) / (alpha + beta + t - 1)


def retention_rows(group_col: str, name: str, alpha: float, beta: float, seen: list[int]):
    periods = np.arange(HORIZON + 1)
    observed = np.full(HORIZON + 1, np.nan)
    observed[: len(seen)] = np.array(seen) / 1000
    at_risk = np.full(HORIZON + 1, np.nan)
    events = np.full(HORIZON + 1, np.nan)
    at_risk[1 : len(seen)] = seen[:-1]
    events[1 : len(seen)] = -np.diff(seen)
    rate = retention_rate(alpha, beta, periods.astype(float))
    rate[0] = np.nan
    return pd.DataFrame(
        {
            group_col: name,
            "period": periods,
            "observed_survival": observed,
            "predicted_survival": survival(alpha, beta, periods.astype(float)),
            "predicted_retention": rate,
            "at_risk": at_risk,
            "churn_events": events,
        }
    )


DRIVERS = pd.DataFrame(
    {
        "source": ["cox", "cox", "sbg", "sbg"],
        "covariate": ["size_band=large", "industry=retail", "size_band=large", "industry=retail"],
        "hazard_ratio": [1.8, 0.9, 1.7, 0.92],
        "hr_low": [1.6, 0.8, np.nan, np.nan],
        "hr_high": [2.0, 1.01, np.nan, np.nan],
        "p_value": [1e-6, 0.07, np.nan, np.nan],
        "coefficient": np.log([1.8, 0.9, 1.7, 0.92]),
        "customers": [2000, 2000, 2000, 2000],
    }
)


def write_churn_folder(folder: Path, plans=PLANS, group_col: str = "plan") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    params = pd.DataFrame(
        {
            group_col: list(plans),
            "alpha": [a for a, _, _ in plans.values()],
            "alpha_low": np.nan,
            "alpha_high": np.nan,
            "beta": [b for _, b, _ in plans.values()],
            "beta_low": np.nan,
            "beta_high": np.nan,
            "customers": 1000,
            "churned": [1000 - s[-1] for _, _, s in plans.values()],
            "log_likelihood": [-1611.16, -1191.41][: len(plans)],
            "method": "map",
        }
    )
    params.to_csv(folder / "sbg_params.csv", index=False)
    pd.concat([retention_rows(group_col, k, a, b, s) for k, (a, b, s) in plans.items()]).to_csv(
        folder / "retention.csv", index=False
    )
    pd.DataFrame(
        {
            "test": ["overall", "pairwise"],
            "group_a": [np.nan, "basic"],
            "group_b": [np.nan, "pro"],
            "statistic": [123.4, 123.4],
            "df": [1, 1],
            "p_value": [2.1e-28, 2.1e-28],
        }
    ).to_csv(folder / "logrank.csv", index=False)
    DRIVERS.to_csv(folder / "drivers.csv", index=False)
    pd.DataFrame(
        {
            group_col: list(plans),
            "customers": 1000,
            "churned_share": [(1000 - s[-1]) / 1000 for _, _, s in plans.values()],
            "median_tenure_periods": [2.0, 5.0][: len(plans)],
            "mean_users": [3.25, 11.5][: len(plans)],
            "share_small": [0.7, 0.2][: len(plans)],
            "share_large": [0.3, 0.8][: len(plans)],
            "revenue_per_customer": [1234.5, 9876.5][: len(plans)],
        }
    ).to_csv(folder / "profile.csv", index=False)
    summary = {
        "settings": {"by": [group_col], "method": "map", "billing_period": "year"},
        "per_period_discount_rate": 0.1,
        "fits": {"basic": {"converged": True}},
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


class _Sections(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.images: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "section":
            self.ids.append(values["id"])
            self.text[values["id"]], self.images[values["id"]] = [], []
        if tag == "img" and self.ids:
            self.images[self.ids[-1]].append(values["src"])

    def handle_data(self, data):
        if self.ids:
            self.text[self.ids[-1]].append(data)


def sections(page: str) -> _Sections:
    parser = _Sections()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def orders():
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3, 3, 3],
            "timestamp": pd.to_datetime(
                ["2024-01-03", "2024-03-04", "2024-01-20", "2024-02-02", "2024-04-05", "2024-06-01"]
            ),
            "revenue": [10.0, 12.0, 8.0, 5.0, 6.0, 7.0],
        }
    )


@pytest.fixture(scope="module")
def churn_dir(tmp_path_factory):
    return write_churn_folder(tmp_path_factory.mktemp("churn") / "out")


@pytest.fixture(scope="module")
def page(orders, churn_dir):
    return sections(build_report(orders, subscriptions=churn_dir))


def text(page: _Sections) -> str:
    return " ".join(" ".join(page.text["subscriptions"]).split())


# ------------------------------------------------------------------------- the section
def test_section_is_last_and_absent_without_a_folder(page, orders):
    assert page.ids == [*SECTION_IDS, "subscriptions"]
    assert sections(build_report(orders)).ids == list(SECTION_IDS)


def test_summary_sentences_hold_the_fixture_numbers(page):
    shown = text(page)
    for name, (alpha, beta, seen) in PLANS.items():
        t_seen = len(seen) - 1
        s_seen, s_12 = survival(alpha, beta, np.array([t_seen, HORIZON], dtype=float))
        curve = survival(alpha, beta, np.arange(HORIZON + 1, dtype=float))
        below = np.flatnonzero(curve <= 0.5)
        half = (
            f"half have churned by {below[0]} years (sBG)"
            if below.size
            else "more than half remain after 12 years (sBG)"
        )
        median = {"basic": 2, "pro": 5}[name]
        expected = (
            f"{name}: 1,000 customers, {1000 - seen[-1]:,} churned; survival after {t_seen} "
            f"years {seen[-1] / 1000:.0%} observed, {s_seen:.0%} sBG; the sBG projects "
            f"{s_12:.0%} after 12 years; {half}; median tenure {median} years."
        )
        assert expected in shown
    # regular customers: F&H's S(2) = 0.468 at these values drops below half by year 2
    assert "basic: 1,000 customers, 759 churned; survival after 7 years 24% observed" in shown
    assert "half have churned by 2 years (sBG)" in shown
    assert "chi-square 123.4 on 1 df, p = 2.1e-28" in shown
    assert (
        "Biggest driver (Cox): size_band=large, hazard ratio 1.80 (94% 1.60–2.00, p = 1e-06); "
        "the sBG's model-based estimate is 1.70."
    ) in shown


def test_tables_settings_and_map_note(page):
    shown = text(page)
    assert "A MAP fit is a point estimate, so the 94% intervals of alpha and beta are empty" in (
        shown
    )
    for value in ("0.704", "1.182", "0.668", "3.806", "-1,611.16", "-1,191.41"):
        assert value in shown
    assert "billing period year" in shown and "per period discount rate 0.1" in shown
    assert "size_band=large" in shown and "industry=retail" in shown and "1e-06" in shown
    assert "2.1e-28" in shown and "pairwise basic pro" in shown
    for value in ("3.250", "11.500", "1,234.50", "9,876.50", "share small", "0.700"):
        assert value in shown


def test_images_redrawn_when_missing_and_the_folder_pngs_otherwise(page, orders, tmp_path):
    assert len(page.images["subscriptions"]) == 3
    for src in page.images["subscriptions"]:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    folder = write_churn_folder(tmp_path / "with_pngs")
    churn = read_churn(folder)
    written = save_subscription_plots(
        churn.tables["retention"], churn.tables["drivers"], ["plan"], folder
    )
    assert [p.name for p in written] == ["survival.png", "retention.png", "hazard_ratios.png"]
    embedded = sections(build_report(orders, subscriptions=folder)).images
    files = [base64.b64encode(p.read_bytes()).decode("ascii") for p in written]
    assert [src.split(",", 1)[1] for src in embedded["subscriptions"]] == files


def test_ids_stay_text(tmp_path):
    plans = {"007": PLANS["basic"], "2024": PLANS["pro"]}
    churn = read_churn(write_churn_folder(tmp_path / "ids", plans=plans))
    assert churn.tables["sbg_params"]["plan"].tolist() == ["007", "2024"]
    assert churn.group_cols == ["plan"]


def test_two_group_columns(orders, tmp_path):
    folder = write_churn_folder(tmp_path / "two")
    for name in ("sbg_params.csv", "retention.csv", "profile.csv"):
        table = pd.read_csv(folder / name)
        table.insert(1, "cohort", "2024")
        table.to_csv(folder / name, index=False)
    churn = read_churn(folder)
    assert churn.group_cols == ["plan", "cohort"]
    shown = text(sections(build_report(orders, subscriptions=churn)))
    assert "basic · 2024: 1,000 customers, 759 churned" in shown
    assert "pro · 2024: 1,000 customers, 407 churned" in shown


# ------------------------------------------------------------------------- bad folders
@pytest.mark.parametrize("name", list(CHURN_FILES.values()))
def test_a_missing_file_is_named(name, tmp_path):
    folder = write_churn_folder(tmp_path / "out")
    (folder / name).unlink()
    with pytest.raises(DataError, match=name):
        read_churn(folder)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("summary.json", "{not json", "summary.json is not valid JSON"),
        ("summary.json", "[1, 2]", "summary.json is not a JSON object"),
        ("drivers.csv", "source,covariate\ncox,x\n", "drivers.csv has no column 'hazard_ratio'"),
        ("survival.png", "not a png", "survival.png is not a PNG image"),
        ("sbg_params.csv", "", "sbg_params.csv is not a readable CSV table"),
    ],
)
def test_an_invalid_file_is_named(name, content, message, tmp_path):
    folder = write_churn_folder(tmp_path / "out")
    (folder / name).write_text(content)
    with pytest.raises(DataError, match=message):
        read_churn(folder)


def test_bad_values_are_named(tmp_path):
    folder = write_churn_folder(tmp_path / "out")
    retention = pd.read_csv(folder / "retention.csv")
    retention["predicted_survival"] = retention["predicted_survival"].astype(object)
    retention.loc[3, "predicted_survival"] = "lots"
    retention.to_csv(folder / "retention.csv", index=False)
    with pytest.raises(DataError, match=r"column 'predicted_survival': .*retention.csv: not a"):
        read_churn(folder)
    retention.loc[3, "predicted_survival"] = 1.5
    retention.to_csv(folder / "retention.csv", index=False)
    with pytest.raises(DataError, match=r"within \[0, 1\] \(1 row, e.g. 1.5\)"):
        read_churn(folder)


# ------------------------------------------------------------------------- the command
def test_cli_option(orders, churn_dir, tmp_path):
    orders_csv = tmp_path / "orders.csv"
    orders.to_csv(orders_csv, index=False)
    out = tmp_path / "report.html"
    args = ["-o", str(out), "--orders", str(orders_csv), "--subscriptions", str(churn_dir)]
    result = CliRunner().invoke(report_command, args)
    assert result.exit_code == 0, result.output
    assert "  subscriptions shown" in result.output
    page = sections(out.read_text(encoding="utf-8"))
    assert page.ids[-1] == "subscriptions" and len(page.images["subscriptions"]) == 3
    (churn_dir.parent / "broken").mkdir()
    write_churn_folder(churn_dir.parent / "broken").joinpath("profile.csv").unlink()
    bad = CliRunner().invoke(report_command, [*args[:-1], str(churn_dir.parent / "broken")])
    assert bad.exit_code == 2 and "profile.csv is missing" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_cli_help_has_the_option_and_an_example():
    result = CliRunner().invoke(report_command, ["--help"])
    assert "--subscriptions" in result.output and "clv churn" in result.output
    assert "clv report -o report.html --orders orders.csv --subscriptions churn/" in (result.output)


# ------------------------------------------------------------------------- the plots
def retention_table(plans=PLANS, group_col="plan"):
    return pd.concat([retention_rows(group_col, k, a, b, s) for k, (a, b, s) in plans.items()])


def test_survival_plot_lines():
    ax = plot_survival(retention_table(), ["plan"], billing_period="year")
    lines = ax.get_lines()
    assert len(lines) == 4  # per plan: observed steps, sBG dashed
    basic_seen, basic_sbg, pro_seen, pro_sbg = lines
    assert len(basic_seen.get_xdata()) == 8 and len(pro_seen.get_xdata()) == 5  # KM empty after 4
    assert basic_seen.get_drawstyle() == "steps-post" and basic_seen.get_marker() == "o"
    np.testing.assert_allclose(basic_seen.get_ydata(), np.array(REGULAR) / 1000)
    for sbg, (alpha, beta, _) in zip((basic_sbg, pro_sbg), PLANS.values(), strict=True):
        assert sbg.get_linestyle() == "--" and len(sbg.get_xdata()) == HORIZON + 1
        np.testing.assert_allclose(
            sbg.get_ydata(), survival(alpha, beta, np.arange(HORIZON + 1, dtype=float))
        )
    assert basic_seen.get_color() == basic_sbg.get_color() != pro_seen.get_color()
    assert "years" in ax.get_xlabel() and "surviving" in ax.get_ylabel()


def test_single_group_without_by_and_a_group_never_observed():
    single = retention_table({"all": PLANS["basic"]}, group_col="group")
    ax = plot_survival(single, ["group"])
    assert len(ax.get_lines()) == 2
    assert ax.get_legend().get_texts()[0].get_text() == "all customers"
    unseen = retention_table({"new": (0.7, 1.2, [1000])})
    assert len(plot_survival(unseen, ["plan"]).get_lines()) == 1  # only the projection
    assert len(plot_retention(unseen, ["plan"]).get_lines()) == 1


def test_retention_plot_prediction_and_observed_ratio():
    ax = plot_retention(retention_table(), ["plan"])
    basic, basic_seen, pro, pro_seen = ax.get_lines()
    assert len(pro.get_xdata()) == HORIZON
    alpha, beta, _ = PLANS["basic"]
    np.testing.assert_allclose(basic.get_xdata(), np.arange(1, HORIZON + 1))
    np.testing.assert_allclose(
        basic.get_ydata(), retention_rate(alpha, beta, np.arange(1, HORIZON + 1, dtype=float))
    )
    assert np.all(np.diff(basic.get_ydata()) > 0)  # sorting: retention rises with tenure
    np.testing.assert_allclose(basic_seen.get_ydata(), np.array(REGULAR[1:]) / REGULAR[:-1])
    assert len(pro_seen.get_xdata()) == 4 and basic_seen.get_linestyle() == "None"


def test_hazard_ratio_forest_plot():
    ax = plot_hazard_ratios(DRIVERS)
    cox, sbg, one = ax.get_lines()
    np.testing.assert_allclose(cox.get_xdata(), [1.8, 0.9])
    np.testing.assert_allclose(sbg.get_xdata(), [1.7, 0.92])
    assert cox.get_marker() != sbg.get_marker()
    assert list(one.get_xdata()) == [1.0, 1.0]
    assert ax.get_xscale() == "log"
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(bars) == 1 and len(bars[0].get_segments()) == 2  # the sBG MAP has no interval
    assert [t.get_text() for t in ax.get_yticklabels()] == ["size_band=large", "industry=retail"]


def test_save_plots_without_drivers(tmp_path):
    written = save_subscription_plots(retention_table(), DRIVERS.head(0), ["plan"], tmp_path)
    assert [p.name for p in written] == ["survival.png", "retention.png"]
    assert all(p.read_bytes().startswith(PNG) for p in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retention.png", "survival.png"]
