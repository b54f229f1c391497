"""PNG charts of the plan report (matplotlib, imported only when charts are drawn)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from gridplan.i18n import category_label, labels_in, tier_label
from gridplan.output.fonts import cjk_font
from gridplan.output.planfile import Plan
from gridplan.output.report.common import _households, _nonempty, minutes


def _charts(report: dict[str, Any], plan: Plan, folder: Path, lang: str) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = cjk_font() if lang == "zh" else None
    chart_lang = "zh" if font is not None else "en"  # Chinese labels only with a Chinese font
    lab = labels_in("report", chart_lang)
    text_kw: dict[str, Any] = {"fontproperties": font} if font is not None else {}
    written: list[Path] = []

    grids = _nonempty(plan, "grids")
    q = report["quality"]
    if grids is not None and q.get("ran"):
        hh = _households(grids).to_numpy(dtype=float)
        h = q["households"]
        fig = Figure(figsize=(7, 4), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        bins = min(40, max(5, int(math.sqrt(len(hh))) * 2))
        ax.hist(hh, bins=bins, color="#4e79a7", edgecolor="white")
        for x, style, name in (
            (h["min_allowed"], "--", lab["min_line"]),
            (h["max_allowed"], "--", lab["max_line"]),
            (h["target"], "-", lab["target_line"]),
        ):
            ax.axvline(
                x,
                color="#e15759" if style == "--" else "#333",
                linestyle=style,
                label=f"{name} {x}",
            )
        ax.set_xlabel(lab["households"], **text_kw)
        ax.set_ylabel(lab["n_grids"], **text_kw)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(lab["chart_grids"], **text_kw)
        legend_font = font.copy() if font is not None else None
        if legend_font is not None:
            legend_font.set_size(8)
        ax.legend(prop=legend_font, fontsize=None if legend_font else 8)
        fig.tight_layout()
        path = folder / "households_per_grid.png"
        fig.savefig(path)
        written.append(path)
    cv = report["coverage"]
    if cv.get("ran") and cv["by_tier_category"]:
        rows = cv["by_tier_category"]
        fig = Figure(figsize=(7, 0.9 + 0.32 * len(rows)), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        tiers = sorted({r["tier"] for r in rows}, key=minutes)
        palette = ["#1a9850", "#fdae61", "#4e79a7", "#b07aa1", "#9c755f"]
        names = [
            f"{category_label(r['category'], chart_lang)} ({tier_label(r['tier'], chart_lang)})"
            for r in rows
        ]
        shares = [100 * (r["share"] or 0.0) for r in rows]
        colors = [palette[tiers.index(r["tier"]) % len(palette)] for r in rows]
        y = np.arange(len(rows))[::-1]
        ax.barh(y, shares, color=colors)
        ax.set_yticks(y, names, fontsize=8)
        if font is not None:
            for tick in ax.get_yticklabels():
                tick.set_fontproperties(font)
                tick.set_fontsize(8)
        ax.set_xlim(0, 100)
        ax.set_xlabel(lab["share_axis"] + " (%)", **text_kw)
        ax.set_title(lab["chart_coverage"], **text_kw)
        for yy, sh in zip(y, shares, strict=True):
            ax.text(min(sh + 1, 90), yy, f"{sh:.0f}%", va="center", fontsize=7)
        fig.tight_layout()
        path = folder / "coverage_by_category.png"
        fig.savefig(path)
        written.append(path)
    return written
