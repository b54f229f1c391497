"""Catchments: the streets a household can walk to a facility from within each tier's minutes.

One isochrone polygon per facility and tier, for the map: the part of the walk network reached
from the facility within the tier's minutes (partial edges cut at the exact distance), buffered
so that buildings along the reached streets fall inside.

How it is fast
--------------
- One bounded search per facility, at the largest tier of its category; the smaller tiers are
  read off the same distances. Many facilities share one SciPy ``dijkstra`` call (a
  super-source row each, ``indices=`` an array), in chunks whose distance matrix stays under
  :data:`_DIJKSTRA_BYTES`.
- The partial edges are cut for all edges of a polygon at once from their coordinates.
- The corridor (union of the buffered edges) is assembled from cached pieces: the edges are
  ordered along a Z-order curve of their midpoints, so every node of the binary tree halving
  that order is a compact patch of streets. A patch reached in full by a polygon is one
  cached, already united polygon, shared by every facility and tier of the call; only the
  patches on the polygon's rim are united edge by edge. A patch is always united from its two
  halves, so it, and every polygon, depends only on the network and the facility, never on the
  other facilities of the call (the Dask path splits them into chunks). Union being
  associative, a polygon is the union of all its buffered pieces (up to rounding in the last
  digits; the simplified outline may differ by a vertex here and there).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from gridplan.access.coverage import check_facilities, profile_speed, tier_code, tier_pairs
from gridplan.network.graph import WalkNetwork
from gridplan.network.snapping import SnapResult, snap_points
from gridplan.settings import DEFAULT, Config

__all__ = ["catchments"]

log = logging.getLogger(__name__)

#: Largest distance matrix (facilities x nodes, float64) of one SciPy call, bytes.
_DIJKSTRA_BYTES = 64 * 2**20
#: Edges per leaf of the corridor tree.
_LEAF = 8
#: Segments per quarter circle of the corridor buffers.
_QUAD_SEGS = 2


def catchments(
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork,
    *,
    config: Config | None = None,
    profile: str = "standard",
    buffer_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons per facility and tier, for the map.

    Each polygon is the walk network reached from the facility within the tier's minutes
    (partial edges cut at the exact distance), buffered by ``buffer_m`` so that buildings along
    the reached streets fall inside. A facility gets one polygon per tier listing its category.

    Parameters
    ----------
    facilities
        Prepared ``facilities`` layer.
    network
        The walk network.
    config
        Settings (``coverage`` tiers, speeds, ``max_access_m``).
    profile
        ``"standard"`` or ``"elderly"``.
    buffer_m
        Half-width of the street corridor, metres (default ``coverage.catchment_buffer_m``).

    Returns
    -------
    geopandas.GeoDataFrame
        facility_id, category, tier, minutes, geometry (empty for unreachable facilities).
    """
    cfg = config or DEFAULT
    if buffer_m is None:
        buffer_m = cfg.coverage.catchment_buffer_m
    speed = profile_speed(profile, cfg)
    fac = check_facilities(facilities)
    snap = snap_points(network, fac.geometry, config=cfg)
    pairs = tier_pairs(cfg)
    tiers_of: dict[str, list[int]] = {}
    for t, c in pairs:
        tiers_of.setdefault(c, []).append(t)
    cats = fac["category"].to_numpy()
    tiers = [tiers_of.get(str(c), []) for c in cats]
    # one search per facility, bounded by the largest tier of its category
    limit = np.array([max(ts) * speed if ts else 0.0 for ts in tiers])
    todo = np.flatnonzero(snap.reachable & (limit > 0))
    corridors = _Corridors.of(network, float(buffer_m))
    polys: dict[tuple[int, int], Any] = {}
    for chunk, dist in _facility_distances(network, snap, todo, limit[todo]):
        for row, i in enumerate(chunk):
            for t in tiers[i]:
                polys[i, t] = _isochrone(network, snap, int(i), dist[row], t * speed, corridors)
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    for i, (fid, cat) in enumerate(zip(fac["facility_id"], cats, strict=True)):
        for t in tiers[i]:
            rows.append({"facility_id": fid, "category": cat, "tier": tier_code(t), "minutes": t})
            geoms.append(polys.get((i, t)))
    log.debug("catchments: %d polygons, %d cached patches", len(geoms), len(corridors.cache))
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["facility_id", "category", "tier", "minutes"]),
        geometry=gpd.GeoSeries(geoms, crs=network.crs),
        crs=network.crs,
    )


# --------------------------------------------------------------------------- searches


def _facility_distances(
    network: WalkNetwork, snap: SnapResult, which: np.ndarray, limits: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(facilities, distances)``: node distances from each facility, one row each.

    Facilities sharing a bound go to SciPy together, each its own super-source joined to both
    ends of its edge (access and distance along the edge added); a row equals
    :func:`gridplan.network.node_distances` of that facility alone with that bound.
    """
    from scipy.sparse.csgraph import dijkstra

    n = network.n_nodes
    if n == 0 or len(which) == 0:
        return
    per_call = max(1, _DIJKSTRA_BYTES // (8 * (n + 1)))
    for bound in np.unique(limits):
        group = which[limits == bound]
        for start in range(0, len(group), per_call):
            chunk = group[start : start + per_call]
            aug = _augmented(network, snap, chunk, float(bound))
            k = len(chunk)
            dist = dijkstra(aug, directed=True, indices=n + np.arange(k), limit=float(bound))
            yield chunk, np.asarray(dist).reshape(k, n + k)[:, :n]


def _augmented(
    network: WalkNetwork, snap: SnapResult, chunk: np.ndarray, bound: float
) -> sparse.csr_matrix:
    """The compiled core plus one super-source row per facility of ``chunk`` (nodes n, n+1…)."""
    n, k = network.n_nodes, len(chunk)
    csr = network.csr
    u, v = snap.node_u[chunk], snap.node_v[chunk]
    ou, ov = snap.offset_u[chunk], snap.offset_v[chunk]
    loop = u == v  # both ends at one node: the nearer end only
    ou = np.where(loop, np.minimum(ou, ov), ou)
    g = np.concatenate([np.arange(k), np.arange(k)[~loop]])
    nodes = np.concatenate([u, v[~loop]])
    offs = np.concatenate([ou, ov[~loop]])
    inside = offs <= bound
    g, nodes, offs = g[inside], nodes[inside], offs[inside]
    order = np.argsort(g, kind="stable")
    g, nodes, offs = g[order], nodes[order], offs[order]
    counts = np.bincount(g, minlength=k)
    indptr = np.concatenate([csr.indptr, csr.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([csr.indices, nodes.astype(csr.indices.dtype)])
    data = np.concatenate([csr.data, np.maximum(offs, 0.0)])
    return sparse.csr_matrix((data, indices, indptr), shape=(n + k, n + k))


# --------------------------------------------------------------------------- polygons


def _isochrone(
    network: WalkNetwork,
    snap: SnapResult,
    i: int,
    dist: np.ndarray,
    budget: float,
    corridors: _Corridors,
) -> Any:
    """The catchment of facility ``i`` within ``budget`` metres, from its node distances."""
    reached = np.flatnonzero(dist <= budget)
    e = corridors.incident(reached)  # the edges touched: one end reached at least
    du, dv = dist[network.edge_u[e]], dist[network.edge_v[e]]
    du = np.where(du <= budget, du, np.inf)
    dv = np.where(dv <= budget, dv, np.inf)
    length = network.edge_length[e]
    reach_u = np.clip(budget - du, 0, None)
    reach_v = np.clip(budget - dv, 0, None)
    full = reach_u + reach_v >= length
    from_u = np.flatnonzero(~full & (reach_u > 0))
    from_v = np.flatnonzero(~full & (reach_v > 0))
    edges = [e[from_u], e[from_v]]
    starts = [np.zeros(len(from_u)), length[from_v] - reach_v[from_v]]
    ends = [reach_u[from_u], length[from_v]]
    # the facility's own edge, walked both ways from its joining point
    own = int(snap.edge[i])
    left = budget - float(snap.access_m[i])
    if left > 0:
        a = float(snap.along_m[i])
        edges.append(np.array([own]))
        starts.append(np.array([max(a - left, 0.0)]))
        ends.append(np.array([min(a + left, float(network.edge_length[own]))]))
    cut = _substrings(
        network.edge_geometry[np.concatenate(edges)], np.concatenate(starts), np.concatenate(ends)
    )
    pieces = corridors.pieces(e[full])
    if len(cut):
        pieces.append(shapely.buffer(cut, corridors.buffer_m, quad_segs=_QUAD_SEGS))
    parts = np.concatenate(pieces) if pieces else np.empty(0, dtype=object)
    if not len(parts):
        return shapely.buffer(shapely.points(network.xy[network.edge_u[own]]), corridors.buffer_m)
    poly = shapely.union_all(parts)
    return shapely.simplify(poly, corridors.buffer_m / 8)


def _substrings(lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The part of each line between ``start`` and ``end`` metres along it (empty ones dropped).

    The vectorised ``shapely.ops.substring`` for ``0 <= start <= end <= length``.
    """
    lines = np.asarray(lines, dtype=object)
    keep = (end > start) & ~shapely.is_empty(lines) & (shapely.get_type_id(lines) == 1)
    lines, start, end = lines[keep], start[keep], end[keep]
    k = len(lines)
    if k == 0:
        return np.empty(0, dtype=object)
    xy, idx = shapely.get_coordinates(lines, return_index=True)
    step = np.hypot(*np.diff(xy, axis=0).T)
    step[idx[1:] != idx[:-1]] = 0.0
    cum = np.concatenate([[0.0], np.cumsum(step)])
    first = np.searchsorted(idx, np.arange(k))
    along = cum - cum[first][idx]
    inner = (along > start[idx]) & (along < end[idx])
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines, start))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines, end))
    pts = np.concatenate([p0, xy[inner], p1])
    owner = np.concatenate([np.arange(k), idx[inner], np.arange(k)])
    rank = np.concatenate([np.zeros(k), 1 + np.flatnonzero(inner) / len(xy), np.full(k, 2.0)])
    order = np.lexsort((rank, owner))
    return np.asarray(shapely.linestrings(pts[order], indices=owner[order]), dtype=object)


@dataclass
class _Corridors:
    """Buffered edges and united patches of them, cached across the polygons of one call."""

    network: WalkNetwork
    buffer_m: float
    #: Edge ids in tree order (a node of the tree is a range ``[lo, hi)`` of it).
    order: np.ndarray
    #: Position of each edge in :attr:`order`.
    pos: np.ndarray
    #: Edges incident to node ``j``: ``node_edges[node_ptr[j]:node_ptr[j + 1]]``.
    node_ptr: np.ndarray
    node_edges: np.ndarray
    buffers: np.ndarray
    buffered: np.ndarray
    cache: dict[tuple[int, int], Any] = field(default_factory=dict)

    @classmethod
    def of(cls, network: WalkNetwork, buffer_m: float) -> _Corridors:
        m = network.n_edges
        mid = (network.xy[network.edge_u] + network.xy[network.edge_v]) / 2.0
        order = _z_order(mid)
        pos = np.empty(m, dtype=np.int64)
        pos[order] = np.arange(m)
        ends = np.concatenate([network.edge_u, network.edge_v])
        ids = np.concatenate([np.arange(m), np.arange(m)])
        by_node = np.argsort(ends, kind="stable")
        node_ptr = np.searchsorted(ends[by_node], np.arange(network.n_nodes + 1))
        buffers = np.full(m, None, dtype=object)
        buffered = np.zeros(m, dtype=bool)
        return cls(network, buffer_m, order, pos, node_ptr, ids[by_node], buffers, buffered)

    def incident(self, nodes: np.ndarray) -> np.ndarray:
        """The edges with an end in ``nodes``, sorted, each once."""
        lo, hi = self.node_ptr[nodes], self.node_ptr[nodes + 1]
        counts = hi - lo
        if not counts.sum():
            return np.empty(0, dtype=np.int64)
        at = np.repeat(lo - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        return np.unique(self.node_edges[at])

    def edge_buffers(self, edges: np.ndarray) -> np.ndarray:
        """Buffers of ``edges`` (computed on first use; empty for empty edges)."""
        todo = np.unique(edges[~self.buffered[edges]])
        if len(todo):
            geoms = self.network.edge_geometry[todo]
            ok = ~shapely.is_empty(geoms) & (shapely.get_type_id(geoms) == 1)
            out = np.full(len(todo), shapely.Polygon(), dtype=object)
            out[ok] = shapely.buffer(geoms[ok], self.buffer_m, quad_segs=_QUAD_SEGS)
            self.buffers[todo] = out
            self.buffered[todo] = True
        return np.asarray(self.buffers[edges], dtype=object)

    def patch(self, lo: int, hi: int) -> Any:
        """Union of the buffered edges ``order[lo:hi]`` (cached)."""
        got = self.cache.get((lo, hi))
        if got is None:
            # always from the two halves: a patch never depends on what was asked before
            if hi - lo <= _LEAF:
                got = shapely.union_all(self.edge_buffers(self.order[lo:hi]))
            else:
                m = (lo + hi) // 2
                got = shapely.union_all([self.patch(lo, m), self.patch(m, hi)])
            self.cache[lo, hi] = got
        return got

    def pieces(self, full: np.ndarray) -> list[np.ndarray]:
        """Polygons whose union is the corridor of the edges ``full``: patches and buffers."""
        if len(full) < 4 * _LEAF:  # too few for whole patches
            return [self.edge_buffers(full)] if len(full) else []
        at = np.sort(self.pos[full])
        patches: list[Any] = []
        loose: list[np.ndarray] = []
        stack = [(0, len(self.order), 0, len(at))]  # tree range, and its part of ``at``
        while stack:
            lo, hi, a, b = stack.pop()
            if a == b:
                continue
            if b - a == hi - lo:
                patches.append(self.patch(lo, hi))
            elif hi - lo <= _LEAF:
                loose.append(self.order[at[a:b]])
            else:
                m = (lo + hi) // 2
                c = a + int(np.searchsorted(at[a:b], m))
                stack += [(m, hi, c, b), (lo, m, a, c)]
        out = [np.array(patches, dtype=object)] if patches else []
        if loose:
            out.append(self.edge_buffers(np.concatenate(loose)))
        return out


def _z_order(points: np.ndarray) -> np.ndarray:
    """The order of ``points`` along a Z-order (Morton) curve: halving it gives compact patches."""
    if not len(points):
        return np.arange(0)
    lo = points.min(axis=0)
    span = max(float((points.max(axis=0) - lo).max()), 1e-9)
    q = np.floor((points - lo) / span * 0xFFFF).astype(np.uint64)
    code = np.zeros(len(points), dtype=np.uint64)
    for bit in range(16):
        one = np.uint64(1)
        code |= ((q[:, 0] >> np.uint64(bit)) & one) << np.uint64(2 * bit)
        code |= ((q[:, 1] >> np.uint64(bit)) & one) << np.uint64(2 * bit + 1)
    return np.argsort(code, kind="stable")
