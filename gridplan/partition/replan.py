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

Example
-------
See ``tests/test_replan.py``; ``benchmarks/bench_replan.py`` re-plans the ``town`` sample after
adding a 600-household compound.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Polygon

from gridplan._errors import DataError
from gridplan.adjacency import barrier_lines, glue, shared_length
from gridplan.partition.grids import community_seed
from gridplan.partition.regions import assign_faces as _assign_faces
from gridplan.partition.regions import choose_count, face_groups, number_regions
from gridplan.partition.regions import community_polygon as _community_polygon
from gridplan.partition.regions import make_nodes as _make_nodes
from gridplan.partition.regions import plan_area as _plan_area
from gridplan.partition.result import PartitionResult
from gridplan.partition.result import assemble as _assemble
from gridplan.partition.result import grid_metrics as _metrics
from gridplan.partition.result import prepare_inputs as _prepare_inputs
from gridplan.partition.result import region_flags as _region_flags
from gridplan.settings import DEFAULT, Config

__all__ = ["ReplanResult", "replan_grids"]

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
) -> ReplanResult:
    """Re-plan grids after the buildings changed, moving as few households as possible.

    Parameters
    ----------
    old_buildings
        Buildings of the old plan with building_id and grid_id.
    old_grids
        Grids of the old plan: grid_id, community_id, geometry (same metric CRS).
    buildings
        The current prepared buildings (as for :func:`gridplan.partition_grids`).
    communities
        Community polygons (unchanged since the old plan).
    roads, barriers, config, seed, time_limit_s
        As for :func:`gridplan.partition_grids`.

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
    _prepare_inputs(buildings, communities)
    for col in ("building_id", "grid_id"):
        if col not in old_buildings:
            msg = f"old plan buildings: column {col!r} is missing; pass the buildings of a plan"
            raise DataError(msg)
    for col in ("grid_id", "community_id"):
        if col not in old_grids:
            msg = f"old plan grids: column {col!r} is missing; pass the grids of a plan"
            raise DataError(msg)
    g = cfg.grids
    T, lo, hi = g.target_households, g.min_households, g.max_households
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
        t0 = time.perf_counter()
        area = _community_polygon(cgeom, cid)
        og = old_grids[old_grids["community_id"].astype(str) == cid]
        og = og.sort_values("grid_id", kind="stable").reset_index(drop=True)
        pos = np.flatnonzero(b_comm == cid)
        sub = buildings.iloc[pos]
        nodes = _make_nodes(sub, cfg)
        lines = barrier_lines(
            area, roads=roads, barriers=barriers, barrier_road_classes=g.barrier_road_classes
        )
        if len(og) == 0:  # no old plan here: plan from scratch
            from gridplan.partition.grids import partition_grids

            fresh: PartitionResult = partition_grids(
                sub,
                comms[comms["community_id"] == cid],
                roads=roads,
                barriers=barriers,
                config=cfg,
                seed=seed,
                time_limit_s=limit,
            )
            for row in fresh.grids.to_dict("records"):
                grid_rows.append(
                    {
                        k: row[k]
                        for k in ("grid_id", "community_id", "households", "population", "geometry")
                    }
                )
                changed_all.append(str(row["grid_id"]))
            bp = fresh.building_parts
            rowpos = dict(zip(sub["building_id"].astype(str), pos, strict=True))
            node_parts.append(
                pd.DataFrame(
                    {
                        "row": bp["building_id"].map(rowpos).to_numpy(),
                        "grid_id": bp["grid_id"].to_numpy(),
                        "households": bp["households"].to_numpy(),
                        "nodes": 1,
                    }
                )
            )
            flags.extend(fresh.flags)
            per_comm[cid] = fresh.metrics["communities"].get(cid, {})
            continue
        old_ids = [str(x) for x in og["grid_id"]]
        old_geoms: list[Polygon] = [
            _community_polygon(x, gid) for x, gid in zip(og.geometry.array, old_ids, strict=True)
        ]
        index_of = {gid: i for i, gid in enumerate(old_ids)}
        # home of each node: the building's old grid, else the territory holding it
        bids = sub["building_id"].astype(str).to_numpy()
        home = np.array([index_of.get(str(old_of.get(bids[b], "")), -1) for b in nodes.bidx])
        where = _assign_faces(old_geoms, nodes.xy)
        prov = np.where(home >= 0, home, where)
        hh = np.bincount(prov, weights=nodes.w, minlength=len(og)).astype(np.int64)

        # which grids must change: out of bounds, or holding buildings of two face groups
        # (faces cut by today's barriers, small faces merged as partition_grids does)
        # merges of small faces are reported for the whole community (kept grids may hold
        # them), and again by a re-planned part that needed merges of its own
        faces, face_of, groups, merge_flags, merges = face_groups(
            area, nodes.xy, nodes.w, lines, lo, f"community {cid}"
        )
        flags.extend(merge_flags)
        totals["faces"] += len(faces)
        totals["merged"] += merges
        group_of_face = {f: gi for gi, fs in enumerate(groups) for f in fs}
        group_of = np.array([group_of_face[int(f)] for f in face_of], dtype=np.int64)
        changed: set[int] = set()
        reasons: dict[int, str] = {}
        for i in range(len(og)):
            if not lo <= hh[i] <= hi:
                changed.add(i)
                reasons[i] = f"holds {hh[i]} households now, outside {lo}–{hi}"
                continue
            if len(set(group_of[prov == i].tolist())) > 1:
                changed.add(i)
                reasons[i] = "a barrier now separates its buildings"
        touch = _touching(old_geoms)
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
        # grow patches whose households behind some barrier cannot make grids within bounds:
        # take in the touching kept grid behind the same barriers, longest boundary first
        grid_group = np.full(len(og), -1, dtype=np.int64)
        for i in range(len(og)):
            gs = group_of[prov == i]
            if len(gs):
                grid_group[i] = int(np.bincount(gs).argmax())

        final: list[set[int]] = []
        taken: set[int] = set().union(*patches) if patches else set()
        for patch in patches:
            for _ in range(8):
                short = _deficient(patch, prov, group_of, nodes.w, cfg)
                if not short:
                    break
                cands = sorted(
                    {
                        y
                        for x in patch
                        for y in touch[x]
                        if y not in patch and y not in taken and grid_group[y] in short
                    },
                    key=lambda y: (-sum(touch[x].get(y, 0.0) for x in patch), hh[y], y),
                )
                if not cands:
                    break
                patch.add(cands[0])
                taken.add(cands[0])
                reasons[cands[0]] = "joined a neighbouring grid that could not meet the bounds"
            final.append(patch)
        # merge patches that grew into each other
        merged_patches: list[set[int]] = []
        for patch in final:
            for other in merged_patches:
                if any(y in other for x in patch for y in touch[x]) or patch & other:
                    other |= patch
                    break
            else:
                merged_patches.append(set(patch))

        next_seq = max((_seq(x) for x in old_ids), default=0) + 1
        kept = [i for i in range(len(og)) if not any(i in p for p in merged_patches)]
        for i in kept:
            sel = np.flatnonzero(prov == i)
            grid_rows.append(
                {
                    "grid_id": old_ids[i],
                    "community_id": cid,
                    "households": int(nodes.w[sel].sum()),
                    "population": round(float(nodes.pop[sel].sum()), 2),
                    "geometry": old_geoms[i],
                }
            )
            node_parts.append(
                pd.DataFrame(
                    {
                        "row": pos[nodes.bidx[sel]],
                        "grid_id": old_ids[i],
                        "households": nodes.w[sel],
                        "nodes": 1,
                    }
                )
            )
            kept_all.append(old_ids[i])
        changed_here: list[str] = []
        for pi, patch in enumerate(merged_patches):
            members = sorted(patch)
            parea = old_geoms[members[0]]
            for m in members[1:]:
                parea = glue(parea, old_geoms[m])
            if parea.geom_type != "Polygon":
                parea = max(shapely.get_parts(parea), key=lambda p: p.area)
            sel = np.flatnonzero(np.isin(prov, members))
            sub_nodes = type(nodes)(
                xy=nodes.xy[sel],
                w=nodes.w[sel],
                pop=nodes.pop[sel],
                bidx=nodes.bidx[sel],
                compound=nodes.compound[sel],
            )
            plines = lines.clip(parea) if len(lines) else lines
            plines = plines[~plines.geometry.is_empty] if len(plines) else plines
            patch_home = np.where(np.isin(home[sel], members), home[sel], -1)
            plan = _plan_area(
                parea,
                sub_nodes,
                _only_lines(plines),
                cfg,
                seed=community_seed(seed, cid) + pi,
                deadline=time.perf_counter() + limit,
                where=f"community {cid} (re-planned part)",
                home=patch_home,
                anchor_cost=_ANCHOR * T,
            )
            totals["cut"] += plan.cut_edges
            totals["edges"] += plan.edges
            totals["merged"] += plan.faces_merged
            flags.extend(plan.flags)
            # ids: match regions to old grids by shared households
            overlap = []
            for ri, reg in enumerate(plan.regions):
                hom = patch_home[reg.nodes]
                ws = sub_nodes.w[reg.nodes]
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
            fresh_idx = [ri for ri in range(len(plan.regions)) if ri not in code_of]
            fresh_codes = number_regions(
                [plan.regions[ri].geometry for ri in fresh_idx], cid, start=next_seq
            )
            next_seq += len(fresh_idx)
            for ri, code in zip(fresh_idx, fresh_codes, strict=True):
                code_of[ri] = code
            codes = [code_of[ri] for ri in range(len(plan.regions))]
            same = [
                code in index_of
                and set(sel[reg.nodes].tolist())
                == set(np.flatnonzero(prov == index_of[code]).tolist())
                for reg, code in zip(plan.regions, codes, strict=True)
            ]
            if all(same) and len(codes) == len(members):
                # nothing could be improved: keep these grids exactly as they were
                for reg, code in zip(plan.regions, codes, strict=True):
                    reg.geometry = old_geoms[index_of[code]]
            hh_r = [int(sub_nodes.w[r.nodes].sum()) for r in plan.regions]
            bflags = _region_flags(plan, codes, cfg, hh_r)
            bound_flags.extend(bflags)
            flags.extend(bflags)
            for reg, code, h in zip(plan.regions, codes, hh_r, strict=True):
                gl = sel[reg.nodes]
                grid_rows.append(
                    {
                        "grid_id": code,
                        "community_id": cid,
                        "households": h,
                        "population": round(float(nodes.pop[gl].sum()), 2),
                        "geometry": reg.geometry,
                    }
                )
                node_parts.append(
                    pd.DataFrame(
                        {
                            "row": pos[nodes.bidx[gl]],
                            "grid_id": code,
                            "households": nodes.w[gl],
                            "nodes": 1,
                        }
                    )
                )
            retired = [old_ids[m] for m in members if m not in used_old]
            names = ", ".join(old_ids[m] for m in members)
            why = "; ".join(f"{old_ids[m]} {reasons[m]}" for m in members if m in reasons)
            if all(same) and len(codes) == len(members):
                flags.append(
                    f"community {cid}: grids {names} ({why}) could not be improved by "
                    "re-planning and are kept as they were."
                )
                kept_all.extend(codes)
                continue
            flags.append(
                f"community {cid}: re-planned grids {names} ({why}) into "
                f"{', '.join(sorted(codes))}"
                + (f"; retired {', '.join(retired)}" if retired else "")
                + "."
            )
            for reg, code, is_same in zip(plan.regions, codes, same, strict=True):
                if not (is_same and reg.geometry.equals(old_geoms[index_of[code]])):
                    changed_here.append(code)
            changed_here.extend(r for r in retired if r not in changed_here)
        changed_all.extend(changed_here)
        rows_c = [r for r in grid_rows if r["community_id"] == cid]
        flags.extend(_heal_detached(rows_c, nodes.xy, cid))
        cg = gpd.GeoDataFrame(rows_c, geometry="geometry", crs=crs)
        per_comm[cid] = _metrics(
            cg,
            cfg,
            cut_edges=0,
            edges=0,
            faces=0,
            merged=0,
            contiguous=all(r["geometry"].geom_type == "Polygon" for r in rows_c),
            seconds=time.perf_counter() - t0,
        )
        per_comm[cid]["changed_grids"] = len(changed_here)
    res = _assemble(
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
    moved = _moved(old_of, res)
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


def _heal_detached(rows: list[dict[str, Any]], xy: np.ndarray, cid: str) -> list[str]:
    """Give each building-free piece cut off from its grid to the grid it touches most.

    A re-planned grid can inherit an empty piece of an old grid (land beyond a river) that
    touches none of the new grids of its patch, only a kept grid; left in place the grid would
    be two polygons. The piece joins the grid sharing most boundary with it (its households do
    not change). Returns one sentence per piece moved.
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
            if best < 0 or shared[best] <= 1e-3:
                keep.append(piece)
                continue
            rows[best]["geometry"] = glue(rows[best]["geometry"], piece)
            out.append(
                f"community {cid}: a building-free piece of grid {r['grid_id']} "
                f"({piece.area:.0f} m²) lies beyond a barrier from the rest of it and joins "
                f"grid {rows[best]['grid_id']}, which it touches."
            )
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


def _moved(old_of: dict[str, Any], res: PartitionResult) -> pd.DataFrame:
    bp = res.building_parts
    cols = ["building_id", "households", "old_grid_id", "new_grid_id"]
    if len(bp) == 0:
        return pd.DataFrame({c: [] for c in cols})
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
