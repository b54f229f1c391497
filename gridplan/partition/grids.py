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
   Last, every grid still beyond ±10 % of the target is *re-split* with two (or all) of its
   neighbours: their union is cut along random spanning trees into as many connected pieces,
   each cut separating a subtree that best fits a whole number of grids (a few towers that
   no two grids can share evenly often fit among three or four). A grid still below
   ``min_households`` is then merged with one or two neighbours and their union cut into one
   grid fewer when that lowers the penalty (a few big buildings can leave a cluster of
   under-full grids that no move fills while the face as a whole is balanced): the face then
   has one grid fewer than step 3 chose.
6. **Territories.** A grid's polygon is the union of its nodes' cells; cells tile the face and a
   grid's nodes are connected, so grids tile the community with one polygon each.
7. **Codes.** ``<community_id>-NNN`` numbered west→east within bands north→south.
8. **Size-forced grids.** A grid is *size-forced* when the indivisible nodes of its face group
   (buildings, or parts of buildings above ``max_households``) cannot make that group's number
   of grids all within ±10 % of the target, wherever the nodes lie, except that a node whose
   cell touches only one other node's cell counts as one with it when it is no grid alone
   (a packing check: totals, a node alone beyond +10 %, subset sums, then a bounded
   exhaustive search; see :func:`gridplan.partition.regions.sizes_allow`). Each
   community's metrics report the balance over the other grids:
   ``max_deviation_sizes_allow``, ``share_within_10pct_sizes_allow`` (and
   ``grids_size_forced``, ``size_forced_grids``, ``grids_within_10pct_sizes_allow``,
   ``grids_size_unproven``); :func:`gridplan.partition.result.size_summary` gives the
   plan-wide figures.

The same inputs and seed give the same plan (all ties are broken by ids); the time limit
(``grids.time_limit_s`` per community) only stops the local search early, and what is returned
is then the best plan found so far.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridplan.adjacency import barrier_lines, open_barrier_spans
from gridplan.partition.regions import (
    community_land,
    community_polygon,
    make_nodes,
    number_regions,
    plan_area,
    without_water,
)
from gridplan.partition.result import (
    PartitionResult,
    assemble,
    empty_grids,
    grid_metrics,
    plan_rows,
    prepare_inputs,
    region_flags,
)
from gridplan.settings import DEFAULT, Config

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = ["PartitionResult", "partition_grids"]

log = logging.getLogger(__name__)


def community_seed(seed: int, community_id: str) -> int:
    """The search seed of one community: from the plan seed and the community's id, never its
    position, so a community planned alone (``--communities``, a Dask worker, a batch) gets
    exactly the grids it gets among all the others."""
    return seed * 1000 + zlib.crc32(str(community_id).encode("utf-8")) % 100_003


@dataclass
class CommunityGrids:
    """The grids of one community, ready for :func:`gridplan.partition.result.assemble`."""

    rows: list[dict[str, Any]]  # grid rows (:func:`plan_rows`)
    parts: list[pd.DataFrame]  # building parts per node (:func:`plan_rows`)
    flags: list[str]  # every flag, bound flags included
    bound_flags: list[str]  # grids out of bounds
    metrics: dict[str, Any]  # :func:`grid_metrics` of the community
    totals: dict[str, int]  # cut, edges, faces, merged


def partition_community(
    buildings: gpd.GeoDataFrame,
    pos: np.ndarray,
    cid: str,
    geom: Any,
    *,
    roads: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    cfg: Config,
    seed: int,
    time_limit_s: float,
    crs: CRS | None,
) -> CommunityGrids:
    """Partition one community from scratch (steps 1–8 of the module docstring).

    ``pos`` are the row positions in ``buildings`` of the community's buildings, ``geom`` its
    polygon and ``seed`` the plan seed (the community's own comes from :func:`community_seed`).
    Also the re-plan of a community the old plan does not cover.
    """
    t0 = time.perf_counter()
    sub = buildings.iloc[pos]
    area, water_m2, dropped = community_land(community_polygon(geom, cid), sub, barriers)
    lines = barrier_lines(
        area,
        roads=roads,
        barriers=None if barriers is None else without_water(barriers),
        barrier_road_classes=cfg.grids.barrier_road_classes,
    )
    nodes = make_nodes(sub, cfg)
    plan = plan_area(
        area,
        nodes,
        lines,
        cfg,
        seed=community_seed(seed, cid),
        deadline=t0 + time_limit_s,
        where=f"community {cid}",
        crs=crs,
    )
    codes = number_regions([r.geometry for r in plan.regions], cid)
    rows, parts = plan_rows(plan, nodes, codes, community_id=cid, building_rows=pos)
    bflags = region_flags(plan, codes, cfg, [r["households"] for r in rows])
    open_flags = _open_barrier_flags(area, plan, codes, lines, nodes, cid)
    cg = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs) if rows else empty_grids(crs)
    contiguous = all(r.geometry.geom_type == "Polygon" for r in plan.regions)
    metrics = grid_metrics(
        cg,
        cfg,
        cut_edges=plan.cut_edges,
        edges=plan.edges,
        faces=plan.faces,
        merged=plan.faces_merged,
        contiguous=contiguous,
        seconds=time.perf_counter() - t0,
    )
    metrics["water_removed_m2"] = round(water_m2, 1)
    metrics["land_parts_dropped"] = dropped
    log.info("community %s: %d grids in %.2f s", cid, len(rows), time.perf_counter() - t0)
    return CommunityGrids(
        rows=rows,
        parts=parts,
        flags=plan.flags + open_flags + bflags,
        bound_flags=bflags,
        metrics=metrics,
        totals={
            "cut": plan.cut_edges,
            "edges": plan.edges,
            "faces": plan.faces,
            "merged": plan.faces_merged,
        },
    )


def _open_barrier_flags(
    area: Any, plan: Any, codes: list[str], lines: gpd.GeoDataFrame, nodes: Any, cid: str
) -> list[str]:
    """One sentence naming the grids that hold buildings on both sides of a barrier line
    that ends inside the community (:func:`gridplan.adjacency.open_barrier_spans`)."""
    label = np.full(len(nodes.xy), -1, dtype=np.int64)
    for k, region in enumerate(plan.regions):
        label[np.asarray(region.nodes, dtype=np.int64)] = k
    spans = open_barrier_spans(area, [r.geometry for r in plan.regions], lines, nodes.xy, label)
    if not spans:
        return []
    names = sorted(codes[k] for k, _kind, _m in spans)
    kinds = sorted({part for _k, kind, _m in spans for part in kind.split(", ") if part})
    longest = max(m for _k, _kind, m in spans)
    shown = ", ".join(names[:12]) + (f" … ({len(names)} grids)" if len(names) > 12 else "")
    return [
        f"community {cid}: {'grid' if len(names) == 1 else 'grids'} {shown} hold buildings on "
        f"both sides of a barrier ({', '.join(kinds) or 'barrier'}) that ends inside community "
        f"{cid}, so it separates no land and a grid may span it (up to {longest:.0f} m of it "
        "inside one grid). Fix: if it goes on in reality, extend it in the roads or barriers "
        "layer to the line it meets; else accept."
    ]


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
    prepare_inputs(buildings, communities)
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
        cg = partition_community(
            buildings,
            np.flatnonzero(b_comm == cid),
            cid,
            geom,
            roads=roads,
            barriers=barriers,
            cfg=cfg,
            seed=seed,
            time_limit_s=limit,
            crs=crs,
        )
        grid_rows.extend(cg.rows)
        node_grid_parts.extend(cg.parts)
        flags.extend(cg.flags)
        bound_flags.extend(cg.bound_flags)
        per_comm[cid] = cg.metrics
        for key, value in cg.totals.items():
            totals[key] += value

    return assemble(
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
