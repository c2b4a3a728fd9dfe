"""Where the jobs write: the names of the files and folders inside a job's output folder.

One place for the names, so that the demo, its report and its summary agree on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PipelineFiles:
    """The outputs of :func:`clvmodels.jobs.pipeline.run_pipeline` and ``run_demo``."""

    folder: Path

    @property
    def orders(self) -> Path:
        """The simulated orders of the demo."""
        return self.folder / "orders.parquet"

    @property
    def rfm(self) -> Path:
        """One RFM row per customer."""
        return self.folder / "rfm.parquet"

    @property
    def model(self) -> Path:
        """The fitted model folder."""
        return self.folder / "model"

    @property
    def scores(self) -> Path:
        """One score row per customer."""
        return self.folder / "scores.parquet"

    @property
    def summary(self) -> Path:
        """The run's numbers as JSON."""
        return self.folder / "summary.json"

    @property
    def segments(self) -> Path:
        """The scores with each customer's segment."""
        return self.folder / "segments.parquet"

    @property
    def marketing(self) -> Path:
        """The acquisition part of the demo (a second simulated shop)."""
        return self.folder / "marketing"

    @property
    def backtest(self) -> Path:
        """The backtest of the second shop's model."""
        return self.marketing / "backtest"

    @property
    def subscriptions(self) -> Path:
        """The SaaS part: billing, companies, activities, people, SUBS and churn/."""
        return self.folder / "subscriptions"

    @property
    def experiment(self) -> Path:
        """The experiment part: what ``clv experiment -o`` wrote for the simulated A/B test."""
        return self.folder / "experiment"

    @property
    def ab_test(self) -> Path:
        """The simulated A/B test's inputs: assignments, orders and a model folder per arm."""
        return self.folder / "ab_test"

    @property
    def published(self) -> Path:
        """The DuckDB database that ``clv publish`` wrote the presentation tables into."""
        return self.folder / "published.duckdb"

    @property
    def report(self) -> Path:
        """The HTML report."""
        return self.folder / "report.html"
