"""The plan report as a document for a sub-district head, in one language.

:func:`report_document` turns the figures of :func:`~gridplan.output.report.write.build_report`
into blocks (headings, paragraphs, lists, tables, images) that
:mod:`~gridplan.output.report.render` writes as Markdown and HTML. Every word comes from the
label table (:data:`gridplan.i18n.LABELS`, sections ``report.``, ``review.`` and ``vacancy.``);
the internal metrics stay in ``report.json``.

Order: where and when, what was decided, what needs attention, the communities (and the
buildings split over grids), staffing
(vacancies with their reasons), the 15-minute life circle, new sites, the re-plan (when the plan
is one), the households to review, the sensitivity of the estimates, the residents' requests
(with a request ledger: ``gridplan run --requests``), charts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gridplan.i18n import category_label, labels_in, role_label, tier_label, vacancy_reason
from gridplan.output.report.blocks import Block, fmt_number, fmt_share
from gridplan.output.report.common import minutes
from gridplan.output.report.review import review_blocks

__all__ = ["report_document"]

#: Grids listed in the coverage table (worst first); the JSON lists all.
WORST_GRIDS_SHOWN = 10
#: Vacancies listed with their reasons; the JSON and the rosters list all.
VACANCIES_SHOWN = 30
#: Split buildings listed in their table (largest first); the JSON lists all.
SPLIT_SHOWN = 15
#: Names listed in a sentence before "and N more".
NAMES_SHOWN = 8

#: Roles in the order a report lists them.
_ROLE_ORDER = (
    "grid_head",
    "grid_worker",
    "grid_worker_full",
    "grid_worker_part",
    "unit_head",
    "building_head",
    "volunteer",
)


def _list(values: list[Any], lang: str, lab: dict[str, str], shown: int = NAMES_SHOWN) -> str:
    sep = "、" if lang == "zh" else ", "
    text = sep.join(str(v) for v in values[:shown])
    if len(values) > shown:
        text += lab["and_more"].format(n=len(values) - shown)
    return text


def _community_names(report: dict[str, Any]) -> dict[str, str]:
    return {
        str(c["community_id"]): str(c["name"] or c["community_id"])
        for c in (report.get("place") or {}).get("communities", [])
    }


def _place_text(report: dict[str, Any], lang: str, lab: dict[str, str]) -> tuple[str, str]:
    """The place for the title (short) and for the heading list (all names)."""
    comms = (report.get("place") or {}).get("communities", [])
    named = [str(c["name"]) for c in comms if c.get("name")]
    if named and len(named) == len(comms):
        sep = "、" if lang == "zh" else ", "
        short = sep.join(named[:3])
        if len(named) > 3:
            short += lab["place_more"].format(total=len(named), more=len(named) - 3)
        return short, _list(named, lang, lab, shown=40)
    n = len(comms) or int((report.get("summary") or {}).get("communities") or 0)
    if n:
        text = lab["n_communities"].format(n=n)
        return text, text
    return lab["place_unknown"], lab["place_unknown"]


def _heading(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    short, full = _place_text(report, lang, lab)
    dates = report.get("dates") or {}
    params = report.get("parameters") or {}
    grids, units = params.get("grids") or {}, params.get("units") or {}
    settings = []
    if grids:
        settings.append(
            lab["setting_grids"].format(
                lo=fmt_number(grids.get("min_households")),
                hi=fmt_number(grids.get("max_households")),
                target=fmt_number(grids.get("target_households")),
            )
        )
    if units:
        settings.append(
            lab["setting_units"].format(
                lo=fmt_number(units.get("min_households")),
                hi=fmt_number(units.get("max_households")),
            )
        )
    settings.append(
        lab["setting_run"].format(
            version=report.get("gridplan_version") or "–", seed=fmt_number(report.get("seed"))
        )
    )
    sep = "；" if lang == "zh" else "; "
    return [
        Block("h1", lab["doc_title"].format(place=short)),
        Block(
            "dl",
            pairs=[
                (lab["place"], full),
                (lab["data_date"], dates.get("data") or lab["not_recorded"]),
                (lab["plan_date"], dates.get("plan") or lab["not_recorded"]),
                (lab["settings"], sep.join(settings)),
            ],
        ),
    ]


def _decided(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    s, q, u, st = report["summary"], report["quality"], report["units"], report["staffing"]
    items: list[str] = []
    if q["ran"]:
        h = q["households"]
        items.append(
            lab["decided_grids"].format(
                communities=fmt_number(s.get("communities", 1)),
                households=fmt_number(s.get("households", 0)),
                population=fmt_number(s.get("population", 0)),
                grids=fmt_number(s.get("grids", 0)),
                lo=fmt_number(h["min"]),
                hi=fmt_number(h["max"]),
                mean=fmt_number(h["mean"]),
                target=fmt_number(h["target"]),
            )
        )
        if not h["below_min"] and not h["above_max"]:
            items.append(
                lab["decided_in_bounds"].format(
                    lo=fmt_number(h["min_allowed"]),
                    hi=fmt_number(h["max_allowed"]),
                    share=fmt_share(h["share_within_10pct"]),
                )
            )
        forced = int(h.get("grids_size_forced") or 0)
        if forced:
            items.append(lab["decided_forced"].format(n=forced))
        if q.get("metrics", {}).get("contiguity_ok") is not False:
            items.append(lab["decided_barriers"])
    else:
        items.append(lab["decided_no_grids"].format(households=fmt_number(s.get("households"))))
    if u["ran"]:
        items.append(
            lab["decided_units"].format(
                units=fmt_number(u["count"]),
                lo=fmt_number(u["households_min"]),
                hi=fmt_number(u["households_max"]),
                mean=fmt_number(u["households_mean"]),
                share=fmt_share(u["share_in_range"]),
                min_allowed=fmt_number(u["min_allowed"]),
                max_allowed=fmt_number(u["max_allowed"]),
            )
        )
    if st["ran"]:
        sep = "、" if lang == "zh" else ", "
        staffed = sep.join(
            lab["staff_item"].format(role=role_label(r, lang), n=fmt_number(v["filled"]))
            for r, v in _ordered_roles(st["roles"])
            if v["filled"]
        )
        text = lab["decided_staff"].format(staff=staffed or lab["none"])
        if st.get("party_share") is not None:
            text += lab["decided_party"].format(share=fmt_share(st["party_share"]))
        items.append(text)
    cv = report["coverage"]
    if cv["ran"] and cv.get("complete_share"):
        sep = "，" if lang == "zh" else ", "
        parts = sep.join(
            lab["tier_share"].format(tier=tier_label(t, lang), share=fmt_share(v))
            for t, v in cv["complete_share"].items()
        )
        items.append(lab["decided_coverage"].format(parts=parts))
    si = report["siting"]
    if si["ran"] and si["sites"]:
        places = sorted({str(r.get("site_id")) for r in si["sites"]})
        items.append(lab["decided_sites"].format(n=len(si["sites"]), places=len(places)))
    return [Block("h2", lab["h_decided"]), Block("ul", items=items)]


def _ordered_roles(roles: dict[str, Any]) -> list[tuple[str, Any]]:
    rank = {r: i for i, r in enumerate(_ROLE_ORDER)}
    return sorted(roles.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def _attention_item(
    a: dict[str, Any], lang: str, lab: dict[str, str], names: dict[str, str]
) -> str:
    code = a["code"]
    if code == "vacant":
        key = f"att_vacant_{a['role']}"
        template = lab.get(key, lab["att_vacant"])
        return template.format(n=fmt_number(a["n"]), role=role_label(a["role"], lang))
    if code in ("below_min", "above_max"):
        return lab[f"att_{code}"].format(
            n=a["n"], grids=_list(a["grids"], lang, lab), lo=a["lo"], hi=a["hi"]
        )
    if code == "coverage":
        return lab["att_coverage"].format(
            share=fmt_share(a["share"]),
            minutes=minutes(a["tier"]),
            tier=tier_label(a["tier"], lang),
            n=a["categories"],
            worst=category_label(a["worst"], lang),
            worst_share=fmt_share(a["worst_share"]),
        )
    if code == "estimated":
        return lab["att_estimated"].format(
            households=fmt_number(a["households"]),
            buildings=fmt_number(a["buildings"]),
            share=fmt_share(a["share"]),
        )
    if code == "stale":
        return lab["att_stale"].format(
            communities=_list([names.get(c, c) for c in a["communities"]], lang, lab)
        )
    if code == "no_coverage_data":
        return lab["att_no_coverage_data"]
    return lab[f"att_{code}"].format(n=fmt_number(a.get("n")))


def _attention(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    names = _community_names(report)
    items = [_attention_item(a, lang, lab, names) for a in report.get("attention", [])]
    return [Block("h2", lab["h_attention"]), Block("ul", items=items or [lab["att_none"]])]


def _communities(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    rows = report.get("communities") or []
    if not rows:
        return []
    names = _community_names(report)
    table = [
        [
            names.get(r["community_id"], r["community_id"]),
            fmt_number(r["grids"]),
            fmt_number(r["households"]),
            fmt_number(r["population"]),
            f"{fmt_number(r['grid_households_min'])}–{fmt_number(r['grid_households_max'])}",
            fmt_number(r["units"]),
        ]
        for r in rows
    ]
    if len(rows) > 1:
        s = report["summary"]
        table.append(
            [
                f"**{lab['total']}**",
                fmt_number(s.get("grids")),
                fmt_number(s.get("households")),
                fmt_number(s.get("population")),
                "",
                fmt_number(s.get("units")),
            ]
        )
    return [
        Block("h2", lab["h_communities"]),
        Block(
            "table",
            headers=[
                lab["community"],
                lab["grids"],
                lab["households"],
                lab["population"],
                lab["grid_range"],
                lab["units_n"],
            ],
            rows=table,
        ),
    ]


def _part_text(part: dict[str, Any], lang: str, lab: dict[str, str]) -> str:
    """One part of a split building: its entrance and floors, and its households."""
    bits = []
    if part.get("entrance") is not None:
        bits.append(lab["part_entrance"].format(entrance=part["entrance"]))
    f0, f1 = part.get("floor_from"), part.get("floor_to")
    if f0 is not None and f1 is not None:
        floors = str(f0) if f0 == f1 else f"{f0}–{f1}"
        bits.append(lab["part_floors"].format(floors=floors))
    where = (" " if lang == "zh" else ", ").join(bits) or lab["part_whole"]
    return lab["part_households"].format(where=where, households=fmt_number(part["households"]))


def _split_buildings(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    """Buildings split over grids: a row per grid holding part of one, with its parts."""
    split = report.get("split_buildings") or []
    if not split:
        return []
    shown = split[:SPLIT_SHOWN]
    sep = "；" if lang == "zh" else "; "
    rows: list[list[str]] = []
    for b in shown:
        name = (
            lab["split_name"].format(name=b["name"], id=b["building_id"])
            if b.get("name")
            else str(b["building_id"])
        )
        for i, g in enumerate(b["grids"]):
            rows.append(
                [
                    name if i == 0 else "",
                    fmt_number(b["households"]) if i == 0 else "",
                    str(g["grid_id"]),
                    sep.join(_part_text(p, lang, lab) for p in g["parts"]) or "–",
                    fmt_number(g["households"]),
                ]
            )
    out = [
        Block("h3", lab["split_title"].format(n=len(split))),
        Block("p", lab["split_intro"]),
        Block(
            "table",
            headers=[
                lab["split_building"],
                lab["households"],
                lab["grid"],
                lab["split_part"],
                lab["split_grid_households"],
            ],
            rows=rows,
        ),
    ]
    if len(split) > len(shown):
        out.append(Block("p", lab["more_split"].format(n=len(split) - len(shown))))
    return out


def _not_run(section: dict[str, Any], lab: dict[str, str]) -> Block:
    """Why a section's stage did not run: the reason the run recorded, in the report's
    language, else that it was not planned and the command that plans it."""
    code = section.get("skipped")
    if code and f"skip_{code}" in lab:
        return Block("p", lab[f"skip_{code}"].format(command=section["command"]))
    return Block("p", lab["not_run"].format(command=section["command"]))


def _staffing(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    st = report["staffing"]
    out = [Block("h2", lab["staffing"])]
    if not st["ran"]:
        layers = ((report.get("dataset") or {}).get("layers")) or {}
        if not st.get("skipped") and report["quality"]["ran"] and layers and "people" not in layers:
            st = {**st, "skipped": "no_people"}  # a plan from before the reasons were recorded
        return [*out, _not_run(st, lab)]
    out.append(
        Block(
            "table",
            headers=[lab["role"], lab["filled"], lab["vacant"]],
            rows=[
                [role_label(r, lang), fmt_number(v["filled"]), fmt_number(v["vacant"])]
                for r, v in _ordered_roles(st["roles"])
            ],
        )
    )
    if st.get("party_share") is not None:
        out.append(Block("p", lab["party_sentence"].format(share=fmt_share(st["party_share"]))))
    vac = st["vacancies"]
    if vac:
        out.append(Block("h3", lab["vacancies_title"].format(n=len(vac))))
        out.append(Block("p", lab["vacancies_intro"]))
        shown = vac[:VACANCIES_SHOWN]
        out.append(
            Block(
                "table",
                headers=[lab["role"], lab["target_id"], lab["reason"]],
                rows=[
                    [
                        role_label(v.get("role", ""), lang),
                        str(v.get("target_id", "")),
                        vacancy_reason(
                            str(v.get("reason_code") or ""), v.get("reason_params") or {}, lang
                        ),
                    ]
                    for v in shown
                ],
            )
        )
        if len(vac) > len(shown):
            out.append(Block("p", lab["more_vacancies"].format(n=len(vac) - len(shown))))
    solver = _solver_sentence(st.get("solver") or {}, lab)
    if solver:
        out.append(Block("p", solver))
    return out


def _solver_sentence(solver: dict[str, dict[str, Any]], lab: dict[str, str]) -> str:
    """Whether every optimisation was solved to the best answer, in words."""
    if not solver:
        return ""
    open_ = [
        v
        for v in solver.values()
        if str(v.get("status") or "").upper() != "OPTIMAL" and (v.get("gap") or 0) > 1e-9
    ]
    if not open_:
        return lab["solver_optimal"]
    gap = max(float(v.get("gap") or 0) for v in open_)
    return lab["solver_open"].format(n=len(open_), total=len(solver), gap=fmt_share(gap))


def _coverage(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    cv = report["coverage"]
    out = [Block("h2", lab["coverage"])]
    if not cv["ran"]:
        return [*out, _not_run(cv, lab)]
    speed = ((report.get("parameters") or {}).get("coverage") or {}).get("speed_m_per_min")
    out.append(Block("p", lab["coverage_intro"].format(speed=fmt_number(speed or 60))))
    out.append(
        Block(
            "table",
            headers=[lab["tier"], lab["category"], lab["covered"], lab["share"]],
            rows=[
                [
                    tier_label(r["tier"], lang),
                    category_label(r["category"], lang),
                    f"{fmt_number(r['households_covered'])} / {fmt_number(r['households'])}",
                    fmt_share(r["share"]),
                ]
                for r in cv["by_tier_category"]
            ],
        )
    )
    if cv["by_grid"]:
        tiers = sorted({t for g in cv["by_grid"] for t in g["by_tier"]}, key=minutes)
        shown = cv["by_grid"][:WORST_GRIDS_SHOWN]
        out.append(Block("h3", lab["by_grid_title"].format(n=len(shown))))
        out.append(Block("p", lab["by_grid_intro"]))
        out.append(
            Block(
                "table",
                headers=[lab["grid"], lab["all_checks"], *[tier_label(t, lang) for t in tiers]],
                rows=[
                    [
                        str(g["grid_id"]),
                        fmt_share(g["share"]),
                        *[fmt_share(g["by_tier"].get(t)) for t in tiers],
                    ]
                    for g in shown
                ],
            )
        )
    return out


def _siting(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    si = report["siting"]
    out = [Block("h2", lab["siting"])]
    if not si["ran"]:
        return [*out, _not_run(si, lab)]
    if not si["sites"]:
        return [*out, Block("p", lab["no_sites"])]
    out.append(Block("p", lab["siting_intro"]))
    out.append(
        Block(
            "table",
            headers=[lab["category"], lab["tier"], lab["rank"], lab["site"], lab["newly_covered"]],
            rows=[
                [
                    category_label(str(r.get("category", "")), lang),
                    tier_label(str(r.get("tier", "")), lang) if r.get("tier") else "–",
                    fmt_number(r.get("rank")),
                    str(r.get("site_id", "")),
                    fmt_number(r.get("households_newly_covered")),
                ]
                for r in si["sites"]
            ],
        )
    )
    solver = _solver_sentence(si.get("solver") or {}, lab)
    if solver:
        out.append(Block("p", solver))
    return out


def _replan(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    rp = report["replan"]
    if not rp.get("ran"):
        return []
    out = [Block("h2", lab["replan"])]
    changed = [str(g) for g in rp.get("changed_grids") or []]
    kept = rp.get("kept_grids") or []
    out.append(
        Block(
            "p",
            lab["replan_sentence"].format(
                changed=len(changed),
                kept=len(kept),
                households=fmt_number(rp.get("households_moved", rp.get("moved_households", 0))),
                buildings=fmt_number(rp.get("buildings_moved", rp.get("moved_buildings", 0))),
            ),
        )
    )
    if changed:
        out.append(Block("p", lab["replan_changed"].format(grids=_list(changed, lang, lab, 30))))
    params = rp.get("parameters_changed")
    if isinstance(params, list) and params:
        pairs = ("；" if lang == "zh" else "; ").join(
            f"`{c.get('key')}` {fmt_number(c.get('old'))} → {fmt_number(c.get('new'))}"
            for c in params
            if isinstance(c, dict)
        )
        out.append(Block("p", f"**{lab['params_changed']}**: {pairs}"))
    elif isinstance(params, list):
        out.append(Block("p", lab["params_same"]))
    if rp.get("flows"):
        out.append(
            Block(
                "table",
                headers=[lab["from_grid"], lab["to_grid"], lab["households"]],
                rows=[
                    [str(f["from"]), str(f["to"]), fmt_number(f["households"])]
                    for f in rp["flows"][:30]
                ],
            )
        )
    edits = rp.get("edits") or []
    if edits:
        out.append(Block("p", f"**{lab['edits_title'].format(n=fmt_number(len(edits)))}**"))
        out.append(
            Block(
                "table",
                headers=[
                    lab["edit_building"],
                    lab["from_grid"],
                    lab["to_grid"],
                    lab["edit_reason"],
                    lab["edit_by"],
                    lab["edit_violations"],
                ],
                rows=[
                    [
                        str(e.get("building_id") or ""),
                        str(e.get("from_grid_id") or ""),
                        str(e.get("grid_id") or ""),
                        str(e.get("reason") or ""),
                        " ".join(str(e.get(k)) for k in ("by", "at") if e.get(k)),
                        str(e.get("violations") or ""),
                    ]
                    for e in edits[:60]
                ],
            )
        )
    return out


def _scenario_name(name: str, lab: dict[str, str]) -> str:
    factor = float(name.lstrip("×x") or 1)
    if abs(factor - 1.0) < 1e-9:
        return lab["scenario_plan"]
    pct = round(abs(1 - factor) * 100)
    return lab["scenario_smaller" if factor < 1 else "scenario_larger"].format(pct=pct)


def _sensitivity(report: dict[str, Any], lang: str, lab: dict[str, str]) -> list[Block]:
    sens = report.get("sensitivity")
    if not isinstance(sens, dict) or not sens:
        return []
    out = [Block("h2", lab["sensitivity"])]
    scenarios = sens.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        return [*out, Block("p", lab["sensitivity_json"])]
    out.append(
        Block(
            "p",
            lab["sensitivity_intro"].format(
                households=fmt_number(sens.get("households_estimated")),
                buildings=fmt_number(sens.get("buildings_estimated")),
                size=fmt_number(sens.get("dwelling_size_m2")),
            ),
        )
    )
    grids = int((report.get("summary") or {}).get("grids") or 0)
    rows = []
    worst = 0
    for name, v in sorted(scenarios.items(), key=lambda kv: float(kv[0].lstrip("×x") or 1) != 1.0):
        within = v.get("grids_within_bounds")
        n_in = round(float(within) * grids) if within is not None else None
        if n_in is not None:
            worst = max(worst, grids - n_in)
        rows.append(
            [
                _scenario_name(name, lab),
                fmt_number(v.get("dwelling_size_m2")),
                fmt_number(v.get("households")),
                f"{fmt_number(v.get('grid_households_min'))}–"
                f"{fmt_number(v.get('grid_households_max'))}",
                "–" if n_in is None else f"{n_in} / {grids}",
            ]
        )
    out.append(
        Block(
            "table",
            headers=[
                lab["scenario"],
                lab["dwelling_size"],
                lab["households"],
                lab["grid_range"],
                lab["grids_in_bounds"],
            ],
            rows=rows,
        )
    )
    h = report["quality"].get("households") if report["quality"].get("ran") else None
    lo = fmt_number(h["min_allowed"]) if h else "–"
    hi = fmt_number(h["max_allowed"]) if h else "–"
    if worst:
        out.append(Block("p", lab["sensitivity_bad"].format(n=worst, lo=lo, hi=hi)))
    else:
        out.append(Block("p", lab["sensitivity_ok"].format(lo=lo, hi=hi)))
    return out


def report_document(
    report: dict[str, Any],
    *,
    lang: str = "zh",
    charts: list[str] | None = None,
    charts_note: str | None = None,
) -> list[Block]:
    """The report as blocks, every word in ``lang``.

    Parameters
    ----------
    report
        From :func:`~gridplan.output.report.write.build_report`.
    lang
        ``"zh"`` or ``"en"``.
    charts
        File names of charts to show, relative to the report.
    charts_note
        A sentence shown instead of charts (why there are none).
    """
    lab = labels_in("report", lang)
    doc = _heading(report, lang, lab)
    doc += _decided(report, lang, lab)
    doc += _attention(report, lang, lab)
    doc += _communities(report, lang, lab)
    doc += _split_buildings(report, lang, lab)
    doc += _staffing(report, lang, lab)
    doc += _coverage(report, lang, lab)
    doc += _siting(report, lang, lab)
    doc += _replan(report, lang, lab)
    if report.get("household_review"):
        names = _community_names(report)
        doc += review_blocks(report["household_review"], lang=lang, names=names)
    doc += _sensitivity(report, lang, lab)
    if report.get("requests"):  # gridplan run --requests LEDGER
        from gridplan.output.report.requests import requests_blocks

        doc += requests_blocks(report["requests"], lang)
    if charts or charts_note:
        doc.append(Block("h2", lab["charts"]))
        titles = {
            "households_per_grid": lab["chart_grids"],
            "coverage_by_category": lab["chart_coverage"],
        }
        doc += [
            Block("img", text=c, items=[titles.get(Path(c).stem, lab["charts"])])
            for c in charts or []
        ]
        if charts_note:
            doc.append(Block("p", charts_note))
    doc.append(Block("p", lab["footer"]))
    return doc
