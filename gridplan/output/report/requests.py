"""The report's requests section (群众诉求): the three rates (三率) per category and per grid,
the partner units, the link from categories to coverage gaps, and the overdue list, from the
figures of :func:`gridplan.requests.planview.plan_requests` (``report["requests"]``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gridplan.i18n import category_label, labels_in
from gridplan.output.report.blocks import Block, fmt_number, fmt_share
from gridplan.settings import DEFAULT

__all__ = ["requests_blocks"]

#: Overdue request ids listed by name; the JSON lists all.
OVERDUE_SHOWN = 40


def _local(at: str) -> str:
    t = pd.Timestamp(at)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return t.tz_convert(DEFAULT.requests.timezone).strftime("%Y-%m-%d %H:%M")


def _rate(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and v != v) else fmt_share(v)


def requests_blocks(rep: dict[str, Any], lang: str) -> list[Block]:
    """The requests section as report blocks, every word in ``lang``."""
    lab = labels_in("requests", lang)
    sm = rep.get("summary") or {}
    out = [Block("h2", lab["section"])]
    out.append(
        Block(
            "p",
            lab["section_intro"].format(
                ledger=f"`{rep.get('ledger', '')}`",
                at=_local(rep["generated_at"]),
                received=fmt_number(int(sm.get("received", 0))),
                response=_rate(sm.get("response_rate")),
                resolution=_rate(sm.get("resolution_rate")),
                satisfaction=_rate(sm.get("satisfaction_rate")),
                overdue=fmt_number(int(sm.get("overdue", 0))),
                open=fmt_number(int(rep.get("open", 0))),
            ),
        )
    )
    if sm and not int(sm.get("responded", 0)) and not int(sm.get("resolved", 0)):
        out.append(Block("p", lab["none_handled"]))
    rates = [lab["received"], lab["response_rate"], lab["resolution_rate"]]
    rates += [lab["satisfaction_rate"], lab["overdue"]]

    def cells(r: dict[str, Any]) -> list[str]:
        return [
            fmt_number(int(r["received"])),
            _rate(r["response_rate"]),
            _rate(r["resolution_rate"]),
            _rate(r["satisfaction_rate"]),
            fmt_number(int(r["overdue"])),
        ]

    sep = "、" if lang == "zh" else ", "
    gaps = {g["service_code"]: g for g in rep.get("coverage_gaps", [])}

    def gap(code: str) -> str:
        g = gaps.get(code)
        if g is None or g.get("in_gap") is None or g["in_gap"] != g["in_gap"]:
            return "–"
        facs = sep.join(category_label(f, lang) for f in str(g["facilities"]).split(";"))
        return lab["gap_cell"].format(
            in_gap=fmt_number(int(g["in_gap"])),
            requests=fmt_number(int(g["requests"])),
            facilities=facs,
        )

    by_cat = sorted(
        rep.get("by_category", []), key=lambda r: (-int(r["received"]), str(r["service_code"]))
    )
    out.append(Block("h3", lab["by_category"]))
    out.append(
        Block(
            "table",
            headers=[lab["category"], *rates, lab["in_gap"]],
            rows=[
                [
                    lab.get(f"category.{r['service_code']}", str(r["service_code"])),
                    *cells(r),
                    gap(str(r["service_code"])),
                ]
                for r in by_cat
            ],
        )
    )
    out.append(Block("h3", lab["by_grid"]))
    out.append(
        Block(
            "table",
            headers=[lab["grid"], *rates],
            rows=[[str(r["grid_id"]), *cells(r)] for r in rep.get("by_grid", [])],
        )
    )
    if rep.get("by_partner"):
        out.append(Block("h3", lab["by_partner"]))
        out.append(
            Block(
                "table",
                headers=[lab["partner"], *rates],
                rows=[[str(r["agency_responsible"]), *cells(r)] for r in rep["by_partner"]],
            )
        )
    overdue = list(rep.get("overdue", []))
    if overdue:
        out.append(Block("h3", lab["overdue_list"].format(n=len(overdue))))
        more = len(overdue) - OVERDUE_SHOWN
        text = sep.join(overdue[:OVERDUE_SHOWN])
        out.append(Block("p", text + (f" (+{more})" if more > 0 else "")))
    return out
