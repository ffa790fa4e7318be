"""Self-contained HTML reports: one file that opens offline, figures inlined as base64 PNG data URIs."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.25rem; margin-top: 2.2rem;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.subtitle { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.8rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #e4e4e4; }
th { background: #f5f5f5; text-align: left; } td.num { text-align: right;
     font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.85rem; } .note { color: #555; font-size: 0.9rem; }
"""


@dataclass(frozen=True)
class Section:
    """One titled part of a page; `body` is HTML built by the helpers here (already escaped)."""

    title: str
    body: str


def html_page(title: str, sections: Iterable[Section], subtitle: str = "") -> str:
    """A complete HTML document: inline style, no scripts, no external assets."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="subtitle">{html.escape(subtitle)}</p>')
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>{section.body}</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def paragraph(text: str, css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{attribute}>{html.escape(text)}</p>"


def bullet_list(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def new_figure() -> Figure:
    """A fresh Agg figure (no pyplot state, nothing global), constrained layout."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_data_uri(fig: Figure) -> str:
    """The figure as a PNG data URI, to inline in an <img src>."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(fig: Figure, caption: str, name: str = "") -> str:
    """<figure> with the PNG inlined and a caption; the figure is freed afterwards."""
    uri = figure_data_uri(fig)
    fig.clear()
    ident = f' id="{html.escape(name)}"' if name else ""
    return (
        f'<figure{ident}><img src="{uri}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


Formatter = Callable[[object], str]


def table_html(
    frame: pd.DataFrame,
    formats: Mapping[str, Formatter] | None = None,
    index: bool = False,
    max_rows: int | None = None,
) -> str:
    """A DataFrame as an HTML table: numbers right-aligned, NaN as '—', per-column formatters."""
    formats = dict(formats or {})
    shown = frame.reset_index() if index else frame
    if max_rows is not None:
        shown = shown.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for column, value in zip(shown.columns, row, strict=True):
            text = formats[column](value) if column in formats else format_cell(value)
            numeric = pd.api.types.is_number(value) and not isinstance(value, bool)
            css = ' class="num"' if numeric else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def format_cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "—"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def percent(value: object) -> str:
    return "—" if _missing(value) else f"{float(value):.0%}"


def number(decimals: int = 1) -> Formatter:
    return lambda value: "—" if _missing(value) else f"{float(value):,.{decimals}f}"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
