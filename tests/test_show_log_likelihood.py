"""Each fitted part's log-likelihood in model.json, `clv show --json` and `clv show`.

Oracles: BG/NBD's likelihood (Fader, Hardie & Lee 2005, eq. 6) and Gamma-Gamma's marginal
density of a mean spend (Fader & Hardie 2013, eq. 1a), written here with scipy and evaluated
at the parameters read back from the saved model; and the published maximum log-likelihood
of BG/NBD on the CDNOW sample, -9582.4 (FHL05, section 5).
"""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from scipy.special import betaln, gammaln

from clvmodels.cli import cli
from clvmodels.persistence import load_model, read_metadata, save_model


def bgnbd_ll(r, alpha, a, b, x, t_x, T):
    """FHL05 eq. (6), in logs."""
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    first = betaln(a, b + x) - betaln(a, b) + common - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        second = betaln(a + 1, b + x - 1) - betaln(a, b) + common - (r + x) * np.log(alpha + t_x)
    return np.where(x > 0, np.logaddexp(first, second), first)


def gamma_gamma_ll(p, q, v, x, z):
    """Fader & Hardie (2013) eq. (1a): the density of a mean spend z over x purchases."""
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(z)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + x * z)
    )


def test_log_likelihoods_saved_shown_and_recomputed(cdnow_flat_model, cdnow_rfm, tmp_path):
    path = save_model(cdnow_flat_model, tmp_path / "model")
    result = CliRunner().invoke(cli, ["show", str(path), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    saved = read_metadata(path)
    x, t_x, T, z = (
        cdnow_rfm[c].to_numpy(float) for c in ("frequency", "recency", "T", "monetary_value")
    )

    transaction = shown["transaction_model"]
    assert transaction["log_likelihood"] == saved["transaction_model"]["log_likelihood"]
    p = transaction["params"]
    expected = bgnbd_ll(p["r"], p["alpha"], p["a"], p["b"], x, t_x, T).sum()
    np.testing.assert_allclose(transaction["log_likelihood"], expected, rtol=1e-10)
    assert round(transaction["log_likelihood"], 1) == -9582.4  # FHL05's maximum

    spend = shown["spend_model"]
    q = spend["params"]
    fitted = (x > 0) & (z > 0)
    expected = gamma_gamma_ll(q["p"], q["q"], q["v"], x[fitted], z[fitted]).sum()
    np.testing.assert_allclose(spend["log_likelihood"], expected, rtol=1e-10)
    assert spend["fit_report"]["n_customers"] == int(fitted.sum())

    loaded = load_model(path)  # the round trip keeps them
    assert loaded.transaction_model_.log_likelihood_ == transaction["log_likelihood"]
    assert loaded.require_spend_model().log_likelihood_ == spend["log_likelihood"]
    assert loaded.describe()["transaction_model"]["log_likelihood"] == transaction["log_likelihood"]

    text = CliRunner().invoke(cli, ["show", str(path)])
    assert text.exit_code == 0, text.output
    lines = [line for line in text.output.splitlines() if "log-likelihood" in line]
    assert len(lines) == 2
    assert f"{transaction['log_likelihood']:,.2f}" in lines[0]
    assert f"{spend['log_likelihood']:,.2f}" in lines[1]
