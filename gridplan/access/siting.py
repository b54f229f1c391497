"""Where new facilities would help most: maximal covering and set covering on the walk network.

For each facility category (and each tier listing it), the demand is the reachable residential
households the current facilities leave uncovered; a candidate site covers a household when the
walk between them (access at both ends included) fits in the tier's minutes. Candidates come
from the ``sites`` layer (``categories`` lists what a site may host; an empty list means any),
or, without one, from walk-network junctions thinned to one per ``candidate_spacing_m`` cell.

Two problems, solved by :mod:`gridplan.access.covering` (re-exported here):
:func:`solve_max_cover` chooses ``new_sites`` candidates covering the most households (maximal
covering), :func:`solve_set_cover` the fewest candidates reaching ``target_share`` of all
households (set covering). :func:`site_facilities` builds the demand and candidates per
category and tier and returns the recommended sites with objective, bound and gap.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from gridplan._errors import ConfigError, DataError
from gridplan.access.coverage import (
    CoverageResult,
    compute_coverage,
    profile_speed,
    residential_buildings,
    tier_code,
)
from gridplan.access.covering import CoverSolution, solve_max_cover, solve_set_cover
from gridplan.network.distances import iter_distance_pairs, node_distances
from gridplan.network.graph import WalkNetwork
from gridplan.network.snapping import SnapResult, snap_points
from gridplan.settings import DEFAULT, Config

__all__ = [
    "CoverSolution",
    "SitingResult",
    "candidate_coverage",
    "generate_candidates",
    "site_facilities",
    "solve_max_cover",
    "solve_set_cover",
]

log = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("max_cover", "set_cover")


@dataclass(frozen=True)
class SitingResult:
    """Recommended new sites.

    Attributes
    ----------
    sites
        site_id, category, tier, households_newly_covered (the site's marginal gain, taking the
        chosen sites in order of ``rank``; a category's rows sum to its objective), rank,
        geometry.
    metrics
        Per ``category`` (``category@tier`` when a category sits in several tiers): status,
        objective, bound, gap, time_s, heuristic_objective, candidates, demand points and
        households before and after.
    flags
        Sentences for the report.
    """

    sites: gpd.GeoDataFrame
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def generate_candidates(
    network: WalkNetwork,
    *,
    spacing_m: float = 100.0,
    near: SnapResult | None = None,
    radius_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites on the walk network, at most one per ``spacing_m`` square cell.

    The candidate points are the junctions plus points every ``spacing_m`` along each edge;
    in each cell the point nearest the cell centre is kept (junctions win ties).

    Parameters
    ----------
    network
        The walk network.
    spacing_m
        Cell size and spacing along edges, metres.
    near
        When given with ``radius_m``, only edges with an end within that walk of these points,
        or holding one of them, are used.
    radius_m
        Walk bound for ``near``.

    Returns
    -------
    geopandas.GeoDataFrame
        site_id (``G<x>_<y>``, the cell), categories (empty: any), geometry.
    """
    edges = np.arange(network.n_edges)
    if near is not None and radius_m is not None and network.n_nodes:
        d = node_distances(network, near, limit=radius_m)
        ok = np.isfinite(d[network.edge_u]) | np.isfinite(d[network.edge_v])
        ok[near.edge[near.reachable]] = True
        edges = edges[ok]
    if len(edges) == 0:
        return gpd.GeoDataFrame(
            {"site_id": pd.Series(dtype=str), "categories": pd.Series(dtype=str)},
            geometry=gpd.GeoSeries([], crs=network.crs),
            crs=network.crs,
        )
    nodes = np.unique(np.concatenate([network.edge_u[edges], network.edge_v[edges]]))
    length = network.edge_length[edges]
    steps = np.floor(length / spacing_m).astype(np.int64)
    inner = np.repeat(edges, steps)
    start = np.repeat(np.cumsum(steps) - steps, steps)
    along = (np.arange(len(inner)) - start + 1) * spacing_m
    inner_keep = along < network.edge_length[inner] - 1e-6
    mid = shapely.line_interpolate_point(
        network.edge_geometry[inner[inner_keep]], along[inner_keep]
    )
    xy = np.concatenate([network.xy[nodes], shapely.get_coordinates(mid)])
    is_node = np.concatenate([np.zeros(len(nodes)), np.ones(len(mid))])
    cell = np.floor(xy / spacing_m).astype(np.int64)
    centre = (cell + 0.5) * spacing_m
    d2 = np.round(((xy - centre) ** 2).sum(axis=1), 6)
    order = np.lexsort((xy[:, 1], xy[:, 0], is_node, d2, cell[:, 1], cell[:, 0]))
    cs = cell[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = (cs[1:] != cs[:-1]).any(axis=1)
    keep = order[first]
    return gpd.GeoDataFrame(
        {"site_id": [f"G{a}_{b}" for a, b in cell[keep]], "categories": ""},
        geometry=shapely.points(xy[keep]),
        crs=network.crs,
    )


def candidate_coverage(
    network: WalkNetwork,
    candidates: SnapResult,
    demand: SnapResult,
    radius_m: float,
    *,
    chunk: int = 64,
) -> sparse.csr_matrix:
    """Which candidates cover which demand points within ``radius_m`` of walking.

    Bounded Dijkstra from both ends of each candidate's edge (in chunks), access at both ends
    included, plus the direct walk along a shared edge.

    Returns
    -------
    scipy.sparse.csr_matrix
        0/1 matrix ``(n_demand, n_candidates)``.
    """
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for cand, dem, _ in iter_distance_pairs(
        network, candidates, demand, limit=radius_m, chunk=chunk
    ):
        rows.append(dem)
        cols.append(cand)
    r = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
    shape = (len(demand.edge), len(candidates.edge))
    inc = sparse.csr_matrix((np.ones(len(r), dtype=np.int32), (r, c)), shape=shape)
    inc.data[:] = 1  # pairs found via both ends were summed
    return sparse.csr_matrix(inc, dtype=np.int8)


# --------------------------------------------------------------------------- the stage


def _site_categories(sites: gpd.GeoDataFrame) -> list[set[str]]:
    if "categories" not in sites.columns:
        return [set() for _ in range(len(sites))]
    out: list[set[str]] = []
    for v in sites["categories"]:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append(set())
        else:
            out.append({s.strip() for s in str(v).split(";") if s.strip()})
    return out


def site_facilities(
    buildings: gpd.GeoDataFrame,
    coverage: CoverageResult | pd.DataFrame | None,
    network: WalkNetwork,
    *,
    sites: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    categories: list[str] | tuple[str, ...] | None = None,
    mode: str = "max_cover",
    target_share: float | None = None,
    new_sites: int | None = None,
    time_limit_s: float | None = None,
    profile: str | None = None,
    candidate_spacing_m: float | None = None,
) -> SitingResult:
    """Recommend new facility sites per category.

    Parameters
    ----------
    buildings
        Prepared ``buildings``.
    coverage
        Result of :func:`gridplan.access.coverage.compute_coverage` (or its ``coverage`` table);
        ``None`` computes it from ``facilities``.
    network
        The walk network.
    sites
        Candidate ``sites`` (site_id, categories, Point geometry); ``None`` generates
        candidates at network junctions (see :func:`generate_candidates`).
    facilities
        Existing facilities, used only when ``coverage`` is ``None``.
    config
        Settings (``siting`` and ``coverage`` sections).
    categories
        Categories to site; default every tier category with uncovered households.
    mode
        ``"max_cover"``: ``new_sites`` sites covering the most uncovered households;
        ``"set_cover"``: the fewest sites bringing coverage to ``target_share``.
    target_share
        Share of the category's residential households to cover in set-cover mode (default
        ``siting.target_share``; setting it selects set cover when ``mode`` is left default).
    new_sites
        Sites per category in max-cover mode (default ``siting.new_sites``).
    time_limit_s
        Solver limit per category (default ``siting.time_limit_s``).
    profile
        Walking-speed profile (default: the coverage result's, else ``standard``).
    candidate_spacing_m
        Cell size of generated candidates (default ``siting.candidate_spacing_m``).

    Returns
    -------
    SitingResult
        Chosen sites with ranks and marginal households, metrics per category, flags.

    Raises
    ------
    ConfigError
        An unknown mode, or set cover without a target share.
    DataError
        ``sites`` lacks ``site_id``.
    """
    cfg = config or DEFAULT
    spacing_m = (
        cfg.siting.candidate_spacing_m if candidate_spacing_m is None else candidate_spacing_m
    )
    mode, share = _siting_mode(cfg, mode, target_share)
    p = cfg.siting.new_sites if new_sites is None else int(new_sites)
    limit_s = cfg.siting.time_limit_s if time_limit_s is None else float(time_limit_s)
    cov, prof = _coverage_table(buildings, coverage, network, facilities, cfg, profile)
    speed = profile_speed(prof, cfg)
    res = residential_buildings(buildings)
    hh = pd.Series(res["households"].to_numpy(), index=res["building_id"].to_numpy())
    bsnap = snap_points(network, res.geometry, config=cfg)
    pos = pd.Series(np.arange(len(res)), index=res["building_id"].to_numpy())
    ctx = _Siting(
        network=network,
        cfg=cfg,
        cov=cov,
        hh=hh,
        pos=pos,
        bsnap=bsnap,
        speed=speed,
        mode=mode,
        share=share,
        new_sites=p,
        limit_s=limit_s,
        spacing_m=spacing_m,
        cand_all=_given_sites(sites),
    )
    pairs = _tier_pairs(cfg, categories)
    dup = {c for _, c in pairs if sum(1 for _, cc in pairs if cc == c) > 1}

    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    metrics: dict[str, Any] = {}
    flags: list[str] = []
    for t, c in pairs:
        key = f"{c}@{tier_code(t)}" if c in dup else c
        metrics[key] = _site_category(ctx, t, c, rows, geoms, flags)
    out = gpd.GeoDataFrame(
        pd.DataFrame(
            rows, columns=["site_id", "category", "tier", "households_newly_covered", "rank"]
        ),
        geometry=gpd.GeoSeries(geoms, crs=network.crs),
        crs=network.crs,
    )
    return SitingResult(sites=out, metrics=metrics, flags=flags)


def _siting_mode(cfg: Config, mode: str, target_share: float | None) -> tuple[str, float | None]:
    """The problem to solve and its target share.

    A target share (given, or in the settings) turns the default max cover into set cover.

    Parameters
    ----------
    cfg
        Settings (``siting.target_share``).
    mode
        The mode asked for.
    target_share
        The share asked for, or ``None``.

    Returns
    -------
    mode, share
        ``"max_cover"`` or ``"set_cover"``, and the target share (``None`` if there is none).

    Raises
    ------
    ConfigError
        An unknown mode, or set cover without a share in (0, 1].
    """
    if mode not in MODES:
        msg = f"siting mode {mode!r} is unknown; use one of {', '.join(MODES)}"
        raise ConfigError(msg)
    share = cfg.siting.target_share if target_share is None else target_share
    if target_share is not None and mode == "max_cover" and cfg.siting.target_share is None:
        mode = "set_cover"
    if cfg.siting.target_share is not None and target_share is None and mode == "max_cover":
        mode = "set_cover"
    if mode == "set_cover" and (share is None or not 0 < share <= 1):
        msg = f"siting: set covering needs a target_share in (0, 1], got {share!r}"
        raise ConfigError(msg)
    return mode, share


def _coverage_table(
    buildings: gpd.GeoDataFrame,
    coverage: CoverageResult | pd.DataFrame | None,
    network: WalkNetwork,
    facilities: gpd.GeoDataFrame | None,
    cfg: Config,
    profile: str | None,
) -> tuple[pd.DataFrame, str]:
    """The coverage table to site against, computed when not given, and the speed profile.

    Parameters
    ----------
    buildings
        Prepared buildings.
    coverage
        A coverage result, its ``coverage`` table, or ``None`` to compute it.
    network
        The walk network.
    facilities
        Existing facilities (only when ``coverage`` is ``None``).
    cfg
        Settings.
    profile
        The profile asked for, or ``None``.

    Returns
    -------
    coverage, profile
        The per-building, per-category coverage table and the walking-speed profile: the one
        asked for, else the coverage result's, else ``standard``.
    """
    if coverage is None:
        coverage = compute_coverage(
            buildings, facilities, network, config=cfg, profile=profile or "standard"
        )
    if isinstance(coverage, CoverageResult):
        return coverage.coverage, profile or str(coverage.metrics.get("profile", "standard"))
    return coverage, profile or "standard"


def _given_sites(sites: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The candidate sites given, by id, or ``None`` to generate candidates.

    Parameters
    ----------
    sites
        The ``sites`` layer, or ``None``.

    Returns
    -------
    geopandas.GeoDataFrame or None
        The sites with string ids sorted by id; ``None`` when there are none.

    Raises
    ------
    DataError
        ``sites`` lacks ``site_id``.
    """
    if sites is None or not len(sites):
        return None
    if "site_id" not in sites.columns:
        msg = "sites: column site_id missing; give each candidate site an id"
        raise DataError(msg)
    return sites.assign(site_id=sites["site_id"].astype(str)).sort_values("site_id", kind="stable")


def _tier_pairs(
    cfg: Config, categories: list[str] | tuple[str, ...] | None
) -> list[tuple[int, str]]:
    """The (tier minutes, category) pairs to site, in tier order.

    Parameters
    ----------
    cfg
        Settings (``coverage.tiers``).
    categories
        Categories asked for, or ``None`` for every tier category.

    Returns
    -------
    list of (int, str)
        One pair per category and tier listing it.

    Raises
    ------
    ConfigError
        A category asked for is in no tier.
    """
    pairs = [(int(t), str(c)) for t, cats in sorted(cfg.coverage.tiers.items()) for c in cats]
    if categories is not None:
        wanted = [str(c) for c in categories]
        unknown = sorted(set(wanted) - {c for _, c in pairs})
        if unknown:
            msg = f"siting: categories {', '.join(unknown)} are in no coverage tier; add them to "
            msg += "[coverage.tiers] or leave them out"
            raise ConfigError(msg)
        pairs = [(t, c) for t, c in pairs if c in wanted]
    return pairs


@dataclass(frozen=True)
class _Siting:
    """What every category's siting shares.

    Attributes
    ----------
    network
        The walk network.
    cfg
        Settings.
    cov
        Coverage table (building_id, tier, category, reachable, covered).
    hh
        Households by residential building id.
    pos
        Row of each residential building in ``bsnap``, by id.
    bsnap
        The residential buildings snapped to the network.
    speed
        Walking speed, metres a minute.
    mode
        ``"max_cover"`` or ``"set_cover"``.
    share
        Target share of set cover.
    new_sites
        Sites per category in max cover.
    limit_s
        Solver time limit per category, seconds.
    spacing_m
        Cell size of generated candidates, metres.
    cand_all
        The given candidate sites, or ``None`` to generate them.
    """

    network: WalkNetwork
    cfg: Config
    cov: pd.DataFrame
    hh: pd.Series
    pos: pd.Series
    bsnap: SnapResult
    speed: float
    mode: str
    share: float | None
    new_sites: int
    limit_s: float
    spacing_m: float
    cand_all: gpd.GeoDataFrame | None


def _site_category(
    ctx: _Siting,
    t: int,
    c: str,
    rows: list[dict[str, Any]],
    geoms: list[Any],
    flags: list[str],
) -> dict[str, Any]:
    """Site one category of one tier: its demand, candidates, the solve and the chosen sites.

    Parameters
    ----------
    ctx
        What every category shares.
    t
        The tier, minutes.
    c
        The category.
    rows
        Chosen site rows so far; this category's are appended.
    geoms
        Their points; this category's are appended.
    flags
        Report sentences so far; this category's are appended.

    Returns
    -------
    dict
        The category's metrics.
    """
    code = tier_code(t)
    block = ctx.cov[(ctx.cov["tier"] == code) & (ctx.cov["category"] == c)]
    bid = block["building_id"].astype(str).to_numpy()
    total_hh = int(ctx.hh.reindex(bid).fillna(0).sum())
    covered_hh = int(ctx.hh.reindex(bid[block["covered"].to_numpy(bool)]).fillna(0).sum())
    dem_mask = block["reachable"].to_numpy(bool) & ~block["covered"].to_numpy(bool)
    dem_ids = bid[dem_mask]
    dem_ids = dem_ids[np.isin(dem_ids, ctx.pos.index)]
    w = ctx.hh.reindex(dem_ids).to_numpy(dtype=np.int64)
    radius = t * ctx.speed
    entry: dict[str, Any] = {
        "tier": code,
        "mode": ctx.mode,
        "households": total_hh,
        "households_covered_before": covered_hh,
        "households_demand": int(w.sum()),
        "demand_points": len(dem_ids),
    }
    if w.sum() == 0 and ctx.mode == "max_cover":
        entry.update(
            status="nothing_to_cover",
            objective=0,
            bound=0,
            gap=0.0,
            time_s=0.0,
            heuristic_objective=0,
            candidates=0,
            households_newly_covered=0,
        )
        return entry
    dsnap = _take(ctx.bsnap, ctx.pos.reindex(dem_ids).to_numpy())
    cand = _category_candidates(ctx, c, dsnap, radius)
    csnap = snap_points(ctx.network, cand.geometry, config=ctx.cfg)
    t0 = time.perf_counter()
    inc = candidate_coverage(ctx.network, csnap, dsnap, radius)
    t_cov = time.perf_counter() - t0
    entry["candidates"] = len(cand)
    entry["coverage_matrix_s"] = round(t_cov, 4)
    sol = _solve(ctx, w, inc, total_hh, covered_hh)
    if sol.status == "infeasible" and ctx.mode != "max_cover":
        reach = int(w[np.asarray(inc.sum(axis=1)).ravel() > 0].sum())
        flags.append(
            f"{c} ({code}): even all {len(cand)} candidate sites bring coverage "
            f"only to {(covered_hh + reach) / max(total_hh, 1):.0%} of households, short "
            f"of the {ctx.share:.0%} target; add candidate sites or lower target_share"
        )
    entry.update(
        status=sol.status,
        objective=_num(sol.objective),
        bound=_num(sol.bound),
        gap=_num(sol.gap),
        time_s=round(sol.time_s, 4),
        heuristic_objective=_num(sol.heuristic_objective),
    )
    newly = int(sol.gains.sum())
    entry["households_newly_covered"] = newly
    entry["share_before"] = round(covered_hh / max(total_hh, 1), 6)
    entry["share_after"] = round((covered_hh + newly) / max(total_hh, 1), 6)
    if sol.status not in ("optimal", "trivial", "infeasible"):
        flags.append(
            f"{c} ({code}): the site choice is not proven best within "
            f"{ctx.limit_s:g} s (gap {sol.gap:.1%}); raise [siting] time_limit_s"
        )
    for rank, (j, g) in enumerate(zip(sol.chosen, sol.gains, strict=True), start=1):
        rows.append(
            {
                "site_id": str(cand["site_id"].iloc[int(j)]),
                "category": c,
                "tier": code,
                "households_newly_covered": int(g),
                "rank": rank,
            }
        )
        geoms.append(_point(cand.geometry.iloc[int(j)]))
    return entry


def _category_candidates(
    ctx: _Siting, c: str, dsnap: SnapResult, radius: float
) -> gpd.GeoDataFrame:
    """Candidate sites for one category: the given sites allowing it, or generated ones.

    Parameters
    ----------
    ctx
        What every category shares.
    c
        The category.
    dsnap
        The demand buildings, snapped.
    radius
        The tier's walk, metres (generated candidates lie within it of the demand).

    Returns
    -------
    geopandas.GeoDataFrame
        site_id, categories, geometry.
    """
    if ctx.cand_all is None:
        return generate_candidates(
            ctx.network, spacing_m=ctx.spacing_m, near=dsnap, radius_m=radius
        )
    allowed = _site_categories(ctx.cand_all)
    ok = np.array([not s or c in s for s in allowed], dtype=bool)
    return ctx.cand_all.loc[ok]


def _solve(
    ctx: _Siting, w: np.ndarray, inc: sparse.csr_matrix, total_hh: int, covered_hh: int
) -> CoverSolution:
    """Maximal covering or set covering of one category's demand.

    Parameters
    ----------
    ctx
        What every category shares (mode, share, new_sites, limit, seed).
    w
        Households of each demand point.
    inc
        Which candidates cover which demand points.
    total_hh
        The category's residential households.
    covered_hh
        Those already covered.

    Returns
    -------
    CoverSolution
        The chosen candidates in order, their gains, objective and bound.
    """
    if ctx.mode == "max_cover":
        return solve_max_cover(w, inc, ctx.new_sites, time_limit_s=ctx.limit_s, seed=ctx.cfg.seed)
    assert ctx.share is not None
    need = ctx.share * total_hh - covered_hh
    return solve_set_cover(w, inc, need, time_limit_s=ctx.limit_s, seed=ctx.cfg.seed)


def _point(geom: shapely.Geometry) -> shapely.Geometry:
    return geom if geom.geom_type == "Point" else shapely.point_on_surface(geom)


def _num(v: float) -> float | int | None:
    if v is None or not math.isfinite(v):
        return None
    return int(v) if float(v).is_integer() else round(float(v), 6)


def _take(snap: SnapResult, idx: np.ndarray) -> SnapResult:
    return SnapResult(
        index=snap.index[idx],
        edge=snap.edge[idx],
        node_u=snap.node_u[idx],
        node_v=snap.node_v[idx],
        along_m=snap.along_m[idx],
        access_m=snap.access_m[idx],
        offset_u=snap.offset_u[idx],
        offset_v=snap.offset_v[idx],
        reachable=snap.reachable[idx],
        component=snap.component[idx],
        moved=snap.moved[idx],
    )
