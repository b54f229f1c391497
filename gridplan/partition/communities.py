"""Communities (社区): a sub-district re-drawn into communities of about 10 000 residents.

The grid engine one level up. A sub-district's buildings are partitioned into communities with
a target and bounds in **residents** (``[communities]`` settings; GB 50180-2018's five-minute
life circle, 5 000 – 12 000 residents): the same faces cut along barrier roads and ``barriers``
lines, water cut out, contiguous and compact regions that tile the land, one polygon each.

Residents of a building: its ``population`` when given, else ``households ×
households.persons_per_household`` (:func:`resident_counts` says which, per building).

Three ways, chosen by what is known of the old plan:

- **Fresh** (no old communities): :func:`gridplan.partition.partition_grids` with the
  sub-district as one community and residents as the weight.
- **Re-draw** (old communities): :func:`gridplan.partition.replan_grids` with the old
  communities as the "old grids": a community within the bounds and not split by a barrier is
  kept exactly (id and polygon); the others are re-partitioned with a cost per resident moved,
  so residents move only where the bounds need it.
- **Whole grids** (an old plan's grids): each old grid is one node (its residents now, its
  polygon); grids sharing a boundary are adjacent, and the nodes of each face group (faces cut
  by today's barriers, small faces merged as for grids) are split by
  :func:`gridplan.partition.search.partition_face`, anchored to the old communities when they
  exist. A community is then the union of whole grids: no grid is cut by a community line.

Codes follow the grid scheme one level up: ``<sub-district id>-NNN``, numbered north→south in
bands, west→east within a band (:func:`gridplan.partition.regions.number_regions`). A new
community matched to an old one (most shared residents) keeps the old id instead, so a re-draw
renames only what changed. The same inputs and seed give the same communities.

Minimal change is measured: ``residents_moved`` (residents of buildings now in a community of
another id) against ``residents_had_to_move``, the larger of the residents above the upper
bound in old communities and the residents missing below the lower bound (at most a
community's own residents): no re-draw within the bounds can move fewer.
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
from gridplan.adjacency import barrier_lines, connected_components, glue
from gridplan.partition.grids import community_seed, partition_grids
from gridplan.partition.regions import (
    choose_count,
    community_polygon,
    face_groups,
    number_regions,
    without_water,
)
from gridplan.partition.replan import replan_grids
from gridplan.partition.search import partition_face
from gridplan.settings import DEFAULT, Config

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
        moves against their floor (:func:`moves_floor`).
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


def moves_floor(residents: dict[str, int], low: int, high: int) -> dict[str, int]:
    """The residents no re-draw within ``[low, high]`` can avoid moving.

    Returns
    -------
    dict
        ``over``: residents above ``high`` summed over the old communities; ``short``:
        residents missing below ``low`` (at most the community's own residents, which could
        leave instead); ``had_to_move``: the larger of the two.

    Examples
    --------
    >>> moves_floor({"A": 16000, "B": 8000}, 5000, 12000)
    {'over': 4000, 'short': 0, 'had_to_move': 4000}
    """
    over = sum(max(0, r - high) for r in residents.values())
    short = sum(min(max(0, low - r), r) for r in residents.values())
    return {"over": int(over), "short": int(short), "had_to_move": int(max(over, short))}


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
    """A flag of the grid engine, said of communities and residents."""
    out = flag.replace(f"community {sid}", f"sub-district {sid}")
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
    old: gpd.GeoDataFrame | None,
    sid: str,
    *,
    roads: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    cfg: Config,
    seed: int,
    time_limit_s: float,
) -> tuple[np.ndarray, list[Polygon], list[str], list[str], set[str]]:
    """Building-level partition (fresh or re-draw): labels per building, polygons, ids, flags,
    kept ids."""
    eng = _engine_buildings(buildings, res, sid)
    sd = gpd.GeoDataFrame({"community_id": [sid]}, geometry=[area], crs=buildings.crs)
    ccfg = _community_config(cfg)
    kept: set[str] = set()
    if old is None:
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
    else:
        home, old_g, pre_flags = _split_overfull(
            eng,
            res,
            buildings["community_id"].astype(object).to_numpy(),
            old,
            sid,
            ccfg,
            seed,
            time_limit_s,
            roads=roads,
            barriers=barriers,
        )
        old_b = pd.DataFrame(
            {"building_id": buildings["building_id"].astype(str).to_numpy(), "grid_id": home}
        )
        rp = replan_grids(
            old_b,
            old_g,
            eng,
            sd,
            roads=roads,
            barriers=barriers,
            config=ccfg,
            seed=seed,
            time_limit_s=time_limit_s,
        )
        grids = rp.grids
        raw_ids = [str(x) for x in grids["grid_id"]]
        ids = _rename_pieces(raw_ids, list(grids.geometry.array), sid)
        renamed = {a: b for a, b in zip(raw_ids, ids, strict=True) if a != b}
        kept = {i for i in rp.kept if i in set(old["community_id"])}
        result = rp  # type: ignore[assignment]
        result.flags[:0] = pre_flags
    flags = [_in_residents(f, sid) for f in result.flags]
    if old is not None:
        for a, b in sorted(renamed.items(), key=lambda kv: -len(kv[0])):
            flags = [f.replace(a, b) for f in flags]
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
    return labels, list(grids.geometry.array), ids, flags, kept


_PIECE = "~"  # marks the pieces of an over-full old community until they get their codes


def _split_overfull(
    eng: gpd.GeoDataFrame,
    res: pd.DataFrame,
    old_of: np.ndarray,
    old: gpd.GeoDataFrame,
    sid: str,
    ccfg: Config,
    seed: int,
    time_limit_s: float,
    *,
    roads: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
) -> tuple[np.ndarray, gpd.GeoDataFrame, list[str]]:
    """Old communities above the upper bound split first, so the re-plan can keep them.

    The re-plan keeps a community within the bounds and re-partitions the others with its
    residents anchored to it, which cannot make two communities of one: a community above
    ``max_residents`` is partitioned alone (as :func:`partition_grids` would) and each piece
    becomes an old community of its own; the piece holding most residents keeps the id.

    Returns
    -------
    home, old_grids, flags
        Each building's (possibly split) old community, the old communities with the pieces
        in place of the over-full ones, and one sentence per split.
    """
    hi = ccfg.grids.max_households
    bcomm = np.asarray(old_of, dtype=object)
    home = bcomm.copy()
    rows: list[dict[str, Any]] = []
    flags: list[str] = []
    r = res["residents"].to_numpy()
    for cid, geom in zip(old["community_id"], old.geometry.array, strict=True):
        sel = np.flatnonzero(bcomm == cid)
        total = int(r[sel].sum())
        if total <= hi or len(sel) < 2:
            rows.append({"grid_id": cid, "community_id": sid, "geometry": geom})
            continue
        part = partition_grids(
            eng.iloc[sel].assign(community_id=cid),
            gpd.GeoDataFrame({"community_id": [cid]}, geometry=[geom], crs=eng.crs),
            roads=roads,
            barriers=barriers,
            config=ccfg,
            seed=seed,
            time_limit_s=time_limit_s,
        )
        pieces = part.grids.assign(grid_id=part.grids["grid_id"].astype(str)).sort_values(
            ["households", "grid_id"], ascending=[False, True], kind="stable"
        )
        names = {
            str(g): (cid if n == 0 else f"{cid}{_PIECE}{n}")
            for n, g in enumerate(pieces["grid_id"])
        }
        home[sel] = part.buildings["grid_id"].astype(str).map(names).to_numpy()
        for g, geom_p in zip(pieces["grid_id"], pieces.geometry.array, strict=True):
            rows.append({"grid_id": names[str(g)], "community_id": sid, "geometry": geom_p})
        flags.append(
            f"community {cid}: {total} residents, above {hi}: split into {len(pieces)} "
            f"({', '.join(str(int(x)) for x in pieces['households'])} residents)."
        )
    old_g = gpd.GeoDataFrame(rows, geometry="geometry", crs=eng.crs)
    return home, old_g, flags


def _rename_pieces(ids: list[str], geoms: list[Polygon], sid: str) -> list[str]:
    """Codes ``<sid>-NNN`` for the pieces of split communities still carrying their mark,
    after the highest sequence number of the other ids."""
    todo = [i for i, x in enumerate(ids) if _PIECE in x]
    if not todo:
        return ids
    start = max((_seq(x) for x in ids if _PIECE not in x), default=0) + 1
    codes = number_regions([geoms[i] for i in todo], sid, start=start)
    out = list(ids)
    for i, code in zip(todo, codes, strict=True):
        out[i] = code
    return out


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
) -> tuple[np.ndarray, list[Polygon], list[str], list[str], set[str]]:
    """Whole-grid partition: each old grid one node; communities are unions of grids."""
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
        geom = shapely.union_all([geoms[int(i)] for i in members])
        if geom.geom_type != "Polygon":
            parts = sorted(shapely.get_parts(geom), key=lambda p: -p.area)
            merged = parts[0]
            for p in parts[1:]:
                merged = glue(merged, p)
            geom = merged
            if geom.geom_type != "Polygon":
                flags.append(
                    f"sub-district {sid}: the grids "
                    f"{', '.join(str(g['grid_id'].iloc[i]) for i in members[:10])} of one "
                    f"community do not share a boundary ({len(parts)} pieces); the community "
                    "is not one polygon. Fix: check the old grids for gaps."
                )
        polys.append(geom)
    return labels[gof], polys, [""] * nxt, flags, set()


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
    [26200.0, 26200.0]
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
    if old_grids is not None and len(old_grids):
        og = old_grids.to_crs(crs) if crs is not None and old_grids.crs is not None else old_grids
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
        )
        mode = "whole_grids"
    else:
        labels, polys, ids, flags, kept = _partition_buildings(
            b,
            res,
            area,
            old,
            sid,
            roads=roads,
            barriers=barriers,
            cfg=cfg,
            seed=seed,
            time_limit_s=limit,
        )
        mode = "redraw" if old is not None else "fresh"
    old_of = (
        b["community_id"].astype(object).where(b["community_id"].notna(), None).to_numpy()
        if old is not None
        else np.full(len(b), None, dtype=object)
    )
    if mode != "redraw":
        ids = _codes(labels, polys, old_of, res["residents"].to_numpy(), sid, old)
    if old is not None:  # kept: an old id holding exactly the old community's buildings
        old_str = np.array([str(x) for x in old_of], dtype=object)
        kept = {
            cid
            for r, cid in enumerate(ids)
            if cid in set(old["community_id"]) and np.array_equal(labels == r, old_str == cid)
        }
    return _finish(b, res, labels, polys, ids, kept, old, old_of, flags, cfg, mode, t0)


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
        floor = moves_floor(before, lo, hi)
        metrics["old_communities"] = len(old)
        metrics["residents_moved"] = int(moves["residents"].sum()) if len(moves) else 0
        metrics["residents_had_to_move"] = floor["had_to_move"]
        metrics["residents_over_bounds"] = floor["over"]
        metrics["residents_short"] = floor["short"]
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
