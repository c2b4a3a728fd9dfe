"""Saving and loading fitted models: netCDF posteriors and JSON metadata, never pickle.

A model directory holds::

    model.json                  format name and version, library versions, time unit, data
                                period, input fingerprint, parameters, fit reports, each
                                part's log_likelihood (at its posterior means), the
                                SHA-256 of every other file and of itself (minus that field);
                                ``model_comparison`` for a model chosen by ``--model auto``
    transaction_posterior.nc    BG/NBD draws, dims (chain, draw)
    spend_posterior.nc          Gamma-Gamma draws, dims (chain, draw); absent for a model
                                fitted without revenue (``"spend_model": null`` in model.json)
                                and for a constant spend (``--value-per-order``: its value is
                                in model.json, ``"spend_model": {"name": "constant", ...}``)

A model fitted with covariates also has ``encoding`` (the covariates' encoding,
:meth:`clvmodels.models.covariates.CovariateEncoding.to_dict`) and ``coefficients`` (the
coefficient table with intervals and effects) in model.json, and its coefficients in
``transaction_posterior.nc`` (dims ``purchase_covariate`` / ``dropout_covariate``).

The directory is written beside its target and renamed into place, so a failed save leaves
the previous model untouched.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import xarray as xr

from clvmodels._version import __version__
from clvmodels.data.paths import METADATA_FILE, inside_folder_problem, model_target_problem
from clvmodels.errors import ModelFileError
from clvmodels.model import MODELS, CLVModel
from clvmodels.models._pymc.versions import library_versions
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.models.spend import ConstantSpendModel

FORMAT = "clvmodels-model"
FORMAT_VERSION = 1
POSTERIOR_FILES = {
    "transaction_model": "transaction_posterior.nc",
    "spend_model": "spend_posterior.nc",
}


def save_model(
    model: CLVModel, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None
) -> Path:
    """Save a fitted :class:`CLVModel` to the directory ``path`` (replaced if it exists).

    Parameters
    ----------
    model : CLVModel
        A fitted model.
    path : path
        The model directory.
    extra : dict, optional
        More JSON metadata to record (the CLI records the input file and its fingerprint).
    """
    model._check_fitted()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        description = model.describe()
        files = {}
        for key, sub in model._submodels().items():
            if isinstance(sub, ConstantSpendModel):
                continue  # no posterior: its value is in model.json
            file_name = POSTERIOR_FILES[key]
            sub.posterior_.to_netcdf(staging / file_name, engine="h5netcdf")
            files[file_name] = _sha256(staging / file_name)
            description[key]["posterior_file"] = file_name
        metadata = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "clvmodels_version": __version__,
            "library_versions": library_versions(),
            "settings": {
                **{k: v for k, v in model._settings().items() if k != "progressbar"},
                # BG/CNBD-k's and MBG/CNBD-k's given k (the fitted k is in the posterior)
                **({"k": model.k} if getattr(model, "k", None) is not None else {}),
            },
            **description,
            **(extra or {}),
            "files": files,
        }
        metadata = _json_safe(metadata)
        metadata["checksum"] = _checksum(metadata)
        (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        _swap_into_place(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and verify ``model.json`` of a model directory.

    Checks, in order: the folder and ``model.json`` exist; the file is a JSON object of this
    format and format version; every key :func:`load_model` and ``clv show`` use is there
    with the right type (:data:`METADATA_KEYS`); the checksum; every file it names is a
    plain name inside the folder (no absolute path, no ``..``, no symlink out) with the
    recorded SHA-256. A folder saved by clvmodels 0.1 keeps the calibration end under
    ``observation_end``: it is returned under ``calibration_end``.

    Raises
    ------
    ModelFileError
        Naming the folder, the file or the key.
    """
    directory = Path(path)
    meta_path = directory / METADATA_FILE
    if directory.exists() and not directory.is_dir():
        raise ModelFileError(f"{directory} is not a model directory: it is a file")
    if not directory.is_dir():
        raise ModelFileError(f"{directory} is not a model directory (it does not exist)")
    if not meta_path.is_file():
        raise ModelFileError(f"{directory} is not a model directory: it has no {METADATA_FILE}")
    _model_file(directory, METADATA_FILE, "the metadata file")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{meta_path} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise ModelFileError(
            f"{meta_path} is not a clvmodels model file (nested too deeply)"
        ) from None
    if not isinstance(metadata, dict):
        raise ModelFileError(
            f"{meta_path} is not a clvmodels model file: it holds {_json_kind(metadata)}, "
            "not a JSON object"
        )
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{meta_path} is not a clvmodels model file")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{directory} was saved in model format {version}; this clvmodels "
            f"({__version__}) reads format {FORMAT_VERSION}. Refit the model with `clv fit`"
        )
    _check_keys(metadata, meta_path)
    stored = metadata.pop("checksum", None)
    if stored != _checksum(metadata):
        raise ModelFileError(f"{meta_path} fails its integrity check: it was changed after saving")
    for file_name, digest in metadata["files"].items():
        file_path = _model_file(directory, file_name, "key 'files'")
        if not file_path.is_file():
            raise ModelFileError(f"{directory} is incomplete: {file_name} is missing")
        if _sha256(file_path) != digest:
            raise ModelFileError(
                f"{file_path} fails its integrity check (SHA-256 differs from {METADATA_FILE})"
            )
    if OLD_CALIBRATION_END_KEY in metadata and "calibration_end" not in metadata:
        metadata["calibration_end"] = metadata.pop(OLD_CALIBRATION_END_KEY)  # clvmodels 0.1
    return metadata


#: Where models saved by clvmodels 0.1 keep ``calibration_end`` (the last day of the orders
#: fitted); still read, never written.
OLD_CALIBRATION_END_KEY = "observation_end"
#: The data facts of ``model.json`` that become the loaded model's ``data_info_``.
DATA_INFO_KEYS = ("calibration_end", "first_order", "n_customers", "n_repeat_customers")

#: The keys of ``model.json`` that are read, with their JSON types (None: may be null).
METADATA_KEYS: dict[str, tuple[type | None, ...]] = {
    "format": (str,),
    "format_version": (int,),
    "checksum": (str,),
    "clvmodels_version": (str,),
    "library_versions": (dict,),
    "settings": (dict,),
    "time_unit": (str,),
    "transaction_model": (dict,),
    "spend_model": (dict, None),  # null: fitted without revenue
    "files": (dict,),
}
#: Keys that may be absent, with their types.
OPTIONAL_METADATA_KEYS: dict[str, tuple[type | None, ...]] = {
    "calibration_end": (str, None),
    OLD_CALIBRATION_END_KEY: (str, None),
    "first_order": (str, None),
    "n_customers": (int, None),
    "n_repeat_customers": (int, None),
    "input": (dict,),
    "model_comparison": (dict,),  # clv fit --model auto (clvmodels.selection)
}
#: The keys of a constant spend part (``"spend_model": {"name": "constant", ...}``).
CONSTANT_SPEND_KEYS: dict[str, tuple[type | None, ...]] = {
    "name": (str,),
    "value": (float, int),
    "value_per_order": (float, int),
    "fit_report": (dict,),
}
#: The keys of each part (``transaction_model``, ``spend_model``).
PART_KEYS: dict[str, tuple[type | None, ...]] = {
    "name": (str,),
    "method": (str,),
    "priors": (str,),
    "posterior_file": (str,),
    "summary": (dict,),
}
#: Keys of a part that may be absent (models saved before they were recorded).
OPTIONAL_PART_KEYS: dict[str, tuple[type | None, ...]] = {"log_likelihood": (float, int, None)}
SUMMARY_KEYS = ("mean", "sd", "low_94", "high_94")


def _check_keys(metadata: dict[str, Any], meta_path: Path) -> None:
    """Every key that is read is there with its type, else a ModelFileError naming it."""

    def check(value: Any, key: str, types: tuple[type | None, ...]) -> None:
        allowed = tuple(t for t in types if t is not None)
        ok = (value is None and None in types) or (
            isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        )
        if not ok:
            shown = [t for t in types if not (t is int and float in types)]  # a number
            wanted = " or ".join(_JSON_NAMES[t] if t is not None else "null" for t in shown)
            raise ModelFileError(
                f"{meta_path}: key '{key}' must be {wanted}; it is {_json_kind(value)}"
            )

    def require(
        table: dict[str, Any], prefix: str, keys: dict[str, tuple[type | None, ...]]
    ) -> None:
        for key, types in keys.items():
            if key not in table:
                raise ModelFileError(f"{meta_path}: key '{prefix}{key}' is missing")
            check(table[key], prefix + key, types)

    require(metadata, "", METADATA_KEYS)
    for key, types in OPTIONAL_METADATA_KEYS.items():
        if key in metadata:
            check(metadata[key], key, types)
    if metadata["time_unit"] not in ("D", "W", "M"):
        raise ModelFileError(f"{meta_path}: key 'time_unit' must be D, W or M")
    for name, digest in metadata["files"].items():
        check(digest, f"files.{name}", (str,))
    for part in ("transaction_model", "spend_model"):
        if metadata[part] is None:
            continue  # a model fitted without revenue has no spend part
        if part == "spend_model" and metadata[part].get("name") == ConstantSpendModel.name:
            require(metadata[part], f"{part}.", CONSTANT_SPEND_KEYS)
            continue  # no posterior file: the value is here
        require(metadata[part], f"{part}.", PART_KEYS)
        for key, types in OPTIONAL_PART_KEYS.items():
            if key in metadata[part]:
                check(metadata[part][key], f"{part}.{key}", types)
        report = metadata[part].get("fit_report", {})
        check(report, f"{part}.fit_report", (dict,))
        if "n_customers" in report:
            check(report["n_customers"], f"{part}.fit_report.n_customers", (int,))
        if metadata[part]["posterior_file"] not in metadata["files"]:
            raise ModelFileError(
                f"{meta_path}: key '{part}.posterior_file' names "
                f"{metadata[part]['posterior_file']!r}, which 'files' does not list"
            )
        for param, row in metadata[part]["summary"].items():
            check(row, f"{part}.summary.{param}", (dict,))
            require(row, f"{part}.summary.{param}.", dict.fromkeys(SUMMARY_KEYS, (float, int)))


_JSON_NAMES: dict[type, str] = {
    dict: "an object",
    list: "an array",
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    for kind in (bool, dict, list, str, int, float):
        if isinstance(value, kind):
            return _JSON_NAMES[kind]
    return type(value).__name__


def _model_file(directory: Path, name: str, key: str) -> Path:
    """``directory / name`` if ``name`` stays inside the model folder, else a ModelFileError."""
    problem = inside_folder_problem(name, directory)
    if problem is not None:
        raise ModelFileError(
            f"{directory / METADATA_FILE}: {key} names {problem}; a model's files are read "
            "only from inside its folder"
        )
    return directory / name


def load_model(path: str | os.PathLike[str]) -> CLVModel:
    """Load a model saved by :func:`save_model`, checking format, version and checksums."""
    directory = Path(path)
    metadata = read_metadata(directory)
    settings = dict(metadata["settings"])
    name = metadata["transaction_model"]["name"]
    if name not in MODELS:
        raise ModelFileError(f"{directory} holds an unknown transaction model {name!r}")
    known = set(inspect.signature(CLVModel).parameters) - {"time_unit", "transaction_model"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ModelFileError(
            f"{directory / METADATA_FILE}: key 'settings' has unknown settings {', '.join(unknown)}"
        )
    subs: dict[str, Any] = {"spend_model": None}
    classes = (("transaction_model", MODELS[name].model_class), ("spend_model", GammaGammaModel))
    for key, cls in classes:
        if key == "spend_model" and metadata.get(key) is None:
            continue  # fitted without revenue
        if key == "spend_model" and metadata[key]["name"] == ConstantSpendModel.name:
            try:
                subs[key] = ConstantSpendModel.from_description(metadata[key])
            except ValueError as exc:
                raise ModelFileError(f"{directory / METADATA_FILE}: key '{key}': {exc}") from None
            continue
        file_path = _model_file(directory, metadata[key]["posterior_file"], f"key '{key}'")
        try:
            with xr.open_dataset(file_path, engine="h5netcdf") as handle:
                posterior = handle.load()
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{file_path} is not a readable posterior: {exc}") from None
        try:
            extra = {}
            if key == "transaction_model" and metadata.get("encoding") is not None:
                extra["encoding"] = metadata["encoding"]
            subs[key] = cls.from_posterior(
                posterior,
                metadata[key].get("fit_report", {}),
                method=metadata[key]["method"],
                priors=metadata[key]["priors"],
                **extra,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{file_path}: {exc}") from None
        if metadata[key].get("log_likelihood") is not None:
            subs[key].log_likelihood_ = float(metadata[key]["log_likelihood"])
    data_info = {key: metadata.get(key) for key in DATA_INFO_KEYS}
    data_info["revenue"] = metadata.get(
        "revenue", "none" if subs["spend_model"] is None else "revenue"
    )
    return CLVModel.from_posteriors(
        subs["transaction_model"],
        subs["spend_model"],
        time_unit=metadata["time_unit"],
        data_info=data_info,
        **settings,
    )


def _swap_into_place(staging: Path, target: Path) -> None:
    problem = model_target_problem(target)
    if problem is not None:
        raise ModelFileError(f"{target} {problem}; refusing to replace it")
    backup = None
    if target.exists():
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
    os.replace(staging, target)
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum(metadata: dict[str, Any]) -> str:
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _json_safe(value: Any) -> Any:
    """Plain JSON: NaN and infinities become null, numpy scalars become numbers."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
