"""Grids (网格): balanced, contiguous, barrier-aware partition of each community.

The algorithm, per community:

1. **Faces.** The community polygon is cut along barrier roads (``grids.barrier_road_classes``)
   and every ``barriers`` line or polygon boundary. A face holding some households but fewer than
   ``min_households`` (or only non-residential buildings) is merged with the neighbouring face
   across the weakest barrier, and a flag says where and why. Faces with no building at all
   (a river, a park) are added to the territory of the grid they share most boundary with.
2. **Nodes and cells.** Every building is a node at its representative point; a building with
   more households than ``max_households`` is split into parts (by entrance, then evenly into
   parts of at most a quarter of the target). Each node gets its Voronoi cell clipped to its
   face (:func:`gridplan.adjacency.cell_graph`); cells sharing a boundary are adjacent.
3. **Count.** Each face gets the number of grids ``k`` that keeps the mean grid within
   ``[min, max]`` and closest to the target; when no count can (550 households, bounds
   300–500) the closest count is taken and the grid is flagged.
4. **Initial split.** Recursive bisection: a region that must hold ``k`` grids is grown from
   its extreme node along its principal axis, adding the frontier node of lowest projection,
   and cut at the prefix whose households best match ``k1 / k`` of the total. Both halves are
   connected (stray pieces of the remainder join the grown half).
5. **Local search.** Boundary nodes move to a neighbouring grid when that lowers
   ``Σ (h - target)² + penalties(beyond ±5 %, out of bounds) + μ · cut boundary`` (edges inside
   one compound cost three times as much to cut), never disconnecting a grid (a breadth-first
   check around the moved node). Then rounds of (a) *recombination*: two neighbouring grids,
   worst balanced first, are merged and re-split along the best edge of a few random spanning
   trees of their union (both halves connected by construction; this is what balances coarse
   towers), (b) *chains*: households shifted along a path of grids from an over-full grid to an
   under-full one, and (c) the boundary moves again, until a round gains less than 3 %.
6. **Territories.** A grid's polygon is the union of its nodes' cells; cells tile the face and a
   grid's nodes are connected, so grids tile the community with one polygon each.
7. **Codes.** ``<community_id>-NNN`` numbered west→east within bands north→south.

The same inputs and seed give the same plan (all ties are broken by ids); the time limit
(``grids.time_limit_s`` per community) only stops the local search early, and what is returned
is then the best plan found so far.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from gridplan._errors import DataError, InfeasibleError
from gridplan.adjacency import (
    barrier_lines,
    cell_graph,
    connected_components,
    face_neighbours,
    glue,
    split_faces,
)
from gridplan.settings import DEFAULT, Config

__all__ = ["PartitionResult", "partition_grids"]

log = logging.getLogger(__name__)

_COMPOUND_CUT_FACTOR = 3.0  # cutting inside a compound costs this many times more
_BAND = 0.05  # share of the target beyond which deviation is penalised extra
_MU = 3.0  # weight of the cut boundary against balance (tuned on the 70 × 70 lattice)


@dataclass(frozen=True)
class PartitionResult:
    """Grids of every community.

    Attributes
    ----------
    grids
        grid_id, community_id, households, population, n_buildings, geometry (one Polygon per
        grid, metric CRS; the grids of a community tile its polygon).
    buildings
        A copy of the input buildings with ``grid_id`` (for a building split over several
        grids, the grid holding most of its households).
    metrics
        JSON-serialisable plan quality: households per grid, balance shares, compactness, cut
        edges, faces, merges, contiguity, time, and the same per community.
    flags
        Sentences for the report: grids out of bounds (reason and fix), faces merged.
    building_parts
        One row per building and grid it has households in: building_id, grid_id, households,
        share. Buildings split over grids have several rows; rows of a building sum to its
        households.
    """

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    metrics: dict[str, Any]
    flags: list[str]
    building_parts: pd.DataFrame = field(default_factory=pd.DataFrame)


# --------------------------------------------------------------------------- nodes


@dataclass
class _Nodes:
    """Nodes of one community: buildings, or parts of buildings above ``max_households``."""

    xy: np.ndarray  # (n, 2)
    w: np.ndarray  # households, int64
    pop: np.ndarray  # population, float
    bidx: np.ndarray  # row position of the building in the community's buildings
    compound: np.ndarray  # compound code, -1 when none


def _split_counts(total: int, parts: int) -> list[int]:
    base, rem = divmod(total, parts)
    return [base + (1 if i < rem else 0) for i in range(parts)]


def _part_points(geom: shapely.Geometry, anchor: np.ndarray, parts: int) -> np.ndarray:
    """``parts`` points spread along the long axis of a footprint (or around a point)."""
    if geom is not None and geom.geom_type in ("Polygon", "MultiPolygon") and geom.area > 0:
        rect = shapely.minimum_rotated_rectangle(geom)
        coords = np.asarray(rect.exterior.coords)[:4]
        e1, e2 = coords[1] - coords[0], coords[2] - coords[1]
        if np.hypot(*e1) >= np.hypot(*e2):
            start, end = (coords[0] + coords[3]) / 2, (coords[1] + coords[2]) / 2
        else:
            start, end = (coords[0] + coords[1]) / 2, (coords[3] + coords[2]) / 2
        ts = (np.arange(parts) + 0.5) / parts
        pts = start[None, :] + ts[:, None] * (end - start)[None, :]
        inside = shapely.contains(geom, shapely.points(pts))
        if inside.all():
            return np.asarray(pts)
    offsets = (np.arange(parts) - (parts - 1) / 2) * 2.0
    return np.column_stack([anchor[0] + offsets, np.full(parts, anchor[1])])


def _make_nodes(buildings: gpd.GeoDataFrame, cfg: Config) -> _Nodes:
    geoms = buildings.geometry.array
    rp = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    anchor = shapely.get_coordinates(rp)
    hh = buildings["households"].fillna(0).astype("int64").to_numpy()
    if "population" in buildings:
        popv = pd.to_numeric(buildings["population"], errors="coerce").to_numpy(dtype=float)
    else:
        popv = np.full(len(buildings), np.nan)
    popv = np.where(np.isnan(popv), hh * cfg.households.persons_per_household, popv)
    ent = (
        pd.to_numeric(buildings["entrances"], errors="coerce").to_numpy(dtype=float)
        if "entrances" in buildings
        else np.full(len(buildings), np.nan)
    )
    if "compound" in buildings:
        comp_raw = buildings["compound"].astype(object).where(buildings["compound"].notna(), None)
        codes, _ = pd.factorize(comp_raw, use_na_sentinel=True)
    else:
        codes = np.full(len(buildings), -1)
    mx = cfg.grids.max_households
    piece = max(1, cfg.grids.target_households // 4)
    xy, w, pop, bidx, comp = [], [], [], [], []
    for i in range(len(buildings)):
        h = int(hh[i])
        if h <= mx:
            xy.append(anchor[i : i + 1])
            w.append([h])
            pop.append([popv[i]])
            bidx.append([i])
            comp.append([codes[i]])
            continue
        e = int(ent[i]) if not np.isnan(ent[i]) and ent[i] >= 1 else 1
        counts: list[int] = []
        for c in _split_counts(h, e):
            counts.extend(_split_counts(c, max(1, math.ceil(c / piece))))
        counts = [c for c in counts if c > 0]
        pts = _part_points(geoms[i], anchor[i], len(counts))
        xy.append(pts)
        w.append(counts)
        pop.append([popv[i] * c / h for c in counts])
        bidx.append([i] * len(counts))
        comp.append([codes[i]] * len(counts))
    return _Nodes(
        xy=np.vstack(xy) if xy else np.zeros((0, 2)),
        w=np.concatenate([np.asarray(a, dtype=np.int64) for a in w]) if w else np.zeros(0, int),
        pop=np.concatenate([np.asarray(a, dtype=float) for a in pop]) if pop else np.zeros(0),
        bidx=np.concatenate([np.asarray(a, dtype=np.int64) for a in bidx])
        if bidx
        else np.zeros(0, int),
        compound=np.concatenate([np.asarray(a, dtype=np.int64) for a in comp])
        if comp
        else np.zeros(0, int),
    )


# --------------------------------------------------------------------------- counts


def choose_count(households: int, target: int, low: int, high: int) -> tuple[int, bool]:
    """Number of grids for a face of ``households`` and whether it can meet the bounds.

    The count keeps the mean grid within ``[low, high]`` and nearest ``target``; when no
    count can, the one with the smallest relative violation of the bounds.

    Examples
    --------
    >>> choose_count(4000, 400, 300, 500)
    (10, True)
    >>> choose_count(550, 400, 300, 500)
    (2, False)
    """
    if households <= 0:
        return 1, False
    lo = max(1, math.ceil(households / high))
    hi = households // low
    if lo <= hi:
        best = min(range(lo, hi + 1), key=lambda k: (abs(households / k - target), k))
        return best, True

    def violation(k: int) -> float:
        mean = households / k
        return max(mean / high - 1.0, 1.0 - mean / low, 0.0)

    cands = [k for k in (hi, lo) if k >= 1]
    return min(cands, key=lambda k: (violation(k), k)), False


# --------------------------------------------------------------------------- initial split


def _principal_axis(pts: np.ndarray) -> np.ndarray:
    if len(pts) < 2:
        return np.array([1.0, 0.0])
    c = pts - pts.mean(axis=0)
    cov = c.T @ c
    vals, vecs = np.linalg.eigh(cov)
    axis = vecs[:, int(np.argmax(vals))]
    if axis[0] < -1e-12 or (abs(axis[0]) <= 1e-12 and axis[1] < 0):
        axis = -axis
    return np.asarray(axis)


def _grow_split(
    nodes: list[int], k1: int, k: int, xy: np.ndarray, w: np.ndarray, adj: list[list[int]]
) -> tuple[list[int], list[int]]:
    members = set(nodes)
    total = float(w[nodes].sum())
    target = total * k1 / k
    axis = _principal_axis(xy[nodes])
    proj = dict(zip(nodes, (xy[nodes] @ axis).tolist(), strict=True))
    start = min(nodes, key=lambda v: (proj[v], v))
    heap = [(proj[start], start)]
    queued = {start}
    order: list[int] = []
    acc = 0.0
    best_i, best_err = 0, math.inf
    while heap:
        _, v = heapq.heappop(heap)
        order.append(v)
        acc += w[v]
        if len(order) < len(nodes):
            err = abs(acc - target)
            if err < best_err - 1e-9:
                best_i, best_err = len(order) - 1, err
        if acc > target + best_err:  # cannot get better any more
            break
        for u in adj[v]:
            if u in members and u not in queued:
                queued.add(u)
                heapq.heappush(heap, (proj[u], u))
    part1 = order[: best_i + 1]
    in1 = set(part1)
    rest = [v for v in nodes if v not in in1]
    comps = connected_components(rest, adj)
    if len(comps) > 1:
        comps.sort(key=lambda c: (-float(w[c].sum()), -len(c), c[0]))
        for c in comps[1:]:
            part1.extend(c)
        rest = comps[0]
    return sorted(part1), sorted(rest)


def _initial_labels(
    n: int, k: int, xy: np.ndarray, w: np.ndarray, adj: list[list[int]]
) -> np.ndarray:
    labels = np.zeros(n, dtype=np.int64)
    stack: list[tuple[list[int], int, int]] = [(list(range(n)), k, 0)]
    while stack:
        nodes, kk, first = stack.pop()
        if kk <= 1 or len(nodes) <= 1:
            labels[nodes] = first
            continue
        k1 = kk // 2
        a, b = _grow_split(nodes, k1, kk, xy, w, adj)
        if not a or not b:
            labels[nodes] = first
            continue
        stack.append((a, k1, first))
        stack.append((b, kk - k1, first + k1))
    # Labels may skip values when a region could not be split further; renumber densely.
    _, dense = np.unique(labels, return_inverse=True)
    return np.asarray(dense, dtype=np.int64)


# --------------------------------------------------------------------------- local search


@dataclass
class _Search:
    adj: list[list[int]]
    cost: list[list[float]]  # cut cost of each adjacency (length, × compound factor)
    w: np.ndarray
    labels: np.ndarray
    k: int
    target: float
    low: float
    high: float
    mu: float
    anchor: np.ndarray | None = None
    anchor_cost: float = 0.0
    weights: list[float] = field(default_factory=list)
    members: list[set[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lab = [int(x) for x in self.labels]
        self.wl = [int(x) for x in self.w]
        self.weights = [0.0] * self.k
        self.members = [set() for _ in range(self.k)]
        for v, r in enumerate(self.lab):
            self.weights[r] += self.wl[v]
            self.members[r].add(v)
        self.band = _BAND * self.target
        self.big = 20.0 * self.target

    def pen(self, x: float) -> float:
        d = x - self.target
        p = d * d
        ex = abs(d) - self.band
        if ex > 0:
            p += 10.0 * ex * ex
        if x < self.low:
            p += self.big * (self.low - x)
        elif x > self.high:
            p += self.big * (x - self.high)
        return p

    def pen_array(self, x: np.ndarray) -> np.ndarray:
        d = x - self.target
        ex = np.maximum(np.abs(d) - self.band, 0.0)
        viol = np.maximum(self.low - x, 0.0) + np.maximum(x - self.high, 0.0)
        return np.asarray(d * d + 10.0 * ex * ex + self.big * viol)

    def stays_connected(self, v: int, a: int) -> bool:
        lab = self.lab
        nbrs = [u for u in self.adj[v] if lab[u] == a]
        if len(nbrs) <= 1:
            return True
        targets = set(nbrs)
        found = 1
        seen = {v, nbrs[0]}
        queue = deque([nbrs[0]])
        while queue:
            x = queue.popleft()
            for y in self.adj[x]:
                if y not in seen and lab[y] == a:
                    if y in targets:
                        found += 1
                        if found == len(targets):
                            return True
                    seen.add(y)
                    queue.append(y)
        return False

    def move(self, v: int, b: int) -> None:
        a = self.lab[v]
        self.weights[a] -= self.wl[v]
        self.weights[b] += self.wl[v]
        self.members[a].discard(v)
        self.members[b].add(v)
        self.lab[v] = b

    def anchor_delta(self, v: int, a: int, b: int) -> float:
        if self.anchor is None or self.anchor_cost == 0:
            return 0.0
        home = int(self.anchor[v])
        if home < 0:
            return 0.0
        return self.anchor_cost * self.wl[v] * ((home != b) - (home != a))

    def best_move(self, v: int) -> tuple[float, int]:
        a = self.lab[v]
        if len(self.members[a]) <= 1:
            return 0.0, -1
        lab = self.lab
        side: dict[int, float] = {}
        same = 0.0
        for u, c in zip(self.adj[v], self.cost[v], strict=True):
            r = lab[u]
            if r == a:
                same += c
            else:
                side[r] = side.get(r, 0.0) + c
        if not side:
            return 0.0, -1
        wv = self.wl[v]
        wa = self.weights[a]
        base_a = self.pen(wa - wv) - self.pen(wa)
        best, best_b = -1e-9, -1
        for b in sorted(side):
            wb = self.weights[b]
            d = base_a + self.pen(wb + wv) - self.pen(wb) + self.mu * (same - side[b])
            d += self.anchor_delta(v, a, b)
            if d < best:
                best, best_b = d, b
        return best, best_b

    def descend(self, order: Sequence[int], deadline: float) -> int:
        """Greedy boundary moves until no move improves; returns the number of moves."""
        queue = deque(order)
        queued = [True] * len(self.lab)
        moves = 0
        steps = 0
        while queue:
            steps += 1
            if steps % 512 == 0 and time.perf_counter() > deadline:
                break
            v = queue.popleft()
            queued[v] = False
            _gain, b = self.best_move(v)
            if b < 0:
                continue
            a = self.lab[v]
            if not self.stays_connected(v, a):
                continue
            self.move(v, b)
            moves += 1
            for u in self.adj[v]:
                if not queued[u]:
                    queued[u] = True
                    queue.append(u)
            if not queued[v]:
                queued[v] = True
                queue.append(v)
        return moves

    def recombine(self, a: int, b: int, rng: np.random.Generator, trees: int = 5) -> bool:
        """Merge grids ``a`` and ``b`` and re-split them along the best spanning-tree cut.

        Both halves of a tree cut are connected, so contiguity holds by construction; the
        split is kept when it lowers balance penalty + μ · cut boundary (+ anchor cost).
        """
        pair = self.weights[a] + self.weights[b]
        slack = self.pen(self.weights[a]) + self.pen(self.weights[b]) - 2 * self.pen(pair / 2)
        if slack <= (0.01 * self.target) ** 2:
            return False  # already about as balanced as a pair can be
        nodes = sorted(self.members[a] | self.members[b])
        m = len(nodes)
        if m < 2 or m > 400:
            return False
        idx = {v: i for i, v in enumerate(nodes)}
        ledges: list[tuple[int, int, float]] = []
        for v in nodes:
            iv = idx[v]
            for u, c in zip(self.adj[v], self.cost[v], strict=True):
                iu = idx.get(u, -1)
                if iu > iv:
                    ledges.append((iv, iu, c))
        wl = [self.wl[v] for v in nodes]
        total = float(sum(wl))
        in_a = [self.lab[v] == a for v in nodes]
        cur_cut = sum(c for i, j, c in ledges if in_a[i] != in_a[j])
        current = self.pen(self.weights[a]) + self.pen(self.weights[b]) + self.mu * cur_cut
        anchor_now = 0.0
        if self.anchor is not None and self.anchor_cost:
            anchor_now = sum(
                self.anchor_cost * wl[i]
                for i, v in enumerate(nodes)
                if self.anchor[v] >= 0 and self.anchor[v] != self.lab[v]
            )
        best_val = current + anchor_now - 1e-9
        best_side: list[bool] | None = None
        ne = len(ledges)
        for _ in range(trees):
            keys = rng.random(ne)
            parent = list(range(m))
            tadj: list[list[int]] = [[] for _ in range(m)]
            for e in np.argsort(keys).tolist():
                i, j, _c = ledges[e]
                ri, rj = _find(parent, i), _find(parent, j)
                if ri != rj:
                    parent[ri] = rj
                    tadj[i].append(j)
                    tadj[j].append(i)
            # Euler tour from node 0
            tin = [0] * m
            tout = [0] * m
            order: list[int] = []
            par = [-1] * m
            stack = [0]
            seen = [False] * m
            seen[0] = True
            while stack:
                x = stack.pop()
                tin[x] = len(order)
                order.append(x)
                for y in tadj[x]:
                    if not seen[y]:
                        seen[y] = True
                        par[y] = x
                        stack.append(y)
            if len(order) < m:
                return False  # the union is not connected (cannot happen for neighbours)
            sub = wl[:]
            size = [1] * m
            for x in reversed(order):
                if par[x] >= 0:
                    sub[par[x]] += sub[x]
                    size[par[x]] += size[x]
            for x in order:
                tout[x] = tin[x] + size[x]
            subs = np.asarray(sub, dtype=float)
            vals = self.pen_array(subs) + self.pen_array(total - subs)
            vals[0] = np.inf  # the root: no cut
            cands = np.flatnonzero(vals < best_val)
            for x in cands[np.argsort(vals[cands], kind="stable")][:4].tolist():
                val = float(vals[x])
                if val >= best_val:
                    break
                lo_t, hi_t = tin[x], tout[x]
                side = [lo_t <= tin[i] < hi_t for i in range(m)]
                cut = sum(c for i, j, c in ledges if side[i] != side[j])
                full = val + self.mu * cut
                if full >= best_val:
                    continue
                # subtree to a or to b: the orientation with fewer households changing grid
                keep = sum(wl[i] for i in range(m) if side[i] == in_a[i])
                flip = total - keep
                orient = keep >= flip
                if self.anchor is not None and self.anchor_cost:
                    extra = [0.0, 0.0]
                    for o, sd in enumerate((True, False)):
                        for i, v in enumerate(nodes):
                            home = int(self.anchor[v])
                            if home < 0:
                                continue
                            lab_new = a if (side[i] == sd) else b
                            if home != lab_new:
                                extra[o] += self.anchor_cost * wl[i]
                    orient = extra[0] <= extra[1]
                    full += min(extra)
                    if full >= best_val:
                        continue
                best_val = full
                best_side = [sd == orient for sd in side]
        if best_side is None:
            return False
        for i, v in enumerate(nodes):
            target_lab = a if best_side[i] else b
            if self.lab[v] != target_lab:
                self.move(v, target_lab)
        return True

    def recombine_pass(self, rng: np.random.Generator, deadline: float) -> int:
        """Recombine neighbouring grids, worst-balanced pairs first."""
        nb = self.region_graph()
        dev = [abs(x - self.target) for x in self.weights]
        pairs = sorted(
            {(min(a, b), max(a, b)) for a in range(self.k) for b in nb[a]},
            key=lambda p: (-(dev[p[0]] + dev[p[1]]), p),
        )
        done = 0
        touched: set[int] = set()
        tol = 0.02 * self.target
        for a, b in pairs:
            if time.perf_counter() > deadline or dev[a] + dev[b] <= tol:
                break
            if a in touched or b in touched:
                continue
            if self.recombine(a, b, rng):
                done += 1
                touched.update((a, b))
        return done

    def region_graph(self) -> list[set[int]]:
        nb: list[set[int]] = [set() for _ in range(self.k)]
        lab = self.lab
        for v, us in enumerate(self.adj):
            a = lab[v]
            for u in us:
                if lab[u] != a:
                    nb[a].add(lab[u])
        return nb

    def total(self) -> float:
        return sum(self.pen(x) for x in self.weights)

    def chain_pass(self, deadline: float) -> int:
        """Shift households along chains of grids from the worst grids towards the others."""
        improved = 0
        tol = self.band
        dev = [x - self.target for x in self.weights]
        worst = sorted(range(self.k), key=lambda r: (-abs(dev[r]), r))
        nb = self.region_graph()
        for r0 in worst:
            if time.perf_counter() > deadline:
                break
            d0 = self.weights[r0] - self.target
            if abs(d0) <= tol * 0.5:
                break
            if self._chain_from(r0, d0 > 0, nb):
                improved += 1
                nb = self.region_graph()
        return improved

    def _chain_from(self, r0: int, surplus: bool, nb: list[set[int]]) -> bool:
        """Find a path r0 → … → rk (rk on the other side of the target) and move along it."""
        prev = {r0: -1}
        queue = deque([r0])
        goal = -1
        while queue:
            r = queue.popleft()
            if r != r0:
                d = self.weights[r] - self.target
                if (d < 0) if surplus else (d > 0):
                    goal = r
                    break
            for s in sorted(nb[r]):
                if s not in prev and len(prev) < 60:
                    prev[s] = r
                    queue.append(s)
        if goal < 0:
            return False
        path = [goal]
        while prev[path[-1]] >= 0:
            path.append(prev[path[-1]])
        path.reverse()  # r0 ... goal
        if not surplus:
            path.reverse()  # flow always goes from the heavier end: goal ... r0
        amount = min(
            abs(self.weights[path[0]] - self.target), abs(self.weights[path[-1]] - self.target)
        )
        before = self.total()
        done: list[tuple[int, int]] = []
        for a, b in itertools.pairwise(path):
            v = self._pick_transfer(a, b, amount)
            if v < 0:
                break
            done.append((v, a))
            self.move(v, b)
        if len(done) == len(path) - 1 and self.total() < before - 1e-9:
            return True
        for v, a in reversed(done):
            self.move(v, a)
        return False

    def _pick_transfer(self, a: int, b: int, amount: float) -> int:
        """A boundary node of ``a`` next to ``b`` whose households best match ``amount``."""
        lab = self.lab
        best, best_key = -1, (math.inf, math.inf, 0)
        if len(self.members[a]) <= 1:
            return -1
        for v in sorted(self.members[a]):
            if self.wl[v] == 0:
                continue
            if not any(lab[u] == b for u in self.adj[v]):
                continue
            same = sum(c for u, c in zip(self.adj[v], self.cost[v], strict=True) if lab[u] == a)
            other = sum(c for u, c in zip(self.adj[v], self.cost[v], strict=True) if lab[u] == b)
            key = (abs(self.wl[v] - amount), same - other, v)
            if key < best_key and self.stays_connected(v, a):
                best, best_key = v, key
        return best


def _initial_from_homes(
    k: int, xy: np.ndarray, w: np.ndarray, adj: list[list[int]], home: np.ndarray
) -> np.ndarray:
    """Re-planning start: old grids keep their buildings; the rest is split into new grids.

    Each old grid keeps its largest connected piece; the remaining nodes (new buildings,
    stray pieces) are shared among ``k - (old grids)`` new regions by recursive bisection of
    each connected piece, in proportion to its households. Pieces too small for a region of
    their own join the neighbouring region with the fewest households. Falls back to plain
    bisection when there are at least ``k`` old grids.
    """
    n = len(w)
    homes = sorted({int(h) for h in home.tolist() if h >= 0})
    if not homes or len(homes) >= k:
        return _initial_labels(n, k, xy, w, adj)
    labels = np.full(n, -1, dtype=np.int64)
    for r, h in enumerate(homes):
        comps = connected_components(np.flatnonzero(home == h).tolist(), adj)
        comps.sort(key=lambda c: (-float(w[c].sum()), -len(c), c[0]))
        labels[comps[0]] = r
    free = np.flatnonzero(labels < 0).tolist()
    k_free = k - len(homes)
    comps = connected_components(free, adj)
    weights = np.array([float(w[c].sum()) for c in comps])
    total = float(weights.sum())
    share = weights / total * k_free if total > 0 else np.zeros(len(comps))
    counts = np.floor(share).astype(int)
    for i in np.argsort(-(share - counts), kind="stable")[: k_free - int(counts.sum())]:
        counts[i] += 1
    nxt = len(homes)
    pending: list[list[int]] = []
    for comp, kc in zip(comps, counts.tolist(), strict=True):
        if kc <= 0:
            pending.append(comp)
            continue
        sub_index = {v: i for i, v in enumerate(comp)}
        sub_adj = [[sub_index[u] for u in adj[v] if u in sub_index] for v in comp]
        sub = _initial_labels(len(comp), kc, xy[comp], w[comp], sub_adj)
        labels[comp] = sub + nxt
        nxt += int(sub.max()) + 1
    for _ in range(len(pending) + 1):
        rest = []
        for comp in pending:
            region_w: dict[int, float] = {}
            for v in comp:
                for u in adj[v]:
                    r = int(labels[u])
                    if r >= 0:
                        region_w[r] = 0.0
            if not region_w:
                rest.append(comp)
                continue
            totals = np.bincount(labels[labels >= 0], weights=w[labels >= 0])
            r = min(region_w, key=lambda x: (totals[x], x))
            labels[comp] = r
        if not rest:
            break
        pending = rest
    if (labels < 0).any():  # pragma: no cover - a piece touching nothing labelled
        return _initial_labels(n, k, xy, w, adj)
    _, dense = np.unique(labels, return_inverse=True)
    return np.asarray(dense, dtype=np.int64)


def _find(parent: list[int], x: int) -> int:
    """Union-find root with path halving."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def match_homes(labels: np.ndarray, home: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Anchor of each node: the region matched to its old grid (greedy, most households first).

    Regions and old grids are matched one to one by the households they share (ties by
    node count, then ids); nodes of unmatched or no old grid get ``-1``.
    """
    overlap: dict[tuple[int, int], list[int]] = {}
    for v in range(len(labels)):
        h = int(home[v])
        if h < 0:
            continue
        key = (int(labels[v]), h)
        acc = overlap.setdefault(key, [0, 0])
        acc[0] += int(w[v])
        acc[1] += 1
    pairs = sorted(overlap.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    region_of: dict[int, int] = {}
    used: set[int] = set()
    for (r, h), _ in pairs:
        if h in region_of or r in used:
            continue
        region_of[h] = r
        used.add(r)
    return np.array([region_of.get(int(h), -1) if h >= 0 else -1 for h in home], dtype=np.int64)


def _edge_costs(
    n: int, edges: np.ndarray, lengths: np.ndarray, compound: np.ndarray
) -> tuple[list[list[int]], list[list[float]]]:
    adj: list[list[int]] = [[] for _ in range(n)]
    cost: list[list[float]] = [[] for _ in range(n)]
    for (i, j), ln in zip(edges.tolist(), lengths.tolist(), strict=True):
        c = ln
        if compound[i] >= 0 and compound[i] == compound[j]:
            c *= _COMPOUND_CUT_FACTOR
        adj[i].append(j)
        adj[j].append(i)
        cost[i].append(c)
        cost[j].append(c)
    return adj, cost


def partition_face(
    xy: np.ndarray,
    w: np.ndarray,
    edges: np.ndarray,
    lengths: np.ndarray,
    k: int,
    *,
    target: float,
    low: float,
    high: float,
    compound: np.ndarray | None = None,
    seed: int = 0,
    deadline: float = math.inf,
    anchor: np.ndarray | None = None,
    anchor_cost: float = 0.0,
    initial: np.ndarray | None = None,
    rounds: int = 8,
    home: np.ndarray | None = None,
) -> np.ndarray:
    """Partition one connected face graph into ``k`` contiguous, balanced regions.

    Parameters
    ----------
    xy
        ``(n, 2)`` node coordinates.
    w
        Households per node.
    edges, lengths
        Adjacent node pairs and the length of their shared cell boundary (the cut cost).
    k
        Number of regions.
    target, low, high
        Households per region: target and bounds.
    compound
        Compound code per node (``-1`` for none); cutting inside a compound costs more.
    seed
        Seed of the visiting order of the local search.
    deadline
        ``time.perf_counter()`` value after which the local search stops.
    anchor, anchor_cost
        Re-planning: the region each node should stay in (``-1``: none) and the cost per
        household moved away from it.
    home
        Re-planning: the old grid of each node (``-1`` for new buildings); after the initial
        split each old grid is matched to the region holding most of its households, which
        becomes the anchor of its nodes.
    initial
        Starting labels (else recursive bisection).

    Returns
    -------
    numpy.ndarray
        Region label ``0..k-1`` of each node; every region is connected.
    """
    n = len(w)
    if compound is None:
        compound = np.full(n, -1)
    adj, cost = _edge_costs(n, edges, lengths, compound)
    if k <= 1 or n <= 1:
        return np.zeros(n, dtype=np.int64)
    if initial is not None:
        labels = initial.copy()
    elif home is not None:
        labels = _initial_from_homes(k, xy, w, adj, home)
    else:
        labels = _initial_labels(n, k, xy, w, adj)
    k = int(labels.max()) + 1
    if home is not None and anchor is None:
        anchor = match_homes(labels, home, w)
    med = float(np.median(lengths)) if len(lengths) else 1.0
    mu = _MU * (0.02 * target) ** 2 / max(med, 1e-6) / 2.0
    search = _Search(
        adj=adj,
        cost=cost,
        w=w,
        labels=labels,
        k=k,
        target=target,
        low=low,
        high=high,
        mu=mu,
        anchor=anchor,
        anchor_cost=anchor_cost,
    )
    rng = np.random.default_rng(seed)
    order = [int(v) for v in rng.permutation(n)]
    search.descend(order, deadline)
    for _ in range(rounds):
        if time.perf_counter() > deadline:
            break
        before = search.total()
        recombined = search.recombine_pass(rng, deadline)
        shifted = search.chain_pass(deadline)
        moved = search.descend(order, deadline)
        log.debug(
            "round: recombined %d, shifted %d, moved %d, objective %.0f -> %.0f, max dev %.0f",
            recombined,
            shifted,
            moved,
            before,
            search.total(),
            max(abs(x - search.target) for x in search.weights),
        )
        after = search.total()
        worst = max(abs(x - search.target) for x in search.weights)
        gain = before - after
        if gain <= 0.03 * before or (worst <= 0.025 * target and gain <= 0.1 * before):
            break
    return np.asarray(search.lab, dtype=np.int64)


# --------------------------------------------------------------------------- area planning


@dataclass
class _Region:
    nodes: np.ndarray  # node indices (community level)
    geometry: Polygon
    group: int  # face group index
    feasible: bool  # the face group's count can meet the bounds


@dataclass
class _AreaPlan:
    regions: list[_Region]
    flags: list[str]
    faces: int
    faces_merged: int
    cut_edges: int
    edges: int
    largest_node: dict[int, int]
    group_households: dict[int, int]
    group_count: dict[int, int]
    where: str


def _assign_faces(faces: Sequence[Polygon], xy: np.ndarray) -> np.ndarray:
    pts = shapely.points(xy)
    tree = shapely.STRtree(list(faces))
    idx_pt, idx_face = tree.query(pts, predicate="intersects")
    out = np.full(len(xy), -1, dtype=np.int64)
    order = np.lexsort((idx_face, idx_pt))
    for p, f in zip(idx_pt[order].tolist(), idx_face[order].tolist(), strict=True):
        if out[p] < 0:
            out[p] = f
    missing = np.flatnonzero(out < 0)
    if len(missing):
        near = tree.nearest(pts[missing])
        out[missing] = near
    return out


def _fmt_xy(geom: shapely.Geometry) -> str:
    c = geom.representative_point()
    return f"({c.x:.0f}, {c.y:.0f})"


def face_groups(
    area: Polygon, xy: np.ndarray, w: np.ndarray, lines: gpd.GeoDataFrame, lo: int, where: str
) -> tuple[list[Polygon], np.ndarray, list[list[int]], list[str], int]:
    """Faces of ``area`` cut by ``lines``, and the groups they form after merging small faces.

    A face holding households (or only non-residential buildings) but fewer than ``lo``
    households is merged with the neighbouring face (directly, or across one building-free
    face such as a river) behind the weakest barrier, longest shared boundary first.

    Returns
    -------
    faces, face_of, groups, flags, merged
        The faces; the face of each point; groups of face indices (sorted by their first face);
        one sentence per merge; the number of merges.
    """
    nodes_w = w
    faces = split_faces(area, list(lines.geometry.array)) if len(lines) else [area]
    face_of = _assign_faces(faces, xy) if len(nodes_w) else np.zeros(0, dtype=np.int64)
    nf = len(faces)
    hh = np.bincount(face_of, weights=nodes_w, minlength=nf).astype(np.int64)
    cnt = np.bincount(face_of, minlength=nf)
    flags: list[str] = []

    # union-find over faces
    parent = list(range(nf))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    neigh = face_neighbours(faces, lines) if nf > 1 else {}
    merged = 0
    if nf > 1:
        while True:
            groups: dict[int, list[int]] = {}
            for f in range(nf):
                groups.setdefault(find(f), []).append(f)
            g_hh = {r: int(hh[fs].sum()) for r, fs in groups.items()}
            g_cnt = {r: int(cnt[fs].sum()) for r, fs in groups.items()}
            occupied = [r for r in groups if g_cnt[r] > 0]
            small = sorted(
                (r for r in occupied if g_hh[r] < lo), key=lambda r: (g_hh[r], min(groups[r]))
            )
            if len(occupied) < 2 or not small:
                break
            did = False
            for r in small:
                best: tuple[int, float, int, str, int] | None = (
                    None  # strength, -len, nb, kind, via
                )
                for (i, j), (strength, length, kind) in neigh.items():
                    fi, fj = find(i), find(j)
                    if fi == fj or r not in (fi, fj):
                        continue
                    other = fj if fi == r else fi
                    if g_cnt[other] > 0:
                        cand = (strength, -length, other, kind, -1)
                        if best is None or cand[:3] < best[:3]:
                            best = cand
                    else:  # an empty face between: look one step further
                        for (p, q), (s2, l2, k2) in neigh.items():
                            fp, fq = find(p), find(q)
                            if other not in (fp, fq) or r in (fp, fq) or fp == fq:
                                continue
                            third = fq if fp == other else fp
                            if g_cnt[third] <= 0:
                                continue
                            s = max(strength, s2)
                            cand = (
                                s,
                                -min(length, l2),
                                third,
                                kind if s == strength else k2,
                                other,
                            )
                            if best is None or cand[:3] < best[:3]:
                                best = cand
                if best is None:
                    continue
                strength, _neg, other, kind, via = best
                what = kind or "a dangling barrier"
                flags.append(
                    f"{where}: the face at {_fmt_xy(unary(faces, groups[r]))} holds "
                    f"{g_hh[r]} households in {g_cnt[r]} buildings, too few for a grid "
                    f"(min {lo}); merged with its neighbour across the weakest barrier "
                    f"({what}). Fix: accept the merge, or lower grids.min_households."
                )
                parent[r] = other
                if via >= 0:
                    parent[find(via)] = find(other)
                merged += 1
                did = True
                break
            if not did:
                break

    groups = {}
    for f in range(nf):
        groups.setdefault(find(f), []).append(f)
    ordered = [groups[r] for r in sorted(groups, key=lambda r: min(groups[r]))]
    return faces, face_of, ordered, flags, merged


def _plan_area(
    area: Polygon,
    nodes: _Nodes,
    lines: gpd.GeoDataFrame,
    cfg: Config,
    *,
    seed: int,
    deadline: float,
    where: str,
    home: np.ndarray | None = None,
    anchor_cost: float = 0.0,
) -> _AreaPlan:
    """Faces, merges, cells and regions of one area (a community, or a re-planned patch)."""
    g = cfg.grids
    T, lo, hi = g.target_households, g.min_households, g.max_households
    faces, face_of, group_list, flags, merged = face_groups(
        area, nodes.xy, nodes.w, lines, lo, where
    )
    nf = len(faces)
    regions: list[_Region] = []
    empty_polys: list[Polygon] = []
    cut_edges = 0
    n_edges = 0
    largest: dict[int, int] = {}
    g_households: dict[int, int] = {}
    g_count: dict[int, int] = {}
    for gi, fs in enumerate(group_list):
        poly = unary(faces, fs)
        member_mask = np.isin(face_of, fs)
        idx = np.flatnonzero(member_mask)
        if len(idx) == 0:
            empty_polys.extend(p for p in shapely.get_parts(poly) if p.area > 0)
            continue
        parts = [p for p in shapely.get_parts(poly) if p.area > 0]
        if len(parts) > 1:  # should not happen: merged faces share boundaries
            poly = max(parts, key=lambda p: p.area)
            empty_polys.extend(p for p in parts if p is not poly)
        cells, edges, lengths = cell_graph(poly, nodes.xy[idx])
        edges, lengths = _bridge_components(nodes.xy[idx], edges, lengths)
        w = nodes.w[idx]
        H = int(w.sum())
        k, feasible = choose_count(H, T, lo, hi)
        k = max(1, min(k, int((w > 0).sum()) or 1))
        labels = partition_face(
            nodes.xy[idx],
            w,
            edges,
            lengths,
            k,
            target=float(T),
            low=float(lo),
            high=float(hi),
            compound=nodes.compound[idx],
            seed=seed + gi,
            deadline=deadline,
            anchor_cost=anchor_cost,
            home=None if home is None else home[idx],
        )
        n_edges += len(edges)
        if len(edges):
            cut_edges += int((labels[edges[:, 0]] != labels[edges[:, 1]]).sum())
        largest[gi] = int(w.max()) if len(w) else 0
        g_households[gi] = H
        g_count[gi] = k
        cell_arr = np.asarray(cells, dtype=object)
        for r in range(int(labels.max()) + 1):
            sel = np.flatnonzero(labels == r)
            if len(sel) == 0:
                continue
            geom = shapely.union_all(cell_arr[sel])
            regions.append(_Region(nodes=idx[sel], geometry=geom, group=gi, feasible=feasible))
    if not regions:  # no building at all: one empty grid covers the area
        regions.append(
            _Region(nodes=np.zeros(0, dtype=np.int64), geometry=area, group=0, feasible=False)
        )
        g_households[0] = 0
        g_count[0] = 1
        empty_polys = []
    _attach_empty(regions, empty_polys)
    _single_polygons(regions, nodes.xy)
    return _AreaPlan(
        regions=regions,
        flags=flags,
        faces=nf,
        faces_merged=merged,
        cut_edges=cut_edges,
        edges=n_edges,
        largest_node=largest,
        group_households=g_households,
        group_count=g_count,
        where=where,
    )


def _bridge_components(
    xy: np.ndarray, edges: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Join the pieces of a disconnected cell graph by their closest nodes.

    Cells of a face always touch, but a face with a neck narrower than rounding can leave
    the graph in pieces; a bridge edge keeps the partition well defined and the territory
    safety net (:func:`_single_polygons`) keeps buildings inside their grid.
    """
    n = len(xy)
    if n < 2:
        return edges, lengths
    adj: list[list[int]] = [[] for _ in range(n)]
    for i, j in edges.tolist():
        adj[i].append(j)
        adj[j].append(i)
    comps = connected_components(range(n), adj)
    if len(comps) == 1:
        return edges, lengths
    from scipy.spatial import cKDTree

    extra = []
    main = list(comps[0])
    for comp in comps[1:]:
        tree = cKDTree(xy[main])
        dist, near = tree.query(xy[comp])
        k = int(np.argmin(dist))
        a, b = comp[k], main[int(near[k])]
        extra.append((min(a, b), max(a, b)))
        main.extend(comp)
    log.debug("cell graph in %d pieces: bridged", len(comps))
    new_edges = np.vstack([edges.reshape(-1, 2), np.array(extra, dtype=np.int64)])
    new_lengths = np.concatenate([lengths, np.full(len(extra), 1e-3)])
    return new_edges, new_lengths


def unary(faces: Sequence[Polygon], idx: Sequence[int]) -> shapely.Geometry:
    """Union of some faces."""
    if len(idx) == 1:
        return faces[idx[0]]
    return shapely.union_all([faces[i] for i in idx])


def _attach_empty(regions: list[_Region], empty: list[Polygon]) -> None:
    """Give each building-free piece to the region sharing most boundary with it."""
    pending = list(empty)
    for _ in range(len(pending) + 1):
        if not pending or not regions:
            return
        rest = []
        for piece in pending:
            best, best_len = -1, 1e-6
            for ri, reg in enumerate(regions):
                if not reg.geometry.intersects(piece):
                    continue
                shared = shapely.intersection(reg.geometry.boundary, piece.boundary).length
                if shared > best_len:
                    best, best_len = ri, shared
            if best < 0:
                rest.append(piece)
                continue
            regions[best].geometry = glue(regions[best].geometry, piece)
        if len(rest) == len(pending):
            for piece in rest:  # touching nothing (an island of the area): nearest region
                dists = [reg.geometry.distance(piece) for reg in regions]
                j = int(np.argmin(dists))
                regions[j].geometry = glue(regions[j].geometry, piece)
            return
        pending = rest


def _single_polygons(regions: list[_Region], xy: np.ndarray) -> None:
    """Make every region one Polygon (safety net; normally a no-op).

    A region whose territory came out in several parts keeps the part holding most of its
    nodes; every other part goes, with the nodes lying in it, to the neighbouring region
    sharing most boundary with it, so buildings always lie in their grid's polygon.
    """
    for _ in range(4):
        strays: list[tuple[int, Polygon]] = []
        for ri, reg in enumerate(regions):
            geom = reg.geometry
            if geom.geom_type == "Polygon":
                continue
            parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
            if not parts:
                continue
            pts = shapely.points(xy[reg.nodes]) if len(reg.nodes) else None
            counts = [int(shapely.covers(p, pts).sum()) if pts is not None else 0 for p in parts]
            main_i = max(range(len(parts)), key=lambda i: (counts[i], parts[i].area))
            reg.geometry = parts[main_i]
            strays.extend((ri, p) for i, p in enumerate(parts) if i != main_i)
        if not strays:
            return
        for ri, piece in strays:
            best, best_len = ri, -1.0
            for rj, reg in enumerate(regions):
                if rj == ri or not reg.geometry.intersects(piece):
                    continue
                shared = shapely.intersection(reg.geometry.boundary, piece.boundary).length
                if shared > best_len:
                    best, best_len = rj, shared
            if best == ri:
                dists = [
                    reg.geometry.distance(piece) if rj != ri else math.inf
                    for rj, reg in enumerate(regions)
                ]
                best = int(np.argmin(dists)) if len(regions) > 1 else ri
            regions[best].geometry = glue(regions[best].geometry, piece)
            src = regions[ri]
            if best != ri and len(src.nodes):
                inside = shapely.covers(piece, shapely.points(xy[src.nodes]))
                if inside.any() and not inside.all():
                    regions[best].nodes = np.sort(
                        np.concatenate([regions[best].nodes, src.nodes[inside]])
                    )
                    src.nodes = src.nodes[~inside]


# --------------------------------------------------------------------------- codes


def number_regions(geoms: Sequence[Polygon], community_id: str, *, start: int = 1) -> list[str]:
    """Grid codes ``<community_id>-NNN``: bands north→south, west→east within a band.

    The band height is the square root of the median grid area, so a band holds about one row
    of grids.
    """
    if not geoms:
        return []
    cent = shapely.get_coordinates(shapely.centroid(np.asarray(geoms, dtype=object)))
    areas = np.array([g.area for g in geoms])
    h = math.sqrt(float(np.median(areas))) if len(areas) else 1.0
    h = h if h > 0 else 1.0
    top = float(cent[:, 1].max())
    band = np.floor((top - cent[:, 1]) / h + 1e-9).astype(int)
    order = sorted(range(len(geoms)), key=lambda i: (band[i], round(cent[i, 0], 3), i))
    codes = [""] * len(geoms)
    for seq, i in enumerate(order, start=start):
        codes[i] = f"{community_id}-{seq:03d}"
    return codes


# --------------------------------------------------------------------------- public API


def _prepare_inputs(
    buildings: gpd.GeoDataFrame, communities: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    problems = []
    for col in ("building_id", "households", "community_id"):
        if col not in buildings:
            problems.append(f"buildings: column {col!r} is missing (prepare the dataset first)")
    for col in ("community_id",):
        if col not in communities:
            problems.append(f"communities: column {col!r} is missing")
    if problems:
        raise DataError("; ".join(problems), problems)
    if buildings.crs is not None and buildings.crs.is_geographic:
        msg = "buildings: the layer is in a geographic CRS; prepare the dataset (metric UTM CRS)"
        raise DataError(msg)
    known = set(communities["community_id"].astype(str))
    bad = sorted(set(buildings["community_id"].astype(str)) - known)
    if bad:
        ids = ", ".join(bad[:10])
        msg = (
            f"buildings: community_id {ids} not in the communities layer; add those communities "
            "or fix the buildings' community_id"
        )
        raise DataError(msg)
    if buildings["households"].isna().any():
        ids = ", ".join(
            buildings.loc[buildings["households"].isna(), "building_id"].astype(str)[:10]
        )
        msg = f"buildings: households missing for {ids}; estimate them first (gridplan.households)"
        raise DataError(msg)
    return buildings, communities


def _bounds_fix(households: int, lo: int, hi: int) -> str:
    """What to change so that ``households`` can be split within the bounds."""
    if households <= 0:
        return (
            "nothing to split (no households live here); keep it as an empty grid or join it "
            "to a neighbouring grid by hand"
        )
    if households < lo:
        return (
            f"lower grids.min_households to {households}, or let the barrier around it be "
            "crossed (grids.barrier_road_classes)"
        )
    more = math.ceil(households / hi)
    fewer = households // lo
    return (
        f"lower grids.min_households to {households // more} or raise grids.max_households to "
        f"{math.ceil(households / max(fewer, 1))}, or let a barrier road be crossed "
        "(grids.barrier_road_classes)"
    )


def _region_flags(
    plan: _AreaPlan, codes: list[str], cfg: Config, households: list[int]
) -> list[str]:
    g = cfg.grids
    lo, hi = g.min_households, g.max_households
    out = []
    for reg, code, h in zip(plan.regions, codes, households, strict=True):
        if lo <= h <= hi:
            continue
        side = "above the maximum" if h > hi else "below the minimum"
        limit = hi if h > hi else lo
        gh = plan.group_households.get(reg.group, h)
        gk = plan.group_count.get(reg.group, 1)
        if not reg.feasible:
            reason = (
                f"the {gh} households between its barriers cannot be split into grids of "
                f"{lo}–{hi} ({gk} grid{'s' if gk > 1 else ''} of about {gh / gk:.0f})"
            )
            fix = _bounds_fix(gh, lo, hi)
        else:
            big = plan.largest_node.get(reg.group, 0)
            reason = (
                f"buildings here are too coarse to balance exactly (the largest holds {big} "
                "households) or the time limit stopped the search"
            )
            fix = "raise grids.time_limit_s, or widen the bounds slightly"
        out.append(
            f"{plan.where}: grid {code} holds {h} households, {side} {limit}: {reason}. Fix: {fix}."
        )
    return out


def _metrics(
    grids: gpd.GeoDataFrame,
    cfg: Config,
    *,
    cut_edges: int,
    edges: int,
    faces: int,
    merged: int,
    contiguous: bool,
    seconds: float,
) -> dict[str, Any]:
    g = cfg.grids
    h = grids["households"].to_numpy(dtype=float)
    geoms = np.asarray(grids.geometry.array, dtype=object)
    area = shapely.area(geoms) if len(geoms) else np.zeros(0)
    perim = shapely.length(geoms) if len(geoms) else np.zeros(0)
    pp = np.where(perim > 0, 4 * math.pi * area / np.maximum(perim, 1e-12) ** 2, 0.0)
    T = g.target_households
    out: dict[str, Any] = {
        "grids": len(grids),
        "households": int(h.sum()),
        "households_min": int(h.min()) if len(h) else 0,
        "households_max": int(h.max()) if len(h) else 0,
        "households_mean": round(float(h.mean()), 2) if len(h) else 0.0,
        "households_std": round(float(h.std()), 2) if len(h) else 0.0,
        "max_deviation": round(float(np.abs(h - T).max() / T), 4) if len(h) else 0.0,
        "share_within_10pct": round(float((np.abs(h - T) <= 0.1 * T).mean()), 4) if len(h) else 1.0,
        "share_within_bounds": round(
            float(((h >= g.min_households) & (h <= g.max_households)).mean()), 4
        )
        if len(h)
        else 1.0,
        "polsby_popper_mean": round(float(pp.mean()), 4) if len(pp) else 0.0,
        "polsby_popper_min": round(float(pp.min()), 4) if len(pp) else 0.0,
        "cut_edges": int(cut_edges),
        "adjacency_edges": int(edges),
        "faces": int(faces),
        "faces_merged": int(merged),
        "contiguity_ok": bool(contiguous),
        "time_s": round(seconds, 3),
    }
    return out


def community_seed(seed: int, community_id: str) -> int:
    """The search seed of one community: from the plan seed and the community's id, never its
    position, so a community planned alone (``--communities``, a Dask worker, a batch) gets
    exactly the grids it gets among all the others."""
    return seed * 1000 + zlib.crc32(str(community_id).encode("utf-8")) % 100_003


def partition_grids(
    buildings: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    seed: int | None = None,
    time_limit_s: float | None = None,
) -> PartitionResult:
    """Partition every community into balanced, contiguous, barrier-respecting grids.

    Parameters
    ----------
    buildings
        Prepared buildings (metric CRS): building_id, households, community_id, geometry
        (Point or Polygon); optional population, compound, entrances.
    communities
        Community polygons with community_id.
    roads
        Road lines with road_class; classes in ``grids.barrier_road_classes`` are barriers.
    barriers
        Barrier lines or polygons (rivers, rail, walls) with an optional kind.
    config
        Settings; ``None`` means :data:`gridplan.settings.DEFAULT`.
    seed
        Seed (default ``config.seed``); the same inputs and seed give the same plan.
    time_limit_s
        Wall-clock limit per community (default ``grids.time_limit_s``); the best plan found
        so far is returned when it runs out.

    Returns
    -------
    PartitionResult
        Grids, buildings with grid_id, building_parts, metrics and flags.

    Raises
    ------
    DataError
        Missing columns, unknown community ids or missing household counts.
    InfeasibleError
        With ``grids.strict``: some grid is out of bounds (the message lists the flags).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> b = gpd.GeoDataFrame(
    ...     {"building_id": [f"B{i}" for i in range(20)], "households": [40] * 20,
    ...      "community_id": ["C01"] * 20},
    ...     geometry=[Point(10 + 20 * (i % 10), 10 + 20 * (i // 10)) for i in range(20)],
    ...     crs="EPSG:32648")
    >>> c = gpd.GeoDataFrame({"community_id": ["C01"]}, geometry=[box(0, 0, 200, 40)],
    ...     crs="EPSG:32648")
    >>> res = partition_grids(b, c)
    >>> res.grids[["grid_id", "households"]].values.tolist()
    [['C01-001', 400], ['C01-002', 400]]
    """
    cfg = config or DEFAULT
    seed = cfg.seed if seed is None else seed
    limit = cfg.grids.time_limit_s if time_limit_s is None else time_limit_s
    _prepare_inputs(buildings, communities)
    t_all = time.perf_counter()
    crs = buildings.crs or communities.crs
    b_comm = buildings["community_id"].astype(str).to_numpy()
    comms = communities.assign(community_id=communities["community_id"].astype(str))
    comms = comms.sort_values("community_id", kind="stable")

    grid_rows: list[dict[str, Any]] = []
    node_grid_parts: list[pd.DataFrame] = []
    flags: list[str] = []
    bound_flags: list[str] = []
    per_comm: dict[str, Any] = {}
    totals = {"cut": 0, "edges": 0, "faces": 0, "merged": 0}
    for cid, geom in zip(comms["community_id"], comms.geometry.array, strict=True):
        t0 = time.perf_counter()
        pos = np.flatnonzero(b_comm == cid)
        sub = buildings.iloc[pos]
        area = _community_polygon(geom, cid)
        lines = barrier_lines(
            area,
            roads=roads,
            barriers=barriers,
            barrier_road_classes=cfg.grids.barrier_road_classes,
        )
        nodes = _make_nodes(sub, cfg)
        plan = _plan_area(
            area,
            nodes,
            lines,
            cfg,
            seed=community_seed(seed, cid),
            deadline=t0 + limit,
            where=f"community {cid}",
        )
        geoms = [r.geometry for r in plan.regions]
        codes = number_regions(geoms, cid)
        hh = [int(nodes.w[r.nodes].sum()) for r in plan.regions]
        bflags = _region_flags(plan, codes, cfg, hh)
        bound_flags.extend(bflags)
        flags.extend(plan.flags + bflags)
        rows = []
        for reg, code, h in zip(plan.regions, codes, hh, strict=True):
            rows.append(
                {
                    "grid_id": code,
                    "community_id": cid,
                    "households": h,
                    "population": round(float(nodes.pop[reg.nodes].sum()), 2),
                    "geometry": reg.geometry,
                }
            )
            node_grid_parts.append(
                pd.DataFrame(
                    {
                        "row": pos[nodes.bidx[reg.nodes]],
                        "grid_id": code,
                        "households": nodes.w[reg.nodes],
                        "nodes": 1,
                    }
                )
            )
        grid_rows.extend(rows)
        cg = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs) if rows else _empty_grids(crs)
        contiguous = all(r.geometry.geom_type == "Polygon" for r in plan.regions)
        per_comm[cid] = _metrics(
            cg,
            cfg,
            cut_edges=plan.cut_edges,
            edges=plan.edges,
            faces=plan.faces,
            merged=plan.faces_merged,
            contiguous=contiguous,
            seconds=time.perf_counter() - t0,
        )
        totals["cut"] += plan.cut_edges
        totals["edges"] += plan.edges
        totals["faces"] += plan.faces
        totals["merged"] += plan.faces_merged
        log.info("community %s: %d grids in %.2f s", cid, len(rows), time.perf_counter() - t0)

    return _assemble(
        buildings,
        grid_rows,
        node_grid_parts,
        flags,
        per_comm,
        totals,
        cfg,
        crs=crs,
        seconds=time.perf_counter() - t_all,
        bound_flags=bound_flags,
    )


def _community_polygon(geom: shapely.Geometry, cid: str) -> Polygon:
    if geom is None or geom.is_empty:
        msg = f"communities: community {cid} has an empty geometry; draw its boundary"
        raise DataError(msg)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    if not parts:
        msg = f"communities: community {cid} is not a polygon"
        raise DataError(msg)
    if len(parts) > 1:
        msg = (
            f"communities: community {cid} has {len(parts)} separate parts; grids tile one "
            "polygon each; split it into several communities"
        )
        raise DataError(msg)
    return parts[0]


def _empty_grids(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "grid_id": pd.Series([], dtype=object),
            "community_id": pd.Series([], dtype=object),
            "households": pd.Series([], dtype="int64"),
            "population": pd.Series([], dtype=float),
            "n_buildings": pd.Series([], dtype="int64"),
        },
        geometry=gpd.GeoSeries([], crs=crs),
        crs=crs,
    )


def _assemble(
    buildings: gpd.GeoDataFrame,
    grid_rows: list[dict[str, Any]],
    node_grid_parts: list[pd.DataFrame],
    flags: list[str],
    per_comm: dict[str, Any],
    totals: dict[str, int],
    cfg: Config,
    *,
    crs: Any,
    seconds: float,
    bound_flags: list[str],
) -> PartitionResult:
    """Buildings with grid ids, building parts, grids frame, overall metrics, strict check."""
    out_b = buildings.copy()
    if node_grid_parts:
        parts = pd.concat(node_grid_parts, ignore_index=True)
        agg = parts.groupby(["row", "grid_id"], sort=True, as_index=False)[
            ["households", "nodes"]
        ].sum()
        agg = agg.sort_values(
            ["row", "households", "nodes", "grid_id"], ascending=[True, False, False, True]
        )
        main = agg.drop_duplicates("row", keep="first").set_index("row")["grid_id"]
        grid_col = pd.Series(main.reindex(range(len(buildings))).to_numpy(), index=buildings.index)
        bid = buildings["building_id"].astype(str).to_numpy()
        tot = buildings["households"].fillna(0).astype("int64").to_numpy()
        bp = pd.DataFrame(
            {
                "building_id": bid[agg["row"].to_numpy()],
                "grid_id": agg["grid_id"].to_numpy(),
                "households": agg["households"].to_numpy().astype("int64"),
            }
        )
        denom = tot[agg["row"].to_numpy()]
        bp["share"] = np.where(denom > 0, bp["households"] / np.maximum(denom, 1), 1.0)
        bp = bp.sort_values(["building_id", "grid_id"], kind="stable").reset_index(drop=True)
    else:
        grid_col = pd.Series([None] * len(buildings), index=buildings.index, dtype=object)
        bp = pd.DataFrame({"building_id": [], "grid_id": [], "households": [], "share": []}).astype(
            {"households": "int64", "share": float}
        )
    out_b["grid_id"] = grid_col.astype(object)
    if grid_rows:
        grids = gpd.GeoDataFrame(grid_rows, geometry="geometry", crs=crs)
        nb = out_b["grid_id"].value_counts()
        grids["n_buildings"] = grids["grid_id"].map(nb).fillna(0).astype("int64")
        grids = grids[
            ["grid_id", "community_id", "households", "population", "n_buildings", "geometry"]
        ]
        grids["households"] = grids["households"].astype("int64")
        grids = grids.sort_values("grid_id", kind="stable").reset_index(drop=True)
    else:
        grids = _empty_grids(crs)
    contiguous = all(m["contiguity_ok"] for m in per_comm.values())
    metrics = _metrics(
        grids,
        cfg,
        cut_edges=totals["cut"],
        edges=totals["edges"],
        faces=totals["faces"],
        merged=totals["merged"],
        contiguous=contiguous,
        seconds=seconds,
    )
    metrics["communities"] = per_comm
    metrics["target_households"] = cfg.grids.target_households
    metrics["bounds"] = [cfg.grids.min_households, cfg.grids.max_households]
    metrics["flags"] = len(flags)
    metrics["grids_out_of_bounds"] = len(bound_flags)
    if cfg.grids.strict and bound_flags:
        msg = "grids out of bounds (grids.strict is on): " + " ".join(bound_flags)
        raise InfeasibleError(msg)
    return PartitionResult(
        grids=grids, buildings=out_b, metrics=metrics, flags=flags, building_parts=bp
    )
