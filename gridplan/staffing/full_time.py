"""Full-time grid workers of :mod:`gridplan.staffing.assign`: one grid each by flows, or
adjacent grids by CP-SAT.

When no worker has room for two grids, three min-cost flows solve the goals exactly. Otherwise
the cluster model of :mod:`gridplan.staffing.clusters` (one base grid plus adjacent grids per
worker, min-max load by bisection) is used, and the pair model below only when there are too
many clusters to list.

Full-time and part-time workers are solved in sequence, not jointly, on purpose. The goals are
lexicographic with full-time cover first, and grids no part-time worker can reach already weigh
more than any other in that cover, so a joint model could only change the choice among
full-time plans that tie on cover, heaviest load and distance. In exchange the part-time stage
stays an exact min-cost flow that takes well under a second, and the full-time model stays small
enough to prove its optimum; one model mixing both would be larger and slower to prove.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from gridplan.staffing.clusters import MAX_CLUSTERS, enumerate_clusters, solve_clusters
from gridplan.staffing.common import _PERMILLE, SolveInfo, _s, lex_solve, ws
from gridplan.staffing.flows import solve_matching

__all__ = ["solve_full_time"]

log = logging.getLogger(__name__)


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
    counted: np.ndarray | None = None,
    time_limit: float = 20.0,
    seed: int = 0,
    max_clusters: int = MAX_CLUSTERS,
) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
    """Full-time grid workers over adjacent grids (CP-SAT).

    Goals, in order: (1) most households with a full-time worker, grids no part-time worker
    can reach (``orphan``) counted before any other; (2) lightest heaviest load, in permille of
    the worker's capacity; (3) least total distance. A worker covers grids whose households sum
    to at most their capacity, all of them the worker's base grid or adjacent to it; a grid has
    at most one full-time worker. With a party share, party members are at least that share of
    the grid heads and full-time workers together, each person counted once (a grid head who
    also works full-time, when several roles are allowed, is in ``counted`` and changes
    neither side of the share). The heaviest load is proven optimal by
    bisection (see :mod:`gridplan.staffing.clusters`) unless the time runs out, in which case its
    report holds the bound reached and the gap.

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
    counted
        Bool per person: already among the ``heads_total`` (a grid head); choosing them as a
        full-time worker leaves the share as it is. ``None``: no one.
    time_limit
        Seconds for the three goals together.
    seed
        CP-SAT random seed.
    max_clusters
        Most grid clusters to list; past it the pair model is used instead.

    Returns
    -------
    list of (worker, grid)
        The chosen pairs.
    list of dict
        One report per goal.
    """
    fw, fg, fd = (np.asarray(a, dtype=np.int64) for a in pairs)
    hh = [int(h) for h in grid_households]
    party = np.asarray(party, dtype=bool)
    seen = np.zeros(len(party), dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
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
    used = {w for w, _ in flow_pairs if not seen[w]}  # people not yet counted
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
    clusters = enumerate_clusters(
        hh, grid_neighbours, fw, fg, fd, np.asarray(capacity), reachable, limit=max_clusters
    )
    if clusters is not None and len(clusters.worker):
        pairs_cp, stages_cp = solve_clusters(
            clusters,
            reachable_weight=int(reachable.sum()),
            party=party,
            heads_party=heads_party,
            heads_total=heads_total,
            min_party_share=min_party_share,
            counted=seen,
            hint=sorted(hint) if hint is not None else None,
            known_cover=known,
            time_limit=time_limit,
            seed=seed,
        )
    else:
        log.info("full-time workers: too many grid clusters to list; solving pair by pair")
        pairs_cp, stages_cp = _full_time_cpsat(
            hh,
            grid_neighbours,
            fw,
            fg,
            fd,
            capacity,
            party,
            seen,
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
    counted: np.ndarray,
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
        model.add(ws([f[i] for i in idx], [hh[int(fg[i])] for i in idx]) <= cap)
        used.append((w, _s(base.values())))  # a worker with any grid has exactly one base
    for idx in by_grid.values():
        model.add_at_most_one(f[i] for i in idx)
    if min_party_share > 0:
        share = round(min_party_share * _PERMILLE)
        # a worker already counted among the heads changes neither side of the share
        n_used = _s([u for w, u in used if not counted[w]])
        n_party = _s([u for w, u in used if party[w] and not counted[w]])
        model.add(_PERMILLE * (n_party + heads_party) >= share * (n_used + heads_total))
    load = model.new_int_var(0, _PERMILLE, "max_load_permille")
    for w, idx in by_worker.items():
        cap = max(int(capacity[w]), 1)
        model.add(ws([f[i] for i in idx], [_PERMILLE * hh[int(fg[i])] for i in idx]) <= cap * load)
    if hint is not None:
        for i, key in enumerate(zip(fw.tolist(), fg.tolist(), strict=True)):
            model.add_hint(f[i], int(key in hint))
        for key, var in base_by.items():
            model.add_hint(var, int(key in hint))
    cover = ws(f, weight.tolist())
    goals = [
        ("households with a full-time worker (unreachable grids first)", cover, True),
        ("heaviest full-time load (permille of capacity)", load, False),
        ("total full-time distance (m)", ws(f, fd.tolist()), False),
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
    values, stages = lex_solve(model, goals, [*f, *extra, load], time_limit=time_limit, seed=seed)
    stages = first + stages
    if values is None:
        return None, stages
    return [(int(fw[i]), int(fg[i])) for i in range(len(fw)) if values[i]], stages
