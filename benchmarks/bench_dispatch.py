"""Dispatcher benchmark: gridplan's min-cost flow and CP-SAT against greedy nearest-qualified in
deadline order and SciPy's linear_sum_assignment, on the same instances.

Instances: (1) the sample town's month of requests on its real walk network and roster;
(2) a city-scale instance, 1 000 open requests × 10 000 people over 10 km × 10 km (straight-line
metres × 1.3 for walking); (3) generalized-assignment instances of the OR-Library form (Beasley's
gap1–gap12: m agents, n jobs, cost and resource per pair, agent capacities) from a generator
of the same form, since the sets are not bundled (Chu & Beasley 1997 type-D-like costs).

Run: ``python benchmarks/bench_dispatch.py`` (writes ``benchmarks/results/dispatch.md``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import WORK_DIR, table, write_section

from gridplan.requests import dispatch_requests, greedy_dispatch
from gridplan.requests.dispatch import candidate_pairs
from gridplan.settings import DEFAULT

NOW = pd.Timestamp("2024-05-01T00:00Z")
S = DEFAULT.requests


def scipy_dispatch(req: pd.DataFrame, ppl: pd.DataFrame, pairs: pd.DataFrame) -> dict:
    """linear_sum_assignment on requests × person slots (slot k of a person as a column),
    costs = metres (+ the unplaced penalty where a pair is not eligible or out of reach)."""
    t0 = time.perf_counter()
    skill = dict(zip(req["request_id"], req["skill"], strict=True))
    has = {
        p: set(s) if isinstance(s, frozenset) else set(str(s).split(";"))
        for p, s in zip(ppl["person_id"], ppl["skills"], strict=True)
    }
    free = dict(zip(ppl["person_id"], ppl["cases_free"], strict=True))
    ok = [
        (not isinstance(skill[r], str) or skill[r] in has[p]) and d <= S.max_distance_m
        for r, p, d in zip(
            pairs["request_id"], pairs["person_id"], pairs["distance_m"], strict=True
        )
    ]
    e = pairs[np.array(ok)]
    people = sorted(set(e["person_id"]))
    cols = [(p, k) for p in people for k in range(int(free[p]))]
    col_of: dict[str, list[int]] = {}
    for j, (p, _k) in enumerate(cols):
        col_of.setdefault(p, []).append(j)
    rpos = {r: i for i, r in enumerate(req["request_id"])}
    big = S.unplaced_penalty_m
    cost = np.full((len(req), len(cols) + len(req)), big * 10)
    cost[np.arange(len(req)), len(cols) + np.arange(len(req))] = big  # a dummy column each
    for r, p, d in zip(e["request_id"], e["person_id"], e["distance_m"], strict=True):
        for j in col_of.get(p, []):
            cost[rpos[r], j] = d
    rows, cs = linear_sum_assignment(cost)
    placed = [(r, c) for r, c in zip(rows, cs, strict=True) if c < len(cols) and cost[r, c] < big]
    walked = float(sum(cost[r, c] for r, c in placed))
    load = pd.Series([cols[c][0] for _r, c in placed]).value_counts()
    # lateness as the flow model counts it (slot order by deadline)
    return {
        "placed": len(placed),
        "walked_m": walked,
        "lateness_h": float("nan"),
        "max_new": int(load.max()) if len(load) else 0,
        "gap": "—",
        "time_s": time.perf_counter() - t0,
    }


def city(seed: int = 0, n_r: int = 1000, n_p: int = 10_000) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    rxy = rng.uniform(0, 10_000, (n_r, 2))
    pxy = rng.uniform(0, 10_000, (n_p, 2))
    sk = np.array(
        [None] * 4 + ["medical", "legal", "elderly_care", "tutoring", "mediation"], object
    )
    skills = ["medical", "legal", "elderly_care", "tutoring", "mediation"]
    req = pd.DataFrame(
        {
            "request_id": [f"R{i:04d}" for i in range(n_r)],
            "skill": rng.choice(sk, n_r),
            "grid_id": [f"G{int(x // 700)}-{int(y // 700)}" for x, y in rxy],
            "effort_h": rng.choice([1.0, 2.0, 4.0], n_r, p=[0.4, 0.4, 0.2]),
            "expected_at": NOW
            + pd.to_timedelta(
                rng.choice([2, 24, 168, 360], n_r, p=[0.05, 0.55, 0.35, 0.05]), unit="h"
            ),
            "service_code": "repair",
        }
    )
    ppl = pd.DataFrame(
        {
            "person_id": [f"P{i:05d}" for i in range(n_p)],
            "skills": [
                ";".join(rng.choice(skills, rng.integers(0, 3), replace=False)) for _ in range(n_p)
            ],
            "grid_ids": [
                f"g{int(x // 700)}-{int(y // 700)}" if rng.random() < 0.03 else "" for x, y in pxy
            ],
            "hours_per_day": rng.choice([2.0, 4.0, 8.0], n_p, p=[0.6, 0.3, 0.1]),
            "cases_free": rng.choice([0, 1, 2, 3], n_p, p=[0.5, 0.3, 0.15, 0.05]),
            "queue_h": 0.0,
            "open_cases": 0,
        }
    )
    raw = candidate_pairs(rxy, pxy, max_distance_m=S.max_distance_m / 1.3)
    pairs = pd.DataFrame(
        {
            "request_id": req["request_id"].to_numpy()[raw["r"]],
            "person_id": ppl["person_id"].to_numpy()[raw["p"]],
            "distance_m": raw["distance_m"].to_numpy() * 1.3,
        }
    )
    return req, ppl, pairs


def town() -> tuple[pd.DataFrame, ...]:
    """The sample town's requests of May on its walk network (plan made once into _work)."""
    from click.testing import CliRunner

    from gridplan.cli import main
    from gridplan.requests import load_context, roster
    from gridplan.requests.importing import prepare_requests, read_request_file

    root = Path(__file__).resolve().parents[1]
    plan = WORK_DIR / "dispatch-plan"
    if not (plan / "plan.gpkg").exists():
        CliRunner().invoke(
            main, ["-q", "run", str(root / "data/town"), "--out", str(plan), "--overwrite"]
        )
    ctx = load_context(plan, root / "data/town")
    rows = prepare_requests(read_request_file(root / "data/town/requests.csv"), ctx)
    req = pd.DataFrame(rows)
    req["expected_at"] = pd.to_datetime(req["expected_at"], utc=True)
    ppl = roster(ctx).assign(open_cases=0, queue_h=0.0)
    ppl["cases_free"] = ppl["max_open_cases"]
    b = ctx.buildings.set_index("building_id").geometry
    rxy = np.array([(b[x].x, b[x].y) for x in req["building_id"]])
    raw = candidate_pairs(
        rxy,
        ppl[["x", "y"]].to_numpy(),
        max_distance_m=S.max_distance_m,
        network=ctx.network,
        crs=ctx.crs,
    )
    pairs = pd.DataFrame(
        {
            "request_id": req["request_id"].to_numpy()[raw["r"]],
            "person_id": ppl["person_id"].to_numpy()[raw["p"]],
            "distance_m": raw["distance_m"].to_numpy(),
        }
    )
    # the whole month at once, from the first of May: a stress test of one batch
    return req, ppl, pairs


def gap_instance(m: int, n: int, seed: int) -> tuple[pd.DataFrame, ...]:
    """An OR-Library-form generalized assignment instance (m agents, n jobs; cost c_ij in
    [10, 50), resource r_ij in [5, 25), capacity 0.8 × Σ_j r_ij / m): jobs as requests,
    agents as people; cost as metres, resource as effort hours."""
    rng = np.random.default_rng(seed)
    c = rng.integers(10, 50, (m, n)).astype(float) * 10
    r = rng.integers(5, 25, (m, n)).astype(float)
    cap = np.floor(0.8 * r.sum(axis=1) / m)
    req = pd.DataFrame(
        {
            "request_id": [f"J{j}" for j in range(n)],
            "skill": None,
            "grid_id": "",
            "effort_h": S.slot_hours,  # the slot form: capacity counted in cases
            "expected_at": NOW + pd.Timedelta(days=365),
        }
    )
    ppl = pd.DataFrame(
        {
            "person_id": [f"A{i}" for i in range(m)],
            "skills": "",
            "grid_ids": "",
            "hours_per_day": 24.0,
            "cases_free": np.maximum(1, (cap / r.mean()).astype(int)),
            "queue_h": 0.0,
            "open_cases": 0,
        }
    )
    pairs = pd.DataFrame(
        {
            "request_id": np.tile(req["request_id"], m),
            "person_id": np.repeat(ppl["person_id"], n).to_numpy(),
            "distance_m": c.reshape(-1),
        }
    )
    return req, ppl, pairs


REPEATS = 3


def _timed(fn) -> tuple[dict, float]:  # type: ignore[no-untyped-def]
    """The result of ``fn()`` and the median wall time of ``REPEATS`` runs (deterministic
    solvers: the same answer each time)."""
    times, out = [], {}
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def _row(name: str, label: str, i: dict, t: float) -> list:
    gap = f"{i['gap']:.3%}" if isinstance(i.get("gap"), float) else "—"
    obj = i.get("objective")
    return [
        name,
        label,
        i["placed"],
        i["walked_m"],
        i["lateness_h"],
        i["max_new"],
        i.get("status", "—"),
        "—" if obj is None else f"{obj:,.0f}",
        "—" if obj is None else f"{i['bound']:,.0f}",
        gap,
        t,
    ]


def run(
    name: str, req: pd.DataFrame, ppl: pd.DataFrame, pairs: pd.DataFrame, cpsat: bool = True
) -> list[list]:
    rows = []
    plain = replace(S, balance_m_per_case=0.0, own_grid_bonus_m=0.0)
    configs = [
        ("**gridplan flow, default (weights + office-rule guard)**", S, None),
        ("gridplan flow, weights alone (`--no-guard`)", S, False),
        ("gridplan flow, walking + lateness only, no guard", plain, False),
    ]
    for label, s, guard in configs:
        i, t = _timed(
            lambda s=s, guard=guard: (
                dispatch_requests(req, ppl, pairs, now=NOW, settings=s, guard=guard).info
            )
        )
        rows.append(_row(name, label, i, t))
    if cpsat:
        i, t = _timed(lambda: dispatch_requests(req, ppl, pairs, now=NOW, method="cpsat").info)
        rows.append(_row(name, "gridplan CP-SAT, default weights, flow start", i, t))
    # the floor: the least lateness any assignment placing as many can have (lateness first)
    floor = replace(plain, lateness_m_per_h=1e6, unplaced_penalty_m=1e9, balance_m_per_case=0.0)
    i = dispatch_requests(req, ppl, pairs, now=NOW, settings=floor, guard=False).info
    i["objective"] = None
    rows.append(_row(name, "(least lateness possible: flow, lateness first)", i, i["time_s"]))
    g, t = _timed(lambda: greedy_dispatch(req, ppl, pairs, now=NOW).info)
    rows.append(_row(name, "greedy nearest-qualified, deadline order (office rule)", g, t))
    sp = scipy_dispatch(req, ppl, pairs)
    sp["lateness_h"] = "n/a"
    rows.append(_row(name, "scipy linear_sum_assignment (slots, metres only)", sp, sp["time_s"]))
    return rows


def main() -> None:
    rows: list[list] = []
    rows += run("town, May (242 requests, walk network, 6 partner units)", *town())
    rows += run("city 1 000 × 10 000", *city())
    for m, n, seed in ((5, 40, 1), (10, 100, 2), (20, 200, 3)):
        rows += run(f"GAP-form {m}×{n}", *gap_instance(m, n, seed))
    body = (
        "Same instances, same candidate pairs (within 1 500 m, skill required) for every "
        "method; lateness in hours as the slot model counts it (queue at each person's hours "
        "per day); max new = most cases given to one person in the run. Weights "
        "(`[requests]`): 100 m per hour late, 20 000 m per request left unplaced, 50 m per "
        "case above the lightest load (balance) and a 300 m head start for the request's own "
        "grid workers. The default is the weighted objective **under the office-rule guard** "
        "(`guard_office_rule = true`, the default since the weights alone walk more than "
        "greedy: the grid-workers-first bonus and the balance term cost metres by design): "
        "minimise the weighted objective subject to placed ≥, metres ≤ and lateness ≤ the "
        "office rule's (greedy) on the same input, by a Lagrangian search over exact "
        "min-cost flows (metres compared to the decimetre, as reported); bound = the best "
        "Lagrangian bound (or the unguarded optimum), gap = (objective − bound) / "
        "|objective|, status FEASIBLE when the gap is not 0. Where greedy is already the "
        "shortest walk the guard keeps greedy's lateness (it cannot trade metres for hours); "
        "`--no-guard` gives the weights alone. Objective and bound in metres-equivalent "
        "(that row's weights). Unguarded flow is exact (0 %). CP-SAT (effort-weighted "
        "capacity, heaviest load in the objective) starts from the flow answer fitted to the "
        "effort budgets, its objective bounded by that start, and keeps the start when it "
        "finds nothing better in its 5 s limit (CP-SAT's deterministic time, one worker, so the "
        "same answer on every run; wall-clock seconds run longer); its time includes "
        "the flow. CP-SAT's lateness counts each case's own effort (1, 2 or 4 h on the city), "
        "the other rows count 2-h slots, so its metres and hours are not comparable with "
        "theirs. "
        "SciPy solves the "
        "same request × slot matrix for metres only (it cannot weigh deadlines), so its "
        "lateness is not comparable. The row in brackets is no method but the floor: the "
        "least lateness any assignment can have (one exact flow with lateness weighted "
        "10⁶ m/h); where greedy already sits on it (the town's month) no dispatcher can be "
        "less late than greedy, only shorter. "
        "Time: median of 3 runs, building the model included. "
        "**The done-when figure (issue 18: at least as many placed as greedy with less "
        "walking and lateness) is the bold row, the default.**\n\n"
        + table(
            [
                "instance",
                "method",
                "placed",
                "metres walked",
                "lateness h",
                "max new",
                "status",
                "objective",
                "bound",
                "gap",
                "time s (median)",
            ],
            rows,
        )
    )
    write_section(
        "dispatch",
        "Dispatcher: flow and CP-SAT against greedy and SciPy",
        body,
        command="python benchmarks/bench_dispatch.py",
    )
    print(body)


if __name__ == "__main__":
    main()
