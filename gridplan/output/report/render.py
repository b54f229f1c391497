"""The Markdown text of the plan report (:func:`render_markdown`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gridplan.i18n import category_label, labels_in, role_label, tier_label
from gridplan.output.report.common import minutes
from gridplan.output.report.review import review_lines

__all__ = ["render_markdown"]

#: Grids listed by name in the Markdown (worst coverage first); the JSON lists all.
WORST_GRIDS_SHOWN = 20
#: Vacancies listed in the Markdown; the JSON and the staff roster list all.
VACANCIES_SHOWN = 30


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        shown = ", ".join(_fmt(v) for v in value[:12])
        return shown + (f", … ({len(value)})" if len(value) > 12 else "")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += [
        "| " + " | ".join(v if isinstance(v, str) else _fmt(v) for v in row) + " |" for row in rows
    ]
    return [*out, ""]


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and len(out) < 200:
            out += _flatten(v, key + ".")
        else:
            out.append((key, v))
    return out


def _is_table(value: Any) -> bool:
    """A dict of dicts of plain values (rendered as a table)."""
    return (
        isinstance(value, dict)
        and len(value) > 1
        and all(
            isinstance(row, dict) and all(not isinstance(v, dict | list) for v in row.values())
            for row in value.values()
        )
    )


def _generic(d: dict[str, Any], lab: dict[str, str], *, limit: int = 60) -> list[str]:
    """Metrics no section shows by name: dicts of rows as tables, the rest as a list."""
    tables = {k: v for k, v in d.items() if _is_table(v)}
    items = _flatten({k: v for k, v in d.items() if k not in tables})
    if not items and not tables:
        return []
    lines = [f"{lab['other']}:", ""]
    lines += [f"- `{k}`: {_fmt(v)}" for k, v in items[:limit]]
    if len(items) > limit:
        lines.append(f"- … ({len(items) - limit})")
    if items:
        lines.append("")
    for key, rows in tables.items():
        cols = list(dict.fromkeys(c for row in rows.values() for c in row))[:10]
        lines += [f"`{key}`:", ""]
        lines += _table(
            ["", *[f"`{c}`" for c in cols]],
            [[f"`{name}`", *[row.get(c) for c in cols]] for name, row in rows.items()],
        )
    return lines


def _flag_lines(flags: list[str], lab: dict[str, str]) -> list[str]:
    if not flags:
        return [lab["no_flags"], ""]
    return [f"{lab['flags']}:", "", *[f"- {f}" for f in flags], ""]


def render_markdown(
    report: dict[str, Any],
    *,
    lang: str = "en",
    charts: list[str] | None = None,
    charts_note: str | None = None,
) -> str:
    """The Markdown text of a report built by :func:`build_report`.

    Parameters
    ----------
    report
        From :func:`build_report`.
    lang
        ``"en"`` or ``"zh"``.
    charts
        File names of charts to show, relative to the report.
    charts_note
        A sentence shown instead of charts (why there are none).
    """
    lab = labels_in("report", lang)
    L: list[str] = [f"# {lab['title']}", ""]
    L += [
        lab["generated"].format(
            version=report.get("gridplan_version") or "?", seed=report.get("seed")
        ),
        "",
    ]

    s = report["summary"]
    L += [f"## {lab['summary']}", ""]
    rows = [
        [lab[k], s[k]]
        for k in (
            "communities",
            "buildings",
            "residential_buildings",
            "households",
            "households_estimated",
            "buildings_estimated",
            "population",
            "grids",
        )
        if k in s
    ]
    rows.append([lab["units_n"], s.get("units", 0)])
    L += _table([lab["figure"], lab["value"]], rows)

    q = report["quality"]
    L += [f"## {lab['quality']}", ""]
    if not q["ran"]:
        L += [lab["not_run"].format(command=q["command"]), ""]
    else:
        h = q["households"]
        rows = [
            [lab["target"].format(lo=h["min_allowed"], hi=h["max_allowed"]), h["target"]],
            [lab["hh_min"], h["min"]],
            [lab["hh_max"], h["max"]],
            [lab["hh_mean"], h["mean"]],
            [lab["hh_std"], h["std"]],
            [lab["within_10"], _pct(h["share_within_10pct"])],
        ]
        if "share_within_10pct_sizes_allow" in h:
            rows.append(
                [
                    lab["within_10_allow"].format(n=h["grids_size_forced"]),
                    _pct(h["share_within_10pct_sizes_allow"]),
                ]
            )
        rows += [
            [lab["within_bounds"], _pct(h["share_within_bounds"])],
            [lab["below_min"], h["below_min"] or "–"],
            [lab["above_max"], h["above_max"] or "–"],
        ]
        if "compactness" in q:
            c = q["compactness"]
            rows += [
                [lab["compactness_mean"], c["polsby_popper_mean"]],
                [
                    lab["compactness_min"],
                    f"{_fmt(c['polsby_popper_min'])} ({c['least_compact_grid']})",
                ],
            ]
        if "faces_merged" in q:
            rows.append([lab["faces_merged"], q["faces_merged"]])
        L += _table([lab["figure"], lab["value"]], rows)
        L += _flag_lines(q["flags"], lab)
        L += _generic(q["metrics"], lab)

    u = report["units"]
    L += [f"## {lab['units']}", ""]
    if not u["ran"]:
        L += [lab["not_run"].format(command=u["command"]), ""]
    else:
        rows = [
            [lab["unit_count"], u["count"]],
            [
                lab["unit_range"].format(lo=u["min_allowed"], hi=u["max_allowed"]),
                _pct(u["share_in_range"]),
            ],
            [lab["unit_min"], u["households_min"]],
            [lab["unit_max"], u["households_max"]],
            [lab["unit_mean"], u["households_mean"]],
        ]
        L += _table([lab["figure"], lab["value"]], rows)
        dist = " · ".join(f"{k}: {v}" for k, v in u["size_distribution"].items())
        L += [f"{lab['size_distribution']}: {dist}", ""]
        L += _flag_lines(u["flags"], lab)
        L += _generic(u["metrics"], lab)

    st = report["staffing"]
    L += [f"## {lab['staffing']}", ""]
    if not st["ran"]:
        L += [lab["not_run"].format(command=st["command"]), ""]
    else:
        L += _table(
            [lab["role"], lab["filled"], lab["vacant"]],
            [[role_label(r, lang), v["filled"], v["vacant"]] for r, v in st["roles"].items()],
        )
        posts = st.get("filled_vs_possible") or {}
        if posts:
            L += [f"### {lab['filled_vs_possible']}", ""]
            L += _table(
                [
                    lab["role"],
                    lab["posts"],
                    lab["filled"],
                    lab["possible"],
                    lab["vacant_higher_post"],
                    lab["vacant_same_role"],
                    lab["vacant_out_of_reach"],
                ],
                [
                    [
                        role_label(r, lang) + ("" if v.get("bound") != "upper" else " *"),
                        v.get("posts"),
                        v.get("filled"),
                        v.get("possible"),
                        v.get("vacant_higher_post"),
                        v.get("vacant_same_role"),
                        v.get("vacant_out_of_reach"),
                    ]
                    for r, v in posts.items()
                ],
            )
            L += [lab["possible_note"], ""]
        party = st["party_share"]
        L += [f"{lab['party_share']}: {lab['party_unknown'] if party is None else _pct(party)}", ""]
        if st["vacancies"]:
            shown = st["vacancies"][:VACANCIES_SHOWN]
            L += [f"### {lab['vacancies']} ({len(st['vacancies'])})", ""]
            L += _table(
                [lab["role"], lab["target_id"], lab["reason"]],
                [
                    [
                        role_label(v.get("role", ""), lang),
                        v.get("target_id", ""),
                        v.get("reason", ""),
                    ]
                    for v in shown
                ],
            )
            if len(st["vacancies"]) > len(shown):
                L += [lab["more_vacancies"].format(n=len(st["vacancies"]) - len(shown)), ""]
        L += _solver_lines(st["solver"], lab, "staffing")
        L += _flag_lines(st["flags"], lab)
        L += _generic(st["metrics"], lab)

    cv = report["coverage"]
    L += [f"## {lab['coverage']}", ""]
    if not cv["ran"]:
        L += [lab["not_run"].format(command=cv["command"]), ""]
    else:
        L += _table(
            [lab["tier"], lab["category"], lab["households"], lab["covered"], lab["share"]],
            [
                [
                    tier_label(r["tier"], lang),
                    category_label(r["category"], lang),
                    r["households"],
                    r["households_covered"],
                    _pct(r["share"]),
                ]
                for r in cv["by_tier_category"]
            ],
        )
        if cv["by_grid"]:
            tiers = sorted({t for g in cv["by_grid"] for t in g["by_tier"]}, key=minutes)
            L += [f"### {lab['by_grid']}", ""]
            shown = cv["by_grid"][:WORST_GRIDS_SHOWN]
            L += _table(
                [lab["grid"], lab["all_checks"], *[tier_label(t, lang) for t in tiers]],
                [
                    [g["grid_id"], _pct(g["share"]), *[_pct(g["by_tier"].get(t)) for t in tiers]]
                    for g in shown
                ],
            )
            if len(cv["by_grid"]) > len(shown):
                L += [lab["more_grids"].format(n=len(cv["by_grid"]) - len(shown)), ""]
        L += _flag_lines(cv["flags"], lab)
        L += _generic(cv["metrics"], lab)

    si = report["siting"]
    L += [f"## {lab['siting']}", ""]
    if not si["ran"]:
        L += [lab["not_run"].format(command=si["command"]), ""]
    else:
        if si["sites"]:
            L += _table(
                [lab["site"], lab["category"], lab["tier"], lab["rank"], lab["newly_covered"]],
                [
                    [
                        r.get("site_id", ""),
                        category_label(str(r.get("category", "")), lang),
                        tier_label(str(r.get("tier", "")), lang) if r.get("tier") else "–",
                        r.get("rank"),
                        r.get("households_newly_covered"),
                    ]
                    for r in si["sites"]
                ],
            )
        else:
            L += [lab["no_sites"], ""]
        L += _solver_lines(si["solver"], lab, "siting")
        L += _flag_lines(si["flags"], lab)
        L += _generic(si["metrics"], lab)

    rp = report["replan"]
    L += [f"## {lab['replan']}", ""]
    if not rp["ran"]:
        L += [lab["not_replan"].format(command=rp["command"]), ""]
    else:
        L += _parameter_lines(rp, lab)
        L += _replan_lines({k: v for k, v in rp.items() if k not in _NOT_IN_REPLAN_TABLE}, lab)
        if rp.get("flows"):
            L += [f"{lab['flows']}:", ""]
            L += _table(
                [lab["from_grid"], lab["to_grid"], lab["households"]],
                [[f["from"], f["to"], f["households"]] for f in rp["flows"][:30]],
            )

    if report.get("household_review"):
        L += review_lines(report["household_review"], lang=lang)

    if "sensitivity" in report:
        L += [f"## {lab['sensitivity']}", ""]
        sens = report["sensitivity"]
        if isinstance(sens, dict):
            L += _table([lab["figure"], lab["value"]], [[f"`{k}`", v] for k, v in _flatten(sens)])
        else:
            L += [_fmt(sens), ""]

    if charts or charts_note:
        L += [f"## {lab['charts']}", ""]
        L += [f"![{Path(c).stem}]({c})" for c in charts or []]
        if charts_note:
            L.append(charts_note)
        L.append("")
    return "\n".join(L).rstrip() + "\n"


def _solver_lines(solver: dict[str, dict[str, Any]], lab: dict[str, str], stage: str) -> list[str]:
    if not solver:
        return []
    rows = [
        [
            k if k != "_" else stage,
            v.get("status"),
            v.get("objective"),
            v.get("bound"),
            _pct(v["gap"]) if isinstance(v.get("gap"), int | float) else v.get("gap"),
        ]
        for k, v in solver.items()
    ]
    return [
        f"{lab['solver']}:",
        "",
        *_table([lab["problem"], lab["status"], lab["objective"], lab["bound"], lab["gap"]], rows),
    ]


_NOT_IN_REPLAN_TABLE = ("ran", "flows", "parameters_changed", "parameters_not_in_old_plan")


def _parameter_lines(rp: dict[str, Any], lab: dict[str, str]) -> list[str]:
    """Whether the re-plan used the old plan's parameters; a warning line when it did not."""
    lines: list[str] = []
    changed = rp.get("parameters_changed")
    if isinstance(changed, list):
        if changed:
            pairs = "; ".join(
                f"`{c.get('key')}` {_fmt(c.get('old'))} → {_fmt(c.get('new'))}"
                for c in changed
                if isinstance(c, dict)
            )
            lines += [f"**{lab['params_changed']}**: {pairs}", ""]
        else:
            lines += [lab["params_same"], ""]
    missing = rp.get("parameters_not_in_old_plan")
    if isinstance(missing, list) and missing:
        keys = ", ".join(f"`{k}`" for k in missing)
        lines += [lab["params_missing"].format(keys=keys), ""]
    return lines


def _replan_lines(rp: dict[str, Any], lab: dict[str, str]) -> list[str]:
    """Before/after pairs as a table (keys ``before``/``after`` or ``*_before``/``*_after``)."""
    lines: list[str] = []
    before, after = rp.get("before"), rp.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        keys = list(dict.fromkeys([*before, *after]))
        lines += _table(
            [lab["figure"], "before", "after"],
            [[f"`{k}`", before.get(k), after.get(k)] for k in keys],
        )
        rest = {k: v for k, v in rp.items() if k not in ("before", "after")}
    else:
        pairs = sorted({k[: -len("_before")] for k in rp if k.endswith("_before")})
        if pairs:
            lines += _table(
                [lab["figure"], "before", "after"],
                [[f"`{p}`", rp.get(f"{p}_before"), rp.get(f"{p}_after")] for p in pairs],
            )
        rest = {k: v for k, v in rp.items() if not (k.endswith("_before") or k.endswith("_after"))}
    lines += _table([lab["figure"], lab["value"]], [[f"`{k}`", v] for k, v in _flatten(rest)])
    return lines
