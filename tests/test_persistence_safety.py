"""Model folders: files only from inside the folder, and model.json problems as messages."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_persistence import fixed_model

from clvmodels.cli import cli
from clvmodels.errors import ModelFileError
from clvmodels.persistence import load_model, read_metadata, save_model


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return save_model(fixed_model(), tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture
def model(saved, tmp_path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    return copy


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rewrite(folder: Path, change) -> Path:
    """Edit model.json with ``change(meta)`` and seal it again, as a forger would.

    The checksum is the format's definition (SHA-256 of the sorted, compact JSON without the
    ``checksum`` key), written here independently of the code under test.
    """
    path = folder / "model.json"
    meta = json.loads(path.read_text())
    meta.pop("checksum")
    change(meta)
    canonical = json.dumps(meta, sort_keys=True, separators=(",", ":"))
    meta["checksum"] = hashlib.sha256(canonical.encode()).hexdigest()
    path.write_text(json.dumps(meta))
    return path


def point_posterior_at(folder: Path, name: str, digest: str) -> None:
    def change(meta):
        old = meta["transaction_model"]["posterior_file"]
        meta["files"].pop(old)
        meta["files"][name] = digest
        meta["transaction_model"]["posterior_file"] = name

    rewrite(folder, change)


def test_a_sealed_copy_still_loads(model):
    rewrite(model, lambda meta: None)
    assert load_model(model).time_unit == "W"


def test_absolute_posterior_path_is_refused(model, tmp_path):
    outside = tmp_path / "elsewhere.nc"
    shutil.copy(model / "transaction_posterior.nc", outside)
    point_posterior_at(model, str(outside), sha256(outside))
    with pytest.raises(ModelFileError) as info:
        load_model(model)
    assert str(info.value) == (
        f"{model / 'model.json'}: key 'files' names {str(outside)!r} is an absolute path; "
        "a model's files are read only from inside its folder"
    )


def test_dot_dot_posterior_path_is_refused(model, tmp_path):
    shutil.copy(model / "transaction_posterior.nc", tmp_path / "up.nc")
    point_posterior_at(model, "../up.nc", sha256(tmp_path / "up.nc"))
    with pytest.raises(ModelFileError, match=r"'\.\./up\.nc' leads out of the model folder"):
        read_metadata(model)


@pytest.mark.parametrize("name", ["link.nc", "sub/t.nc"])
def test_symlink_out_of_the_folder_is_refused(model, tmp_path, name):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(model / "transaction_posterior.nc", outside / "t.nc")
    os.symlink(outside / "t.nc", model / "link.nc")
    os.symlink(outside, model / "sub")
    point_posterior_at(model, name, sha256(outside / "t.nc"))
    with pytest.raises(ModelFileError) as info:
        load_model(model)
    assert f"names {name!r} leads out of the model folder (a symlink)" in str(info.value)


def test_a_symlink_inside_the_folder_is_fine(model):
    os.symlink("transaction_posterior.nc", model / "alias.nc")
    point_posterior_at(model, "alias.nc", sha256(model / "transaction_posterior.nc"))
    assert load_model(model).transaction_model_.n_draws_ == 40


def test_posterior_file_must_be_listed_with_its_checksum(model):
    path = rewrite(model, lambda meta: meta["files"].pop("transaction_posterior.nc"))
    with pytest.raises(ModelFileError) as info:
        load_model(model)
    assert str(info.value) == (
        f"{path}: key 'transaction_model.posterior_file' names 'transaction_posterior.nc', "
        "which 'files' does not list"
    )


@pytest.mark.parametrize(
    ("content", "kind"),
    [("[1, 2]", "an array"), ('"model"', "text"), ("3", "a whole number"), ("null", "null")],
)
def test_model_json_that_is_not_an_object(model, content, kind):
    (model / "model.json").write_text(content)
    with pytest.raises(ModelFileError) as info:
        read_metadata(model)
    assert str(info.value) == (
        f"{model / 'model.json'} is not a clvmodels model file: it holds {kind}, not a JSON object"
    )


def test_deeply_nested_model_json(model):
    (model / "model.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        read_metadata(model)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("time_unit"), "key 'time_unit' is missing"),
        (lambda m: m.pop("settings"), "key 'settings' is missing"),
        (
            lambda m: m["spend_model"].pop("posterior_file"),
            "key 'spend_model.posterior_file' is missing",
        ),
        (
            lambda m: m["transaction_model"]["summary"]["r"].pop("low_94"),
            "key 'transaction_model.summary.r.low_94' is missing",
        ),
        (
            lambda m: m.update(settings="fast"),
            "key 'settings' must be an object; it is text",
        ),
        (
            lambda m: m.update(transaction_model=[1]),
            "key 'transaction_model' must be an object; it is an array",
        ),
        (
            lambda m: m["spend_model"].update(method=None),
            "key 'spend_model.method' must be text; it is null",
        ),
        (
            lambda m: m["spend_model"]["summary"]["p"].update(sd="wide"),
            "key 'spend_model.summary.p.sd' must be a number; it is text",
        ),
        (
            lambda m: m["transaction_model"]["summary"]["a"].update(mean=None),
            "key 'transaction_model.summary.a.mean' must be a number; it is null",
        ),
        (
            lambda m: m["spend_model"]["fit_report"].update(n_customers="ten"),
            "key 'spend_model.fit_report.n_customers' must be a whole number; it is text",
        ),
        (
            lambda m: m.update(n_customers=True),
            "key 'n_customers' must be a whole number or null; it is true or false",
        ),
        (lambda m: m.update(time_unit="Y"), "key 'time_unit' must be D, W or M"),
        (
            lambda m: m["files"].update({"transaction_posterior.nc": 7}),
            "key 'files.transaction_posterior.nc' must be text; it is a whole number",
        ),
    ],
)
def test_missing_or_mistyped_keys_are_named(model, change, message):
    path = rewrite(model, change)
    with pytest.raises(ModelFileError) as info:
        load_model(model)
    assert str(info.value) == f"{path}: {message}"


def test_unknown_settings_are_named(model):
    path = rewrite(model, lambda m: m["settings"].update(turbo=True))
    with pytest.raises(ModelFileError) as info:
        load_model(model)
    assert str(info.value) == f"{path}: key 'settings' has unknown settings turbo"


def test_checksum_and_version_checks_stay(model):
    path = model / "model.json"
    meta = json.loads(path.read_text())
    meta["time_unit"] = "D"
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="fails its integrity check"):
        read_metadata(model)
    rewrite(model, lambda m: m.update(format_version=2))
    with pytest.raises(ModelFileError, match="saved in model format 2"):
        read_metadata(model)


def test_a_posterior_that_is_not_netcdf(model):
    bad = model / "transaction_posterior.nc"
    bad.write_text("not netcdf")
    rewrite(model, lambda m: m["files"].update({"transaction_posterior.nc": sha256(bad)}))
    with pytest.raises(ModelFileError, match="is not a readable posterior"):
        load_model(model)


def test_save_refuses_a_file_or_a_foreign_folder(tmp_path):
    target = tmp_path / "orders.csv"
    target.write_text("keep me")
    with pytest.raises(ModelFileError, match="is a file, not a model folder; refusing"):
        save_model(fixed_model(), target)
    assert target.read_text() == "keep me"
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "orders.csv").write_text("keep me")
    with pytest.raises(ModelFileError, match="is not a model folder"):
        save_model(fixed_model(), folder)
    assert (folder / "orders.csv").read_text() == "keep me"


@pytest.mark.parametrize("command", ["show", "score"])
def test_cli_reports_a_broken_model_json_in_one_line(model, tmp_path, command):
    (model / "model.json").write_text("[]")
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,timestamp,revenue\n1,2024-01-01,5\n")
    args = [command, str(model)]
    if command == "score":
        args += [str(orders), "-o", str(tmp_path / "scores.csv")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: {model / 'model.json'} is not a clvmodels model file: it holds an array, "
        "not a JSON object\n"
    )
    rewrite_ok = json.dumps({"format": "clvmodels-model", "format_version": 1})
    (model / "model.json").write_text(rewrite_ok)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert result.output == f"Error: {model / 'model.json'}: key 'checksum' is missing\n"
