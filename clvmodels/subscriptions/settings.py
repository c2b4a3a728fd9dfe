"""The settings of a churn analysis (``clv churn``), in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from clvmodels.models.sbg import SBGData, SBGFit, fit_sbg
from clvmodels.models.settings import Method


@dataclass(frozen=True)
class ChurnSettings:
    """How ``clv churn`` analyses a subscriptions table; the defaults are the CLI's."""

    by: tuple[str, ...] = ()
    method: Method = "map"
    priors: Literal["default", "flat"] = "default"
    horizon_periods: int = 12
    annual_discount_rate: float = 0.1
    company_key: str = "id"
    covariates: tuple[str, ...] = ("industry", "size_band")
    activity_key: str = "company_id"
    activity_month_col: str = "month"
    activity_measures: tuple[str, ...] | None = None
    baseline_periods: int = 3
    people_key: str = "company_id"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    seed: int | None = 0

    def fit(self, cells: SBGData) -> SBGFit:
        """Fit the sBG on ``cells`` with these settings' method, priors, draws and seed."""
        return fit_sbg(
            cells,
            priors=self.priors,
            method=self.method,
            chains=self.chains,
            draws=self.draws,
            tune=self.tune,
            seed=self.seed,
        )
