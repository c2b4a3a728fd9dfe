"""The report's ``model`` section: each fitted model's parameters and diagnostics.

A model chosen by ``--model auto`` also shows its ``model_comparison`` (``model.json``): the
calibration split, each candidate's holdout metrics, and the choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from clvmodels.data.io import fingerprint
from clvmodels.model import MODEL_LABELS, CLVModel
from clvmodels.models.spend import ConstantSpendModel, constant_spend_line
from clvmodels.report.html import (
    NEED_MODEL,
    Section,
    count,
    esc,
    key_values,
    missing,
    num,
    table,
    yes,
)
from clvmodels.report.inputs import orders_input
from clvmodels.units import UNIT_NAMES

_SUBTITLES = {
    "transaction_model": "purchases",
    "spend_model": "spend per purchase",
}


def model_section(
    model: CLVModel | None, metadata: Mapping[str, Any] | None, orders: pd.DataFrame
) -> Section | str:
    """The model's unit, data and versions, then a parameter table per part of the model."""
    if model is None:
        return missing("model", "Model", NEED_MODEL.format(what="its parameters and diagnostics"))
    description = model.describe()
    parts = [key_values(_overview(description, metadata or {}, orders))]
    comparison = (metadata or {}).get("model_comparison")
    if isinstance(comparison, Mapping) and comparison.get("models"):
        parts.append(_comparison_block(comparison))
    for key in ("transaction_model", "spend_model"):
        if description.get(key) is None:
            parts.append(f"<p>No spend model: {esc(description.get('no_spend_model', ''))}</p>")
            continue
        if description[key].get("name") == ConstantSpendModel.name:
            line = constant_spend_line(description[key]["fit_report"])
            parts.append(f"<h3>Spend per purchase occasion: constant</h3><p>spend: {esc(line)}</p>")
            continue
        parts.append(_fit_block(description[key], _SUBTITLES[key]))
    return "".join(parts)


def _overview(
    description: Mapping[str, Any], meta: Mapping[str, Any], orders: pd.DataFrame
) -> list[tuple[str, str]]:
    """Time unit, observation end, customers, versions saved with, fitted on these orders."""
    unit = description["time_unit"]
    rows = [
        ("time unit", f"{UNIT_NAMES.get(unit, unit)} ({unit})"),
        ("observation end", str(description.get("calibration_end"))),
        (
            "customers fitted",
            f"{count(description.get('n_customers'))} "
            f"({count(description.get('n_repeat_customers'))} with repeat purchases)",
        ),
    ]
    if "clvmodels_version" in meta:
        versions = meta.get("library_versions", {})
        rows.append(
            (
                "saved with",
                f"clvmodels {meta['clvmodels_version']}, pymc-marketing "
                f"{versions.get('pymc-marketing', '?')}",
            )
        )
    matches = _fitted_on_these_orders(meta, orders, description.get("calibration_end"))
    if matches is not None:
        rows.append(
            (
                "fitted on these orders",
                "yes" if matches else "no: the orders differ from those the model was fitted on",
            )
        )
    return rows


def _fitted_on_these_orders(
    metadata: Mapping[str, Any], orders: pd.DataFrame, observation_end: Any
) -> bool | None:
    stored = (metadata.get("input") or {}).get("fingerprint")
    if not stored or observation_end is None:
        return None
    return fingerprint(orders_input(orders), up_to=observation_end) == stored


def _comparison_block(comparison: Mapping[str, Any]) -> str:
    """The model choice: the split, each candidate's holdout metrics, skipped ones, the choice."""
    split = comparison.get("split", {})
    selected = comparison.get("selected")
    label = MODEL_LABELS.get(str(selected), str(selected))
    intro = (
        f"Chosen by --model auto: {label}, {comparison.get('selected_by', '')}, among "
        f"{', '.join(MODEL_LABELS.get(c, c) for c in comparison.get('candidates', []))} "
        f"({comparison.get('candidates_rule', '')}). Fitted on the orders to "
        f"{split.get('calibration_end')}, holdout to {split.get('observation_end')} "
        f"({num(split.get('holdout_length'), '.1f')} {split.get('time_unit', '')}; "
        f"{split.get('rule', '')}); {count(split.get('n_customers'))} customers, "
        f"{num(split.get('actual_purchases'), ',.0f')} holdout purchases; then refitted on "
        "all the orders."
    )
    header = ["model", "predicted", "error %", "bias", "MAE", "RMSE", "log-likelihood"]
    rows = [
        [
            MODEL_LABELS.get(name, name),
            num(row.get("predicted_purchases"), ",.0f"),
            num(row.get("aggregate_error_pct"), "+.1f"),
            num(row.get("bias"), "+.3f"),
            num(row.get("mae"), ".4f"),
            num(row.get("rmse"), ".4f"),
            num(row.get("log_likelihood"), ",.1f"),
        ]
        for name, row in comparison["models"].items()
    ]
    skipped = "".join(
        f"<p>{esc(MODEL_LABELS.get(name, name))} skipped: {esc(why)}</p>"
        for name, why in (comparison.get("skipped") or {}).items()
    )
    return (
        "<h3>Model choice: holdout purchases per candidate</h3>"
        f"<p>{esc(intro)}</p>"
        + table(header, rows, numeric=range(1, len(header)), highlight=lambda r: r[0] == label)
        + skipped
    )


def _fit_block(part: Mapping[str, Any], subtitle: str) -> str:
    """One part's heading (converged or not), parameter table and diagnostics."""
    name = str(part.get("name", "?"))
    report = part.get("fit_report", {}) or {}
    converged = bool(report.get("converged", True))
    flag = (
        "<span class='flag ok'>converged: yes</span>"
        if converged
        else "<span class='flag bad'>converged: NO</span>"
    )
    title = MODEL_LABELS.get(name, name)
    heading = (
        f"<h3>{esc(title)}: {esc(subtitle)} "
        f"<small>({esc(part.get('method'))}, {esc(part.get('priors'))} priors)</small> "
        f"{flag}</h3>"
    )
    point = (
        "<p class='caption'>A MAP fit is a single point: sd 0 and the interval is the estimate. "
        "Fit with --method laplace or mcmc for posterior intervals.</p>"
        if report.get("method") == "map"
        else ""
    )
    return heading + _parameter_table(part, report) + point + key_values(_diagnostics(report))


def _parameter_table(part: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    """Mean, sd and 94% interval per parameter; r-hat and ESS too for MCMC."""
    is_mcmc = report.get("method") == "mcmc"
    header = ["parameter", "mean", "sd", "94% low", "94% high"]
    if is_mcmc:
        header += ["r-hat", "bulk ESS", "tail ESS"]
    rows = []
    for param, row in part.get("summary", {}).items():
        cells = [
            param,
            num(row.get("mean")),
            num(row.get("sd")),
            num(row.get("low_94")),
            num(row.get("high_94")),
        ]
        if is_mcmc:
            cells += [
                num(report.get("r_hat", {}).get(param), ".3f"),
                num(report.get("ess_bulk", {}).get(param), ",.0f"),
                num(report.get("ess_tail", {}).get(param), ",.0f"),
            ]
        rows.append(cells)
    return table(header, rows, numeric=range(1, len(header)))


def _diagnostics(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    if report.get("method") == "mcmc":
        return [
            ("sampler", str(report.get("sampler", "?"))),
            (
                "chains x draws (tune)",
                f"{report.get('chains', '?')} x {report.get('draws', '?')} "
                f"({report.get('tune', '?')})",
            ),
            ("max r-hat", f"{num(report.get('max_r_hat'), '.3f')} (want <= 1.01)"),
            (
                "min bulk ESS",
                f"{num(report.get('min_ess_bulk'), ',.0f')} (want >= 100 per chain)",
            ),
            ("divergences", f"{count(report.get('divergences'))} (want 0)"),
            ("seconds", num(report.get("seconds"), ",.1f")),
        ]
    rows = [
        ("optimiser", str(report.get("optimizer", "?"))),
        ("status", f"{report.get('message', '?')} (success: {yes(report.get('success'))})"),
        ("iterations", count(report.get("iterations"))),
        ("function evaluations", count(report.get("function_evaluations"))),
        ("log posterior", num(report.get("log_posterior"), ",.2f")),
    ]
    if report.get("method") == "laplace":
        rows.append(("Laplace draws", f"{report.get('chains', '?')} x {report.get('draws', '?')}"))
    rows.append(("seconds", num(report.get("seconds"), ",.1f")))
    return rows
