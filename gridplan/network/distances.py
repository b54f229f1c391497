"""Walking distances on the walk network: bounded Dijkstra searches on its compiled core.

Every search runs SciPy's ``csgraph.dijkstra`` on the network's CSR matrix. Points (buildings,
facilities, sites) join as :func:`gridplan.network.snapping.snap_points` placed them: a point's
cost to
either end of its edge is its access distance plus the distance along the edge, and a super
source joined to those ends turns "nearest of many sources" into one search.

- :func:`node_distances`: metres from the nearest of some sources to every node;
- :func:`distance_to_nearest`, :func:`nearest_source_distances`: metres from each target point
  to its nearest source, one search per source group (groups sharing a bound go in one call);
- :func:`iter_distance_pairs`, :func:`distance_matrix`: source × target distances within a
  bound, pair by pair or as a matrix (siting's coverage matrix, staffing's walking distances).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    from gridplan.network.graph import WalkNetwork
    from gridplan.network.snapping import SnapResult

__all__ = [
    "distance_matrix",
    "distance_to_nearest",
    "iter_distance_pairs",
    "nearest_source_distances",
    "node_distances",
]


def _augmented(network: WalkNetwork, nodes: np.ndarray, offsets: np.ndarray) -> sparse.csr_matrix:
    """The CSR matrix plus one super-source row (node ``n``) joined to ``nodes`` at ``offsets``."""
    n = network.n_nodes
    csr = network.csr
    order = np.lexsort((offsets, nodes))
    nodes, offsets = nodes[order], offsets[order]
    first = np.ones(len(nodes), dtype=bool)
    first[1:] = nodes[1:] != nodes[:-1]
    nodes, offsets = nodes[first], offsets[first]
    indptr = np.append(csr.indptr, csr.indptr[-1] + len(nodes))
    indices = np.concatenate([csr.indices, nodes.astype(csr.indices.dtype)])
    data = np.concatenate([csr.data, np.maximum(offsets, 0.0)])
    return sparse.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))


def node_distances(
    network: WalkNetwork, sources: SnapResult, *, limit: float = np.inf
) -> np.ndarray:
    """Network distance from the nearest of ``sources`` to every node, metres.

    One bounded multi-source Dijkstra on the compiled core: each source enters the network
    at both ends of its edge, its access and distance along the edge added.

    Parameters
    ----------
    network
        The walk network.
    sources
        Snapped source points (unreachable ones are ignored).
    limit
        Search bound in metres; nodes farther away get ``inf``.

    Returns
    -------
    numpy.ndarray
        Distances, shape ``(n_nodes,)``.
    """

    n = network.n_nodes
    r = sources.reachable
    if n == 0 or not r.any():
        return np.full(n, np.inf)
    nodes = np.concatenate([sources.node_u[r], sources.node_v[r]])
    offs = np.concatenate([sources.offset_u[r], sources.offset_v[r]])
    inside = offs <= limit
    if not inside.any():
        return np.full(n, np.inf)
    aug = _augmented(network, nodes[inside], offs[inside])
    dist = dijkstra(aug, directed=True, indices=n, limit=limit)
    return np.asarray(dist[:n])


def distance_to_nearest(
    network: WalkNetwork,
    sources: SnapResult,
    targets: SnapResult,
    *,
    limit: float = np.inf,
    node_dist: np.ndarray | None = None,
) -> np.ndarray:
    """Walking distance from each target to its nearest source, access at both ends included.

    Parameters
    ----------
    network
        The walk network.
    sources, targets
        Snapped points.
    limit
        Search bound in metres; farther targets get ``inf``.
    node_dist
        Precomputed :func:`node_distances` for ``sources`` and ``limit``.

    Returns
    -------
    numpy.ndarray
        Distances in metres, one per target (``inf`` when unreachable or beyond ``limit``).
    """
    out = np.full(len(targets.edge), np.inf)
    t = np.flatnonzero(targets.reachable)
    if len(t) == 0 or not sources.reachable.any():
        return out
    d = node_distances(network, sources, limit=limit) if node_dist is None else node_dist
    out[t] = np.minimum(
        d[targets.node_u[t]] + targets.offset_u[t], d[targets.node_v[t]] + targets.offset_v[t]
    )
    # a source and a target on the same edge: walk along it directly
    s = np.flatnonzero(sources.reachable)
    ti, si = _same_edge_pairs(targets.edge[t], sources.edge[s])
    if len(ti):
        tt, ss = t[ti], s[si]
        direct = (
            sources.access_m[ss]
            + targets.access_m[tt]
            + np.abs(sources.along_m[ss] - targets.along_m[tt])
        )
        np.minimum.at(out, tt, direct)
    out[out > limit] = np.inf
    return out


def nearest_source_distances(
    network: WalkNetwork,
    groups: list[SnapResult],
    targets: SnapResult,
    *,
    limits: list[float],
) -> np.ndarray:
    """:func:`distance_to_nearest` for several source groups at once (one row per group).

    Every group gets its own super-source row in one augmented copy of the compiled core, and
    the groups sharing a search bound run in one SciPy call, so the per-group Python set-up of
    :func:`distance_to_nearest` is paid once. Row ``g`` equals
    ``distance_to_nearest(network, groups[g], targets, limit=limits[g])``.

    Parameters
    ----------
    network
        The walk network.
    groups
        Snapped source points, one :class:`SnapResult` per group.
    targets
        Snapped target points.
    limits
        Search bound of each group, metres.

    Returns
    -------
    numpy.ndarray
        Distances in metres, shape ``(len(groups), n_targets)`` (``inf``: unreachable or beyond
        the group's bound).
    """

    k = len(groups)
    n = network.n_nodes
    out = np.full((k, len(targets.edge)), np.inf)
    t = np.flatnonzero(targets.reachable)
    if k == 0 or n == 0 or len(t) == 0:
        return out
    lim = np.asarray(limits, dtype=float)
    # super-source entries (group, node, offset) of every source end within its group's bound
    g_ids, g_nodes, g_offs = [], [], []
    for g, src in enumerate(groups):
        r = src.reachable
        nodes = np.concatenate([src.node_u[r], src.node_v[r]])
        offs = np.concatenate([src.offset_u[r], src.offset_v[r]])
        inside = offs <= lim[g]
        g_ids.append(np.full(int(inside.sum()), g, dtype=np.int64))
        g_nodes.append(nodes[inside])
        g_offs.append(offs[inside])
    gid, gnode, goff = np.concatenate(g_ids), np.concatenate(g_nodes), np.concatenate(g_offs)
    order = np.lexsort((goff, gnode, gid))  # per group and node, the smallest offset first
    gid, gnode, goff = gid[order], gnode[order], goff[order]
    first = np.ones(len(gid), dtype=bool)
    first[1:] = (gid[1:] != gid[:-1]) | (gnode[1:] != gnode[:-1])
    gid, gnode, goff = gid[first], gnode[first], goff[first]
    csr = network.csr
    counts = np.bincount(gid, minlength=k)
    indptr = np.concatenate([csr.indptr, csr.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([csr.indices, gnode.astype(csr.indices.dtype)])
    data = np.concatenate([csr.data, np.maximum(goff, 0.0)])
    aug = sparse.csr_matrix((data, indices, indptr), shape=(n + k, n + k))
    tu, tv = targets.node_u[t], targets.node_v[t]
    ou, ov = targets.offset_u[t], targets.offset_v[t]
    active = counts > 0
    for bound in np.unique(lim[active]):
        rows = np.flatnonzero(active & (lim == bound))
        dist = np.asarray(dijkstra(aug, directed=True, indices=n + rows, limit=bound))
        dist = dist.reshape(len(rows), n + k)
        out[rows[:, None], t[None, :]] = np.minimum(dist[:, tu] + ou, dist[:, tv] + ov)
    # a source and a target on the same edge: walk along it directly (all groups at once)
    s_grp = np.concatenate([np.full(int(src.reachable.sum()), g) for g, src in enumerate(groups)])
    s_edge, s_access, s_along = (
        np.concatenate([getattr(src, f)[src.reachable] for src in groups])
        for f in ("edge", "access_m", "along_m")
    )
    ti, si = _same_edge_pairs(targets.edge[t], s_edge)
    if len(ti):
        tt = t[ti]
        direct = s_access[si] + targets.access_m[tt] + np.abs(s_along[si] - targets.along_m[tt])
        np.minimum.at(out, (s_grp[si].astype(np.int64), tt), direct)
    out[out > lim[:, None]] = np.inf
    return out


def _expand(ptr: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each key, every item ``ptr[key] .. ptr[key + 1] - 1``: (key position, item)."""
    start, count = ptr[keys], ptr[keys + 1] - ptr[keys]
    q = np.repeat(np.arange(len(keys)), count)
    offset = np.arange(len(q)) - np.repeat(np.cumsum(count) - count, count)
    return q, np.repeat(start, count) + offset


def _same_edge_pairs(a_edge: np.ndarray, b_edge: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, j) with ``a_edge[i] == b_edge[j]``."""
    order = np.argsort(b_edge, kind="stable")
    sb = b_edge[order]
    lo = np.searchsorted(sb, a_edge, side="left")
    hi = np.searchsorted(sb, a_edge, side="right")
    count = hi - lo
    ai = np.repeat(np.arange(len(a_edge)), count)
    start = np.repeat(lo - (np.cumsum(count) - count), count)
    bj = order[start + np.arange(len(ai))] if len(ai) else np.empty(0, dtype=np.int64)
    return ai, bj


def iter_distance_pairs(
    network: WalkNetwork,
    origins: SnapResult,
    targets: SnapResult,
    *,
    limit: float = np.inf,
    chunk: int = 64,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Walks from origins to targets within ``limit``, as sparse (origin, target, metres) lists.

    Each chunk of origins is one bounded Dijkstra from both ends of their edges on the
    compiled core; access at both ends is added, and the direct walk along a shared edge is
    included. A pair may appear more than once (via either end): take the minimum.

    Yields
    ------
    tuple of numpy.ndarray
        Origin positions, target positions and distances in metres (all ``<= limit``).
    """

    tr = np.flatnonzero(targets.reachable)
    orr = np.flatnonzero(origins.reachable)
    if network.n_nodes == 0 or len(tr) == 0:
        return
    # targets attached to each node (both ends of their edge), as a CSR-like index
    att_node = np.concatenate([targets.node_u[tr], targets.node_v[tr]])
    att_t = np.concatenate([tr, tr])
    att_off = np.concatenate([targets.offset_u[tr], targets.offset_v[tr]])
    order = np.argsort(att_node, kind="stable")
    att_node, att_t, att_off = att_node[order], att_t[order], att_off[order]
    att_ptr = np.searchsorted(att_node, np.arange(network.n_nodes + 1))
    for lo in range(0, len(orr), chunk):
        oj = orr[lo : lo + chunk]
        src = np.unique(np.concatenate([origins.node_u[oj], origins.node_v[oj]]))
        dist = dijkstra(network.csr, indices=src, limit=limit)
        # reached (source node, node) pairs -> (source node, target) with the target's offset
        rr, nn = np.nonzero(dist < np.inf)
        q, pos = _expand(att_ptr, nn)
        row, tgt = rr[q], att_t[pos]
        val = dist[rr[q], nn[q]] + att_off[pos]
        # source node rows -> origins (each origin enters at both ends of its edge)
        o_row = np.concatenate(
            [np.searchsorted(src, origins.node_u[oj]), np.searchsorted(src, origins.node_v[oj])]
        )
        o_idx = np.concatenate([oj, oj])
        o_off = np.concatenate([origins.offset_u[oj], origins.offset_v[oj]])
        order = np.argsort(o_row, kind="stable")
        o_row, o_idx, o_off = o_row[order], o_idx[order], o_off[order]
        o_ptr = np.searchsorted(o_row, np.arange(len(src) + 1))
        q2, pos2 = _expand(o_ptr, row)
        o_all = o_idx[pos2]
        t_all = tgt[q2]
        v_all = val[q2] + o_off[pos2]
        a, b = _same_edge_pairs(origins.edge[oj], targets.edge[tr])
        if len(a):
            oa, tb = oj[a], tr[b]
            direct = (
                origins.access_m[oa]
                + targets.access_m[tb]
                + np.abs(origins.along_m[oa] - targets.along_m[tb])
            )
            o_all = np.concatenate([o_all, oa])
            t_all = np.concatenate([t_all, tb])
            v_all = np.concatenate([v_all, direct])
        ok = v_all <= limit
        yield o_all[ok], t_all[ok], v_all[ok]


def distance_matrix(
    network: WalkNetwork,
    origins: SnapResult,
    targets: SnapResult,
    *,
    limit: float = np.inf,
) -> np.ndarray:
    """Dense walking-distance matrix ``(n_origins, n_targets)`` in metres (``inf``: no path).

    Parameters
    ----------
    network
        The walk network.
    origins, targets
        Snapped points.
    limit
        Search bound in metres.

    Returns
    -------
    numpy.ndarray
        Distances, access at both ends included.
    """
    out = np.full((len(origins.edge), len(targets.edge)), np.inf)
    for o, t, d in iter_distance_pairs(network, origins, targets, limit=limit):
        np.minimum.at(out, (o, t), d)
    return out
