"""The job file (``clv.toml``): the tables of a job, their column mapping, and its defaults.

A job file is TOML (``docs/clv.toml.example`` is a complete one). Each table section names
where a table is (``path``: a file, a folder or a database URL; a relative path, also inside
a ``duckdb:///`` or ``sqlite:///`` URL, is relative to the job file's folder) and its column
mapping, with keys named like the options of the command that reads the table, without the
dashes (``--customer-col`` -> ``customer_col``, ``--visits-uid-col`` -> ``visits_uid_col``).
``[defaults]`` holds the settings every command shares, ``[run]`` those of ``clv run``.

Every section and key is known: an unknown one (a typo) is a :class:`DataError` naming the
file, the section, the key and the close matches; so is a value of the wrong type or outside
the range the command line allows (:mod:`clvmodels.ranges`, :mod:`clvmodels.units`). A
password written in a database URL is accepted but never shown (:func:`shown`).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clvmodels.data.contract import DATE_UNITS
from clvmodels.data.database_url import is_database_url, parse_database_url, shown_source
from clvmodels.errors import DataError
from clvmodels.models.settings import TRANSACTION_MODEL_NAMES
from clvmodels.ranges import ANNUAL_DISCOUNT_RATE, MARGIN, VALUE_PER_ORDER, NumberRange
from clvmodels.subscriptions.billing import MAX_GRACE_DAYS
from clvmodels.units import parse_duration

#: The name of the job file read from the working folder.
DEFAULT_NAME = "clv.toml"

#: A key's check: the value as it is kept, or ValueError("must be ...").
Check = Callable[[Any, Path], Any]


def _type_name(value: Any) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text"}
    return names.get(type(value), f"a TOML {type(value).__name__}")


def _text(value: Any, base: Path) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be text; got {_type_name(value)} {value!r}")
    return value


def _flag(value: Any, base: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false; got {value!r}")
    return value


def _choice(*choices: str, upper: bool = False) -> Check:
    def check(value: Any, base: Path) -> str:
        text = _text(value, base)
        normal = text.upper() if upper else text
        if normal not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {text!r}")
        return normal

    return check


def _number(allowed: NumberRange) -> Check:
    def check(value: Any, base: Path) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number; got {_type_name(value)} {value!r}")
        problem = allowed.problem(value)
        if problem is not None:
            raise ValueError(problem)
        return float(value)

    return check


def _whole(low: int, high: int) -> Check:
    def check(value: Any, base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low:,} to {high:,}; got {value!r}")
        return value

    return check


def _duration(value: Any, base: Path) -> str:
    return str(parse_duration(_text(value, base)))


def _location(value: Any, base: Path) -> str:
    """A file, folder or database URL; relative file paths are made relative to ``base``."""
    text = _text(value, base)
    if not text:
        raise ValueError("must name a file, a folder or a database URL; got ''")
    if "://" in text and not is_database_url(text):  # s3a://, hdfs://: as written
        return text
    if not is_database_url(text):
        path = Path(text).expanduser()
        return os.path.normpath(path if path.is_absolute() else base / path)
    url = parse_database_url(text, what="the URL")
    if url.path is None or url.path.is_absolute():
        return text
    fragment = text.partition("#")[2]
    absolute = os.path.normpath(base / url.path)
    return f"{url.engine}:///{absolute}" + (f"#{fragment}" if fragment else "")


_TEXT, _FLAG, _PATH = _text, _flag, _location

#: Each section's keys and their checks: the one definition of what a job file may hold.
SCHEMA: dict[str, dict[str, Check]] = {
    "orders": {
        "path": _PATH,
        **dict.fromkeys(("table", "query", "customer_col", "date_col", "revenue_col"), _TEXT),
        "no_revenue": _FLAG,
        "value_per_order": _number(VALUE_PER_ORDER),
        "date_format": _TEXT,
        "date_unit": _choice(*DATE_UNITS),
        "time_zone": _TEXT,
        "encoding": _TEXT,
        "refunds": _choice("error", "net"),
        "dedupe": _FLAG,
        "allow_file_access": _FLAG,
    },
    "visits": {
        "path": _PATH,
        **{f"visits_{c}_col": _TEXT for c in ("uid", "start", "end", "source", "device")},
    },
    "costs": {
        "path": _PATH,
        "costs_source_col": _TEXT,
        "costs_date_col": _TEXT,
        "costs_col": _TEXT,
    },
    "billing": {
        "path": _PATH,
        "billing_period": _choice("month", "year"),
        **dict.fromkeys(
            ("customer_col", "payment_date_col", "paid_until_col", "amount_col", "plan_col"), _TEXT
        ),
        "status_col": _TEXT,
        "paid_values": _TEXT,
        "grace_days": _whole(0, MAX_GRACE_DAYS),
        "date_format": _TEXT,
    },
    "subs": {"path": _PATH, "by": _TEXT},
    "assignments": {
        "path": _PATH,
        **{f"assignments_{c}": _TEXT for c in ("uid_col", "group_col", "time_col", "table")},
        "control": _TEXT,
        "window_days": _whole(1, 3660),
        "planned_split": _TEXT,
    },
    "companies": {"path": _PATH, "company_key": _TEXT, "covariates": _TEXT},
    # the customers table of transaction models with covariates (docs/models.md, Covariates)
    "customers": {
        "path": _PATH,
        **dict.fromkeys(
            (
                "customer_key",
                "customers_table",
                "covariates",
                "purchase_covariates",
                "dropout_covariates",
            ),
            _TEXT,
        ),
    },
    "activity": {
        "path": _PATH,
        "activity_key": _TEXT,
        "activity_month_col": _TEXT,
        "activity_measures": _TEXT,
    },
    "people": {"path": _PATH, "people_key": _TEXT},
    "scores": {"path": _PATH, "table": _TEXT, "query": _TEXT},
    "defaults": {
        "time_unit": _choice("D", "W", "M", upper=True),
        "margin": _number(MARGIN),
        "annual_discount_rate": _number(ANNUAL_DISCOUNT_RATE),
        "horizon": _duration,
        "period": _choice("day", "week", "month"),
        "dimension_col": _TEXT,
        "model_type": _choice(*TRANSACTION_MODEL_NAMES, "auto"),
        "candidates": _TEXT,
        # BG/CNBD-k's and MBG/CNBD-k's Erlang shape (clv fit --k)
        "k": _whole(1, 10),
        "model_dir": _PATH,
    },
    "run": {"to": _PATH, "schema": _TEXT, "method": _choice("map", "laplace", "mcmc")},
}


@dataclass(frozen=True)
class Setting:
    """One value of a job file, and where it was written."""

    value: Any
    file: Path
    section: str
    key: str

    def where(self) -> str:
        """``clv.toml [orders]``: the file's name and the section."""
        return f"{self.file.name} [{self.section}]"


@dataclass(frozen=True)
class JobFile:
    """A read and checked job file: ``sections[section][key]`` is the checked value."""

    path: Path
    sections: Mapping[str, Mapping[str, Any]]

    def settings(self) -> dict[tuple[str, str], Setting]:
        """Every value as a :class:`Setting`, keyed by ``(section, key)``."""
        return {
            (section, key): Setting(value, self.path, section, key)
            for section, values in self.sections.items()
            for key, value in values.items()
        }

    def get(self, section: str, key: str, default: Any = None) -> Any:
        """The value of ``[section] key``, or ``default`` when the file does not give it."""
        return self.sections.get(section, {}).get(key, default)


def _unknown(path: Path, what: str, name: str, known: Sequence[str]) -> DataError:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else f"a job file has {', '.join(known)}"
    return DataError(f"job file {path}: unknown {what}", hint=hint)


def read_job_file(path: str | Path) -> JobFile:
    """Read and check a job file.

    Parameters
    ----------
    path : str or Path
        The TOML file. Relative paths inside it are made relative to its folder.

    Returns
    -------
    JobFile

    Raises
    ------
    DataError
        The file cannot be read or parsed, or a section, key or value is not one a job file
        takes: the message names the file, the section and the key (and close matches).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(f"job file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"job file {path} is not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise DataError(f"job file {path} is not valid TOML: {exc}") from None
    base = path.resolve().parent
    sections: dict[str, dict[str, Any]] = {}
    for section, values in raw.items():
        if section not in SCHEMA:
            raise _unknown(path, f"section [{section}]", f"[{section}]", [f"[{s}]" for s in SCHEMA])
        if not isinstance(values, dict):
            raise DataError(
                f"job file {path}: {section} must be a section [{section}]; "
                f"got {_type_name(values)}"
            )
        keys = SCHEMA[section]
        sections[section] = {}
        for key, value in values.items():
            if key not in keys:
                raise _unknown(path, f"key {key!r} in [{section}]", key, list(keys))
            try:
                sections[section][key] = keys[key](value, base)
            except ValueError as exc:
                raise DataError(f"job file {path}: [{section}] {key} {exc}") from None
    return JobFile(path, sections)


def merged(files: Sequence[JobFile]) -> dict[tuple[str, str], Setting]:
    """The settings of several job files, a later file's value winning over an earlier one's."""
    result: dict[tuple[str, str], Setting] = {}
    for job in files:
        result.update(job.settings())
    return result


def shown(value: Any) -> str:
    """A value as it may be printed: a database URL with its password hidden."""
    if isinstance(value, str) and is_database_url(value):
        return shown_source(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
