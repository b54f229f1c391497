"""Building contiguity graphs and barrier cuts.

A community is cut into *faces* by its barriers (roads of ``grids.barrier_road_classes`` and
every line or polygon of the ``barriers`` layer). Inside one face every building (or building
part) gets a territory cell: its Voronoi cell clipped to the face, repaired so that each cell is
one polygon holding its building. Cells tile the face exactly, and two buildings are adjacent
when their cells share a boundary of positive length, so a connected set of buildings always
has a territory that is one polygon.

Example
-------
>>> import numpy as np
>>> from shapely.geometry import box
>>> cells, edges, lengths = cell_graph(box(0, 0, 20, 10), np.array([[5.0, 5.0], [15.0, 5.0]]))
>>> [round(c.area) for c in cells], edges.tolist(), lengths.round(1).tolist()
([100, 100], [[0, 1]], [10.0])
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Polygon
from shapely.ops import polygonize, unary_union

from gridplan import settings
from gridplan._errors import InfeasibleError

__all__ = [
    "BARRIER_STRENGTH",
    "barrier_lines",
    "barrier_strength",
    "cell_graph",
    "connected_components",
    "face_neighbours",
    "glue",
    "on_grid",
    "open_barrier_spans",
    "shared_length",
    "split_faces",
]

log = logging.getLogger(__name__)

#: How hard a barrier is to cross, by ``barriers.kind`` or road class (higher is harder).
#: When a face must be merged with a neighbour, the weakest barrier between them is crossed.
BARRIER_STRENGTH: dict[str, int] = {
    "river": 100,
    "water": 100,
    "canal": 95,
    "rail": 90,
    "railway": 90,
    "motorway": 85,
    "trunk": 75,
    "primary": 60,
    "secondary": 50,
    "wall": 45,
    "tertiary": 40,
}
_DEFAULT_STRENGTH = 55  # an unknown barrier kind
_ROAD_STRENGTH = 30  # a road class not in the table


def barrier_strength(kind: object, *, is_road: bool = False) -> int:
    """Strength of a barrier kind or road class (see :data:`BARRIER_STRENGTH`)."""
    if isinstance(kind, str) and kind.lower() in BARRIER_STRENGTH:
        return BARRIER_STRENGTH[kind.lower()]
    return _ROAD_STRENGTH if is_road else _DEFAULT_STRENGTH


def _as_lines(geom: shapely.Geometry) -> list[LineString]:
    """The linework of a geometry: lines as they are, polygon boundaries for polygons."""
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        geom = geom.boundary
    out: list[LineString] = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "LineString":
            out.append(part)
        elif part.geom_type == "LinearRing":
            out.append(LineString(part.coords))
        elif part.geom_type in ("MultiLineString", "GeometryCollection", "Polygon"):
            out.extend(_as_lines(part))
    return out


def barrier_lines(
    area: Polygon,
    *,
    roads: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    barrier_road_classes: Sequence[str] = ("motorway", "trunk", "primary"),
) -> gpd.GeoDataFrame:
    """Barrier linework inside ``area``, with its kind and strength.

    Parameters
    ----------
    area
        The polygon to cut (a community, in the metric CRS of the layers).
    roads
        Road lines with ``road_class``; only classes in ``barrier_road_classes`` are barriers.
    barriers
        Barrier lines or polygons (rivers, rail, walls) with an optional ``kind``.
    barrier_road_classes
        Road classes that grids never cross.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per barrier line clipped to ``area``: ``kind``, ``strength``, ``geometry``.
    """
    rows: list[tuple[str, int, LineString]] = []
    classes = {c.lower() for c in barrier_road_classes}
    crs = None
    if roads is not None and len(roads):
        crs = roads.crs
        cls = roads.get("road_class", None)
        for i, geom in enumerate(roads.geometry.array):
            kind = str(cls.iloc[i]).lower() if cls is not None else ""
            if kind not in classes or geom is None:
                continue
            for line in _as_lines(geom):
                rows.append((kind, barrier_strength(kind, is_road=True), line))
    if barriers is not None and len(barriers):
        crs = crs or barriers.crs
        kinds = barriers.get("kind", None)
        for i, geom in enumerate(barriers.geometry.array):
            kind = (
                str(kinds.iloc[i]) if kinds is not None and isinstance(kinds.iloc[i], str) else ""
            )
            for line in _as_lines(geom):
                rows.append((kind or "barrier", barrier_strength(kind), line))
    out = []
    shapely.prepare(area)
    prepared = area
    for kind, strength, line in rows:
        if not shapely.intersects(prepared, line):
            continue
        clipped = shapely.intersection(line, area)
        for part in _as_lines(clipped):
            if part.length > 0:
                out.append({"kind": kind, "strength": strength, "geometry": part})
    if not out:
        return gpd.GeoDataFrame(
            {"kind": np.array([], dtype=object), "strength": np.array([], dtype="int64")},
            geometry=gpd.GeoSeries([], crs=crs),
            crs=crs,
        )
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)


def _close_ends(
    chains: list[LineString], boundary: shapely.Geometry, tol: float
) -> list[LineString]:
    """Chains whose free ends lie within ``tol`` of other linework, carried just across it.

    A barrier clipped to a community ends on the boundary only up to rounding (the clipped
    end may sit 1e-13 m inside it), and a road drawn to a river bank may stop a few
    decimetres short: left as they are, such ends dangle and the barrier separates nothing.
    Each free end (one no other chain shares) that lies within ``tol`` of the boundary or of
    another chain is joined to the nearest point there and carried 1 cm past it, so noding
    meets a true crossing; the overshoot dangles and polygonize drops it.
    """
    if not chains:
        return chains
    ends: dict[tuple[float, float], int] = {}
    for ch in chains:
        for xy in (ch.coords[0], ch.coords[-1]):
            key = (float(xy[0]), float(xy[1]))
            ends[key] = ends.get(key, 0) + 1
    others = [boundary, *chains]
    tree = shapely.STRtree(others)
    out: list[LineString] = []
    for k, ch in enumerate(chains):
        coords = np.asarray(ch.coords, dtype=float)
        if ch.is_ring or len(coords) < 2:
            out.append(ch)
            continue
        grown: list[np.ndarray] = []
        for end, prev in ((coords[0], coords[1]), (coords[-1], coords[-2])):
            if ends[(float(end[0]), float(end[1]))] > 1:  # a junction, noded exactly
                grown.append(end[None, :])
                continue
            p = shapely.Point(end)
            near = [
                int(j)
                for j in tree.query(p, predicate="dwithin", distance=tol).tolist()
                if j != k + 1
            ]
            if not near:
                grown.append(end[None, :])
                continue
            target = shapely.union_all([others[j] for j in near])
            d = float(shapely.distance(p, target))
            if d > 1e-9:
                q = np.asarray(shapely.ops.nearest_points(target, p)[0].coords[0])
                tip = q + 0.01 * (q - end) / d
            else:  # on the line up to rounding: carry it on in its own direction
                step = end - prev
                norm = float(np.hypot(step[0], step[1]))
                tip = end + 0.01 * step / norm if norm > 0 else end
            grown.append(np.vstack([end, tip]))
        head, tail = grown
        out.append(LineString(np.vstack([head[::-1], coords[1:-1], tail])))
    return out + _gap_connectors(chains, boundary, tol)


def _gap_connectors(
    chains: list[LineString], boundary: shapely.Geometry, tol: float
) -> list[LineString]:
    """Short cuts across gaps narrower than ``tol`` between a barrier and other linework.

    A river bank that comes within a few centimetres of the community line (or of another
    barrier) without touching it leaves a channel that joins the land on both sides; a
    connector from each vertex that close to the nearest point there (1 cm past it) closes
    the channel. The pieces it cuts off are slivers, merged into their neighbours.
    """
    others = [boundary, *chains]
    tree = shapely.STRtree(others)
    grid = settings.PRECISION_M
    out: list[LineString] = []
    for k, ch in enumerate(chains):
        coords = np.asarray(ch.coords, dtype=float)
        if len(coords) < 3:
            continue
        inner = coords if ch.is_ring else coords[1:-1]
        pts = shapely.points(inner)
        if not ch.is_ring:  # vertices next to the chain's own ends are the ends' business
            ends = shapely.points(coords[[0, -1]])
            far = np.min(shapely.distance(pts[:, None], ends[None, :]), axis=1) > tol
            pts, inner = pts[far], inner[far]
        if len(pts) == 0:
            continue
        vi, oj = tree.query(pts, predicate="dwithin", distance=tol)
        keep = oj != k + 1
        for v, j in zip(vi[keep].tolist(), oj[keep].tolist(), strict=True):
            d = float(shapely.distance(pts[v], others[j]))
            if d <= 2 * grid:  # touching up to the grid: noding joins them
                continue
            q = np.asarray(shapely.ops.nearest_points(others[j], pts[v])[0].coords[0])
            out.append(LineString([inner[v], q + 0.01 * (q - inner[v]) / d]))
    return out


def split_faces(
    area: Polygon,
    lines: Iterable[LineString],
    *,
    snap_m: float | None = None,
    sliver_m: float | None = None,
    where: str = "area",
) -> list[Polygon]:
    """Cut ``area`` into faces along ``lines``; the faces always tile the area.

    Coordinates are rounded to :data:`gridplan.settings.PRECISION_M` first (the faces tile
    the rounded area, :func:`on_grid`), so lines that coincide up to rounding are one line
    and every crossing is a true node. Lines that end inside the area (dangling) separate
    nothing, but a line end within ``snap_m`` of the boundary or of another line is carried
    across it, and a gap narrower than ``snap_m`` between a line and other linework is
    closed: a barrier clipped to the community (its clipped ends sit on the boundary only up
    to rounding), drawn a little short of a river, or passing a hair from the community line
    still cuts. Pieces thinner than ``sliver_m`` (a road running along, almost on, the
    community line leaves such strips) are merged into the neighbour they share the longest
    boundary with; no barrier is dropped for them. The faces are returned sorted north to
    south, west to east.

    Parameters
    ----------
    area
        A polygon (a community, in a metric CRS), or a MultiPolygon (a community's land cut
        in parts by water): each part is cut on its own.
    lines
        Barrier lines, clipped to the area or not.
    snap_m, sliver_m
        Tolerances in metres; ``None`` takes :data:`gridplan.settings.BARRIER_SNAP_M` and
        :data:`gridplan.settings.SLIVER_M`.
    where
        What the area is, for messages ("community C01").

    Raises
    ------
    InfeasibleError
        If the faces do not tile the area (never seen; it names the area rather than carrying
        on without its barriers).
    """
    snap = settings.BARRIER_SNAP_M if snap_m is None else snap_m
    thin = settings.SLIVER_M if sliver_m is None else sliver_m
    grid = settings.PRECISION_M
    area = on_grid(area)
    parts = [p for ln in lines if ln is not None and not ln.is_empty for p in _as_lines(ln)]
    if not parts:
        return sorted(
            [p for p in shapely.get_parts(area) if p.geom_type == "Polygon" and p.area > 0],
            key=lambda f: (-round(f.centroid.y, 3), round(f.centroid.x, 3)),
        )
    merged = shapely.line_merge(shapely.union_all(parts, grid_size=grid))
    chains = [c for c in _as_lines(merged) if c.length > 0]
    chains = _close_ends(chains, area.boundary, snap)
    # noding on a fixed grid: lines that coincide up to rounding become one line, so a road
    # drawn on the community line leaves no sliver, and every crossing is a true node
    noded = shapely.union_all([area.boundary, *chains], grid_size=grid)
    polys = np.asarray(list(polygonize(noded)), dtype=object)
    inside = shapely.area(shapely.intersection(polys, area)) if len(polys) else np.zeros(0)
    pieces = [
        p
        for p, a_in in zip(polys.tolist(), np.asarray(inside).tolist(), strict=True)
        if p.area > 0 and a_in > 0.5 * p.area
    ]
    total = float(sum(p.area for p in pieces))
    if abs(total - area.area) > 1e-6 * max(area.area, 1.0):
        rest = shapely.difference(area, shapely.union_all(pieces)) if pieces else area
        extra = [p for p in shapely.get_parts(rest) if p.geom_type == "Polygon" and p.area > 0]
        log.warning(
            "%s: faces cut by %d barrier lines covered %.1f of %.1f m²; the %d uncovered "
            "pieces are kept as faces of their own",
            where,
            len(parts),
            total,
            area.area,
            len(extra),
        )
        pieces.extend(extra)
    faces = _merge_slivers(pieces, thin)
    total = float(sum(f.area for f in faces))
    # gluing a sliver may snap a vertex by up to half a metre: a few m² per km² is noise
    if abs(total - area.area) > 1e-4 * max(area.area, 1.0):
        msg = (
            f"{where}: the faces cut by its {len(parts)} barrier lines cover {total:.1f} m² of "
            f"{area.area:.1f} m²; check the barrier and boundary geometries there (make them "
            "valid, drop duplicate or self-overlapping lines)"
        )
        raise InfeasibleError(msg)
    faces.sort(key=lambda f: (-round(f.centroid.y, 3), round(f.centroid.x, 3)))
    return faces


def on_grid(geom: shapely.Geometry) -> shapely.Geometry:
    """``geom`` with coordinates rounded to :data:`gridplan.settings.PRECISION_M` (valid)."""
    return shapely.set_precision(geom, settings.PRECISION_M)


def _thickness(poly: Polygon) -> float:
    """Twice area over perimeter: about the width of a long strip."""
    return 2.0 * poly.area / poly.length if poly.length > 0 else 0.0


def _merge_slivers(pieces: list[Polygon], thin: float) -> list[Polygon]:
    """Glue every piece thinner than ``thin`` into the neighbour with the longest shared edge."""
    if len(pieces) < 2:
        return pieces
    keep = [p for p in pieces if _thickness(p) >= thin]
    slivers = [p for p in pieces if _thickness(p) < thin]
    if not keep:  # nothing but slivers (a tiny area): keep them as they are
        return pieces
    for _ in range(len(slivers) + 1):
        if not slivers:
            break
        tree = shapely.STRtree(keep)
        rest = []
        for s in slivers:
            best, best_len = -1, 1e-9
            for j in tree.query(s, predicate="intersects").tolist():
                shared = shared_length(s, keep[j])
                if shared > best_len:
                    best, best_len = j, shared
            if best < 0:
                rest.append(s)
                continue
            _absorb(keep, best, s)
        if len(rest) == len(slivers):  # touching nothing kept: join the nearest piece
            for s in rest:
                _absorb(keep, int(shapely.STRtree(keep).nearest(s)), s)
            rest = []
        slivers = rest
    return keep


def _absorb(faces: list[Polygon], j: int, sliver: Polygon) -> None:
    """Glue ``sliver`` into ``faces[j]`` when the result is one polygon (dust of no area
    dropped); otherwise keep the sliver as a face of its own."""
    merged = glue(faces[j], sliver)
    parts = [p for p in shapely.get_parts(merged) if p.geom_type == "Polygon" and p.area > 0]
    main = max(parts, key=lambda p: p.area)
    if all(p is main or p.area < 1e-6 for p in parts):
        faces[j] = main
    else:
        faces.append(sliver)


def face_neighbours(
    faces: Sequence[Polygon], lines: gpd.GeoDataFrame
) -> dict[tuple[int, int], tuple[int, float, str]]:
    """Which faces touch, and how strong the barrier between them is.

    Faces sharing less than :data:`gridplan.settings.BARRIER_SNAP_M` of boundary are not
    neighbours.

    Returns
    -------
    dict
        ``(i, j)`` with ``i < j`` → ``(strength, shared length in metres, kind)``. The strength
        and kind are those of the strongest barrier line running along the shared boundary
        (0 and ``""`` if none).
    """
    out: dict[tuple[int, int], tuple[int, float, str]] = {}
    if len(faces) < 2:
        return out
    tree = shapely.STRtree(list(faces))
    left, right = tree.query(list(faces), predicate="intersects")
    line_geoms = list(lines.geometry.array) if len(lines) else []
    strengths = lines["strength"].to_numpy() if len(lines) else np.array([], dtype=int)
    kinds = lines["kind"].astype(str).to_numpy() if len(lines) else np.array([], dtype=object)
    line_tree = shapely.STRtree(line_geoms) if line_geoms else None
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = shapely.intersection(faces[i].boundary, faces[j].boundary)
        length = float(shared.length)
        if length < settings.BARRIER_SNAP_M:
            # faces meeting at a point (two banks where a river meets the community line)
            # or along a hair are no neighbours: merging them would not make one territory
            continue
        strength, kind = 0, ""
        if line_tree is not None:
            probe = shared.buffer(0.01)
            for k in line_tree.query(probe, predicate="intersects").tolist():
                overlap = shapely.intersection(line_geoms[k], probe).length
                if overlap > min(0.5 * length, 1.0) and int(strengths[k]) > strength:
                    strength, kind = int(strengths[k]), str(kinds[k])
        out[(i, j)] = (strength, length, kind)
    return out


def _unique_points(points: np.ndarray) -> np.ndarray:
    """Nudge coincident points apart deterministically (Voronoi needs distinct sites)."""
    pts = np.asarray(points, dtype=float).copy()
    if len(pts) < 2:
        return pts
    seen: dict[tuple[float, float], int] = {}
    for i in range(len(pts)):
        key = (round(pts[i, 0], 2), round(pts[i, 1], 2))
        n = seen.get(key, 0)
        seen[key] = n + 1
        if n:
            angle = 2.399963 * n  # golden angle spiral
            radius = 0.05 * np.sqrt(n)
            pts[i, 0] += radius * np.cos(angle)
            pts[i, 1] += radius * np.sin(angle)
    return pts


def _inside(area: Polygon, points: np.ndarray) -> np.ndarray:
    """Move points lying outside ``area`` (or on its boundary) just inside it."""
    pts = np.asarray(points, dtype=float).copy()
    geoms = shapely.points(pts)
    shapely.prepare(area)
    outside = ~shapely.contains(area, geoms)
    if outside.any():
        inner = area
        for d in (0.5, 0.05, 0.005):
            cand = area.buffer(-d)
            if not cand.is_empty:
                inner = cand
                break
        for i in np.flatnonzero(outside):
            q = shapely.ops.nearest_points(inner, geoms[i])[0]
            if not area.contains(q):
                q = area.representative_point()
            pts[i] = (q.x, q.y)
    return pts


def cell_graph(area: Polygon, points: np.ndarray) -> tuple[list[Polygon], np.ndarray, np.ndarray]:
    """Territory cells of ``points`` inside ``area`` and their adjacency.

    Parameters
    ----------
    area
        One polygon (a face).
    points
        ``(n, 2)`` array of site coordinates (building representative points or parts). Points
        outside the area are moved just inside; coincident points are nudged apart.

    Returns
    -------
    cells
        ``n`` polygons tiling ``area``; cell ``i`` holds site ``i``.
    edges
        ``(m, 2)`` int array of adjacent cell pairs ``i < j`` (sharing a boundary of positive
        length), sorted.
    lengths
        ``(m,)`` shared boundary length of each edge, metres.
    """
    n = len(points)
    if n == 0:
        return [], np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    if n == 1:
        return [area], np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    pts = _inside(area, _unique_points(_inside(area, _unique_points(points))))
    if len({(round(x, 6), round(y, 6)) for x, y in pts.tolist()}) < n:
        # points pushed onto the same spot inside: pull each a little towards the area's centre
        centre = np.asarray(area.representative_point().coords[0])
        pts = pts + (centre - pts) * (1e-4 * (1 + np.arange(n)))[:, None]
    sites = shapely.multipoints(pts)
    raw = shapely.get_parts(shapely.voronoi_polygons(sites, extend_to=area, ordered=True))
    if len(raw) != n:  # pragma: no cover - only with sites GEOS merged despite the nudge
        msg = f"Voronoi gave {len(raw)} cells for {n} sites"
        raise RuntimeError(msg)
    clipped = shapely.intersection(raw, area)
    cells: list[Polygon | None] = [None] * n
    orphans: list[Polygon] = []
    site_geoms = shapely.points(pts)
    for i in range(n):
        parts = [
            p for p in shapely.get_parts(clipped[i]) if p.geom_type == "Polygon" and p.area > 0
        ]
        if not parts:
            continue
        if len(parts) == 1:
            cells[i] = parts[0]
            continue
        own = [p for p in parts if p.covers(site_geoms[i])]
        main = own[0] if own else max(parts, key=lambda p: p.area)
        cells[i] = main
        orphans.extend(p for p in parts if p is not main)
    missing = [i for i in range(n) if cells[i] is None]
    if missing:  # a site whose cell vanished on clipping: give it a sliver of its neighbour
        for i in missing:
            cells[i] = shapely.Point(pts[i]).buffer(0.01).intersection(area)
            orphans = [o.difference(cells[i]) for o in orphans]
        for i in range(n):
            if i not in missing:
                others = [cells[j] for j in missing]
                cells[i] = shapely.difference(cells[i], unary_union(others))
    _attach_orphans(cells, orphans)
    final = [_one_polygon(c, site_geoms[i]) for i, c in enumerate(cells)]
    edges, lengths = _cell_edges(final)
    return final, edges, lengths


def _one_polygon(geom: shapely.Geometry, site: shapely.Point) -> Polygon:
    if geom.geom_type == "Polygon":
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    own = [p for p in parts if p.covers(site)]
    return own[0] if own else max(parts, key=lambda p: p.area)


def _attach_orphans(cells: list, orphans: list[Polygon]) -> None:
    """Union each orphan piece into the touching cell with the longest shared boundary."""
    pending = [o for o in orphans if o.area > 0]
    for _ in range(len(pending) + 2):
        if not pending:
            return
        tree = shapely.STRtree(cells)
        rest = []
        progressed = False
        for orphan in pending:
            cand = tree.query(orphan, predicate="intersects")
            best, best_len = -1, 1e-9
            for j in cand.tolist():
                shared = shapely.intersection(orphan.boundary, cells[j].boundary).length
                if shared > best_len:
                    best, best_len = j, shared
            if best < 0:
                rest.append(orphan)
                continue
            cells[best] = glue(cells[best], orphan)
            progressed = True
        pending = rest
        if not progressed:
            break
    for orphan in pending:  # isolated slivers (numerical noise): join the nearest cell
        tree = shapely.STRtree(cells)
        j = int(tree.nearest(orphan))
        cells[j] = glue(cells[j], orphan)


def glue(base: shapely.Geometry, piece: shapely.Geometry) -> shapely.Geometry:
    """Union ``piece`` into ``base``; when rounding leaves them apart, snap the piece first.

    The pieces glued here touch ``base`` along a boundary that overlay arithmetic may have
    moved by a few nanometres; a union on the :data:`gridplan.settings.PRECISION_M` grid, or
    else snapping the piece's vertices to ``base`` (1 cm, then 0.5 m), closes the gap so the
    result is one polygon.
    """
    merged = _union(base, piece)
    if merged.geom_type == "Polygon":
        return merged
    # edges apart by rounding only: overlay on the fixed grid makes them one
    cand = shapely.union(base, piece, grid_size=settings.PRECISION_M)
    if cand.geom_type == "Polygon":
        return cand
    for tol in (0.01, 0.5):
        snapped = shapely.make_valid(shapely.snap(piece, base, tol))
        cand = _union(base, snapped)
        if cand.geom_type == "Polygon":
            return cand
    return merged


def _union(a: shapely.Geometry, b: shapely.Geometry) -> shapely.Geometry:
    """Union, on the fixed :data:`gridplan.settings.PRECISION_M` grid when floating-point
    overlay fails on nearly coincident edges (GEOS "side location conflict")."""
    try:
        return shapely.union(a, b)
    except shapely.errors.GEOSException:
        return shapely.union(a, b, grid_size=settings.PRECISION_M)


def shared_length(a: shapely.Geometry, b: shapely.Geometry, tol: float = 1e-6) -> float:
    """Length of ``a``'s boundary lying within ``tol`` metres of ``b``'s boundary.

    Two pieces cut from one arrangement share an edge whose vertices overlay arithmetic may
    have moved by a few nanometres; an exact intersection of the boundaries then has no
    length, this measure has.
    """
    return float(shapely.length(shapely.intersection(a.boundary, shapely.buffer(b.boundary, tol))))


def _cell_edges(cells: Sequence[Polygon]) -> tuple[np.ndarray, np.ndarray]:
    tree = shapely.STRtree(list(cells))
    left, right = tree.query(list(cells), predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    arr = np.asarray(cells, dtype=object)
    shared = shapely.intersection(shapely.boundary(arr[left]), shapely.boundary(arr[right]))
    lengths = shapely.length(shared)
    ok = lengths > 1e-6  # a shared boundary of positive length (drops degenerate corners)
    edges = np.stack([left[ok], right[ok]], axis=1).astype(np.int64)
    lengths = lengths[ok]
    order = np.lexsort((edges[:, 1], edges[:, 0]))
    return edges[order], lengths[order]


def connected_components(nodes: Iterable[int], adj: Sequence[Sequence[int]]) -> list[list[int]]:
    """Connected components of the subgraph induced by ``nodes`` (each sorted, largest first)."""
    todo = set(nodes)
    comps: list[list[int]] = []
    for start in sorted(todo):
        if start not in todo:
            continue
        todo.discard(start)
        comp = [start]
        stack = [start]
        while stack:
            v = stack.pop()
            for u in adj[v]:
                if u in todo:
                    todo.discard(u)
                    comp.append(u)
                    stack.append(u)
        comps.append(sorted(comp))
    comps.sort(key=lambda c: (-len(c), c[0]))
    return comps


def merge_lines(lines: Iterable[LineString]) -> MultiLineString:
    """All lines as one MultiLineString (helper for drawing and tests)."""
    return MultiLineString([ln for ln in lines if not ln.is_empty])


def open_barrier_spans(
    area: Polygon,
    regions: Sequence[shapely.Geometry],
    lines: gpd.GeoDataFrame,
    xy: np.ndarray,
    label: np.ndarray,
    *,
    width_m: float = 0.5,
) -> list[tuple[int, str, float]]:
    """Regions a barrier line runs right through, with buildings on both sides, although it
    separates no land.

    A barrier that ends inside ``area`` (an arterial mapped only part of its way, a wall
    with a gate) cuts no face, so the engine may draw a region across it; where the line
    crosses the region from edge to edge, the region's buildings lie on both sides of it
    and the way between them goes around the line's end, outside the region. This finds
    those regions, so that they are reported rather than left unsaid (a region around the
    line's end is not; a region across a barrier that does separate land comes from a small
    face merged with its neighbour, which is reported where it is merged).

    Parameters
    ----------
    area
        The land cut (a community).
    regions
        The regions drawn on it (grids, or communities one level up).
    lines
        Its barrier lines (:func:`barrier_lines`): ``kind`` and geometry.
    xy
        Building positions, ``(n, 2)``.
    label
        Region index of each building (``-1``: none).
    width_m
        Half-width of a barrier line; a building closer than that to it is on neither side.

    Returns
    -------
    list of (int, str, float)
        Region index, the barrier kinds crossing it (comma list) and the length of barrier
        line inside it, metres; regions in order.
    """
    if not len(lines) or not len(xy) or not len(regions):
        return []
    geoms = np.asarray(lines.geometry.array, dtype=object)
    kinds = lines["kind"].astype(str).to_numpy() if "kind" in lines else np.full(len(geoms), "")
    band = shapely.union_all(shapely.buffer(geoms, width_m))
    pts = shapely.points(np.asarray(xy, dtype=float))
    land = [p for p in shapely.get_parts(area.difference(band)) if p.area > 0]
    piece = np.full(len(pts), -1, dtype=np.int64)
    if land:
        src, tgt = shapely.STRtree(land).query(pts, predicate="within")
        piece[src] = tgt
    tree = shapely.STRtree(geoms)
    out: list[tuple[int, str, float]] = []
    for k, region in enumerate(regions):
        hit = tree.query(region, predicate="intersects")
        if not len(hit):
            continue
        mine = np.flatnonzero((label == k) & (piece >= 0))
        if len(mine) < 2 or len(set(piece[mine].tolist())) > 1:
            continue  # across land the barriers separate: a reported merge
        sides = [p for p in shapely.get_parts(region.difference(band)) if p.area > 0]
        held = sum(bool(shapely.covers(s, pts[mine]).any()) for s in sides)
        if held < 2:
            continue
        inside = float(shapely.length(shapely.intersection(geoms[hit], region)).sum())
        kind = ", ".join(sorted({str(x) for x in kinds[hit] if str(x)}))
        out.append((k, kind, inside))
    return out
