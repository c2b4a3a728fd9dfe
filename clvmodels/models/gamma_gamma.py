"""Gamma-Gamma: the spend model for the mean value of a customer's repeat transactions.

Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma model of monetary value.
http://www.brucehardie.com/notes/025/gamma_gamma.pdf [FH13GG]_

Assumptions ([FH13GG]_, section 1):

1. A customer's transaction values z_1, ..., z_x vary around their mean:
   z_i ~ Gamma(p, nu).
2. The scale nu differs across customers: nu ~ Gamma(q, v).
3. Spend is independent of the transaction process (check: the correlation of frequency and
   monetary value should be near 0).

The model is fitted on the repeat customers (x > 0) whose mean repeat spend ``monetary_value``
is positive: its likelihood has ``log z``, so a mean of 0 (zero-value orders: free items,
vouchers, full discounts) cannot enter it. Repeat customers with a mean of 0 are left out of
the fit, counted in the fit report (``zero_value_exclusions``), and get the population mean
spend ``p v / (q - 1)`` per draw when scored, as customers without repeat purchases do
(``docs/models.md``). A negative or missing monetary value is an error.

.. [FH13GG] http://www.brucehardie.com/notes/025/gamma_gamma.pdf
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammaln

from clvmodels.errors import DataError
from clvmodels.models._pymc import fit as pymc_fit
from clvmodels.models._pymc.priors import GAMMA_GAMMA_PARAMS
from clvmodels.models.inputs import validate_rfm
from clvmodels.models.posterior import PosteriorModel

MIN_REPEAT_CUSTOMERS = 10
#: Customers named as examples in the fit report (exclusions, extreme spenders).
N_EXAMPLES = 5

#: What customers without a positive mean repeat value get when scored (said in reports).
POPULATION_MEAN_RULE = "the population mean spend p v / (q - 1), per draw"


def log_likelihood(
    p: ArrayLike, q: ArrayLike, v: ArrayLike, x: ArrayLike, mean_spend: ArrayLike
) -> np.ndarray:
    """Log-likelihood of a repeat customer's mean spend; [FH13GG]_ eq. (1a), marginal in nu."""
    p, q, v, x, z = (np.asarray(a, dtype="float64") for a in (p, q, v, x, mean_spend))
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(z)
        + px * np.log(x)
        - (px + q) * np.log(px / p * z + v)
    )


def expected_spend(
    p: ArrayLike, q: ArrayLike, v: ArrayLike, x: ArrayLike, mean_spend: ArrayLike
) -> np.ndarray:
    """E[Z | x, z_bar]: a customer's expected spend per transaction; [FH13GG]_ eq. (5).

    ``p (v + x z_bar) / (p x + q - 1)``: a weighted mean of the population mean
    ``p v / (q - 1)`` and the customer's own mean. A customer without a positive mean repeat
    value (x = 0, or repeat orders worth 0, who are left out of the fit) gets the population
    mean: the formula at x = 0.
    """
    p, q, v, x, z = (np.asarray(a, dtype="float64") for a in (p, q, v, x, mean_spend))
    informative = (x > 0) & (z > 0)
    x = np.where(informative, x, 0.0)
    z = np.where(informative, z, 0.0)
    return p * (v + x * z) / (p * x + q - 1)


class GammaGammaModel(PosteriorModel):
    """Gamma-Gamma spend model, fitted through pymc-marketing on repeat customers.

    Parameters
    ----------
    method, priors, chains, draws, tune, seed
        As for :class:`clvmodels.models.bgnbd.BetaGeoModel`.

    Attributes
    ----------
    posterior_ : xarray.Dataset
        Draws of ``p, q, v`` with dimensions ``(chain, draw)``.
    params_ : dict
        Posterior means.
    fit_report_ : dict
        The optimiser's status or the sampler's diagnostics.
    n_customers_ : int
        Repeat customers the model was fitted on.
    frequency_spend_correlation_ : float
        Pearson correlation of frequency and monetary value among them; the model assumes
        it is near 0.
    log_likelihood_ : float
        Total log-likelihood of the fitted customers' mean spends at ``params_``
        (:func:`log_likelihood`, [FH13GG]_ eq. 1a, in the data's currency units).
    """

    name = "gamma_gamma"
    label = "Gamma-Gamma"
    param_names = GAMMA_GAMMA_PARAMS
    #: v is in currency units (the population mean spend is p v / (q - 1)).
    scale_params = ("v",)

    n_customers_: int
    frequency_spend_correlation_: float
    log_likelihood_: float

    def fit(self, rfm: pd.DataFrame) -> Self:
        """Fit on the repeat customers (frequency > 0) with a positive mean repeat value.

        Repeat customers whose ``monetary_value`` is 0 are left out and reported under
        ``fit_report_["zero_value_exclusions"]`` (count, examples, the population mean spend
        they get when scored); the most extreme spenders are kept under
        ``fit_report_["extreme_spenders"]`` (they drive q <= 1, see :meth:`usability_problems`).
        """
        validate_rfm(rfm, require_monetary=True)
        x_all = rfm["frequency"].to_numpy(dtype="float64")
        z_all = rfm["monetary_value"].to_numpy(dtype="float64")
        ids = _ids(rfm)
        used = fitted_customers(rfm)
        zero = (x_all > 0) & ~used
        if int(used.sum()) < MIN_REPEAT_CUSTOMERS:
            left_out = (
                f" ({int(zero.sum()):,} more have a mean repeat value of 0)" if zero.any() else ""
            )
            raise DataError(
                f"too few repeat customers with a positive mean repeat value to fit Gamma-Gamma: "
                f"{int(used.sum())}{left_out} (at least {MIN_REPEAT_CUSTOMERS} needed)",
                column="frequency",
            )
        x, z = x_all[used], z_all[used]
        scale = spend_scale(z) if self.priors == "flat" else 1.0
        result = pymc_fit.fit_gamma_gamma(
            x,
            z / scale,
            priors=self.priors,
            method=self.method,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
            progressbar=self.progressbar,
        )
        if scale != 1.0:
            _unscale(result, scale, len(z))
        self.n_customers_ = int(used.sum())
        self.frequency_spend_correlation_ = (
            float(np.corrcoef(x, z)[0, 1]) if len(x) > 2 and x.std() > 0 else float("nan")
        )
        top = np.argsort(-z, kind="stable")[:N_EXAMPLES]
        result.report.update(
            n_customers=self.n_customers_,
            frequency_spend_correlation=self.frequency_spend_correlation_,
            zero_value_exclusions={
                "n_customers": int(zero.sum()),
                "examples": list(ids[zero][:N_EXAMPLES]),
                "spend_used": POPULATION_MEAN_RULE,
            },
            extreme_spenders=[
                {
                    "customer_id": ids[used][i],
                    "frequency": int(x[i]),
                    "monetary_value": float(z[i]),
                }
                for i in top
            ],
        )
        self._set_posterior(result.posterior, result.report)
        p = self.params_
        self.log_likelihood_ = float(log_likelihood(p["p"], p["q"], p["v"], x, z).sum())
        mean = self.expected_spend_new_customer()
        finite = bool(np.isfinite(mean).all() and (mean > 0).all())
        self.fit_report_["zero_value_exclusions"]["population_mean_spend"] = (
            float(mean.mean()) if finite else None
        )
        return self

    @property
    def zero_value_exclusions_(self) -> dict[str, Any]:
        """Repeat customers left out of the fit for a mean repeat value of 0 (count, examples)."""
        self._check_fitted()
        return dict(self.fit_report_.get("zero_value_exclusions", {"n_customers": 0}))

    def usability_problems(self) -> list[str]:
        """The checks of :meth:`PosteriorModel.usability_problems`, and q > 1 in every draw.

        With q <= 1 the population mean spend ``p v / (q - 1)`` is infinite (the Gamma(q, v)
        mixing of the scale has no finite mean of 1/nu), so expected spend and CLV have no
        value: the fit is driven by a few extreme spenders, named from the fit report.
        """
        problems = super().usability_problems()
        q = np.asarray(self.posterior_["q"].values, dtype="float64").reshape(-1)
        at_most_one = q <= 1
        if at_most_one.any():
            where = (
                f"q <= 1 in {at_most_one.mean():.0%} of the draws (posterior mean "
                f"{self.params_['q']:.4g})"
                if len(q) > 1
                else f"q = {self.params_['q']:.4g} <= 1"
            )
            problem = (
                f"{where}: the population mean spend "
                "p v / (q - 1) is infinite, so expected spend and CLV have no value"
            )
            spenders = self.fit_report_.get("extreme_spenders", [])[:3]
            if spenders:
                shown = ", ".join(
                    f"customer {s['customer_id']} (mean repeat value "
                    f"{s['monetary_value']:,.2f} over {s['frequency']} repeat purchases)"
                    for s in spenders
                )
                problem += f"; the most extreme spenders drive it: {shown}"
            problems.append(problem)
        return problems

    def _unusable_hint(self, problems: list[str]) -> str:
        if any(problem.startswith("q = ") for problem in problems):
            return (
                "Check those customers' orders (refunds, test orders, a wrong currency or "
                "decimal point), or leave them out and refit"
            )
        return (
            "Spend may vary too little within or between customers for Gamma-Gamma (the same "
            "value for every order?): fit with the default priors"
        )

    def expected_spend(self, rfm: pd.DataFrame, *, n_draws: int | None = None) -> np.ndarray:
        """Expected spend per transaction, per draw and customer, shape ``(draws, customers)``."""
        d = {k: v[:, None] for k, v in self.param_draws(n_draws).items()}
        return expected_spend(
            d["p"],
            d["q"],
            d["v"],
            rfm["frequency"].to_numpy(dtype="float64"),
            rfm["monetary_value"].to_numpy(dtype="float64"),
        )

    def expected_spend_new_customer(self, *, n_draws: int | None = None) -> np.ndarray:
        """Population mean spend per transaction ``p v / (q - 1)``, per draw."""
        d = self.param_draws(n_draws)
        return d["p"] * d["v"] / (d["q"] - 1)


def fitted_customers(rfm: pd.DataFrame) -> np.ndarray:
    """Which customers Gamma-Gamma is fitted on: repeat customers with a positive mean value."""
    x = rfm["frequency"].to_numpy(dtype="float64")
    return (x > 0) & (rfm["monetary_value"].to_numpy(dtype="float64") > 0)


def spend_scale(mean_spend: np.ndarray) -> float:
    """The unit the spend is fitted in under flat priors: 1, or a power of 10 near its median.

    The optimiser starts near 1 on every parameter; with spend in a small currency unit
    (CDNOW's dollars times 10,000) the flat-prior MAP then stops on a ridge far from the
    maximum (p in the thousands), reported as converged. Under flat priors Gamma-Gamma is
    scale-equivariant (spend / c gives the same p and q and v / c, and the log-likelihood
    shifts by -N log c), so spend whose median is outside [0.1, 1000] is fitted in units of
    ``10 ** floor(log10(median))`` and v and the log-likelihood are put back. The default
    priors are in the data's units, so they are fitted as given.
    """
    median = float(np.median(mean_spend))
    if 0.1 <= median <= 1000:
        return 1.0
    return float(10.0 ** np.floor(np.log10(median)))


def _unscale(result: pymc_fit.FitResult, scale: float, n_customers: int) -> None:
    """Put a fit on spend / ``scale`` back in the spend's units (see :func:`spend_scale`)."""
    result.posterior["v"] = result.posterior["v"] * scale
    report = result.report
    if "log_posterior" in report:
        report["log_posterior"] = report["log_posterior"] - n_customers * float(np.log(scale))
    if isinstance(report.get("map"), dict) and "v" in report["map"]:
        report["map"] = {**report["map"], "v": report["map"]["v"] * scale}
    report["spend_unit"] = scale


def _ids(rfm: pd.DataFrame) -> np.ndarray:
    """Customer ids as plain Python values (for reports), or the index without the column."""
    ids = rfm["customer_id"] if "customer_id" in rfm.columns else pd.Series(rfm.index)
    return np.array(ids.tolist(), dtype=object)
