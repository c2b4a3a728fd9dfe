"""The versions of the modelling stack, recorded with every saved model."""

from __future__ import annotations

from importlib import metadata


def library_versions() -> dict[str, str]:
    """Versions of the modelling stack, recorded with every saved model."""
    versions = {}
    for name in ("pymc-marketing", "pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
