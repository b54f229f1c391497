"""Grids: the search that splits one face graph into balanced, contiguous regions.

Recursive bisection gives the first split (:func:`_initial_labels`, or
:func:`_initial_from_homes` when re-planning), then the local search :class:`_Search` improves
it: boundary moves, recombination of neighbouring grids along spanning-tree cuts, and chains of
transfers. :func:`partition_face` runs the whole of it; the algorithm is described in
:mod:`gridplan.partition`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gridplan.adjacency import connected_components

__all__ = ["match_homes", "partition_face"]

log = logging.getLogger(__name__)

_COMPOUND_CUT_FACTOR = 3.0  # cutting inside a compound costs this many times more
_BAND = 0.05  # share of the target beyond which deviation is penalised extra
_GOAL = 0.10  # share of the target within which every grid should be (issue 9)
RESTARTS = 6  # extra local-search attempts for a face left with grids beyond _GOAL
_RESTART_MAX_GRIDS = 30  # ... when it has at most this many grids (each attempt costs a full run)
_MU = 3.0  # weight of the cut boundary against balance (tuned on the 70 × 70 lattice)


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
    #: ``nbc[a][b]``: adjacencies between grids ``a`` and ``b`` (kept up to date by :meth:`move`)
    nbc: list[dict[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lab = [int(x) for x in self.labels]
        self.wl = [int(x) for x in self.w]
        self.weights = [0.0] * self.k
        self.members = [set() for _ in range(self.k)]
        for v, r in enumerate(self.lab):
            self.weights[r] += self.wl[v]
            self.members[r].add(v)
        self.nbc = [{} for _ in range(self.k)]
        lab = self.lab
        for v, us in enumerate(self.adj):
            a = lab[v]
            row = self.nbc[a]
            for u in us:
                b = lab[u]
                if b != a:
                    row[b] = row.get(b, 0) + 1
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
        lab = self.lab
        a = lab[v]
        self.weights[a] -= self.wl[v]
        self.weights[b] += self.wl[v]
        self.members[a].discard(v)
        self.members[b].add(v)
        nbc = self.nbc
        for u in self.adj[v]:
            c = lab[u]
            if c != a:  # the edge v-u no longer joins a and c
                for x, y in ((a, c), (c, a)):
                    left = nbc[x][y] - 1
                    if left:
                        nbc[x][y] = left
                    else:
                        del nbc[x][y]
            if c != b:  # it now joins b and c
                nbc[b][c] = nbc[b].get(c, 0) + 1
                nbc[c][b] = nbc[c].get(b, 0) + 1
        lab[v] = b

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
        ei = [e[0] for e in ledges]
        ej = [e[1] for e in ledges]
        for _ in range(trees):
            tadj = _random_tree(m, ei, ej, rng.random(ne))
            if tadj is None:
                return False  # the union is not connected (cannot happen for neighbours)
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
        nb = self.nbc
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

    def resplit(
        self,
        group: Sequence[int],
        rng: np.random.Generator,
        trees: int = 20,
        *,
        pieces: int | None = None,
    ) -> bool:
        """Merge the grids of ``group`` and cut their union into as many along a spanning tree.

        The generalisation of :meth:`recombine` to three or more grids: coarse buildings (a
        few towers) often cannot be balanced between two grids but can among three or four.
        Each tree is cut recursively, each cut separating a subtree whose households best fit
        a whole number of grids of the target; every piece of a tree is connected. The best
        cut plan is kept when it lowers balance penalty + μ · cut boundary. With ``pieces``
        fewer than the grids of ``group``, the union is cut into that many and the grids left
        without a node are empty (:meth:`shrink_pass`).
        """
        kk = len(group) if pieces is None else pieces
        nodes = sorted(set().union(*(self.members[r] for r in group)))
        m = len(nodes)
        if kk < 1 or m < kk or m > 800 or (kk == 1 and len(group) == 1):
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
        old = [self.lab[v] for v in nodes]
        cur_cut = sum(c for i, j, c in ledges if old[i] != old[j])
        best_val = sum(self.pen(self.weights[r]) for r in group) + self.mu * cur_cut - 1e-9
        best: list[int] | None = None
        if kk == 1:  # neighbours merged into one grid: no cut at all
            if self.pen(float(sum(wl))) >= best_val:
                return False
            trees = 0
            best = [0] * m
        T = self.target
        ei = [e[0] for e in ledges]
        ej = [e[1] for e in ledges]
        for _ in range(trees):
            tadj = _random_tree(m, ei, ej, rng.random(len(ledges)))
            if tadj is None:
                return False  # the union is not connected (cannot happen for neighbours)
            piece = [0] * m
            par = [-1] * m
            n_pieces = 1
            stack = [(0, kk, 0)]  # (root, grids, piece id)
            ok = True
            while stack:
                root, k_here, pid = stack.pop()
                if k_here == 1:
                    continue
                # subtree sums within the current piece (a tree: every neighbour of a node
                # but its parent is its child)
                par[root] = -1
                order = [root]
                for x in order:
                    px = par[x]
                    for y in tadj[x]:
                        if y != px and piece[y] == pid:
                            par[y] = x
                            order.append(y)
                sub = wl[:]
                for x in reversed(order[1:]):
                    sub[par[x]] += sub[x]
                tot = sub[root]
                cut_at, cut_j, cut_score = -1, 0, math.inf
                for x in order[1:]:
                    sx = sub[x]
                    j = min(max(round(sx * k_here / tot) if tot > 0 else 1, 1), k_here - 1)
                    score = max(abs(sx / j - T), abs((tot - sx) / (k_here - j) - T))
                    if score < cut_score:
                        cut_at, cut_j, cut_score = x, j, score
                if cut_at < 0:
                    ok = False
                    break
                new_id = n_pieces
                n_pieces += 1
                todo = [cut_at]
                piece[cut_at] = new_id
                while todo:
                    x = todo.pop()
                    px = par[x]
                    for y in tadj[x]:
                        if y != px and piece[y] == pid:
                            piece[y] = new_id
                            todo.append(y)
                stack.append((cut_at, cut_j, new_id))
                stack.append((root, k_here - cut_j, pid))
            if not ok or n_pieces != kk:
                continue
            pw = [0.0] * kk
            for i in range(m):
                pw[piece[i]] += wl[i]
            val = sum(self.pen(x) for x in pw)
            if val >= best_val:
                continue
            val += self.mu * sum(c for i, j, c in ledges if piece[i] != piece[j])
            if val < best_val:
                best_val, best = val, piece[:]
        if best is None:
            return False
        # pieces to grids: most shared households first, so that few households change grid
        share: dict[tuple[int, int], int] = {}
        for i in range(m):
            key = (best[i], old[i])
            share[key] = share.get(key, 0) + wl[i]
        label_of: dict[int, int] = {}
        used: set[int] = set()
        for (p, r), _h in sorted(share.items(), key=lambda kv: (-kv[1], kv[0])):
            if p not in label_of and r not in used:
                label_of[p] = r
                used.add(r)
        spare = [r for r in sorted(group) if r not in used]
        for p in range(kk):
            if p not in label_of:
                label_of[p] = spare.pop(0)
        for i, v in enumerate(nodes):
            if self.lab[v] != label_of[best[i]]:
                self.move(v, label_of[best[i]])
        return True

    def resplit_pass(self, rng: np.random.Generator, deadline: float, limit: float) -> int:
        """Re-split each grid deviating more than ``limit`` with two or all of its neighbours."""
        done = 0
        bad = [
            r
            for r in range(self.k)
            if abs(self.weights[r] - self.target) > limit and self.members[r]
        ]
        bad.sort(key=lambda r: (-abs(self.weights[r] - self.target), r))
        for r in bad:
            if time.perf_counter() > deadline:
                break
            dev = self.weights[r] - self.target
            if abs(dev) <= limit:
                continue  # fixed by an earlier re-split
            nb = sorted(self.nbc[r])
            # neighbours on the other side of the target first
            nb.sort(key=lambda q: ((self.weights[q] - self.target) * dev, q))
            groups = [[r, a, b] for a, b in itertools.combinations(nb[:4], 2)]
            if 3 < len(nb) + 1 <= 6:
                groups.append([r, *nb])
            for grp in groups:
                if self.resplit(grp, rng):
                    done += 1
                    break
        return done

    def shrink_pass(self, rng: np.random.Generator, deadline: float) -> int:
        """Give up a grid where too many grids share too few households.

        Each grid below ``low`` is merged with one or two neighbours and their union cut into
        one grid fewer (:meth:`resplit` with ``pieces``), when that lowers the penalty: a few
        big buildings can leave a cluster of grids that no boundary move can fill (seven grids
        around 2 000 households), while the face as a whole is balanced. The grid left empty
        is dropped from the face.
        """
        done = 0
        low = [r for r in range(self.k) if self.members[r] and self.weights[r] < self.low]
        low.sort(key=lambda r: (self.weights[r], r))
        for r in low:
            if time.perf_counter() > deadline:
                break
            if not self.members[r] or self.weights[r] >= self.low:
                continue
            nb = sorted(self.nbc[r], key=lambda q: (self.weights[q], q))
            groups = [[r, a] for a in nb[:4]]
            groups += [[r, a, b] for a, b in itertools.combinations(nb[:4], 2)]
            for grp in groups:
                if self.resplit(grp, rng, pieces=len(grp) - 1):
                    done += 1
                    break
        return done

    def region_graph(self) -> list[set[int]]:
        """The neighbouring grids of each grid (a snapshot)."""
        return [set(row) for row in self.nbc]

    def worst(self) -> float:
        """The largest deviation of a grid from the target (households)."""
        return max(abs(x - self.target) for r, x in enumerate(self.weights) if self.members[r])

    def total(self) -> float:
        return sum(self.pen(x) for r, x in enumerate(self.weights) if self.members[r])

    def quality(self) -> tuple[float, int, float]:
        """Worst deviation, grids beyond ±10 %, objective (penalty + μ · cut): lower is better."""
        dev = [abs(x - self.target) for r, x in enumerate(self.weights) if self.members[r]]
        cut = sum(
            c
            for v, (us, cs) in enumerate(zip(self.adj, self.cost, strict=True))
            for u, c in zip(us, cs, strict=True)
            if u > v and self.lab[u] != self.lab[v]
        )
        out = sum(d > _GOAL * self.target for d in dev)
        return max(dev), out, self.total() + self.mu * cut

    def chain_pass(self, deadline: float) -> int:
        """Shift households along chains of grids from the worst grids towards the others."""
        improved = 0
        tol = self.band
        dev = [x - self.target for x in self.weights]
        worst = sorted(
            (r for r in range(self.k) if self.members[r]), key=lambda r: (-abs(dev[r]), r)
        )
        for r0 in worst:
            if time.perf_counter() > deadline:
                break
            d0 = self.weights[r0] - self.target
            if abs(d0) <= tol * 0.5:
                break
            if self._chain_from(r0, d0 > 0, self.nbc):
                improved += 1
        return improved

    def _chain_from(self, r0: int, surplus: bool, nb: Sequence[dict[int, int]]) -> bool:
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
        before = sum(self.pen(self.weights[r]) for r in path)  # only the path's grids change
        done: list[tuple[int, int]] = []
        for a, b in itertools.pairwise(path):
            v = self._pick_transfer(a, b, amount)
            if v < 0:
                break
            done.append((v, a))
            self.move(v, b)
        after = sum(self.pen(self.weights[r]) for r in path)
        if len(done) == len(path) - 1 and after < before - 1e-9:
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
    if not free or float(w[free].sum()) <= 0:
        # more grids are needed than there are old grids, and no new buildings to make them
        # of (an old grid that outgrew its bounds): split everything afresh; the anchors then
        # keep each old grid's households in the region holding most of them
        return _initial_labels(n, k, xy, w, adj)
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


def _random_tree(m: int, ei: list[int], ej: list[int], keys: np.ndarray) -> list[list[int]] | None:
    """The minimum spanning tree of edges ``(ei, ej)`` under random ``keys`` (Kruskal).

    Returns the tree as adjacency lists, each in the order its edges joined the tree, or
    ``None`` when the ``m`` nodes are not connected.
    """
    parent = list(range(m))
    tadj: list[list[int]] = [[] for _ in range(m)]
    need = m - 1
    joined = 0
    if need <= 0:
        return tadj
    for e in np.argsort(keys).tolist():
        i = ei[e]
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        j = ej[e]
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = parent[j]
        if i != j:
            parent[i] = j
            a, b = ei[e], ej[e]
            tadj[a].append(b)
            tadj[b].append(a)
            joined += 1
            if joined == need:  # every later edge closes a cycle
                return tadj
    return None


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
    restarts: int = RESTARTS,
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
    restarts
        Extra attempts of the local search (other visiting orders and trees) while some grid
        is beyond ±10 % of the target; the best attempt is kept (not when re-planning, nor
        for faces of more than 30 grids, where each attempt is expensive).

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

    def attempt(rng: np.random.Generator) -> _Search:
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
        improve(search, rng, deadline, rounds)
        return search

    best = attempt(np.random.default_rng(seed))
    if anchor is None and initial is None and k <= _RESTART_MAX_GRIDS:
        # grids still beyond ±10 %: a few more attempts (other visiting orders and trees),
        # keeping the best; the first attempt alone decides when the time runs out
        best_key = best.quality()
        for extra in range(1, restarts + 1):
            if best_key[0] <= _GOAL * target or time.perf_counter() > deadline:
                break
            other = attempt(np.random.default_rng([seed, extra]))
            key = other.quality()
            if key < best_key:
                best, best_key = other, key
    # a grid given up by the shrink pass leaves its label unused: number the others densely
    _, dense = np.unique(np.asarray(best.lab, dtype=np.int64), return_inverse=True)
    return np.asarray(dense, dtype=np.int64)


def improve(search: _Search, rng: np.random.Generator, deadline: float, rounds: int) -> None:
    """The local search: boundary moves, rounds of recombination and chains, re-splits."""
    target = search.target
    order = [int(v) for v in rng.permutation(len(search.lab))]
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
            search.worst(),
        )
        after = search.total()
        worst = search.worst()
        gain = before - after
        if gain <= 0.03 * before or (worst <= 0.025 * target and gain <= 0.1 * before):
            break
    if search.anchor is None and search.k > 2:
        # grids beyond ±10 %: re-split them with their neighbours (three or more grids)
        for _ in range(rounds):
            if time.perf_counter() > deadline:
                break
            worst = search.worst()
            if worst <= _GOAL * target:
                break
            if not search.resplit_pass(rng, deadline, _GOAL * target):
                break
            search.descend(order, deadline)
            search.chain_pass(deadline)
        # grids still below the minimum: one grid fewer among them and their neighbours
        for _ in range(rounds):
            if time.perf_counter() > deadline or not search.shrink_pass(rng, deadline):
                break
            search.descend(order, deadline)
            search.chain_pass(deadline)
            search.resplit_pass(rng, deadline, _GOAL * target)
