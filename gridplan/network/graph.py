"""The walk network: a graph of walkable roads, and snapping points onto it.

:func:`build_walk_network` turns the prepared ``roads`` layer into a :class:`WalkNetwork`:
walkable road lines noded at every intersection (shared vertices and crossings), one edge per
noded piece, lengths in metres. The network keeps a symmetric SciPy CSR matrix (the compiled
shortest-path core the searches of :mod:`gridplan.network.distances` run on) and builds a
networkx graph of the same edges on demand (:attr:`WalkNetwork.graph`).

:func:`snap_points` (from :mod:`gridplan.network.snapping`) joins buildings, facilities and
candidate
sites to the network at the nearest point of the nearest walkable edge. A point's distance to
the two ends of its edge is its access distance plus the distance along the edge, so no
virtual node is inserted and the network is shared by every query.

Rivers and other ``barriers`` are crossed only where a road crosses them: the walk graph holds
road edges only, so a river with one bridge is crossed only on the bridge road. Barriers also
stop access: a point never joins an edge across a barrier line or polygon.

Known limits: every crossing of two walkable lines becomes a junction, so grade-separated
crossings (a footpath under a flyover) are joined too; lines whose ends miss each other by more
than 1 cm are not joined.

Example
-------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString, Point
>>> roads = gpd.GeoDataFrame(
...     {"road_class": ["residential", "residential"]},
...     geometry=[LineString([(0, 0), (200, 0)]), LineString([(100, -50), (100, 50)])],
...     crs="EPSG:32648",
... )
>>> net = build_walk_network(roads)
>>> net.n_nodes, net.n_edges
(5, 4)
>>> snap = snap_points(net, gpd.GeoSeries([Point(30, 10)], crs="EPSG:32648"))
>>> float(snap.access_m[0]), float(snap.offset_u[0]), float(snap.offset_v[0])
(10.0, 40.0, 80.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from gridplan._errors import DataError
from gridplan.network.distances import (
    distance_matrix,
)
from gridplan.network.snapping import SegmentIndex, segment_index, snap_points
from gridplan.settings import DEFAULT, Config

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "WalkNetwork",
    "build_walk_network",
    "walkable_mask",
]

log = logging.getLogger(__name__)

#: Precision grid used to node road lines, metres: ends closer than this are joined.
NODING_GRID_M = 0.01
#: Segments of two lines closer than this (metres) meet: they are noded together exactly.
TOUCH_M = 1e-6


@dataclass(frozen=True)
class WalkNetwork:
    """A walk network built by :func:`build_walk_network`.

    Nodes are ``0 .. n_nodes - 1``, numbered by coordinate (x, then y) so the numbering is
    deterministic. Edges are the noded road pieces, in the direction of their geometry
    (``edge_u`` is the first vertex); parallel pieces and loops are kept for snapping, while
    :attr:`csr` holds the shortest piece between two nodes in both directions.

    Attributes
    ----------
    xy
        Node coordinates, shape ``(n_nodes, 2)``, in :attr:`crs`.
    edge_u, edge_v
        End nodes of each edge.
    edge_length
        Edge lengths in metres.
    edge_geometry
        The edges as shapely LineStrings.
    edge_road_class
        The ``road_class`` of the road each edge comes from.
    csr
        Symmetric sparse matrix of edge lengths (the compiled shortest-path core).
    component
        Connected-component label of each node.
    main_component
        Label of the main component (the largest by total edge length).
    barriers
        Barrier geometries that access lines may not cross.
    crs
        The CRS of the roads (metric).
    """

    xy: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray
    edge_road_class: np.ndarray
    csr: sparse.csr_matrix
    component: np.ndarray
    main_component: int
    barriers: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    crs: CRS | None = None

    def __repr__(self) -> str:
        """One line: nodes, edges, total length, components (not the coordinates)."""
        km = float(np.sum(self.edge_length)) / 1000.0
        parts = len(np.unique(self.component)) if len(self.component) else 0
        crs = self.crs.to_string() if self.crs is not None else None
        return (
            f"WalkNetwork(nodes={self.n_nodes}, edges={len(self.edge_u)}, length={km:.1f} km, "
            f"components={parts}, crs={crs})"
        )

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.xy.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges (noded road pieces, parallel pieces and loops included)."""
        return int(self.edge_u.shape[0])

    @property
    def edge_component(self) -> np.ndarray:
        """Component label of each edge."""
        return self.component[self.edge_u] if self.n_edges else np.empty(0, dtype=np.int64)

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        """Spatial index over :attr:`edge_geometry`."""
        return shapely.STRtree(self.edge_geometry)

    @cached_property
    def segment_index(self) -> SegmentIndex:
        """The edges' straight segments with a k-d tree, for exact nearest-edge snapping."""
        return segment_index(self.edge_geometry)

    @cached_property
    def barrier_tree(self) -> shapely.STRtree:
        """Spatial index over :attr:`barriers`."""
        return shapely.STRtree(self.barriers)

    @cached_property
    def barrier_segment_tree(self) -> shapely.STRtree:
        """Spatial index over the straight segments of the barriers' lines and outlines."""
        parts = shapely.get_parts(self.barriers)
        area = shapely.get_type_id(parts) == 3  # Polygon: its rings
        lines = shapely.get_parts(np.concatenate([parts[~area], shapely.boundary(parts[area])]))
        xy, idx = shapely.get_coordinates(lines, return_index=True)
        same = idx[1:] == idx[:-1]
        a, b = xy[:-1][same], xy[1:][same]
        return shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1)))

    @cached_property
    def graph(self) -> nx.Graph:
        """The network as a networkx graph (built on first use).

        Nodes carry ``x``, ``y`` and ``component``; edges carry ``length_m``, ``edge`` (the
        index of the shortest piece between the two nodes) and ``road_class``. Loops are left
        out: they never shorten a path.
        """
        import networkx as nx  # only here: the searches run on :attr:`csr`

        g = nx.Graph(crs=self.crs)
        g.add_nodes_from(
            (i, {"x": float(x), "y": float(y), "component": int(c)})
            for i, ((x, y), c) in enumerate(zip(self.xy, self.component, strict=True))
        )
        order = np.argsort(-self.edge_length, kind="stable")  # shortest added last wins
        for e in order:
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            if u == v:
                continue
            g.add_edge(
                u,
                v,
                length_m=float(self.edge_length[e]),
                edge=int(e),
                road_class=str(self.edge_road_class[e]),
            )
        return g

    def distance_fn(
        self, origins_xy: np.ndarray, targets_xy: np.ndarray, *, limit: float = np.inf
    ) -> np.ndarray:
        """Walking metres between coordinate arrays, shape ``(n_origins, n_targets)``.

        Points join the network as in :func:`snap_points` (default ``max_access_m``); ``inf``
        where no path exists. This is the ``distance_fn`` staffing uses for network distances.
        """
        o = snap_points(self, shapely.points(np.asarray(origins_xy, dtype=float).reshape(-1, 2)))
        t = snap_points(self, shapely.points(np.asarray(targets_xy, dtype=float).reshape(-1, 2)))
        return distance_matrix(self, o, t, limit=limit)

    def edges_frame(self) -> gpd.GeoDataFrame:
        """The edges as a GeoDataFrame (u, v, length_m, road_class, component, geometry)."""
        return gpd.GeoDataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "length_m": self.edge_length,
                "road_class": self.edge_road_class,
                "component": self.edge_component,
            },
            geometry=self.edge_geometry,
            crs=self.crs,
        )


def walkable_mask(
    roads: gpd.GeoDataFrame, *, unwalkable_road_classes: tuple[str, ...] | None = None
) -> np.ndarray:
    """Which roads are walkable: by class, overridden by a non-missing ``walkable`` value.

    Parameters
    ----------
    roads
        The ``roads`` layer (``road_class`` and ``walkable`` columns optional).
    unwalkable_road_classes
        Classes walkable only where ``walkable`` is true (default: the coverage setting).

    Returns
    -------
    numpy.ndarray
        Boolean mask aligned with ``roads``.
    """
    classes = (
        DEFAULT.coverage.unwalkable_road_classes
        if unwalkable_road_classes is None
        else unwalkable_road_classes
    )
    n = len(roads)
    if "road_class" in roads.columns:
        by_class = ~roads["road_class"].astype("string").isin(list(classes)).to_numpy(bool)
    else:
        by_class = np.ones(n, dtype=bool)
    if "walkable" not in roads.columns:
        return by_class
    raw = roads["walkable"].astype(object).where(roads["walkable"].notna(), None)
    forced = pd.array(raw.to_numpy(), dtype="boolean")
    forced_true = forced.fillna(False).to_numpy(dtype=bool)
    forced_false = (~forced).fillna(False).to_numpy(dtype=bool)
    return (by_class | forced_true) & ~forced_false


def build_walk_network(
    roads: gpd.GeoDataFrame,
    *,
    barriers: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    config: Config | None = None,
) -> WalkNetwork:
    """Build the walk network from the ``roads`` layer.

    Parameters
    ----------
    roads
        Prepared ``roads`` layer in a metric CRS: LineString or MultiLineString geometry,
        ``road_class`` and a nullable boolean ``walkable`` (true forces walkable, false forces
        not walkable, missing goes by class).
    barriers
        Optional ``barriers`` layer (rivers, rail, walls). The graph holds road edges only, so
        a barrier is crossed only where a road crosses it; barriers are kept so that
        :func:`snap_points` never joins a point to an edge across one.
    config
        Settings; ``coverage.unwalkable_road_classes`` is used.

    Returns
    -------
    WalkNetwork
        The noded network (possibly empty when no road is walkable).

    Raises
    ------
    DataError
        When ``roads`` is in a geographic CRS or holds non-line geometry.
    """
    cfg = config or DEFAULT
    crs = roads.crs
    if crs is not None and crs.is_geographic:
        msg = "roads: the layer is in a geographic CRS; prepare the dataset (metric UTM) first"
        raise DataError(msg)
    geoms = roads.geometry.to_numpy()
    keep = walkable_mask(roads, unwalkable_road_classes=cfg.coverage.unwalkable_road_classes)
    keep &= ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    bad = keep & ~np.isin(types, [1, 2, 5])  # LineString, LinearRing, MultiLineString
    if bad.any():
        ids = ", ".join(map(str, roads.index[bad][:10]))
        msg = f"roads: rows {ids} are not lines; give roads as LineString or MultiLineString"
        raise DataError(msg)
    road_class = (
        roads["road_class"].astype("string").fillna("").to_numpy(dtype=object)
        if "road_class" in roads.columns
        else np.full(len(roads), "", dtype=object)
    )
    lines = geoms[keep]
    line_class = road_class[keep]
    barrier_geoms = _barrier_geometries(barriers)
    if len(lines) == 0:
        log.warning("roads: no walkable road; the walk network is empty")
        return _assemble(
            np.empty((0, 2)), np.empty(0, object), np.empty(0, object), crs, barrier_geoms
        )

    if (types[keep] == 5).any():  # MultiLineStrings -> LineStrings
        line_class = np.repeat(line_class, shapely.get_num_geometries(lines))
        lines = shapely.get_parts(lines)
    pieces, src, ends = _node_lines(lines)
    lost = src < 0  # pieces from the exact overlay: find the line they lie on
    if lost.any():
        mid = shapely.line_interpolate_point(pieces[lost], 0.5, normalized=True)
        src[lost] = shapely.STRtree(lines).query_nearest(mid, all_matches=False)[1]
    piece_class = line_class[src]
    return _assemble(ends, pieces, piece_class, crs, barrier_geoms)


def _key1(key: np.ndarray) -> np.ndarray:
    """One int64 per grid coordinate pair (x major, so sorting keys sorts by x then y)."""
    return key[:, 0] * np.int64(1 << 32) + key[:, 1]


def _round_lines(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines with coordinates on the noding grid and no repeated consecutive vertices."""
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    coords = np.round(coords / NODING_GRID_M) * NODING_GRID_M
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = (idx[1:] != idx[:-1]) | (coords[1:] != coords[:-1]).any(axis=1)
    coords, idx = coords[keep], idx[keep]
    counts = np.bincount(idx, minlength=len(lines))
    ok = counts >= 2
    sel = ok[idx]
    new_idx = np.cumsum(ok)[idx[sel]] - 1
    return shapely.linestrings(coords[sel], indices=new_idx), np.flatnonzero(ok)


def _node_lines(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split lines at every junction: shared vertices, ends on another line, and crossings.

    Lines that cross or end on another line away from its vertices (rare in OSM-like data,
    where junctions are shared vertices) are noded exactly with a GEOS overlay; every line is
    then cut at the vertices it shares with another line, which is a pure array operation.
    Returns the pieces, per piece the input line it comes from (``-1``: from the overlay),
    and the end coordinates: every piece's first vertex, then every piece's last vertex.
    """
    lines, src = _round_lines(lines)
    if len(lines) == 0:
        return lines, src, np.empty((0, 2))
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    key = np.round(coords / NODING_GRID_M).astype(np.int64)
    needs = _needs_overlay(lines, coords, idx, key)
    if needs.any():
        noded = shapely.union_all(lines[needs], grid_size=NODING_GRID_M)
        parts = shapely.get_parts(noded)
        parts = parts[shapely.get_type_id(parts) == 1]
        parts, _ = _round_lines(parts)
        lines = np.concatenate([lines[~needs], parts])
        src = np.concatenate([src[~needs], np.full(len(parts), -1, dtype=src.dtype)])
        coords, idx = shapely.get_coordinates(lines, return_index=True)
        key = np.round(coords / NODING_GRID_M).astype(np.int64)
    # cut every line at vertices shared with another line (or repeated within it)
    _, inv, counts = np.unique(_key1(key), return_inverse=True, return_counts=True)
    inv = inv.ravel()
    first = np.ones(len(idx), dtype=bool)
    first[1:] = idx[1:] != idx[:-1]
    last = np.ones(len(idx), dtype=bool)
    last[:-1] = idx[1:] != idx[:-1]
    cut = (counts[inv] >= 2) & ~first & ~last  # interior vertices where a piece ends and starts
    reps = np.where(cut, 2, 1)
    c2 = np.repeat(coords, reps, axis=0)
    starts = np.repeat(first | cut, reps)
    # the first copy of a cut vertex ends a piece, the second starts the next
    dup_first = np.repeat(cut, reps) & (
        np.arange(len(c2)) == np.repeat(np.cumsum(reps) - reps, reps)
    )
    starts &= ~dup_first
    piece = np.cumsum(starts) - 1
    pieces = shapely.linestrings(c2, indices=piece)
    piece_src = np.full(len(pieces), -1, dtype=np.int64)
    piece_src[piece] = src[np.repeat(idx, reps)]
    ok = shapely.length(pieces) > 0
    first_at = np.flatnonzero(starts)
    last_at = np.append(first_at[1:] - 1, len(c2) - 1)
    ends = np.concatenate([c2[first_at[ok]], c2[last_at[ok]]])
    return pieces[ok], piece_src[ok], ends


def _needs_overlay(
    lines: np.ndarray, coords: np.ndarray, idx: np.ndarray, key: np.ndarray
) -> np.ndarray:
    """Lines that cross or touch another line away from a vertex of both (exact overlay needed).

    Works segment by segment: GEOS finds the pairs of straight segments of different lines
    that intersect; a pair is the usual junction when the segments share an end point (a
    vertex of both lines) and are not collinear, since two such segments meet only there.
    Every other intersecting pair is a crossing, an end on the other line's interior or an
    overlap, and both lines go to the overlay.
    """
    needs = np.zeros(len(lines), dtype=bool)
    same = idx[1:] == idx[:-1]
    s0, s1 = coords[:-1][same], coords[1:][same]
    k0, k1 = _key1(key[:-1][same]), _key1(key[1:][same])
    line = idx[:-1][same]
    # a two-point line is its own segment: make geometries for the longer lines' segments only
    nv = shapely.get_num_coordinates(lines)
    two = nv[line] == 2
    segs = np.empty(len(line), dtype=object)
    segs[two] = lines[line[two]]
    if (~two).any():
        segs[~two] = shapely.linestrings(np.stack([s0[~two], s1[~two]], axis=1))
    a, b = shapely.STRtree(segs).query(segs)  # bounding boxes meet
    keep = line[a] < line[b]
    a, b = a[keep], b[keep]
    shared = (k0[a] == k0[b]) | (k0[a] == k1[b]) | (k1[a] == k0[b]) | (k1[a] == k1[b])
    da, db = s1[a] - s0[a], s1[b] - s0[b]
    cross = da[:, 0] * db[:, 1] - da[:, 1] * db[:, 0]
    bent = np.abs(cross) > 1e-9 * (np.hypot(*da.T) * np.hypot(*db.T))
    junction = shared & bent
    a, b, da, db = a[~junction], b[~junction], da[~junction], db[~junction]
    # the rest meet when they cross properly or pass within TOUCH_M of each other
    p, q, r, t = s0[a], s1[a], s0[b], s1[b]
    o1, o2 = _orient(p, da, r), _orient(p, da, t)
    o3, o4 = _orient(r, db, p), _orient(r, db, q)
    proper = (o1 * o2 < 0) & (o3 * o4 < 0)
    gap = np.minimum.reduce(
        [
            _point_segment(p, r, db),
            _point_segment(q, r, db),
            _point_segment(r, p, da),
            _point_segment(t, p, da),
        ]
    )
    bad = proper | (gap <= TOUCH_M)
    needs[line[a[bad]]] = True
    needs[line[b[bad]]] = True
    return needs


def _orient(origin: np.ndarray, vec: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """Twice the signed area of (origin, origin + vec, pt): which side of the line pt is on."""
    rel = pt - origin
    return np.asarray(vec[:, 0] * rel[:, 1] - vec[:, 1] * rel[:, 0])


def _point_segment(pt: np.ndarray, start: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Distance from each point to the segment ``start .. start + vec``."""
    rel = pt - start
    len2 = (vec * vec).sum(axis=1)
    t = np.clip((rel * vec).sum(axis=1) / np.where(len2 > 0, len2, 1.0), 0.0, 1.0)
    d = rel - t[:, None] * vec
    return np.asarray(np.hypot(d[:, 0], d[:, 1]))


def _barrier_geometries(barriers: gpd.GeoDataFrame | gpd.GeoSeries | None) -> np.ndarray:
    if barriers is None or len(barriers) == 0:
        return np.empty(0, dtype=object)
    geoms = barriers.geometry.to_numpy() if hasattr(barriers, "geometry") else np.asarray(barriers)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    return np.asarray(geoms, dtype=object)


def _assemble(
    ends: np.ndarray,
    pieces: np.ndarray,
    piece_class: np.ndarray,
    crs: CRS | None,
    barrier_geoms: np.ndarray,
) -> WalkNetwork:
    m = len(pieces)
    if m == 0:
        empty_i = np.empty(0, dtype=np.int64)
        return WalkNetwork(
            xy=np.empty((0, 2)),
            edge_u=empty_i,
            edge_v=empty_i,
            edge_length=np.empty(0),
            edge_geometry=np.empty(0, dtype=object),
            edge_road_class=np.empty(0, dtype=object),
            csr=sparse.csr_matrix((0, 0)),
            component=empty_i,
            main_component=-1,
            barriers=barrier_geoms,
            crs=crs,
        )
    key = np.round(ends / NODING_GRID_M).astype(np.int64)
    _, first_at, inverse = np.unique(_key1(key), return_index=True, return_inverse=True)
    inverse = inverse.ravel()  # nodes sorted by x then y
    xy = key[first_at].astype(float) * NODING_GRID_M
    u, v = inverse[:m], inverse[m:]
    length = shapely.length(pieces)
    # deterministic edge order: by end nodes, then length, then geometry text
    wkb = shapely.to_wkb(pieces)
    order = np.lexsort((wkb, length, np.maximum(u, v), np.minimum(u, v)))
    u, v, length, pieces, piece_class = (
        u[order],
        v[order],
        length[order],
        pieces[order],
        piece_class[order],
    )
    n = len(xy)
    a, b = np.minimum(u, v), np.maximum(u, v)
    proper = a != b
    pair = a[proper] * n + b[proper]
    pair_len = length[proper]
    # keep the shortest piece per node pair (edges are sorted by pair then length)
    first = np.ones(len(pair), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    pa, pb, pl = a[proper][first], b[proper][first], pair_len[first]
    csr = sparse.csr_matrix(
        (np.concatenate([pl, pl]), (np.concatenate([pa, pb]), np.concatenate([pb, pa]))),
        shape=(n, n),
    )
    csr.sort_indices()
    _, labels = connected_components(csr, directed=False)
    labels = labels.astype(np.int64)
    comp_len = np.bincount(labels[u], weights=length, minlength=int(labels.max()) + 1)
    main = int(np.argmax(comp_len))
    return WalkNetwork(
        xy=xy,
        edge_u=u.astype(np.int64),
        edge_v=v.astype(np.int64),
        edge_length=length,
        edge_geometry=pieces,
        edge_road_class=piece_class,
        csr=csr,
        component=labels,
        main_component=main,
        barriers=barrier_geoms,
        crs=crs,
    )
