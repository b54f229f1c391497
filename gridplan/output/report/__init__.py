"""The plan report: Markdown, JSON and charts."""

from __future__ import annotations

from gridplan.output.report.render import render_markdown
from gridplan.output.report.write import build_report, write_report

__all__ = [
    "build_report",
    "render_markdown",
    "write_report",
]
