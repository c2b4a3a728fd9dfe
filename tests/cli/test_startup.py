"""Start-up of the `clv` command: which modules each command imports, and the lazy command list.

`clv --help` and `clv --version` must import none of the modelling stack, and each command
only what it uses (issue 10, point 6). Each check runs a fresh interpreter with
``-X importtime``, which names every module the process imports, on standard error.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from clvmodels.cli import COMMANDS, cli, load_command

ROOT = Path(__file__).resolve().parents[2]
#: What a command that neither reads orders nor models needs none of.
HEAVY = (
    "pandas",
    "numpy",
    "scipy",
    "duckdb",
    "pyarrow",
    "matplotlib",
    "xarray",
    "arviz",
    "pymc",
    "pytensor",
    "numba",
    "pymc_marketing",
    "pyspark",
)
#: What an RFM summary (DuckDB, pandas) needs none of.
MODELLING = ("pymc", "pytensor", "pymc_marketing", "matplotlib", "xarray", "arviz", "numba")


def imported_modules(*args: str, cwd: Path | None = None) -> set[str]:
    """Top-level packages a fresh ``python -m clvmodels ARGS`` imports (exit code 0 asserted)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "clvmodels", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.add(name.split(".")[0])
    assert "clvmodels" in names and "click" in names  # the parse found the imports
    return names


@pytest.mark.parametrize("args", [("--help",), ("--version",), ("-h",)])
def test_help_and_version_import_no_modelling_stack(args: tuple[str, ...]) -> None:
    loaded = imported_modules(*args)
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_import_clvmodels_is_cheap_and_names_load_on_use() -> None:
    code = (
        f"import sys, clvmodels; heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
        "assert not heavy, heavy; from clvmodels import CLVModel, rfm_summary; "
        "assert 'pandas' in sys.modules; print(CLVModel.__module__, rfm_summary.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["clvmodels.model", "clvmodels.summaries.rfm"]


def test_every_public_name_loads() -> None:
    import clvmodels

    for name in clvmodels.__all__:
        assert getattr(clvmodels, name) is not None, name
    assert set(clvmodels.__all__) <= set(dir(clvmodels))
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        clvmodels.nonexistent  # noqa: B018


def test_rfm_imports_no_modelling_stack(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer_id,timestamp,revenue\n1,2024-01-01,10\n1,2024-02-01,5\n2,2024-01-15,7\n"
    )
    for args in (("rfm", "--help"), ("rfm", str(orders), "-o", str(tmp_path / "rfm.parquet"))):
        loaded = imported_modules(*args)
        assert {"duckdb", "pandas"} <= loaded or args[1] == "--help"
        assert not loaded & set(MODELLING), (args, sorted(loaded & set(MODELLING)))
    assert (tmp_path / "rfm.parquet").exists()


def test_cohorts_imports_no_pymc(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer_id,timestamp,revenue\n1,2024-01-01,10\n1,2024-02-01,5\n2,2024-01-15,7\n"
    )
    loaded = imported_modules("cohorts", str(orders), "-o", str(tmp_path / "c.csv"), "--no-plots")
    assert not loaded & {"pymc", "pytensor", "pymc_marketing", "numba"}, sorted(loaded)


def test_lazy_short_help_is_each_commands_first_docstring_line() -> None:
    for name, (target, short_help) in COMMANDS.items():
        command = load_command(name)
        assert command.name == name, target
        assert command.help is not None
        assert command.help.splitlines()[0] == short_help, name


def test_lazy_help_lists_what_an_eager_group_would() -> None:
    from click.testing import CliRunner

    eager = click.Group(
        "clv",
        commands={name: load_command(name) for name in COMMANDS},
        help=cli.help,
        params=list(cli.params),
        context_settings=cli.context_settings,
    )
    fresh = type(cli)(
        "clv", help=cli.help, params=list(cli.params), context_settings=cli.context_settings
    )
    lazy_help, eager_help = (
        CliRunner().invoke(group, ["--help"], prog_name="clv").output for group in (fresh, eager)
    )
    assert lazy_help == eager_help
    assert re.search(r"^  rfm +Summarise orders into recency, frequency", lazy_help, re.M)
    assert "-h, --help" in lazy_help


# ------------------------------------------------- fits without pymc-marketing's package __init__
def test_default_priors_are_pymc_marketings() -> None:
    """The adapter's copy of the default priors equals pymc-marketing's default_model_config."""
    from pymc_marketing.clv import (
        BetaGeoModel,
        GammaGammaModel,
        ModifiedBetaGeoModel,
        ParetoNBDModel,
    )

    from clvmodels.models._pymc.priors import DEFAULT_PRIORS

    classes = {
        "bgnbd": BetaGeoModel,
        "mbgnbd": ModifiedBetaGeoModel,
        "pareto": ParetoNBDModel,
        "gamma_gamma": GammaGammaModel,
    }
    assert set(DEFAULT_PRIORS) == set(classes)
    for kind, model_class in classes.items():
        config = model_class().default_model_config
        for name, (distribution, parameters) in DEFAULT_PRIORS[kind].items():
            assert config[name].to_dict() == {"dist": distribution, "kwargs": parameters}, (
                kind,
                name,
            )


def test_default_prior_has_the_log_density_of_pymc_marketings_prior() -> None:
    import numpy as np
    import pymc as pm
    from pymc_marketing.clv import ParetoNBDModel

    from clvmodels.models._pymc.priors import default_prior

    config = ParetoNBDModel().default_model_config
    logps = []
    for make in (
        lambda: default_prior("pareto", "beta"),
        lambda: config["beta"].create_variable("beta"),
    ):
        with pm.Model() as model:
            make()
        logps.append(model.compile_logp()({"beta_log__": np.log(7.0)}))
    assert logps[0] == pytest.approx(logps[1], rel=1e-12)


def test_a_map_fit_loads_no_pymc_marketing_package_init(tmp_path: Path) -> None:
    """A fresh process fits MBG/NBD and Gamma-Gamma without pymc-marketing's MMM or pymc-extras.

    Then a full import of pymc-marketing reuses the distributions module the fit loaded.
    """
    code = """
import sys, warnings
warnings.simplefilter("ignore")
from clvmodels.examples.simulate import simulate_orders
from clvmodels.model import CLVModel
from clvmodels.summaries.rfm import rfm_summary
rfm = rfm_summary(simulate_orders(200, seed=3)[0], time_unit="W")
CLVModel(time_unit="W", transaction_model="mbgnbd", method="map").fit(rfm)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pymc_marketing", "pymc_extras"))
print(loaded)
module = sys.modules["pymc_marketing.clv.distributions"]
import pymc_marketing.clv
from pymc_marketing.clv.models.modified_beta_geo import ModifiedBetaGeoNBD
assert ModifiedBetaGeoNBD is module.ModifiedBetaGeoNBD
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['pymc_marketing.clv.distributions']"


@pytest.mark.parametrize("kind", ["mbgnbd", "gamma_gamma"])
def test_find_map_finds_pymc_find_maps_mode(kind: str) -> None:
    """The adapter's one-compile optimiser against pymc.find_MAP itself, on the same graph."""
    import numpy as np
    import pymc as pm

    from clvmodels.examples.simulate import simulate_orders
    from clvmodels.models._pymc import graphs, optimize, priors
    from clvmodels.models.inputs import collapse_rfm
    from clvmodels.summaries.rfm import rfm_summary

    rfm = rfm_summary(simulate_orders(400, seed=5)[0], time_unit="W")
    if kind == "gamma_gamma":
        repeat = rfm[rfm["frequency"] > 0]
        model = graphs.gamma_gamma_graph(
            repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy(), "default"
        )
        names = priors.GAMMA_GAMMA_PARAMS
    else:
        t = collapse_rfm(rfm).tuples
        model = graphs.transaction_graph(
            kind,
            *(t[c].to_numpy() for c in ("frequency", "recency", "T", "n_customers")),
            "default",
        )
        names = priors.TRANSACTION_PARAMS[kind]
    ours, raw = optimize.find_map(model, seed=0)
    theirs, their_raw = pm.find_MAP(model=model, return_raw=True, progressbar=False, seed=0)
    assert raw.success and their_raw.success
    for name in names:
        assert float(ours[name]) == pytest.approx(float(np.asarray(theirs[name])), rel=1e-6), name
    assert -raw.fun == pytest.approx(-their_raw.fun, rel=1e-9)


def test_warm_up_fits_and_scores_each_model_it_is_given() -> None:
    from clvmodels.jobs.warmup import FITS, warm_up

    lines: list[str] = []
    seconds = warm_up(150, fits=(("mbgnbd", "map"),), echo=lines.append)
    assert list(seconds) == ["mbgnbd/map"] and seconds["mbgnbd/map"] > 0
    assert len(lines) == 1 and "mbgnbd" in lines[0]
    kinds = {kind for kind, _ in FITS}
    assert kinds == {"bgnbd", "pareto", "mbgnbd", "bgcnbd", "mbgcnbd"}
    assert {method for _, method in FITS} == {"map", "laplace"}
