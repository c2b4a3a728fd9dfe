"""`clv subscriptions` then `clv churn` on Fader & Hardie (2007)'s two cohorts, end to end.

The oracles are the published values: the survivors per 1,000 at years 0–12 and the MLEs
(regular α=0.704, β=1.182; high end α=0.668, β=3.806), and closed forms written here.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.special import betaln, hyp2f1

from clvmodels.cli import cli

SURVIVORS = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    "high end": [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}
MLE = {"regular": (0.704, 1.182), "high end": (0.668, 3.806)}


def survival(alpha: float, beta: float, t: np.ndarray) -> np.ndarray:
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


@pytest.fixture(scope="module")
def churn_dir(tmp_path_factory, fh2007_billing):
    folder = tmp_path_factory.mktemp("fh2007")
    billing = folder / "billing.csv"
    fh2007_billing.to_csv(billing, index=False)
    subs = folder / "subs.parquet"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "subscriptions",
            str(billing),
            "-o",
            str(subs),
            "--billing-period",
            "year",
            "--customer-col",
            "company_id",
            "--observation-end",
            "2007-07-01",
        ],
    )
    assert result.exit_code == 0, result.output
    out = folder / "churn"
    result = runner.invoke(
        cli, ["churn", str(subs), "-o", str(out), "--by", "plan", "--priors", "flat"]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_published_mles(churn_dir):
    out, _ = churn_dir
    params = pd.read_csv(out / "sbg_params.csv").set_index("plan")
    for plan, (alpha, beta) in MLE.items():
        assert params.loc[plan, "alpha"] == pytest.approx(alpha, rel=5e-3)
        assert params.loc[plan, "beta"] == pytest.approx(beta, rel=5e-3)
        assert params.loc[plan, "customers"] == 1000
        assert params.loc[plan, "churned"] == 1000 - SURVIVORS[plan][7]
    assert params["alpha_low"].isna().all()  # MAP: no intervals


def test_kaplan_meier_is_the_survivors_and_the_projection_is_the_closed_form(churn_dir):
    out, _ = churn_dir
    retention = pd.read_csv(out / "retention.csv")
    params = pd.read_csv(out / "sbg_params.csv").set_index("plan")
    for plan, survivors in SURVIVORS.items():
        rows = retention[retention["plan"] == plan].set_index("period")
        observed = rows.loc[0:7, "observed_survival"].to_numpy()
        np.testing.assert_allclose(observed, np.array(survivors[:8]) / 1000, atol=1e-12)
        alpha, beta = params.loc[plan, ["alpha", "beta"]]
        t = np.arange(8, 13)
        projected = rows.loc[8:12, "predicted_survival"].to_numpy()
        np.testing.assert_allclose(projected, survival(alpha, beta, t), rtol=1e-9)
        # the closed form at the published values; and the years held out, within 5%
        np.testing.assert_allclose(projected, survival(*MLE[plan], t), rtol=5e-3)
        np.testing.assert_allclose(projected * 1000, survivors[8:], rtol=0.05)
        retention_rate = rows.loc[1:12, "predicted_retention"].to_numpy()
        t = np.arange(1, 13)
        np.testing.assert_allclose(retention_rate, (beta + t - 1) / (alpha + beta + t - 1))


def test_residual_value_of_survivors(churn_dir):
    out, _ = churn_dir
    customers = pd.read_parquet(out / "customers.parquet")
    params = pd.read_csv(out / "sbg_params.csv").set_index("plan")
    summary = json.loads((out / "summary.json").read_text())
    d = summary["per_period_discount_rate"]
    assert d == pytest.approx(0.1)  # yearly billing: the annual rate itself
    for plan in SURVIVORS:
        alpha, beta = params.loc[plan, ["alpha", "beta"]]
        rows = customers[customers["plan"] == plan]
        alive = rows[rows["p_renew_next"] > 0]
        assert len(alive) == SURVIVORS[plan][7]
        n = 8  # seven renewals observed
        np.testing.assert_allclose(alive["p_renew_next"], (beta + n - 1) / (alpha + beta + n - 1))
        renew = (beta + n - 1) / (alpha + beta + n - 1)
        derl = renew * hyp2f1(1, beta + n, alpha + beta + n, 1 / 1.1)
        np.testing.assert_allclose(alive["expected_residual_lifetime"], derl, rtol=1e-9)
        # a long truncated sum of discounted survival, written here
        k = np.arange(0, 2000)
        total = np.sum(survival(alpha, beta, n + k) / survival(alpha, beta, n - 1) / 1.1**k)
        np.testing.assert_allclose(derl, total, rtol=1e-6)
        churned = rows[rows["p_renew_next"] == 0]
        assert (churned["residual_value"] == 0).all()


def test_logrank_tells_the_cohorts_apart(churn_dir):
    out, _ = churn_dir
    tests = pd.read_csv(out / "logrank.csv")
    overall = tests[tests["test"] == "overall"].iloc[0]
    assert overall["df"] == 1
    assert overall["p_value"] < 1e-10


def test_output_states_the_settings(churn_dir):
    _, output = churn_dir
    assert "discount: 0.100000 per period (r per year)" in output
    assert "intervals: none: MAP gives a point estimate" in output


def test_monthly_discount_rate(tmp_path):
    from clvmodels.models.sbg import per_period_discount

    assert per_period_discount(0.1, "month") == pytest.approx(1.1 ** (1 / 12) - 1)
    assert per_period_discount(0.1, "year") == pytest.approx(0.1)


def test_a_subs_table_without_a_column_is_refused(tmp_path):
    subs = tmp_path / "subs.csv"
    pd.DataFrame({"customer_id": [1], "plan": ["a"]}).to_csv(subs, index=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["churn", str(subs), "-o", str(out)])
    assert result.exit_code == 2
    assert "lacks the column(s)" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
