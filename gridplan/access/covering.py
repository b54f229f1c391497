"""Covering problems: maximal covering and set covering over a demand × candidate matrix.

The solvers behind :mod:`gridplan.access.siting`, on a sparse 0/1 incidence matrix (candidate j
covers demand row i) and integer demand weights (households):

- :func:`solve_max_cover`: choose ``p`` candidates covering the most weight (maximal
  covering location problem);
- :func:`solve_set_cover`: the fewest candidates covering a given weight.

Demand rows with the same set of covering candidates are merged first, which shrinks real
instances many times over. Both run a greedy heuristic, then bounds (the LP relaxation with
GLOP; for set cover also a Lagrangian bound that always finishes), then OR-Tools CP-SAT
warm-started with the best cover so far, under one time limit, and report status, objective,
proven bound and gap. The search is single-worker, so results are deterministic.

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

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.linear_solver import pywraplp
from ortools.sat.python import cp_model
from scipy import sparse

from gridplan._cpsat import reproducible_solver

__all__ = ["CoverSolution", "solve_max_cover", "solve_set_cover"]

#: Most subgradient steps of the quick set-cover bound.
_LAGRANGE_STEPS = 3000


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
    solver = reproducible_solver(time_limit_s, seed)
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
    p: float | None = None,
    need: int | None = None,
    time_limit_s: float = 10.0,
) -> tuple[float, np.ndarray, float] | None:
    """LP relaxation (GLOP) of max cover (``p``) or set cover (``need``).

    Returns the value, x, and for max cover the budget's dual value: the weight one more
    (fractional) site adds at the margin, a supergradient of the LP value as a function of
    ``p`` (``nan`` for set cover).
    """
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
    dual = abs(float(budget.dual_value())) if p is not None else math.nan
    return float(objective.Value()), np.array([var.solution_value() for var in x]), dual


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
    pick, bound = _drop_redundant(w, inc, greedy, need_i), 1
    bound = _lagrangian_bound(w, inc, need_i, len(pick), t0 + 0.1 * time_limit_s)
    if bound < len(pick):
        lp_bound, pick = _set_cover_bound(w, inc, need_i, pick, t0 + 0.5 * time_limit_s)
        bound = max(bound, lp_bound)
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


def _set_cover_bound(
    w: np.ndarray, inc: sparse.csr_matrix, need: int, pick: list[int], deadline: float
) -> tuple[int, list[int]]:
    """A lower bound on the sites any cover of ``need`` needs, and the best cover seen.

    The max-cover LP value ``V(p)`` is concave in the budget ``p``, and the budget's dual
    value ``g`` is a supergradient, so ``V(q) <= V(p) + g (q - p)`` for every ``q``: no budget
    below ``p + (need - V(p)) / g`` reaches ``need`` even fractionally. Newton steps on that
    tangent root, starting one site below the heuristic, settle the bound in a few LP solves
    (the set-cover LP itself is many times slower for GLOP on these instances). Each LP's
    fractional solution, taken largest first, gives another cover to try.
    """
    bound = 1
    p = float(len(pick) - 1)
    for _ in range(6):
        left = deadline - time.perf_counter()
        if p < 1 or left <= 0:
            break
        lp = _lp_relaxation(w, inc, p=p, time_limit_s=left)
        if lp is None:
            break
        value, xs, g = lp
        order = np.lexsort((np.arange(len(xs)), -xs))
        cover = _drop_redundant(w, inc, _prefix_cover(w, inc, order, need), need)
        if len(cover) < len(pick) and int(_covered_weight(w, inc, cover).sum()) >= need:
            pick = cover
        if g <= 1e-9:  # every site's marginal value is 0: V stays at its value
            if value + 1e-6 < need:
                break
            bound = max(bound, 1)
            break
        root = p + (need - value) / g
        bound = max(bound, math.ceil(root - 1e-6))
        if bound >= len(pick) or abs(root - p) < 1e-3:
            break
        p = max(root, 1.0)
    return min(bound, len(pick)), pick


def _lagrangian_bound(
    w: np.ndarray, inc: sparse.csr_matrix, need: int, most: int, deadline: float
) -> int:
    """A quick lower bound on the sites needed to cover ``need`` weight (at most ``most``).

    Relaxing "a household counts only if a chosen site covers it" with a price ``mu_g`` per
    demand row gives, for any prices in ``[0, w]``, an upper bound on the weight ``q`` sites
    can cover: ``sum_g max(w_g - mu_g, 0)`` plus the ``q`` largest site totals
    ``sum_{g in site} mu_g``. Every ``q`` for which that is below ``need`` is too few. The
    prices start at ``w`` (each site valued alone) and move by projected subgradient steps
    (Polyak step towards ``need``) that push the first not-yet-excluded ``q`` below ``need``.
    Cheap (two sparse products per step) and always finishing, unlike the LP on hard
    instances; weaker than the LP at convergence.
    """
    wf = w.astype(float)
    a_mat = sparse.csr_matrix(inc, dtype=float)
    a_t = a_mat.T.tocsr()
    mu = wf.copy()
    bound, theta, stall, best_u = 1, 1.0, 0, math.inf
    for _ in range(_LAGRANGE_STEPS):
        if time.perf_counter() > deadline:
            break
        free = float(np.maximum(wf - mu, 0.0).sum())
        c = a_t @ mu
        order = np.lexsort((np.arange(len(c)), -c))
        top = np.cumsum(np.maximum(c[order], 0.0))
        bound = max(bound, int(np.searchsorted(free + top, need - 1e-6)) + 1)
        if bound >= most:
            return most
        x = np.zeros(len(c))
        x[order[:bound]] = c[order[:bound]] > 0
        sub = a_mat @ x - (wf > mu)
        norm = float(sub @ sub)
        if norm == 0.0:
            break
        value = free + float(top[bound - 1])
        if value < best_u - 1e-9:
            best_u, stall = value, 0
        else:
            stall += 1
            if stall >= 50:
                theta, stall = theta / 2, 0
                if theta < 1e-6:
                    break
        mu = np.clip(mu - theta * (value - (need - 1.0)) / norm * sub, 0.0, wf)
    return min(bound, most)


def _prefix_cover(w: np.ndarray, inc: sparse.csr_matrix, order: np.ndarray, need: int) -> list[int]:
    """The shortest prefix of ``order`` covering ``need`` weight (all of it if none does)."""
    csc = inc.tocsc()
    alive = np.ones(inc.shape[0], dtype=bool)
    total = 0
    out: list[int] = []
    for j in order.tolist():
        if total >= need:
            break
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        rows = rows[alive[rows]]
        if len(rows) == 0:
            continue
        alive[rows] = False
        total += int(w[rows].sum())
        out.append(int(j))
    return out


def _drop_redundant(w: np.ndarray, inc: sparse.csr_matrix, cols: list[int], need: int) -> list[int]:
    """Drop sites, least useful first, while the rest still cover ``need`` weight."""
    if not cols:
        return cols
    csc = inc.tocsc()
    count = np.zeros(inc.shape[0], dtype=np.int64)
    for j in cols:
        count[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] += 1
    total = int(w[count > 0].sum())
    keep = list(cols)
    while True:
        # weight each site alone covers (rows no other chosen site covers)
        own = [
            int(w[r[count[r] == 1]].sum())
            for r in (csc.indices[csc.indptr[j] : csc.indptr[j + 1]] for j in keep)
        ]
        best = min(range(len(keep)), key=lambda i: (own[i], keep[i]), default=None)
        if best is None or total - own[best] < need:
            return keep
        j = keep.pop(best)
        count[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] -= 1
        total -= own[best]


def _covered_rows(inc: sparse.csr_matrix, cols: list[int]) -> np.ndarray:
    if not cols:
        return np.zeros(inc.shape[0], dtype=bool)
    return np.asarray(inc[:, cols].sum(axis=1)).ravel() > 0


def _covered_weight(w: np.ndarray, inc: sparse.csr_matrix, cols: list[int]) -> np.ndarray:
    return w[_covered_rows(inc, cols)]


# --------------------------------------------------------------------------- candidates
