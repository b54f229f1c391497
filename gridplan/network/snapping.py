"""Snapping: where buildings, facilities and sites join the walk network.

A point joins the network at the nearest point of the nearest walkable edge. Its distance to
the two ends of that edge is its access distance plus the distance along the edge, so no
virtual node is inserted and one network serves every query. A point never joins a small
disconnected fragment when the main network is within ``max_access_m``, and never an edge
across a barrier.

The nearest edge is found on a segment index built once per network: every straight segment of
every edge is cut into pieces of at most :data:`PIECE_M` metres, and a k-d tree over the piece
midpoints gives each point its candidate segments, whose exact distances are then computed in
NumPy. A point whose answer the candidates cannot prove (the k-th midpoint is too close to the
best distance) falls back to the exact GEOS nearest query, so the result is always the exact
nearest edge (ties: lowest edge index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gridplan.settings import DEFAULT, Config

if TYPE_CHECKING:
    from gridplan.network.graph import WalkNetwork

__all__ = ["SegmentIndex", "SnapResult", "segment_index", "snap_points"]

#: Longest piece of a segment in the k-d tree of :func:`segment_index`, metres.
PIECE_M = 20.0
#: Candidate pieces looked at per point before falling back to the exact GEOS query.
CANDIDATES = 12


@dataclass(frozen=True)
class SnapResult:
    """Where each point joins the walk network (one entry per input point, input order).

    Attributes
    ----------
    index
        The input index values.
    edge
        Edge joined, ``-1`` when unreachable.
    node_u, node_v
        End nodes of that edge (``-1`` when unreachable).
    along_m
        Distance along the edge from ``node_u`` to the joining point.
    access_m
        Straight distance from the point to the joining point; for an unreachable point the
        distance to the nearest edge (``inf`` when the network is empty).
    offset_u, offset_v
        Access plus the distance along the edge to ``node_u`` / ``node_v`` (``inf`` when
        unreachable): the cost of walking from the point to either end.
    reachable
        The point joined the network within ``max_access_m`` without crossing a barrier.
    component
        Component of the edge joined (``-1`` when unreachable).
    moved
        The point joined an edge other than its nearest one (a fragment or barrier was avoided).
    """

    index: np.ndarray
    edge: np.ndarray
    node_u: np.ndarray
    node_v: np.ndarray
    along_m: np.ndarray
    access_m: np.ndarray
    offset_u: np.ndarray
    offset_v: np.ndarray
    reachable: np.ndarray
    component: np.ndarray
    moved: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """The result as a DataFrame indexed like the input points."""
        return pd.DataFrame(
            {
                "edge": self.edge,
                "node_u": self.node_u,
                "node_v": self.node_v,
                "along_m": self.along_m,
                "access_m": self.access_m,
                "offset_u": self.offset_u,
                "offset_v": self.offset_v,
                "reachable": self.reachable,
                "component": self.component,
                "moved": self.moved,
            },
            index=pd.Index(self.index),
        )


def _as_points(points: gpd.GeoSeries | gpd.GeoDataFrame | np.ndarray) -> np.ndarray:
    geoms = points.geometry.to_numpy() if hasattr(points, "geometry") else np.asarray(points)
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    not_point = ~missing & (shapely.get_type_id(geoms) != 0)
    if not_point.any():
        out[not_point] = shapely.point_on_surface(geoms[not_point])
    return out


def snap_points(
    network: WalkNetwork,
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    max_access_m: float | None = None,
    config: Config | None = None,
) -> SnapResult:
    """Join points to the nearest point of the nearest walkable edge.

    A point joins the main component whenever an edge of it lies within ``max_access_m``
    (never a small disconnected fragment then), and never an edge across a barrier. Points
    with no such edge within ``max_access_m`` are unreachable. Polygons are represented by a
    point on their surface.

    Parameters
    ----------
    network
        The walk network.
    points
        Points (or polygons) in the network's CRS.
    max_access_m
        Farthest a point may be from the network (default ``coverage.max_access_m``).
    config
        Settings used for the default of ``max_access_m``.

    Returns
    -------
    SnapResult
        One entry per point, in input order.
    """
    cfg = config or DEFAULT
    limit = float(cfg.coverage.max_access_m if max_access_m is None else max_access_m)
    index = points.index if hasattr(points, "index") else pd.RangeIndex(len(points))
    pts = _as_points(points)
    k = len(pts)
    edge = np.full(k, -1, dtype=np.int64)
    access = np.full(k, np.inf)
    moved = np.zeros(k, dtype=bool)
    along = np.full(k, np.nan)
    valid = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
    if network.n_edges and valid.any():
        vi = np.flatnonzero(valid)
        near_edge, near_dist, near_along = _nearest(network, pts[vi], limit)
        access[vi] = near_dist
        along[vi] = near_along
        comp = network.edge_component
        ok = (near_dist <= limit) & (comp[near_edge] == network.main_component)
        ok &= ~_crosses_barrier(network, pts[vi], near_edge, near_dist)
        edge[vi[ok]] = near_edge[ok]
        retry = vi[~ok & (near_dist <= limit)]
        for i in retry:
            e = _snap_one(network, pts[i], limit)
            if e >= 0:
                edge[i] = e
                moved[i] = True
                access[i] = float(shapely.distance(pts[i], network.edge_geometry[e]))
                g = network.edge_geometry[e]
                along[i] = min(
                    max(float(shapely.line_locate_point(g, pts[i])), 0.0),
                    float(network.edge_length[e]),
                )
    reachable = edge >= 0
    node_u = np.full(k, -1, dtype=np.int64)
    node_v = np.full(k, -1, dtype=np.int64)
    along[~reachable] = np.nan
    off_u = np.full(k, np.inf)
    off_v = np.full(k, np.inf)
    component = np.full(k, -1, dtype=np.int64)
    if reachable.any():
        r = np.flatnonzero(reachable)
        er = edge[r]
        t = along[r]
        length = network.edge_length[er]
        node_u[r] = network.edge_u[er]
        node_v[r] = network.edge_v[er]
        off_u[r] = access[r] + t
        off_v[r] = access[r] + (length - t)
        component[r] = network.component[network.edge_u[er]]
    return SnapResult(
        index=np.asarray(index),
        edge=edge,
        node_u=node_u,
        node_v=node_v,
        along_m=along,
        access_m=access,
        offset_u=off_u,
        offset_v=off_v,
        reachable=reachable,
        component=component,
        moved=moved,
    )


@dataclass(frozen=True)
class SegmentIndex:
    """The straight segments of a network's edges, with a k-d tree over short pieces of them.

    Attributes
    ----------
    start, vector
        First vertex of each segment and the vector to its second vertex, shape ``(s, 2)``.
    length
        Segment lengths, metres.
    edge
        Edge of each segment (segments are ordered by edge, then along it).
    offset
        Distance along the edge to the segment's first vertex, metres.
    piece_segment
        Segment of each piece in the k-d tree.
    half_piece
        Half the longest piece: no point of a segment is farther than this from the midpoint
        of its nearest piece.
    tree
        k-d tree over the piece midpoints.
    """

    start: np.ndarray
    vector: np.ndarray
    length: np.ndarray
    edge: np.ndarray
    offset: np.ndarray
    piece_segment: np.ndarray
    half_piece: float
    tree: cKDTree


def segment_index(edge_geometry: np.ndarray, *, piece_m: float = PIECE_M) -> SegmentIndex:
    """Index the straight segments of ``edge_geometry`` for exact nearest-edge queries.

    Parameters
    ----------
    edge_geometry
        The network's edges (LineStrings without repeated consecutive vertices).
    piece_m
        Longest piece a segment is cut into for the k-d tree, metres.

    Returns
    -------
    SegmentIndex
        The segments and the tree (:attr:`WalkNetwork.segment_index` caches it).
    """
    xy, idx = shapely.get_coordinates(edge_geometry, return_index=True)
    same = idx[1:] == idx[:-1]
    start = xy[:-1][same]
    vector = xy[1:][same] - start
    edge = idx[:-1][same].astype(np.int64)
    length = np.hypot(vector[:, 0], vector[:, 1])
    cum = np.cumsum(length) - length  # running total at each segment's start
    first = np.ones(len(edge), dtype=bool)
    first[1:] = edge[1:] != edge[:-1]
    offset = cum - cum[np.maximum.accumulate(np.where(first, np.arange(len(edge)), 0))]
    n_pieces = np.maximum(np.ceil(length / piece_m), 1).astype(np.int64)
    seg = np.repeat(np.arange(len(edge)), n_pieces)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    frac = (k + 0.5) / n_pieces[seg]
    mid = start[seg] + vector[seg] * frac[:, None]
    half = float((length / n_pieces).max() / 2) if len(edge) else 0.0
    return SegmentIndex(
        start=start,
        vector=vector,
        length=length,
        edge=edge,
        offset=offset,
        piece_segment=seg,
        half_piece=half,
        tree=cKDTree(mid),
    )


def _nearest(
    network: WalkNetwork, pts: np.ndarray, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest edge of each point, its distance and the distance along it to the nearest point.

    Candidates come from the segment index; a point the candidates cannot prove exact (another
    segment might be as near) goes to the GEOS query. Ties: the lowest edge index, then the
    first point along it.
    """
    index = network.segment_index
    xy = shapely.get_coordinates(pts)
    n = len(xy)
    k = min(CANDIDATES, len(index.piece_segment))
    dk, pk = index.tree.query(xy, k=k)
    dk, pk = dk.reshape(n, k), pk.reshape(n, k)
    seg = index.piece_segment[pk]
    rel = xy[:, None, :] - index.start[seg]
    vec = index.vector[seg]
    length = index.length[seg]
    len2 = np.where(length > 0, length * length, 1.0)
    t = np.clip((rel * vec).sum(axis=2) / len2, 0.0, 1.0)
    diff = rel - t[:, :, None] * vec
    dist = np.hypot(diff[:, :, 0], diff[:, :, 1])
    best = dist.min(axis=1)
    tol = 1e-9 * np.maximum(best, 1.0)
    # among (near-)equal candidates the lowest segment index: lowest edge, first along it
    pick = np.where(dist <= (best + tol)[:, None], seg, np.iinfo(np.int64).max).argmin(axis=1)
    rows = np.arange(n)
    s = seg[rows, pick]
    edge = index.edge[s]
    along = np.minimum(index.offset[s] + t[rows, pick] * index.length[s], network.edge_length[edge])
    # another segment within best + tol has a piece midpoint within best + tol + half_piece
    exact = (dk[:, -1] - index.half_piece > best + 2 * tol) | (k == len(index.piece_segment))
    slow = np.flatnonzero(~exact)
    if len(slow):
        e = _nearest_edges(network, pts[slow], limit)
        g = network.edge_geometry[e]
        edge[slow] = e
        best[slow] = shapely.distance(pts[slow], g)
        along[slow] = np.clip(shapely.line_locate_point(g, pts[slow]), 0.0, network.edge_length[e])
    return edge, best, along


def _nearest_edges(network: WalkNetwork, pts: np.ndarray, limit: float) -> np.ndarray:
    """Nearest edge of each point (ties: lowest edge index); a short radius first, for speed."""
    tree = network.edge_tree
    near = np.full(len(pts), -1, dtype=np.int64)
    radius = min(limit, 30.0)
    pi, ei = tree.query(pts, predicate="dwithin", distance=radius)
    if len(pi):
        d = shapely.distance(pts[pi], network.edge_geometry[ei])
        order = np.lexsort((ei, d, pi))
        pi, ei = pi[order], ei[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        near[pi[first]] = ei[first]
    rest = np.flatnonzero(near < 0)
    if len(rest):
        ri, re = tree.query_nearest(pts[rest], all_matches=True)
        # all_matches returns every equidistant edge: keep the lowest index per point
        order = np.lexsort((re, ri))
        ri, re = ri[order], re[order]
        first = np.ones(len(ri), dtype=bool)
        first[1:] = ri[1:] != ri[:-1]
        near[rest[ri[first]]] = re[first]
    return near


def _access_lines(network: WalkNetwork, pts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    geom = network.edge_geometry[edges]
    proj = shapely.line_interpolate_point(geom, shapely.line_locate_point(geom, pts))
    coords = np.stack([shapely.get_coordinates(pts), shapely.get_coordinates(proj)], axis=1)
    return shapely.linestrings(coords)


def _crosses_barrier(
    network: WalkNetwork, pts: np.ndarray, edges: np.ndarray, reach: np.ndarray | None = None
) -> np.ndarray:
    out = np.zeros(len(pts), dtype=bool)
    if len(network.barriers) == 0 or len(pts) == 0:
        return out
    # only points with a barrier line or outline within reach of their edge can cross one
    if reach is None:
        reach = shapely.distance(pts, network.edge_geometry[edges])
    tree = network.barrier_segment_tree
    near = np.unique(tree.query(pts, predicate="dwithin", distance=reach)[0])
    if len(near) == 0:
        return out
    lines = _access_lines(network, pts[near], edges[near])
    hit = network.barrier_tree.query(lines, predicate="crosses")[0]
    out[near[np.unique(hit)]] = True
    return out


def _snap_one(network: WalkNetwork, pt: shapely.Geometry, limit: float) -> int:
    """Best edge for one point: main component first, then nearest, never across a barrier."""
    cand = network.edge_tree.query(pt, predicate="dwithin", distance=limit)
    if len(cand) == 0:
        return -1
    cand = np.sort(cand)
    dist = shapely.distance(pt, network.edge_geometry[cand])
    not_main = network.edge_component[cand] != network.main_component
    order = np.lexsort((cand, dist, not_main))
    cand = cand[order]
    crosses = _crosses_barrier(network, np.full(len(cand), pt, dtype=object), cand)
    good = np.flatnonzero(~crosses)
    return int(cand[good[0]]) if len(good) else -1
