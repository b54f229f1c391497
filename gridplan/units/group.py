"""Small buildings grouped into ten-household units along a building adjacency graph.

Step 2 of :func:`gridplan.units.form_units`: Delaunay adjacency cut by streets, growth from
the rim inwards, repair and balancing by boundary moves, and the fix of leftover units.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Collection

import numpy as np
import shapely
from scipy.spatial import Delaunay, QhullError

from gridplan.adjacency import connected_components
from gridplan.units.split import Member, _spread

_NEAR_UNITS = 6  # nearest units a leftover may take a member from


# --------------------------------------------------------------------------------------------
# small buildings: adjacency graph and growth


def delaunay_edges(xy: np.ndarray) -> np.ndarray:
    """Undirected edges ``(i, j)``, ``i < j``, of the Delaunay triangulation of ``xy``."""
    n = len(xy)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    uniq, inverse = np.unique(xy, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(uniq) < n:
        # coincident points (parts of one building): triangulate the distinct points, link
        # every point of a location to the others there and to every neighbouring location
        groups: list[list[int]] = [[] for _ in range(len(uniq))]
        for i, g in enumerate(inverse):
            groups[int(g)].append(i)
        pairs = [(a, b) for grp in groups for a in grp for b in grp if a < b]
        for ga, gb in delaunay_edges(uniq):
            pairs.extend((min(a, b), max(a, b)) for a in groups[ga] for b in groups[gb])
        return np.unique(np.array(pairs, dtype=np.int64).reshape(-1, 2), axis=0)
    if n == 2:
        return np.array([[0, 1]], dtype=np.int64)
    try:
        tri = Delaunay(xy, qhull_options="QJ Qbb Qc")
        s = tri.simplices
        e = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    except (QhullError, ValueError):
        order = np.lexsort((xy[:, 1], xy[:, 0]))
        e = np.column_stack([order[:-1], order[1:]])
    e = np.sort(e, axis=1)
    e = e[e[:, 0] != e[:, 1]]
    return np.unique(e, axis=0).astype(np.int64)


def _crossing(edges: np.ndarray, xy: np.ndarray, roads: shapely.STRtree | None) -> np.ndarray:
    """Boolean per edge: the straight segment crosses a street line."""
    if roads is None or len(edges) == 0:
        return np.zeros(len(edges), dtype=bool)
    segs = shapely.linestrings(np.stack([xy[edges[:, 0]], xy[edges[:, 1]]], axis=1))
    hit = roads.query(segs, predicate="intersects")
    out = np.zeros(len(edges), dtype=bool)
    out[np.unique(hit[0])] = True
    return out


def _components(nodes: Collection[int], adj: list[set[int]]) -> list[list[int]]:
    """Connected components of the subgraph induced by ``nodes``, each sorted, by first node."""
    return sorted(connected_components(nodes, [sorted(a) for a in adj]), key=lambda c: c[0])


def _connected(nodes: Collection[int], adj: list[set[int]]) -> bool:
    if len(nodes) <= 1:
        return True
    return len(_components(nodes, adj)) == 1


def grow(
    nodes: list[int],
    w: np.ndarray,
    xy: np.ndarray,
    adj: list[set[int]],
    lo: int,
    hi: int,
    target: int,
) -> list[list[int]]:
    """Peel a connected set of nodes into units from the outside inwards."""
    remaining = set(nodes)
    units: list[list[int]] = []
    while remaining:
        rem = sorted(remaining)
        total = int(w[rem].sum())
        if total <= hi:
            units.append(rem)
            break
        pts = xy[rem]
        d = ((pts - pts.mean(axis=0)) ** 2).sum(axis=1)
        seed = rem[int(np.argmax(d))]
        goal = float(target)
        if total - target < lo:
            goal = total / 2
        unit = {seed}
        s = int(w[seed])
        sx, sy = xy[seed]
        heap: list[tuple[float, int]] = []

        for u in adj[seed]:
            if u in remaining:
                heapq.heappush(heap, (float(np.hypot(xy[u, 0] - sx, xy[u, 1] - sy)), u))
        while heap and s < goal:
            _, v = heapq.heappop(heap)
            if v in unit or s + w[v] > hi:
                continue
            if s >= lo and abs(s + w[v] - goal) > abs(s - goal):
                break
            unit.add(v)
            s += int(w[v])
            for u in adj[v]:
                if u in remaining and u not in unit:
                    heapq.heappush(heap, (float(np.hypot(xy[u, 0] - sx, xy[u, 1] - sy)), u))
        remaining -= unit
        # households a cut would strand are absorbed while there is room
        for comp in _components(remaining, adj):
            cw = int(w[comp].sum())
            if cw < lo and s + cw <= hi:
                unit.update(comp)
                remaining.difference_update(comp)
                s += cw
        units.append(sorted(unit))
    return units


def improve(
    units: list[list[int]],
    w: np.ndarray,
    xy: np.ndarray,
    adj: list[set[int]],
    lo: int,
    hi: int,
    target: int,
    deadline: float,
) -> list[list[int]]:
    """Repair undersized units, then balance sizes towards the target by boundary moves."""
    label: dict[int, int] = {}
    members: list[set[int]] = []
    size: list[int] = []
    for k, u in enumerate(units):
        members.append(set(u))
        size.append(int(w[u].sum()))
        for v in u:
            label[v] = k

    def neighbours(k: int) -> list[int]:
        return sorted({label[u] for v in members[k] for u in adj[v] if label[u] != k})

    def centroid(k: int) -> np.ndarray:
        return xy[sorted(members[k])].mean(axis=0)

    def move(v: int, src: int, dst: int) -> None:
        members[src].discard(v)
        members[dst].add(v)
        size[src] -= int(w[v])
        size[dst] += int(w[v])
        label[v] = dst

    def donors(k: int) -> list[tuple[float, int, int]]:
        """Boundary nodes of neighbours movable into ``k``: (distance, node, source)."""
        c = centroid(k)
        out = []
        for v in sorted({u for x in members[k] for u in adj[x] if label[u] != k}):
            src = label[v]
            out.append((float(np.hypot(*(xy[v] - c))), v, src))
        out.sort()
        return out

    # 1. repair units below the minimum
    for _ in range(3):
        small = sorted((size[k], k) for k in range(len(members)) if members[k] and size[k] < lo)
        if not small:
            break
        for _, k in small:
            while members[k] and size[k] < lo and time.perf_counter() < deadline:
                moved = False
                for _, v, src in donors(k):
                    if (
                        size[src] - w[v] >= lo
                        and size[k] + w[v] <= hi
                        and _connected(members[src] - {v}, adj)
                    ):
                        move(v, src, k)
                        moved = True
                        break
                if moved:
                    continue
                nbrs = neighbours(k)
                if not nbrs:
                    break
                j = min(nbrs, key=lambda q: (size[q], q))
                if size[k] + size[j] <= hi:
                    for v in sorted(members[k]):
                        move(v, k, j)
                break
    # 2. balance: move boundary nodes from larger to smaller neighbours towards the target
    for _ in range(4):
        improved = False
        for k in range(len(members)):
            if time.perf_counter() > deadline:
                break
            if not members[k] or size[k] >= target:
                continue
            for _, v, src in donors(k):
                wv = int(w[v])
                before = (size[k] - target) ** 2 + (size[src] - target) ** 2
                after = (size[k] + wv - target) ** 2 + (size[src] - wv - target) ** 2
                if (
                    after < before
                    and lo <= size[src] - wv
                    and size[k] + wv <= hi
                    and _connected(members[src] - {v}, adj)
                ):
                    move(v, src, k)
                    improved = True
                    break
        if not improved:
            break
    return [sorted(m) for m in members if m]


# --------------------------------------------------------------------------------------------
# leftovers


def _donor_rows(unit: list[Member], floors_of: dict[str, int]) -> list[tuple[int, int, int, int]]:
    """Rows of a unit that can give top floors: (row index, floor_from, floor_to, households)."""
    out = []
    for i, (bid, _e, f0, f1, h) in enumerate(unit):
        if f0 is None or f1 is None:
            fl = int(floors_of.get(bid, 0))
            if fl >= 2 and h >= fl:
                out.append((i, 1, fl, h))
        elif f1 > f0:
            out.append((i, f0, f1, h))
    return out


def fix_leftovers(
    units: list[list[Member]],
    unit_xy: list[tuple[float, float]],
    floors_of: dict[str, int],
    pos: dict[str, tuple[float, float]],
    lo: int,
    hi: int,
    target: int,
    max_move_m: float = 150.0,
) -> list[list[Member]]:
    """Units still below the minimum take top floors from a nearby band, else merge.

    A leftover of a few households next to a building of known floors takes that building's
    top floor(s), when both stay within bounds ("extend a band" the other way round). What
    cannot be fixed so merges into the nearest unit when that leaves it no further out of bounds
    than the leftover was, and always when the leftover is under half the minimum: no unit of
    1–2 households is left where the grid has a neighbour to take it.
    """
    units = [list(u) for u in units]
    xy = np.asarray(unit_xy, dtype=float).reshape(-1, 2)
    sizes = [sum(m[4] for m in u) for u in units]
    for k in sorted(range(len(units)), key=lambda q: (sizes[q], q)):
        if not units[k] or sizes[k] >= lo:
            continue
        d = np.hypot(xy[:, 0] - xy[k, 0], xy[:, 1] - xy[k, 1])
        order = [int(q) for q in np.lexsort((np.arange(len(d)), d)) if q != k and units[q]]
        done = False
        for q in order:
            for i, f0, f1, h in _donor_rows(units[q], floors_of):
                counts = _spread(h, f1 - f0 + 1)
                give = 0
                for n_top in range(1, f1 - f0 + 1):
                    give = sum(counts[-n_top:])
                    if sizes[k] + give >= lo:
                        break
                if not (lo <= sizes[k] + give <= hi and sizes[q] - give >= lo and give < h):
                    continue
                n_top = next(t for t in range(1, f1 - f0 + 1) if sum(counts[-t:]) == give)
                bid, e, _a, _b, _h = units[q][i]
                cut = f1 - n_top
                units[q][i] = (bid, e, f0, cut, h - give)
                units[k].append((bid, e, cut + 1, f1, give))
                sizes[q] -= give
                sizes[k] += give
                done = True
                break
            if done:
                break
        if done:
            continue
        # take a whole member of a nearby unit (contiguity on the adjacency graph can make
        # a split impossible, as on a line of houses 2 – 11 – 3; nearness is what matters)
        best: tuple[float, int, int] | None = None
        for q in order[:_NEAR_UNITS]:
            for i, row in enumerate(units[q]):
                h = row[4]
                if not (lo <= sizes[k] + h <= hi and sizes[q] - h >= lo):
                    continue
                px, py = pos.get(row[0], (xy[q, 0], xy[q, 1]))
                dist = float(np.hypot(px - xy[k, 0], py - xy[k, 1]))
                if dist <= max_move_m and (best is None or (dist, q, i) < best):
                    best = (dist, q, i)
        if best is not None:
            _, q, i = best
            row = units[q].pop(i)
            units[k].append(row)
            sizes[q] -= row[4]
            sizes[k] += row[4]
            continue
        for q in order:
            if not units[q]:
                continue
            fits = sizes[q] + sizes[k] <= hi
            if fits or sizes[q] + sizes[k] - hi < lo - sizes[k] or 2 * sizes[k] < lo:
                units[q].extend(units[k])
                sizes[q] += sizes[k]
                units[k] = []
                sizes[k] = 0
                break
    return [u for u in units if u]
