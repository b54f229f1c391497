"""The overlays of ``map.html``: communities, grids, units, buildings, facilities, catchments,
uncovered households and recommended sites.

Private to :mod:`gridplan.output.maps`: :func:`gridplan.output.maps.make_map` builds a
:class:`Ctx` and calls
the ``_add_*`` builders, each adding its layer (and legend lines) to the map.
"""

from __future__ import annotations

import html
import math
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement, Template
from pyproj import CRS

from gridplan._errors import DataError
from gridplan.i18n import category_label, label, labels_in, tier_label
from gridplan.output.maps.assets import (
    CATEGORY_COLORS,
    CATEGORY_GLYPHS,
    COVERAGE_COLORS,
    PALETTE,
    Data,
    GeoLayer,
    feature_collection,
    js_json,
)
from gridplan.output.planfile import Plan
from gridplan.output.rosters import cell_text as _t
from gridplan.output.rosters import grid_workers, people_directory, person_phone

#: Above this many buildings (or units) the heavy layers start switched off.
BIG_PLAN_FEATURES = 3000

#: Decimal places kept in lon/lat (6 ≈ 0.1 m).
COORD_DECIMALS = 6


# --------------------------------------------------------------------------- geometry helpers


def _nonempty(plan: Plan, name: str) -> pd.DataFrame | None:
    df = plan.layers.get(name)
    if df is None or len(df) == 0:
        return None
    return df


def spatial(plan: Plan, name: str) -> gpd.GeoDataFrame | None:
    df = _nonempty(plan, name)
    if not isinstance(df, gpd.GeoDataFrame) or df.geometry.name not in df.columns:
        return None
    df = df[df.geometry.notna() & ~df.geometry.is_empty]
    if len(df) == 0:
        return None
    if df.crs is None:
        if plan.crs is None:
            msg = (
                f"map: layer {name!r} has no CRS and the plan none either; "
                "set plan.crs to the CRS of its layers"
            )
            raise DataError(msg)
        df = df.set_crs(plan.crs)
    return df


def _metric(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``gdf`` in a metric CRS (its own when projected, else its UTM zone)."""
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_projected:
        return gdf
    return gdf.to_crs(gdf.estimate_utm_crs())


def gcj02(geoms: np.ndarray) -> np.ndarray:
    from gridplan.offsets import wgs84_to_gcj02

    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
        return np.column_stack([np.asarray(lon), np.asarray(lat)])

    return shapely.transform(geoms, shift)


def _to_wgs84(gdf: gpd.GeoDataFrame, *, simplify_m: float, gcj: bool) -> np.ndarray:
    """Geometries simplified (metres), in lon/lat, shifted to GCJ-02 if asked, rounded."""
    metric = _metric(gdf)
    geoms = metric.geometry.to_numpy()
    if simplify_m > 0:
        kinds = shapely.get_type_id(geoms)
        lines_polys = kinds != 0  # points are left alone
        geoms = geoms.copy()
        geoms[lines_polys] = shapely.simplify(
            geoms[lines_polys], simplify_m, preserve_topology=True
        )
    lonlat = gpd.GeoSeries(geoms, crs=metric.crs).to_crs(4326).to_numpy()
    if gcj:
        lonlat = gcj02(lonlat)
    return shapely.transform(lonlat, lambda c: np.round(c, COORD_DECIMALS))


# --------------------------------------------------------------------------- text helpers


def _num(value: Any) -> str:
    text = _t(value)
    try:
        number = float(text)
    except ValueError:
        return text
    if math.isfinite(number) and number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.1f}"


def _float(value: Any) -> float:
    """``value`` as a float; 0 when missing or not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in rec.items()} for rec in df.to_dict("records")]


# --------------------------------------------------------------------------- coverage helpers

#: Per building: (covered share of its (tier, category) checks, the missing (tier, category)).
CoverageByBuilding = dict[str, tuple[float, list[tuple[str, str]]]]


def coverage_by_building(plan: Plan) -> CoverageByBuilding | None:
    """Per building: share of (tier, category) checks covered and the missing ones (by tier
    minutes, then category)."""
    cov = _nonempty(plan, "coverage")
    if cov is None or not {"building_id", "covered"} <= set(cov.columns):
        return None
    bids = cov["building_id"].astype(str).tolist()
    covered = cov["covered"].fillna(False).astype(bool).tolist()
    tiers = cov["tier"].tolist() if "tier" in cov.columns else [""] * len(cov)
    cats = cov["category"].tolist() if "category" in cov.columns else [""] * len(cov)
    counts: dict[str, list[int]] = {}
    missing: dict[str, list[tuple[str, str]]] = {}
    for bid, ok, tier, cat in zip(bids, covered, tiers, cats, strict=True):
        tally = counts.setdefault(bid, [0, 0])
        tally[0] += int(ok)
        tally[1] += 1
        if not ok:
            missing.setdefault(bid, []).append((_t(tier), _t(cat)))
    # missing pairs by tier minutes, then category, whatever the order of the rows
    return {
        bid: (
            ok / total if total else float("nan"),
            sorted(missing.get(bid, []), key=lambda p: (_tier_minutes(p[0]), p[1])),
        )
        for bid, (ok, total) in counts.items()
    }


def _coverage_class(share: float | None) -> str:
    if share is None or (isinstance(share, float) and math.isnan(share)):
        return "cov_unknown"
    if share >= 1.0 - 1e-9:
        return "cov_all"
    return "cov_none" if share <= 1e-9 else "cov_part"


# --------------------------------------------------------------------------- layers


class Ctx:
    """What every layer builder needs."""

    def __init__(self, plan: Plan, lang: str, simplify_m: float, gcj: bool) -> None:
        self.plan = plan
        self.lang = lang
        self.simplify_m = simplify_m
        self.gcj = gcj
        self.people = people_directory(plan)
        self.big = any(
            len(df) > BIG_PLAN_FEATURES
            for name in ("buildings", "units", "unit_members")
            if (df := _nonempty(plan, name)) is not None
        )
        #: (JS name of the layer the lines describe, or None for always; legend HTML)
        self.legend: list[tuple[str | None, str]] = []
        self.missing_labels: list[str] = []
        self._missing_index: dict[tuple[str, str], int] = {}

    def missing(self, pairs: list[tuple[str, str]]) -> list[int]:
        """Indices into :attr:`missing_labels` for (tier, category) pairs."""
        out = []
        for tier, cat in pairs:
            key = (tier, cat)
            if key not in self._missing_index:
                self._missing_index[key] = len(self.missing_labels)
                self.missing_labels.append(
                    f"{category_label(cat, self.lang)} ({tier_label(tier, self.lang)})"
                )
            out.append(self._missing_index[key])
        return out

    def add_legend(self, lines: str, layer: folium.map.Layer | None = None) -> None:
        """Legend lines, shown only while ``layer`` is on the map (always when ``None``)."""
        self.legend.append((layer.get_name() if layer is not None else None, lines))

    def missing_pairs(self) -> list[tuple[int, str, str]]:
        """(index into :attr:`missing_labels`, tier, category) of every pair seen, by tier
        minutes then category."""
        return sorted(
            ((i, t, c) for (t, c), i in self._missing_index.items()),
            key=lambda x: (_tier_minutes(x[1]), x[2]),
        )

    def lonlat(self, gdf: gpd.GeoDataFrame) -> np.ndarray:
        return _to_wgs84(gdf, simplify_m=self.simplify_m, gcj=self.gcj)

    def label(self, key: str, **fmt: object) -> str:
        return label(key, self.lang, **fmt)

    def person(self, pid: str) -> str | None:
        """``name (masked phone)``, the phone ``无`` / ``none`` when the roster gives none;
        ``None`` for a vacancy (shown as "vacant")."""
        if not pid:
            return None
        if not self.people:  # no roster of people in the plan: ids only
            return pid
        person = self.people.get(pid)
        name = person.name if person is not None else pid
        return f"{name} ({person_phone(pid, self.people, self.lang)})"

    def spec(self, keys: list[str], **extra: Any) -> dict[str, Any]:
        return {"keys": [self.label(k) for k in keys], "vacant": self.label("vacant"), **extra}


def _style_from_props() -> str:
    return "function (f) { return f.properties.style; }"


def add_communities(m: folium.Map, ctx: Ctx) -> None:
    gdf = spatial(ctx.plan, "communities")
    if gdf is None:
        return
    names = gdf["name"] if "name" in gdf.columns else gdf["community_id"]
    props = [
        {"tip": html.escape(_t(n) or _t(c))}
        for c, n in zip(gdf["community_id"], names, strict=True)
    ]
    GeoLayer(
        ctx.label("communities"),
        data=feature_collection(ctx.lonlat(gdf), props),
        style_js="function () { return {color: '#222', weight: 3, dashArray: '6 4', "
        "fill: false}; }",
    ).add_to(m)


def add_old_communities(m: folium.Map, ctx: Ctx) -> None:
    """The communities before a re-draw (a ``gridplan communities`` dataset's
    ``communities_old``): grey dotted outlines under the new ones, residents before and
    after."""
    gdf = spatial(ctx.plan, "communities_old")
    if gdf is None:
        return
    t = labels_in("communities", ctx.lang)
    names = gdf["name"] if "name" in gdf.columns else gdf["community_id"]
    props = []
    for i, (c, n) in enumerate(zip(gdf["community_id"], names, strict=True)):
        tip = f"{_t(n) or _t(c)} ({_t(c)})"
        for col in ("residents_before", "residents_after"):
            if col in gdf.columns:
                tip += f" · {t[col]} {_num(gdf[col].iloc[i])}"
        props.append({"tip": html.escape(tip)})
    GeoLayer(
        ctx.label("communities_old"),
        data=feature_collection(ctx.lonlat(gdf), props),
        style_js="function () { return {color: '#777', weight: 2, dashArray: '2 6', "
        "fill: false}; }",
    ).add_to(m)


def _tier_minutes(tier: str) -> int:
    digits = "".join(ch for ch in str(tier) if ch.isdigit())
    return int(digits) if digits else 0


def _grid_coverage(
    plan: Plan, by_building: CoverageByBuilding | None
) -> dict[str, dict[str, float]]:
    """Grid id -> tier -> household-weighted covered share."""
    cov = _nonempty(plan, "coverage")
    buildings = _nonempty(plan, "buildings")
    if cov is None or buildings is None or by_building is None:
        return {}
    if not {"grid_id", "building_id"} <= set(buildings.columns) or "tier" not in cov.columns:
        return {}
    b = pd.DataFrame(
        {
            "building_id": buildings["building_id"].astype(str),
            "grid_id": buildings["grid_id"].astype(str),
            "households": pd.to_numeric(
                buildings.get("households", pd.Series(1, index=buildings.index)), errors="coerce"
            ).fillna(0),
        }
    )
    c = pd.DataFrame(
        {
            "building_id": cov["building_id"].astype(str),
            "tier": cov["tier"].astype(str),
            "covered": cov["covered"].fillna(False).astype(bool),
        }
    ).merge(b, on="building_id", how="inner")
    c = c[c["households"] > 0]
    if len(c) == 0:
        return {}
    c["hh_cov"] = c["households"] * c["covered"]
    agg = c.groupby(["grid_id", "tier"])[["hh_cov", "households"]].sum().reset_index()
    out: dict[str, dict[str, float]] = {}
    for gid, tier, hc, hh in zip(
        agg["grid_id"], agg["tier"], agg["hh_cov"], agg["households"], strict=True
    ):
        out.setdefault(str(gid), {})[str(tier)] = float(hc) / float(hh)
    return out


#: Units listed by name in a grid's pop-up (the rest are counted).
UNITS_IN_GRID_POPUP = 40


def add_grids(
    m: folium.Map, ctx: Ctx, colors: dict[str, str], by_building: CoverageByBuilding | None
) -> GeoLayer | None:
    gdf = spatial(ctx.plan, "grids")
    if gdf is None:
        return None
    gdf = gdf.sort_values("grid_id")
    workers = grid_workers(ctx.plan)
    units_by_grid: dict[str, list[list[Any]]] = {}
    units = _nonempty(ctx.plan, "units")
    if units is not None and {"unit_id", "grid_id"} <= set(units.columns):
        for rec in _records(units.sort_values("unit_id")):
            units_by_grid.setdefault(_t(rec["grid_id"]), []).append(
                [
                    _t(rec["unit_id"]),
                    _num(rec.get("households")),
                    ctx.person(_t(rec.get("head_id"))),
                ]
            )
    communities = _nonempty(ctx.plan, "communities")
    community_names: dict[str, str] = {}
    if communities is not None and "name" in communities.columns:
        community_names = {
            _t(c): _t(n)
            for c, n in zip(communities["community_id"], communities["name"], strict=True)
        }
    cov = _grid_coverage(ctx.plan, by_building)
    unit_word = ctx.label("households_unit")
    sep = "" if ctx.lang == "zh" else " "
    props = []
    for rec in _records(gdf.drop(columns=gdf.geometry.name)):
        gid = _t(rec["grid_id"])
        cid = _t(rec.get("community_id"))
        title = f"{ctx.label('grid')} {gid}"
        if cid:
            title += f" · {community_names.get(cid) or cid}"
        values: list[Any] = [_num(rec.get("households"))]
        for key in ("population", "n_buildings", "n_units"):
            value = pd.to_numeric(pd.Series([rec.get(key)]), errors="coerce").iloc[0]
            values.append(_num(round(float(value))) if pd.notna(value) else False)
        values.append(ctx.person(_t(rec.get("head_id"))))
        wids = workers.get(gid, [])
        values.append([ctx.person(w) for w in wids] if wids else False)
        shares = cov.get(gid, {})
        values.append(
            " · ".join(
                f"{tier_label(t, ctx.lang)} {round(100 * s)}%"
                for t, s in sorted(shares.items(), key=lambda kv: _tier_minutes(kv[0]))
            )
            if shares
            else False
        )
        color = colors.get(gid, PALETTE[0])
        prop: dict[str, Any] = {
            "grid_id": gid,
            "tip": html.escape(f"{gid} · {_num(rec.get('households'))}{sep}{unit_word}"),
            "t": title,
            "v": values,
            "style": {"fillColor": color, "color": "#333", "weight": 1.5, "fillOpacity": 0.35},
        }
        unit_rows = units_by_grid.get(gid, [])
        if unit_rows:
            prop["x"] = unit_rows[:UNITS_IN_GRID_POPUP]
            prop["xn"] = len(unit_rows)
            if len(unit_rows) > UNITS_IN_GRID_POPUP:
                prop["xm"] = ctx.label("more_units", n=len(unit_rows) - UNITS_IN_GRID_POPUP)
        props.append(prop)
    spec = ctx.spec(
        [
            "households",
            "population",
            "n_buildings",
            "n_units",
            "grid_head",
            "workers",
            "covered_share",
        ],
        xh=[ctx.label("unit"), ctx.label("households"), ctx.label("unit_head")],
        xs=ctx.label("units"),
        tip={"sticky": True},
    )
    layer = GeoLayer(
        ctx.label("grids"),
        data=feature_collection(ctx.lonlat(gdf), props),
        spec=spec,
        style_js=_style_from_props(),
        popup=True,
        hover=True,
    )
    layer.add_to(m)
    ctx.add_legend(
        "<div>"
        + "".join(f"<i style='background:{c};opacity:.6'></i>" for c in PALETTE[:5])
        + f"{html.escape(ctx.label('legend_grids'))}</div>",
        layer,
    )
    return layer


def _floors(rec: dict[str, Any]) -> str:
    lo, hi = _t(rec.get("floor_from")), _t(rec.get("floor_to"))
    if lo and hi and lo != hi:
        return f"{lo}–{hi}"
    return lo or hi


def add_units(m: folium.Map, ctx: Ctx, colors: dict[str, str]) -> None:
    gdf = spatial(ctx.plan, "units")
    if gdf is None:
        return
    gdf = gdf.sort_values("unit_id")
    members = _nonempty(ctx.plan, "unit_members")
    by_unit: dict[str, list[list[Any]]] = {}
    if members is not None and "unit_id" in members.columns:
        sort_cols = [
            c for c in ("unit_id", "building_id", "entrance", "floor_from") if c in members.columns
        ]
        for rec in _records(members.sort_values(sort_cols)):
            by_unit.setdefault(_t(rec["unit_id"]), []).append(
                [
                    _t(rec.get("building_id")),
                    _t(rec.get("entrance")),
                    _floors(rec),
                    _num(rec.get("households")),
                ]
            )
    # Units of one big building share its footprint: they are drawn once, with one marker
    # whose pop-up lists every unit of the building (entrance and floors tell them apart).
    groups: dict[bytes, list[int]] = {}
    for i, key in enumerate(shapely.to_wkb(gdf.geometry.to_numpy())):
        groups.setdefault(key, []).append(i)
    records = _records(gdf.drop(columns=gdf.geometry.name))
    hh_word = ctx.label("households_unit")
    firsts, outline, points = [], [], []
    for rows in groups.values():
        recs = [records[i] for i in rows]
        uids = [_t(r["unit_id"]) for r in recs]
        gid = _t(recs[0].get("grid_id"))
        hh = sum(_float(r.get("households")) for r in recs)
        color = colors.get(gid, PALETTE[0])
        if len(uids) == 1:
            tip = f"{uids[0]} · {_num(hh)} {hh_word}"
            title = f"{ctx.label('unit')} {uids[0]}"
        else:
            tip = f"{uids[0]} … {uids[-1]} ({len(uids)}) · {_num(hh)} {hh_word}"
            title = f"{ctx.label('units')} {uids[0]} … {uids[-1]} ({len(uids)})"
        firsts.append(rows[0])
        outline.append({"tip": html.escape(tip), "c": color})
        heads = [ctx.person(_t(r.get("head_id"))) for r in recs]
        prop: dict[str, Any] = {
            "c": color,
            "t": title,
            "v": [gid, _num(hh), heads if len(heads) > 1 else heads[0]],
        }
        table = [
            [uid, head, *row]
            for uid, head in zip(uids, heads, strict=True)
            for row in by_unit.get(uid, [[None, None, None, None]])
        ]
        if by_unit:
            prop["x"] = table
        points.append(prop)
    shapes = gdf.iloc[firsts]
    # Outlines carry no fill, so a click inside a unit reaches the grid below; the units'
    # pop-up opens from a small marker at the shape's representative point.
    group = folium.FeatureGroup(name=ctx.label("units"), show=not ctx.big)
    GeoLayer(
        None,
        data=feature_collection(ctx.lonlat(shapes), outline),
        style_js="function (f) { return {color: f.properties.c, weight: 1.5, fill: false, "
        "dashArray: '4 3'}; }",
        control=False,
        lazy=ctx.big,
    ).add_to(group)
    reps = shapes.set_geometry(shapes.geometry.representative_point())
    GeoLayer(
        None,
        data=feature_collection(ctx.lonlat(reps), points),
        spec=ctx.spec(
            ["grid", "households", "unit_head"],
            xh=[
                ctx.label(k)
                for k in ("unit", "unit_head", "building", "entrance", "floors", "households")
            ],
            xt=ctx.label("members"),
        ),
        point_js="function (f, ll) { return L.circleMarker(ll, {radius: 4, color: '#333', "
        "weight: 1, fillColor: f.properties.c, fillOpacity: 0.9}); }",
        tooltip=None,
        popup=True,
        control=False,
        lazy=ctx.big,
    ).add_to(group)
    group.add_to(m)


_COVERAGE_STYLE = (
    "function (f) { return {weight: 0.5, color: '#444', fillOpacity: 0.7, "
    "fillColor: %s[f.properties.k]}; }"
)


def add_buildings(
    m: folium.Map, ctx: Ctx, colors: dict[str, str], by_building: CoverageByBuilding | None
) -> None:
    gdf = spatial(ctx.plan, "buildings")
    if gdf is None:
        return
    gdf = gdf.sort_values("building_id")
    geoms = ctx.lonlat(gdf)
    ids = [_t(b) for b in gdf["building_id"]]
    hh = gdf["households"] if "households" in gdf.columns else pd.Series("", index=gdf.index)
    est = (
        gdf["households_estimated"].fillna(False).astype(bool)
        if "households_estimated" in gdf.columns
        else pd.Series(False, index=gdf.index)
    )
    gids = gdf["grid_id"] if "grid_id" in gdf.columns else pd.Series("", index=gdf.index)
    est_note = f" ({ctx.label('households_estimated')})"
    classes = list(COVERAGE_COLORS)
    props = []
    for bid, h, e, g in zip(ids, hh, est, gids, strict=True):
        tip = f"{bid} · {_num(h)} {ctx.label('households_unit')}{est_note if e else ''}"
        if _t(g):
            tip += f" · {ctx.label('grid')} {_t(g)}"
        prop: dict[str, Any] = {"tip": html.escape(tip), "c": colors.get(_t(g), "#999999")}
        if by_building is not None:
            share, missing = by_building.get(bid, (float("nan"), []))
            prop["k"] = classes.index(_coverage_class(share))
            if not math.isnan(share):
                prop["s"] = round(100 * share)
            if missing:
                prop["m"] = ctx.missing(missing)
        props.append(prop)
    shared = Data(feature_collection(geoms, props))
    m.add_child(shared)
    GeoLayer(
        ctx.label("buildings_by_grid"),
        shared=shared,
        style_js="function (f) { return {weight: 0.5, color: '#444', fillOpacity: 0.7, "
        "fillColor: f.properties.c}; }",
        show=not ctx.big,
    ).add_to(m)
    if by_building is None:
        return
    palette = js_json([COVERAGE_COLORS[k] for k in classes])
    by_coverage = GeoLayer(
        ctx.label("buildings_by_coverage"),
        shared=shared,
        style_js=_COVERAGE_STYLE % palette,
        tooltip_js="gp.covtip",
        spec={
            "lk": ctx.missing_labels,
            "cs": ctx.label("covered_share"),
            "ms": ctx.label("missing_services"),
        },
        show=False,
    )
    by_coverage.add_to(m)
    ctx.add_legend(
        "".join(
            f"<div><i style='background:{COVERAGE_COLORS[k]}'></i>{html.escape(ctx.label(k))}</div>"
            for k in ("cov_all", "cov_part", "cov_none", "cov_unknown")
        ),
        by_coverage,
    )


#: Circle colours of the uncovered households, by tier (shortest walk first).
TIER_COLORS: tuple[str, ...] = ("#d73027", "#f46d43", "#7b3294", "#2166ac")

_UNCOVERED_POINT = (
    "function (f, ll) { return L.circleMarker(ll, {radius: f.properties.r, "
    "color: '#3d0000', weight: 1, fillColor: %s, fillOpacity: 0.75}); }"
)


def add_uncovered(m: folium.Map, ctx: Ctx, by_building: CoverageByBuilding | None) -> None:
    """Who is missing what: one layer per tier (the households missing any category of that
    tier's basket, off at open), and one layer whose tier and category the user picks in a
    drop-down, on at open with the category the fewest households miss. Circles are sized by
    households."""
    gdf = spatial(ctx.plan, "buildings")
    if gdf is None or by_building is None:
        return
    gdf = gdf.assign(_bid=gdf["building_id"].astype(str))
    gdf = gdf[gdf["_bid"].isin(list(by_building))]
    if "households" in gdf.columns:
        gdf = gdf[pd.to_numeric(gdf["households"], errors="coerce").fillna(0) > 0]
    gdf = gdf[[len(by_building[b][1]) > 0 for b in gdf["_bid"]]]
    if len(gdf) == 0:
        return
    gdf = gdf.sort_values("_bid")
    points = gdf.set_geometry(gdf.geometry.representative_point())
    hh = (
        pd.to_numeric(gdf["households"], errors="coerce").fillna(0)
        if "households" in gdf.columns
        else pd.Series(1, index=gdf.index)
    )
    props = []
    missing_hh: dict[int, float] = {}  # pair index -> households missing it
    for bid, h in zip(gdf["_bid"], hh, strict=True):
        missing = ctx.missing(by_building[bid][1])
        for i in missing:
            missing_hh[i] = missing_hh.get(i, 0.0) + float(h)
        props.append(
            {
                "t": f"{ctx.label('building')} {bid}",
                "v": [_num(h), {"k": missing}],
                "m": missing,
                "r": round(min(12.0, 2.5 + math.sqrt(float(h)) / 2), 1),
            }
        )
    shared = Data(feature_collection(ctx.lonlat(points), props))
    m.add_child(shared)
    pairs = ctx.missing_pairs()
    tiers = sorted({t for _, t, _ in pairs}, key=_tier_minutes)
    spec = ctx.spec(["households", "missing_services"], lk=ctx.missing_labels)
    for n, tier in enumerate(tiers):
        wanted = [i for i, t, _ in pairs if t == tier]
        colour = TIER_COLORS[n % len(TIER_COLORS)]
        layer = GeoLayer(
            ctx.label("uncovered_tier", tier=tier_label(tier, ctx.lang)),
            shared=shared,
            spec=spec,
            filter_js=f"function (f) {{ return gp.any(f.properties.m, {js_json(wanted)}); }}",
            point_js=_UNCOVERED_POINT % js_json(colour),
            tooltip=None,
            popup=True,
            show=False,
        )
        layer.add_to(m)
        ctx.add_legend(
            f"<div><i style='background:{colour};border-radius:50%'></i>"
            f"{html.escape(ctx.label('uncovered_tier', tier=tier_label(tier, ctx.lang)))}</div>",
            layer,
        )
    # At open: the one (tier, category) the fewest households miss, so the map opens on gaps
    # that stand out rather than on a sea of dots; every tier basket and category a click away.
    default = min(pairs, key=lambda p: (missing_hh.get(p[0], 0.0), _tier_minutes(p[1]), p[2]))[0]
    options = [
        (i, f"{tier_label(t, ctx.lang)} · {category_label(c, ctx.lang)}") for i, t, c in pairs
    ]
    picked = GeoLayer(
        ctx.label("uncovered"),
        shared=shared,
        spec=spec,
        filter_js=(
            "function (f) { return gp.any(f.properties.m, "
            f"[gp.picked === undefined ? {default} : gp.picked]); }}"
        ),
        point_js=_UNCOVERED_POINT % js_json("#b2182b"),
        tooltip=None,
        popup=True,
        show=True,
        lazy=False,
    )
    picked.add_to(m)
    m.add_child(_CategoryPicker(picked, shared, ctx.label("pick_category"), options, default))
    ctx.add_legend(
        "<div><i style='background:#b2182b;border-radius:50%'></i>"
        f"<span class='gp-picked-name'>{html.escape(dict(options)[default])}</span></div>",
        picked,
    )


class _CategoryPicker(MacroElement):
    """A drop-down (under the search box) choosing the tier and category the "uncovered
    households" layer shows; choosing one switches the layer on, the blank choice off."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function () {
  var map = {{ this._parent.get_name() }}, layer = {{ this.layer }}, data = {{ this.data }};
  gp.picked = {{ this.default }};
  var box = L.control({position: 'topleft'});
  box.onAdd = function () {
    var div = L.DomUtil.create('div', 'gp-picker leaflet-bar');
    var sel = L.DomUtil.create('select', '', div);
    sel.setAttribute('aria-label', {{ this.title }});
    var opts = [[-1, {{ this.title }}]].concat({{ this.options }});
    opts.forEach(function (o) {
      var opt = document.createElement('option');
      opt.value = o[0]; opt.textContent = o[1]; sel.appendChild(opt);
    });
    sel.value = String(gp.picked);
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.on(sel, 'change', function () {
      gp.picked = parseInt(sel.value, 10);
      layer.clearLayers();
      if (gp.picked < 0) { map.removeLayer(layer); return; }
      layer.addData(data);
      if (!map.hasLayer(layer)) { map.addLayer(layer); }
      document.querySelectorAll('.gp-picked-name').forEach(function (el) {
        el.textContent = sel.options[sel.selectedIndex].text;
      });
      gp.legend(map);
    });
    return div;
  };
  box.addTo(map);
})();
{% endmacro %}
"""
    )

    def __init__(
        self,
        layer: GeoLayer,
        data: Data,
        title: str,
        options: list[tuple[int, str]],
        default: int,
    ) -> None:
        super().__init__()
        self._name = "GpPicker"
        self.layer = layer.get_name()
        self.data = data.get_name()
        self.title = js_json(title)
        self.options = js_json([[i, text] for i, text in options])
        self.default = int(default)


_ICON_JS = (
    "function (f, ll) { var s = %s[f.properties.c] || ['#555555', '?']; "
    "return L.marker(ll, {icon: L.divIcon({className: 'gp-divicon', iconSize: [22, 22], "
    'iconAnchor: [11, 11], html: \'<div class="gp-icon" style="background:\' + s[0] + '
    "'\">' + gp.esc(s[1]) + '</div>'})}); }"
)


def add_facilities(m: folium.Map, ctx: Ctx) -> None:
    gdf = spatial(ctx.plan, "facilities")
    if gdf is None or "category" not in gdf.columns:
        return
    gdf = gdf.sort_values(["category", "facility_id"])
    points = gdf.set_geometry(gdf.geometry.representative_point())
    names = gdf["name"] if "name" in gdf.columns else gdf["facility_id"]
    cats = [_t(c) for c in gdf["category"]]
    props = [
        {"c": c, "tip": html.escape(f"{_t(n) or _t(fid)} · {category_label(c, ctx.lang)}")}
        for c, n, fid in zip(cats, names, gdf["facility_id"], strict=True)
    ]
    icons = {
        c: [CATEGORY_COLORS.get(c, "#555555"), CATEGORY_GLYPHS[ctx.lang].get(c, c[:1].upper())]
        for c in sorted(set(cats))
    }
    layer = GeoLayer(
        ctx.label("facilities"),
        data=feature_collection(ctx.lonlat(points), props),
        point_js=_ICON_JS % js_json(icons),
    )
    layer.add_to(m)
    legend = "".join(
        f"<div><i style='background:{color};border-radius:50%'></i>"
        f"{html.escape(category_label(c, ctx.lang))}</div>"
        for c, (color, _glyph) in icons.items()
    )
    ctx.add_legend(f"<div><b>{html.escape(ctx.label('facilities'))}</b></div>{legend}", layer)


def add_catchments(m: folium.Map, ctx: Ctx) -> None:
    gdf = spatial(ctx.plan, "catchments")
    if gdf is None:
        return
    if "tier" not in gdf.columns:
        if "minutes" not in gdf.columns:
            return
        gdf = gdf.assign(tier=[f"{_t(v)}min" for v in gdf["minutes"]])
    for tier in sorted(gdf["tier"].astype(str).unique(), key=_tier_minutes):
        part = gdf[gdf["tier"].astype(str) == tier]
        sort_cols = [c for c in ("category", "facility_id") if c in part.columns]
        if sort_cols:
            part = part.sort_values(sort_cols)
        cats = part["category"] if "category" in part.columns else pd.Series("", index=part.index)
        fids = part["facility_id"] if "facility_id" in part.columns else cats
        props = [
            {
                "tip": html.escape(
                    f"{category_label(_t(c), ctx.lang)} {_t(f)} · {tier_label(tier, ctx.lang)}"
                ),
                "c": CATEGORY_COLORS.get(_t(c), "#555555"),
            }
            for c, f in zip(cats, fids, strict=True)
        ]
        GeoLayer(
            ctx.label("catchments", tier=tier_label(tier, ctx.lang)),
            data=feature_collection(ctx.lonlat(part), props),
            style_js="function (f) { return {color: f.properties.c, weight: 1, "
            "fillColor: f.properties.c, fillOpacity: 0.08}; }",
            show=False,
        ).add_to(m)


def add_sites(m: folium.Map, ctx: Ctx) -> None:
    gdf = spatial(ctx.plan, "sites")
    if gdf is None:
        return
    if "site_id" not in gdf.columns:
        gdf = gdf.assign(site_id=[str(i + 1) for i in range(len(gdf))])
    sort_cols = [c for c in ("site_id", "rank", "category") if c in gdf.columns]
    gdf = gdf.sort_values(sort_cols)
    # A site recommended for several categories is one place: one marker, one row per category.
    firsts: list[int] = []
    props: list[dict[str, Any]] = []
    records = _records(gdf.drop(columns=gdf.geometry.name))
    by_site: dict[str, list[dict[str, Any]]] = {}
    for i, rec in enumerate(records):
        sid = _t(rec.get("site_id"))
        if sid not in by_site:
            firsts.append(i)
            by_site[sid] = []
        by_site[sid].append(rec)
    for sid, recs in by_site.items():
        rows = [
            [
                category_label(_t(r.get("category")), ctx.lang) if _t(r.get("category")) else "",
                tier_label(_t(r.get("tier")), ctx.lang) if _t(r.get("tier")) else "",
                _num(r.get("households_newly_covered")),
                _num(r.get("rank")),
            ]
            for r in recs
        ]
        newly = sum(_float(r.get("households_newly_covered")) for r in recs)
        props.append(
            {
                "t": f"{ctx.label('sites')}: {sid}",
                "v": [_num(newly)],
                "x": rows,
                "tip": html.escape(f"{sid} · {', '.join(r[0] for r in rows if r[0])}"),
            }
        )
    points = gdf.iloc[firsts]
    points = points.set_geometry(points.geometry.representative_point())
    layer = GeoLayer(
        ctx.label("sites"),
        data=feature_collection(ctx.lonlat(points), props),
        spec=ctx.spec(
            ["households_newly_covered"],
            xh=[ctx.label(k) for k in ("category", "tier", "households_newly_covered", "rank")],
        ),
        point_js="function (f, ll) { return L.marker(ll, {icon: L.divIcon({className: "
        "'gp-divicon', iconSize: [24, 24], iconAnchor: [12, 12], "
        "html: '<div class=\"gp-site\">★</div>'})}); }",
        popup=True,
    )
    layer.add_to(m)
    ctx.add_legend(
        f"<div><span style='color:#d4a000'>★</span> {html.escape(ctx.label('sites'))}</div>", layer
    )


def add_water(m: folium.Map, ctx: Ctx) -> None:
    """Open water (the plan's ``water`` layer: the water polygons cut out of the communities),
    blue, under the grids."""
    gdf = spatial(ctx.plan, "water")
    if gdf is None:
        return
    props = [{"tip": html.escape(ctx.label("water"))} for _ in range(len(gdf))]
    layer = GeoLayer(
        ctx.label("water"),
        data=feature_collection(ctx.lonlat(gdf), props),
        style_js="function () { return {color: '#3b7dc4', weight: 1, fillColor: '#8ec3ee', "
        "fillOpacity: 0.75}; }",
    )
    layer.add_to(m)
    ctx.add_legend(
        "<div><i style='background:#8ec3ee;border:1px solid #3b7dc4'></i>"
        f"{html.escape(ctx.label('water'))}</div>",
        layer,
    )


def add_split_buildings(m: folium.Map, ctx: Ctx) -> None:
    """Buildings split over grids (``grid_ids`` lists several): a thick red outline and a
    pop-up listing each grid's part (entrance, floors, households)."""
    gdf = spatial(ctx.plan, "buildings")
    if gdf is None or "grid_ids" not in gdf.columns:
        return
    ids = gdf["grid_ids"].astype("string").fillna("")
    gdf = gdf[ids.str.contains(";", regex=False).to_numpy()]
    if not len(gdf):
        return
    parts = _nonempty(ctx.plan, "building_parts")
    rows_of: dict[str, list[list[Any]]] = {}
    if parts is not None:
        for rec in _records(parts[parts["building_id"].astype(str).isin(gdf["building_id"])]):
            f0, f1 = rec.get("floor_from"), rec.get("floor_to")
            floors = "" if f0 is None or f1 is None else (f"{f0}" if f0 == f1 else f"{f0}–{f1}")
            ent = rec.get("entrance")
            rows_of.setdefault(str(rec["building_id"]), []).append(
                [_t(rec["grid_id"]), "" if ent is None else ent, floors, rec["households"]]
            )
    props = []
    for bid, h, gids in zip(gdf["building_id"], gdf["households"], gdf["grid_ids"], strict=True):
        grids = str(gids).replace(";", ", ")
        props.append(
            {
                "t": _t(bid),
                "v": [_num(h), grids],
                "x": rows_of.get(str(bid), []),
                "tip": html.escape(f"{_t(bid)} · {ctx.label('grid_list')}: {grids}"),
            }
        )
    layer = GeoLayer(
        ctx.label("split_buildings"),
        data=feature_collection(ctx.lonlat(gdf), props),
        spec=ctx.spec(
            ["households", "grid_list"],
            xh=[ctx.label(k) for k in ("grid", "entrance", "floors", "households")],
        ),
        style_js="function () { return {color: '#d7191c', weight: 4, fillColor: '#d7191c', "
        "fillOpacity: 0.15}; }",
        point_js="function (f, ll) { return L.circleMarker(ll, {radius: 7, color: '#d7191c', "
        "weight: 3}); }",
        popup=True,
    )
    layer.add_to(m)
    ctx.add_legend(
        "<div><i style='background:#fbd3d3;border:2px solid #d7191c'></i>"
        f"{html.escape(ctx.label('split_buildings'))}</div>",
        layer,
    )
