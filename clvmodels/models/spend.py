"""Constant spend: the spend model of orders valued with ``--value-per-order``.

A log without revenue read with ``--no-revenue --value-per-order X`` gives every order the
value X (``rfm.attrs["revenue"] == "value_per_order"``). There is then no spend to model:
Gamma-Gamma on such values is wrong in principle (spend that does not vary has no Gamma-Gamma
fit: with flat priors p runs to infinity; default priors "fit" a meaningless model). The
spend per purchase occasion is known instead (``docs/models.md``):

* a purchase occasion (a customer's orders of one day) is worth X times the orders it
  merged: that is what the data says;
* a future occasion needs one number, the **observed mean value of a repeat occasion** over
  all customers: ``X * repeat orders / repeat occasions``. It equals X when no two orders of a
  customer fall on one day. Without repeat occasions it is X.

Every customer, and every posterior draw, gets that value: spend has no uncertainty, so CLV
intervals are those of the purchases.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
import pandas as pd

from clvmodels.errors import DataError, Label
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.inputs import validate_rfm

#: How far (relative) a customer's repeat revenue / X may be from a whole number of orders.
WHOLE_ORDERS_RTOL = 1e-6

#: The rule, as said in reports and ``model.json``.
CONSTANT_SPEND_RULE = (
    "every order is worth --value-per-order X, so a purchase occasion is worth X times its "
    "orders; a future occasion is worth the observed mean value of a repeat occasion, "
    "X x repeat orders / repeat occasions (X when no two orders fall on one day), for every "
    "customer and draw"
)


class ConstantSpendModel:
    """The spend per purchase occasion of orders that are all worth the same value.

    Has the interface scoring, saving and reporting use of a spend model (``expected_spend``
    per draw and customer, ``expected_spend_new_customer``, ``summary``, ``fit_report_``,
    ``check_usable``), without a posterior.

    Parameters
    ----------
    value_per_order : float, optional
        X, the value of every order; by default ``rfm.attrs["value_per_order"]`` at fit.

    Attributes
    ----------
    value_ : float
        The expected spend per purchase occasion.
    value_per_order_ : float
        X.
    fit_report_ : dict
        ``value``, ``value_per_order``, ``n_customers`` (repeat customers),
        ``n_repeat_occasions``, ``n_repeat_orders``, ``orders_per_repeat_occasion``,
        ``rule``; always ``converged`` and ``usable``.
    """

    name = "constant"
    method = "constant"
    priors = "none"
    is_usable = True

    value_: float
    value_per_order_: float
    fit_report_: dict[str, Any]

    def __init__(self, value_per_order: float | None = None) -> None:
        self.value_per_order = value_per_order

    def fit(self, rfm: pd.DataFrame) -> Self:
        """Take X and the observed mean value of a repeat occasion from the RFM table.

        Raises
        ------
        DataError
            Without a finite X > 0, or when a repeat customer's ``monetary_value`` is not a
            whole number of orders worth X (the table was not valued with X).
        """
        value = self.value_per_order
        if value is None:
            value = rfm.attrs.get("value_per_order")
        value = _check_value(value)
        validate_rfm(rfm, require_monetary=True)
        x = rfm["frequency"].to_numpy(dtype="float64")
        repeat = x > 0
        orders = x[repeat] * rfm["monetary_value"].to_numpy(dtype="float64")[repeat] / value
        whole = np.round(orders)
        off = ~(np.abs(orders - whole) <= WHOLE_ORDERS_RTOL * np.maximum(whole, 1.0)) | (
            whole < x[repeat]
        )
        if off.any():
            ids = rfm["customer_id"] if "customer_id" in rfm.columns else pd.Series(rfm.index)
            raise DataError(
                f"the RFM table is said to be valued at {value:g} per order "
                "(value_per_order), but the repeat revenue is not a whole number of such "
                "orders (at least one per repeat occasion)",
                column="monetary_value",
                n_rows=int(off.sum()),
                examples=[Label(f"customer {v}") for v in ids[repeat][off].head(5)],
            )
        n_occasions = int(x[repeat].sum())
        n_orders = int(whole.sum())
        mean = value * n_orders / n_occasions if n_occasions else value
        return self._set(
            value=value if n_orders == n_occasions else mean,
            value_per_order=value,
            n_customers=int(repeat.sum()),
            n_repeat_occasions=n_occasions,
            n_repeat_orders=n_orders,
        )

    def _set(
        self,
        *,
        value: float,
        value_per_order: float,
        n_customers: int,
        n_repeat_occasions: int,
        n_repeat_orders: int,
    ) -> Self:
        self.value_ = float(value)
        self.value_per_order_ = float(value_per_order)
        self.fit_report_ = {
            "method": self.method,
            "value": self.value_,
            "value_per_order": self.value_per_order_,
            "n_customers": n_customers,
            "n_repeat_occasions": n_repeat_occasions,
            "n_repeat_orders": n_repeat_orders,
            "orders_per_repeat_occasion": (
                n_repeat_orders / n_repeat_occasions if n_repeat_occasions else 1.0
            ),
            "rule": CONSTANT_SPEND_RULE,
            "converged": True,
            "usable": True,
        }
        return self

    @classmethod
    def from_description(cls, part: dict[str, Any]) -> Self:
        """Rebuild a fitted model from its ``describe()`` entry (``model.json``).

        Raises
        ------
        ValueError
            For a value or value per order that is not a finite number > 0, or counts that
            are not whole numbers.
        """
        report = part.get("fit_report") or {}
        model = cls(value_per_order=part.get("value_per_order"))
        counts = {}
        for key in ("n_customers", "n_repeat_occasions", "n_repeat_orders"):
            count = report.get(key, 0)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"fit_report.{key} must be a whole number >= 0, not {count!r}")
            counts[key] = count
        try:
            value = _check_value(part.get("value"), name="value")
            per_order = _check_value(part.get("value_per_order"))
        except DataError as exc:
            raise ValueError(str(exc)) from None
        return model._set(value=value, value_per_order=per_order, **counts)

    @property
    def is_fitted(self) -> bool:
        """Whether the model has been fitted or loaded."""
        return hasattr(self, "value_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            from clvmodels.errors import NotFittedError

            raise NotFittedError("this ConstantSpendModel is not fitted yet: call fit(rfm) first")

    @property
    def params_(self) -> dict[str, float]:
        """``{"value": ...}``: the expected spend per purchase occasion."""
        self._check_fitted()
        return {"value": self.value_}

    def usability_problems(self) -> list[str]:
        """None: a known constant is always usable."""
        return []

    def check_usable(self) -> None:
        """Nothing to check (see :meth:`usability_problems`)."""
        self._check_fitted()

    def summary(self) -> pd.DataFrame:
        """The value as a one-row parameter table (sd 0, interval a point)."""
        self._check_fitted()
        return pd.DataFrame(
            {"mean": [self.value_], "sd": [0.0], "low_94": [self.value_], "high_94": [self.value_]},
            index=pd.Index(["value"], name="parameter"),
        )

    def describe(self) -> dict[str, Any]:
        """The ``spend_model`` entry of ``CLVModel.describe()`` and ``model.json``."""
        self._check_fitted()
        return {
            "name": self.name,
            "method": self.method,
            "priors": self.priors,
            "value": self.value_,
            "value_per_order": self.value_per_order_,
            "description": self.description(),
            "params": self.params_,
            "summary": {
                p: {k: float(v) for k, v in row.items()} for p, row in self.summary().iterrows()
            },
            "fit_report": dict(self.fit_report_),
            "usable": True,
        }

    def description(self) -> str:
        """``constant X per purchase occasion (from --value-per-order)``, and why if not X."""
        self._check_fitted()
        return constant_spend_line(self.fit_report_)

    def expected_spend(self, rfm: pd.DataFrame, *, n_draws: int | None = None) -> np.ndarray:
        """The value for every draw and customer: ``(draws, customers)``, 1 draw by default."""
        self._check_fitted()
        return np.full((n_draws or 1, len(rfm)), self.value_)

    def expected_spend_new_customer(self, *, n_draws: int | None = None) -> np.ndarray:
        """The population mean spend per occasion: the value, per draw."""
        self._check_fitted()
        return np.full(n_draws or 1, self.value_)

    def __repr__(self) -> str:
        if not self.is_fitted:
            return "ConstantSpendModel(not fitted)"
        return (
            f"ConstantSpendModel(value={self.value_:g}, value_per_order={self.value_per_order_:g})"
        )


#: A fitted spend model: Gamma-Gamma, or the constant of ``--value-per-order``.
type SpendModel = GammaGammaModel | ConstantSpendModel


def constant_spend_line(report: dict[str, Any]) -> str:
    """The constant and how it was set, as ``clv fit``, ``show`` and ``score`` say it."""
    value, per_order = float(report["value"]), float(report["value_per_order"])
    line = f"constant {value:,.6g} per purchase occasion (from --value-per-order)"
    if value != per_order:
        line += (
            f": {per_order:,.6g} per order x {report.get('orders_per_repeat_occasion', 1):.4g} "
            f"orders per repeat occasion ({report.get('n_repeat_orders', 0):,} repeat orders "
            f"on {report.get('n_repeat_occasions', 0):,} repeat occasions: same-day orders are "
            "one occasion)"
        )
    return line


def _check_value(value: Any, *, name: str = "value_per_order") -> float:
    flag = "--value-per-order (value_per_order)" if name == "value_per_order" else name
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if value is None or isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise DataError(f"{flag} must be a finite number > 0, not {value!r}")
    return number
