"""The report of a community re-draw: ``communities.md``, ``communities.json`` and an
old-vs-new map (``communities_map.html``).

The Markdown and the JSON carry the same figures: residents per community, the moves between
old and new communities against the floor no re-draw can go below, the service centres and
every flag. Labels come from :data:`gridplan.i18n.LABELS` (section ``communities``).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely

from gridplan.i18n import labels_in
from gridplan.output.maps.assets import UNUSED_CSS, UNUSED_JS
from gridplan.output.maps.inline import inline_assets
from gridplan.partition.communities import CommunityPlan

__all__ = ["community_report", "write_community_map", "write_community_report"]

log = logging.getLogger(__name__)

_OLD_COLOUR = "#222222"
_MOVED_COLOUR = "#d62728"
_CENTRE_COLOUR = "#08306b"
_NONE_COLOUR = "#999999"
_BARRIER_COLOUR = "#000000"
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append({str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()})
    return out


def community_report(
    plan: CommunityPlan, centres: pd.DataFrame, *, parameters: dict[str, Any]
) -> dict[str, Any]:
    """The report's figures as one JSON-serialisable dict (what ``communities.json`` holds)."""
    comm = pd.DataFrame(plan.communities.drop(columns="geometry"))
    comm = comm.merge(centres, on="community_id", how="left", suffixes=("", "_centre"))
    return {
        "parameters": parameters,
        "metrics": plan.metrics,
        "communities": _records(comm),
        "moves": _records(plan.moves),
        "flags": list(plan.flags),
    }


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def render_community_markdown(report: dict[str, Any], *, lang: str = "en") -> str:
    """``communities.md`` from :func:`community_report`'s dict."""
    t = labels_in("communities", lang)
    m = report["metrics"]
    out = [f"# {t['title']}", ""]
    out.append(
        t["summary"].format(
            n=m["communities"],
            residents=m["residents"],
            target=m["target_residents"],
            lo=m["min_residents"],
            hi=m["max_residents"],
            share=round(100 * m["share_within_bounds"], 1),
            dev=round(100 * m["max_deviation"], 1),
        )
    )
    out.append("")
    out.append(
        t["residents_source"].format(
            population=m["residents_from_population"], households=m["residents_from_households"]
        )
    )
    if "residents_moved" in m:
        out += [
            "",
            f"## {t['moves']}",
            "",
            t["moves_summary"].format(
                moved=m["residents_moved"],
                floor=m["residents_had_to_move"],
                over=m["residents_over_bounds"],
                behind=m.get("residents_behind_barriers", 0),
                short=m["residents_short"],
                kept=m["kept_communities"],
                old=m["old_communities"],
            ),
            "",
        ]
        if report["moves"]:
            out.append(
                _md_table(
                    [t["old"], t["new"], t["residents"], t["households"], t["buildings"]],
                    [
                        [
                            r["old_community_id"],
                            r["new_community_id"],
                            r["residents"],
                            r["households"],
                            r["buildings"],
                        ]
                        for r in report["moves"]
                    ],
                )
            )
    out += ["", f"## {t['communities']}", ""]
    rows = []
    for r in report["communities"]:
        status = t.get(f"status_{r.get('status', 'none')}", str(r.get("status", "")))
        candidate = r.get("best_candidate_id") or ""
        if r.get("best_candidate_source") == "network":  # a proposal: where, not a cell id
            candidate = f"{t['network_point']} {float(r['lon']):.5f}, {float(r['lat']):.5f}"
        elif r.get("best_candidate_source") == "building":
            candidate = f"{t['building']} {candidate}"
        centre = r.get("centre_id") or (f"{t['best']} {candidate}" if candidate else "—")
        existing = (
            f"{r['existing_id']} ({int(r['existing_served'])})" if r.get("existing_id") else "—"
        )
        site = f"{candidate} ({int(r['best_candidate_served'])})" if candidate else "—"
        rows.append(
            [
                r["community_id"],
                r["name"],
                int(r["population_total"]),
                r["households_total"],
                r["old_community_id"] or "—",
                t["yes"] if r["kept"] else t["no"],
                status,
                centre,
                f"{round(100 * float(r.get('share_served') or 0), 1)} %",
                existing,
                site,
            ]
        )
    out.append(
        _md_table(
            [
                t["community"],
                t["name"],
                t["residents"],
                t["households"],
                t["from"],
                t["kept"],
                t["centre_status"],
                t["centre"],
                t["served"],
                t["existing_served"],
                t["site_served"],
            ],
            rows,
        )
    )
    if report["flags"]:
        out += ["", f"## {t['flags']}", ""]
        out += [f"- {f}" for f in _flag_lines(report, lang, t)]
    return "\n".join(out) + "\n"


def _flag_lines(report: dict[str, Any], lang: str, t: dict[str, str]) -> list[str]:
    """The flags as the report's language has them: the engine's own sentences in English;
    in another language, the communities out of bounds said in it and a pointer to the
    sentences in ``communities.json`` (the report stays in one language)."""
    if lang == "en":
        return list(report["flags"])
    m = report["metrics"]
    lo, hi = m["min_residents"], m["max_residents"]
    lines = [
        t["flag_out_of_bounds"].format(
            community=r["community_id"], residents=int(r["population_total"]), lo=lo, hi=hi
        )
        for r in report["communities"]
        if not lo <= int(r["population_total"]) <= hi
    ]
    lines.append(t["flag_more"].format(n=len(report["flags"])))
    return lines


def write_community_report(
    report: dict[str, Any], folder: str | Path, *, lang: str = "en"
) -> list[Path]:
    """Write ``communities.md`` and ``communities.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / "communities.md"
    md.write_text(render_community_markdown(report, lang=lang), encoding="utf-8")
    js = folder / "communities.json"
    js.write_text(
        json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )
    return [md, js]


def write_community_map(
    plan: CommunityPlan,
    old_communities: gpd.GeoDataFrame | None,
    centres: pd.DataFrame,
    path: str | Path,
    *,
    lang: str = "en",
    centre_points: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
) -> Path:
    """The old-vs-new map: new communities filled (residents and centre in the pop-up), old
    boundaries dashed on top, buildings that changed community marked (red dots: from which
    old community to which new), the service centres (or best candidates) as markers, each
    in its own layer; with ``barriers`` (lines: arterial roads, rivers, railways) those too.
    Neighbouring communities never share a colour."""
    t = labels_in("communities", lang)
    new = plan.communities.to_crs("EPSG:4326")
    new = new.merge(centres[["community_id", "status", "centre_id"]], on="community_id", how="left")
    new["colour"] = _colours(list(new.geometry))
    b = new.total_bounds
    m = folium.Map(tiles="OpenStreetMap", control_scale=True)
    m.default_js = [(n, u) for n, u in m.default_js if n not in UNUSED_JS]
    m.default_css = [(n, u) for n, u in m.default_css if n not in UNUSED_CSS]
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    layer = folium.FeatureGroup(name=t["new_layer"])
    cols = ["community_id", "name", "population_total", "households_total", "old_community_id"]
    folium.GeoJson(
        new[[*cols, "status", "centre_id", "colour", "geometry"]],
        style_function=lambda f: {
            "fillColor": f["properties"]["colour"],
            "color": f["properties"]["colour"],
            "weight": 2,
            "fillOpacity": 0.35,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=[*cols, "status", "centre_id"],
            aliases=[
                t["community"],
                t["name"],
                t["residents"],
                t["households"],
                t["from"],
                t["centre_status"],
                t["centre"],
            ],
        ),
    ).add_to(layer)
    for row in new.itertuples(index=False):  # each community's id on the map
        at = row.geometry.representative_point()
        folium.Marker(
            [at.y, at.x],
            icon=folium.DivIcon(
                html=f'<div class="gp-comm-label">{row.community_id}</div>',
                icon_size=(80, 18),
                icon_anchor=(40, 9),
            ),
        ).add_to(layer)
    layer.add_to(m)
    m.get_root().header.add_child(  # type: ignore[attr-defined]
        folium.Element(
            "<style>.gp-comm-label{font:bold 13px sans-serif;text-align:center;"
            "color:#111;text-shadow:0 0 3px #fff,0 0 3px #fff;}</style>"
        )
    )
    if old_communities is not None and len(old_communities):
        extra = [c for c in ("residents_before", "residents_after") if c in old_communities]
        old = old_communities.to_crs("EPSG:4326")[["community_id", *extra, "geometry"]]
        old_layer = folium.FeatureGroup(name=t["old_layer"])
        folium.GeoJson(
            old,
            style_function=lambda _f: {
                "fill": False,
                "color": _OLD_COLOUR,
                "weight": 3,
                "dashArray": "8 6",
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["community_id", *extra],
                aliases=[t["old"], *(t[c] for c in extra)],
            ),
        ).add_to(old_layer)
        old_layer.add_to(m)
    if barriers is not None and len(barriers):
        bl = barriers.to_crs("EPSG:4326")[["kind", "geometry"]]
        bar_layer = folium.FeatureGroup(name=t["barrier_layer"])
        folium.GeoJson(
            bl,
            style_function=lambda _f: {"color": _BARRIER_COLOUR, "weight": 4, "opacity": 0.8},
            tooltip=folium.GeoJsonTooltip(fields=["kind"], aliases=[t["barrier"]]),
        ).add_to(bar_layer)
        bar_layer.add_to(m)
    b = plan.buildings
    moved = b[
        b["old_community_id"].notna()
        & (b["old_community_id"].astype(str) != b["community_id"].astype(str))
    ]
    if len(moved):
        pts = moved.assign(geometry=moved.geometry.representative_point()).to_crs("EPSG:4326")
        moved_layer = folium.FeatureGroup(name=t["moved_layer"])
        folium.GeoJson(
            pts[["building_id", "old_community_id", "community_id", "residents", "geometry"]],
            marker=folium.CircleMarker(radius=3, weight=1, fill=True),
            style_function=lambda _f: {
                "color": _MOVED_COLOUR,
                "fillColor": _MOVED_COLOUR,
                "fillOpacity": 0.9,
            },
            tooltip=folium.GeoJsonTooltip(
                fields=["building_id", "old_community_id", "community_id", "residents"],
                aliases=[t["building"], t["old"], t["new"], t["residents"]],
            ),
        ).add_to(moved_layer)
        moved_layer.add_to(m)
    if centre_points is not None and len(centre_points):
        cp = centre_points.to_crs("EPSG:4326")
        centre_layer = folium.FeatureGroup(name=t["centre_layer"])
        for row in cp.itertuples(index=False):
            status = t.get(f"status_{row.status}", str(row.status))
            folium.CircleMarker(
                [row.geometry.y, row.geometry.x],
                radius=8,
                weight=3,
                color="#ffffff",
                fill=True,
                fill_color=_NONE_COLOUR if row.status == "none" else _CENTRE_COLOUR,
                fill_opacity=1.0,
                tooltip=(
                    f"{row.community_id}: {status} {row.centre_id} "
                    f"({t['served']}: {row.residents_served})"
                ),
            ).add_to(centre_layer)
        centre_layer.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_stable_ids(inline_assets(m.get_root().render())), encoding="utf-8")
    return path


def _colours(geoms: list[Any]) -> list[str]:
    """A palette colour per community, none shared with a neighbour (greedy, in order)."""
    tree = shapely.STRtree(geoms)
    out: list[str] = []
    for i, g in enumerate(geoms):
        near = {int(j) for j in tree.query(g, predicate="intersects") if j < i}
        used = {out[j] for j in near}
        free = [c for c in _PALETTE if c not in used]
        out.append(free[0] if free else _PALETTE[i % len(_PALETTE)])
    return out


def _stable_ids(page: str) -> str:
    """Folium's random element ids numbered in order of appearance: the same map, the same
    bytes."""
    seen: dict[str, str] = {}

    def number(m: re.Match[str]) -> str:
        return seen.setdefault(m.group(0), f"{len(seen):032x}")

    return re.sub(r"(?<=_)[0-9a-f]{32}(?![0-9a-f])", number, page)
