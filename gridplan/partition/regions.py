"""Grids: nodes, faces, counts, regions and their territories, and grid codes.

One area (a community, or a patch being re-planned) is cut into faces along its barriers,
its buildings become nodes with Voronoi cells, each face group gets a number of grids and is
split by :func:`gridplan.partition.search.partition_face`; the regions' cells become the
grids' territories, which tile the area. The algorithm is described in
:mod:`gridplan.partition`.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import Polygon

from gridplan._errors import DataError
from gridplan.adjacency import (
    cell_graph,
    connected_components,
    face_neighbours,
    glue,
    on_grid,
    shared_length,
    split_faces,
)
from gridplan.land import land_area, water_area
from gridplan.partition.search import RESTARTS, partition_face
from gridplan.settings import WATER_KINDS, Config

__all__ = [
    "AreaPlan",
    "Nodes",
    "Region",
    "assign_faces",
    "choose_count",
    "community_land",
    "community_polygon",
    "face_groups",
    "group_sizes_allow",
    "make_nodes",
    "number_regions",
    "plan_area",
    "sizes_allow",
    "unary",
    "without_water",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- nodes


@dataclass
class Nodes:
    """Nodes of one community: buildings, or parts of buildings above ``max_households``."""

    xy: np.ndarray  # (n, 2)
    w: np.ndarray  # households, int64
    pop: np.ndarray  # population, float
    bidx: np.ndarray  # row position of the building in the community's buildings
    compound: np.ndarray  # compound code, -1 when none
    #: where a part of a building above ``max_households`` lies: its entrance (1-based) and
    #: floors; 0 for a whole building, or when the building's entrances (floors) are unknown
    entrance: np.ndarray | None = None
    floor_from: np.ndarray | None = None
    floor_to: np.ndarray | None = None

    def subset(self, sel: np.ndarray) -> Nodes:
        """The nodes at positions ``sel``."""
        return Nodes(
            xy=self.xy[sel],
            w=self.w[sel],
            pop=self.pop[sel],
            bidx=self.bidx[sel],
            compound=self.compound[sel],
            entrance=None if self.entrance is None else self.entrance[sel],
            floor_from=None if self.floor_from is None else self.floor_from[sel],
            floor_to=None if self.floor_to is None else self.floor_to[sel],
        )

    def place(self, sel: np.ndarray) -> dict[str, np.ndarray]:
        """Entrance and floor columns of the nodes at ``sel`` (0: whole building or unknown)."""
        zero = np.zeros(len(sel), dtype=np.int64)
        return {
            "entrance": zero if self.entrance is None else self.entrance[sel],
            "floor_from": zero if self.floor_from is None else self.floor_from[sel],
            "floor_to": zero if self.floor_to is None else self.floor_to[sel],
        }


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


def _floor_counts(floors: int, households: int) -> list[int]:
    """Households per floor of one entrance, as even as whole numbers allow (ground first)."""
    return [(i + 1) * households // floors - i * households // floors for i in range(floors)]


def _building_floors(buildings: gpd.GeoDataFrame, cfg: Config) -> np.ndarray:
    """Floors of each building: ``floors``, else ``height / floor_height_m``; 0 when unknown."""
    n = len(buildings)
    fl = (
        pd.to_numeric(buildings["floors"], errors="coerce").to_numpy(dtype=float)
        if "floors" in buildings
        else np.full(n, np.nan)
    )
    if "height" in buildings:
        h = pd.to_numeric(buildings["height"], errors="coerce").to_numpy(dtype=float)
        from_h = np.where(
            h > 0, np.maximum(1.0, np.round(h / cfg.households.floor_height_m)), np.nan
        )
        fl = np.where(np.isfinite(fl) & (fl > 0), fl, from_h)
    return np.where(np.isfinite(fl) & (fl > 0), np.round(fl), 0).astype(np.int64)


def make_nodes(buildings: gpd.GeoDataFrame, cfg: Config) -> Nodes:
    """The nodes of a community: one per building, several per building above ``max_households``.

    A building holding more households than ``grids.max_households`` is split by entrance
    (``entrances``), then each entrance from the ground floor up into parts of at most a
    quarter of the target; each part knows its entrance and floors (floors from ``floors``,
    else ``height / households.floor_height_m``), so a grid holding it can say which.
    """
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
    big = np.flatnonzero(hh > mx)
    floors = _building_floors(buildings.iloc[big], cfg) if len(big) else np.zeros(0, np.int64)
    floors_of = dict(zip(big.tolist(), floors.tolist(), strict=True))
    piece = max(1, cfg.grids.target_households // 4)
    n = len(buildings)
    xy: list[np.ndarray] = [anchor]
    w = [hh]
    pop = [popv]
    bidx = [np.arange(n, dtype=np.int64)]
    comp = [np.asarray(codes, dtype=np.int64)]
    place = [np.zeros((n, 3), dtype=np.int64)]
    keep = np.ones(n, dtype=bool)
    for i in big.tolist():
        keep[i] = False
        h = int(hh[i])
        known = not np.isnan(ent[i]) and ent[i] >= 1
        e = int(ent[i]) if known else 1
        nf = int(floors_of[i])
        counts: list[int] = []
        rows: list[tuple[int, int, int]] = []
        for k, c in enumerate(_split_counts(h, e), start=1):
            per_floor = _floor_counts(nf, c) if nf > 0 else []
            floor_of = np.repeat(np.arange(1, nf + 1), per_floor) if nf > 0 else None
            start = 0
            for size in _split_counts(c, max(1, math.ceil(c / piece))):
                if size <= 0:
                    continue
                counts.append(size)
                f0 = int(floor_of[start]) if floor_of is not None else 0
                f1 = int(floor_of[start + size - 1]) if floor_of is not None else 0
                rows.append((k if known else 0, f0, f1))
                start += size
        pts = _part_points(geoms[i], anchor[i], len(counts))
        xy.append(pts)
        w.append(np.asarray(counts, dtype=np.int64))
        pop.append(np.asarray([popv[i] * c / h for c in counts], dtype=float))
        bidx.append(np.full(len(counts), i, dtype=np.int64))
        comp.append(np.full(len(counts), codes[i], dtype=np.int64))
        place.append(np.asarray(rows, dtype=np.int64).reshape(-1, 3))
    # whole buildings first would reorder nodes: keep the building order (parts in place)
    order_key = np.concatenate([b for b in bidx])
    kept_first = np.concatenate([keep[bidx[0]], *[np.zeros(len(b), dtype=bool) for b in bidx[1:]]])
    sel = kept_first | (np.arange(len(order_key)) >= n)
    order = np.flatnonzero(sel)[np.argsort(order_key[sel], kind="stable")]
    all_place = np.vstack(place)[order]
    return Nodes(
        xy=np.vstack(xy)[order] if n else np.zeros((0, 2)),
        w=np.concatenate(w)[order] if n else np.zeros(0, np.int64),
        pop=np.concatenate(pop)[order] if n else np.zeros(0),
        bidx=order_key[order] if n else np.zeros(0, np.int64),
        compound=np.concatenate(comp)[order] if n else np.zeros(0, np.int64),
        entrance=all_place[:, 0],
        floor_from=all_place[:, 1],
        floor_to=all_place[:, 2],
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


def _band(target: float, tolerance: float) -> tuple[int, int]:
    """Integer households ``[lo, hi]`` within ``± tolerance`` of ``target``."""
    return math.ceil(target * (1 - tolerance) - 1e-9), math.floor(target * (1 + tolerance) + 1e-9)


def _pack(items: list[int], k: int, lo: int, hi: int) -> bool:
    """Try to pack ``items`` into ``k`` bins each holding ``lo..hi`` (greedy, then repair).

    Largest item first into the lightest bin, then up to ``8 k`` repairs between the heaviest
    and the lightest bin (move one item, or swap two, towards equal loads). ``True`` proves
    that a packing exists; ``False`` proves nothing.
    """
    loads = [0] * k
    bins: list[list[int]] = [[] for _ in range(k)]
    heap = [(0, b) for b in range(k)]
    for x in sorted(items, reverse=True):
        load, b = heapq.heappop(heap)
        bins[b].append(x)
        loads[b] = load + x
        heapq.heappush(heap, (loads[b], b))
    for _ in range(8 * k + 8):
        a = max(range(k), key=lambda i: (loads[i], -i))
        b = min(range(k), key=lambda i: (loads[i], i))
        if loads[a] <= hi and loads[b] >= lo:
            return True
        gap = loads[a] - loads[b]
        best, best_err = None, gap  # (index in a, index in b or -1)
        for i, x in enumerate(bins[a]):
            if 0 < x < gap and abs(gap - 2 * x) < best_err:
                best, best_err = (i, -1), abs(gap - 2 * x)
        small_b = sorted(set(bins[b]))
        for i, x in enumerate(bins[a]):
            # swap x (from a) with y (from b): a loses x - y; best when x - y ≈ gap / 2
            want = x - gap / 2
            j = bisect.bisect_left(small_b, want)
            for y in small_b[max(0, j - 1) : j + 1]:
                d = x - y
                if 0 < d < gap and abs(gap - 2 * d) < best_err:
                    best, best_err = (i, bins[b].index(y)), abs(gap - 2 * d)
        if best is None:
            return False
        i, j = best
        x = bins[a].pop(i)
        bins[b].append(x)
        loads[a] -= x
        loads[b] += x
        if j >= 0:
            y = bins[b].pop(j)
            bins[a].append(y)
            loads[b] -= y
            loads[a] += y
    return min(loads) >= lo and max(loads) <= hi


def _search_pack(items: list[int], k: int, lo: int, hi: int, budget: int) -> bool | None:
    """Exact depth-first packing (largest item first, bins of equal load tried once).

    ``True``/``False`` when decided within ``budget`` steps, else ``None``.
    """
    xs = sorted(items, reverse=True)
    rest = [0] * (len(xs) + 1)
    for i in range(len(xs) - 1, -1, -1):
        rest[i] = rest[i + 1] + xs[i]
    loads = [0] * k
    steps = 0

    def go(i: int) -> bool | None:
        nonlocal steps
        steps += 1
        if steps > budget:
            return None
        if i == len(xs):
            return min(loads) >= lo
        need = sum(max(0, lo - x) for x in loads)
        room = sum(hi - x for x in loads)
        if rest[i] < need or rest[i] > room:
            return False
        x = xs[i]
        tried: set[int] = set()
        for b in range(k):
            if loads[b] in tried or loads[b] + x > hi:
                continue
            tried.add(loads[b])
            loads[b] += x
            r = go(i + 1)
            loads[b] -= x
            if r is not False:
                return r
        return False

    return go(0)


def _glue_enclosed(households: np.ndarray, edges: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Node households after gluing each node that can only share its grid with one other.

    A node with a single neighbour whose households alone are outside ``[lo, hi]`` must be in
    its neighbour's grid for that grid to be within ``[lo, hi]`` (a grid is connected); it is
    added to the neighbour, repeatedly (the neighbour may become such a node in turn).
    """
    w = [int(x) for x in households.tolist()]
    nbrs: list[set[int]] = [set() for _ in w]
    for i, j in edges.tolist():
        if i != j:
            nbrs[i].add(j)
            nbrs[j].add(i)
    alive = [True] * len(w)
    todo = sorted(range(len(w)), reverse=True)
    while todo:
        v = todo.pop()
        if not alive[v] or len(nbrs[v]) != 1 or w[v] == 0 or lo <= w[v] <= hi:
            continue
        (u,) = nbrs[v]
        w[u] += w[v]
        alive[v] = False
        nbrs[u].discard(v)
        todo.append(u)
    return np.array([x for x, a in zip(w, alive, strict=True) if a], dtype=np.int64)


def sizes_allow(
    households: np.ndarray,
    k: int,
    target: float,
    *,
    tolerance: float = 0.1,
    edges: np.ndarray | None = None,
) -> bool | None:
    """Whether ``k`` grids within ``± tolerance`` of ``target`` can be made of these nodes.

    Nodes (buildings, or the parts of a building above ``max_households``) are indivisible;
    where they lie is ignored, so ``True`` is the weakest excuse: a grid of a face where this
    is ``True`` but that deviates more than the tolerance is a weakness of the search, not of
    the building sizes. With ``edges`` (the face's adjacency), one piece of geography is
    used: a node adjacent to a single other node (a tower enclosed by its neighbour's cell)
    and too small or too large for a grid alone counts as one node with that neighbour.

    Returns
    -------
    bool or None
        ``True`` when a packing was found, ``False`` when none exists (the total is out of
        reach of ``k`` grids, a node alone exceeds the band, or no subset of the nodes can
        form ``j`` of the grids for some ``j < k``: a subset-sum check, or an exhaustive
        search of at most 20 000 steps finds no packing), ``None`` when none of this decides.

    Examples
    --------
    >>> sizes_allow(np.array([300, 250, 150, 100]), 2, 400)
    True
    >>> sizes_allow(np.array([450, 350]), 2, 400)
    False
    """
    lo, hi = _band(target, tolerance)
    if edges is not None and len(edges):
        households = _glue_enclosed(households, edges, lo, hi)
    items = [int(x) for x in households.tolist() if x > 0]
    total = sum(items)
    if k < 1 or total < k * lo or total > k * hi or (items and max(items) > hi):
        return False
    if _pack(items, k, lo, hi):
        return True
    reach = 1  # bit s set: some subset of the nodes holds s households
    for x in items:
        reach |= reach << x
    for j in range(1, k):
        a = max(j * lo, total - (k - j) * hi)
        b = min(j * hi, total - (k - j) * lo)
        if a > b or (reach >> a) & ((1 << (b - a + 1)) - 1) == 0:
            return False
    return _search_pack(items, k, lo, hi, budget=20_000)


# --------------------------------------------------------------------------- area planning


@dataclass
class Region:
    nodes: np.ndarray  # node indices (community level)
    geometry: Polygon
    group: int  # face group index
    feasible: bool  # the face group's count can meet the bounds


@dataclass
class AreaPlan:
    regions: list[Region]
    flags: list[str]
    faces: int
    faces_merged: int
    cut_edges: int
    edges: int
    largest_node: dict[int, int]
    group_households: dict[int, int]
    group_count: dict[int, int]
    where: str
    #: per face group: can its nodes make its grids within ±10 % (:func:`sizes_allow`)
    group_sizes_allow: dict[int, bool | None] = field(default_factory=dict)


def assign_faces(faces: Sequence[Polygon], xy: np.ndarray) -> np.ndarray:
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


def _fmt_xy(geom: shapely.Geometry, crs: CRS | None = None) -> str:
    """Where ``geom`` is, for a message: in lon/lat when the CRS is known (the internal UTM
    metres mean nothing to a user), else in the layer's own coordinates."""
    c = geom.representative_point()
    if crs is not None:
        lon, lat = _to_lonlat(CRS.from_user_input(crs).to_wkt()).transform(c.x, c.y)
        return f"(lon {lon:.5f}, lat {lat:.5f})"
    return f"({c.x:.0f}, {c.y:.0f})"


@lru_cache(maxsize=8)
def _to_lonlat(wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(wkt), "EPSG:4326", always_xy=True)


def face_groups(
    area: Polygon,
    xy: np.ndarray,
    w: np.ndarray,
    lines: gpd.GeoDataFrame,
    lo: int,
    where: str,
    *,
    crs: CRS | None = None,
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
    faces = split_faces(area, list(lines.geometry.array) if len(lines) else [], where=where)
    face_of = assign_faces(faces, xy) if len(nodes_w) else np.zeros(0, dtype=np.int64)
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
                    f"{where}: the face at {_fmt_xy(unary(faces, groups[r]), crs)} holds "
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


def plan_area(
    area: Polygon,
    nodes: Nodes,
    lines: gpd.GeoDataFrame,
    cfg: Config,
    *,
    seed: int,
    deadline: float,
    where: str,
    home: np.ndarray | None = None,
    anchor_cost: float = 0.0,
    crs: CRS | None = None,
    fixed: np.ndarray | None = None,
) -> AreaPlan:
    """Faces, merges, cells and regions of one area (a community, or a re-planned patch).

    ``fixed``: a region label per node, taken as it is instead of searched (a planner's hand
    edits redrawn): each label's nodes behind one set of barriers make one region; a label
    whose nodes lie behind several makes one region per face group.
    """
    area = on_grid(area)  # faces are cut on a fixed grid; the regions tile the same polygon
    g = cfg.grids
    T, lo, hi = g.target_households, g.min_households, g.max_households
    faces, face_of, group_list, flags, merged = face_groups(
        area, nodes.xy, nodes.w, lines, lo, where, crs=crs
    )
    nf = len(faces)
    regions: list[Region] = []
    empty_polys: list[Polygon] = []
    cut_edges = 0
    n_edges = 0
    largest: dict[int, int] = {}
    g_households: dict[int, int] = {}
    g_count: dict[int, int] = {}
    g_allow: dict[int, bool | None] = {}
    for gi, fs in enumerate(group_list):
        poly = unary(faces, fs)
        member_mask = np.isin(face_of, fs)
        idx = np.flatnonzero(member_mask)
        if len(idx) == 0:
            empty_polys.extend(p for p in shapely.get_parts(poly) if p.area > 0)
            continue
        parts = [p for p in shapely.get_parts(poly) if p.area > 0]
        if len(parts) > 1:  # merged faces share boundaries: never seen, but say so if it is
            poly = max(parts, key=lambda p: p.area)
            empty_polys.extend(p for p in parts if p is not poly)
            log.warning(
                "%s: merged faces at %s came apart in %d pieces; buildings outside the largest "
                "are moved into it, across a barrier",
                where,
                _fmt_xy(poly, crs),
                len(parts),
            )
        cells, edges, lengths = cell_graph(poly, nodes.xy[idx])
        edges, lengths = bridge_components(nodes.xy[idx], edges, lengths)
        w = nodes.w[idx]
        H = int(w.sum())
        k, feasible = choose_count(H, T, lo, hi)
        k = max(1, min(k, int((w > 0).sum()) or 1))
        allow = sizes_allow(w, k, float(T), edges=edges)
        if fixed is not None:
            labels = _fixed_labels(fixed[idx], edges, len(idx))
        else:
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
                restarts=0 if allow is False else RESTARTS,
            )
        n_edges += len(edges)
        if len(edges):
            cut_edges += int((labels[edges[:, 0]] != labels[edges[:, 1]]).sum())
        largest[gi] = int(w.max()) if len(w) else 0
        g_households[gi] = H
        g_count[gi] = k
        made = int(labels.max()) + 1
        g_allow[gi] = allow if made == k else sizes_allow(w, made, float(T), edges=edges)
        cell_arr = np.asarray(cells, dtype=object)
        for r in range(int(labels.max()) + 1):
            sel = np.flatnonzero(labels == r)
            if len(sel) == 0:
                continue
            geom = shapely.union_all(cell_arr[sel])
            regions.append(Region(nodes=idx[sel], geometry=geom, group=gi, feasible=feasible))
    if not regions:  # no building at all: one empty grid covers the area
        regions.append(
            Region(nodes=np.zeros(0, dtype=np.int64), geometry=area, group=0, feasible=False)
        )
        g_households[0] = 0
        g_count[0] = 1
        g_allow[0] = False
        empty_polys = []
    _attach_empty(regions, empty_polys)
    _fill_gaps(regions, area)
    _single_polygons(regions, nodes.xy, crs)
    return AreaPlan(
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
        group_sizes_allow=g_allow,
    )


def _fixed_labels(given: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """Region labels 0… from given labels: one per connected run of cells with one label (a
    label whose cells do not touch makes several regions, each one polygon)."""
    adj: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges.tolist():
        if given[a] == given[b]:
            adj[a].append(b)
            adj[b].append(a)
    out = np.full(n, -1, dtype=np.int64)
    label = 0
    for value in np.unique(given):
        for comp in connected_components(np.flatnonzero(given == value).tolist(), adj):
            out[comp] = label
            label += 1
    return out


def group_sizes_allow(
    faces: Sequence[Polygon],
    face_of: np.ndarray,
    group: Sequence[int],
    nodes: Nodes,
    k: int,
    target: float,
) -> bool | None:
    """:func:`sizes_allow` for ``k`` grids of one face group's nodes, outside :func:`plan_area`.

    The group's polygon (its largest piece, as in :func:`plan_area`) gives the cell adjacency
    that glues enclosed nodes. Used for the kept grids of a re-plan, which are not planned
    again: ``None`` (unproven) when the group holds no node.
    """
    idx = np.flatnonzero(np.isin(face_of, list(group)))
    if len(idx) == 0:
        return None
    poly = unary(faces, list(group))
    parts = [p for p in shapely.get_parts(poly) if p.area > 0]
    if len(parts) > 1:
        poly = max(parts, key=lambda p: p.area)
    _cells, edges, lengths = cell_graph(poly, nodes.xy[idx])
    edges, _lengths = bridge_components(nodes.xy[idx], edges, lengths)
    return sizes_allow(nodes.w[idx], k, float(target), edges=edges)


def bridge_components(
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


def _attach_empty(regions: list[Region], empty: list[Polygon]) -> None:
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
                shared = shared_length(piece, reg.geometry)
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


def _fill_gaps(regions: list[Region], area: Polygon) -> None:
    """Give any part of ``area`` no region covers to its neighbours (safety net for tiling).

    Cells and faces normally tile the area exactly; a face lost to rounding or a cell clipped
    away would leave a hole in the plan, so each such piece goes the way of a building-free
    piece: to the region sharing most boundary with it.
    """
    if not regions:
        return
    covered = shapely.union_all([r.geometry for r in regions])
    gap = shapely.difference(area, covered)
    if gap.is_empty or gap.area <= 1e-6 * max(area.area, 1.0):
        return
    parts = [p for p in shapely.get_parts(gap) if p.geom_type == "Polygon" and p.area > 1e-3]
    _attach_empty(regions, parts)


#: Pieces smaller than this (m²) are overlay dust, not territory.
_DUST_M2 = 1e-3


def _single_polygons(regions: list[Region], xy: np.ndarray, crs: CRS | None = None) -> None:
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
            solid = [p for p in parts if p.area >= _DUST_M2]
            if len(solid) == 1:  # the rest is overlay dust of no area: drop it
                reg.geometry = solid[0]
                continue
            pts = shapely.points(xy[reg.nodes]) if len(reg.nodes) else None
            counts = [int(shapely.covers(p, pts).sum()) if pts is not None else 0 for p in parts]
            main_i = max(range(len(parts)), key=lambda i: (counts[i], parts[i].area))
            reg.geometry = parts[main_i]
            strays.extend((ri, p) for i, p in enumerate(parts) if i != main_i)
        if not strays:
            return
        for ri, piece in strays:
            # the region sharing most boundary with the piece, its own first among equals (a
            # piece can touch its own main part along an edge the union did not close)
            shared = [
                shared_length(piece, reg.geometry) if reg.geometry.intersects(piece) else 0.0
                for reg in regions
            ]
            order = sorted(range(len(regions)), key=lambda rj: (-shared[rj], rj != ri, rj))
            best = order[0] if shared[order[0]] > 1e-6 else -1
            if best < 0:  # touching no region: the nearest one
                dists = [reg.geometry.distance(piece) for reg in regions]
                best = int(np.argmin(dists))
            regions[best].geometry = glue(regions[best].geometry, piece)
            src = regions[ri]
            if best != ri and len(src.nodes):
                inside = shapely.covers(piece, shapely.points(xy[src.nodes]))
                if inside.any() and not inside.all():
                    log.warning(
                        "a grid territory came apart: %d buildings in a detached piece at %s "
                        "join the neighbouring grid, which may lie across a barrier",
                        int(inside.sum()),
                        _fmt_xy(piece, crs),
                    )
                    regions[best].nodes = np.sort(
                        np.concatenate([regions[best].nodes, src.nodes[inside]])
                    )
                    src.nodes = src.nodes[~inside]
    still = [i for i, reg in enumerate(regions) if reg.geometry.geom_type != "Polygon"]
    if still:
        log.warning(
            "%d grid territories are still in several parts after repair (regions %s); "
            "their buildings lie in them, but the territory is not one polygon",
            len(still),
            still[:10],
        )


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


def community_polygon(geom: shapely.Geometry, cid: str) -> Polygon:
    if geom is None or geom.is_empty:
        msg = f"communities: community {cid} has an empty geometry; draw its boundary"
        raise DataError(msg)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    # a polygon made valid (a grid read back from WGS84 may touch itself at a vertex) can shed
    # pieces of no area: dust, not parts
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 1e-3]
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


def community_land(
    area: Polygon, buildings: gpd.GeoDataFrame, barriers: gpd.GeoDataFrame | None
) -> tuple[Polygon, float, int]:
    """The land of a community: its polygon less the water polygons of ``barriers``.

    Parameters
    ----------
    area
        The community polygon (:func:`community_polygon`).
    buildings
        The community's buildings: water within
        :data:`gridplan.settings.WATER_BUILDING_CLEARANCE_M` of one stays land.
    barriers
        The barriers layer (water: polygons of a kind in :data:`gridplan.settings.WATER_KINDS`).

    Returns
    -------
    land, water_m2, dropped
        The land (a MultiPolygon when water cuts the community in several parts, each holding
        buildings), the water area removed (m²) and the number of bare land parts dropped
        (:func:`gridplan.land.land_area`).
    """
    water = water_area(barriers)
    if water.is_empty:
        return area, 0.0, 0
    keep = (
        shapely.get_coordinates(shapely.point_on_surface(np.asarray(buildings.geometry.array)))
        if len(buildings)
        else None
    )
    land, dropped = land_area(area, water, keep=keep)
    return land, float(area.area - land.area), dropped


def without_water(barriers: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``barriers`` less its water polygons (cut out of the land, they cut no faces)."""
    if "kind" not in barriers or not len(barriers):
        return barriers
    kinds = barriers["kind"].astype(str).str.strip().str.lower()
    polys = barriers.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    return barriers[~(kinds.isin(WATER_KINDS) & polys).to_numpy()]
