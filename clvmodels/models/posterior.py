"""What every fitted model shares: settings, a posterior, draws, a parameter summary.

Models follow scikit-learn's estimator contract: ``__init__`` stores settings, ``fit(data)``
returns ``self``, learned state ends in ``_``, and an unfitted model fails with a clear
message. A MAP fit is a posterior with one chain and one draw.

A fit is *usable* when its parameters lie inside their support, away from its edges
(:meth:`PosteriorModel.usability_problems`; ``docs/models.md``): a shape parameter below
:data:`SHAPE_FLOOR` or above :data:`SHAPE_CEILING`, a scale parameter that is not positive, or
a non-finite value means the optimiser ran to a bound and the likelihood has no interior
maximum there. Such a fit warns (:class:`~clvmodels.errors.ConvergenceWarning`), is reported
with ``converged`` false and ``usable`` false and the reason, and scoring refuses it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clvmodels.errors import ConvergenceWarning, DataError, NotFittedError
from clvmodels.models.settings import Method, Priors

#: Posterior intervals are equal-tailed and hold 94% of the mass (pymc-marketing's default).
INTERVAL_PROB = 0.94
#: The quantiles of that interval: 3% and 97%.
INTERVAL_QUANTILES = ((1 - INTERVAL_PROB) / 2, 1 - (1 - INTERVAL_PROB) / 2)

#: A shape parameter (unit-free) below this is at the lower edge of its support (0).
SHAPE_FLOOR = 1e-6
#: A shape parameter above this is absurdly large: the optimiser ran off towards infinity.
SHAPE_CEILING = 1e6


class PosteriorModel:
    """Base of the fitted models: holds ``posterior_``, ``fit_report_`` and ``params_``."""

    #: The name saved models and the CLI use (``bgnbd``, ``gamma_gamma``, ...).
    name: ClassVar[str] = ""
    #: The model's name as the papers write it (BG/NBD, Gamma-Gamma, ...).
    label: ClassVar[str] = ""
    param_names: ClassVar[tuple[str, ...]] = ()
    #: Parameters with a unit (time or money): only checked to be positive and finite,
    #: since any fixed bound on them would depend on the data's units.
    scale_params: ClassVar[tuple[str, ...]] = ()

    posterior_: xr.Dataset
    fit_report_: dict[str, Any]
    params_: dict[str, float]

    def __init__(
        self,
        *,
        method: Method = "map",
        priors: Priors = "default",
        chains: int = 4,
        draws: int = 1000,
        tune: int = 1000,
        seed: int | None = None,
        progressbar: bool = False,
    ) -> None:
        self.method = method
        self.priors = priors
        self.chains = chains
        self.draws = draws
        self.tune = tune
        self.seed = seed
        self.progressbar = progressbar

    # ----------------------------------------------------------------- state
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` (or loading a saved fit) has set the posterior."""
        return hasattr(self, "posterior_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit(data) first"
            )

    def _set_posterior(self, posterior: xr.Dataset, report: dict[str, Any]) -> None:
        self.posterior_ = posterior
        self.fit_report_ = report
        self.params_ = {name: float(posterior[name].mean().item()) for name in self.param_names}
        problems = self.usability_problems()
        report["usable"] = not problems
        if problems:
            report["converged"] = False
            report["not_usable_reason"] = "; ".join(problems)
            warnings.warn(self._unusable_message(problems), ConvergenceWarning, stacklevel=3)
        elif not report.get("converged", True):
            warnings.warn(
                _convergence_message(type(self).__name__, report), ConvergenceWarning, stacklevel=3
            )

    # ----------------------------------------------------------------- usability
    def usability_problems(self) -> list[str]:
        """Why the fitted parameters cannot be used for predictions (empty: they can).

        Every parameter of these models lives on (0, inf). A non-finite draw, a scale
        parameter (:attr:`scale_params`) that is not positive, or a shape parameter whose
        posterior mean is below :data:`SHAPE_FLOOR` or above :data:`SHAPE_CEILING` sits at an
        edge of the support: the likelihood has no maximum inside it and the predictions are
        a limit, not a fit. Subclasses add model-specific conditions (Gamma-Gamma: q > 1).
        """
        self._check_fitted()
        problems = []
        for name in self.param_names:
            values = np.asarray(self.posterior_[name].values, dtype="float64").reshape(-1)
            mean = self.params_[name]
            if not np.isfinite(values).all():
                problems.append(f"{name} is not finite")
            elif name in self.scale_params:
                if mean <= 0:
                    problems.append(f"{name} = {mean:.4g} is not positive")
            elif mean < SHAPE_FLOOR:
                problems.append(
                    f"{name} = {mean:.3g} is at the lower bound of its support "
                    f"(below {SHAPE_FLOOR:g})"
                )
            elif mean > SHAPE_CEILING:
                problems.append(
                    f"{name} = {mean:.3g} is absurdly large (above {SHAPE_CEILING:g}): "
                    "the optimiser ran towards infinity"
                )
        return problems

    @property
    def is_usable(self) -> bool:
        """Whether the parameters are inside their support (:meth:`usability_problems`)."""
        return not self.usability_problems()

    def check_usable(self) -> None:
        """Raise a :class:`~clvmodels.errors.DataError` when the fit cannot be used.

        The message names the parameters at a bound (and, for Gamma-Gamma, the customers
        that drive q <= 1).
        """
        problems = self.usability_problems()
        if problems:
            raise DataError(self._unusable_message(problems, scoring=True))

    def _unusable_message(self, problems: list[str], *, scoring: bool = False) -> str:
        """The warning at fit time, or the refusal at scoring time."""
        what = (
            "refusing to score with this fit"
            if scoring
            else "the fit is not usable and scoring will refuse it"
        )
        return f"{self.label}: {'; '.join(problems)}; {what}. {self._unusable_hint(problems)}"

    def _unusable_hint(self, problems: list[str]) -> str:
        other = (
            "fit with the default priors"
            if self.priors == "flat"
            else "fit with flat priors (--priors flat) or another model (--model pareto)"
        )
        return (
            "The data may not support this model (too few customers, no dropout or no "
            f"variation): check it, or {other}"
        )

    @classmethod
    def from_posterior(
        cls,
        posterior: xr.Dataset | Mapping[str, ArrayLike],
        report: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Self:
        """A fitted model from given draws (a saved fit, or fixed draws in tests).

        ``posterior`` is a Dataset with dimensions ``(chain, draw)``, or one array per
        parameter (:func:`as_posterior`).
        """
        posterior = as_posterior(posterior)
        missing = [name for name in cls.param_names if name not in posterior]
        if missing:
            raise ValueError(f"{cls.__name__} posterior lacks {', '.join(missing)}")
        model = cls(**settings)
        model.posterior_ = posterior[list(cls.param_names)]
        model.fit_report_ = dict(report or {})
        model.params_ = {name: float(posterior[name].mean().item()) for name in cls.param_names}
        return model

    # ----------------------------------------------------------------- draws
    @property
    def n_draws_(self) -> int:
        """Total draws in the posterior (chains x draws)."""
        self._check_fitted()
        return int(self.posterior_.sizes["chain"] * self.posterior_.sizes["draw"])

    def param_draws(self, n_draws: int | None = None) -> dict[str, np.ndarray]:
        """Flattened parameter draws, thinned evenly to at most ``n_draws``.

        Returns
        -------
        dict of str to numpy.ndarray
            One 1-D array per parameter, all the same length.
        """
        self._check_fitted()
        total = self.n_draws_
        index = thin_index(total, n_draws)
        return {
            name: np.asarray(self.posterior_[name].values, dtype="float64").reshape(-1)[index]
            for name in self.param_names
        }

    def summary(self) -> pd.DataFrame:
        """Posterior mean, sd and 94% equal-tailed interval of each parameter."""
        self._check_fitted()
        lo, hi = INTERVAL_QUANTILES
        rows = []
        for name in self.param_names:
            values = np.asarray(self.posterior_[name].values).reshape(-1)
            rows.append(
                {
                    "parameter": name,
                    "mean": float(values.mean()),
                    "sd": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                    "low_94": float(np.quantile(values, lo)),
                    "high_94": float(np.quantile(values, hi)),
                }
            )
        return pd.DataFrame(rows).set_index("parameter")

    def __repr__(self) -> str:
        state = (
            ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            if self.is_fitted
            else "not fitted"
        )
        return f"{type(self).__name__}(method={self.method!r}, priors={self.priors!r}; {state})"


def as_posterior(draws: xr.Dataset | Mapping[str, ArrayLike]) -> xr.Dataset:
    """Draws as a Dataset with dimensions ``(chain, draw)`` (1-D arrays: one chain)."""
    if isinstance(draws, xr.Dataset):
        return draws
    arrays = {name: np.asarray(values, dtype="float64") for name, values in draws.items()}
    arrays = {name: a.reshape(1, -1) if a.ndim < 2 else a for name, a in arrays.items()}
    if not arrays:
        return xr.Dataset()
    chains, n_draws = next(iter(arrays.values())).shape
    return xr.Dataset(
        {name: (("chain", "draw"), values) for name, values in arrays.items()},
        coords={"chain": np.arange(chains), "draw": np.arange(n_draws)},
    )


def thin_index(total: int, n_draws: int | None) -> np.ndarray:
    """Evenly spaced indices that keep at most ``n_draws`` of ``total`` draws."""
    if n_draws is None or n_draws >= total:
        return np.arange(total)
    if n_draws < 1:
        raise ValueError(f"n_draws must be at least 1; got {n_draws}")
    return np.unique(np.linspace(0, total - 1, n_draws).round().astype(int))


def _convergence_message(model: str, report: dict[str, Any]) -> str:
    if report.get("method") in {"map", "laplace"}:
        return (
            f"{model}: the optimiser did not converge ({report.get('message')}); "
            "the parameters may be wrong. Check the data, or try --priors default"
        )
    return (
        f"{model}: NUTS did not converge: max r-hat {report.get('max_r_hat', float('nan')):.3f} "
        f"(want <= 1.01), min bulk ESS {report.get('min_ess_bulk', float('nan')):.0f}, "
        f"{report.get('divergences', 0)} divergences. Draw more (--draws, --chains) "
        "before trusting these results"
    )
