"""The plan on an interactive map (``map.html``) for officials, and ``explore`` for Jupyter.

The map shows what the plan holds and nothing else: community boundaries, grids (neighbours in
different colours, labelled with code and households), ten-household units, buildings coloured
by grid or by facility coverage, facilities, catchments per tier, uncovered households and the
recommended new sites. A layer the plan lacks is simply absent. Grid and unit pop-ups list
households, heads and workers: names are public, phones masked (:mod:`gridplan.privacy`).

Basemaps: OpenStreetMap (default), Tianditu (needs a key) or Gaode; over Gaode every overlay is
shifted to GCJ-02 (:func:`gridplan.offsets.wgs84_to_gcj02`) so it lines up with the tiles.
Geometry is simplified by a few metres and rounded to about 0.1 m, and on big plans the heavy
layers (units, buildings, catchments) start switched off, so a city map opens on a laptop.

Example
-------
>>> from gridplan.output.maps import write_map
>>> write_map(plan, "out/town/map.html", lang="en")           # doctest: +SKIP
PosixPath('out/town/map.html')
"""

from __future__ import annotations

import html
import logging
import math
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement, Template
from folium import plugins

from gridplan._errors import ConfigError
from gridplan.i18n import check_lang
from gridplan.output.maps.assets import (
    CSS,
    GAODE_URL,
    JS_HELPERS,
    PALETTE,
    TIANDITU_URL,
    UNUSED_CSS,
    UNUSED_JS,
    GeoLayer,
    js_json,
)
from gridplan.output.maps.inline import inline_assets
from gridplan.output.maps.layers import (
    Ctx,
    _metric,
    add_buildings,
    add_catchments,
    add_communities,
    add_facilities,
    add_grids,
    add_old_communities,
    add_sites,
    add_split_buildings,
    add_uncovered,
    add_units,
    add_water,
    coverage_by_building,
    gcj02,
    spatial,
)
from gridplan.output.planfile import Plan

__all__ = ["BASEMAPS", "explore", "grid_colors", "make_map", "write_map"]

logger = logging.getLogger(__name__)

#: Basemaps :func:`make_map` offers.
BASEMAPS: tuple[str, ...] = ("osm", "tianditu", "gaode")

#: Default simplification tolerance, metres.
DEFAULT_SIMPLIFY_M = 2.0


def grid_colors(grids: gpd.GeoDataFrame) -> dict[str, str]:
    """Grid id -> fill colour, neighbouring grids never sharing one where the palette allows.

    A greedy colouring (largest degree first, ties by grid id) of the graph of grids that touch
    or overlap: deterministic, and planar maps rarely need more than five of the ten colours.

    Parameters
    ----------
    grids
        Grids with ``grid_id`` and geometry.
    """
    if len(grids) == 0:
        return {}
    ids = [str(g) for g in grids["grid_id"]]
    geoms = grids.geometry.to_numpy()
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(sorted(ids))
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for a, b in zip(left, right, strict=True):
        if a < b:
            graph.add_edge(ids[a], ids[b])
    order = sorted(graph.nodes, key=lambda n: (-graph.degree[n], n))
    color_of: dict[str, int] = {}
    for node in order:
        used = {color_of[n] for n in graph.neighbors(node) if n in color_of}
        color_of[node] = next(c for c in range(len(ids) + 1) if c not in used)
    return {gid: PALETTE[color_of[gid] % len(PALETTE)] for gid in ids}


# --------------------------------------------------------------------------- basemaps, legend


def _add_basemaps(m: folium.Map, ctx: Ctx, basemap: str, tianditu_key: str | None) -> None:
    if basemap == "gaode":
        folium.TileLayer(
            tiles=GAODE_URL,
            attr="&copy; 高德地图 AutoNavi",
            name=ctx.label("gaode"),
            subdomains="1234",
            max_zoom=19,
        ).add_to(m)
        return
    folium.TileLayer("OpenStreetMap", name=ctx.label("osm"), show=basemap == "osm").add_to(m)
    if tianditu_key:
        annotation = "cva" if ctx.lang == "zh" else "eva"
        folium.TileLayer(
            tiles=TIANDITU_URL.format(layer="vec", key=tianditu_key),
            attr="&copy; 天地图 Tianditu",
            name=ctx.label("tianditu"),
            subdomains="01234567",
            max_zoom=18,
            show=basemap == "tianditu",
        ).add_to(m)
        folium.TileLayer(
            tiles=TIANDITU_URL.format(layer=annotation, key=tianditu_key),
            attr="&copy; 天地图 Tianditu",
            name=ctx.label("tianditu_labels"),
            subdomains="01234567",
            max_zoom=18,
            overlay=True,
            show=basemap == "tianditu",
        ).add_to(m)


def _legend(ctx: Ctx) -> MacroElement:
    """The legend: each layer's lines shown only while the layer is on the map."""
    body = "".join(
        f"<div class='gp-legend-item' data-gp-layer='{name}'>{lines}</div>"
        if name
        else f"<div class='gp-legend-item'>{lines}</div>"
        for name, lines in ctx.legend
    )
    macro = MacroElement()
    macro._template = Template(
        "{% macro html(this, kwargs) %}"
        f"<div class='gp-legend'><b>{html.escape(ctx.label('legend'))}</b>{body}</div>"
        "{% endmacro %}"
        "{% macro script(this, kwargs) %}"
        "(function(){var map={{ this._parent.get_name() }};"
        "map.on('overlayadd overlayremove',function(){gp.legend(map);});"
        "map.whenReady(function(){gp.legend(map);});})();"
        "{% endmacro %}"
    )
    return macro


def _grid_labels(m: folium.Map, ctx: Ctx, grids: gpd.GeoDataFrame, layer: GeoLayer) -> None:
    """Grid labels at each grid's pole of inaccessibility (the point inside farthest from its
    edges, where a label has most room), shown with the grid layer; after every zoom or pan a
    label overlapping one already placed (larger grids first) is hidden."""
    from shapely.ops import polylabel

    metric = _metric(grids).sort_values("grid_id")
    points = []
    for geom in metric.geometry:
        poly = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        points.append(polylabel(poly, tolerance=max(1.0, math.sqrt(poly.area) / 50)))
    pts = metric.set_geometry(gpd.GeoSeries(points, crs=metric.crs))
    lonlat = ctx.lonlat(pts)
    hh = metric["households"] if "households" in metric.columns else metric["grid_id"]
    unit = ctx.label("households_unit")
    sep = "" if ctx.lang == "zh" else " "
    order = np.argsort(-metric.geometry.area.to_numpy(), kind="stable")
    rows = []
    for i in order:
        gid = str(metric["grid_id"].iloc[i])
        count = _num_text(hh.iloc[i])
        text = f"{gid} · {count}{sep}{unit}" if count else gid
        rows.append([round(lonlat[i].y, 6), round(lonlat[i].x, 6), text])
    macro = MacroElement()
    macro._template = Template(
        "{% macro script(this, kwargs) %}"
        "(function(){var map={{ this._parent.get_name() }},grid=" + layer.get_name() + ";"
        "var labels=" + js_json(rows) + ".map(function(r){return L.marker([r[0],r[1]],"
        "{interactive:false,keyboard:false,pane:'tooltipPane',icon:L.divIcon({className:'gp-label-icon',"
        "iconSize:null,html:'<span class=\"gp-label\">'+gp.esc(r[2])+'</span>'})});});"
        "var group=L.layerGroup(labels);"
        "function sync(){if(map.hasLayer(grid)){group.addTo(map);gp.declutter(labels);}"
        "else{map.removeLayer(group);}}"
        "map.on('overlayadd overlayremove',sync);"
        "map.on('zoomend moveend',function(){gp.declutter(labels);});"
        "map.whenReady(sync);})();"
        "{% endmacro %}"
    )
    m.add_child(macro)


def _num_text(value: object) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "" if pd.isna(number) else f"{round(float(number)):,}"


def _bounds(plan: Plan, gcj: bool) -> list[list[float]] | None:
    for name in ("communities", "grids", "buildings", "units", "facilities"):
        gdf = spatial(plan, name)
        if gdf is None:
            continue
        geoms = gpd.GeoSeries(shapely.envelope(gdf.geometry.to_numpy()), crs=gdf.crs)
        lonlat = geoms.to_crs(4326).to_numpy()
        if gcj:
            lonlat = gcj02(lonlat)
        minx, miny, maxx, maxy = shapely.total_bounds(lonlat)
        return [[float(miny), float(minx)], [float(maxy), float(maxx)]]
    return None


# --------------------------------------------------------------------------- public


def make_map(
    plan: Plan,
    *,
    lang: str = "zh",
    basemap: str = "osm",
    tianditu_key: str | None = None,
    simplify_m: float | None = None,
    requests: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """The plan as a folium map.

    Parameters
    ----------
    plan
        The plan; layers it lacks are left off the map.
    lang
        ``"zh"`` or ``"en"``: every label, pop-up and legend line.
    basemap
        ``"osm"`` (OpenStreetMap), ``"tianditu"`` (needs ``tianditu_key``) or ``"gaode"``
        (overlays shifted to GCJ-02 to line up with Gaode's tiles).
    tianditu_key
        A Tianditu browser key; with it Tianditu is offered as a second basemap.
    simplify_m
        Simplification tolerance in metres (default :data:`DEFAULT_SIMPLIFY_M`; 0 keeps every
        vertex).
    requests
        Open requests to show as a layer
        (:func:`gridplan.requests.open_requests_layer`; pop-ups masked).

    Returns
    -------
    folium.Map
        With layer control, legend, full-screen button, grid-code search and scale bar.

    Raises
    ------
    ConfigError
        An unknown language or basemap, or Tianditu without a key.
    """
    try:
        check_lang(lang)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if basemap not in BASEMAPS:
        msg = f"map: unknown basemap {basemap!r}; choose one of {', '.join(BASEMAPS)}"
        raise ConfigError(msg)
    if basemap == "tianditu" and not tianditu_key:
        msg = "map: the Tianditu basemap needs a key (tianditu_key / --tianditu-key)"
        raise ConfigError(msg)
    tol = DEFAULT_SIMPLIFY_M if simplify_m is None else float(simplify_m)
    gcj = basemap == "gaode"
    ctx = Ctx(plan, lang, tol, gcj)

    bounds = _bounds(plan, gcj)
    center = (
        [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        if bounds
        else [35.0, 105.0]
    )
    m = folium.Map(
        location=center,
        zoom_start=15 if bounds else 4,
        tiles=None,
        control_scale=True,
        prefer_canvas=ctx.big,
    )
    m.default_js = [(n, u) for n, u in m.default_js if n not in UNUSED_JS]
    m.default_css = [(n, u) for n, u in m.default_css if n not in UNUSED_CSS]
    root = m.get_root()
    title = "gridplan · " + ("网格规划图" if lang == "zh" else "grid plan")
    root.header.add_child(Element(f"<title>{html.escape(title)}</title>"))  # type: ignore[attr-defined]
    root.header.add_child(Element(CSS))  # type: ignore[attr-defined]
    root.header.add_child(Element(JS_HELPERS))  # type: ignore[attr-defined]
    _add_basemaps(m, ctx, basemap, tianditu_key)

    grids = spatial(plan, "grids")
    colors = grid_colors(_metric(grids)) if grids is not None else {}
    by_building = coverage_by_building(plan)
    add_old_communities(m, ctx)
    add_communities(m, ctx)
    add_catchments(m, ctx)
    add_water(m, ctx)
    grid_layer = add_grids(m, ctx, colors, by_building)
    add_buildings(m, ctx, colors, by_building)
    add_units(m, ctx, colors)
    add_split_buildings(m, ctx)
    add_uncovered(m, ctx, by_building)
    add_facilities(m, ctx)
    add_sites(m, ctx)
    if requests is not None:
        from gridplan.requests.maplayer import add_requests_layer

        req_pts, req_grids = requests.to_crs(4326), grids
        if gcj:  # on Gaode's tiles the requests and the grids' badges shift like the rest
            from gridplan.offsets import convert_geoseries

            req_pts = req_pts.set_geometry(convert_geoseries(req_pts.geometry, "wgs84", "gcj02"))
            if grids is not None:
                g = grids.to_crs(4326)
                req_grids = g.set_geometry(convert_geoseries(g.geometry, "wgs84", "gcj02"))
        for layer, legend in add_requests_layer(m, req_pts, lang=lang, grids=req_grids):
            ctx.add_legend(legend, layer)

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    plugins.Fullscreen(
        position="topleft",
        title=ctx.label("fullscreen"),
        title_cancel=ctx.label("exit_fullscreen"),
    ).add_to(m)
    if grid_layer is not None:
        plugins.Search(
            layer=grid_layer,
            search_label="grid_id",
            geom_type="Polygon",
            placeholder=ctx.label("search"),
            collapsed=False,
            position="topleft",
        ).add_to(m)
    if ctx.legend:
        m.add_child(_legend(ctx))
    if grids is not None and len(grids) and grid_layer is not None:
        _grid_labels(m, ctx, grids, grid_layer)
        _labels_from_zoom(m, _metric(grids))
    if bounds:
        m.fit_bounds(bounds)
    return m


#: A grid label is shown once a typical grid is at least this wide on screen (pixels).
LABEL_MIN_WIDTH_PX = 70


def _labels_from_zoom(m: folium.Map, grids: gpd.GeoDataFrame) -> None:
    """Show grid labels only from the zoom at which a typical grid has room for its label, so a
    map of hundreds of grids opens readable instead of buried under labels."""
    width_m = math.sqrt(float(np.median(grids.geometry.area)))
    lat = float(grids.geometry.centroid.to_crs(4326).y.mean())
    # Web Mercator: metres per pixel at zoom z = 156 543.03 · cos(lat) / 2^z
    scale = LABEL_MIN_WIDTH_PX * 156_543.03 * math.cos(math.radians(lat)) / max(width_m, 1.0)
    zoom = max(0, min(22, math.ceil(math.log2(scale))))
    toggle = MacroElement()
    toggle._template = Template(
        "{% macro script(this, kwargs) %}"
        "(function(){var map=" + m.get_name() + ";function upd(){"
        "map.getContainer().classList.toggle('gp-hide-labels',map.getZoom()<"
        + str(zoom)
        + ");}map.on('zoomend',upd);map.whenReady(upd);})();"
        "{% endmacro %}"
    )
    m.add_child(toggle)


def write_map(
    plan: Plan,
    path: str | Path,
    *,
    lang: str = "zh",
    basemap: str = "osm",
    tianditu_key: str | None = None,
    simplify_m: float | None = None,
    requests: gpd.GeoDataFrame | None = None,
) -> Path:
    """Write the plan's map to ``path`` (an HTML file; see :func:`make_map` for the options).

    The page is self-contained except for the tiles: Leaflet and its plugins are inlined from
    the copies vendored with gridplan (:mod:`gridplan.output.maps.inline`), so the map opens on an
    office
    intranet where public CDNs are blocked.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    m = make_map(
        plan,
        lang=lang,
        basemap=basemap,
        tianditu_key=tianditu_key,
        simplify_m=simplify_m,
        requests=requests,
    )
    page = inline_assets(m.get_root().render())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    logger.info("map written to %s (%.0f kB)", path, path.stat().st_size / 1024)
    return path


def explore(plan: Plan, **kw: Any) -> folium.Map:
    """The plan's map for Jupyter (same options as :func:`make_map`); displays inline.

    Example
    -------
    >>> import gridplan                                        # doctest: +SKIP
    >>> gridplan.explore(plan, lang="en")                      # doctest: +SKIP
    """
    return make_map(plan, **kw)
