"""Grids: input checks, flags, metrics and the assembled result of a partition."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import DataError, InfeasibleError
from gridplan._text import bullets
from gridplan.partition.regions import AreaPlan, Nodes
from gridplan.settings import Config

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = [
    "PartitionResult",
    "assemble",
    "building_parts_table",
    "empty_grids",
    "grid_metrics",
    "plan_rows",
    "prepare_inputs",
    "region_flags",
    "size_summary",
]


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
        grids, the grid holding most of its households) and ``grid_ids`` (every grid holding
        households of it, a ``;``-list in grid order; the ``grid_id`` alone for a building in
        one grid).
    metrics
        JSON-serialisable plan quality: households per grid, balance shares, compactness, cut
        edges, faces, merges, contiguity, time, and the same per community; each community's
        metrics also give the balance where building sizes allow (``max_deviation_sizes_allow``,
        ``share_within_10pct_sizes_allow``, ``grids_size_forced``, ``size_forced_grids``; see
        :func:`size_summary` for the plan-wide figures).
    flags
        Sentences for the report: grids out of bounds (reason and fix), faces merged.
    building_parts
        One row per building and grid it has households in: building_id, grid_id, households,
        share, entrance, floor_from, floor_to (``Int64``; missing for a whole building). A
        building split over grids (more households than ``grids.max_households``) has one row
        per grid and entrance it has households in, with the floors of that entrance the grid
        holds (a floor is shared by two rows only where a part boundary falls inside it; the
        entrance is missing when the building's entrances are unknown, the floors when its
        floors and height are); rows of a building sum to its households.
    """

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    metrics: dict[str, Any]
    flags: list[str]
    building_parts: pd.DataFrame = field(default_factory=pd.DataFrame)


def prepare_inputs(
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


def plan_rows(
    plan: AreaPlan,
    nodes: Nodes,
    codes: list[str],
    *,
    community_id: str,
    building_rows: np.ndarray,
) -> tuple[list[dict[str, Any]], list[pd.DataFrame]]:
    """Grid rows and building parts of the regions of an :class:`AreaPlan`.

    Used by :func:`gridplan.partition.partition_grids` for a community and by
    :func:`gridplan.partition.replan_grids` for a re-planned patch, so both give grids the same
    columns: grid_id, community_id, households, population, geometry, and ``size_forced`` /
    ``size_unproven`` from the plan's :attr:`AreaPlan.group_sizes_allow` of the region's face
    group (``False`` → size-forced, ``None`` → unproven).

    Parameters
    ----------
    plan
        The planned area; its regions' ``nodes`` index ``nodes``.
    nodes
        The nodes the area was planned with.
    codes
        The grid id of each region, in the order of ``plan.regions``.
    community_id
        The community of every row.
    building_rows
        Row position in the full buildings frame of each building of ``nodes.bidx``.

    Returns
    -------
    rows, parts
        One dict per region (as in :func:`assemble`'s ``grid_rows``) and one frame per region
        with row, grid_id, households and nodes (1) per node (``node_grid_parts``).
    """
    rows: list[dict[str, Any]] = []
    parts: list[pd.DataFrame] = []
    for reg, code in zip(plan.regions, codes, strict=True):
        allow = plan.group_sizes_allow.get(reg.group)
        rows.append(
            {
                "grid_id": code,
                "community_id": community_id,
                "households": int(nodes.w[reg.nodes].sum()),
                "population": round(float(nodes.pop[reg.nodes].sum()), 2),
                "geometry": reg.geometry,
                "size_forced": allow is False,
                "size_unproven": allow is None,
            }
        )
        parts.append(
            pd.DataFrame(
                {
                    "row": building_rows[nodes.bidx[reg.nodes]],
                    "grid_id": code,
                    "households": nodes.w[reg.nodes],
                    "nodes": 1,
                    **nodes.place(reg.nodes),
                }
            )
        )
    return rows, parts


def region_flags(plan: AreaPlan, codes: list[str], cfg: Config, households: list[int]) -> list[str]:
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


def grid_metrics(
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
    if "size_forced" in grids:
        out.update(_size_metrics(grids, T))
    return out


def _size_metrics(grids: pd.DataFrame, target: float) -> dict[str, Any]:
    """Balance where building sizes allow: over the grids that are not size-forced.

    A grid is *size-forced* when the indivisible nodes (buildings, or parts of buildings above
    ``max_households``) of its face group cannot make that group's number of grids all within
    ±10 % of the target, wherever they lie (but a node enclosed by one neighbour's cell counts
    as one with it; :func:`gridplan.partition.regions.sizes_allow`).
    """
    h = grids["households"].to_numpy(dtype=float)
    forced = grids["size_forced"].fillna(False).to_numpy(dtype=bool)
    unproven = (
        grids["size_unproven"].fillna(False).to_numpy(dtype=bool)
        if "size_unproven" in grids
        else np.zeros(len(h), dtype=bool)
    )
    T = float(target)
    free = h[~forced]
    ok = np.abs(free - T) <= 0.1 * T
    return {
        "grids_size_forced": int(forced.sum()),
        "size_forced_grids": sorted(grids.loc[forced, "grid_id"].astype(str).tolist()),
        "grids_size_unproven": int(unproven.sum()),
        "grids_within_10pct_sizes_allow": int(ok.sum()),
        # no grid left to judge: no figure (a share over no grids is not 100 %)
        "max_deviation_sizes_allow": round(float(np.abs(free - T).max() / T), 4)
        if len(free)
        else None,
        "share_within_10pct_sizes_allow": round(float(ok.mean()), 4) if len(free) else None,
    }


def size_summary(per_community: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The plan-wide "where building sizes allow" figures from the per-community metrics.

    Parameters
    ----------
    per_community
        ``metrics["communities"]`` of a partition (community id → its metrics).

    Returns
    -------
    dict
        ``grids_size_forced``, ``size_forced_grids``, ``grids_size_unproven``,
        ``grids_within_10pct_sizes_allow``, ``max_deviation_sizes_allow`` and
        ``share_within_10pct_sizes_allow`` over all communities (a community whose metrics
        lack the size check, such as one of a plan made before it existed, counts as not
        forced; partitions and re-plans both check every grid). The last two are ``None`` when
        every grid is size-forced: there is no grid to judge, and the report shows "–".
    """
    grids = forced = unproven = ok = 0
    worst: float | None = None
    ids: list[str] = []
    for cid in sorted(per_community):
        m = per_community[cid]
        n = int(m.get("grids", 0))
        f = int(m.get("grids_size_forced", 0))
        grids += n
        forced += f
        unproven += int(m.get("grids_size_unproven", 0))
        ids.extend(m.get("size_forced_grids", []))
        if "grids_within_10pct_sizes_allow" in m:
            ok += int(m["grids_within_10pct_sizes_allow"])
            dev = m["max_deviation_sizes_allow"]
        else:
            ok += round(float(m.get("share_within_10pct", 1.0)) * n)
            dev = m.get("max_deviation", 0.0) if n else None
        if dev is not None:
            worst = max(worst or 0.0, float(dev))
    free = grids - forced
    return {
        "grids_size_forced": forced,
        "size_forced_grids": sorted(ids),
        "grids_size_unproven": unproven,
        "grids_within_10pct_sizes_allow": ok,
        "max_deviation_sizes_allow": None if worst is None or not free else round(worst, 4),
        "share_within_10pct_sizes_allow": round(ok / free, 4) if free else None,
    }


def empty_grids(crs: CRS | None) -> gpd.GeoDataFrame:
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


def assemble(
    buildings: gpd.GeoDataFrame,
    grid_rows: list[dict[str, Any]],
    node_grid_parts: list[pd.DataFrame],
    flags: list[str],
    per_comm: dict[str, Any],
    totals: dict[str, int],
    cfg: Config,
    *,
    crs: CRS | None,
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
        held = agg[agg["households"] > 0].sort_values(["row", "grid_id"], kind="stable")
        lists = held.groupby("row")["grid_id"].agg(";".join)
        ids_col = pd.Series(
            lists.reindex(range(len(buildings))).to_numpy(), index=buildings.index, dtype=object
        )
        ids_col = ids_col.where(ids_col.notna(), grid_col)
        bp = building_parts_table(parts, buildings)
    else:
        grid_col = pd.Series([None] * len(buildings), index=buildings.index, dtype=object)
        ids_col = grid_col.copy()
        bp = building_parts_table(None, buildings)
    out_b["grid_id"] = grid_col.astype(object)
    out_b["grid_ids"] = ids_col.astype(object)
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
        grids = empty_grids(crs)
    contiguous = all(m["contiguity_ok"] for m in per_comm.values())
    metrics = grid_metrics(
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
    metrics.update(size_summary(per_comm))
    if cfg.grids.strict and bound_flags:
        msg = (
            f"partition: {len(bound_flags)} grid(s) out of bounds and grids.strict is on"
            f" (--strict; without it they are warnings):{bullets(bound_flags)}"
        )
        raise InfeasibleError(msg)
    return PartitionResult(
        grids=grids, buildings=out_b, metrics=metrics, flags=flags, building_parts=bp
    )


def building_parts_table(parts: pd.DataFrame | None, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """The ``building_parts`` of a partition from its node parts.

    Parameters
    ----------
    parts
        One row per node: row (position in ``buildings``), grid_id, households, and entrance,
        floor_from, floor_to (0 when unknown or for a whole building); ``None`` for none.
    buildings
        The partitioned buildings (building_id, households).

    Returns
    -------
    pandas.DataFrame
        building_id, grid_id, households, share, entrance, floor_from, floor_to, sorted by
        building, grid, entrance and floor (see :attr:`PartitionResult.building_parts`).
    """
    cols = ["building_id", "grid_id", "households", "share", "entrance", "floor_from", "floor_to"]
    if parts is None or not len(parts):
        out = pd.DataFrame({c: [] for c in cols})
        for c in ("entrance", "floor_from", "floor_to"):
            out[c] = out[c].astype("Int64")
        return out.astype({"households": "int64", "share": float})
    p = parts.copy()
    for c in ("entrance", "floor_from", "floor_to"):
        if c not in p:
            p[c] = 0
    nodes_per_row = p.groupby("row")["grid_id"].transform("nunique")
    split = (nodes_per_row > 1).to_numpy()
    # whole buildings (in one grid): one row each, no entrance or floors
    whole = pd.DataFrame(
        p[~split].groupby(["row", "grid_id"], sort=True, as_index=False)["households"].sum()
    )
    whole[["entrance", "floor_from", "floor_to"]] = 0
    # parts of split buildings: consecutive floors of one entrance in one grid join
    segs: list[tuple[int, str, int, int, int, int]] = []
    sp = p[split].sort_values(["row", "grid_id", "entrance", "floor_from", "floor_to"])
    for key, grp in sp.groupby(["row", "grid_id", "entrance"], sort=True):
        k: tuple[Any, ...] = tuple(key)
        row, gid, ent = int(k[0]), str(k[1]), int(k[2])
        cur: list[int] | None = None
        for f0, f1, h in zip(grp["floor_from"], grp["floor_to"], grp["households"], strict=True):
            f0, f1, h = int(f0), int(f1), int(h)
            if cur is not None and (f0 == 0 or f0 <= cur[1] + 1):
                cur[1] = max(cur[1], f1)
                cur[2] += h
                continue
            if cur is not None:
                segs.append((row, gid, ent, cur[0], cur[1], cur[2]))
            cur = [f0, f1, h]
        if cur is not None:
            segs.append((row, gid, ent, cur[0], cur[1], cur[2]))
    seg = pd.DataFrame(
        segs, columns=["row", "grid_id", "entrance", "floor_from", "floor_to", "households"]
    )
    allp: pd.DataFrame = pd.concat([whole, seg], ignore_index=True)
    rows = allp["row"].to_numpy(dtype=np.int64)
    bid = buildings["building_id"].astype(str).to_numpy()
    tot = buildings["households"].fillna(0).astype("int64").to_numpy()
    out = pd.DataFrame(
        {
            "building_id": bid[rows],
            "grid_id": allp["grid_id"].astype(str).to_numpy(),
            "households": allp["households"].to_numpy().astype("int64"),
        }
    )
    denom = tot[rows]
    out["share"] = np.where(denom > 0, out["households"] / np.maximum(denom, 1), 1.0)
    for c in ("entrance", "floor_from", "floor_to"):
        v = allp[c].to_numpy(dtype=np.int64)
        out[c] = pd.array([None if x <= 0 else int(x) for x in v.tolist()], dtype="Int64")
    out = out.sort_values(
        ["building_id", "grid_id", "entrance", "floor_from"], kind="stable", na_position="first"
    )
    return out.reset_index(drop=True)[cols]
