"""The OR-Tools models behind :mod:`gridplan.assign`, one function per problem.

Every function takes plain integer arrays (targets, people, candidate pairs, integer costs) so
the models can be tested and benchmarked on their own, and returns the chosen pairs with a
:class:`SolveInfo` (status, objective, bound, gap, time). Objectives with several goals are
solved lexicographically: each goal is optimised, then fixed at the value reached while the
next is optimised, so no big-M weights blur the reported gap.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

__all__ = [
    "SolveInfo",
    "solve_full_time",
    "solve_matching",
    "solve_part_time",
    "solve_volunteers",
]

_PERMILLE = 1000


@dataclass
class SolveInfo:
    """What one solver run reports (JSON-serialisable through :meth:`to_dict`)."""

    problem: str
    solver: str
    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    time_s: float
    n_targets: int
    n_filled: int
    n_vacant: int
    stages: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the fields."""
        return asdict(self)


def _s(terms: Any) -> Any:
    return cp_model.LinearExpr.sum(list(terms))


def _ws(terms: Any, coefs: Any) -> Any:
    return cp_model.LinearExpr.weighted_sum(list(terms), [int(c) for c in coefs])


def _gap(objective: float, bound: float) -> float:
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1.0)


def _cp_params(solver: cp_model.CpSolver, time_limit: float, seed: int) -> None:
    solver.parameters.num_workers = 1  # deterministic
    solver.parameters.random_seed = int(seed) % (2**31)
    solver.parameters.max_time_in_seconds = max(float(time_limit), 0.05)
    # Stop on deterministic time first so that a run cut by the limit is still reproducible.
    solver.parameters.max_deterministic_time = max(float(time_limit), 0.05)
    # Probing and symmetry detection cost seconds on assignment-like models and rarely pay.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0


def _lex_solve(
    model: cp_model.CpModel,
    goals: list[tuple[str, Any, bool]],
    variables: list[cp_model.IntVar],
    *,
    time_limit: float,
    seed: int,
) -> tuple[list[int] | None, list[dict[str, Any]]]:
    """Optimise ``goals`` (name, linear expression, maximise?) one after the other.

    Returns the values of ``variables`` in the last solution found (``None`` when even the
    first goal found none) and one report per stage.
    """
    values: list[int] | None = None
    stages: list[dict[str, Any]] = []
    per_stage = time_limit / max(len(goals), 1)
    for name, expr, maximise in goals:
        if maximise:
            model.maximize(expr)
        else:
            model.minimize(expr)
        if values is not None:
            model.clear_hints()
            for var, val in zip(variables, values, strict=True):
                model.add_hint(var, val)
        solver = cp_model.CpSolver()
        _cp_params(solver, per_stage, seed)
        t0 = time.perf_counter()
        status = solver.solve(model)
        elapsed = time.perf_counter() - t0
        found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        stage: dict[str, Any] = {
            "goal": name,
            "status": solver.status_name(status),
            "time_s": round(elapsed, 3),
        }
        if found:
            obj = float(solver.objective_value)
            bound = float(solver.best_objective_bound)
            stage.update(objective=obj, bound=bound, gap=round(_gap(obj, bound), 6))
            values = [int(solver.value(v)) for v in variables]
            # Fix this goal at the value reached before optimising the next.
            model.add(expr >= round(obj)) if maximise else model.add(expr <= round(obj))
        else:
            stage.update(objective=None, bound=None, gap=None)
        stages.append(stage)
        if not found:
            break
    return values, stages


def _summarise(
    problem: str,
    solver: str,
    stages: list[dict[str, Any]],
    n_targets: int,
    n_filled: int,
) -> SolveInfo:
    statuses = [s["status"] for s in stages]
    failed = [s["status"] for s in stages if s["objective"] is None]
    if not stages:
        status = "NOT_SOLVED"
    elif failed:
        solved = any(s["objective"] is not None for s in stages)
        status = "FEASIBLE" if solved else failed[0]
    elif all(s == "OPTIMAL" for s in statuses):
        status = "OPTIMAL"
    else:
        status = "FEASIBLE"
    last = [s for s in stages if s["objective"] is not None]
    objective = float(last[-1]["objective"]) if last else None
    bound = float(last[-1]["bound"]) if last else None
    gap: float | None = max((float(s["gap"]) for s in last), default=None)
    if failed:
        gap = None  # a goal ended without a solution: no proven gap
    return SolveInfo(
        problem=problem,
        solver=solver,
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        time_s=round(sum(float(s["time_s"]) for s in stages), 3),
        n_targets=n_targets,
        n_filled=n_filled,
        n_vacant=n_targets - n_filled,
        stages=stages,
    )


def solve_matching(
    problem: str,
    n_targets: int,
    n_people: int,
    pair_target: np.ndarray,
    pair_person: np.ndarray,
    pair_cost: np.ndarray,
    *,
    person_party: np.ndarray | None = None,
    min_party_share: float = 0.0,
    time_limit: float = 20.0,
    seed: int = 0,
) -> tuple[np.ndarray, SolveInfo]:
    """One person per target, each person at most one target: most targets filled, then least cost.

    Solved exactly as a min-cost max-flow (OR-Tools). When a minimum party share among the
    chosen people is asked for and the flow solution misses it, CP-SAT solves the assignment
    with that side constraint (filled targets first, then cost).

    Parameters
    ----------
    problem
        Name used in the report.
    n_targets, n_people
        Sizes; targets and people are indices ``0..n-1``.
    pair_target, pair_person, pair_cost
        Candidate pairs and their non-negative integer costs.
    person_party
        Bool per person: party member.
    min_party_share
        Minimum share of party members among the people chosen.
    time_limit
        Seconds (the CP-SAT fallback only; the flow is polynomial).
    seed
        CP-SAT random seed.

    Returns
    -------
    numpy.ndarray
        For each target the chosen person's index, ``-1`` when vacant.
    SolveInfo
        Status, objective (total cost of the chosen pairs), bound and gap.
    """
    pair_target = np.asarray(pair_target, dtype=np.int64)
    pair_person = np.asarray(pair_person, dtype=np.int64)
    pair_cost = np.asarray(pair_cost, dtype=np.int64)
    match = np.full(n_targets, -1, dtype=np.int64)
    if n_targets == 0 or len(pair_target) == 0:
        info = _summarise(
            problem,
            "min_cost_flow",
            [
                {
                    "goal": "filled, then cost",
                    "status": "OPTIMAL",
                    "time_s": 0.0,
                    "objective": 0.0,
                    "bound": 0.0,
                    "gap": 0.0,
                }
            ],
            n_targets,
            0,
        )
        return match, info
    t0 = time.perf_counter()
    flow = min_cost_flow.SimpleMinCostFlow()
    source = n_targets + n_people
    sink = source + 1
    tails = np.concatenate(
        [np.full(n_targets, source), pair_target, n_targets + np.arange(n_people)]
    )
    heads = np.concatenate([np.arange(n_targets), n_targets + pair_person, np.full(n_people, sink)])
    caps = np.ones(len(tails), dtype=np.int64)
    costs = np.concatenate(
        [np.zeros(n_targets, dtype=np.int64), pair_cost, np.zeros(n_people, dtype=np.int64)]
    )
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    flow.set_node_supply(source, n_targets)
    flow.set_node_supply(sink, -n_targets)
    status = flow.solve_max_flow_with_min_cost()
    elapsed = time.perf_counter() - t0
    if status != flow.OPTIMAL:  # pragma: no cover - only on arithmetic overflow
        msg = f"{problem}: min-cost flow ended with status {status}"
        raise RuntimeError(msg)
    flows = flow.flows(np.arange(n_targets, n_targets + len(pair_target)))
    chosen = np.flatnonzero(flows > 0)
    match[pair_target[chosen]] = pair_person[chosen]
    cost = float(pair_cost[chosen].sum())
    stages = [
        {
            "goal": "filled, then cost",
            "status": "OPTIMAL",
            "time_s": round(elapsed, 3),
            "objective": cost,
            "bound": cost,
            "gap": 0.0,
        }
    ]
    need = min_party_share > 0 and person_party is not None
    if need and len(chosen):
        assert person_party is not None
        share = float(person_party[match[match >= 0]].mean())
        if share + 1e-9 < min_party_share:
            return _matching_with_share(
                problem,
                n_targets,
                pair_target,
                pair_person,
                pair_cost,
                person_party,
                min_party_share,
                time_limit,
                seed,
                match,
                stages,
            )
    return match, _summarise(problem, "min_cost_flow", stages, n_targets, len(chosen))


def _matching_with_share(
    problem: str,
    n_targets: int,
    pair_target: np.ndarray,
    pair_person: np.ndarray,
    pair_cost: np.ndarray,
    person_party: np.ndarray,
    min_share: float,
    time_limit: float,
    seed: int,
    flow_match: np.ndarray,
    flow_stages: list[dict[str, Any]],
) -> tuple[np.ndarray, SolveInfo]:
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{i}") for i in range(len(pair_target))]
    by_target: dict[int, list[int]] = {}
    by_person: dict[int, list[int]] = {}
    for i, (t, p) in enumerate(zip(pair_target.tolist(), pair_person.tolist(), strict=True)):
        by_target.setdefault(t, []).append(i)
        by_person.setdefault(p, []).append(i)
    for idx in by_target.values():
        model.add_at_most_one(x[i] for i in idx)
    for idx in by_person.values():
        model.add_at_most_one(x[i] for i in idx)
    share = round(min_share * _PERMILLE)
    party = person_party[pair_person].astype(bool)
    filled = _s(x)
    model.add(_PERMILLE * _s(x[i] for i in np.flatnonzero(party)) >= share * filled)
    cost = _ws(x, pair_cost.tolist())
    values, stages = _lex_solve(
        model,
        [("filled targets", filled, True), ("total cost", cost, False)],
        x,
        time_limit=time_limit,
        seed=seed,
    )
    match = np.full(n_targets, -1, dtype=np.int64)
    if values is not None:
        chosen = np.flatnonzero(np.asarray(values) > 0)
        match[pair_target[chosen]] = pair_person[chosen]
    stages = [{**flow_stages[0], "goal": "without party share (flow)"}, *stages]
    n_filled = int((match >= 0).sum())
    info = _summarise(problem, "cp_sat", stages[1:], n_targets, n_filled)
    info.stages = stages
    return match, info


def _max_flow_min_cost(
    n_nodes: int,
    tails: np.ndarray,
    heads: np.ndarray,
    caps: np.ndarray,
    costs: np.ndarray,
    source: int,
    sink: int,
    supply: int,
) -> tuple[np.ndarray, float, float]:
    """Maximum flow of at most ``supply`` from source to sink at least cost (OR-Tools)."""
    t0 = time.perf_counter()
    flow = min_cost_flow.SimpleMinCostFlow()
    if len(tails):
        flow.add_arcs_with_capacity_and_unit_cost(
            np.asarray(tails, dtype=np.int64),
            np.asarray(heads, dtype=np.int64),
            np.asarray(caps, dtype=np.int64),
            np.asarray(costs, dtype=np.int64),
        )
    flow.set_node_supply(source, int(supply))
    flow.set_node_supply(sink, -int(supply))
    if n_nodes > flow.num_nodes():  # make sure every node exists
        flow.add_arc_with_capacity_and_unit_cost(n_nodes - 1, n_nodes - 1, 0, 0)
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:  # pragma: no cover - only on arithmetic overflow
        msg = f"min-cost flow ended with status {status}"
        raise RuntimeError(msg)
    flows = flow.flows(np.arange(len(tails))) if len(tails) else np.zeros(0, dtype=np.int64)
    return np.asarray(flows), float(flow.optimal_cost()), time.perf_counter() - t0


def solve_full_time(
    *,
    grid_households: np.ndarray,
    grid_neighbours: list[list[int]],
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    capacity: np.ndarray,
    party: np.ndarray,
    orphan: np.ndarray,
    heads_party: int = 0,
    heads_total: int = 0,
    min_party_share: float = 0.0,
    time_limit: float = 20.0,
    seed: int = 0,
) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """Full-time grid workers over adjacent grids (CP-SAT).

    Goals, in order: (1) most households with a full-time worker, grids no part-time worker
    can reach (``orphan``) counted before any other; (2) lightest heaviest load, in permille of
    the worker's capacity; (3) least total distance. A worker covers grids whose households sum
    to at most their capacity, all of them the worker's base grid or adjacent to it; a grid has
    at most one full-time worker. With a party share, party members are at least that share of
    the grid heads and full-time workers together.

    Parameters
    ----------
    grid_households
        Households per grid.
    grid_neighbours
        For each grid, the indices of the grids adjacent to it.
    pairs
        ``(worker, grid, distance_m)`` candidate arrays.
    capacity
        Households each worker can cover (indexed by worker).
    party
        Bool per worker: party member.
    orphan
        Bool per grid: no part-time worker can reach it.
    heads_party, heads_total
        Party members among the grid heads already chosen, and their number.
    min_party_share
        Minimum share of party members among heads and workers.
    time_limit
        Seconds for the three goals together.
    seed
        CP-SAT random seed.

    Returns
    -------
    list of (worker, grid)
        The chosen pairs.
    list of dict
        One report per goal.
    """
    fw, fg, fd = (np.asarray(a, dtype=np.int64) for a in pairs)
    hh = [int(h) for h in grid_households]
    if len(fw) == 0:
        return [], [
            {
                "goal": "full-time cover",
                "status": "OPTIMAL",
                "time_s": 0.0,
                "objective": 0.0,
                "bound": 0.0,
                "gap": 0.0,
            }
        ]
    bonus = sum(hh) + 1
    weight = np.array(
        [hh[int(g)] + (bonus if orphan[int(g)] else 0) for g in fg.tolist()], dtype=np.int64
    )
    caps = np.maximum(np.asarray(capacity, dtype=np.int64)[fw], 1)
    loads = -((-_PERMILLE * np.asarray(hh, dtype=np.int64)[fg]) // caps)  # ceil, permille
    flow_pairs, flow_stages = _full_time_flow(len(hh), fw, fg, fd, weight, loads, seed)
    multi = False
    for w in np.unique(fw).tolist():
        sizes = sorted(hh[int(g)] for g in fg[fw == w].tolist())
        multi = multi or (len(sizes) >= 2 and sizes[0] + sizes[1] <= int(capacity[w]))
    used = {w for w, _ in flow_pairs}
    n_party = sum(bool(party[w]) for w in used)
    share_ok = min_party_share <= 0 or (
        _PERMILLE * (n_party + heads_party)
        >= round(min_party_share * _PERMILLE) * (len(used) + heads_total)
    )
    if not multi and share_ok:
        return flow_pairs, flow_stages
    hint = {(w, g) for w, g in flow_pairs} if share_ok else None
    reachable = np.zeros(len(hh), dtype=np.int64)
    reachable[fg] = weight
    flow_w = int(flow_stages[0]["objective"])
    known = flow_w if share_ok and flow_w == int(reachable.sum()) else None
    pairs_cp, stages_cp = _full_time_cpsat(
        hh,
        grid_neighbours,
        fw,
        fg,
        fd,
        capacity,
        party,
        weight,
        heads_party,
        heads_total,
        min_party_share,
        time_limit,
        seed,
        hint,
        known,
    )
    if pairs_cp is None:
        if share_ok:  # keep the exact one-grid-per-worker optimum found by the flow
            return flow_pairs, [*flow_stages, *stages_cp]
        return [], stages_cp
    return pairs_cp, stages_cp


def _full_time_flow(
    n_grids: int,
    fw: np.ndarray,
    fg: np.ndarray,
    fd: np.ndarray,
    weight: np.ndarray,
    loads: np.ndarray,
    seed: int,
) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """One grid per full-time worker, lexicographically exact with three min-cost flows.

    The grids a matching can cover form a transversal matroid, so among the largest matchings
    the cheapest under ``max_weight - weight`` has the largest weight; the heaviest load is then
    the smallest threshold that keeps that weight (bisection); distance breaks the last ties.
    """
    n_people = int(fw.max()) + 1
    c1 = int(weight.max()) + 1 - weight

    def best(mask: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, SolveInfo]:
        return solve_matching(
            "full_time", n_grids, n_people, fg[mask], fw[mask], cost[mask], seed=seed
        )

    everything = np.ones(len(fw), dtype=bool)
    match, info1 = best(everything, c1)
    chosen_w = int(weight[_pair_index(fg, fw, match)].sum())
    levels = np.unique(loads)
    lo, hi = 0, len(levels) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        m, _ = best(loads <= levels[mid], c1)
        if int(weight[_pair_index(fg, fw, m)].sum()) >= chosen_w:
            hi = mid
        else:
            lo = mid + 1
    limit = levels[lo]
    big = (int(fd.max()) + 1) * (n_grids + 1)
    match, info3 = best(loads <= limit, c1 * big + fd)
    idx = _pair_index(fg, fw, match)
    stages = [
        {
            "goal": "households with a full-time worker (unreachable grids first)",
            "status": "OPTIMAL",
            "time_s": info1.time_s,
            "objective": float(chosen_w),
            "bound": float(chosen_w),
            "gap": 0.0,
        },
        {
            "goal": "heaviest full-time load (permille of capacity)",
            "status": "OPTIMAL",
            "time_s": 0.0,
            "objective": float(limit),
            "bound": float(limit),
            "gap": 0.0,
        },
        {
            "goal": "total full-time distance (m)",
            "status": "OPTIMAL",
            "time_s": info3.time_s,
            "objective": float(fd[idx].sum()),
            "bound": float(fd[idx].sum()),
            "gap": 0.0,
        },
    ]
    return sorted((int(fw[i]), int(fg[i])) for i in idx), stages


def _pair_index(fg: np.ndarray, fw: np.ndarray, match: np.ndarray) -> np.ndarray:
    """Indices of the pairs (grid, worker) chosen by ``match`` (grid -> worker)."""
    lookup = {(int(g), int(w)): i for i, (g, w) in enumerate(zip(fg, fw, strict=True))}
    return np.array(
        [lookup[(g, int(w))] for g, w in enumerate(match.tolist()) if w >= 0], dtype=np.int64
    )


def _full_time_cpsat(
    hh: list[int],
    grid_neighbours: list[list[int]],
    fw: np.ndarray,
    fg: np.ndarray,
    fd: np.ndarray,
    capacity: np.ndarray,
    party: np.ndarray,
    weight: np.ndarray,
    heads_party: int,
    heads_total: int,
    min_party_share: float,
    time_limit: float,
    seed: int,
    hint: set[tuple[int, int]] | None,
    known_cover: int | None,
) -> tuple[list[tuple[int, int]] | None, list[dict[str, Any]]]:
    model = cp_model.CpModel()
    f = [model.new_bool_var(f"f{i}") for i in range(len(fw))]
    extra: list[cp_model.IntVar] = []
    base_by: dict[tuple[int, int], cp_model.IntVar] = {}
    by_worker: dict[int, list[int]] = {}
    by_grid: dict[int, list[int]] = {}
    for i, (w, g) in enumerate(zip(fw.tolist(), fg.tolist(), strict=True)):
        by_worker.setdefault(w, []).append(i)
        by_grid.setdefault(g, []).append(i)
    used = []
    for w, idx in sorted(by_worker.items()):
        cap = int(capacity[w])
        sizes = sorted(hh[int(fg[i])] for i in idx)
        if len(sizes) < 2 or sizes[0] + sizes[1] > cap:
            model.add_at_most_one(f[i] for i in idx)  # room for one grid only
            used.append((w, _s(f[i] for i in idx)))
            continue
        base = {int(fg[i]): model.new_bool_var(f"b{i}") for i in idx}
        extra.extend(base.values())
        base_by.update({(w, g): v for g, v in base.items()})
        model.add_at_most_one(base.values())
        for i in idx:
            g = int(fg[i])
            model.add_implication(base[g], f[i])
            anchors = [base[b] for b in [g, *grid_neighbours[g]] if b in base]
            model.add(f[i] <= _s(anchors))
        model.add(_ws([f[i] for i in idx], [hh[int(fg[i])] for i in idx]) <= cap)
        used.append((w, _s(base.values())))  # a worker with any grid has exactly one base
    for idx in by_grid.values():
        model.add_at_most_one(f[i] for i in idx)
    if min_party_share > 0:
        share = round(min_party_share * _PERMILLE)
        n_used = _s([u for _, u in used])
        n_party = _s([u for w, u in used if party[w]])
        model.add(_PERMILLE * (n_party + heads_party) >= share * (n_used + heads_total))
    load = model.new_int_var(0, _PERMILLE, "max_load_permille")
    for w, idx in by_worker.items():
        cap = max(int(capacity[w]), 1)
        model.add(_ws([f[i] for i in idx], [_PERMILLE * hh[int(fg[i])] for i in idx]) <= cap * load)
    if hint is not None:
        for i, key in enumerate(zip(fw.tolist(), fg.tolist(), strict=True)):
            model.add_hint(f[i], int(key in hint))
        for key, var in base_by.items():
            model.add_hint(var, int(key in hint))
    cover = _ws(f, weight.tolist())
    goals = [
        ("households with a full-time worker (unreachable grids first)", cover, True),
        ("heaviest full-time load (permille of capacity)", load, False),
        ("total full-time distance (m)", _ws(f, fd.tolist()), False),
    ]
    first: list[dict[str, Any]] = []
    if known_cover is not None:  # the flow already covers every grid a worker can reach
        model.add(cover >= known_cover)
        # Every reachable grid is covered, so the load is at least what its lightest taker
        # would carry, and at least the households spread over all the capacity there is.
        lightest: dict[int, int] = {}
        for w, g in zip(fw.tolist(), fg.tolist(), strict=True):
            need = -(-_PERMILLE * hh[g] // max(int(capacity[w]), 1))
            lightest[g] = min(lightest.get(g, need), need)
        total_cap = sum(max(int(capacity[w]), 1) for w in by_worker)
        spread = -(-_PERMILLE * sum(hh[g] for g in lightest) // total_cap)
        model.add(load >= max([spread, *lightest.values()]))
        goals = goals[1:]
        first = [
            {
                "goal": "households with a full-time worker (unreachable grids first)",
                "status": "OPTIMAL",
                "time_s": 0.0,
                "objective": float(known_cover),
                "bound": float(known_cover),
                "gap": 0.0,
            }
        ]
    values, stages = _lex_solve(model, goals, [*f, *extra, load], time_limit=time_limit, seed=seed)
    stages = first + stages
    if values is None:
        return None, stages
    return [(int(fw[i]), int(fg[i])) for i in range(len(fw)) if values[i]], stages


def solve_part_time(
    *,
    n_grids: int,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    party: np.ndarray,
    open_grids: np.ndarray,
    party_so_far: int = 0,
    total_so_far: int = 0,
    min_party_share: float = 0.0,
    distance_limit: float = 1500.0,
    counted: np.ndarray | None = None,
) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """Part-time grid workers, one grid each (OR-Tools min-cost max-flow, exact).

    Goals, in order: most part-time workers placed; most ``open_grids`` (grids without a
    worker yet) given one; least total distance. With a party share, party members are placed
    first, then as many others as keep the share of heads and workers at the minimum.

    Parameters
    ----------
    n_grids
        Number of grids.
    pairs
        ``(worker, grid, distance_m)`` candidate arrays.
    party
        Bool per worker.
    open_grids
        Bool per grid: still without a worker.
    party_so_far, total_so_far
        Party members and people among grid heads and full-time workers already chosen.
    counted
        Bool per person: already among those (a grid head who may also work part-time when
        several roles are allowed); placing them leaves the party share as it is.
    min_party_share
        Minimum share of party members among heads and workers.
    distance_limit
        Largest distance of a pair (sets the weight of an open grid).

    Returns
    -------
    list of (worker, grid)
        The chosen pairs.
    list of dict
        One report per flow solved.
    """
    pw, pg, pd_ = (np.asarray(a, dtype=np.int64) for a in pairs)
    is_open = np.asarray(open_grids, dtype=bool).copy()
    out: list[tuple[int, int]] = []
    stages: list[dict[str, Any]] = []
    groups: list[tuple[str, np.ndarray]]
    seen = np.zeros(len(party), dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
    if min_party_share > 0:
        mask = np.asarray(party, dtype=bool)[pw] if len(pw) else np.zeros(0, dtype=bool)
        old = seen[pw] if len(pw) else np.zeros(0, dtype=bool)
        groups = [
            ("party members", mask),
            ("others already counted", ~mask & old),
            ("others", ~mask & ~old),
        ]
    else:
        groups = [("all", np.ones(len(pw), dtype=bool))]
    n_party, n_total = party_so_far, total_so_far
    for name, mask in groups:
        w, g, d = pw[mask], pg[mask], pd_[mask]
        people = np.unique(w)
        supply = len(people)
        if min_party_share > 0 and name == "others":
            room = math.floor(n_party / min_party_share + 1e-9) - n_total
            supply = min(supply, max(room, 0))
        if supply == 0 or len(w) == 0:
            stages.append(
                {
                    "goal": f"part-time ({name})",
                    "status": "OPTIMAL",
                    "time_s": 0.0,
                    "objective": 0.0,
                    "bound": 0.0,
                    "gap": 0.0,
                }
            )
            continue
        local = np.searchsorted(people, w)
        n_w = len(people)
        source, sink = n_w + n_grids, n_w + n_grids + 1
        big = (int(distance_limit) + 1) * (n_w + 1)
        open_ids = np.flatnonzero(is_open)
        tails = np.concatenate(
            [np.full(n_w, source), local, n_w + open_ids, n_w + np.arange(n_grids)]
        )
        heads = np.concatenate(
            [np.arange(n_w), n_w + g, np.full(len(open_ids), sink), np.full(n_grids, sink)]
        )
        caps = np.concatenate(
            [
                np.ones(n_w + len(w) + len(open_ids), dtype=np.int64),
                np.full(n_grids, n_w, dtype=np.int64),
            ]
        )
        costs = np.concatenate(
            [
                np.zeros(n_w, dtype=np.int64),
                d,
                np.zeros(len(open_ids), dtype=np.int64),
                np.full(n_grids, big, dtype=np.int64),
            ]
        )
        flows, cost, elapsed = _max_flow_min_cost(
            n_w + n_grids + 2, tails, heads, caps, costs, source, sink, supply
        )
        chosen = np.flatnonzero(flows[n_w : n_w + len(w)] > 0)
        placed = [(int(w[i]), int(g[i])) for i in chosen]
        out.extend(placed)
        for _, grid in placed:
            is_open[grid] = False
        new = [p for p, _ in placed if not seen[p]]
        n_total += len(new)
        n_party += sum(bool(party[p]) for p in new)
        stages.append(
            {
                "goal": f"part-time ({name})",
                "status": "OPTIMAL",
                "time_s": round(elapsed, 3),
                "objective": cost,
                "bound": cost,
                "gap": 0.0,
            }
        )
    return sorted(out), stages


def solve_volunteers(
    *,
    needs: np.ndarray,
    kind_skills_ok: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    capacity: np.ndarray,
) -> tuple[list[tuple[int, int, int, int]], SolveInfo]:
    """Volunteers to vulnerable households' needs (OR-Tools min-cost max-flow, exact).

    Most households' needs met, then the least household-weighted distance. A volunteer serves
    at most ``capacity`` households, only the kinds of need their skills meet, in grids within
    reach (several grids when that meets more needs).

    Parameters
    ----------
    needs
        ``(n_grids, n_kinds)`` households in need per grid and kind.
    kind_skills_ok
        ``(n_volunteers, n_kinds)`` bool: the volunteer's skills meet that kind of need.
    pairs
        ``(volunteer, grid, distance_m)`` candidate arrays.
    capacity
        Households each volunteer can serve.

    Returns
    -------
    list of (volunteer, grid, kind, households)
        What each volunteer serves.
    SolveInfo
        ``n_targets`` counts (grid, kind) needs, ``n_filled`` those fully met.
    """
    vw, vg, vd = (np.asarray(a, dtype=np.int64) for a in pairs)
    n_grids, n_kinds = needs.shape
    n_v = len(capacity)
    parts_v, parts_n, parts_d = [], [], []
    for k in range(n_kinds):
        m = np.asarray(kind_skills_ok, dtype=bool)[vw, k] & (needs[vg, k] > 0)
        parts_v.append(vw[m])
        parts_n.append(vg[m] * n_kinds + k)
        parts_d.append(vd[m])
    arc_v = np.concatenate(parts_v) if parts_v else np.zeros(0, dtype=np.int64)
    arc_n = np.concatenate(parts_n) if parts_n else np.zeros(0, dtype=np.int64)
    arc_d = np.concatenate(parts_d) if parts_d else np.zeros(0, dtype=np.int64)
    n_needs = n_grids * n_kinds
    source, sink = n_v + n_needs, n_v + n_needs + 1
    tails = np.concatenate([np.full(n_v, source), arc_v, n_v + np.arange(n_needs)])
    heads = np.concatenate([np.arange(n_v), n_v + arc_n, np.full(n_needs, sink)])
    caps = np.concatenate(
        [
            np.asarray(capacity, dtype=np.int64),
            np.asarray(capacity, dtype=np.int64)[arc_v],
            needs.reshape(-1).astype(np.int64),
        ]
    )
    costs = np.concatenate(
        [np.zeros(n_v, dtype=np.int64), arc_d, np.zeros(n_needs, dtype=np.int64)]
    )
    supply = int(min(np.asarray(capacity).sum(), needs.sum()))
    out: list[tuple[int, int, int, int]] = []
    elapsed = 0.0
    cost = 0.0
    if supply > 0 and len(arc_v):
        flows, cost, elapsed = _max_flow_min_cost(
            n_v + n_needs + 2, tails, heads, caps, costs, source, sink, supply
        )
        mid = flows[n_v : n_v + len(arc_v)]
        for j in np.flatnonzero(mid > 0).tolist():
            g, k = divmod(int(arc_n[j]), n_kinds)
            out.append((int(arc_v[j]), g, k, int(mid[j])))
    served = np.zeros_like(needs)
    for _, g, k, h in out:
        served[g, k] += h
    n_targets = int((needs > 0).sum())
    n_filled = int(((needs > 0) & (served >= needs)).sum())
    stages = [
        {
            "goal": "needs met, then household-metres",
            "status": "OPTIMAL",
            "time_s": round(elapsed, 3),
            "objective": cost,
            "bound": cost,
            "gap": 0.0,
        }
    ]
    return sorted(out), _summarise("volunteers", "min_cost_flow", stages, n_targets, n_filled)
