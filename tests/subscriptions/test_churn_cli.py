"""``clv churn`` wiring and bad input, residual value against formulas, and ``clv report``.

Oracles: the brief's file formats, F&H (2010)'s DERL written here with scipy's ``hyp2f1``,
the discount rule (1 + r)^(1/12) − 1, and sbg_params.csv's numbers shown in the report.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.special import hyp2f1

from clvmodels.cli import cli
from clvmodels.examples.simulate import simulate_orders
from clvmodels.examples.subscriptions import simulate_subscriptions

VALUES = ("p_renew_next", "expected_residual_lifetime", "residual_value", "residual_value_horizon")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("churncli")
    tables = simulate_subscriptions(400, seed=3)
    tables.billing.to_csv(path / "billing.csv", index=False)
    tables.companies.to_csv(path / "companies.csv", index=False)
    result = invoke(
        "subscriptions", path / "billing.csv", "-o", path / "subs.csv",
        "--billing-period", "month", "--status-col", "status",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def subs(folder):
    return pd.read_csv(folder / "subs.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def laplace_dir(folder):
    """A real ``clv churn`` folder: --by plan, Laplace, with plots."""
    out = folder / "laplace"
    result = invoke(
        "churn", folder / "subs.csv", "-o", out, "--by", "plan", "--method", "laplace",
        "--draws", 500, "--chains", 2, "--annual-discount-rate", 0.1,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def _refused(result, *words):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_without_by_one_group_all_and_an_empty_logrank(folder, subs):
    out = folder / "all"
    result = invoke("churn", folder / "subs.csv", "-o", out, "--no-plots")
    assert result.exit_code == 0, result.output
    params = pd.read_csv(out / "sbg_params.csv")
    assert params["group"].tolist() == ["all"] and params["customers"].tolist() == [len(subs)]
    assert params["churned"].item() == (subs["first_spell_churned"] == "True").sum()
    assert set(pd.read_csv(out / "retention.csv")["group"]) == {"all"}
    lines = (out / "logrank.csv").read_text().strip().splitlines()
    assert lines == ["test,group_a,group_b,statistic,df,p_value"]
    assert not list(out.glob("*.png"))  # --no-plots


def test_two_by_columns_in_every_table(folder, subs):
    keep = subs[subs["cohort"].isin(["2024-01", "2024-02", "2024-03"])]
    keep.to_csv(folder / "subs3.csv", index=False)
    out = folder / "two"
    result = invoke("churn", folder / "subs3.csv", "-o", out, "--by", "plan,cohort", "--no-plots")
    assert result.exit_code == 0, result.output
    params = pd.read_csv(out / "sbg_params.csv", dtype={"cohort": str})
    expected = keep.groupby(["plan", "cohort"]).size()
    got = params.set_index(["plan", "cohort"])["customers"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()
    for name in ("retention.csv", "profile.csv"):
        table = pd.read_csv(out / name)
        assert {"plan", "cohort"} <= set(table.columns) and "group" not in table.columns, name
    customers = pd.read_parquet(out / "customers.parquet")
    assert {"plan", "cohort"} <= set(customers.columns) and len(customers) == len(keep)
    logrank = pd.read_csv(out / "logrank.csv")
    n = len(expected)
    assert (logrank["test"] == "pairwise").sum() == n * (n - 1) // 2
    assert logrank.loc[logrank["test"] == "overall", "df"].item() == n - 1


def test_laplace_intervals_bracket_the_mean(laplace_dir):
    params = pd.read_csv(laplace_dir / "sbg_params.csv")
    for name in ("alpha", "beta"):
        assert params[f"{name}_low"].notna().all() and params[f"{name}_high"].notna().all()
        assert (params[f"{name}_low"] < params[name]).all()
        assert (params[name] < params[f"{name}_high"]).all()
    customers = pd.read_parquet(laplace_dir / "customers.parquet")
    for name in VALUES:
        assert (customers[f"{name}_low"] <= customers[name] + 1e-12).all(), name
        assert (customers[name] <= customers[f"{name}_high"] + 1e-12).all(), name
    active = customers["p_renew_next"] > 0
    assert (
        customers.loc[active, "p_renew_next_low"] < customers.loc[active, "p_renew_next_high"]
    ).all()
    assert {p.name for p in laplace_dir.glob("*.png")} >= {"survival.png", "retention.png"}


def test_residual_value_against_the_formulas(folder, laplace_dir):
    # ids written as plain integers come back as integers (clean_ids); "007" would stay text
    subs = pd.read_csv(folder / "subs.csv", dtype={"customer_id": "int64"}).set_index("customer_id")
    customers = pd.read_parquet(laplace_dir / "customers.parquet").set_index("customer_id")
    summary = json.loads((laplace_dir / "summary.json").read_text())
    d = summary["per_period_discount_rate"]
    assert d == pytest.approx(1.1 ** (1 / 12) - 1, rel=1e-12)  # monthly billing, r = 0.1
    subs = subs.loc[customers.index]
    active = ~subs["churned"].astype(bool)
    rows = customers[active]
    np.testing.assert_allclose(
        rows["residual_value"],
        subs.loc[active, "price_per_period"] * rows["expected_residual_lifetime"],
    )
    assert (rows["residual_value_horizon"] <= rows["residual_value"] + 1e-9).all()
    assert (rows["residual_value_horizon"] < rows["residual_value"]).mean() > 0.99
    gone = customers[~active]
    assert len(gone) > 50 and (gone[list(VALUES)] == 0).all().all()
    # MAP point: DERL of F&H (2010) at sbg_params' alpha, beta, n = T
    out = folder / "map"
    result = invoke("churn", folder / "subs.csv", "-o", out, "--by", "plan", "--no-plots")
    assert result.exit_code == 0, result.output
    params = pd.read_csv(out / "sbg_params.csv").set_index("plan")
    point = pd.read_parquet(out / "customers.parquet").set_index("customer_id").loc[rows.index]
    a = params.loc[subs.loc[rows.index, "plan"], "alpha"].to_numpy()
    b = params.loc[subs.loc[rows.index, "plan"], "beta"].to_numpy()
    n = subs.loc[rows.index, "T"].to_numpy(float)
    renew = (b + n - 1) / (a + b + n - 1)
    np.testing.assert_allclose(point["p_renew_next"], renew, rtol=1e-9)
    derl = renew * hyp2f1(1, b + n, a + b + n, 1 / (1 + d))
    np.testing.assert_allclose(point["expected_residual_lifetime"], derl, rtol=1e-8)


def test_unknown_by_column(folder):
    result = invoke("churn", folder / "subs.csv", "-o", folder / "x1", "--by", "plan,regoin")
    _refused(result, "regoin")
    assert not (folder / "x1").exists()


def test_by_column_with_missing_values(folder, subs):
    bad = subs.assign(region=np.where(np.arange(len(subs)) % 50 == 0, "", "eu"))
    bad.to_csv(folder / "na.csv", index=False)
    result = invoke("churn", folder / "na.csv", "-o", folder / "x2", "--by", "region")
    _refused(result, "region", f"{(np.arange(len(subs)) % 50 == 0).sum()} rows")
    assert not (folder / "x2").exists()


def test_first_spell_longer_than_periods_paid(folder, subs):
    bad = subs.copy()
    bad.loc[:1, "first_spell_periods"] = (bad.loc[:1, "periods_paid"].astype(int) + 1).astype(str)
    bad.to_csv(folder / "fsp.csv", index=False)
    result = invoke("churn", folder / "fsp.csv", "-o", folder / "x3")
    _refused(result, "first_spell_periods", "2 rows")
    assert not (folder / "x3").exists()


def test_output_folder_that_is_an_input(folder):
    before = (folder / "subs.csv").read_bytes()
    _refused(invoke("churn", folder / "subs.csv", "-o", folder / "subs.csv"), "is the input SUBS")
    assert (folder / "subs.csv").read_bytes() == before
    companies = folder / "companies.csv"
    result = invoke(
        "churn", folder / "subs.csv", "-o", folder / "subs.csv", "--companies", companies
    )
    assert result.exit_code == 2
    # an input named like an output file inside the folder
    out = folder / "x4"
    out.mkdir()
    (out / "profile.csv").write_bytes(companies.read_bytes())
    result = invoke("churn", folder / "subs.csv", "-o", out, "--companies", out / "profile.csv")
    _refused(result, "--companies")
    assert sorted(p.name for p in out.iterdir()) == ["profile.csv"]


def test_companies_without_a_matching_id(folder):
    companies = pd.read_csv(folder / "companies.csv")
    companies.assign(id=companies["id"] + 10**6).to_csv(folder / "none.csv", index=False)
    result = invoke(
        "churn", folder / "subs.csv", "-o", folder / "x5", "--companies", folder / "none.csv"
    )
    _refused(result, "no customer id matches")
    assert not (folder / "x5").exists()


def test_text_ids_with_leading_zeros_survive(folder, subs):
    ids = ["007", "07", "7", "0042"] + [f"a{i}" for i in range(len(subs) - 4)]
    subs.assign(customer_id=ids).to_csv(folder / "text.csv", index=False)
    out = folder / "text"
    result = invoke("churn", folder / "text.csv", "-o", out, "--no-plots")
    assert result.exit_code == 0, result.output
    customers = pd.read_parquet(out / "customers.parquet")
    assert sorted(customers["customer_id"].tolist()) == sorted(ids)
    assert customers["customer_id"].map(type).eq(str).all()


def test_help_shows_examples():
    result = invoke("churn", "--help")
    assert result.exit_code == 0
    assert "clv churn subs.parquet -o churn/ --by plan" in result.output
    assert "--companies" in result.output and "--annual-discount-rate" in result.output


def test_report_shows_the_churn_folder(folder, laplace_dir):
    orders, _ = simulate_orders(200, seed=2)
    orders.to_csv(folder / "orders.csv", index=False)
    page = folder / "report.html"
    result = invoke(
        "report", "-o", page, "--orders", folder / "orders.csv", "--subscriptions", laplace_dir
    )
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    section = html[html.index("<section id='subscriptions'>") :]
    params = pd.read_csv(laplace_dir / "sbg_params.csv")
    for _, row in params.iterrows():
        assert row["plan"] in section
        for name in ("alpha", "alpha_low", "alpha_high", "beta", "beta_low", "beta_high"):
            assert f"{row[name]:.3f}" in section, (row["plan"], name)
        assert f"{row['customers']:,}" in section
    assert section.count("data:image/png;base64,") >= 2
