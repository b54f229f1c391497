"""Geometry helpers of the sample generator (local metric frame), and the output CRS.

Private to :mod:`gridplan.sample`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

WGS84 = "EPSG:4326"


def extend(line: LineString, d: float = 0.5) -> LineString:
    """The line lengthened by ``d`` at both ends (so it crosses what it ends on)."""
    c = np.asarray(line.coords)
    if len(c) < 2:
        return line
    a = c[0] - c[1]
    b = c[-1] - c[-2]
    na, nb = np.hypot(*a), np.hypot(*b)
    if na > 0:
        c[0] = c[0] + a / na * d
    if nb > 0:
        c[-1] = c[-1] + b / nb * d
    return LineString(c)


def _lines(geom: shapely.Geometry) -> list[LineString]:
    """The LineString parts of any geometry (empty list when none)."""
    out = []
    for g in shapely.get_parts(np.asarray([geom])):
        if isinstance(g, LineString) and not g.is_empty:
            out.append(g)
        elif g.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(_lines(g))
    return out


def polys(geom: shapely.Geometry) -> list[Polygon]:
    out = []
    for g in shapely.get_parts(np.asarray([geom])):
        if isinstance(g, Polygon) and not g.is_empty:
            out.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(polys(g))
    return out


def rotate(geoms: Any, angle_deg: float, cx: float, cy: float) -> Any:
    """Rotate geometries (scalar or array) counter-clockwise about ``(cx, cy)``."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)

    def f(xy: np.ndarray) -> np.ndarray:
        x = xy[:, 0] - cx
        y = xy[:, 1] - cy
        return np.column_stack([cx + c * x - s * y, cy + s * x + c * y])

    return shapely.transform(geoms, f)


def _rects(
    cx: np.ndarray, cy: np.ndarray, w: np.ndarray, d: np.ndarray, a: np.ndarray | None = None
) -> np.ndarray:
    """Rectangles centred on ``cx, cy``, ``w`` wide, ``d`` deep, turned ``a`` degrees."""
    n = len(cx)
    if n == 0:
        return np.empty(0, dtype=object)
    ang = np.zeros(n) if a is None else np.radians(a)
    dx = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    dy = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    lx = w[:, None] * dx[None, :]
    ly = d[:, None] * dy[None, :]
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    x = cx[:, None] + c * lx - s * ly
    y = cy[:, None] + s * lx + c * ly
    return shapely.polygons(np.stack([x, y], axis=-1))


def frame_angle(poly: Polygon) -> float:
    """Direction of the block's long side, folded into (-45°, 45°] so slabs face south."""
    mrr = np.asarray(poly.minimum_rotated_rectangle.exterior.coords)
    e = np.diff(mrr[:3], axis=0)
    k = int(np.argmax(np.hypot(e[:, 0], e[:, 1])))
    ang = math.degrees(math.atan2(e[k, 1], e[k, 0]))
    while ang > 45.0:
        ang -= 90.0
    while ang <= -45.0:
        ang += 90.0
    return ang
