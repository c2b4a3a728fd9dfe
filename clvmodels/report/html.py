"""The HTML of the report: the page, its sections, tables, numbers and embedded images.

Everything from data is escaped here (:func:`esc`); images are PNGs embedded as base64 data
URIs and the CSS is inline, so the page opens anywhere without JavaScript or a network.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from clvmodels._version import __version__

NEED_MODEL = "Pass --model MODEL_DIR (a model from `clv fit`) to see {what}."


@dataclass(frozen=True)
class Section:
    """One section of the report.

    Attributes
    ----------
    id : str
        The ``id`` of its ``<section>`` element (one of
        :data:`clvmodels.report.build.SECTION_IDS` or ``OPTIONAL_SECTION_IDS``).
    title : str
        Its heading.
    body : str
        Its HTML, everything from data already escaped.
    shown : bool
        Whether it shows results; False when it holds only a note about missing inputs or
        what could not be computed.
    note : str
        That note (empty when ``shown``).
    """

    id: str
    title: str
    body: str
    shown: bool = True
    note: str = ""


def missing(section_id: str, title: str, note: str) -> Section:
    """A section that shows only ``note`` (what to pass, or why it cannot be shown)."""
    return Section(section_id, title, note_html(note), shown=False, note=note)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; line-height: 1.45; color: #1f2328; max-width: 1100px; margin: 0 auto;
       padding: 1.5rem 1rem 4rem; background: #fff; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.35rem; border-bottom: 2px solid #d0d7de; padding-bottom: 0.2rem;
     margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
h3 small { font-weight: normal; color: #57606a; }
.meta, .caption { color: #57606a; font-size: 0.92rem; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1.2rem; }
nav a { color: #0969da; text-decoration: none; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { background: #eef7ee; font-weight: 600; }
table.kv th { width: 14rem; font-weight: 600; }
img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
        gap: 1rem; align-items: start; }
.note { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 4px;
        padding: 0.5rem 0.8rem; }
.flag { font-size: 0.85rem; padding: 0.1rem 0.5rem; border-radius: 999px;
        margin-left: 0.4rem; }
.flag.ok { background: #dafbe1; color: #116329; border: 1px solid #4ac26b; }
.flag.bad { background: #ffebe9; color: #a40e26; border: 1px solid #ff8182; }
"""


def document(title: str, sections: Sequence[Section]) -> str:
    """The whole page: title, when and by which clvmodels it was made, a menu, the sections."""
    created = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    nav = "".join(f"<li><a href='#{s.id}'>{esc(s.title)}</a></li>" for s in sections)
    body = "".join(
        f"<section id='{s.id}'><h2>{esc(s.title)}</h2>{s.body}</section>\n" for s in sections
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{esc(title)}</h1>"
        f"<p class='meta'>Made by clvmodels {esc(__version__)} on {esc(created)}.</p>"
        f"<nav><ul>{nav}</ul></nav></header>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def esc(value: Any) -> str:
    """``value`` as text, escaped for HTML (quotes too)."""
    return html.escape(str(value), quote=True)


def note_html(text: str) -> str:
    """A highlighted note."""
    return f"<p class='note'>{esc(text)}</p>"


def caption(text: str) -> str:
    """A caption paragraph."""
    return f"<p class='caption'>{esc(text)}</p>"


def bullets(items: Sequence[str]) -> str:
    """A list of findings."""
    return "<ul class='findings'>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def key_values(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of labels and values."""
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{cells}</table>"


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[int] | range = (),
    highlight: Callable[[Sequence[str]], bool] | None = None,
) -> str:
    """A table of text cells; ``numeric`` columns right-aligned, ``highlight`` rows marked."""
    numbers = set(numeric)
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    lines = []
    for row in rows:
        cells = "".join(
            f"<td class='num'>{esc(c)}</td>" if i in numbers else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        marked = " class='best'" if highlight is not None and highlight(row) else ""
        lines.append(f"<tr{marked}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def frame_table(frame: pd.DataFrame, *, highlight: str = "") -> str:
    """A table as read from CSV: each number column in one format, ``highlight`` row marked."""
    formats = [_column_format(frame[c], str(c)) for c in frame.columns]
    numeric = [i for i, spec in enumerate(formats) if spec is not None]
    rows = [
        [_cell(value, spec) for value, spec in zip(row, formats, strict=True)]
        for row in frame.itertuples(index=False)
    ]
    return table(
        [str(c).replace("_", " ") for c in frame.columns],
        rows,
        numeric=numeric,
        highlight=(lambda row: row[0] == highlight) if highlight else None,
    )


def _column_format(column: pd.Series, name: str) -> str | None:
    """A format for a column's numbers: by its name and size; None for text and flags."""
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return None
    if name.endswith("_pct"):
        return "+.1f"
    values = column.to_numpy(dtype="float64")
    finite = values[np.isfinite(values)]
    if finite.size and bool((finite % 1 == 0).all()):
        return ",.0f"
    return ",.2f" if finite.size and float(np.abs(finite).max()) >= 100 else ".3f"


def _cell(value: Any, spec: str | None) -> str:
    if spec is None:
        absent = value is None or (isinstance(value, float) and math.isnan(value))
        return "" if absent else str(value)
    number = float(value)
    if not math.isfinite(number):
        return ""
    return f"{number:{spec}}%" if spec.startswith("+") else f"{number:{spec}}"


def num(value: Any, spec: str = ".4g") -> str:
    """A number in ``spec``; ``?`` for None, ``n/a`` for infinite or NaN, text as is."""
    if value is None:
        return "?"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return format(number, spec) if math.isfinite(number) else "n/a"


def count(value: Any) -> str:
    """A whole number with thousands separators; ``?`` when ``value`` is not a number."""
    return f"{int(value):,}" if isinstance(value, int | float | np.integer) else "?"


def yes(value: Any) -> str:
    """``yes`` or ``no``."""
    return "yes" if value else "no"


def _png(ax: Axes, dpi: int = 100) -> bytes:
    figure = ax.get_figure(root=True)
    if figure is None:
        raise ValueError("the Axes belongs to no figure")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def img(ax: Axes, alt: str) -> str:
    """The figure of ``ax`` as an embedded PNG."""
    return img_bytes(_png(ax), alt)


def img_bytes(data: bytes, alt: str) -> str:
    """PNG bytes as an embedded image."""
    encoded = base64.b64encode(data).decode("ascii")
    return f"<img src='data:image/png;base64,{encoded}' alt='{esc(alt)}'>"
