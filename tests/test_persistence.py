"""Saved models: netCDF + JSON, identical scores after loading, integrity checks."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clvmodels.errors import ModelFileError
from clvmodels.model import CLVModel
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.persistence import load_model, read_metadata, save_model


def fixed_model(seed: int = 0, n_draws: int = 40) -> CLVModel:
    return CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(
            fixed_posterior(BGNBD_PUBLISHED, n_draws=n_draws, seed=seed),
            {"method": "mcmc"},
            method="mcmc",
        ),
        GammaGammaModel.from_posterior(
            fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=n_draws, seed=seed + 1),
            {"method": "mcmc"},
            method="mcmc",
        ),
        time_unit="W",
        method="mcmc",
        data_info={
            "calibration_end": "1997-09-30",
            "first_order": "1997-01-01",
            "n_customers": 10,
            "n_repeat_customers": 5,
        },
    )


def test_fitted_model_round_trip_scores_identically(cdnow_flat_model, cdnow_rfm, tmp_path):
    save_model(cdnow_flat_model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.transaction_model_.params_ == cdnow_flat_model.transaction_model_.params_
    assert loaded.data_info_["calibration_end"] == "1997-09-30"
    pd.testing.assert_frame_equal(loaded.score(cdnow_rfm), cdnow_flat_model.score(cdnow_rfm))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000))
def test_saved_and_loaded_posterior_scores_identically(seed, cdnow_rfm, tmp_path_factory):
    model = fixed_model(seed)
    path = tmp_path_factory.mktemp("m") / "model"
    save_model(model, path)
    loaded = load_model(path)
    sample = cdnow_rfm.sample(200, random_state=seed)
    pd.testing.assert_frame_equal(
        loaded.score(sample, n_draws=None), model.score(sample, n_draws=None)
    )


def test_metadata_has_versions_and_files(tmp_path):
    save_model(fixed_model(), tmp_path / "m", extra={"input": {"fingerprint": "abc"}})
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["format_version"] == 1
    assert meta["library_versions"]["pymc-marketing"] == "1.3.0"
    assert set(meta["files"]) == {"transaction_posterior.nc", "spend_posterior.nc"}
    assert meta["input"]["fingerprint"] == "abc"
    assert not list(tmp_path.glob(".m.*")), "no staging folders left behind"


def test_tampered_posterior_is_detected(tmp_path):
    save_model(fixed_model(), tmp_path / "m")
    with open(tmp_path / "m" / "spend_posterior.nc", "r+b") as handle:
        handle.seek(-20, 2)
        handle.write(b"\x00" * 8)
    with pytest.raises(ModelFileError, match="integrity"):
        load_model(tmp_path / "m")


def test_edited_metadata_is_detected(tmp_path):
    save_model(fixed_model(), tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["transaction_model"]["params"]["r"] = 99.0
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="integrity"):
        load_model(tmp_path / "m")


def test_other_format_version_is_refused(tmp_path):
    save_model(fixed_model(), tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 99
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="format 99"):
        load_model(tmp_path / "m")


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelFileError, match="not a model directory"):
        load_model(tmp_path)


def test_resaving_replaces_the_old_model(tmp_path):
    save_model(fixed_model(seed=1), tmp_path / "m")
    save_model(fixed_model(seed=2, n_draws=10), tmp_path / "m")
    assert load_model(tmp_path / "m").transaction_model_.n_draws_ == 10


def test_a_folder_saved_by_clvmodels_0_1_still_loads(tmp_path):
    """clvmodels 0.1 kept the calibration end under ``observation_end`` in model.json."""
    save_model(fixed_model(), tmp_path / "m")
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["observation_end"] = meta.pop("calibration_end")
    del meta["checksum"]
    canonical = json.dumps(meta, sort_keys=True, separators=(",", ":"))
    meta["checksum"] = hashlib.sha256(canonical.encode()).hexdigest()
    meta_path.write_text(json.dumps(meta, indent=2))
    assert read_metadata(tmp_path / "m")["calibration_end"] == "1997-09-30"
    loaded = load_model(tmp_path / "m")
    assert loaded.data_info_["calibration_end"] == "1997-09-30"
    assert "observation_end" not in loaded.data_info_
    assert loaded.describe()["calibration_end"] == "1997-09-30"
