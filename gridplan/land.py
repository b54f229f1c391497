"""Land and water: the built-up area of a dataset, water polygons, and a community's land.

Grids tile a community's *land*: the community polygon less open water (the plan contract).
Water comes from the ``barriers`` layer: a polygon barrier whose ``kind`` is one of
:data:`gridplan.settings.WATER_KINDS` (``water``, ``river``, ``riverbank``, ``lake``, ``sea``,
…; ``gridplan import-osm`` writes OSM ``natural=water`` and riverbank areas as ``water``).
Rivers given as lines stay barriers and cut faces; they have no area to remove.

Without a ``communities`` layer the one community is the *built-up area*
(:func:`built_up_area`): the union of the buildings and the streets among them, each grown by
a few tens of metres and closed morphologically, its holes filled (a park or a square inside
the town is the town's), water removed, never the convex hull of the data (which takes in the
sea off a coastal town).

Example
-------
>>> from shapely.geometry import box
>>> area = built_up_area([box(0, 0, 20, 20), box(60, 0, 80, 20)], [])
>>> area.geom_type, area.contains(box(0, 0, 80, 20))
('Polygon', True)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.ops import nearest_points

from gridplan import settings

__all__ = ["built_up_area", "land_area", "water_area", "water_polygons"]

log = logging.getLogger(__name__)

#: Pieces of land smaller than this (m²) are overlay dust.
_DUST_M2 = 1.0

#: Land necks narrower than twice this (metres) are cut: a grid cannot cross them.
_OPENING_M = 0.05


def water_area(barriers: gpd.GeoDataFrame | None) -> shapely.Geometry:
    """The union of the water polygons of a ``barriers`` layer.

    Parameters
    ----------
    barriers
        Barrier lines and polygons with an optional ``kind``; ``None`` for none.

    Returns
    -------
    shapely.Geometry
        The (multi)polygon union of every polygon barrier whose ``kind`` (lower case) is in
        :data:`gridplan.settings.WATER_KINDS`; an empty polygon when there is none.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, box
    >>> bars = gpd.GeoDataFrame({"kind": ["water", "wall", "river"]},
    ...     geometry=[box(0, 0, 10, 10), box(20, 0, 30, 10), LineString([(0, 20), (9, 20)])])
    >>> water_area(bars).area
    100.0
    """
    if barriers is None or not len(barriers):
        return Polygon()
    geoms = np.asarray(barriers.geometry.array, dtype=object)
    kinds = barriers.get("kind", None)
    water = set(settings.WATER_KINDS)
    keep = []
    for i, g in enumerate(geoms.tolist()):
        if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        kind = kinds.iloc[i] if kinds is not None else None
        if isinstance(kind, str) and kind.strip().lower() in water:
            keep.append(g if g.is_valid else shapely.make_valid(g))
    if not keep:
        return Polygon()
    return shapely.union_all(keep)


def water_polygons(barriers: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The water polygons of a ``barriers`` layer, one row each (kind, geometry).

    ``None`` when there is none. The plan carries them as its ``water`` layer (the map draws
    them blue).
    """
    if barriers is None or not len(barriers) or "kind" not in barriers:
        return None
    kinds = barriers["kind"].astype("string").str.strip().str.lower()
    polys = barriers.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    sel = (kinds.isin(list(settings.WATER_KINDS)).fillna(False) & polys).to_numpy(dtype=bool)
    if not sel.any():
        return None
    out = barriers.loc[sel, ["kind", barriers.geometry.name]]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry=barriers.geometry.name)


def land_area(
    area: Polygon,
    water: shapely.Geometry,
    *,
    keep: np.ndarray | None = None,
) -> tuple[shapely.Geometry, int]:
    """``area`` less ``water``: the land a community's grids tile.

    Water within :data:`gridplan.settings.WATER_BUILDING_CLEARANCE_M` of a point of ``keep``
    (the buildings' representative points) stays land, so a building drawn on a pier or over
    a water polygon keeps its place in a grid. Land cut off by water that holds no point of
    ``keep`` (a bare islet, a strip of bank beyond the community's last building) belongs to
    no grid: it is dropped, and counted.

    Parameters
    ----------
    area
        The community polygon (metric CRS).
    water
        Water polygons (:func:`water_area`).
    keep
        ``(n, 2)`` points that must stay on land; ``None`` for none.

    Returns
    -------
    land, dropped
        The land (a Polygon, or a MultiPolygon when water cuts the community in several
        parts, each holding a point of ``keep``), and the number of bare land parts dropped.
        ``area`` itself when no water touches it.
    """
    if water is None or water.is_empty or not shapely.intersects(area, water):
        return area, 0
    cut = shapely.intersection(water, area)
    if keep is not None and len(keep):
        pts = shapely.points(np.asarray(keep, dtype=float))
        near = shapely.buffer(pts, settings.WATER_BUILDING_CLEARANCE_M, quad_segs=4)
        cut = shapely.difference(cut, shapely.union_all(near))
    land = shapely.difference(area, cut)
    # open by a few centimetres (mitred, so corners stay put): two banks left touching at a
    # point or along a hair by the overlay are two parts, not one
    o = _OPENING_M
    land = shapely.buffer(shapely.buffer(land, -o, join_style="mitre"), o, join_style="mitre")
    land = shapely.intersection(land, area)
    parts = [p for p in shapely.get_parts(land) if p.geom_type == "Polygon" and p.area > _DUST_M2]
    if not parts:  # all water: keep the community as it is rather than plan nothing
        return area, 0
    dropped = 0
    if keep is not None and len(keep) and len(parts) > 1:
        pts = shapely.points(np.asarray(keep, dtype=float))
        held = [p for p in parts if bool(shapely.intersects(p, pts).any())]
        dropped = len(parts) - len(held)
        parts = held or [max(parts, key=lambda p: p.area)]
    if len(parts) == 1:
        return parts[0], dropped
    return shapely.MultiPolygon(parts), dropped


def built_up_area(
    buildings: Sequence[shapely.Geometry],
    roads: Sequence[shapely.Geometry],
    *,
    water: shapely.Geometry | None = None,
    building_buffer_m: float | None = None,
    road_buffer_m: float | None = None,
    closing_m: float | None = None,
) -> Polygon:
    """The built-up area of buildings and the streets among them, as one polygon.

    1. Every building is grown by ``building_buffer_m``; every road, clipped to
       ``2 × building_buffer_m`` around the buildings (so a road across open land or a bridge
       adds nothing), by ``road_buffer_m``.
    2. The union is closed morphologically by ``closing_m`` (grown, then shrunk), which joins
       blocks across the streets and squares between them, and its holes are filled.
    3. ``water`` is removed; parts holding no building are dropped.
    4. The parts left are joined, nearest first (a minimum spanning tree over their
       distances), by corridors ``closing_m`` wide, so the community is one polygon; water a
       corridor crosses is cut out again when the grids are drawn (:func:`land_area`).

    Parameters
    ----------
    buildings
        Building footprints or points (metric CRS).
    roads
        Street lines (the walkable ones).
    water
        Water polygons to remove (:func:`water_area`); ``None`` for none.
    building_buffer_m, road_buffer_m, closing_m
        Metres; ``None`` takes :data:`gridplan.settings.BUILT_UP_BUILDING_BUFFER_M`,
        :data:`gridplan.settings.BUILT_UP_ROAD_BUFFER_M` and
        :data:`gridplan.settings.BUILT_UP_CLOSING_M`.

    Returns
    -------
    shapely.Polygon
        One polygon holding every building.
    """
    bb = settings.BUILT_UP_BUILDING_BUFFER_M if building_buffer_m is None else building_buffer_m
    rb = settings.BUILT_UP_ROAD_BUFFER_M if road_buffer_m is None else road_buffer_m
    close = settings.BUILT_UP_CLOSING_M if closing_m is None else closing_m
    b = np.asarray([g for g in buildings if g is not None and not g.is_empty], dtype=object)
    if not len(b):
        return Polygon()
    grown_b = shapely.union_all(shapely.buffer(b, bb, quad_segs=2))
    pieces = [grown_b]
    r = np.asarray([g for g in roads if g is not None and not g.is_empty], dtype=object)
    if len(r):
        reach = shapely.buffer(grown_b, bb, quad_segs=2)
        shapely.prepare(reach)
        r = r[shapely.intersects(reach, r)]
        if len(r):
            near = shapely.intersection(r, reach)
            pieces.append(shapely.union_all(shapely.buffer(near, rb, quad_segs=2)))
    raw = shapely.union_all(pieces)
    closed = shapely.buffer(shapely.buffer(raw, close, quad_segs=4), -close, quad_segs=4)
    closed = shapely.union(closed, raw)  # closing never loses what it closed over
    filled = [
        Polygon(p.exterior)
        for p in shapely.get_parts(closed)
        if p.geom_type == "Polygon" and p.area > 0
    ]
    area = shapely.union_all(filled)
    if water is not None and not water.is_empty:
        land = shapely.difference(area, water)
        if not land.is_empty:
            area = land
    area = shapely.simplify(area, 0.5)
    parts = [p for p in shapely.get_parts(area) if p.geom_type == "Polygon" and p.area > _DUST_M2]
    anchors = shapely.point_on_surface(b)
    held = [p for p in parts if bool(shapely.intersects(p, anchors).any())]
    parts = held or parts
    if len(parts) == 1:
        return _fill_holes(parts[0], water)
    joined = shapely.union_all([*parts, *_corridors(parts, close)])
    out = [p for p in shapely.get_parts(joined) if p.geom_type == "Polygon"]
    poly = max(out, key=lambda p: p.area)
    return _fill_holes(poly, water)


def _fill_holes(poly: Polygon, water: shapely.Geometry | None) -> Polygon:
    """``poly`` with its holes filled, except holes that are water (a lake inside the town)."""
    if not poly.interiors:
        return poly
    if water is None or water.is_empty:
        return Polygon(poly.exterior)
    keep = [ring for ring in poly.interiors if shapely.intersects(Polygon(ring), water)]
    return Polygon(poly.exterior, keep)


def _corridors(parts: list[Polygon], width: float) -> list[Polygon]:
    """Corridors joining ``parts`` along a minimum spanning tree of their distances."""
    n = len(parts)
    arr = np.asarray(parts, dtype=object)
    dist = shapely.distance(arr[:, None], arr[None, :])
    # Prim's algorithm on the distance matrix (ties broken by index: deterministic)
    inside = np.zeros(n, dtype=bool)
    inside[int(np.argmax(shapely.area(arr)))] = True
    best = np.where(inside, np.inf, dist[int(np.argmax(inside))])
    link = np.full(n, int(np.argmax(inside)))
    out: list[Polygon] = []
    for _ in range(n - 1):
        cand = np.where(inside, np.inf, best)
        j = int(np.argmin(cand))
        i = int(link[j])
        a, b = nearest_points(parts[i], parts[j])
        seg = LineString([a, b])
        out.append(shapely.buffer(seg, max(width / 2, 1.0), cap_style="square"))
        inside[j] = True
        closer = dist[j] < best
        best = np.where(closer, dist[j], best)
        link = np.where(closer, j, link)
    return out
