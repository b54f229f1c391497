"""Communities (社区): a sub-district re-drawn into communities of about 10 000 residents.

The grid engine one level up. A sub-district's buildings are partitioned into communities with
a target and bounds in **residents** (``[communities]`` settings; GB 50180-2018's five-minute
life circle, 5 000 – 12 000 residents): the same faces cut along barrier roads and ``barriers``
lines, water cut out, contiguous and compact regions that tile the land, one polygon each.

Residents of a building: its ``population`` when given, else ``households ×
households.persons_per_household`` (:func:`resident_counts` says which, per building).

Three ways, chosen by what is known of the old plan:

- **Fresh** (no old communities): :func:`gridplan.partition.partition_grids` with the
  sub-district as one community and residents as the weight, then evened out by boundary
  flips (the relief below, with every resident free to move).
- **Re-draw** (old communities): buildings as nodes (territory cells inside the faces cut by
  the barriers); a community within the bounds and behind one set of barriers is kept exactly
  (id and polygon); one a barrier crosses is cut along it (never a community across a
  barrier); the others are relieved by
  :func:`gridplan.partition.communities_relief.relieve`, moving about the residents above the
  upper bound to neighbours with room, or carving one community off when they have none;
  boundary flips then even them out without moving more residents.
  Changed communities are their old polygon less the cells that left, plus those that came.
- **Whole grids** (an old plan's grids): each old grid is one node (its residents now, its
  polygon); grids sharing a boundary are adjacent, face groups cut by today's barriers as for
  buildings. With old communities the same relief as above (a community is then the union of
  whole grids: no grid is cut by a community line); without them each face group is split by
  :func:`gridplan.partition.search.partition_face`.

Codes follow the grid scheme one level up: ``<sub-district id>-NNN``, numbered north→south in
bands, west→east within a band (:func:`gridplan.partition.regions.number_regions`). A new
community matched to an old one (most shared residents) keeps the old id instead, so a re-draw
renames only what changed. The same inputs and seed give the same communities.

Minimal change is measured: ``residents_moved`` (residents of buildings now in a community of
another id) against ``residents_had_to_move``, the larger of the residents that must leave
(those on the minority side of a barrier through their old community, plus those still above
the upper bound) and the residents missing below the lower bound (at most a community's own
residents): no re-draw within the bounds can move fewer.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from gridplan._errors import DataError
from gridplan.adjacency import (
    barrier_lines,
    cell_graph,
    connected_components,
    glue,
    shared_length,
)
from gridplan.partition.communities_relief import relieve
from gridplan.partition.grids import community_seed, partition_grids
from gridplan.partition.regions import (
    assign_faces,
    bridge_components,
    choose_count,
    community_land,
    community_polygon,
    face_groups,
    number_regions,
    unary,
    without_water,
)
from gridplan.partition.replan import heal_detached
from gridplan.partition.search import partition_face
from gridplan.settings import DEFAULT, PRECISION_M, Config

__all__ = [
    "CommunityPlan",
    "moves_floor",
    "redraw_communities",
    "resident_counts",
]

log = logging.getLogger(__name__)

_GRID_ANCHOR = 1.0  # cost of moving one resident of a whole grid to another community, × target


@dataclass(frozen=True)
class CommunityPlan:
    """Communities re-drawn for one sub-district.

    Attributes
    ----------
    communities
        community_id, name, households_total, population_total, n_buildings, n_grids (whole
        grids held; 0 without old grids), old_community_id (the old community most of its
        residents come from, or empty), kept (id and polygon unchanged), geometry.
    buildings
        building_id, community_id (new), old_community_id, residents, residents_source
        (``population`` or ``households``), households; in the order of the input.
    moves
        old_community_id, new_community_id, residents, households, buildings: one row per
        pair with residents moving between different ids.
    metrics
        mode, communities, residents, min/max residents, max_deviation, share_within_bounds,
        residents_moved, residents_had_to_move, residents_over_bounds, residents_short,
        kept_communities, seconds; with old communities also old_communities and the
        moves against their floor (:func:`moves_floor`, with residents_behind_barriers);
        afresh also max_deviation_floor (the least largest deviation the barriers allow).
    flags
        Every constraint given up on (a barrier crossed, a bound missed), naming places and ids.
    """

    communities: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    moves: pd.DataFrame
    metrics: dict[str, Any]
    flags: list[str] = field(default_factory=list)


def resident_counts(buildings: pd.DataFrame, *, config: Config | None = None) -> pd.DataFrame:
    """Residents of each building, and where the figure comes from.

    Parameters
    ----------
    buildings
        Buildings with ``households`` and optionally ``population``.
    config
        ``households.persons_per_household`` converts households where population is missing.

    Returns
    -------
    pandas.DataFrame
        ``residents`` (whole persons) and ``residents_source`` (``"population"`` or
        ``"households"``), on the index of ``buildings``.

    Examples
    --------
    >>> import pandas as pd
    >>> b = pd.DataFrame({"households": [10, 4], "population": [25.0, None]})
    >>> resident_counts(b).values.tolist()
    [[25, 'population'], [10, 'households']]
    """
    cfg = config or DEFAULT
    if "households" in buildings:
        hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0.0).clip(lower=0)
    else:
        hh = pd.Series(0.0, index=buildings.index)
    if "population" in buildings:
        pop = pd.to_numeric(buildings["population"], errors="coerce")
    else:
        pop = pd.Series(np.nan, index=buildings.index)
    given = pop.notna() & (pop >= 0)
    value = np.where(given, pop, hh * cfg.households.persons_per_household)
    return pd.DataFrame(
        {
            "residents": np.round(value).astype(np.int64),
            "residents_source": np.where(given, "population", "households"),
        },
        index=buildings.index,
    )


def _glued(geom: shapely.Geometry) -> tuple[shapely.Geometry, int]:
    """``geom`` with its pieces glued into one polygon where they touch (largest first), and
    how many pieces it had."""
    if geom.geom_type == "Polygon":
        return geom, 1
    parts = sorted(shapely.get_parts(geom), key=lambda p: -p.area)
    merged = parts[0]
    for p in parts[1:]:
        merged = glue(merged, p)
    return merged, len(parts)


def moves_floor(
    residents: dict[str, int], low: int, high: int, behind: dict[str, int] | None = None
) -> dict[str, int]:
    """The residents no re-draw within ``[low, high]`` can avoid moving.

    Parameters
    ----------
    residents
        Residents per old community.
    low, high
        The bounds.
    behind
        Residents per old community on the minority side of a barrier: outside the land
        behind one set of barriers that holds most of the community (they must leave it, as
        no community crosses a barrier).

    Returns
    -------
    dict
        ``over``: residents above ``high`` summed over the old communities (after those
        behind a barrier left); ``behind_barriers``: the sum of ``behind``; ``short``:
        residents missing below ``low`` (at most the community's own residents, which could
        leave instead); ``had_to_move``: the larger of ``over + behind_barriers`` and
        ``short``.

    Examples
    --------
    >>> moves_floor({"A": 16000, "B": 8000}, 5000, 12000)
    {'over': 4000, 'behind_barriers': 0, 'short': 0, 'had_to_move': 4000}
    >>> moves_floor({"A": 16000, "B": 8000}, 5000, 12000, {"A": 1000, "B": 500})
    {'over': 3000, 'behind_barriers': 1500, 'short': 0, 'had_to_move': 4500}
    """
    gone = behind or {}
    over = sum(max(0, r - gone.get(k, 0) - high) for k, r in residents.items())
    barrier = sum(gone.get(k, 0) for k in residents)
    short = sum(min(max(0, low - r), r) for r in residents.values())
    return {
        "over": int(over),
        "behind_barriers": int(barrier),
        "short": int(short),
        "had_to_move": int(max(over + barrier, short)),
    }


def _behind_barriers(
    old_label: np.ndarray, part: np.ndarray, w: np.ndarray, ids: list[str]
) -> dict[str, int]:
    """Residents of each old community outside the land behind one set of barriers holding
    most of it (from the old labels and the face groups alone, not from the re-draw)."""
    out: dict[str, int] = {}
    for r, cid in enumerate(ids):
        sel = (old_label == r) & (part >= 0)
        if not sel.any():
            continue
        per = np.bincount(part[sel], weights=w[sel])
        out[cid] = round(float(per.sum() - per.max()))
    return out


def _community_config(cfg: Config) -> Config:
    """The grid engine's settings with the community target and bounds in residents."""
    c = cfg.communities
    grids = replace(
        cfg.grids,
        target_households=c.target_residents,
        min_households=c.min_residents,
        max_households=c.max_residents,
        time_limit_s=c.time_limit_s,
        strict=False,
    )
    return replace(cfg, grids=grids)


def _in_residents(flag: str, sid: str) -> str:
    """A flag of the grid engine, said of communities and residents.

    Examples
    --------
    >>> _in_residents("community SD: grid SD-003 holds 40 households", "SD")
    'sub-district SD: community SD-003 holds 40 residents'
    >>> _in_residents("community SD-003: 4 grids", "SD")
    'community SD-003: 4 communities'
    """
    # the engine saw the sub-district as one community named ``sid``: only that name (not a
    # community ``<sid>-NNN``) is the sub-district
    out = re.sub(rf"\bcommunity {re.escape(sid)}(?![\w-])", f"sub-district {sid}", flag)
    out = out.replace("grids.min_households", "communities.min_residents")
    out = out.replace("grids.max_households", "communities.max_residents")
    out = re.sub(r"\bhouseholds\b", "residents", out)
    out = re.sub(r"\bgrids\b(?!\.barrier_road_classes)", "communities", out)
    return re.sub(r"\bgrid\b", "community", out)


def _match_old(labels: np.ndarray, old: np.ndarray, weight: np.ndarray) -> dict[int, str]:
    """New region → old community id, one to one, most shared residents first."""
    shared: dict[tuple[int, str], int] = {}
    for lab, o, w in zip(labels.tolist(), old.tolist(), weight.tolist(), strict=True):
        if o is None or o == "" or (isinstance(o, float) and np.isnan(o)):
            continue
        shared[(lab, str(o))] = shared.get((lab, str(o)), 0) + int(w)
    out: dict[int, str] = {}
    used: set[str] = set()
    for (lab, o), _w in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0])):
        if lab in out or o in used:
            continue
        out[lab] = o
        used.add(o)
    return out


def _engine_buildings(buildings: gpd.GeoDataFrame, res: pd.DataFrame, sid: str) -> gpd.GeoDataFrame:
    cols = ["building_id", "geometry"] + (["compound"] if "compound" in buildings else [])
    out = buildings[cols].copy()
    out["households"] = res["residents"].to_numpy()
    out["population"] = res["residents"].to_numpy().astype(float)
    out["community_id"] = sid
    return out


def _partition_buildings(
    buildings: gpd.GeoDataFrame,
    res: pd.DataFrame,
    area: Polygon,
    sid: str,
    *,
    roads: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    cfg: Config,
    seed: int,
    time_limit_s: float,
) -> tuple[np.ndarray, list[Polygon], list[str], list[str], set[str]]:
    """Building-level partition afresh: labels per building, polygons, ids, flags, kept ids."""
    eng = _engine_buildings(buildings, res, sid)
    sd = gpd.GeoDataFrame({"community_id": [sid]}, geometry=[area], crs=buildings.crs)
    ccfg = _community_config(cfg)
    result = partition_grids(
        eng,
        sd,
        roads=roads,
        barriers=barriers,
        config=ccfg,
        seed=seed,
        time_limit_s=time_limit_s,
    )
    grids = result.grids
    ids = [str(x) for x in grids["grid_id"]]
    flags = [_in_residents(f, sid) for f in result.flags]
    index = {gid: i for i, gid in enumerate(grids["grid_id"].astype(str))}
    gid_of = result.buildings["grid_id"].astype(str).to_numpy()
    labels = np.array([index.get(g, -1) for g in gid_of], dtype=np.int64)
    if "grid_ids" in result.buildings:
        split = result.buildings.loc[
            result.buildings["grid_ids"].astype(str).str.contains(";", regex=False),
            "building_id",
        ]
        if len(split):
            flags.append(
                f"sub-district {sid}: building(s) {', '.join(map(str, split[:10]))} hold more "
                "residents than a community may and are split over communities; each is "
                "counted in the community holding most of it. Fix: raise "
                "communities.max_residents."
            )
    return labels, list(grids.geometry.array), ids, flags, set()


def _grid_of_buildings(
    buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, sid: str, flags: list[str]
) -> np.ndarray:
    """Index of the old grid holding each building's representative point (nearest when none
    holds it, with a flag)."""
    pts = buildings.geometry.representative_point()
    tree = shapely.STRtree(np.asarray(grids.geometry.array))
    src, tgt = tree.query(np.asarray(pts.array), predicate="within")
    out = np.full(len(buildings), -1, dtype=np.int64)
    order = np.lexsort((tgt, src))
    for s, t in zip(src[order].tolist(), tgt[order].tolist(), strict=True):
        if out[s] < 0:
            out[s] = t
    miss = np.flatnonzero(out < 0)
    if len(miss):
        near = tree.nearest(np.asarray(pts.array)[miss])
        out[miss] = near
        ids = buildings["building_id"].astype(str).to_numpy()[miss]
        flags.append(
            f"sub-district {sid}: building(s) {', '.join(ids[:10])}"
            + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            + " lie in no old grid and join the nearest one. Fix: re-plan the grids "
            "(gridplan replan) before re-drawing communities."
        )
    return out


def _bridges(
    xy: np.ndarray,
    edges: list[tuple[int, int]],
    flags: list[str],
    grid_ids: pd.Series,
    idx: np.ndarray,
    sid: str,
) -> list[tuple[int, int, float]]:
    """Edges joining the pieces of a face group whose grids share no boundary (water between
    them), nearest grids first; one flag naming the grids joined."""
    n = len(xy)
    adj: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    comps = connected_components(range(n), adj)
    out: list[tuple[int, int, float]] = []
    if len(comps) < 2:
        return out
    comps.sort(key=lambda c: (-len(c), c[0]))
    joined = list(comps[0])
    for comp in comps[1:]:
        d = np.hypot(*(xy[joined][:, None, :] - xy[comp][None, :, :]).transpose(2, 0, 1))
        i, j = np.unravel_index(int(np.argmin(d)), d.shape)
        a, b = joined[int(i)], comp[int(j)]
        out.append((a, b, 1.0))
        flags.append(
            f"sub-district {sid}: grids {grid_ids.iloc[idx[a]]} and {grid_ids.iloc[idx[b]]} "
            "share no boundary (water or a gap between them) but no barrier separates them; "
            "a community may hold both in two pieces."
        )
        joined.extend(comp)
    return out


def _grid_edges(geoms: list[Polygon]) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of grids sharing more than a metre of boundary, and the length shared."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    edges, lengths = [], []
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = shapely.intersection(geoms[i].boundary, geoms[j].boundary).length
        if shared > 1.0:
            edges.append((i, j))
            lengths.append(shared)
    if not edges:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    return np.asarray(edges, dtype=np.int64), np.asarray(lengths, dtype=float)


def _partition_grids_whole(
    buildings: gpd.GeoDataFrame,
    res: pd.DataFrame,
    old_grids: gpd.GeoDataFrame,
    old: gpd.GeoDataFrame | None,
    sid: str,
    *,
    roads: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    cfg: Config,
    seed: int,
    time_limit_s: float,
    behind: dict[str, int] | None = None,
) -> tuple[np.ndarray, list[Polygon], list[str], list[str], set[str]]:
    """Whole-grid partition: each old grid one node; communities are unions of grids. With
    old communities, ``behind`` receives the residents of each on the minority side of a
    barrier (counted by whole grids, from each grid's old community)."""
    c = cfg.communities
    T, lo, hi = c.target_residents, c.min_residents, c.max_residents
    flags: list[str] = []
    g = old_grids.sort_values("grid_id", kind="stable").reset_index(drop=True)
    geoms = [
        community_polygon(x, str(gid)) for x, gid in zip(g.geometry, g["grid_id"], strict=True)
    ]
    gof = _grid_of_buildings(buildings, g.assign(geometry=geoms), sid, flags)
    w = np.bincount(gof, weights=res["residents"].to_numpy(), minlength=len(g)).astype(np.int64)
    xy = shapely.get_coordinates(shapely.point_on_surface(np.asarray(geoms, dtype=object)))
    area = shapely.union_all(geoms)
    lines = barrier_lines(
        area,
        roads=roads,
        barriers=None if barriers is None else without_water(barriers),
        barrier_road_classes=cfg.grids.barrier_road_classes,
    )
    # face groups per land part (water may cut the sub-district's land in several)
    group_of = np.full(len(g), -1, dtype=np.int64)
    n_groups = 0
    pts = shapely.points(xy)
    for part in sorted(shapely.get_parts(area), key=lambda p: -p.area):
        inside = np.flatnonzero(shapely.covers(part, pts) & (group_of < 0))
        if len(inside) == 0:
            continue
        _faces, face_of, groups, merge_flags, _merged = face_groups(
            part, xy[inside], w[inside], lines, lo, f"sub-district {sid}", crs=buildings.crs
        )
        flags.extend(_in_residents(f, sid).replace(" buildings,", " grids,") for f in merge_flags)
        group_of_face = {f: gi for gi, fs in enumerate(groups) for f in fs}
        group_of[inside] = [n_groups + group_of_face[int(f)] for f in face_of]
        n_groups += len(groups)
    stray = np.flatnonzero(group_of < 0)
    group_of[stray] = np.arange(n_groups, n_groups + len(stray))
    n_groups += len(stray)
    edges, lengths = _grid_edges(geoms)
    # home: the old community holding most of each grid's residents
    home = np.full(len(g), -1, dtype=np.int64)
    old_ids: list[str] = []
    if old is not None:
        old_ids = sorted(old["community_id"].astype(str).unique().tolist())
        idx = {o: i for i, o in enumerate(old_ids)}
        bc = buildings["community_id"].astype(str).to_numpy()
        r = res["residents"].to_numpy()
        best: dict[int, tuple[int, str]] = {}
        tally: dict[tuple[int, str], int] = {}
        for gi, o, rr in zip(gof.tolist(), bc.tolist(), r.tolist(), strict=True):
            tally[(gi, o)] = tally.get((gi, o), 0) + int(rr)
        for (gi, o), v in sorted(tally.items()):
            if gi not in best or v > best[gi][0]:
                best[gi] = (v, o)
        for gi, (_v, o) in best.items():
            home[gi] = idx.get(o, -1)
    if old is not None:  # old communities: kept where within bounds, fewest moves elsewhere
        sel = [
            (a, b, ln)
            for (a, b), ln in zip(edges.tolist(), lengths.tolist(), strict=True)
            if group_of[a] == group_of[b]
        ]
        for gi in range(n_groups):
            idx_n = np.flatnonzero(group_of == gi)
            inner = [(a, b) for a, b, _ in sel if group_of[a] == gi]
            pos = {int(v): i for i, v in enumerate(idx_n)}
            local = [(pos[a], pos[b]) for a, b in inner]
            for a, b, blen in _bridges(xy[idx_n], local, flags, g["grid_id"], idx_n, sid):
                sel.append((int(idx_n[a]), int(idx_n[b]), blen))
        graph = _Graph(
            xy=xy,
            w=w,
            edges=np.asarray([(a, b) for a, b, _ in sel], dtype=np.int64).reshape(-1, 2),
            lengths=np.asarray([x for _, _, x in sel], dtype=float),
            part=group_of,
            cells=list(geoms),
        )
        old_label = home.copy()
        miss = np.flatnonzero(old_label < 0)
        if len(miss):
            old_label[miss] = assign_faces(list(old.geometry.array), xy[miss])
        glabels, gpolys, gids, gkept = _redraw_from_old(
            graph, old_label, old, sid, cfg, flags, what="grids"
        )
        if behind is not None:
            behind.update(_behind_barriers(old_label, group_of, w, list(old["community_id"])))
        return glabels[gof], gpolys, gids, flags, gkept
    labels = np.full(len(g), -1, dtype=np.int64)
    nxt = 0
    deadline = time.perf_counter() + time_limit_s
    for gi in range(n_groups):
        idx_n = np.flatnonzero(group_of == gi)
        if len(idx_n) == 0:
            continue
        pos = {int(v): i for i, v in enumerate(idx_n)}
        sel = [
            (pos[a], pos[b], ln)
            for (a, b), ln in zip(edges.tolist(), lengths.tolist(), strict=True)
            if a in pos and b in pos
        ]
        sel += _bridges(xy[idx_n], [(a, b) for a, b, _ in sel], flags, g["grid_id"], idx_n, sid)
        e = np.asarray([(a, b) for a, b, _ in sel], dtype=np.int64).reshape(-1, 2)
        ln = np.asarray([x for _, _, x in sel], dtype=float)
        H = int(w[idx_n].sum())
        k, _ok = choose_count(H, T, lo, hi)
        k = max(1, min(k, int((w[idx_n] > 0).sum()) or 1))
        sub_home = home[idx_n] if old is not None else None
        lab = partition_face(
            xy[idx_n],
            w[idx_n],
            e,
            ln,
            k,
            target=float(T),
            low=float(lo),
            high=float(hi),
            seed=community_seed(seed, sid) + gi,
            deadline=deadline,
            home=sub_home,
            anchor_cost=_GRID_ANCHOR * T if old is not None else 0.0,
        )
        labels[idx_n] = lab + nxt
        nxt += int(lab.max()) + 1
    polys: list[Polygon] = []
    for reg in range(nxt):
        members = np.flatnonzero(labels == reg)
        geom, n_parts = _glued(shapely.union_all([geoms[int(i)] for i in members]))
        if geom.geom_type != "Polygon":
            flags.append(
                f"sub-district {sid}: the grids "
                f"{', '.join(str(g['grid_id'].iloc[i]) for i in members[:10])} of one "
                f"community do not share a boundary ({n_parts} pieces); the community "
                "is not one polygon. Fix: check the old grids for gaps."
            )
        polys.append(geom)
    return labels[gof], polys, [""] * nxt, flags, set()


@dataclass
class _Graph:
    """Nodes of a re-draw (buildings, or whole grids) on the land of the old communities."""

    xy: np.ndarray
    w: np.ndarray
    edges: np.ndarray  # never across a barrier
    lengths: np.ndarray
    part: np.ndarray  # face group of each node (-1: none)
    cells: list[Polygon | None]  # the land each node stands for


def _building_graph(
    buildings: gpd.GeoDataFrame,
    res: pd.DataFrame,
    land: shapely.Geometry,
    sid: str,
    *,
    roads: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    cfg: Config,
    flags: list[str],
) -> _Graph:
    """Buildings as nodes: territory cells inside each face group (faces cut by the barrier
    roads and ``barriers`` lines; small faces merged across their weakest barrier, with a
    flag), adjacent when their cells touch."""
    c = cfg.communities
    n = len(buildings)
    xy = shapely.get_coordinates(shapely.point_on_surface(np.asarray(buildings.geometry.array)))
    w = res["residents"].to_numpy().astype(np.int64)
    lines = barrier_lines(
        land,
        roads=roads,
        barriers=None if barriers is None else without_water(barriers),
        barrier_road_classes=cfg.grids.barrier_road_classes,
    )
    part = np.full(n, -1, dtype=np.int64)
    cells: list[Polygon | None] = [None] * n
    all_edges: list[np.ndarray] = []
    all_lengths: list[np.ndarray] = []
    pts = shapely.points(xy)
    n_groups = 0
    for piece in sorted(shapely.get_parts(land), key=lambda p: -p.area):
        inside = np.flatnonzero(shapely.covers(piece, pts) & (part < 0))
        if len(inside) == 0:
            continue
        faces, face_of, groups, merge_flags, _merged = face_groups(
            piece,
            xy[inside],
            w[inside],
            lines,
            c.min_residents,
            f"sub-district {sid}",
            crs=buildings.crs,
        )
        flags.extend(_in_residents(f, sid) for f in merge_flags)
        for gi, fs in enumerate(groups):
            idx = inside[np.isin(face_of, fs)]
            if len(idx) == 0:
                continue
            poly = unary(faces, fs)
            polys = [p for p in shapely.get_parts(poly) if p.area > 0]
            poly = max(polys, key=lambda p: p.area) if polys else poly
            gcells, e, ln = cell_graph(poly, xy[idx])
            e, ln = bridge_components(xy[idx], e, ln)
            part[idx] = n_groups + gi
            for v, cell in zip(idx.tolist(), gcells, strict=True):
                cells[v] = cell
            all_edges.append(idx[e.reshape(-1, 2)])
            all_lengths.append(ln)
        n_groups += len(groups)
    edges = np.vstack(all_edges) if all_edges else np.zeros((0, 2), dtype=np.int64)
    lengths = np.concatenate(all_lengths) if all_lengths else np.zeros(0)
    return _Graph(xy=xy, w=w, edges=edges, lengths=lengths, part=part, cells=cells)


def _old_labels(given: np.ndarray, xy: np.ndarray, old: gpd.GeoDataFrame) -> np.ndarray:
    """Index of each node's old community: the one given, else the one holding its point."""
    index = {cid: i for i, cid in enumerate(old["community_id"])}
    out = np.array(
        [index.get(str(x), -1) if x is not None and pd.notna(x) else -1 for x in given],
        dtype=np.int64,
    )
    miss = np.flatnonzero(out < 0)
    if len(miss):
        out[miss] = assign_faces(list(old.geometry.array), xy[miss])
    return out


_GRID = PRECISION_M  # changed communities are drawn on this grid (kept ones exactly as they were)
_SLIVER_M2 = 1.0  # overlay slivers (cells meeting an old community line) smaller than this go


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of an overlay result: lines, points and slivers dropped."""
    parts = [
        p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area >= _SLIVER_M2
    ]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else shapely.union_all(parts)


def _heal_pieces(
    polys: list[shapely.Geometry],
    lab: np.ndarray,
    graph: _Graph,
    alive: list[int],
    lo: int,
    hi: int,
    notes: list[tuple[int, str]],
) -> None:
    """A community's land in pieces (a node's cell reached it across a third community's
    old land): each piece apart from the one holding most residents joins the neighbour it
    shares most boundary with, land and buildings, where that neighbour lies behind the same
    barriers and both stay within the bounds. Its residents move (counted, with a note)."""
    pts = shapely.points(graph.xy)
    for r in alive:
        if polys[r].geom_type == "Polygon" or polys[r].is_empty:
            continue
        parts = [p for p in shapely.get_parts(polys[r]) if p.area > 0]
        mine = np.flatnonzero(lab == r)
        held = [mine[shapely.covers(p, pts[mine])] for p in parts]
        main = max(range(len(parts)), key=lambda i: (int(graph.w[held[i]].sum()), parts[i].area))
        keep = [parts[main]]
        for i, piece in enumerate(parts):
            if i == main:
                continue
            nodes = held[i]
            if not len(nodes):  # building-free: heal_detached gives the land away
                keep.append(piece)
                continue
            got = int(graph.w[nodes].sum())
            behind = {int(x) for x in graph.part[nodes].tolist() if x >= 0}
            best, best_len = -1, 1e-3
            for o in alive:
                if o == r or polys[o].is_empty:
                    continue
                ln = shared_length(piece, polys[o])
                if ln <= best_len:
                    continue
                there = {int(x) for x in graph.part[lab == o].tolist() if x >= 0}
                weight_o = int(graph.w[lab == o].sum())
                weight_r = int(graph.w[mine].sum())
                if not behind <= there or weight_o + got > hi or weight_r - got < lo:
                    continue
                best, best_len = o, ln
            if best < 0:
                keep.append(piece)
                continue
            lab[nodes] = best
            mine = np.flatnonzero(lab == r)
            polys[best] = glue(polys[best], piece)
            notes.append(
                (r, f"{{L{r}}}: {got} residents on land cut off from the rest join {{L{best}}}")
            )
        polys[r] = keep[0] if len(keep) == 1 else shapely.union_all(keep)


def _redraw_from_old(
    graph: _Graph,
    old_label: np.ndarray,
    old: gpd.GeoDataFrame,
    sid: str,
    cfg: Config,
    flags: list[str],
    what: str = "buildings",
    keep_home: bool = True,
) -> tuple[np.ndarray, list[Polygon], list[str], set[str]]:
    """Old communities kept where within the bounds, the others relieved with fewest moves
    (:func:`gridplan.partition.communities_relief.relieve`); polygons follow the moved
    nodes' land. Returns the region of each node, polygons, ids and the kept ids."""
    c = cfg.communities
    lo, hi = c.min_residents, c.max_residents
    old_ids = [str(x) for x in old["community_id"]]
    old_polys = [community_polygon(g, i) for g, i in zip(old.geometry, old_ids, strict=True)]
    n_old = len(old_ids)
    rel = relieve(
        graph.w,
        graph.edges,
        graph.lengths,
        old_label,
        graph.xy,
        low=lo,
        high=hi,
        part=graph.part,
        target=c.target_residents,
        keep_home=keep_home,
    )
    lab = rel.labels
    n_lab = max(int(lab.max()) + 1 if len(lab) else 0, n_old)
    # land of the nodes that changed community: their cell within their old community
    moved = np.flatnonzero(lab != old_label)
    piece: dict[int, shapely.Geometry] = {}
    for v in moved.tolist():
        cell = graph.cells[v]
        if cell is not None:
            piece[v] = _polygonal(
                shapely.intersection(cell, old_polys[int(old_label[v])], grid_size=_GRID)
            )
    polys: list[shapely.Geometry] = []
    for r in range(n_lab):
        leaving = [piece[v] for v in moved.tolist() if old_label[v] == r and v in piece]
        entering = [piece[v] for v in moved.tolist() if lab[v] == r and v in piece]
        geom = old_polys[r] if r < n_old else Polygon()
        if leaving:
            geom = shapely.difference(
                geom, shapely.union_all(leaving, grid_size=_GRID), grid_size=_GRID
            )
        if entering:
            geom = shapely.union_all([geom, *entering], grid_size=_GRID)
        polys.append(_polygonal(geom))
    # an old community left without nodes: its land joins the one most of its residents joined
    alive = [
        r for r in range(n_lab) if (lab == r).any() or (r < n_old and not (old_label == r).any())
    ]
    for r in range(n_lab):
        if r in alive or polys[r].is_empty:
            continue
        took = np.bincount(lab[old_label == r], weights=graph.w[old_label == r])
        dest = int(np.argmax(took))
        polys[dest] = glue(polys[dest], polys[r])
    _heal_pieces(polys, lab, graph, alive, lo, hi, rel.notes)
    start = max((_seq(x) for x in old_ids), default=0) + 1
    fresh = [r for r in alive if r >= n_old]
    codes = dict(
        zip(fresh, number_regions([polys[r] for r in fresh], sid, start=start), strict=True)
    )
    ids = [old_ids[r] if r < n_old else codes[r] for r in alive]
    rows = [{"grid_id": i, "geometry": polys[r]} for r, i in zip(alive, ids, strict=True)]
    # land only, no resident moves; hairline gaps of the overlay closed too
    for note in heal_detached(rows, graph.xy, sid, gap_m=_GRID):
        log.info(_in_residents(note, sid))
    out_polys: list[Polygon] = []
    for r, row in zip(alive, rows, strict=True):
        geom, n_parts = _glued(row["geometry"])
        if geom.geom_type != "Polygon":
            flags.append(
                f"community {ids[alive.index(r)]}: its land is in {n_parts} pieces (its "
                f"{what} do not all touch); the community is not one polygon. Fix: check "
                "the barriers and old community lines around it."
            )
        out_polys.append(geom)
    name = {r: i for r, i in zip(alive, ids, strict=True)}
    for _r, text in rel.notes:
        flags.append(
            "community "
            + re.sub(r"\{L(\d+)\}", lambda m: name.get(int(m.group(1)), "?"), text)
            + "."
        )
    region = {r: i for i, r in enumerate(alive)}
    labels = np.array([region[int(x)] for x in lab.tolist()], dtype=np.int64)
    for r in alive:  # never across a barrier (face groups merged with a flag aside)
        now = {int(p) for p in graph.part[lab == r].tolist() if p >= 0}
        if len(now) > 1:
            flags.append(
                f"community {name[r]}: its {what} lie behind {len(now)} sets of barriers "
                "(arterial road, river or railway) and could not be separated. Fix: check "
                "the barriers around it."
            )
    kept = {
        old_ids[r]
        for r in range(n_old)
        if r in region
        and np.array_equal(lab == r, old_label == r)
        and out_polys[region[r]].equals(old_polys[r])
    }
    return labels, out_polys, ids, kept


def redraw_communities(
    buildings: gpd.GeoDataFrame,
    *,
    area: shapely.Geometry | None = None,
    old_communities: gpd.GeoDataFrame | None = None,
    old_grids: gpd.GeoDataFrame | None = None,
    roads: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    seed: int | None = None,
    time_limit_s: float | None = None,
) -> CommunityPlan:
    """Re-draw a sub-district's communities: residents within bounds, few of them moved.

    Parameters
    ----------
    buildings
        Prepared buildings (metric CRS): building_id, households, geometry; optional
        population, compound, and community_id (the old community; required with
        ``old_communities``).
    area
        The sub-district polygon; default the union of ``old_communities``.
    old_communities
        The communities today (community_id, geometry): kept where within the bounds,
        residents anchored to them elsewhere. ``None`` draws afresh.
    old_grids
        Grids of an old plan (grid_id, geometry): kept whole, each one node.
    roads, barriers
        As for :func:`gridplan.partition.partition_grids`: barrier road classes
        (``grids.barrier_road_classes``) and barriers are never crossed, water is cut out.
    config
        ``[communities]`` target, bounds, sub-district id and time limit.
    seed, time_limit_s
        Seed (default ``config.seed``) and time limit (default ``communities.time_limit_s``).

    Returns
    -------
    CommunityPlan
        Communities, buildings with their new community, moves, metrics and flags.

    Raises
    ------
    DataError
        No area and no old communities, missing columns, or old community ids on buildings
        that no old community has.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> b = gpd.GeoDataFrame(
    ...     {"building_id": [f"B{i}" for i in range(40)], "households": [500] * 40},
    ...     geometry=[Point(10 + 20 * (i % 20), 10 + 20 * (i // 20)) for i in range(40)],
    ...     crs="EPSG:32648")
    >>> from shapely.geometry import box
    >>> plan = redraw_communities(b, area=box(0, 0, 400, 40))
    >>> plan.communities["population_total"].tolist()
    [10480.0, 10480.0, 10480.0, 10480.0, 10480.0]
    """
    cfg = config or DEFAULT
    c = cfg.communities
    seed = cfg.seed if seed is None else seed
    limit = c.time_limit_s if time_limit_s is None else time_limit_s
    sid = c.subdistrict_id
    t0 = time.perf_counter()
    for col in ("building_id", "households"):
        if col not in buildings:
            msg = f"buildings: column {col!r} is missing; prepare the dataset first"
            raise DataError(msg)
    crs = buildings.crs
    old = None
    if old_communities is not None and len(old_communities):
        old = old_communities.to_crs(crs) if crs is not None else old_communities
        old = old.assign(community_id=old["community_id"].astype(str))
        old = old.sort_values("community_id", kind="stable").reset_index(drop=True)
        if "community_id" not in buildings:
            msg = "buildings: column 'community_id' is missing; it names the old communities"
            raise DataError(msg)
        unknown = sorted(
            set(buildings["community_id"].dropna().astype(str)) - set(old["community_id"])
        )
        if unknown:
            msg = (
                f"buildings: community_id {', '.join(unknown[:10])} name no old community; "
                "fix the ids or add the communities"
            )
            raise DataError(msg)
    if area is None:
        if old is None:
            msg = (
                "communities: no sub-district area and no old communities; give the "
                "sub-district polygon (area=) or the communities layer"
            )
            raise DataError(msg)
        area = shapely.union_all(np.asarray(old.geometry.array))
    area = community_polygon(area, sid)
    b = buildings.reset_index(drop=True)
    res = resident_counts(b, config=cfg)
    behind: dict[str, int] | None = None
    extra: dict[str, Any] = {}
    draft: list[str] = []
    said = 0
    if old_grids is not None and len(old_grids):
        og = old_grids.to_crs(crs) if crs is not None and old_grids.crs is not None else old_grids
        behind_grids: dict[str, int] = {}
        labels, polys, ids, flags, kept = _partition_grids_whole(
            b,
            res,
            og,
            old,
            sid,
            roads=roads,
            barriers=barriers,
            cfg=cfg,
            seed=seed,
            time_limit_s=limit,
            behind=behind_grids,
        )
        behind = behind_grids if old is not None else None
        mode = "whole_grids"
    elif old is not None:
        flags = []
        land, _water, _dropped = community_land(area, b, barriers)
        graph = _building_graph(
            b, res, land, sid, roads=roads, barriers=barriers, cfg=cfg, flags=flags
        )
        old_label = _old_labels(b["community_id"].astype(object).to_numpy(), graph.xy, old)
        labels, polys, ids, kept = _redraw_from_old(graph, old_label, old, sid, cfg, flags)
        behind = _behind_barriers(old_label, graph.part, graph.w, list(old["community_id"]))
        mode = "redraw"
    else:
        labels, polys, ids, flags, kept = _partition_buildings(
            b,
            res,
            area,
            sid,
            roads=roads,
            barriers=barriers,
            cfg=cfg,
            seed=seed,
            time_limit_s=limit,
        )
        if len(polys) > 1 and (labels >= 0).all():  # even them out by boundary flips
            land, _water, _dropped = community_land(area, b, barriers)
            graph = _building_graph(
                b, res, land, sid, roads=roads, barriers=barriers, cfg=cfg, flags=[]
            )
            extra["max_deviation_floor"] = _deviation_floor(
                graph, c.target_residents, c.min_residents, c.max_residents
            )
            drawn = gpd.GeoDataFrame({"community_id": ids}, geometry=polys, crs=b.crs)
            said = len(flags)
            labels, polys, draft, _kept = _redraw_from_old(
                graph, labels, drawn, sid, cfg, flags, keep_home=False
            )
        mode = "fresh"
    old_of = (
        b["community_id"].astype(object).where(b["community_id"].notna(), None).to_numpy()
        if old is not None
        else np.full(len(b), None, dtype=object)
    )
    if old is None:
        ids = _codes(labels, polys, old_of, res["residents"].to_numpy(), sid, old)
        if draft:  # the relief's flags named the draft codes: name the final ones
            flags[said:] = _renamed(flags[said:], dict(zip(draft, ids, strict=True)))
    plan = _finish(b, res, labels, polys, ids, kept, old, old_of, flags, cfg, mode, t0, behind)
    plan.metrics.update(extra)
    return plan


def _renamed(flags: list[str], names: dict[str, str]) -> list[str]:
    """``flags`` with each community code in ``names`` replaced by its new code (one pass, so
    codes that swap are not renamed twice).

    Examples
    --------
    >>> _renamed(["community SD-001: 10 to SD-002"], {"SD-001": "SD-002", "SD-002": "SD-001"})
    ['community SD-002: 10 to SD-001']
    """
    moved = {k: v for k, v in names.items() if k != v}
    if not moved:
        return flags
    pattern = re.compile(
        r"(?<![\w-])("
        + "|".join(re.escape(k) for k in sorted(moved, key=len, reverse=True))
        + r")(?![\w-])"
    )
    return [pattern.sub(lambda m: moved[m.group(1)], f) for f in flags]


def _deviation_floor(graph: _Graph, target: int, low: int, high: int) -> float:
    """The smallest largest deviation from ``target`` any partition within ``[low, high]``
    that never crosses a barrier can reach: each face group's residents split evenly over its
    best number of communities (a count giving communities within the bounds when there is
    one; no search beats an even split of a group it cannot cross)."""
    sel = graph.part >= 0
    if not sel.any():
        return 0.0
    totals = np.bincount(graph.part[sel], weights=graph.w[sel])
    worst = 0.0
    for h in totals[totals > 0].tolist():
        top = max(1, int(np.ceil(h / target)) + 1)
        ks = [k for k in range(1, top + 1) if low <= h / k <= high] or list(range(1, top + 1))
        worst = max(worst, min(abs(h / k / target - 1) for k in ks))
    return round(worst, 4)


def _seq(code: str) -> int:
    m = re.search(r"(\d+)$", str(code))
    return int(m.group(1)) if m else 0


def _codes(
    labels: np.ndarray,
    polys: list[Polygon],
    old_of: np.ndarray,
    residents: np.ndarray,
    sid: str,
    old: gpd.GeoDataFrame | None,
) -> list[str]:
    """Ids of new regions: an old id where matched (most shared residents), else codes
    ``<sid>-NNN`` numbered north→south, west→east after the highest old sequence number."""
    matched = _match_old(labels, old_of, residents) if old is not None else {}
    fresh = [r for r in range(len(polys)) if r not in matched]
    start = 1
    if old is not None:
        start = max((_seq(x) for x in old["community_id"]), default=0) + 1
    codes = number_regions([polys[r] for r in fresh], sid, start=start)
    out = [""] * len(polys)
    for r, o in matched.items():
        out[r] = o
    for r, code in zip(fresh, codes, strict=True):
        out[r] = code
    return out


def _finish(
    b: gpd.GeoDataFrame,
    res: pd.DataFrame,
    labels: np.ndarray,
    polys: list[Polygon],
    ids: list[str],
    kept: set[str],
    old: gpd.GeoDataFrame | None,
    old_of: np.ndarray,
    flags: list[str],
    cfg: Config,
    mode: str,
    t0: float,
    behind: dict[str, int] | None = None,
) -> CommunityPlan:
    c = cfg.communities
    lo, hi, T = c.min_residents, c.max_residents, c.target_residents
    new_of = np.array([ids[i] if i >= 0 else "" for i in labels.tolist()], dtype=object)
    hh = pd.to_numeric(b["households"], errors="coerce").fillna(0).round().astype("int64")
    bout = gpd.GeoDataFrame(
        {
            "building_id": b["building_id"].astype(str).to_numpy(),
            "community_id": new_of,
            "old_community_id": old_of,
            "residents": res["residents"].to_numpy(),
            "residents_source": res["residents_source"].to_numpy(),
            "households": hh.to_numpy(),
        },
        geometry=b.geometry.to_numpy(),
        crs=b.crs,
    )
    old_names: dict[str, str] = {}
    if old is not None and "name" in old:
        old_names = {
            str(k): str(v)
            for k, v in zip(old["community_id"], old["name"], strict=True)
            if pd.notna(v)
        }
    rows = []
    for r, (cid, geom) in enumerate(zip(ids, polys, strict=True)):
        sel = labels == r
        src = pd.Series(old_of[sel]).dropna().astype(str)
        wsrc = pd.Series(
            res["residents"].to_numpy()[sel][pd.Series(old_of[sel]).notna().to_numpy()]
        )
        main = ""
        if len(src):
            tally = wsrc.groupby(src.to_numpy()).sum().sort_index()
            main = str(tally.idxmax())
        rows.append(
            {
                "community_id": cid,
                "name": old_names.get(cid, cid),
                "households_total": int(hh.to_numpy()[sel].sum()),
                "population_total": float(res["residents"].to_numpy()[sel].sum()),
                "n_buildings": int(sel.sum()),
                "old_community_id": main,
                "kept": cid in kept,
                "geometry": geom,
            }
        )
    comm = gpd.GeoDataFrame(rows, geometry="geometry", crs=b.crs)
    comm = comm.sort_values("community_id", kind="stable").reset_index(drop=True)
    pops = comm["population_total"].to_numpy()
    for cid, p in zip(comm["community_id"], pops, strict=True):
        if not lo <= p <= hi:
            flags.append(
                f"community {cid}: {int(p)} residents, outside the bounds {lo}–{hi}; the "
                "barriers and buildings around it allow no better. Fix: accept it, widen "
                "communities.min_residents / max_residents, or check the barriers."
            )
    moves = _moves(bout)
    metrics: dict[str, Any] = {
        "mode": mode,
        "communities": len(comm),
        "residents": int(res["residents"].sum()),
        "residents_from_population": int(
            res.loc[res["residents_source"] == "population", "residents"].sum()
        ),
        "residents_from_households": int(
            res.loc[res["residents_source"] == "households", "residents"].sum()
        ),
        "target_residents": T,
        "min_residents": lo,
        "max_residents": hi,
        "smallest": int(pops.min()) if len(pops) else 0,
        "largest": int(pops.max()) if len(pops) else 0,
        "max_deviation": round(float(np.abs(pops / T - 1).max()), 4) if len(pops) else 0.0,
        "share_within_bounds": round(float(((pops >= lo) & (pops <= hi)).mean()), 4)
        if len(pops)
        else 0.0,
        "kept_communities": int(comm["kept"].sum()),
    }
    if old is not None:
        before = {
            str(k): int(v)
            for k, v in pd.Series(res["residents"].to_numpy())
            .groupby(pd.Series(old_of).astype(str).to_numpy())
            .sum()
            .items()
        }
        for o in old["community_id"]:
            before.setdefault(str(o), 0)
        floor = moves_floor(before, lo, hi, behind)
        metrics["old_communities"] = len(old)
        metrics["residents_moved"] = int(moves["residents"].sum()) if len(moves) else 0
        metrics["residents_had_to_move"] = floor["had_to_move"]
        metrics["residents_over_bounds"] = floor["over"]
        metrics["residents_short"] = floor["short"]
        metrics["residents_behind_barriers"] = floor["behind_barriers"]
    metrics["seconds"] = round(time.perf_counter() - t0, 2)
    log.info(
        "sub-district %s: %d communities (%s) in %.1f s",
        c.subdistrict_id,
        len(comm),
        mode,
        metrics["seconds"],
    )
    return CommunityPlan(
        communities=comm, buildings=bout, moves=moves, metrics=metrics, flags=flags
    )


def _moves(b: gpd.GeoDataFrame) -> pd.DataFrame:
    cols = ["old_community_id", "new_community_id", "residents", "households", "buildings"]
    sel = b["old_community_id"].notna() & (
        b["old_community_id"].astype(str) != b["community_id"].astype(str)
    )
    if not sel.any():
        return pd.DataFrame(
            {c: pd.Series(dtype="int64" if c in cols[2:] else object) for c in cols}
        )
    m = pd.DataFrame(
        {
            "old_community_id": b.loc[sel, "old_community_id"].astype(str),
            "new_community_id": b.loc[sel, "community_id"].astype(str),
            "residents": b.loc[sel, "residents"].astype("int64"),
            "households": b.loc[sel, "households"].astype("int64"),
            "buildings": 1,
        }
    )
    out = m.groupby(["old_community_id", "new_community_id"], sort=True, as_index=False).sum()
    return pd.DataFrame(out[cols]).reset_index(drop=True)
