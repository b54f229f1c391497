"""Where new facilities would help most: maximal covering and set covering on the walk network.

For each facility category (and each tier listing it), the demand is the reachable residential
households the current facilities leave uncovered; a candidate site covers a household when the
walk between them (access at both ends included) fits in the tier's minutes. Candidates come
from the ``sites`` layer (``categories`` lists what a site may host; an empty list means any),
or, without one, from walk-network junctions thinned to one per ``candidate_spacing_m`` cell.

Two problems, one function each:

- :func:`solve_max_cover`: choose ``new_sites`` candidates covering the most households
  (maximal covering location problem);
- :func:`solve_set_cover`: the fewest candidates covering a household total (used to reach
  ``target_share`` of all households).

Both run a greedy heuristic first, then OR-Tools CP-SAT warm-started with it, under a time
limit, and report status, objective, proven bound and gap. Demand points with the same set of
covering candidates are merged first, which shrinks real instances many times over.

Example
-------
>>> import numpy as np
>>> from scipy import sparse
>>> a = sparse.csr_matrix(np.array([[1, 0], [1, 0], [0, 1]]))  # demand x candidate
>>> sol = solve_max_cover(np.array([5, 5, 3]), a, 1)
>>> sol.chosen.tolist(), int(sol.objective), sol.status
([0], 10, 'optimal')
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
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model
from scipy import sparse

from gridplan._errors import ConfigError, DataError
from gridplan.coverage import (
    CoverageResult,
    compute_coverage,
    profile_speed,
    residential_buildings,
    tier_label,
)
from gridplan.network import (
    SnapResult,
    WalkNetwork,
    iter_distance_pairs,
    node_distances,
    snap_points,
)
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


@dataclass(frozen=True)
class CoverSolution:
    """A solved covering problem.

    Attributes
    ----------
    chosen
        Chosen candidate columns, in greedy order of marginal gain.
    gains
        Marginal weight each chosen candidate adds in that order.
    objective
        Weight covered (max cover) or number of sites (set cover).
    bound
        Proven bound on the objective.
    gap
        Relative gap between objective and bound.
    status
        ``optimal``, ``feasible``, ``infeasible`` or ``trivial``.
    heuristic_objective
        The greedy warm start's objective.
    time_s
        Wall time.
    """

    chosen: np.ndarray
    gains: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    heuristic_objective: float
    time_s: float


# --------------------------------------------------------------------------- solvers


def _merge_demand(
    weights: np.ndarray, incidence: sparse.csr_matrix
) -> tuple[np.ndarray, sparse.csr_matrix]:
    """Merge demand rows with identical candidate sets; drop rows no candidate covers."""
    inc = sparse.csr_matrix(incidence, dtype=np.int8)
    inc.sum_duplicates()
    inc.sort_indices()
    groups: dict[bytes, int] = {}
    gid = np.full(inc.shape[0], -1, dtype=np.int64)
    for i in range(inc.shape[0]):
        lo, hi = inc.indptr[i], inc.indptr[i + 1]
        if hi == lo or weights[i] <= 0:
            continue
        key = inc.indices[lo:hi].tobytes()
        gid[i] = groups.setdefault(key, len(groups))
    keep = gid >= 0
    w = np.bincount(gid[keep], weights=weights[keep], minlength=len(groups))
    first = np.full(len(groups), -1, dtype=np.int64)
    rows = np.flatnonzero(keep)
    first[gid[rows[::-1]]] = rows[::-1]
    merged = inc[first] if len(groups) else sparse.csr_matrix((0, inc.shape[1]), dtype=np.int8)
    return np.rint(w).astype(np.int64), sparse.csr_matrix(merged)


def _greedy(
    w: np.ndarray, inc: sparse.csr_matrix, *, p: int | None = None, need: float | None = None
) -> tuple[list[int], list[int]]:
    """Greedy by marginal weight (ties: lowest column) until ``p`` sites or ``need`` is met."""
    csc = inc.tocsc()
    gain = np.asarray(inc.T @ w, dtype=np.int64).ravel()
    alive = np.ones(inc.shape[0], dtype=bool)
    chosen: list[int] = []
    gains: list[int] = []
    total = 0
    while True:
        if p is not None and len(chosen) >= p:
            break
        if need is not None and total >= need:
            break
        j = int(np.argmax(gain)) if len(gain) else -1
        if j < 0 or gain[j] <= 0:
            break
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        rows = rows[alive[rows]]
        alive[rows] = False
        if len(rows):
            gain -= np.asarray(inc[rows].T @ w[rows], dtype=np.int64).ravel()
        chosen.append(j)
        gains.append(int(w[rows].sum()))
        total += int(w[rows].sum())
    return chosen, gains


def _order_by_gain(
    w: np.ndarray, inc: sparse.csr_matrix, chosen: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Order chosen columns greedily by marginal gain; return columns and gains."""
    if not chosen:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    sub = inc[:, sorted(chosen)]
    cols = np.array(sorted(chosen))
    order, gains = _greedy(w, sparse.csr_matrix(sub), p=len(chosen))
    picked = list(cols[order])
    rest = [c for c in cols if c not in set(picked)]
    return np.array(picked + rest, dtype=np.int64), np.array(
        gains + [0] * len(rest), dtype=np.int64
    )


def _solver(time_limit_s: float, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = int(seed)
    solver.parameters.linearization_level = 2
    return solver


def _status(code: Any) -> str:
    if code == cp_model.OPTIMAL:
        return "optimal"
    if code == cp_model.FEASIBLE:
        return "feasible"
    if code == cp_model.INFEASIBLE:
        return "infeasible"
    return "unknown"


def _lp_relaxation(
    w: np.ndarray,
    inc: sparse.csr_matrix,
    *,
    p: int | None = None,
    need: int | None = None,
    time_limit_s: float = 10.0,
) -> tuple[float, np.ndarray] | None:
    """LP relaxation (GLOP) of max cover (``p``) or set cover (``need``): value and x."""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover - GLOP ships with OR-Tools
        return None
    solver.SetTimeLimit(max(int(time_limit_s * 1000), 1))
    n, m = inc.shape
    inf = solver.infinity()
    x = [solver.NumVar(0.0, 1.0, "") for _ in range(m)]
    y = [solver.NumVar(0.0, 1.0, "") for _ in range(n)]
    for g in range(n):
        row = solver.Constraint(-inf, 0.0)
        row.SetCoefficient(y[g], 1.0)
        for col in inc.indices[inc.indptr[g] : inc.indptr[g + 1]]:
            row.SetCoefficient(x[int(col)], -1.0)
    objective = solver.Objective()
    if p is not None:
        budget = solver.Constraint(0.0, float(p))
        for var in x:
            budget.SetCoefficient(var, 1.0)
        for g in range(n):
            objective.SetCoefficient(y[g], float(w[g]))
        objective.SetMaximization()
    else:
        cover = solver.Constraint(float(need or 0), inf)
        for g in range(n):
            cover.SetCoefficient(y[g], float(w[g]))
        for var in x:
            objective.SetCoefficient(var, 1.0)
        objective.SetMinimization()
    if solver.Solve() != pywraplp.Solver.OPTIMAL:
        return None
    return float(objective.Value()), np.array([var.solution_value() for var in x])


def _integral(xs: np.ndarray) -> list[int] | None:
    if np.all(np.abs(xs - np.round(xs)) < 1e-6):
        return [int(j) for j in np.flatnonzero(xs > 0.5)]
    return None


def _cp_model(
    w: np.ndarray, inc: sparse.csr_matrix, hint: list[int]
) -> tuple[cp_model.CpModel, dict[int, Any], list[Any]]:
    used = np.flatnonzero(np.asarray(inc.sum(axis=0)).ravel() > 0)
    model = cp_model.CpModel()
    x = {int(j): model.new_bool_var(f"x{j}") for j in used}
    y = [model.new_bool_var(f"y{g}") for g in range(inc.shape[0])]
    for g in range(inc.shape[0]):
        cols = inc.indices[inc.indptr[g] : inc.indptr[g + 1]]
        model.add_bool_or([x[int(j)] for j in cols] + [~y[g]])
    hset = set(hint)
    covered = _covered_rows(inc, hint)
    for j, var in x.items():
        model.add_hint(var, j in hset)
    for g, var in enumerate(y):
        model.add_hint(var, bool(covered[g]))
    return model, x, y


def solve_max_cover(
    weights: np.ndarray,
    incidence: sparse.spmatrix,
    p: int,
    *,
    time_limit_s: float = 10.0,
    seed: int = 0,
) -> CoverSolution:
    """Maximal covering: choose at most ``p`` candidates covering the most weight.

    Greedy first; then the LP relaxation (GLOP), which is often integral on geographic
    instances and then proves the optimum at once; otherwise CP-SAT, warm-started with the
    best solution so far and capped by the LP bound, until the time limit.

    Parameters
    ----------
    weights
        Demand weights (households), non-negative integers, shape ``(n_demand,)``.
    incidence
        Sparse 0/1 matrix ``(n_demand, n_candidates)``: candidate j covers demand i.
    p
        Sites to choose.
    time_limit_s
        Wall-clock limit for the whole solve.
    seed
        Solver seed (the search is single-worker, hence deterministic).

    Returns
    -------
    CoverSolution
        Chosen columns of ``incidence`` with objective, bound and gap.
    """
    t0 = time.perf_counter()
    w_in = np.rint(np.asarray(weights, dtype=float)).astype(np.int64)
    w, inc = _merge_demand(w_in, sparse.csr_matrix(incidence))
    greedy, _ = _greedy(w, inc, p=p)
    heur = int(_covered_weight(w, inc, greedy).sum())
    total = int(w.sum())
    pick, best, bound = greedy, heur, total
    status = "feasible"
    if p > 0 and inc.shape[0] and heur < total:
        lp = _lp_relaxation(w, inc, p=p, time_limit_s=time_limit_s)
        if lp is not None:
            bound = min(bound, math.floor(lp[0] + 1e-6))
            cols = _integral(lp[1])
            if cols is not None and len(cols) <= p:
                value = int(_covered_weight(w, inc, cols).sum())
                if value > best:
                    pick, best = cols, value
        left = time_limit_s - (time.perf_counter() - t0)
        if best < bound and left > 0.05:
            model, x, y = _cp_model(w, inc, pick)
            model.add(sum(x.values()) <= p)
            gain = sum(int(w[g]) * y[g] for g in range(len(y)))
            model.add(gain <= bound)
            model.maximize(gain)
            solver = _solver(left, seed)
            code = solver.solve(model)
            if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                cols = [j for j, var in x.items() if solver.value(var)]
                value = int(_covered_weight(w, inc, cols).sum())
                if value > best:
                    pick, best = cols, value
                bound = min(bound, math.floor(solver.best_objective_bound + 1e-6))
            elif code == cp_model.INFEASIBLE:  # nothing beats the LP-capped model
                bound = best
    bound = max(bound, best)
    if best >= bound:
        status = "optimal"
    chosen, gains = _order_by_gain(w, inc, pick)
    gap = 0.0 if bound <= 0 else (bound - best) / bound
    return CoverSolution(
        chosen, gains, float(best), float(bound), gap, status, float(heur), time.perf_counter() - t0
    )


def solve_set_cover(
    weights: np.ndarray,
    incidence: sparse.spmatrix,
    need: float,
    *,
    time_limit_s: float = 10.0,
    seed: int = 0,
) -> CoverSolution:
    """Set covering: the fewest candidates covering at least ``need`` weight.

    Greedy first, then the LP relaxation (GLOP) for a bound, then CP-SAT warm-started with
    the best solution so far when the LP does not settle it.

    Parameters
    ----------
    weights
        Demand weights (households).
    incidence
        Sparse 0/1 matrix ``(n_demand, n_candidates)``.
    need
        Weight to cover.
    time_limit_s
        Wall-clock limit for the whole solve.
    seed
        Solver seed.

    Returns
    -------
    CoverSolution
        ``status == "infeasible"`` (no site chosen) when all candidates together cover less
        than ``need``.
    """
    t0 = time.perf_counter()
    w_in = np.rint(np.asarray(weights, dtype=float)).astype(np.int64)
    w, inc = _merge_demand(w_in, sparse.csr_matrix(incidence))
    need_i = math.ceil(need - 1e-9)
    empty = np.empty(0, dtype=np.int64)
    if need_i <= 0:
        return CoverSolution(empty, empty, 0.0, 0.0, 0.0, "trivial", 0.0, time.perf_counter() - t0)
    if int(w.sum()) < need_i:
        return CoverSolution(
            empty, empty, 0.0, math.inf, math.inf, "infeasible", 0.0, time.perf_counter() - t0
        )
    greedy, _ = _greedy(w, inc, need=need_i)
    heur = len(greedy)
    pick, bound = greedy, 1
    # bound: the fewest sites whose max-cover LP reaches the need (the LP value is monotone
    # in the number of sites); try one site fewer than greedy first, then bisect
    lo, hi = 1, len(pick) - 1
    probe = hi
    while lo <= hi and time.perf_counter() - t0 < 0.5 * time_limit_s:
        left = time_limit_s - (time.perf_counter() - t0)
        lp = _lp_relaxation(w, inc, p=probe, time_limit_s=left)
        if lp is None:
            break
        if lp[0] + 1e-6 < need_i:
            lo = probe + 1
            bound = max(bound, probe + 1)
        else:
            cols = _integral(lp[1])
            if (
                cols is not None
                and len(cols) < len(pick)
                and int(_covered_weight(w, inc, cols).sum()) >= need_i
            ):
                pick = cols
            hi = probe - 1
        probe = (lo + hi) // 2
    left = time_limit_s - (time.perf_counter() - t0)
    if len(pick) > bound and left > 0.05:
        model, x, y = _cp_model(w, inc, pick)
        model.add(sum(int(w[g]) * y[g] for g in range(len(y))) >= need_i)
        count = sum(x.values())
        model.add(count >= bound)
        model.minimize(count)
        solver = _solver(left, seed)
        code = solver.solve(model)
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            cols = [j for j, var in x.items() if solver.value(var)]
            if len(cols) < len(pick):
                pick = cols
            bound = max(bound, math.ceil(solver.best_objective_bound - 1e-6))
    bound = min(bound, len(pick))
    status = "optimal" if len(pick) <= bound else "feasible"
    chosen, gains = _order_by_gain(w, inc, pick)
    obj = float(len(pick))
    gap = (obj - bound) / obj if obj else 0.0
    return CoverSolution(
        chosen, gains, obj, float(bound), gap, status, float(heur), time.perf_counter() - t0
    )


def _covered_rows(inc: sparse.csr_matrix, cols: list[int]) -> np.ndarray:
    if not cols:
        return np.zeros(inc.shape[0], dtype=bool)
    return np.asarray(inc[:, cols].sum(axis=1)).ravel() > 0


def _covered_weight(w: np.ndarray, inc: sparse.csr_matrix, cols: list[int]) -> np.ndarray:
    return w[_covered_rows(inc, cols)]


# --------------------------------------------------------------------------- candidates


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
        Result of :func:`gridplan.coverage.compute_coverage` (or its ``coverage`` table);
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
    if candidate_spacing_m is None:
        candidate_spacing_m = cfg.siting.candidate_spacing_m
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
    p = cfg.siting.new_sites if new_sites is None else int(new_sites)
    limit_s = cfg.siting.time_limit_s if time_limit_s is None else float(time_limit_s)
    if coverage is None:
        coverage = compute_coverage(
            buildings, facilities, network, config=cfg, profile=profile or "standard"
        )
    if isinstance(coverage, CoverageResult):
        prof = profile or str(coverage.metrics.get("profile", "standard"))
        cov = coverage.coverage
    else:
        prof = profile or "standard"
        cov = coverage
    speed = profile_speed(prof, cfg)
    res = residential_buildings(buildings)
    hh = pd.Series(res["households"].to_numpy(), index=res["building_id"].to_numpy())
    bsnap = snap_points(network, res.geometry, config=cfg)
    pos = pd.Series(np.arange(len(res)), index=res["building_id"].to_numpy())

    if sites is not None and len(sites):
        if "site_id" not in sites.columns:
            msg = "sites: column site_id missing; give each candidate site an id"
            raise DataError(msg)
        cand_all = sites.assign(site_id=sites["site_id"].astype(str)).sort_values(
            "site_id", kind="stable"
        )
        generated = False
    else:
        cand_all = None
        generated = True

    pairs = [(int(t), str(c)) for t, cats in sorted(cfg.coverage.tiers.items()) for c in cats]
    if categories is not None:
        wanted = [str(c) for c in categories]
        unknown = sorted(set(wanted) - {c for _, c in pairs})
        if unknown:
            msg = f"siting: categories {', '.join(unknown)} are in no coverage tier; add them to "
            msg += "[coverage.tiers] or leave them out"
            raise ConfigError(msg)
        pairs = [(t, c) for t, c in pairs if c in wanted]
    dup = {c for _, c in pairs if sum(1 for _, cc in pairs if cc == c) > 1}

    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    metrics: dict[str, Any] = {}
    flags: list[str] = []
    for t, c in pairs:
        key = f"{c}@{tier_label(t)}" if c in dup else c
        block = cov[(cov["tier"] == tier_label(t)) & (cov["category"] == c)]
        bid = block["building_id"].astype(str).to_numpy()
        total_hh = int(hh.reindex(bid).fillna(0).sum())
        covered_hh = int(hh.reindex(bid[block["covered"].to_numpy(bool)]).fillna(0).sum())
        dem_mask = block["reachable"].to_numpy(bool) & ~block["covered"].to_numpy(bool)
        dem_ids = bid[dem_mask]
        dem_ids = dem_ids[np.isin(dem_ids, pos.index)]
        w = hh.reindex(dem_ids).to_numpy(dtype=np.int64)
        radius = t * speed
        entry: dict[str, Any] = {
            "tier": tier_label(t),
            "mode": mode,
            "households": total_hh,
            "households_covered_before": covered_hh,
            "households_demand": int(w.sum()),
            "demand_points": len(dem_ids),
        }
        metrics[key] = entry
        if w.sum() == 0 and mode == "max_cover":
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
            continue
        dsnap = _take(bsnap, pos.reindex(dem_ids).to_numpy())
        if generated:
            cand = generate_candidates(
                network, spacing_m=candidate_spacing_m, near=dsnap, radius_m=radius
            )
        else:
            assert cand_all is not None
            allowed = _site_categories(cand_all)
            ok = np.array([not s or c in s for s in allowed], dtype=bool)
            cand = cand_all.loc[ok]
        csnap = snap_points(network, cand.geometry, config=cfg)
        t0 = time.perf_counter()
        inc = candidate_coverage(network, csnap, dsnap, radius)
        t_cov = time.perf_counter() - t0
        entry["candidates"] = len(cand)
        entry["coverage_matrix_s"] = round(t_cov, 4)
        if mode == "max_cover":
            sol = solve_max_cover(w, inc, p, time_limit_s=limit_s, seed=cfg.seed)
        else:
            assert share is not None
            need = share * total_hh - covered_hh
            sol = solve_set_cover(w, inc, need, time_limit_s=limit_s, seed=cfg.seed)
            if sol.status == "infeasible":
                reach = int(w[np.asarray(inc.sum(axis=1)).ravel() > 0].sum())
                flags.append(
                    f"{c} ({tier_label(t)}): even all {len(cand)} candidate sites bring coverage "
                    f"only to {(covered_hh + reach) / max(total_hh, 1):.0%} of households, short "
                    f"of the {share:.0%} target; add candidate sites or lower target_share"
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
                f"{c} ({tier_label(t)}): the site choice is not proven best within "
                f"{limit_s:g} s (gap {sol.gap:.1%}); raise [siting] time_limit_s"
            )
        for rank, (j, g) in enumerate(zip(sol.chosen, sol.gains, strict=True), start=1):
            rows.append(
                {
                    "site_id": str(cand["site_id"].iloc[int(j)]),
                    "category": c,
                    "tier": tier_label(t),
                    "households_newly_covered": int(g),
                    "rank": rank,
                }
            )
            geoms.append(_point(cand.geometry.iloc[int(j)]))
    out = gpd.GeoDataFrame(
        pd.DataFrame(
            rows, columns=["site_id", "category", "tier", "households_newly_covered", "rank"]
        ),
        geometry=gpd.GeoSeries(geoms, crs=network.crs),
        crs=network.crs,
    )
    return SitingResult(sites=out, metrics=metrics, flags=flags)


def _point(geom: Any) -> Any:
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
