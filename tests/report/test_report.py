"""The HTML report: every section, embedded images, missing and bad inputs, a real browser."""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import BGNBD_PUBLISHED, GAMMA_GAMMA_PUBLISHED, fixed_posterior
from matplotlib.axes import Axes
from PIL import Image

from clvmodels import CLVModel, rfm_summary, save_model
from clvmodels.cli.backtest import backtest as backtest_command
from clvmodels.cli.report import report as report_command
from clvmodels.data.io import fingerprint
from clvmodels.examples.marketing import simulate_marketing
from clvmodels.models.bgnbd import BetaGeoModel
from clvmodels.models.gamma_gamma import GammaGammaModel
from clvmodels.persistence import read_metadata
from clvmodels.plots.matrices import plot_frequency_recency_matrix, plot_probability_alive_matrix
from clvmodels.report.backtest import read_backtest
from clvmodels.report.build import SECTION_IDS, build_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BROWSER_TIMEOUT_SECONDS = 120


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
class _Page(HTMLParser):
    """Collects the sections (id -> their text and images) and every <img> src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: dict[str, dict[str, list[str]]] = {}
        self.images: list[str] = []
        self.body_attrs: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body_attrs = values
        if tag == "section":
            self._current = values.get("id", "")
            self.sections[self._current] = {"text": [], "images": []}
        if tag == "img":
            self.images.append(values.get("src", ""))
            if self._current is not None:
                self.sections[self._current]["images"].append(values.get("src", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self.sections[self._current]["text"].append(data)

    def text(self, section: str) -> str:
        return " ".join(" ".join(self.sections[section]["text"]).split())


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    return parser


def decode_png(src: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix), src[:40]
    data = base64.b64decode(src[len(prefix) :], validate=True)
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()  # decodes every pixel; raises on a truncated or corrupt file
    assert image.format == "PNG" and image.width > 100 and image.height > 100
    return image


def run_report(*args: str):
    return CliRunner().invoke(report_command, list(args), catch_exceptions=True)


# --------------------------------------------------------------------------------------
# inputs: simulated orders, a MAP model, a backtest folder
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report_inputs")
    visits, orders, costs, _ = simulate_marketing(2_000, seed=7)
    visits_csv, costs_csv = folder / "visits.csv", folder / "costs.csv"
    visits.to_csv(visits_csv, index=False)
    costs.to_csv(costs_csv, index=False)
    clean = folder / "orders.csv"
    orders.to_csv(clean, index=False)
    # two exact duplicate rows: a data-quality finding the report must list
    with_duplicates = folder / "orders_dup.csv"
    pd.concat([orders, orders.head(2)]).to_csv(with_duplicates, index=False)

    model = CLVModel(time_unit="W", method="map", seed=0).fit(rfm_summary(orders, time_unit="W"))
    # as `clv fit` records it: the fingerprint of the orders the model was fitted on
    model_dir = save_model(
        model, folder / "model", extra={"input": {"fingerprint": fingerprint(orders)}}
    )

    backtest_dir = folder / "backtest"
    result = CliRunner().invoke(
        backtest_command,
        [
            str(clean),
            "--calibration-end",
            "2025-06-30",
            "--models",
            "bgnbd",
            "-o",
            str(backtest_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    return SimpleNamespace(
        folder=folder,
        orders=orders,
        clean=clean,
        with_duplicates=with_duplicates,
        model=model,
        model_dir=model_dir,
        backtest_dir=backtest_dir,
        visits=visits,
        costs=costs,
        visits_csv=visits_csv,
        costs_csv=costs_csv,
    )


@pytest.fixture(scope="module")
def full_report(inputs):
    out = inputs.folder / "report.html"
    result = run_report(
        "-o",
        str(out),
        "--orders",
        str(inputs.with_duplicates),
        "--model",
        str(inputs.model_dir),
        "--backtest",
        str(inputs.backtest_dir),
        "--visits",
        str(inputs.visits_csv),
        "--costs",
        str(inputs.costs_csv),
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    assert "Warning: 2 order rows are exact duplicates" in result.output
    return out


# --------------------------------------------------------------------------------------
# the report's content
# --------------------------------------------------------------------------------------
def test_full_report_has_every_section_and_decodable_images(full_report):
    page = parse(full_report.read_text(encoding="utf-8"))
    assert list(page.sections) == list(SECTION_IDS)
    assert len(page.images) == 7  # the backtest's 3: tracking, per period, calibration vs holdout
    for src in page.images:
        decode_png(src)
    images = {name: len(section["images"]) for name, section in page.sections.items()}
    assert images == {
        "data": 0,
        "model": 0,
        "matrices": 2,
        "backtest": 3,
        "cohorts": 2,
        "acquisition": 0,
        "segments": 0,
    }


def test_full_report_content(full_report, inputs):
    text = full_report.read_text(encoding="utf-8")
    page = parse(text)
    data = page.text("data")
    n_orders = len(inputs.orders) + 2
    assert f"orders {n_orders:,}" in data
    assert f"customers {inputs.orders['customer_id'].nunique():,}" in data
    assert "2 order rows are exact duplicates" in data
    model = page.text("model")
    assert "BG/NBD" in model and "Gamma-Gamma" in model
    assert model.count("converged: yes") == 2
    for name in ("r", "alpha", "a", "b", "p", "q", "v"):
        assert f"<td>{name}</td>" in text
    assert "94% low" in model and "optimiser" in model
    assert "BG/NBD: purchases" in model and "Gamma-Gamma: spend per purchase" in model
    assert "A MAP fit is a single point" in model
    assert "fitted on these orders no" in model  # the duplicates make the input differ
    assert "expected purchases in the next week" in page.text("matrices")
    backtest = page.text("backtest")
    assert "calibration end 2025-06-30" in backtest and "bgnbd" in backtest
    assert "class='best'" in text  # the best model's totals row is highlighted
    cohorts = page.text("cohorts")
    assert "12 monthly cohorts" in cohorts
    acquisition = page.text("acquisition")
    assert "ROMI and payback by source" in acquisition and "Budget recommendation" in acquisition
    for source in ("display", "email", "search", "social"):
        assert source in acquisition
    assert "predicted ROMI at 12" in acquisition and "max affordable CAC" in acquisition
    segments = page.text("segments")
    for name in ("high_value", "loyal", "lost"):
        assert name in segments
    assert "<script" not in text and "http://" not in text and "https://" not in text


def test_model_fitted_on_the_same_orders(inputs):
    page = parse(
        build_report(
            inputs.orders, model=inputs.model, model_metadata=read_metadata(inputs.model_dir)
        )
    )
    assert "fitted on these orders yes" in page.text("model")
    assert len(page.sections["matrices"]["images"]) == 2
    assert "Pass --backtest DIR" in page.text("backtest")


def _sampled_model(converged: bool) -> CLVModel:
    """A model with fixed draws and the report of a NUTS run, without sampling."""
    report = {
        "method": "mcmc",
        "sampler": "NUTS (pymc)",
        "chains": 1,
        "draws": 40,
        "tune": 100,
        "r_hat": {"r": 1.002, "alpha": 1.05, "a": 1.0, "b": 1.0},
        "ess_bulk": {"r": 350.0, "alpha": 35.0, "a": 400.0, "b": 380.0},
        "ess_tail": {"r": 300.0, "alpha": 30.0, "a": 320.0, "b": 310.0},
        "max_r_hat": 1.05,
        "min_ess_bulk": 35.0,
        "divergences": 3,
        "converged": converged,
    }
    return CLVModel.from_posteriors(
        BetaGeoModel.from_posterior(
            fixed_posterior(BGNBD_PUBLISHED, n_draws=40), report, method="mcmc"
        ),
        GammaGammaModel.from_posterior(
            fixed_posterior(GAMMA_GAMMA_PUBLISHED, n_draws=40, seed=1),
            {"method": "mcmc", "converged": True, "max_r_hat": 1.0, "min_ess_bulk": 500.0},
            method="mcmc",
        ),
        time_unit="W",
        method="mcmc",
        data_info={
            "calibration_end": "2025-12-30",
            "first_order": "2024-01-01",
            "n_customers": 2_000,
            "n_repeat_customers": 1_000,
        },
    )


def test_sampler_diagnostics_and_a_fit_that_did_not_converge(inputs):
    text = build_report(inputs.orders, model=_sampled_model(converged=False))
    page = parse(text)
    model = page.text("model")
    assert "<span class='flag bad'>converged: NO</span>" in text
    assert "<span class='flag ok'>converged: yes</span>" in text  # Gamma-Gamma
    assert "max r-hat 1.050 (want <= 1.01)" in model
    assert "divergences 3 (want 0)" in model
    assert "r-hat bulk ESS tail ESS" in model
    assert "alpha" in model and "35" in model
    assert "A MAP fit is a single point" not in model
    assert len(page.sections["matrices"]["images"]) == 2
    assert "high_value" in page.text("segments")


def test_acquisition_without_a_model_shows_empirical_romi(inputs):
    page = parse(build_report(inputs.orders, visits=inputs.visits, costs=inputs.costs))
    acquisition = page.text("acquisition")
    assert "ROMI and payback by source" in acquisition and "ROMI to date" in acquisition
    assert "predicted ROMI at 12" not in acquisition and "max affordable CAC" not in acquisition
    assert "Pass --model MODEL_DIR" in acquisition and "budget recommendation" in acquisition


def test_acquisition_without_its_modules_says_so(inputs, monkeypatch):
    monkeypatch.setitem(sys.modules, "clvmodels.marketing.budget", None)  # importing it fails
    frame = pd.DataFrame({"source_id": [1]})
    page = parse(build_report(inputs.orders, visits=frame, costs=frame))
    assert "not available" in page.text("acquisition")
    assert "clvmodels.marketing.budget" in page.text("acquisition")
    only_visits = parse(build_report(inputs.orders, visits=frame))
    assert "pass --visits and --costs" in only_visits.text("acquisition")


def test_only_orders_shows_what_to_pass(inputs, tmp_path):
    out = tmp_path / "report.html"
    result = run_report("-o", str(out), "--orders", str(inputs.clean))
    assert result.exit_code == 0, result.output
    page = parse(out.read_text(encoding="utf-8"))
    assert list(page.sections) == list(SECTION_IDS)
    assert "Pass --model MODEL_DIR" in page.text("model")
    assert "parameters" in page.text("model")
    assert "Pass --model MODEL_DIR" in page.text("matrices")
    assert "Pass --backtest DIR" in page.text("backtest")
    assert "not available: pass --visits and --costs (and --model for predictions)" in (
        page.text("acquisition")
    )
    assert "Pass --model MODEL_DIR" in page.text("segments")
    assert "Data-quality findings" in page.text("data")
    assert page.text("data").endswith("none")
    assert len(page.sections["cohorts"]["images"]) == 2
    for src in page.images:
        decode_png(src)
    assert "acquisition not available: pass --visits" in result.output
    assert "cohorts     shown" in result.output


def test_backtest_plots_redrawn_from_csv_when_pngs_are_missing(inputs, tmp_path):
    folder = tmp_path / "bt"
    shutil.copytree(inputs.backtest_dir, folder)
    (folder / "tracking.png").unlink()
    (folder / "conditional.png").write_bytes(b"not a png")
    outputs = read_backtest(folder)
    assert "conditional.png is not a PNG image" in outputs.problems
    page = parse(build_report(inputs.orders, backtest=outputs))
    assert len(page.sections["backtest"]["images"]) == 3  # tracking, per period, conditional
    for src in page.sections["backtest"]["images"]:
        decode_png(src)
    assert "conditional.png is not a PNG image" in page.text("backtest")


def test_text_from_data_is_escaped(inputs):
    page = build_report(
        inputs.orders,
        findings=["<script>alert('x')</script> & more"],
        sources={"orders": "<b>orders</b>.csv"},
    )
    assert "<script>" not in page and "<b>orders" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "&lt;b&gt;orders&lt;/b&gt;.csv" in page


def test_a_section_that_cannot_be_computed_says_why(inputs):
    later = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "timestamp": pd.to_datetime(["2027-01-01", "2027-02-01"]),
            "revenue": [5.0, 6.0],
        }
    )
    page = parse(build_report(later, model=inputs.model))
    # the model's observation end is before these orders: its sections say so, others render
    assert "could not be computed" in page.text("matrices")
    assert "could not be computed" in page.text("segments")
    assert "converged: yes" in page.text("model")
    assert len(page.sections["cohorts"]["images"]) == 2


# --------------------------------------------------------------------------------------
# bad input: one line, exit 2, nothing written
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing orders file", "file not found"),
        ("missing columns", "the orders table has no column 'revenue'"),
        ("not a model directory", "not a model directory"),
        ("not a backtest folder", "holds no backtest outputs"),
        ("missing costs file", "--costs file not found"),
        ("bad visits file", "the visits table has no column"),
        ("bad horizon", "a duration is a positive number"),
    ],
)
def test_bad_input_exit_2_one_line_and_no_report(case, message, inputs, tmp_path):
    bad_orders = tmp_path / "bad.csv"
    bad_orders.write_text("customer_id,timestamp,amount\n1,2024-01-01,5\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    args = {
        "missing orders file": ["--orders", str(tmp_path / "nope.csv")],
        "missing columns": ["--orders", str(bad_orders)],
        "not a model directory": ["--orders", str(inputs.clean), "--model", str(empty)],
        "not a backtest folder": ["--orders", str(inputs.clean), "--backtest", str(empty)],
        "missing costs file": [
            "--orders",
            str(inputs.clean),
            "--visits",
            str(inputs.visits_csv),
            "--costs",
            str(tmp_path / "nope.csv"),
        ],
        "bad visits file": [
            "--orders",
            str(inputs.clean),
            "--visits",
            str(bad_orders),
            "--costs",
            str(inputs.costs_csv),
        ],
        "bad horizon": ["--orders", str(inputs.clean), "--horizon", "soon"],
    }[case]
    out = tmp_path / "out" / "report.html"
    result = run_report("-o", str(out), *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())


def test_bad_input_leaves_an_existing_report_untouched(tmp_path):
    out = tmp_path / "report.html"
    out.write_text("the previous report\n")
    result = run_report("-o", str(out), "--orders", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert out.read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_output_must_be_html(inputs, tmp_path):
    result = run_report("-o", str(tmp_path / "report.pdf"), "--orders", str(inputs.clean))
    assert result.exit_code == 2 and ".html" in result.output
    assert not list(tmp_path.iterdir())


def test_help_has_an_example():
    result = CliRunner().invoke(report_command, ["--help"])
    assert result.exit_code == 0 and "Example:" in result.output
    assert "clv report -o report.html --orders orders.csv" in result.output


# --------------------------------------------------------------------------------------
# the two matrix plots
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bgnbd_draws():
    return BetaGeoModel.from_posterior(fixed_posterior(BGNBD_PUBLISHED, n_draws=20))


def test_probability_alive_matrix_is_the_posterior_mean(bgnbd_draws):
    ax = plot_probability_alive_matrix(bgnbd_draws, T=39.0, max_frequency=10)
    assert isinstance(ax, Axes)
    values = np.asarray(ax.images[0].get_array())
    assert values.shape == (40, 11)  # recency 0..39 up, frequency 0..10 across
    assert ((values >= 0) & (values <= 1)).all()
    assert np.allclose(values[:, 0], 1.0)  # BG/NBD: no repeat purchase, still alive
    cell = pd.DataFrame({"frequency": [3], "recency": [20.0], "T": [39.0]})
    expected = bgnbd_draws.probability_alive(cell).mean(axis=0)[0]
    assert values[20, 3] == pytest.approx(expected)
    # more recent last purchase, more likely alive (for x > 0)
    assert (np.diff(values[:, 1:], axis=0) >= -1e-12).all()


def test_frequency_recency_matrix_is_the_posterior_mean(bgnbd_draws):
    ax = plot_frequency_recency_matrix(bgnbd_draws, T=39.0, t=4.0, max_frequency=8)
    values = np.asarray(ax.images[0].get_array())
    assert values.shape == (40, 9)
    cell = pd.DataFrame({"frequency": [5], "recency": [30.0], "T": [39.0]})
    expected = bgnbd_draws.expected_purchases(cell, 4.0).mean(axis=0)[0]
    assert values[30, 5] == pytest.approx(expected)
    assert (values >= 0).all()
    assert "4 time units" in ax.get_title()


def test_matrices_on_a_fractional_T_and_default_frequencies(bgnbd_draws):
    ax = plot_frequency_recency_matrix(bgnbd_draws, T=250.5)
    values = np.asarray(ax.images[0].get_array())
    assert values.shape == (101, 51)  # 101 evenly spaced recencies; frequencies 0..50
    assert np.isfinite(values).all()
    with pytest.raises(ValueError, match="T must be a positive"):
        plot_probability_alive_matrix(bgnbd_draws, T=0.0)


# --------------------------------------------------------------------------------------
# the browser test
# --------------------------------------------------------------------------------------
_PROBE = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  document.body.dataset.widths = images.map(function (img) {
    return img.complete ? img.naturalWidth : 0;
  }).join(",");
  document.body.dataset.external = String(performance.getEntriesByType("resource").length);
});
</script>
"""


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(profile.parent), "XDG_CONFIG_HOME": str(profile.parent)}
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # no network: every name fails to resolve
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_SECONDS,
        check=False,
        env=env,
    )


def test_report_renders_in_a_headless_browser(full_report, tmp_path):
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip(
            "chromium is not installed (Debian: apt-get install chromium; `make test` does)"
        )
    profile = tmp_path / "profile"
    report = full_report.resolve()

    shot = tmp_path / "shot.png"
    taken = _chromium(
        browser, profile, f"--screenshot={shot}", "--window-size=1200,4000", report.as_uri()
    )
    assert shot.exists(), taken.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (1200, 4000)
        pixels = np.asarray(image.convert("RGB"))
    wide = pixels.astype("uint32")
    packed = (wide[..., 0] << 16) | (wide[..., 1] << 8) | wide[..., 2]
    colours = np.unique(packed)
    assert len(colours) > 200, "the screenshot looks blank"
    assert (pixels < 128).any(axis=2).mean() > 0.01, "no text or plots were drawn"

    dumped = _chromium(browser, profile, "--dump-dom", report.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    assert list(dom.sections) == list(SECTION_IDS)
    assert len(dom.images) == 7
    assert all(src.startswith("data:image/png;base64,") for src in dom.images)

    probe = tmp_path / "probe.html"
    probe.write_text(
        report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
        encoding="utf-8",
    )
    probed = _chromium(
        browser, profile, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()
    )
    assert probed.returncode == 0, probed.stderr[-2000:]
    body = parse(probed.stdout).body_attrs
    assert "data-widths" in body, "the page's load event did not run"
    widths = [int(w) for w in body["data-widths"].split(",")]
    assert len(widths) == 7 and all(w > 0 for w in widths), widths
    assert body["data-external"] == "0", "the report loaded something from outside itself"
