"""The plan report written out: Markdown (:func:`render_markdown`) and printable HTML
(:func:`render_html`), both from the one document of
:func:`~gridplan.output.report.document.report_document`."""

from __future__ import annotations

import html
import re
from typing import Any

from gridplan.i18n import labels_in
from gridplan.output.report.blocks import Block
from gridplan.output.report.document import report_document

__all__ = ["render_html", "render_markdown"]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(doc: list[Block]) -> str:
    out: list[str] = []
    for b in doc:
        if b.kind in ("h1", "h2", "h3"):
            out += ["#" * int(b.kind[1]) + " " + b.text, ""]
        elif b.kind == "p":
            out += [b.text, ""]
        elif b.kind == "ul":
            out += [*(f"- {item}" for item in b.items), ""]
        elif b.kind == "dl":
            out += [*(f"- **{k}**：{v}" if _cjk(k) else f"- **{k}**: {v}" for k, v in b.pairs)]
            out.append("")
        elif b.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif b.kind == "img":
            out += [f"![{b.items[0] if b.items else ''}]({b.text})", ""]
    return "\n".join(out).rstrip() + "\n"


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


_INLINE = re.compile(r"\*\*(.+?)\*\*|`([^`]+)`")


def _inline_html(text: str) -> str:
    """``**bold**`` and ``\\`code\\``` spans as HTML, everything else escaped."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        if m.group(1) is not None:
            out.append(f"<strong>{html.escape(m.group(1))}</strong>")
        else:
            out.append(f"<code>{html.escape(m.group(2))}</code>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


_NUMERIC = re.compile(r"^[\d,.\s%/–-]+$")

#: The page style: A4, serif body for print, tables that break across pages cleanly.
_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "Songti SC", SimSun, serif;
  font-size: 11pt; line-height: 1.55; color: #111; max-width: 190mm; margin: 0 auto;
  padding: 8mm; }
h1 { font-size: 19pt; margin: 0 0 6pt; border-bottom: 2px solid #333; padding-bottom: 4pt; }
h2 { font-size: 14pt; margin: 16pt 0 6pt; border-bottom: 1px solid #999;
  break-after: avoid; page-break-after: avoid; }
h3 { font-size: 12pt; margin: 12pt 0 4pt; break-after: avoid; page-break-after: avoid; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2pt 12pt; margin: 6pt 0; }
dl.meta dt { font-weight: bold; } dl.meta dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; font-size: 9.5pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 1px solid #888; padding: 2pt 5pt; vertical-align: top; text-align: left; }
th { background: #eee; }
td.num { text-align: right; white-space: nowrap; }
ul { margin: 4pt 0 8pt; padding-left: 18pt; } li { margin: 2pt 0; }
img { max-width: 100%; break-inside: avoid; }
code { font-family: monospace; font-size: 9pt; background: #f3f3f3; padding: 0 2pt; }
@media print { body { padding: 0; max-width: none; } }
"""


def _html(doc: list[Block], lang: str) -> str:
    title = next((b.text for b in doc if b.kind == "h1"), "")
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
    ]
    for b in doc:
        if b.kind in ("h1", "h2", "h3"):
            out.append(f"<{b.kind}>{_inline_html(b.text)}</{b.kind}>")
        elif b.kind == "p":
            out.append(f"<p>{_inline_html(b.text)}</p>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>")
        elif b.kind == "dl":
            pairs = "".join(
                f"<dt>{_inline_html(k)}</dt><dd>{_inline_html(v)}</dd>" for k, v in b.pairs
            )
            out.append(f'<dl class="meta">{pairs}</dl>')
        elif b.kind == "table":
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in b.headers)
            body = "".join(
                "<tr>"
                + "".join(
                    f'<td class="num">{_inline_html(c)}</td>'
                    if c and _NUMERIC.match(c)
                    else f"<td>{_inline_html(c)}</td>"
                    for c in row
                )
                + "</tr>"
                for row in b.rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif b.kind == "img":
            alt = html.escape(b.items[0] if b.items else "")
            out.append(f'<p><img src="{html.escape(b.text)}" alt="{alt}"></p>')
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def render_markdown(
    report: dict[str, Any],
    *,
    lang: str = "en",
    charts: list[str] | None = None,
    charts_note: str | None = None,
) -> str:
    """The Markdown text of a report built by
    :func:`~gridplan.output.report.write.build_report`, every word in ``lang``.

    Parameters
    ----------
    report
        From :func:`~gridplan.output.report.write.build_report`.
    lang
        ``"en"`` or ``"zh"``.
    charts
        File names of charts to show, relative to the report.
    charts_note
        A sentence shown instead of charts (why there are none).
    """
    labels_in("report", lang)  # checks the language
    return _markdown(report_document(report, lang=lang, charts=charts, charts_note=charts_note))


def render_html(
    report: dict[str, Any],
    *,
    lang: str = "en",
    charts: list[str] | None = None,
    charts_note: str | None = None,
) -> str:
    """The report as one printable HTML page (A4, print styles; charts linked by file name),
    with the same content as :func:`render_markdown`. Print it from a browser to PDF."""
    labels_in("report", lang)
    doc = report_document(report, lang=lang, charts=charts, charts_note=charts_note)
    return _html(doc, lang)
