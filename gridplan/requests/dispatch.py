"""The dispatcher (社区派单): open requests to people, by skill, walking distance, deadline
and load, with OR-Tools.

One function, :func:`dispatch_requests`, two exact models of the same objective (metres
walked + lateness + a penalty per request left unplaced + workload imbalance):

- ``method="flow"`` (default), the slot form: each case is one slot of ``slot_hours``; a person
  has as many slots as open cases they may still take, the k-th slot finishing later (their
  queue at their hours per day) and weighing more (balance). Requests → (person, slot) →
  sink is an assignment problem solved exactly by min-cost flow (``SimpleMinCostFlow``).
- ``method="cpsat"``: effort-weighted capacity (a case takes its own ``effort_h`` out of a
  person's hours) with the heaviest load in the objective (balance), CP-SAT under a time limit,
  warm-started (hinted) from the last run's assignment and the exact flow answer fitted to the
  effort budgets, its objective bounded by that start (never worse than it; its per-case
  lateness counts each new case as the person's next, so its figures are its own model's).

By default the flow runs under the office-rule guard (``[requests] guard_office_rule``): the
weighted objective alone walks farther than the office rule (greedy nearest-qualified in
deadline order) by design — the own-grid head start and the balance term buy grid-workers-first
and even loads with metres — which an office cannot be asked to accept on faith. The guard
minimises the same weighted objective subject to placed ≥, metres ≤ and hours late ≤ the office
rule's on the same batch, so the default answer is never worse than what the office would have
done by hand on any of the three, and better on the weights wherever there is room (benchmarks:
city 1 000 × 10 000 and the town's month, less walking and less or equal lateness). The price is
stated, not hidden: where the office rule is itself the shortest walk the guard cannot trade a
few metres for hours of lateness; ``guard=False`` (``--no-guard``) is the weights alone.

Both solve on the candidate pairs given (request, person, metres: those within reach, see
:func:`candidate_pairs`), never touch an accepted case (the caller passes open ones only and
counts accepted cases in each person's load), and explain each request they leave unplaced in
the planner's words.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from gridplan._errors import ConfigError
from gridplan.settings import DEFAULT, RequestSettings

if TYPE_CHECKING:
    from gridplan.network.graph import WalkNetwork

__all__ = ["DispatchResult", "candidate_pairs", "dispatch_requests", "greedy_dispatch"]

#: CP-SAT keeps each request's this many cheapest candidates (the flow form keeps them all).
CPSAT_CANDIDATES = 25

logger = logging.getLogger(__name__)

#: Walking speed of a person going to a request, metres per minute (GB 50180: 60 m/min).
_SPEED_M_PER_H = 3600.0
_METHODS = ("flow", "cpsat")
_PEOPLE_COLS = ("person_id", "skills", "grid_ids", "hours_per_day", "cases_free", "queue_h")
_REQUEST_COLS = ("request_id", "skill", "grid_id", "effort_h", "expected_at")


@dataclass
class DispatchResult:
    """What a dispatch run decided.

    Attributes
    ----------
    assignments
        request_id, person_id, distance_m, finish_at (UTC), lateness_h, own_grid.
    unplaced
        request_id, reason (the planner's words).
    info
        method, status, objective, bound, gap, time_s, placed, unplaced, walked_m,
        lateness_h, max_load (open cases of the busiest person after the run).
    """

    assignments: pd.DataFrame
    unplaced: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def _m(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def _skills(value: Any) -> frozenset[str]:
    if isinstance(value, frozenset | set | list | tuple):
        return frozenset(str(v) for v in value)
    if isinstance(value, str):
        return frozenset(s.strip().lower() for s in value.split(";") if s.strip())
    return frozenset()


def candidate_pairs(
    requests_xy: np.ndarray,
    people_xy: np.ndarray,
    *,
    max_distance_m: float,
    network: WalkNetwork | None = None,
    crs: Any = None,
) -> pd.DataFrame:
    """Request × person pairs within walking reach, with the metres between them.

    Parameters
    ----------
    requests_xy, people_xy
        ``(n, 2)`` metric coordinates (requests' places, people's homes).
    max_distance_m
        Farthest walk kept.
    network
        The walk network: distances along it (a straight line is a lower bound, so the
        straight-line search first narrows the pairs). ``None``: straight-line metres.
    crs
        CRS of the coordinates (the network's), needed with ``network``.

    Returns
    -------
    pandas.DataFrame
        ``r`` (request position), ``p`` (person position), ``distance_m``.
    """
    req = shapely.points(np.asarray(requests_xy, dtype=float))
    ppl = shapely.points(np.asarray(people_xy, dtype=float))
    if len(req) == 0 or len(ppl) == 0:
        return pd.DataFrame({"r": [], "p": [], "distance_m": []})
    tree = shapely.STRtree(ppl)
    ri, pi = tree.query(req, predicate="dwithin", distance=max_distance_m)
    if network is None:
        d = shapely.distance(req[ri], ppl[pi])
        return pd.DataFrame({"r": ri, "p": pi, "distance_m": d.astype(float)})
    import geopandas as gpd

    from gridplan.network.distances import iter_distance_pairs
    from gridplan.network.snapping import snap_points

    # snap each distinct place once (many people share a building)
    r_xy, r_inv = np.unique(np.asarray(requests_xy, dtype=float), axis=0, return_inverse=True)
    p_xy, p_inv = np.unique(np.asarray(people_xy, dtype=float), axis=0, return_inverse=True)
    r_snap = snap_points(network, gpd.GeoSeries(shapely.points(r_xy), crs=crs))
    p_snap = snap_points(network, gpd.GeoSeries(shapely.points(p_xy), crs=crs))
    best: dict[tuple[int, int], float] = {}
    for o, t, dist in iter_distance_pairs(network, r_snap, p_snap, limit=max_distance_m):
        for a, b, v in zip(o.tolist(), t.tolist(), dist.tolist(), strict=True):
            if v < best.get((a, b), math.inf):
                best[(a, b)] = v
    ru, pu = r_inv.reshape(-1)[ri], p_inv.reshape(-1)[pi]
    d = np.array([best.get((a, b), math.inf) for a, b in zip(ru, pu, strict=True)])
    keep = np.isfinite(d)
    return pd.DataFrame({"r": ri[keep], "p": pi[keep], "distance_m": d[keep]})


def _check(requests: pd.DataFrame, people: pd.DataFrame, pairs: pd.DataFrame) -> None:
    miss = [c for c in _REQUEST_COLS if c not in requests.columns]
    miss += [c for c in _PEOPLE_COLS if c not in people.columns]
    miss += [c for c in ("request_id", "person_id", "distance_m") if c not in pairs.columns]
    if miss:
        msg = f"dispatch_requests: missing column(s) {', '.join(miss)}"
        raise ConfigError(msg)
    if requests["request_id"].duplicated().any():
        dup = requests.loc[requests["request_id"].duplicated(), "request_id"].tolist()[:5]
        raise ConfigError(f"dispatch_requests: request ids repeated: {', '.join(dup)}")


@dataclass
class _Arcs:
    r: np.ndarray  # request position
    p: np.ndarray  # person position
    dist: np.ndarray
    base: np.ndarray  # metres-equivalent cost without lateness/balance
    own: np.ndarray  # bool: one of the request's grid workers


def _arcs(
    requests: pd.DataFrame, people: pd.DataFrame, pairs: pd.DataFrame, s: RequestSettings
) -> _Arcs:
    rpos = {rid: i for i, rid in enumerate(requests["request_id"].astype(str))}
    ppos = {pid: i for i, pid in enumerate(people["person_id"].astype(str))}
    r_s = pairs["request_id"].astype(str).map(rpos)
    p_s = pairs["person_id"].astype(str).map(ppos)
    ok = r_s.notna() & p_s.notna()
    r: np.ndarray = r_s[ok].to_numpy(dtype=np.int64)
    p: np.ndarray = p_s[ok].to_numpy(dtype=np.int64)
    dist = pairs["distance_m"][ok].to_numpy(dtype=float)
    skill = [None if pd.isna(v) or v == "" else str(v) for v in requests["skill"]]
    rgrid = requests["grid_id"].astype(object).to_numpy()
    pskills = [_skills(v) for v in people["skills"]]
    pgrids = [_skills(v) if not isinstance(v, frozenset) else v for v in people["grid_ids"]]
    # a partner unit (categories given) takes the categories it names, whatever the skill
    pcats = [_skills(v) for v in people.get("categories", pd.Series(None, index=people.index))]
    code = [
        str(v) if isinstance(v, str) else ""
        for v in requests.get("service_code", pd.Series(None, index=requests.index))
    ]
    keep = np.array(
        [
            (code[a] in pcats[b]) if pcats[b] else (skill[a] is None or skill[a] in pskills[b])
            for a, b in zip(r, p, strict=True)
        ],
        dtype=bool,
    )
    keep &= np.isfinite(dist) & (dist <= s.max_distance_m)
    r, p, dist = r[keep], p[keep], dist[keep]
    own = np.array(
        [str(rgrid[a]).lower() in pgrids[b] for a, b in zip(r, p, strict=True)], dtype=bool
    )
    base = dist - s.own_grid_bonus_m * own
    order = np.lexsort((p, r))
    return _Arcs(r[order], p[order], dist[order], base[order], own[order])


def dispatch_requests(
    requests: pd.DataFrame,
    people: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    now: pd.Timestamp,
    method: str = "flow",
    hint: dict[str, str] | None = None,
    settings: RequestSettings | None = None,
    guard: bool | None = None,
) -> DispatchResult:
    """Assign open requests to people, minimising walking, lateness, unplaced and imbalance.

    Parameters
    ----------
    requests
        One row per open request: request_id, skill (``None``: anyone), grid_id, effort_h,
        expected_at (the deadline, UTC timestamp); service_code for the reasons.
    people
        One row per eligible person: person_id, skills (``;``-text or set), grid_ids (the
        grids they work as grid head or worker), hours_per_day, cases_free (more open cases
        they may take), queue_h (hours of open cases they hold already), open_cases; optional
        categories (``;``-text or set) for a partner unit (双报到单位), which takes the
        requests whose service_code it names instead of going by skill, and kind / name
        (``partner`` rows are named in the reasons and the assignments).
    pairs
        request_id, person_id, distance_m: who can reach which request (see
        :func:`candidate_pairs`). A pair whose person lacks the request's skill, or beyond
        ``max_distance_m``, is dropped.
    now
        The time of the run (UTC): lateness counts from it.
    method
        ``"flow"`` (slot form, exact min-cost flow) or ``"cpsat"`` (effort-weighted, CP-SAT).
    hint
        request_id -> person_id of the last run (CP-SAT starts from it; the flow form prefers
        it by one metre, so an unchanged problem gives the unchanged answer).
    settings
        ``[requests]`` settings (weights, slot hours, time limit).
    guard
        Never worse than the office rule (:func:`greedy_dispatch` on the same input) on
        requests placed, metres walked and hours late: the weighted objective is minimised
        subject to those three bounds (flow only; see :func:`_guard`). ``None``: the
        ``guard_office_rule`` setting (on by default) for the flow; CP-SAT instead starts
        from the exact flow answer and never returns a worse one.

    Returns
    -------
    DispatchResult
        Assignments, unplaced requests with reasons, solver figures (with the guard also
        ``guard`` — ``"off"``, ``"not binding"``, ``"binding"`` or ``"office rule kept"`` —,
        ``multiplier`` and the office rule's ``office_placed``, ``office_walked_m``,
        ``office_lateness_h``).

    Raises
    ------
    ConfigError
        An unknown method or missing columns.
    """
    s = settings or DEFAULT.requests
    if method not in _METHODS:
        raise ConfigError(f"dispatch method {method!r} is unknown; use one of {_METHODS}")
    _check(requests, people, pairs)
    requests = requests.reset_index(drop=True)
    people = people.reset_index(drop=True)
    arcs = _arcs(requests, people, pairs, s)
    now = pd.Timestamp(now).tz_convert("UTC")
    hours_left = (
        (pd.to_datetime(requests["expected_at"], utc=True) - now).dt.total_seconds() / 3600.0
    ).to_numpy(dtype=float)
    effort: np.ndarray = (
        pd.to_numeric(requests["effort_h"], errors="coerce").fillna(s.slot_hours).to_numpy(float)
    )
    hpd = pd.to_numeric(people["hours_per_day"], errors="coerce").fillna(1.0).to_numpy(float)
    hpd = np.maximum(hpd, 0.1)
    free = pd.to_numeric(people["cases_free"], errors="coerce").fillna(0).to_numpy(float)
    free = np.maximum(free, 0).astype(np.int64)
    queue = pd.to_numeric(people["queue_h"], errors="coerce").fillna(0.0).to_numpy(float)
    hint_p = _hint_positions(hint, requests, people)
    t0 = time.perf_counter()
    if guard is None:
        guard = s.guard_office_rule and method == "flow"  # CP-SAT starts from the flow instead
    if guard and method != "flow":
        msg = (
            "dispatch: the office-rule guard ([requests] guard_office_rule) works with the "
            "flow method only; use method='flow' or set guard_office_rule = false"
        )
        raise ConfigError(msg)
    if method == "flow":
        chosen, info, fm = _solve_flow(arcs, hours_left, hpd, free, queue, hint_p, s)
        info["guard"] = "off"
        if guard:
            chosen, info = _guard(fm, arcs, chosen, info, requests, hours_left, hpd, queue, free, s)
    else:
        chosen, info = _solve_cpsat(arcs, hours_left, effort, hpd, free, queue, hint_p, s)
        start = info.pop("_start")
        if chosen != start:
            # CP-SAT's per-case lateness takes each new case as the person's next; on the
            # figures as reported (each person's cases in deadline order) its answer must not
            # be worse than the flow start it began from, else the start is kept
            def stated(ch: dict[int, int]) -> float:
                i = _result(
                    requests, people, arcs, ch, dict(info), hours_left, effort, hpd, queue, free, s
                ).info
                late = s.lateness_m_per_h * i["lateness_h"]
                return float(i["walked_m"] + late + s.unplaced_penalty_m * i["unplaced"])

            if stated(start) < stated(chosen):
                logger.warning(
                    "dispatch: CP-SAT's answer walks or runs late more than its flow start as "
                    "stated (cases in deadline order); the flow start is kept"
                )
                chosen = start
                info.update(
                    start="flow start kept (stated figures)",
                    objective=info["start_objective"],
                    status="FEASIBLE",
                    gap=round(_gap(info["start_objective"], info["bound"]), 6),
                )
    info["time_s"] = round(time.perf_counter() - t0, 3)
    return _result(requests, people, arcs, chosen, info, hours_left, effort, hpd, queue, free, s)


def _hint_positions(
    hint: dict[str, str] | None, requests: pd.DataFrame, people: pd.DataFrame
) -> np.ndarray:
    out = np.full(len(requests), -1, dtype=np.int64)
    if not hint:
        return out
    ppos = {pid: i for i, pid in enumerate(people["person_id"].astype(str))}
    for i, rid in enumerate(requests["request_id"].astype(str)):
        if rid in hint and hint[rid] in ppos:
            out[i] = ppos[hint[rid]]
    return out


def _finish_h(queue_h: float, hpd: float, work_h: float, walk_m: float) -> float:
    """Hours from now until a person working ``hpd`` hours a day ends a case."""
    return (queue_h + work_h + walk_m / _SPEED_M_PER_H) / hpd * 24.0


def _finish_arr(
    queue_h: np.ndarray, hpd: np.ndarray, work_h: float, walk_m: np.ndarray
) -> np.ndarray:
    return (queue_h + work_h + walk_m / _SPEED_M_PER_H) / hpd * 24.0


@dataclass
class _Flow:
    """The slot-form network, built once and solved at several multipliers.

    Arcs are, in order: one per (candidate pair, slot of its person), one per slot to the
    sink, one per request to the sink (left unplaced). ``c0`` is each arc's cost in whole
    metres under the weighted objective; ``w`` the part a multiplier on metres walked and on
    requests left unplaced adds, in decimetres (walked decimetres on pair arcs, the penalty on
    unplaced arcs): the guard compares metres to the tenth, as they are reported, so whole
    metres would hide a walk 0.2 m longer than the office rule's.
    """

    tails: np.ndarray
    heads: np.ndarray
    c0: np.ndarray
    w: np.ndarray
    ra: np.ndarray  # request of each pair arc
    pa: np.ndarray  # person of each pair arc
    a_idx: np.ndarray  # candidate pair (position in _Arcs) of each pair arc
    n_r: int
    n_nodes: int

    @property
    def n_pair(self) -> int:
        return len(self.ra)


def _flow_model(
    arcs: _Arcs,
    hours_left: np.ndarray,
    hpd: np.ndarray,
    free: np.ndarray,
    queue: np.ndarray,
    hint_p: np.ndarray,
    s: RequestSettings,
) -> _Flow:
    n_r = len(hours_left)
    used_p = np.unique(arcs.p)
    # slot nodes: person p has free[p] slots, numbered after the request nodes
    start_of = np.zeros(len(free), dtype=np.int64)
    n_used = free[used_p].astype(np.int64)
    start_of[used_p] = n_r + np.cumsum(n_used) - n_used
    sink = n_r + int(n_used.sum())
    # one arc per (candidate pair, slot of its person), built as arrays
    n_slots = free[arcs.p].astype(np.int64)
    a_idx = np.repeat(np.arange(len(arcs.r)), n_slots)
    first = np.cumsum(n_slots) - n_slots
    k = np.arange(len(a_idx)) - np.repeat(first, n_slots)
    ra, pa = arcs.r[a_idx], arcs.p[a_idx]
    finish = _finish_arr(queue[pa] + k * s.slot_hours, hpd[pa], s.slot_hours, arcs.dist[a_idx])
    late = np.maximum(0.0, finish - hours_left[ra])
    c = arcs.base[a_idx] + s.lateness_m_per_h * late + s.balance_m_per_case * k
    c = c + np.where(hint_p[ra] == pa, 0.0, 1.0)
    slot_nodes = np.arange(n_r, sink, dtype=np.int64)
    tails = np.concatenate([ra, slot_nodes, np.arange(n_r)]).astype(np.int64)
    heads = np.concatenate(
        [start_of[pa] + k, np.full(len(slot_nodes), sink), np.full(n_r, sink)]
    ).astype(np.int64)
    c0 = np.concatenate(
        [np.round(c), np.zeros(len(slot_nodes)), np.full(n_r, round(s.unplaced_penalty_m))]
    ).astype(np.int64)
    w = np.concatenate(
        [
            np.round(arcs.dist[a_idx] * 10),
            np.zeros(len(slot_nodes)),
            np.full(n_r, round(s.unplaced_penalty_m * 10)),
        ]
    ).astype(np.int64)
    return _Flow(tails, heads, c0, w, ra, pa, a_idx, n_r, sink + 1)


def _flow_solve(
    f: _Flow, m: int, q: int, keep: np.ndarray | None = None
) -> tuple[int, dict[int, int]]:
    """Min-cost flow at costs ``q·c0 + m·w`` (``keep``: the arcs allowed, all if None).

    Returns the optimal cost (in those units) and request -> person position."""
    from ortools.graph.python import min_cost_flow

    if f.n_r == 0:
        return 0, {}
    costs = q * f.c0 + m * f.w
    sel = np.ones(len(costs), dtype=bool) if keep is None else keep
    n_out = f.n_pair + (len(costs) - f.n_pair - f.n_r)  # pair and slot arcs
    out_arc = np.zeros(len(costs), dtype=bool)  # each unit leaves its request by one of these
    out_arc[: f.n_pair] = True
    out_arc[n_out:] = True
    # the own-grid bonus may make a cost negative: shift every arc leaving a request
    offset = int(min(0, costs[sel & out_arc].min(initial=0)))
    costs = costs - offset * out_arc
    idx = np.flatnonzero(sel)
    smcf = min_cost_flow.SimpleMinCostFlow()
    arc_ids = smcf.add_arcs_with_capacity_and_unit_cost(
        f.tails[idx], f.heads[idx], np.ones(len(idx), dtype=np.int64), costs[idx]
    )
    supplies = np.zeros(f.n_nodes, dtype=np.int64)
    supplies[: f.n_r] = 1
    supplies[-1] = -f.n_r
    smcf.set_nodes_supplies(np.arange(f.n_nodes, dtype=np.int64), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        msg = f"dispatch: the min-cost flow ended with status {status} (no optimum)"
        raise ConfigError(msg)
    n_pair_kept = int(np.count_nonzero(idx < f.n_pair))
    flows = smcf.flows(arc_ids[:n_pair_kept])
    used = idx[:n_pair_kept][flows > 0]
    chosen = {int(f.ra[a]): int(f.pa[a]) for a in used.tolist()}
    return int(smcf.optimal_cost()) + offset * f.n_r, chosen


def _solve_flow(
    arcs: _Arcs,
    hours_left: np.ndarray,
    hpd: np.ndarray,
    free: np.ndarray,
    queue: np.ndarray,
    hint_p: np.ndarray,
    s: RequestSettings,
) -> tuple[dict[int, int], dict[str, Any], _Flow]:
    f = _flow_model(arcs, hours_left, hpd, free, queue, hint_p, s)
    cost, chosen = _flow_solve(f, 0, 1)
    info = {
        "method": "flow",
        "status": "OPTIMAL",
        "objective": float(cost),
        "bound": float(cost),
        "gap": 0.0,
        "arcs": len(f.tails),
    }
    return chosen, info, f


#: Multipliers are sixteenths (integer costs stay exact); the ladder of multipliers on metres
#: walked and requests left unplaced the guard tries, then bisection steps between them.
_GUARD_Q = 16
_GUARD_LADDER = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)
_GUARD_BISECT = 5


def _walk_late(
    chosen: dict[int, int],
    arcs: _Arcs,
    hours_left: np.ndarray,
    rank: np.ndarray,
    hpd: np.ndarray,
    queue: np.ndarray,
    s: RequestSettings,
) -> tuple[int, float, float, int]:
    """Placed, metres walked, hours late (as :func:`_result` states them: each person's new
    cases in deadline order) and decimetres walked (the guard's constraint) of an assignment."""
    if not chosen:
        return 0, 0.0, 0.0, 0
    r = np.fromiter(chosen.keys(), dtype=np.int64, count=len(chosen))
    p = np.fromiter(chosen.values(), dtype=np.int64, count=len(chosen))
    n_p = int(max(arcs.p.max(initial=0), p.max())) + 1
    keys = arcs.r * n_p + arcs.p  # increasing: arcs are sorted by request, then person
    d = arcs.dist[np.searchsorted(keys, r * n_p + p)]
    order = np.lexsort((rank[r], hours_left[r], p))
    r, p, d = r[order], p[order], d[order]
    start = np.r_[0, np.flatnonzero(np.diff(p)) + 1]
    k = np.arange(len(p)) - np.repeat(start, np.diff(np.r_[start, len(p)]))
    finish = _finish_arr(queue[p] + k * s.slot_hours, hpd[p], s.slot_hours, d)
    late = np.maximum(0.0, finish - hours_left[r])
    dm = int(np.round(d * 10).sum())
    return len(r), dm / 10, round(float(np.round(late, 2).sum()), 2), dm


def _guard(
    fm: _Flow,
    arcs: _Arcs,
    chosen: dict[int, int],
    info: dict[str, Any],
    requests: pd.DataFrame,
    hours_left: np.ndarray,
    hpd: np.ndarray,
    queue: np.ndarray,
    free: np.ndarray,
    s: RequestSettings,
) -> tuple[dict[int, int], dict[str, Any]]:
    """The weighted objective subject to: placed ≥, metres walked ≤ and hours late ≤ the
    office rule's on the same input.

    The office rule's assignment is feasible, so an answer always exists. Relaxing "metres
    ≤ the office rule's" and "unplaced ≤ the office rule's" with one multiplier μ (on the
    penalty-weighted count) and dropping the lateness bound leaves a min-cost flow at costs
    ``c + μ·(metres + penalty·unplaced)``: exact for each μ, and each optimum less
    ``μ·(office metres + penalty·office unplaced)`` is a lower bound on the guarded
    optimum. The guard solves at a fixed ladder of μ and bisects between the last
    infeasible and the first feasible (deterministic, no clock), keeps the best assignment
    meeting all three bounds (the office rule's own among them), and reports the best bound
    and the gap. The unguarded optimum, when it meets the bounds, is returned as is (exact).
    """
    rank = np.empty(len(requests), dtype=np.int64)
    rank[np.argsort(requests["request_id"].astype(str).to_numpy(), kind="stable")] = np.arange(
        len(requests)
    )
    office_arcs = _Arcs(arcs.r, arcs.p, arcs.dist, arcs.dist, arcs.own)
    office = _greedy(
        office_arcs,
        hours_left,
        np.full(len(requests), s.slot_hours),
        free,
        s.slot_hours,
        by_effort=False,
    )
    o_placed, o_walk, o_late, o_dm = _walk_late(office, arcs, hours_left, rank, hpd, queue, s)
    pen = round(s.unplaced_penalty_m * 10)
    o_w = o_dm + pen * (fm.n_r - o_placed)
    info.update({"office_placed": o_placed, "office_walked_m": o_walk, "office_lateness_h": o_late})

    def meets(ch: dict[int, int]) -> tuple[bool, int]:
        placed, _walk, late, dm = _walk_late(ch, arcs, hours_left, rank, hpd, queue, s)
        ok = placed >= o_placed and dm <= o_dm and late <= o_late
        return ok, dm + pen * (fm.n_r - placed)

    ok0, _w0 = meets(chosen)
    if ok0:
        info.update({"guard": "not binding", "multiplier": 0.0})
        return chosen, info
    q = _GUARD_Q
    best_bound = float(info["objective"])  # the unguarded optimum bounds the guarded one
    # the office rule's own assignment, its objective at its best slot order
    mask = np.ones(len(fm.c0), dtype=bool)
    in_office = np.zeros(len(requests), dtype=bool)
    in_office[list(office)] = True
    want = np.full(len(requests), -1, dtype=np.int64)
    for r, p in office.items():
        want[r] = p
    mask[: fm.n_pair] = want[fm.ra] == fm.pa
    mask[len(fm.c0) - fm.n_r :] = ~in_office
    o_cost, _ = _flow_solve(fm, 0, 1, keep=mask)
    best: tuple[float, dict[int, int], float, str] = (float(o_cost), office, -1.0, "office rule")
    tried: dict[int, bool] = {}

    def solve(m: int) -> bool:
        nonlocal best, best_bound
        cost, ch = _flow_solve(fm, m, q)
        ok, w = meets(ch)
        f_val = (cost - m * w) / q
        best_bound = max(best_bound, (cost - m * o_w) / q)
        if ok and f_val <= best[0]:
            best = (f_val, ch, m / q, "flow")
        tried[m] = ok
        return ok

    lo, hi = 0, None
    for mu in _GUARD_LADDER:
        if solve(mu * q):
            hi = mu * q
            break
        lo = mu * q
    if hi is not None:
        for _ in range(_GUARD_BISECT):
            mid = round(math.sqrt(max(lo, 1) * hi))
            if mid in (lo, hi) or mid in tried:
                break
            if solve(mid):
                hi = mid
            else:
                lo = mid
    f_best, ch_best, mult, source = best
    gap = _gap(f_best, best_bound)
    info.update(
        {
            "status": "OPTIMAL" if f_best - best_bound <= 1e-9 else "FEASIBLE",
            "objective": f_best,
            "bound": best_bound,
            "gap": round(gap, 6),
            "guard": "binding" if source == "flow" else "office rule kept",
            "multiplier": mult,
            "guard_solves": len(tried) + 2,
        }
    )
    if source != "flow" and gap > 0:
        logger.warning(
            "dispatch: no flow solution met the office rule on placed, metres and lateness; "
            "the office rule's assignment is kept (objective %.0f, bound %.0f)",
            f_best,
            best_bound,
        )
    return ch_best, info


def _solve_cpsat(
    arcs: _Arcs,
    hours_left: np.ndarray,
    effort: np.ndarray,
    hpd: np.ndarray,
    free: np.ndarray,
    queue: np.ndarray,
    hint_p: np.ndarray,
    s: RequestSettings,
) -> tuple[dict[int, int], dict[str, Any]]:
    """CP-SAT on the effort-weighted model, warm-started from the flow answer.

    The exact slot-form flow is solved first and repaired to the effort budgets
    (:func:`_fit_to_hours`); that assignment (or the last run's, where given) is the hint, the
    objective is bounded above by the hint's value, and the hint is kept when CP-SAT returns
    nothing better within its time limit: CP-SAT is never worse than the flow answer it
    started from. The candidate arcs are each request's ``CPSAT_CANDIDATES`` cheapest plus
    the hint's own arcs.
    """
    from ortools.sat.python import cp_model

    from gridplan._cpsat import reproducible_solver

    n_r = len(hours_left)
    flow_chosen, _finfo, _fm = _solve_flow(arcs, hours_left, hpd, free, queue, hint_p, s)
    start = {r: int(hint_p[r]) for r in range(n_r) if hint_p[r] >= 0}
    for r, p in flow_chosen.items():
        start.setdefault(r, p)
    start = _fit_to_hours(start, arcs, effort, free, s.slot_hours)
    keep = np.zeros(len(arcs.r), dtype=bool)
    want = np.full(n_r, -1, dtype=np.int64)
    for r, p in start.items():
        want[r] = p
    keep |= want[arcs.r] == arcs.p
    pruned = _prune(arcs, CPSAT_CANDIDATES)
    key_all = arcs.r * (int(arcs.p.max(initial=0)) + 1) + arcs.p
    key_pr = pruned.r * (int(arcs.p.max(initial=0)) + 1) + pruned.p
    keep |= np.isin(key_all, key_pr)
    arcs = _Arcs(arcs.r[keep], arcs.p[keep], arcs.dist[keep], arcs.base[keep], arcs.own[keep])
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{a}") for a in range(len(arcs.r))]
    by_r: dict[int, list[int]] = {}
    by_p: dict[int, list[int]] = {}
    for a in range(len(arcs.r)):
        by_r.setdefault(int(arcs.r[a]), []).append(a)
        by_p.setdefault(int(arcs.p[a]), []).append(a)
    for alist in by_r.values():
        model.add_at_most_one(x[a] for a in alist)
    scale = 10  # tenths of an hour
    max_load = model.new_int_var(0, 10**7, "max_load")
    eff = [round(effort[arcs.r[a]] * scale) for a in range(len(arcs.r))]
    loads: dict[int, int] = {}  # the hint's load per person, tenths of an hour
    for p, alist in by_p.items():
        budget = max(0.0, free[p] * s.slot_hours)  # hours of new work they may take
        model.add(sum(eff[a] * x[a] for a in alist) <= round(budget * scale))
        model.add(sum(x[a] for a in alist) <= int(free[p]))
        load = round(queue[p] * scale) + sum(eff[a] * x[a] for a in alist)
        model.add(max_load >= load)
        loads[p] = round(queue[p] * scale) + sum(eff[a] for a in alist if start.get(arcs.r[a]) == p)
    cost = []
    for a in range(len(arcs.r)):
        r, p = int(arcs.r[a]), int(arcs.p[a])
        finish = _finish_h(queue[p], hpd[p], effort[r], arcs.dist[a])
        late = max(0.0, finish - hours_left[r])
        cost.append(round(arcs.base[a] + s.lateness_m_per_h * late - s.unplaced_penalty_m))
    # balance: metres per tenth of an hour on the busiest person (at least 1)
    per_tenth = max(1, round(s.balance_m_per_case / s.slot_hours / scale))
    objective_expr = sum(c * xa for c, xa in zip(cost, x, strict=True)) + per_tenth * max_load
    hint_obj = sum(c for a, c in enumerate(cost) if start.get(int(arcs.r[a])) == arcs.p[a])
    hint_obj += per_tenth * max(loads.values(), default=0)
    for a in range(len(arcs.r)):
        model.add_hint(x[a], 1 if start.get(int(arcs.r[a])) == arcs.p[a] else 0)
    model.add_hint(max_load, max(loads.values(), default=0))
    model.add(objective_expr <= hint_obj)  # never worse than where it starts
    model.minimize(objective_expr)
    solver = reproducible_solver(s.time_limit_s, 0)
    status = solver.solve(model)
    name = solver.status_name(status)
    # the constant n_r × penalty turns "reward per placed" back into "penalty per unplaced"
    const = s.unplaced_penalty_m * n_r
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value <= hint_obj:
        chosen = {
            int(arcs.r[a]): int(arcs.p[a]) for a in range(len(arcs.r)) if solver.boolean_value(x[a])
        }
        objective = solver.objective_value + const
        source = "cpsat"
    else:
        logger.warning(
            "dispatch: CP-SAT found nothing better than its flow start within %s s (%s); "
            "the flow start is kept",
            s.time_limit_s,
            name,
        )
        chosen = dict(start)
        objective = hint_obj + const
        name = "FEASIBLE"
        source = "flow start"
    bound = min(solver.best_objective_bound + const, objective)
    gap = _gap(objective, bound)
    info = {
        "method": "cpsat",
        "status": name,
        "objective": float(objective),
        "bound": float(bound),
        "gap": round(float(gap), 6),
        "arcs": len(arcs.r),
        "start": source,
        "start_objective": float(hint_obj + const),
        "_start": start,
    }
    return chosen, info


def _fit_to_hours(
    start: dict[int, int], arcs: _Arcs, effort: np.ndarray, free: np.ndarray, slot_hours: float
) -> dict[int, int]:
    """A slot-form assignment made to fit the effort-weighted budgets (``free × slot_hours``
    hours and ``free`` cases per person): a person over budget gives up their largest cases
    first, each moved to the cheapest candidate with room, or left unplaced (the CP-SAT
    start; CP-SAT may place it)."""
    hours = free * slot_hours
    cases = free.astype(np.int64).copy()
    out: dict[int, int] = {}
    moved: list[int] = []
    by_p: dict[int, list[int]] = {}
    for r, p in sorted(start.items()):
        by_p.setdefault(p, []).append(r)
    for p, rs in sorted(by_p.items()):
        for r in sorted(rs, key=lambda r: (effort[r], r)):  # smallest first: largest give way
            if cases[p] > 0 and hours[p] + 1e-9 >= effort[r]:
                out[r] = p
                cases[p] -= 1
                hours[p] -= effort[r]
            else:
                moved.append(r)
    order = np.lexsort((arcs.base, arcs.r))
    cand: dict[int, list[int]] = {}
    for a in order.tolist():
        cand.setdefault(int(arcs.r[a]), []).append(int(arcs.p[a]))
    for r in sorted(moved):
        for p in cand.get(r, []):
            if cases[p] > 0 and hours[p] + 1e-9 >= effort[r]:
                out[r] = p
                cases[p] -= 1
                hours[p] -= effort[r]
                break
    return out


def _gap(objective: float, bound: float) -> float:
    """(objective − bound) / |objective| (0 when they meet; the objective may be negative:
    the own-grid bonus)."""
    diff = objective - bound
    if diff <= 1e-9:
        return 0.0
    return float(diff / max(abs(objective), 1e-9))


def _prune(arcs: _Arcs, k: int) -> _Arcs:
    """The ``k`` cheapest candidates of each request (arcs are sorted by request)."""
    order = np.lexsort((arcs.base, arcs.r))
    r = arcs.r[order]
    first = np.r_[0, np.flatnonzero(np.diff(r)) + 1]
    rank = np.arange(len(r)) - np.repeat(first, np.diff(np.r_[first, len(r)]))
    keep = np.sort(order[rank < k])
    return _Arcs(arcs.r[keep], arcs.p[keep], arcs.dist[keep], arcs.base[keep], arcs.own[keep])


def _greedy(
    arcs: _Arcs,
    hours_left: np.ndarray,
    effort: np.ndarray,
    free: np.ndarray,
    slot_hours: float,
    *,
    by_effort: bool,
) -> dict[int, int]:
    """Nearest qualified person with room, requests in deadline order (the office rule: the
    guard's reference and the benchmark's baseline)."""
    left_cases = free.astype(np.int64).copy()
    left_hours = free * slot_hours
    by_r: dict[int, list[int]] = {}
    for a in np.lexsort((arcs.base, arcs.r)).tolist():
        by_r.setdefault(int(arcs.r[a]), []).append(a)
    out: dict[int, int] = {}
    for r in sorted(by_r, key=lambda r: (hours_left[r], r)):
        for a in by_r[r]:
            p = int(arcs.p[a])
            need = effort[r] if by_effort else slot_hours
            if left_cases[p] > 0 and left_hours[p] + 1e-9 >= need:
                out[r] = p
                left_cases[p] -= 1
                left_hours[p] -= need
                break
    return out


def greedy_dispatch(
    requests: pd.DataFrame,
    people: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    now: pd.Timestamp,
    settings: RequestSettings | None = None,
) -> DispatchResult:
    """The usual office rule, for comparison: requests in deadline order, each to the nearest
    qualified person with a free slot (same inputs and figures as :func:`dispatch_requests`)."""
    s = settings or DEFAULT.requests
    _check(requests, people, pairs)
    requests = requests.reset_index(drop=True)
    people = people.reset_index(drop=True)
    arcs = _arcs(requests, people, pairs, s)
    arcs = _Arcs(arcs.r, arcs.p, arcs.dist, arcs.dist, arcs.own)  # nearest: metres only
    now = pd.Timestamp(now).tz_convert("UTC")
    hours_left = (
        (pd.to_datetime(requests["expected_at"], utc=True) - now).dt.total_seconds() / 3600.0
    ).to_numpy(dtype=float)
    effort = np.full(len(requests), s.slot_hours)
    hpd = pd.to_numeric(people["hours_per_day"], errors="coerce").fillna(1.0).to_numpy(float)
    free = np.maximum(
        pd.to_numeric(people["cases_free"], errors="coerce").fillna(0).to_numpy(np.int64), 0
    )
    queue = pd.to_numeric(people["queue_h"], errors="coerce").fillna(0.0).to_numpy(float)
    t0 = time.perf_counter()
    chosen = _greedy(arcs, hours_left, effort, free, s.slot_hours, by_effort=False)
    info: dict[str, Any] = {"method": "greedy", "status": "HEURISTIC", "gap": None}
    info["time_s"] = round(time.perf_counter() - t0, 3)
    return _result(
        requests,
        people,
        arcs,
        chosen,
        info,
        hours_left,
        effort,
        np.maximum(hpd, 0.1),
        queue,
        free,
        s,
    )


def _result(
    requests: pd.DataFrame,
    people: pd.DataFrame,
    arcs: _Arcs,
    chosen: dict[int, int],
    info: dict[str, Any],
    hours_left: np.ndarray,
    effort: np.ndarray,
    hpd: np.ndarray,
    queue: np.ndarray,
    free: np.ndarray,
    s: RequestSettings,
) -> DispatchResult:
    dist_of = {
        (int(a), int(b)): (float(d), bool(o))
        for a, b, d, o in zip(arcs.r, arcs.p, arcs.dist, arcs.own, strict=True)
    }
    rid = requests["request_id"].astype(str).to_numpy()
    pid = people["person_id"].astype(str).to_numpy()
    # order each person's new cases by deadline to state their expected finish
    per_p: dict[int, list[int]] = {}
    for r, p in sorted(chosen.items()):
        per_p.setdefault(p, []).append(r)
    rows = []
    walked_dm = 0  # decimetres, summed as the guard sums them
    for p, rs in per_p.items():
        done_h = queue[p]
        for r in sorted(rs, key=lambda r: (hours_left[r], rid[r])):
            d, own = dist_of[(r, p)]
            work = effort[r] if info["method"] == "cpsat" else s.slot_hours
            finish = _finish_h(done_h, hpd[p], work, d)
            done_h += work
            walked_dm += int(np.round(d * 10))
            rows.append(
                {
                    "request_id": rid[r],
                    "person_id": pid[p],
                    "distance_m": round(d, 1),
                    "finish_in_h": round(finish, 2),
                    "lateness_h": round(max(0.0, finish - hours_left[r]), 2),
                    "own_grid": own,
                }
            )
    assignments = (
        pd.DataFrame(
            rows,
            columns=[
                "request_id",
                "person_id",
                "distance_m",
                "finish_in_h",
                "lateness_h",
                "own_grid",
            ],
        )
        .sort_values("request_id", kind="stable")
        .reset_index(drop=True)
    )
    # partner units (双报到单位) by name: in the assignments and the reasons
    kinds = people.get("kind", pd.Series("person", index=people.index)).astype(str).to_numpy()
    names = people.get("name", pd.Series(None, index=people.index)).to_numpy()
    pcats = [_skills(v) for v in people.get("categories", pd.Series(None, index=people.index))]
    named = {pid[i]: f"{names[i] or pid[i]} ({pid[i]})" for i in np.flatnonzero(kinds == "partner")}
    assignments["partner_unit"] = assignments["person_id"].map(named)
    takers: dict[str, list[str]] = {}
    for i in np.flatnonzero(kinds == "partner"):
        for c in sorted(pcats[i]):
            takers.setdefault(c, []).append(named[pid[i]])
    unplaced_rows = []
    reachable: dict[int, list[int]] = {}
    for a, b in zip(arcs.r.tolist(), arcs.p.tolist(), strict=True):
        reachable.setdefault(a, []).append(b)
    for r in range(len(requests)):
        if r in chosen:
            continue
        unplaced_rows.append(
            {
                "request_id": rid[r],
                "reason": _reason(requests.iloc[r], reachable.get(r, []), free, s, takers),
            }
        )
    unplaced = pd.DataFrame(unplaced_rows, columns=["request_id", "reason"])
    oc = people["open_cases"] if "open_cases" in people else pd.Series(0, index=people.index)
    open_cases = pd.to_numeric(oc, errors="coerce").fillna(0).to_numpy(float)
    new = np.zeros(len(people))
    for p in chosen.values():
        new[p] += 1
    info.update(
        {
            "requests": len(requests),
            "placed": len(chosen),
            "unplaced": len(requests) - len(chosen),
            "walked_m": walked_dm / 10,
            "lateness_h": round(float(assignments["lateness_h"].sum()), 2),
            "late": int((assignments["lateness_h"] > 0).sum()),
            "max_load": int((open_cases + new).max()) if len(people) else 0,
            "max_new": int(new.max()) if len(people) else 0,
        }
    )
    return DispatchResult(assignments, unplaced, info)


def _reason(
    row: pd.Series,
    reach: list[int],
    free: np.ndarray,
    s: RequestSettings,
    takers: dict[str, list[str]] | None = None,
) -> str:
    what = str(row.get("service_code") or "request").replace("_", " ")
    where = str(row.get("grid_id") or "no grid")
    skill = row.get("skill")
    who = f"with skill {skill}" if isinstance(skill, str) and skill else "eligible"
    units = (takers or {}).get(str(row.get("service_code")), [])
    if units:  # the partner units taking this category are named
        who += f" (partner unit{'s' if len(units) > 1 else ''} {', '.join(units)} included)"
    head = f"request {row['request_id']} ({what}, {where}): "
    level = "escalated to the community"
    if not reach:
        return head + f"no one {who} lives within {_m(s.max_distance_m)} m; {level}"
    if all(free[p] <= 0 for p in reach):
        return (
            head + f"the {len(reach)} people {who} within {_m(s.max_distance_m)} m have no "
            f"free capacity (open cases at their limit); {level}"
        )
    return (
        head + f"no one {who} within {_m(s.max_distance_m)} m has capacity before its "
        f"deadline: their free slots went to requests due earlier or nearer; {level}"
    )
