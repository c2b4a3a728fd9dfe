#!/usr/bin/env python
"""Regenerate the backtest table of ``docs/backtest.md`` from the models of ``model.MODELS``.

On the CDNOW sample (2,357 customers) and the full CDNOW log (23,570), both from the
``lifetimes`` 0.11.3 wheel: calibration 1997-01-01 to 1997-09-30 (39 weeks), holdout to
1998-06-30 (39 weeks), weeks, flat priors (maximum likelihood), as in Fader, Hardie & Lee
(2005). Every model of :data:`clvmodels.model.MODELS` and the two baselines are backtested
(:func:`clvmodels.backtest.backtest`); the ``auto`` row is the model ``--model auto`` chooses
on the calibration period alone (:func:`clvmodels.selection.choose_model`, its own split),
measured on the 39-week holdout. The rows "with covariates" fit the models that take
covariates with two of each customer's first-day facts, both known at acquisition: the
basket (1 CD, 2 CDs, 3 or more) and the dollar value of the first day's orders. The anchors
are the MAE of the published parameters on the sample. The table replaces the text between
the markers of ``docs/backtest.md``.

    PYTHONPATH=. .venv/bin/python scripts/backtest_table.py [--no-write]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from clvmodels.backtest import backtest
from clvmodels.data.customers import CustomersSource
from clvmodels.data.io import read_orders
from clvmodels.examples.cdnow import load_cdnow
from clvmodels.model import MODEL_LABELS, MODELS, CLVModel
from clvmodels.models.covariate_fit import COVARIATE_MODELS
from clvmodels.selection import choose_model
from clvmodels.summaries.rfm import rfm_summary

CALIBRATION_END, OBSERVATION_END, HOLDOUT_WEEKS = "1997-09-30", "1998-06-30", 39.0
DOC = Path(__file__).resolve().parent.parent / "docs" / "backtest.md"
START, END = "<!-- backtest-table:start -->", "<!-- backtest-table:end -->"
DATA_SETS = {"sample": "CDNOW sample", "master": "CDNOW full log"}

#: Published maximum-likelihood parameters on the CDNOW sample (39-week calibration, weeks).
ANCHORS = {
    "pareto": (
        {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
        "BTYD / Fader, Hardie & Lee (2005)",
    ),
    "mbgnbd": (
        {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
        "pymc-marketing tests (test_modified_beta_geo.py)",
    ),
    "bgnbd": (
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "Fader, Hardie & Lee (2005)",
    ),
}
#: Published holdout totals (predicted purchases, actual, source), by data set and model.
PUBLISHED = {
    ("sample", "bgnbd"): (1653.0, 1882.0, "FHL05"),
}


def orders_of(kind: str) -> pd.DataFrame:
    """The CDNOW log as validated orders (duplicate rows kept, as the papers keep them)."""
    raw = load_cdnow(kind)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_orders(raw[["customer_id", "timestamp", "revenue"]])


#: The covariates of the "with covariates" rows (:func:`first_day_customers`).
COVARIATES = ("first_basket", "first_order_value")


def first_day_customers(kind: str) -> pd.DataFrame:
    """Per customer: the first day's basket (1 CD, 2 CDs, 3+ CDs) and its dollar value."""
    raw = load_cdnow(kind)  # type: ignore[arg-type]
    first = raw.groupby("customer_id")["timestamp"].transform("min")
    day = raw[raw["timestamp"] == first].groupby("customer_id")[["n_items", "revenue"]].sum()
    basket = pd.cut(day["n_items"], [0, 1, 2, np.inf], labels=["1 CD", "2 CDs", "3+ CDs"])
    return pd.DataFrame(
        {
            "customer_id": day.index,
            "first_basket": basket.astype("string").to_numpy(),
            "first_order_value": day["revenue"].to_numpy(),
        }
    )


def with_covariates(kind: str, orders: pd.DataFrame) -> pd.DataFrame:
    """The backtest totals of the models that take covariates, fitted with COVARIATES."""
    result = backtest(
        orders,
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        models=[name for name in MODELS if name in COVARIATE_MODELS],
        priors="flat",
        baselines=(),
        on_failure="record",
        customers=CustomersSource(first_day_customers(kind)),
        purchase_covariates=COVARIATES,
        dropout_covariates=COVARIATES,
    )
    return result.totals.set_index("model")


def measured(kind: str) -> list[dict[str, object]]:
    """One row per model, the auto choice and each baseline on one data set."""
    orders = orders_of(kind)
    started = time.perf_counter()
    result = backtest(
        orders,
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        models=list(MODELS),
        priors="flat",
        on_failure="record",
    )
    calibration = orders[orders["timestamp"] <= pd.Timestamp(CALIBRATION_END)]
    chosen = choose_model(calibration, priors="flat").comparison["selected"]
    totals = result.totals.set_index("model")
    covariate_totals = with_covariates(kind, orders)
    seconds = time.perf_counter() - started
    rows = []
    names = [*result.models, "auto", *[f"{n} +cov" for n in covariate_totals.index]]
    for name in [*names, *result.settings["baselines"]]:
        source = chosen if name == "auto" else name.removesuffix(" +cov")
        row = covariate_totals.loc[source] if name.endswith(" +cov") else totals.loc[source]
        label = f"auto (chose {MODEL_LABELS[source]})" if name == "auto" else _label(source)
        if name.endswith(" +cov"):
            label += " with covariates"
        k = getattr(result.models.get(name, None), "transaction_model_", None)
        if getattr(k, "k_", None) is not None:
            label += f" (k = {k.k_} by likelihood)"
        published = PUBLISHED.get((kind, name)) if name in MODELS else None
        rows.append(
            {
                "data": DATA_SETS[kind],
                "model": label,
                "predicted": row["predicted_purchases"],
                "actual": row["actual_purchases"],
                "error_pct": row["purchases_error_pct"],
                "bias": row["bias_purchases"],
                "mae": row["mae_purchases"],
                "rmse": row["rmse_purchases"],
                "log_likelihood": row["log_likelihood"],
                "published": published,
            }
        )
    for name, why in result.failed.items():
        rows.append({"data": DATA_SETS[kind], "model": f"{_label(name)}: not usable ({why})"})
    print(f"{DATA_SETS[kind]}: {seconds:.1f} s", file=sys.stderr)
    return rows


def anchors() -> list[dict[str, object]]:
    """MAE and holdout total of the published parameters on the CDNOW sample."""
    rfm = rfm_summary(
        orders_of("sample"),
        time_unit="W",
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
    )
    actual = rfm["frequency_holdout"].to_numpy(dtype="float64")
    rows = []
    for name, (params, source) in ANCHORS.items():
        model = CLVModel.from_posteriors(
            {k: np.array([v]) for k, v in params.items()},
            transaction_model=name,  # type: ignore[arg-type]
        )
        predicted = model.transaction_model_.expected_purchases(rfm, HOLDOUT_WEEKS).mean(axis=0)
        error = predicted - actual
        rows.append(
            {
                "model": MODEL_LABELS[name],
                "params": ", ".join(f"{k}={v}" for k, v in params.items()),
                "source": source,
                "predicted": float(predicted.sum()),
                "error_pct": 100 * (predicted.sum() - actual.sum()) / actual.sum(),
                "bias": float(error.mean()),
                "mae": float(np.abs(error).mean()),
                "rmse": float(np.sqrt((error**2).mean())),
            }
        )
    return rows


def _label(name: str) -> str:
    return MODEL_LABELS.get(name, f"{name} baseline")


def markdown(rows: list[dict[str, object]], anchor_rows: list[dict[str, object]]) -> str:
    """The two tables: measured per data set and model, and the anchors."""
    lines = [
        "| data | model | predicted | actual | error % | bias | MAE | RMSE | log-likelihood "
        "| published (predicted / actual) |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in rows:
        if "predicted" not in row:
            lines.append(f"| {row['data']} | {row['model']} |  |  |  |  |  |  |  |  |")
            continue
        ll = row["log_likelihood"]
        shown_ll = f"{ll:,.1f}" if np.isfinite(ll) else ""  # type: ignore[arg-type]
        pub = row["published"]
        shown_pub = f"{pub[0]:,.0f} / {pub[1]:,.0f} ({pub[2]})" if pub else ""  # type: ignore[index]
        lines.append(
            f"| {row['data']} | {row['model']} | {row['predicted']:,.0f} | {row['actual']:,.0f} "
            f"| {row['error_pct']:+.1f} | {row['bias']:+.4f} | {row['mae']:.4f} "
            f"| {row['rmse']:.4f} | {shown_ll} | {shown_pub} |"
        )
    lines += [
        "",
        "Anchors: the published parameters on the CDNOW sample, 39-week holdout (1,882 "
        "actual purchases).",
        "",
        "| model | parameters | source | predicted | error % | bias | MAE | RMSE |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in anchor_rows:
        lines.append(
            f"| {row['model']} | {row['params']} | {row['source']} | {row['predicted']:,.0f} "
            f"| {row['error_pct']:+.1f} | {row['bias']:+.4f} | {row['mae']:.4f} "
            f"| {row['rmse']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure, print the tables, and write them into docs/backtest.md (unless --no-write)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="Print only.")
    args = parser.parse_args(argv)
    rows = [row for kind in DATA_SETS for row in measured(kind)]
    text = markdown(rows, anchors())
    print(text)
    if not args.no_write:
        doc = DOC.read_text(encoding="utf-8")
        pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
        if not pattern.search(doc):
            print(f"{DOC} has no {START} ... {END} markers", file=sys.stderr)
            return 2
        DOC.write_text(pattern.sub(f"{START}\n{text}\n{END}", doc), encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
