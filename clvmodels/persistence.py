"""Saving and loading fitted models: netCDF posteriors and JSON metadata, never pickle.

A model directory holds::

    model.json                  format name and version, library versions, time unit, data
                                period, input fingerprint, parameters, fit reports, and the
                                SHA-256 of every other file and of itself (minus that field)
    transaction_posterior.nc    BG/NBD draws, dims (chain, draw)
    spend_posterior.nc          Gamma-Gamma draws, dims (chain, draw); absent for a model
                                fitted without revenue (``"spend_model": null`` in model.json)

The directory is written beside its target and renamed into place, so a failed save leaves
the previous model untouched.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import xarray as xr

from clvmodels import pymc_adapter
from clvmodels._version import __version__
from clvmodels.errors import ModelFileError
from clvmodels.gamma_gamma import GammaGammaModel
from clvmodels.model import TRANSACTION_MODELS, CLVModel

FORMAT = "clvmodels-model"
FORMAT_VERSION = 1
METADATA_FILE = "model.json"
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
            file_name = POSTERIOR_FILES[key]
            sub.posterior_.to_netcdf(staging / file_name, engine="h5netcdf")
            files[file_name] = _sha256(staging / file_name)
            description[key]["posterior_file"] = file_name
        metadata = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "clvmodels_version": __version__,
            "library_versions": pymc_adapter.library_versions(),
            "settings": {k: v for k, v in model._settings().items() if k != "progressbar"},
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
    """Read and verify ``model.json`` of a model directory."""
    directory = Path(path)
    meta_path = directory / METADATA_FILE
    if not directory.is_dir():
        raise ModelFileError(f"{directory} is not a model directory (it does not exist)")
    if not meta_path.exists():
        raise ModelFileError(f"{directory} is not a model directory: it has no {METADATA_FILE}")
    try:
        metadata = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{meta_path} is not valid JSON: {exc}") from exc
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{meta_path} is not a clvmodels model file")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{directory} was saved in model format {version}; this clvmodels "
            f"({__version__}) reads format {FORMAT_VERSION}. Refit the model with `clv fit`"
        )
    stored = metadata.pop("checksum", None)
    if stored != _checksum(metadata):
        raise ModelFileError(f"{meta_path} fails its integrity check: it was changed after saving")
    for file_name, digest in metadata.get("files", {}).items():
        file_path = directory / file_name
        if not file_path.exists():
            raise ModelFileError(f"{directory} is incomplete: {file_name} is missing")
        if _sha256(file_path) != digest:
            raise ModelFileError(
                f"{file_path} fails its integrity check (SHA-256 differs from {METADATA_FILE})"
            )
    return metadata


def load_model(path: str | os.PathLike[str]) -> CLVModel:
    """Load a model saved by :func:`save_model`, checking format, version and checksums."""
    directory = Path(path)
    metadata = read_metadata(directory)
    settings = dict(metadata.get("settings", {}))
    name = metadata["transaction_model"]["name"]
    if name not in TRANSACTION_MODELS:
        raise ModelFileError(f"{directory} holds an unknown transaction model {name!r}")
    model = CLVModel(time_unit=metadata["time_unit"], transaction_model=name, **settings)
    subs: dict[str, Any] = {"spend_model": None}
    classes = (("transaction_model", TRANSACTION_MODELS[name]), ("spend_model", GammaGammaModel))
    for key, cls in classes:
        if key == "spend_model" and metadata.get(key) is None:
            continue  # fitted without revenue
        file_name = metadata[key]["posterior_file"]
        with xr.open_dataset(directory / file_name, engine="h5netcdf") as handle:
            posterior = handle.load()
        subs[key] = cls.from_posterior(
            posterior,
            metadata[key].get("fit_report", {}),
            method=metadata[key]["method"],
            priors=metadata[key]["priors"],
        )
    model.transaction_model_ = subs["transaction_model"]
    model.spend_model_ = subs["spend_model"]
    model.data_info_ = {
        key: metadata.get(key)
        for key in ("observation_end", "first_order", "n_customers", "n_repeat_customers")
    }
    model.data_info_["revenue"] = metadata.get(
        "revenue", "none" if subs["spend_model"] is None else "revenue"
    )
    return model


def _swap_into_place(staging: Path, target: Path) -> None:
    if target.exists() and not (target / METADATA_FILE).exists() and any(target.iterdir()):
        raise ModelFileError(
            f"{target} exists and is not a model directory; refusing to replace it"
        )
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
