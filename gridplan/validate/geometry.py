"""Geometry checks of the spatial layers: empty, invalid or wrong-type shapes, coordinates
out of range for a geographic CRS, and the metric copy used by the area checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.offsets import local_utm_crs
from gridplan.validate.common import _Report

if TYPE_CHECKING:
    from pyproj import CRS

_POLY = frozenset({"Polygon", "MultiPolygon"})
_LINE = frozenset({"LineString", "MultiLineString", "LinearRing"})
_POINT = frozenset({"Point", "MultiPoint"})
#: Geometry types accepted per spatial layer (polygon facilities and sites become points).
GEOMETRY_TYPES: dict[str, frozenset[str]] = {
    "buildings": _POLY | {"Point"},
    "communities": _POLY,
    "roads": _LINE,
    "barriers": _LINE | _POLY,
    "facilities": _POINT | _POLY,
    "sites": _POINT | _POLY,
    "landuse": _POLY,
    "pois": _POINT | _POLY,
    "communities_old": _POLY,
}
_TYPE_WORDS = {
    "buildings": "polygons (footprints) or points",
    "communities": "polygons",
    "roads": "lines",
    "barriers": "lines or polygons",
    "facilities": "points (or polygons, turned into points)",
    "sites": "points (or polygons, turned into points)",
    "landuse": "polygons",
    "pois": "points or polygons",
    "communities_old": "polygons",
}


def check_geometry(
    frame: gpd.GeoDataFrame, layer: str, labels: pd.Series, rep: _Report
) -> pd.Series:
    """Empty, invalid and wrong-type geometry. Returns the mask of usable rows."""
    geom = frame.geometry
    values = np.asarray(geom.values)
    empty = pd.Series(shapely.is_missing(values) | shapely.is_empty(values), index=frame.index)
    if empty.any():
        if layer in ("roads", "barriers"):
            rep.warn(
                layer,
                "empty geometry, these rows are dropped",
                labels[empty],
                "delete the rows or draw their geometry",
            )
        else:
            rep.error(
                layer,
                "empty geometry",
                labels[empty],
                "draw the geometry (or give lon/lat) of every row, or delete the rows",
            )
    types = pd.Series(shapely.get_type_id(values), index=frame.index)
    names = types.map(_TYPE_NAMES)
    allowed = GEOMETRY_TYPES[layer]
    wrong = ~empty & ~names.isin(allowed)
    if wrong.any():
        got = ", ".join(sorted(names[wrong].dropna().unique()))
        rep.error(
            layer,
            f"wrong geometry type ({got}; {layer} must be {_TYPE_WORDS[layer]})",
            labels[wrong],
            f"give {layer} as {_TYPE_WORDS[layer]}",
        )
    ok = ~empty & ~wrong
    invalid = ok & ~pd.Series(shapely.is_valid(values), index=frame.index)
    if invalid.any():
        repaired = shapely.make_valid(values[invalid.to_numpy()])
        fixable = np.array([_keeps_type(g, allowed) for g in repaired], dtype=bool)
        bad_labels = labels[invalid]
        if fixable.any():
            rep.warn(
                layer,
                "invalid geometry repaired (make_valid)",
                bad_labels[fixable],
                "check the repaired shapes; fix self-intersections at the source",
            )
        if (~fixable).any():
            rep.error(
                layer,
                "invalid geometry that cannot be repaired (it collapses to a lower dimension)",
                bad_labels[~fixable],
                "redraw these shapes (a polygon needs at least three distinct corners)",
            )
        ok = ok.copy()
        ok[invalid[invalid].index[~fixable]] = False
    return ok


_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def _keeps_type(geom: shapely.Geometry | None, allowed: frozenset[str]) -> bool:
    if geom is None or shapely.is_empty(geom):
        return False
    parts = shapely.get_parts(geom)
    if not len(parts):
        return False
    for part in parts:
        name = part.geom_type
        if name in allowed or f"Multi{name}" in allowed:
            if name in ("Polygon", "MultiPolygon") and part.area <= 0:
                continue
            return True
    return False


def check_range(
    frame: gpd.GeoDataFrame, layer: str, labels: pd.Series, ok: pd.Series, rep: _Report
) -> pd.Series:
    """Coordinates outside ±180/±90 or not finite in a geographic CRS; returns usable rows."""
    if frame.crs is None or not frame.crs.is_geographic or not ok.any():
        return ok
    bounds = shapely.bounds(np.asarray(frame.geometry.values)[ok.to_numpy()])
    finite = np.isfinite(bounds).all(axis=1)
    inside = (
        finite
        & (bounds[:, 0] >= -180)
        & (bounds[:, 2] <= 180)
        & (bounds[:, 1] >= -90)
        & (bounds[:, 3] <= 90)
    )
    if inside.all():
        return ok
    bad_idx = ok[ok].index[~inside]
    rep.error(
        layer,
        f"coordinates out of range for the geographic CRS {frame.crs.to_string()} "
        "(longitude must be within ±180, latitude within ±90)",
        labels[bad_idx],
        "these look like projected (metre) coordinates: label the layer with its real CRS "
        "(e.g. EPSG:32648 or EPSG:4547), or swap lon/lat if they are reversed",
    )
    ok = ok.copy()
    ok[bad_idx] = False
    return ok


def _metric(frame: gpd.GeoDataFrame, ok: pd.Series, crs: CRS | None) -> gpd.GeoDataFrame | None:
    """Usable rows in a metric CRS (``crs`` if given), or ``None`` when impossible."""
    if frame.crs is None:
        return None
    sub = frame.loc[ok]
    if not frame.crs.is_geographic:
        return sub if crs is None else sub.to_crs(crs)
    if crs is None:
        if not len(sub):
            return None
        crs = local_utm_crs(sub)
    return sub.to_crs(crs)
