"""The plan report: a document for a sub-district head (Markdown and printable HTML), the
figures as JSON, and charts."""

from __future__ import annotations

from gridplan.output.report.render import render_html, render_markdown
from gridplan.output.report.write import build_report, write_report

__all__ = [
    "build_report",
    "render_html",
    "render_markdown",
    "write_report",
]
