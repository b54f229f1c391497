"""Minimal-change re-planning of grids after buildings were added, removed or changed.

Planners re-plan when a compound is built or demolished, and every household moved between
grids means re-training people and re-printing signs (Gongcheng re-planned 5 communities into
120 grids, then adjusted just 3). So:

1. Every building keeps its old grid; a new building joins the old grid whose territory holds
   it.
2. A grid is *kept exactly as it was* (id and polygon) when its new household count is within
   ``[min_households, max_households]`` and no new barrier now separates its buildings.
3. The other grids are *changed*. Touching changed grids form a patch; a patch whose households
   cannot make grids within bounds takes in its neighbour sharing the longest boundary (a few
   times at most). Each patch is re-partitioned inside the union of its old polygons by the
   partition algorithm (:mod:`gridplan.partition`), with a cost of ten times the target per
   household moved away from its old grid, so households move only where the bounds need it.
4. Re-partitioned grids matched to an old grid (most shared households) keep its id; others get
   the next free codes of their community (``C01-018``, …), numbered west→east, north→south.
5. Grids carry ``size_forced`` / ``size_unproven`` as in :func:`gridplan.partition.partition_grids`
   (so the metrics give the balance where building sizes allow): a re-planned grid from the
   check of its patch's face group; a kept grid from the old plan's grids layer when it has
   these columns, else from the same check over its whole face group in the community, for
   the number of grids that group now holds (:func:`_kept_size_flags`). A community the old
   plan does not cover is planned from scratch, exactly as by ``partition_grids``.

The steps, per community: :func:`_old_homes` (each node's old grid), :func:`_must_change`
(grids out of bounds or split by a barrier, and why), :func:`_patches` and
:func:`_grow_patches` (touching changed grids, grown where the bounds need it),
:func:`_plan_patch` (re-partition one patch), :func:`_match_ids` (old ids for its regions,
fresh codes for the rest) and :func:`_kept_size_flags`; rows come from
:func:`gridplan.partition.result.plan_rows`, shared with ``partition_grids``.

Example
-------
See ``tests/test_replan.py``; ``benchmarks/bench_replan.py`` re-plans the ``town`` sample after
adding a 600-household compound.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from gridplan._errors import DataError
from gridplan.adjacency import barrier_lines, glue, shared_length
from gridplan.partition.grids import CommunityGrids, community_seed, partition_community
from gridplan.partition.regions import (
    AreaPlan,
    Nodes,
    assign_faces,
    choose_count,
    community_land,
    community_polygon,
    face_groups,
    group_sizes_allow,
    make_nodes,
    number_regions,
    plan_area,
    without_water,
)
from gridplan.partition.result import (
    PartitionResult,
    assemble,
    grid_metrics,
    plan_rows,
    prepare_inputs,
    region_flags,
)
from gridplan.settings import DEFAULT, Config

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = ["ReplanResult", "moved_households", "replan_grids"]

log = logging.getLogger(__name__)

_ANCHOR = 10.0  # cost of moving one household away from its old grid, × target


@dataclass(frozen=True)
class ReplanResult:
    """A re-plan: the new plan plus what changed.

    Attributes
    ----------
    grids, buildings, metrics, flags, building_parts
        As in :class:`gridplan.partition.PartitionResult`; ``metrics`` adds
        ``changed_grids``, ``kept_grids``, ``moved_households`` and ``moved_buildings``.
    changed_grids
        Ids of every grid that changed: old grids re-partitioned (whether their id survives or
        not) and new grids.
    moved
        One row per existing building with households now in another grid: building_id,
        households (moved), old_grid_id, new_grid_id.
    kept
        Ids of the grids kept exactly as they were (same id, same polygon).
    """

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    metrics: dict[str, Any]
    flags: list[str]
    building_parts: pd.DataFrame = field(default_factory=pd.DataFrame)
    changed_grids: list[str] = field(default_factory=list)
    moved: pd.DataFrame = field(default_factory=pd.DataFrame)
    kept: list[str] = field(default_factory=list)


def _seq(code: str) -> int:
    m = re.search(r"(\d+)$", str(code))
    return int(m.group(1)) if m else 0


def _check_old_plan(old_buildings: gpd.GeoDataFrame, old_grids: gpd.GeoDataFrame) -> None:
    """Raise :class:`DataError` when the old plan's layers lack the columns a re-plan reads."""
    for col in ("building_id", "grid_id"):
        if col not in old_buildings:
            msg = f"old plan buildings: column {col!r} is missing; pass the buildings of a plan"
            raise DataError(msg)
    for col in ("grid_id", "community_id"):
        if col not in old_grids:
            msg = f"old plan grids: column {col!r} is missing; pass the grids of a plan"
            raise DataError(msg)


@dataclass
class _CommunityReplan:
    """One community's share of a re-plan, ready for :func:`assemble`."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    parts: list[pd.DataFrame] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    bound_flags: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, int] = field(
        default_factory=lambda: {"cut": 0, "edges": 0, "faces": 0, "merged": 0}
    )
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _deficient(
    patch: set[int], prov: np.ndarray, group_of: np.ndarray, w: np.ndarray, cfg: Config
) -> set[int]:
    """Face groups whose households in ``patch`` cannot make grids within the bounds."""
    g = cfg.grids
    sel = np.isin(prov, sorted(patch))
    out = set()
    for gi in sorted(set(group_of[sel].tolist())):
        h = int(w[sel & (group_of == gi)].sum())
        if not choose_count(h, g.target_households, g.min_households, g.max_households)[1]:
            out.add(gi)
    return out


def _touching(geoms: list[Polygon]) -> dict[int, dict[int, float]]:
    """Shared boundary length between touching polygons."""
    out: dict[int, dict[int, float]] = {i: {} for i in range(len(geoms))}
    if len(geoms) < 2:
        return out
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i >= j:
            continue
        shared = shapely.intersection(geoms[i].boundary, geoms[j].boundary).length
        if shared > 0.01:
            out[i][j] = shared
            out[j][i] = shared
    return out


def _old_homes(
    old_geoms: list[Polygon],
    old_ids: list[str],
    old_of: dict[str, Any],
    sub: gpd.GeoDataFrame,
    nodes: Nodes,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each node's old grid, and the households each old grid holds now.

    Returns
    -------
    home, prov, hh
        ``home``: index of the node's building's old grid (-1 for a new building or one whose
        grid is not of this community); ``prov``: ``home``, else the old grid whose territory
        holds the node; ``hh``: households per old grid under ``prov``.
    """
    index_of = {gid: i for i, gid in enumerate(old_ids)}
    bids = sub["building_id"].astype(str).to_numpy()
    home = np.array([index_of.get(str(old_of.get(bids[b], "")), -1) for b in nodes.bidx])
    where = assign_faces(old_geoms, nodes.xy)
    prov = np.where(home >= 0, home, where)
    hh = np.bincount(prov, weights=nodes.w, minlength=len(old_ids)).astype(np.int64)
    return home, prov, hh


def _must_change(
    hh: np.ndarray, prov: np.ndarray, group_of: np.ndarray, lo: int, hi: int
) -> dict[int, str]:
    """Old grids that must change, with the reason: out of ``[lo, hi]`` households now, or
    holding buildings of two face groups (a barrier now separates them)."""
    reasons: dict[int, str] = {}
    for i in range(len(hh)):
        if not lo <= hh[i] <= hi:
            reasons[i] = f"holds {hh[i]} households now, outside {lo}–{hi}"
            continue
        if len(set(group_of[prov == i].tolist())) > 1:
            reasons[i] = "a barrier now separates its buildings"
    return reasons


def _patches(changed: set[int], touch: dict[int, dict[int, float]]) -> list[set[int]]:
    """Touching changed grids, as connected patches (in order of their lowest grid)."""
    patches: list[set[int]] = []
    seen: set[int] = set()
    for i in sorted(changed):
        if i in seen:
            continue
        patch = {i}
        stack = [i]
        while stack:
            x = stack.pop()
            for y in touch[x]:
                if y in changed and y not in patch:
                    patch.add(y)
                    stack.append(y)
        seen |= patch
        patches.append(patch)
    return patches


def _grow_patches(
    patches: list[set[int]],
    touch: dict[int, dict[int, float]],
    prov: np.ndarray,
    group_of: np.ndarray,
    w: np.ndarray,
    hh: np.ndarray,
    reasons: dict[int, str],
    cfg: Config,
    locked: frozenset[int] = frozenset(),
) -> list[set[int]]:
    """Grow patches whose households behind some barrier cannot make grids within bounds.

    Locked grids are never taken in.

    A patch takes in the touching kept grid behind the same barriers (the face group holding
    most of its households), longest shared boundary first, up to eight times; each grid taken
    in gets a reason in ``reasons``. Patches that grew into each other are merged.
    """
    n = len(hh)
    grid_group = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        gs = group_of[prov == i]
        if len(gs):
            grid_group[i] = int(np.bincount(gs).argmax())
    final: list[set[int]] = []
    taken: set[int] = set().union(*patches) if patches else set()
    for patch in patches:
        for _ in range(8):
            short = _deficient(patch, prov, group_of, w, cfg)
            if not short:
                break
            cands = sorted(
                {
                    y
                    for x in patch
                    for y in touch[x]
                    if y not in patch
                    and y not in taken
                    and y not in locked
                    and grid_group[y] in short
                },
                key=lambda y: (-sum(touch[x].get(y, 0.0) for x in patch), hh[y], y),
            )
            if not cands:
                break
            patch.add(cands[0])
            taken.add(cands[0])
            reasons[cands[0]] = "joined a neighbouring grid that could not meet the bounds"
        final.append(patch)
    merged: list[set[int]] = []
    for patch in final:
        for other in merged:
            if any(y in other for x in patch for y in touch[x]) or patch & other:
                other |= patch
                break
        else:
            merged.append(set(patch))
    return merged


@dataclass
class _PatchPlan:
    """A patch re-partitioned inside the union of its old grids."""

    plan: AreaPlan
    nodes: Nodes  # the patch's nodes; regions index these
    sel: np.ndarray  # community node index of each patch node
    home: np.ndarray  # old grid of each patch node when it is a member of the patch, else -1


def _plan_patch(
    members: list[int],
    old_geoms: list[Polygon],
    nodes: Nodes,
    prov: np.ndarray,
    home: np.ndarray,
    lines: gpd.GeoDataFrame,
    cfg: Config,
    *,
    seed: int,
    time_limit_s: float,
    where: str,
    fixed: bool = False,
) -> _PatchPlan:
    """Re-partition the nodes of a patch inside the union of its old grids (the largest piece),
    with a cost of ``_ANCHOR × target`` per household moved away from its old grid; ``fixed``:
    redraw it with every node in its grid as given (hand edits), no search."""
    parea = old_geoms[members[0]]
    for m in members[1:]:
        parea = glue(parea, old_geoms[m])
    if parea.geom_type != "Polygon":
        parea = max(shapely.get_parts(parea), key=lambda p: p.area)
    sel = np.flatnonzero(np.isin(prov, members))
    sub_nodes = nodes.subset(sel)
    plines = lines.clip(parea) if len(lines) else lines
    plines = plines[~plines.geometry.is_empty] if len(plines) else plines
    patch_home = np.where(np.isin(home[sel], members), home[sel], -1)
    plan = plan_area(
        parea,
        sub_nodes,
        _only_lines(plines),
        cfg,
        seed=seed,
        deadline=time.perf_counter() + time_limit_s,
        where=where,
        home=patch_home,
        anchor_cost=_ANCHOR * cfg.grids.target_households,
        crs=lines.crs,
        fixed=prov[sel] if fixed else None,
    )
    return _PatchPlan(plan=plan, nodes=sub_nodes, sel=sel, home=patch_home)


def _match_ids(
    pp: _PatchPlan, old_ids: list[str], cid: str, next_seq: int
) -> tuple[list[str], set[int]]:
    """Grid ids of a patch's regions, and the old grids whose id survives.

    Regions and old grids are matched greedily by shared households (then shared nodes, then
    index); a matched region keeps the old id, the others get codes ``next_seq``, … numbered
    west→east, north→south (:func:`number_regions`).
    """
    regions = pp.plan.regions
    overlap = []
    for ri, reg in enumerate(regions):
        hom = pp.home[reg.nodes]
        ws = pp.nodes.w[reg.nodes]
        for oi in sorted(set(hom.tolist()) - {-1}):
            overlap.append((int(ws[hom == oi].sum()), int((hom == oi).sum()), ri, oi))
    overlap.sort(key=lambda t: (-t[0], -t[1], t[2], t[3]))
    code_of: dict[int, str] = {}
    used_old: set[int] = set()
    for _h, _n, ri, oi in overlap:
        if ri in code_of or oi in used_old:
            continue
        code_of[ri] = old_ids[oi]
        used_old.add(oi)
    fresh_idx = [ri for ri in range(len(regions)) if ri not in code_of]
    fresh_codes = number_regions([regions[ri].geometry for ri in fresh_idx], cid, start=next_seq)
    for ri, code in zip(fresh_idx, fresh_codes, strict=True):
        code_of[ri] = code
    return [code_of[ri] for ri in range(len(regions))], used_old


def _old_size_flags(og: gpd.GeoDataFrame, i: int) -> tuple[bool, bool] | None:
    """``(size_forced, size_unproven)`` of old grid ``i`` from the old grids layer, when it
    records them (a missing ``size_unproven`` is ``False``); ``None`` otherwise."""
    if "size_forced" not in og.columns or pd.isna(og["size_forced"].iloc[i]):
        return None
    unproven = og["size_unproven"].iloc[i] if "size_unproven" in og.columns else False
    return bool(og["size_forced"].iloc[i]), bool(False if pd.isna(unproven) else unproven)


def _kept_size_flags(
    kept_rows: dict[int, dict[str, Any]],
    og: gpd.GeoDataFrame,
    grid_group: dict[int, int],
    planned_groups: list[int],
    faces: list[Polygon],
    face_of: np.ndarray,
    groups: list[list[int]],
    nodes: Nodes,
    target: float,
) -> None:
    """Set ``size_forced`` / ``size_unproven`` of the kept grids' rows (in place).

    A kept grid is not planned again, so nothing re-checks its sizes: it keeps the flags of the
    old plan's grids layer when that layer has a ``size_forced`` column. Otherwise the check of
    :func:`gridplan.partition.partition_grids` is made for its face group in the community
    (faces cut by today's barriers, small faces merged): can the group's nodes make all the
    grids the group now holds (kept grids by their households' group in ``grid_group``,
    re-planned ones in ``planned_groups``) within ±10 % of the target? A grid whose households
    lie in no face group is unproven.
    """
    count: dict[int, int] = {}
    for gi in list(grid_group.values()) + planned_groups:
        if gi >= 0:
            count[gi] = count.get(gi, 0) + 1
    allow: dict[int, bool | None] = {}
    for i, row in kept_rows.items():
        old = _old_size_flags(og, i)
        if old is not None:
            row["size_forced"], row["size_unproven"] = old
            continue
        gi = grid_group.get(i, -1)
        if gi < 0:
            row["size_forced"], row["size_unproven"] = False, True
            continue
        if gi not in allow:
            allow[gi] = group_sizes_allow(faces, face_of, groups[gi], nodes, count[gi], target)
        row["size_forced"] = allow[gi] is False
        row["size_unproven"] = allow[gi] is None


def _replan_community(
    cid: str,
    area: Polygon,
    og: gpd.GeoDataFrame,
    sub: gpd.GeoDataFrame,
    pos: np.ndarray,
    old_of: dict[str, Any],
    lines: gpd.GeoDataFrame,
    cfg: Config,
    *,
    seed: int,
    time_limit_s: float,
    crs: CRS | None,
    locks: frozenset[str] = frozenset(),
    manual: frozenset[str] | None = None,
) -> _CommunityReplan:
    """Re-plan one community that the old plan covers (steps 1–5 of the module docstring).

    ``locks``: grids kept exactly as they were, whatever their households. ``manual``: redraw
    only these grids, each with the buildings ``old_of`` gives it (a planner's hand edits),
    and change nothing else.
    """
    t0 = time.perf_counter()
    g = cfg.grids
    lo, hi = g.min_households, g.max_households
    out = _CommunityReplan()
    nodes = make_nodes(sub, cfg)
    old_ids = [str(x) for x in og["grid_id"]]
    old_geoms: list[Polygon] = [
        community_polygon(x, gid) for x, gid in zip(og.geometry.array, old_ids, strict=True)
    ]
    index_of = {gid: i for i, gid in enumerate(old_ids)}
    home, prov, hh = _old_homes(old_geoms, old_ids, old_of, sub, nodes)

    # face groups of the whole community (faces cut by today's barriers, small faces merged as
    # partition_grids does); merges are reported for the whole community (kept grids may hold
    # them), and again by a re-planned part that needed merges of its own
    faces, face_of, groups, merge_flags, merges = face_groups(
        area, nodes.xy, nodes.w, lines, lo, f"community {cid}", crs=crs
    )
    out.flags.extend(merge_flags)
    out.totals["faces"] += len(faces)
    out.totals["merged"] += merges
    group_of_face = {f: gi for gi, fs in enumerate(groups) for f in fs}
    group_of = np.array([group_of_face[int(f)] for f in face_of], dtype=np.int64)

    touch = _touching(old_geoms)
    locked = frozenset(index_of[x] for x in locks if x in index_of)
    if manual is not None:
        reasons = {index_of[x]: "edited by hand" for x in sorted(manual) if x in index_of}
        patches = _patches(set(reasons), touch)
    else:
        reasons = _must_change(hh, prov, group_of, lo, hi)
        for i in sorted(locked & set(reasons)):
            out.flags.append(
                f"community {cid}: grid {old_ids[i]} is locked and kept as it is, although it "
                f"{reasons.pop(i)}."
            )
        patches = _grow_patches(
            _patches(set(reasons), touch),
            touch,
            prov,
            group_of,
            nodes.w,
            hh,
            reasons,
            cfg,
            locked,
        )

    next_seq = max((_seq(x) for x in old_ids), default=0) + 1
    in_patch = set().union(*patches) if patches else set()
    kept_rows: dict[int, dict[str, Any]] = {}
    grid_group: dict[int, int] = {}
    for i in (i for i in range(len(og)) if i not in in_patch):
        sel = np.flatnonzero(prov == i)
        kept_rows[i] = {
            "grid_id": old_ids[i],
            "community_id": cid,
            "households": int(nodes.w[sel].sum()),
            "population": round(float(nodes.pop[sel].sum()), 2),
            "geometry": old_geoms[i],
        }
        grid_group[i] = int(np.bincount(group_of[sel]).argmax()) if len(sel) else -1
        out.rows.append(kept_rows[i])
        out.parts.append(
            pd.DataFrame(
                {
                    "row": pos[nodes.bidx[sel]],
                    "grid_id": old_ids[i],
                    "households": nodes.w[sel],
                    "nodes": 1,
                    **nodes.place(sel),
                }
            )
        )
        out.kept.append(old_ids[i])

    planned_groups: list[int] = []
    for pi, patch in enumerate(patches):
        members = sorted(patch)
        pp = _plan_patch(
            members,
            old_geoms,
            nodes,
            prov,
            home,
            lines,
            cfg,
            seed=community_seed(seed, cid) + pi,
            time_limit_s=time_limit_s,
            where=f"community {cid} (re-planned part)",
            fixed=manual is not None,
        )
        plan = pp.plan
        out.totals["cut"] += plan.cut_edges
        out.totals["edges"] += plan.edges
        out.totals["merged"] += plan.faces_merged
        out.flags.extend(plan.flags)
        codes, used_old = _match_ids(pp, old_ids, cid, next_seq)
        next_seq += len(codes) - len(used_old)  # the fresh codes
        same = [
            code in index_of
            and set(pp.sel[reg.nodes].tolist())
            == set(np.flatnonzero(prov == index_of[code]).tolist())
            for reg, code in zip(plan.regions, codes, strict=True)
        ]
        # (hand-edited grids are redrawn around their buildings however they match)
        unchanged = manual is None and all(same) and len(codes) == len(members)
        if unchanged:
            # nothing could be improved: keep these grids exactly as they were
            for reg, code in zip(plan.regions, codes, strict=True):
                reg.geometry = old_geoms[index_of[code]]
        rows, parts = plan_rows(plan, pp.nodes, codes, community_id=cid, building_rows=pos)
        bflags = region_flags(plan, codes, cfg, [r["households"] for r in rows])
        out.bound_flags.extend(bflags)
        out.flags.extend(bflags)
        out.rows.extend(rows)
        out.parts.extend(parts)
        for reg in plan.regions:
            gs = group_of[pp.sel[reg.nodes]]
            planned_groups.append(int(np.bincount(gs).argmax()) if len(gs) else -1)
        retired = [old_ids[m] for m in members if m not in used_old]
        names = ", ".join(old_ids[m] for m in members)
        why = "; ".join(f"{old_ids[m]} {reasons[m]}" for m in members if m in reasons)
        if unchanged:
            out.flags.append(
                f"community {cid}: grids {names} ({why}) could not be improved by "
                "re-planning and are kept as they were."
            )
            out.kept.extend(codes)
            continue
        out.flags.append(
            f"community {cid}: re-planned grids {names} ({why}) into "
            f"{', '.join(sorted(codes))}"
            + (f"; retired {', '.join(retired)}" if retired else "")
            + "."
        )
        for reg, code, is_same in zip(plan.regions, codes, same, strict=True):
            if manual is not None or not (
                is_same and reg.geometry.equals(old_geoms[index_of[code]])
            ):
                out.changed.append(code)
        out.changed.extend(r for r in retired if r not in out.changed)

    _kept_size_flags(
        kept_rows,
        og,
        grid_group,
        planned_groups,
        faces,
        face_of,
        groups,
        nodes,
        float(g.target_households),
    )
    out.flags.extend(heal_detached(out.rows, nodes.xy, cid))
    cg = gpd.GeoDataFrame(out.rows, geometry="geometry", crs=crs)
    out.metrics = grid_metrics(
        cg,
        cfg,
        cut_edges=0,
        edges=0,
        faces=0,
        merged=0,
        contiguous=all(r["geometry"].geom_type == "Polygon" for r in out.rows),
        seconds=time.perf_counter() - t0,
    )
    out.metrics["changed_grids"] = len(out.changed)
    return out


def replan_grids(
    old_buildings: gpd.GeoDataFrame,
    old_grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    seed: int | None = None,
    time_limit_s: float | None = None,
    locks: Iterable[str] = (),
    manual: Iterable[str] | None = None,
) -> ReplanResult:
    """Re-plan grids after the buildings changed, moving as few households as possible.

    Parameters
    ----------
    old_buildings
        Buildings of the old plan with building_id and grid_id.
    old_grids
        Grids of the old plan: grid_id, community_id, geometry (same metric CRS); optional
        ``size_forced`` / ``size_unproven``, kept for the grids that are kept.
    buildings
        The current prepared buildings (as for :func:`gridplan.partition_grids`).
    communities
        Community polygons (unchanged since the old plan).
    roads, barriers, config, seed, time_limit_s
        As for :func:`gridplan.partition_grids`.
    locks
        Grid ids kept exactly as they are (id, polygon, buildings), even out of bounds (a
        flag says so); patches never grow into them.
    manual
        Grid ids whose buildings a planner moved by hand (``old_buildings`` gives each building
        its new grid): only these are redrawn, each around the buildings it is given, with no
        search and nothing else changed. ``None``: an ordinary re-plan.

    Returns
    -------
    ReplanResult
        The new plan, the changed grids, the moved households and the kept grids.

    Raises
    ------
    DataError
        Missing columns, or old grids of a community that is not in ``communities``.
    """
    cfg = config or DEFAULT
    seed = cfg.seed if seed is None else seed
    limit = cfg.grids.time_limit_s if time_limit_s is None else time_limit_s
    prepare_inputs(buildings, communities)
    _check_old_plan(old_buildings, old_grids)
    t_all = time.perf_counter()
    crs = buildings.crs or communities.crs
    if old_grids.crs is not None and crs is not None and old_grids.crs != crs:
        old_grids = old_grids.to_crs(crs)
    old_of = dict(
        zip(
            old_buildings["building_id"].astype(str),
            old_buildings["grid_id"].astype(object),
            strict=True,
        )
    )
    b_comm = buildings["community_id"].astype(str).to_numpy()
    comms = communities.assign(community_id=communities["community_id"].astype(str))
    comms = comms.sort_values("community_id", kind="stable")

    grid_rows: list[dict[str, Any]] = []
    node_parts: list[pd.DataFrame] = []
    flags: list[str] = []
    bound_flags: list[str] = []
    per_comm: dict[str, Any] = {}
    totals = {"cut": 0, "edges": 0, "faces": 0, "merged": 0}
    changed_all: list[str] = []
    kept_all: list[str] = []
    for cid, cgeom in zip(comms["community_id"], comms.geometry.array, strict=True):
        og = old_grids[old_grids["community_id"].astype(str) == cid]
        og = og.sort_values("grid_id", kind="stable").reset_index(drop=True)
        pos = np.flatnonzero(b_comm == cid)
        if len(og) == 0:  # no old plan here: plan from scratch, as partition_grids does
            fresh = partition_community(
                buildings,
                pos,
                cid,
                cgeom,
                roads=roads,
                barriers=barriers,
                cfg=cfg,
                seed=seed,
                time_limit_s=limit,
                crs=crs,
            )
            part: CommunityGrids | _CommunityReplan = fresh
            changed_all.extend(str(r["grid_id"]) for r in fresh.rows)
        else:
            area, _water_m2, _dropped = community_land(
                community_polygon(cgeom, cid), buildings.iloc[pos], barriers
            )
            lines = barrier_lines(
                area,
                roads=roads,
                barriers=None if barriers is None else without_water(barriers),
                barrier_road_classes=cfg.grids.barrier_road_classes,
            )
            part = _replan_community(
                cid,
                area,
                og,
                buildings.iloc[pos],
                pos,
                old_of,
                lines,
                cfg,
                seed=seed,
                time_limit_s=limit,
                crs=crs,
                locks=frozenset(str(x) for x in locks),
                manual=None if manual is None else frozenset(str(x) for x in manual),
            )
            changed_all.extend(part.changed)
            kept_all.extend(part.kept)
        grid_rows.extend(part.rows)
        node_parts.extend(part.parts)
        flags.extend(part.flags)
        bound_flags.extend(part.bound_flags)
        per_comm[cid] = part.metrics
        for key, value in part.totals.items():
            totals[key] += value
    res = assemble(
        buildings,
        grid_rows,
        node_parts,
        flags,
        per_comm,
        totals,
        cfg,
        crs=crs,
        seconds=time.perf_counter() - t_all,
        bound_flags=bound_flags,
    )
    moved = moved_households(old_of, res)
    changed_sorted = sorted(dict.fromkeys(changed_all))
    metrics = dict(res.metrics)
    metrics["changed_grids"] = len(changed_sorted)
    metrics["kept_grids"] = len(kept_all)
    metrics["moved_households"] = int(moved["households"].sum()) if len(moved) else 0
    metrics["moved_buildings"] = len(moved)
    return ReplanResult(
        grids=res.grids,
        buildings=res.buildings,
        metrics=metrics,
        flags=res.flags,
        building_parts=res.building_parts,
        changed_grids=changed_sorted,
        moved=moved,
        kept=sorted(kept_all),
    )


def heal_detached(
    rows: list[dict[str, Any]], xy: np.ndarray, cid: str, *, gap_m: float | None = None
) -> list[str]:
    """Give each building-free piece cut off from its grid to the grid it touches most.

    A re-planned grid can inherit an empty piece of an old grid (land beyond a river) that
    touches none of the new grids of its patch, only a kept grid; left in place the grid would
    be two polygons. The piece joins the grid sharing most boundary with it (its households do
    not change). With ``gap_m``, a piece touching no grid but within ``gap_m`` of some (an
    overlay's rounding left a hairline gap or a corner) joins the one it glues into a single
    polygon with (:func:`gridplan.adjacency.glue` snaps across the gap), longest shared
    boundary first; those joins are land only and not reported. Returns one sentence per
    piece moved across a barrier.
    """
    pts = shapely.points(xy) if len(xy) else None
    out: list[str] = []
    for r in rows:
        geom = r["geometry"]
        if geom.geom_type == "Polygon":
            continue
        parts = sorted(
            (p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0),
            key=lambda p: -p.area,
        )
        held = [int(shapely.covers(p, pts).sum()) if pts is not None else 0 for p in parts]
        main = max(range(len(parts)), key=lambda i: (held[i], parts[i].area))
        keep = [parts[main]]
        for i, piece in enumerate(parts):
            if i == main:
                continue
            if held[i]:
                keep.append(piece)
                continue
            shared = [shared_length(piece, o["geometry"]) if o is not r else 0.0 for o in rows]
            best = int(np.argmax(shared)) if shared else -1
            if best >= 0 and shared[best] > 1e-3:
                rows[best]["geometry"] = glue(rows[best]["geometry"], piece)
                out.append(
                    f"community {cid}: a building-free piece of grid {r['grid_id']} "
                    f"({piece.area:.0f} m²) lies beyond a barrier from the rest of it and "
                    f"joins grid {rows[best]['grid_id']}, which it touches."
                )
                continue
            near = sorted(
                (-shared[j], str(o["grid_id"]), j)
                for j, o in enumerate(rows)
                if gap_m is not None and o is not r and piece.distance(o["geometry"]) < gap_m
            )
            for _len, _id, j in near:
                joined = glue(rows[j]["geometry"], piece)
                if joined.geom_type == "Polygon":
                    rows[j]["geometry"] = joined
                    break
            else:
                keep.append(piece)
        r["geometry"] = keep[0] if len(keep) == 1 else shapely.union_all(keep)
    return out


def _only_lines(lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if len(lines) == 0:
        return lines
    rows = []
    for kind, strength, geom in zip(
        lines["kind"], lines["strength"], lines.geometry.array, strict=True
    ):
        for part in shapely.get_parts(geom):
            if part.geom_type == "LineString" and part.length > 0:
                rows.append({"kind": kind, "strength": int(strength), "geometry": part})
    if not rows:
        return lines.iloc[:0]
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=lines.crs)


def moved_households(old_of: dict[str, Any], res: PartitionResult | ReplanResult) -> pd.DataFrame:
    """One row per building with households now in another grid than ``old_of`` gives it:
    building_id, households (moved), old_grid_id, new_grid_id."""
    bp = res.building_parts
    cols = ["building_id", "households", "old_grid_id", "new_grid_id"]
    if len(bp) == 0:
        return pd.DataFrame({c: [] for c in cols})
    # one row per building and grid (a split building's part may span several entrances)
    bp = pd.DataFrame(
        bp.groupby(["building_id", "grid_id"], sort=True, as_index=False)["households"].sum()
    )
    bp = bp.assign(old_grid_id=bp["building_id"].map(lambda b: old_of.get(b)))
    bp = bp[bp["old_grid_id"].notna()]
    bp = bp[bp["grid_id"].astype(str) != bp["old_grid_id"].astype(str)]
    bp = bp[bp["households"] > 0]
    if len(bp) == 0:
        return pd.DataFrame({c: [] for c in cols}).astype({"households": "int64"})
    out = bp.rename(columns={"grid_id": "new_grid_id"})[cols].copy()
    out["households"] = out["households"].astype("int64")
    out["old_grid_id"] = out["old_grid_id"].astype(str)
    return out.sort_values(["building_id", "new_grid_id"], kind="stable").reset_index(drop=True)
