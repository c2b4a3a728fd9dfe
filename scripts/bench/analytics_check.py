"""The agreement checks of the cli_engagement and cli_conversion jobs.

Each compares the files the two sides wrote (``clv`` and :mod:`bench.analytics_direct`):
the headline numbers of ``summary.json`` and the tables, row for row on their keys. Counts
and texts must be equal; fractions, medians and money within :data:`RTOL` (relative; sums of
floats in another order differ in the last bits).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

RTOL = 1e-9

ENGAGEMENT_NUMBERS = (
    "users",
    "sessions",
    "dau",
    "wau",
    "mau",
    "sticky_wau",
    "sticky_mau",
    "sessions_per_user_per_day",
    "session_seconds_median",
    "session_seconds_mode",
)
CONVERSION_NUMBERS = (
    "visitors",
    "buyers",
    "buyers_without_visit",
    "conversion_rate",
    "share_day_0",
    "share_day_1",
    "share_day_7",
    "share_day_30",
    "median_conversion_day",
)
#: Each table: its key columns, and the columns holding dates (parsed on both sides).
ENGAGEMENT_TABLES = {
    "daily": (("date",), ("date",)),
    "weekly": (("period_start",), ("period_start",)),
    "monthly": (("period_start",), ("period_start",)),
    "by_device": (("device",), ()),
    "by_source": (("source_id",), ()),
    "retention": (("cohort", "age"), ("cohort",)),
}
CONVERSION_TABLES = {
    "buyers": (("uid",), ("first_visit", "first_order")),
    "by_source": (("source_id",), ()),
    "by_device": (("device",), ()),
    "by_cohort": (("cohort",), ("cohort",)),
    "orders_by_cohort": (("cohort", "age_months"), ("cohort",)),
}


def _rel_diff(a: Any, b: Any) -> float:
    """|a - b| relative to |b| (0 when both are missing, inf when only one is)."""
    a_missing = a is None or (isinstance(a, float) and math.isnan(a))
    b_missing = b is None or (isinstance(b, float) and math.isnan(b))
    if a_missing or b_missing:
        return 0.0 if a_missing and b_missing else math.inf
    return abs(float(a) - float(b)) / max(abs(float(b)), 1e-300) if a != b else 0.0


def compare_numbers(ours: dict[str, Any], other: dict[str, Any], keys: tuple[str, ...]) -> dict:
    """The relative difference of each headline number (inf when one side lacks it)."""
    return {key: _rel_diff(ours.get(key), other.get(key)) for key in keys}


def _read(path: Path, keys: tuple[str, ...], dates: tuple[str, ...]) -> Any:
    import pandas as pd

    table = pd.read_csv(path, dtype={"source_id": str, "device": str})
    for column in dates:
        table[column] = pd.to_datetime(table[column])
    return table.sort_values(list(keys)).reset_index(drop=True)


def compare_table(
    ours_path: Path, other_path: Path, keys: tuple[str, ...], dates: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Same keys, and every column of the other side equal (numbers within RTOL) in ours."""
    import numpy as np
    import pandas as pd

    ours, other = _read(ours_path, keys, dates), _read(other_path, keys, dates)
    result: dict[str, Any] = {"rows": len(ours), "rows_other": len(other)}
    missing = sorted(set(other.columns) - set(ours.columns))
    same_keys = len(ours) == len(other) and all(
        ours[key].astype(str).equals(other[key].astype(str)) for key in keys
    )
    result.update(same_keys=same_keys, missing_columns=missing, differing_columns=[])
    worst = 0.0
    if same_keys:
        for column in [c for c in other.columns if c in ours.columns and c not in keys]:
            a, b = ours[column], other[column]
            if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
                a, b = a.to_numpy(float), b.to_numpy(float)
                both = ~(np.isnan(a) | np.isnan(b))
                equal = bool(
                    np.array_equal(np.isnan(a), np.isnan(b))
                    and np.allclose(a[both], b[both], rtol=RTOL, atol=0.0)
                )
                scale = np.maximum(np.abs(b[both]), 1e-300)
                diff = np.abs(a[both] - b[both]) / scale
                worst = max(worst, float(diff.max()) if diff.size else 0.0)
            else:
                equal = bool(a.astype(str).equals(b.astype(str)))
            if not equal:
                result["differing_columns"].append(column)
    result["max_rel_diff"] = worst
    result["agree"] = bool(same_keys and not missing and not result["differing_columns"])
    return result


def agreement(
    ours_dir: Path,
    other_dir: Path,
    numbers: tuple[str, ...],
    tables: dict[str, tuple[tuple[str, ...], tuple[str, ...]]],
) -> dict[str, Any]:
    """The summaries' numbers and the tables of the two sides' folders."""
    ours = json.loads((ours_dir / "summary.json").read_text())
    other = json.loads((other_dir / "summary.json").read_text())
    diffs = compare_numbers(ours, other, numbers)
    compared = {
        name: compare_table(ours_dir / f"{name}.csv", other_dir / f"{name}.csv", keys, dates)
        for name, (keys, dates) in tables.items()
    }
    worst = max([*diffs.values(), *(t["max_rel_diff"] for t in compared.values())])
    same_numbers = all(d <= RTOL for d in diffs.values())
    return {
        "agree": same_numbers and all(t["agree"] for t in compared.values()),
        "same_summary_numbers": same_numbers,
        **{f"same_{name}": t["agree"] for name, t in compared.items()},
        "max_rel_diff": worst,
        "summary_rel_diff": diffs,
        "rows": {name: t["rows"] for name, t in compared.items()},
        "differing_tables": {name: t for name, t in compared.items() if not t["agree"]},
        "ours_summary": {key: ours.get(key) for key in numbers},
    }


def engagement_agreement(ours_dir: Path, other_dir: Path) -> dict[str, Any]:
    """``clv engagement``'s files against the notebook way's."""
    return agreement(ours_dir, other_dir, ENGAGEMENT_NUMBERS, ENGAGEMENT_TABLES)


def conversion_agreement(ours_dir: Path, other_dir: Path) -> dict[str, Any]:
    """``clv conversion``'s files against the notebook way's."""
    return agreement(ours_dir, other_dir, CONVERSION_NUMBERS, CONVERSION_TABLES)
