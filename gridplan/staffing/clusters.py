"""Full-time grid workers as a choice of one grid cluster per worker (CP-SAT, bisection).

A worker may cover a base grid and grids adjacent to it up to their capacity, so what a worker
can take is a short list of *clusters*: a base grid in reach plus a subset of its neighbours in
reach, households at most the capacity. Choosing at most one cluster per worker and at most one
cluster per grid is a set-packing model whose linear relaxation is far tighter than the
pair-by-pair model with a knapsack row per worker: the knapsack is convexified by construction.

The min-max goal (heaviest load in permille of capacity) is solved by bisection over the loads
clusters can have: each probe is a pure feasibility model holding only the clusters at or under
the probed load, so the load bound is a domain reduction rather than a weak linear row. The
bisection runs first on the linear relaxation (GLOP, a fraction of a second a probe): every
level where it is infeasible is proven impossible. The integer probes then start at the
relaxation's threshold, which on set packing is usually the optimum, and are solved by branch
and bound on that relaxation (CBC, through OR-Tools), which finds or refutes them in about a
second where CP-SAT's clause learning took up to ten. A feasible probe lowers the upper bound
to the heaviest load of the solution found; an infeasible one proves every lighter level
impossible. The goals before and after (households covered, then total distance) are ordinary
CP-SAT optimisations on the same model, warm-started by the best solution so far.

Deterministic: the linear solvers are single-threaded and CP-SAT runs one worker under a
deterministic time limit; only a probe cut by its wall-clock limit can differ between runs,
and then the report says FEASIBLE with the bound reached.

Used when the clusters are few enough to list (:data:`MAX_CLUSTERS`); otherwise
:mod:`gridplan.staffing.full_time` falls back to the pair model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model

from gridplan._cpsat import reproducible_solver
from gridplan.staffing.common import _PERMILLE, _gap, _s, ws

__all__ = ["MAX_CLUSTERS", "Clusters", "enumerate_clusters", "solve_clusters"]

log = logging.getLogger(__name__)

#: Most clusters listed before the cluster model gives way to the pair model.
MAX_CLUSTERS = 200_000

_LOAD_GOAL = "heaviest full-time load (permille of capacity)"
_COVER_GOAL = "households with a full-time worker (unreachable grids first)"
_DIST_GOAL = "total full-time distance (m)"


@dataclass(frozen=True)
class Clusters:
    """The clusters of every worker, as parallel arrays plus the grids of each."""

    worker: np.ndarray
    grids: list[tuple[int, ...]]
    load: np.ndarray  # ceil(1000 * households / capacity)
    weight: np.ndarray  # sum of the grids' cover weights
    dist: np.ndarray  # sum of the worker's distances to the grids


def enumerate_clusters(
    hh: list[int],
    grid_neighbours: list[list[int]],
    fw: np.ndarray,
    fg: np.ndarray,
    fd: np.ndarray,
    capacity: np.ndarray,
    grid_weight: np.ndarray,
    *,
    limit: int = MAX_CLUSTERS,
) -> Clusters | None:
    """Every cluster of every worker, sorted by worker then grids; ``None`` past ``limit``."""
    reach: dict[int, dict[int, int]] = {}
    for w, g, d in zip(fw.tolist(), fg.tolist(), fd.tolist(), strict=True):
        reach.setdefault(int(w), {})[int(g)] = int(d)
    workers: list[int] = []
    sets: list[tuple[int, ...]] = []
    for w in sorted(reach):
        near = reach[w]
        cap = int(capacity[w])
        found: set[tuple[int, ...]] = set()
        for base in sorted(near):
            if hh[base] > cap:
                continue
            cand = sorted({g for g in grid_neighbours[base] if g in near and g != base})
            stack: list[tuple[int, tuple[int, ...], int]] = [(0, (base,), hh[base])]
            while stack:
                k, cur, tot = stack.pop()
                found.add(tuple(sorted(cur)))
                if len(found) + len(sets) > limit:
                    return None
                for j in range(k, len(cand)):
                    g = cand[j]
                    if tot + hh[g] <= cap:
                        stack.append((j + 1, (*cur, g), tot + hh[g]))
        for grid_set in sorted(found):
            workers.append(w)
            sets.append(grid_set)
    worker = np.asarray(workers, dtype=np.int64)
    households = np.array([sum(hh[g] for g in s) for s in sets], dtype=np.int64)
    caps = np.maximum(np.asarray(capacity, dtype=np.int64)[worker], 1)
    return Clusters(
        worker=worker,
        grids=sets,
        load=-((-_PERMILLE * households) // caps),
        weight=np.array([sum(int(grid_weight[g]) for g in s) for s in sets], dtype=np.int64),
        dist=np.array(
            [sum(reach[w][g] for g in s) for w, s in zip(workers, sets, strict=True)],
            dtype=np.int64,
        ),
    )


def _level(levels: np.ndarray, cl: Clusters, chosen: list[int]) -> int:
    """Index in ``levels`` of the heaviest load among the clusters ``chosen``."""
    return int(np.searchsorted(levels, int(cl.load[chosen].max()) if chosen else 0))


def _solver(budget: float, seed: int) -> cp_model.CpSolver:
    solver = reproducible_solver(budget, seed)
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    # Cuts on the set-packing rows are what proves the lighter loads impossible.
    solver.parameters.linearization_level = 2
    return solver


@dataclass
class _Spec:
    """What a model must respect besides the clusters kept."""

    cover_min: int
    exact: set[int]  # grids that must be covered (every reachable one when cover is complete)
    party: np.ndarray
    heads_party: int
    heads_total: int
    min_party_share: float
    counted: np.ndarray  # bool per person: already among the heads (changes no side of the share)

    def new(self, w: int) -> bool:
        """Whether worker ``w`` is not yet counted in the party share (not a grid head)."""
        return not bool(self.counted[w])


def _build(
    cl: Clusters, keep: np.ndarray, spec: _Spec
) -> tuple[cp_model.CpModel, dict[int, cp_model.IntVar]] | None:
    """Set-packing model on the clusters ``keep``; ``None`` when a must-cover grid has none."""
    model = cp_model.CpModel()
    y = {int(c): model.new_bool_var(f"y{c}") for c in np.flatnonzero(keep)}
    by_worker: dict[int, list[cp_model.IntVar]] = {}
    by_grid: dict[int, list[cp_model.IntVar]] = {}
    for c, var in y.items():
        by_worker.setdefault(int(cl.worker[c]), []).append(var)
        for g in cl.grids[c]:
            by_grid.setdefault(g, []).append(var)
    if any(g not in by_grid for g in spec.exact):
        return None
    for _, vs in sorted(by_worker.items()):
        model.add_at_most_one(vs)
    for g, vs in sorted(by_grid.items()):
        if g in spec.exact:
            model.add_exactly_one(vs)
        else:
            model.add_at_most_one(vs)
    if not spec.exact and spec.cover_min > 0:
        model.add(ws(y.values(), [cl.weight[c] for c in y]) >= spec.cover_min)
    if spec.min_party_share > 0:
        share = round(spec.min_party_share * _PERMILLE)
        n_used = _s(v for c, v in y.items() if spec.new(int(cl.worker[c])))
        n_party = _s(
            v for c, v in y.items() if spec.party[cl.worker[c]] and spec.new(int(cl.worker[c]))
        )
        model.add(_PERMILLE * (n_party + spec.heads_party) >= share * (n_used + spec.heads_total))
    return model, y


def _packing(
    cl: Clusters, keep: np.ndarray, spec: _Spec, budget: float, *, integer: bool
) -> tuple[str, list[int]]:
    """Feasibility of :func:`_build` on ``keep`` by a linear solver of OR-Tools.

    With ``integer=False`` the linear relaxation (GLOP); with ``integer=True`` the integer
    model itself (CBC: branch and bound on that relaxation, which is nearly exact for set
    packing, proves or finds far faster than CP-SAT here). Returns ``INFEASIBLE`` (a proof,
    for the relaxation too), ``FEASIBLE`` or ``UNKNOWN`` (time limit, solver missing), and the
    clusters at 0.5 or more in the solution (the solution itself when integer, else a hint).
    """
    solver = pywraplp.Solver.CreateSolver("CBC" if integer else "GLOP")
    if solver is None or budget <= 0.01:  # pragma: no cover - both ship with OR-Tools
        return "UNKNOWN", []
    solver.SetTimeLimit(max(int(budget * 1000), 10))
    chosen = np.flatnonzero(keep)
    grids_used = {g for c in chosen.tolist() for g in cl.grids[c]}
    if any(g not in grids_used for g in spec.exact):
        return "INFEASIBLE", []
    rows_w: dict[int, Any] = {}
    rows_g: dict[int, Any] = {}
    for w in sorted({int(cl.worker[c]) for c in chosen.tolist()}):
        rows_w[w] = solver.Constraint(0.0, 1.0)
    for g in sorted(grids_used):
        rows_g[g] = solver.Constraint(1.0 if g in spec.exact else 0.0, 1.0)
    cover = None
    if not spec.exact and spec.cover_min > 0:
        cover = solver.Constraint(float(spec.cover_min), solver.infinity())
    share = None
    k = round(spec.min_party_share * _PERMILLE)
    if spec.min_party_share > 0:
        # PERMILLE * party - share * used >= share * heads_total - PERMILLE * heads_party
        share = solver.Constraint(
            float(k * spec.heads_total - _PERMILLE * spec.heads_party), solver.infinity()
        )
    variables = []
    for c in chosen.tolist():
        var = solver.IntVar(0.0, 1.0, "") if integer else solver.NumVar(0.0, 1.0, "")
        variables.append(var)
        w = int(cl.worker[c])
        rows_w[w].SetCoefficient(var, 1.0)
        for g in cl.grids[c]:
            rows_g[g].SetCoefficient(var, 1.0)
        if cover is not None:
            cover.SetCoefficient(var, float(cl.weight[c]))
        if share is not None and spec.new(w):
            share.SetCoefficient(var, float(_PERMILLE * bool(spec.party[w]) - k))
    status = solver.Solve()
    if status == pywraplp.Solver.INFEASIBLE:
        return "INFEASIBLE", []
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return "UNKNOWN", []
    pairs = zip(chosen.tolist(), variables, strict=True)
    picked = [int(c) for c, v in pairs if v.solution_value() > 0.5]
    if integer and not _valid(cl, picked, spec):  # pragma: no cover - numerical safety net
        return "UNKNOWN", []
    return "FEASIBLE", picked


def _valid(cl: Clusters, picked: list[int], spec: _Spec) -> bool:
    """Whether the clusters ``picked`` satisfy every constraint of :func:`_build`."""
    workers = [int(cl.worker[c]) for c in picked]
    grids = [g for c in picked for g in cl.grids[c]]
    if len(set(workers)) < len(workers) or len(set(grids)) < len(grids):
        return False
    if not spec.exact <= set(grids):
        return False
    if sum(int(cl.weight[c]) for c in picked) < spec.cover_min:
        return False
    if spec.min_party_share > 0:
        k = round(spec.min_party_share * _PERMILLE)
        new = [w for w in workers if spec.new(w)]
        n_party = sum(bool(spec.party[w]) for w in new) + spec.heads_party
        return _PERMILLE * n_party >= k * (len(new) + spec.heads_total)
    return True


def _solve(
    model: cp_model.CpModel,
    y: dict[int, cp_model.IntVar],
    hint: list[int] | None,
    budget: float,
    seed: int,
) -> tuple[str, list[int] | None, float | None, float | None, float]:
    """Solve; return status, chosen clusters, objective, bound and seconds."""
    if hint is not None:
        chosen = set(hint)
        for c, var in y.items():
            model.add_hint(var, int(c in chosen))
    solver = _solver(budget, seed)
    t0 = time.perf_counter()
    status = solver.solve(model)
    elapsed = time.perf_counter() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return solver.status_name(status), None, None, None, elapsed
    sol = sorted(c for c, var in y.items() if solver.value(var))
    obj = float(solver.objective_value) if model.has_objective() else None
    bound = float(solver.best_objective_bound) if model.has_objective() else None
    return solver.status_name(status), sol, obj, bound, elapsed


def _stage(
    goal: str, status: str, elapsed: float, obj: float | None, bound: float | None
) -> dict[str, Any]:
    gap = None if obj is None or bound is None else round(_gap(obj, bound), 6)
    return {
        "goal": goal,
        "status": status,
        "time_s": round(elapsed, 3),
        "objective": obj,
        "bound": bound,
        "gap": gap,
    }


def solve_clusters(
    cl: Clusters,
    *,
    reachable_weight: int,
    party: np.ndarray,
    heads_party: int,
    heads_total: int,
    min_party_share: float,
    hint: list[tuple[int, int]] | None,
    known_cover: int | None,
    time_limit: float,
    seed: int,
    counted: np.ndarray | None = None,
) -> tuple[list[tuple[int, int]] | None, list[dict[str, Any]]]:
    """Cover, then heaviest load by bisection, then distance, on the clusters ``cl``.

    ``hint`` is a solution as (worker, grid) pairs (the one-grid-per-worker flow optimum);
    ``known_cover`` the proven best cover when the flow already reaches it. Returns the chosen
    (worker, grid) pairs (``None`` when no solution was found) and one report per goal.
    """
    index = {(int(w), s): c for c, (w, s) in enumerate(zip(cl.worker, cl.grids, strict=True))}
    best: list[int] | None = None
    if hint is not None:
        per_worker: dict[int, list[int]] = {}
        for w, g in hint:
            per_worker.setdefault(int(w), []).append(int(g))
        mapped = [index.get((w, tuple(sorted(gs)))) for w, gs in per_worker.items()]
        best = sorted(c for c in mapped if c is not None) if None not in mapped else None
    party = np.asarray(party, dtype=bool)
    seen = np.zeros(len(party), dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
    spec = _Spec(0, set(), party, heads_party, heads_total, min_party_share, seen)
    reachable = {g for s in cl.grids for g in s}
    everything = np.ones(len(cl.worker), dtype=bool)
    stages: list[dict[str, Any]] = []
    deadline = time.perf_counter() + time_limit

    def left() -> float:
        return max(deadline - time.perf_counter(), 0.05)

    # (1) cover
    if known_cover is not None:
        cover = known_cover
        stages.append(_stage(_COVER_GOAL, "OPTIMAL", 0.0, float(cover), float(cover)))
    else:
        built = _build(cl, everything, spec)
        assert built is not None  # nothing must be covered yet
        model, y = built
        model.maximize(ws(y.values(), [cl.weight[c] for c in y]))
        status, sol, obj, bound, el = _solve(model, y, best, left() / 3, seed)
        stages.append(_stage(_COVER_GOAL, status, el, obj, bound))
        if sol is None or obj is None:
            return None, stages
        best, cover = sol, round(obj)
    spec.cover_min = cover
    if cover >= reachable_weight:
        spec.exact = reachable

    # (2) heaviest load, by bisection over the loads a cluster can have
    levels = np.unique(np.append(cl.load, 0))  # 0: no worker placed
    floor = 0
    if spec.exact:  # every reachable grid is covered: its lightest cluster is a lower bound
        lightest: dict[int, int] = {}
        for c, s in enumerate(cl.grids):
            for g in s:
                lightest[g] = min(lightest.get(g, _PERMILLE), int(cl.load[c]))
        floor = max(lightest.values(), default=0)
    lo = int(np.searchsorted(levels, floor))
    t_load = 0.0
    t_stage = time.perf_counter()
    load_deadline = time.perf_counter() + left() * 0.6
    if best is None:  # no solution yet (no usable hint): find one with every cluster
        built = _build(cl, everything, spec)
        st, sol = "INFEASIBLE", None
        if built is not None:
            st, sol, _, _, t_load = _solve(built[0], built[1], None, left() * 0.6, seed)
        if sol is None:
            stages.append(_stage(_LOAD_GOAL, st, t_load, None, None))
            return None, stages
        best = sol
    hi = _level(levels, cl, best)
    # The linear relaxation is cheap (GLOP) and, on set packing, nearly exact: bisect on it
    # first, so every level under its threshold is proven impossible before any integer probe.
    lp_hi = hi
    while lo < lp_hi:
        mid = (lo + lp_hi) // 2
        budget = load_deadline - time.perf_counter()
        st, _ = _packing(cl, cl.load <= levels[mid], spec, budget, integer=False)
        if st == "INFEASIBLE":
            lo = mid + 1
        else:
            lp_hi = mid
    log.debug("full-time load: linear relaxation feasible from %d permille", levels[lo])
    status = "OPTIMAL"
    first = True
    while lo < hi:
        # the relaxation's threshold is usually the optimum: try it before bisecting
        mid = lo if first else (lo + hi) // 2
        first = False
        budget = load_deadline - time.perf_counter()
        if budget <= 0.05:
            status = "FEASIBLE"
            break
        t0 = time.perf_counter()
        st, sol = _packing(cl, cl.load <= levels[mid], spec, budget, integer=True)
        log.debug(
            "full-time load probe %d permille: %s in %.2f s",
            levels[mid],
            st,
            time.perf_counter() - t0,
        )
        if st == "FEASIBLE":
            best = sol
            hi = _level(levels, cl, best)
        elif st == "INFEASIBLE":
            lo = mid + 1
        else:  # out of time on this probe: keep the interval found so far
            status = "FEASIBLE"
            break
    lo = min(lo, hi)
    if lo == hi:
        status = "OPTIMAL"
    heaviest, lower = int(levels[hi]), int(levels[lo])
    t_load = time.perf_counter() - t_stage  # relaxations and integer probes
    stages.append(_stage(_LOAD_GOAL, status, t_load, float(heaviest), float(lower)))

    # (3) distance, every load at most the heaviest reached
    built = _build(cl, cl.load <= heaviest, spec)
    assert built is not None  # ``best`` is a solution of it
    model, y = built
    model.minimize(ws(y.values(), [cl.dist[c] for c in y]))
    status, sol, obj, bound, el = _solve(model, y, best, left(), seed)
    if sol is not None:
        best = sol
    stages.append(_stage(_DIST_GOAL, status, el, obj, bound))
    pairs = sorted((int(cl.worker[c]), g) for c in best for g in cl.grids[c])
    return pairs, stages
