"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README shows a Python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "model-dir" / "model.json").exists()


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


def test_readme_job_file_is_the_example_and_reads(tmp_path):
    from clvmodels.jobs.job_file import read_job_file

    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    example = README.parent / "docs" / "clv.toml.example"
    assert blocks and blocks[0] == example.read_text()
    (tmp_path / "clv.toml").write_text(blocks[0])
    job = read_job_file(tmp_path / "clv.toml")
    assert job.get("orders", "customer_col") == "client_id"
