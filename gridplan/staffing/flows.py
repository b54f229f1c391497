"""Assignment and flow models of :mod:`gridplan.staffing.assign` (OR-Tools min-cost flow, exact).

Heads (one person per post), part-time grid workers (one grid each) and volunteers (several
households each) are all transportation problems, solved exactly by min-cost max-flow; only a
party share the flow misses sends the head assignment to CP-SAT with that side constraint.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from ortools.graph.python import min_cost_flow
from ortools.sat.python import cp_model

from gridplan.staffing.common import _PERMILLE, SolveInfo, _s, lex_solve, summarise, ws

__all__ = ["solve_matching", "solve_part_time", "solve_volunteers"]


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
        info = summarise(
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
    return match, summarise(problem, "min_cost_flow", stages, n_targets, len(chosen))


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
    cost = ws(x, pair_cost.tolist())
    values, stages = lex_solve(
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
    info = summarise(problem, "cp_sat", stages[1:], n_targets, n_filled)
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
    return sorted(out), summarise("volunteers", "min_cost_flow", stages, n_targets, n_filled)
