"""What every staffing model shares: the solve report, CP-SAT settings and lexicographic solving.

Objectives with several goals are solved lexicographically: each goal is optimised, then fixed
at the value reached while the next is optimised, so no big-M weights blur the reported gap.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from gridplan._cpsat import reproducible_solver

__all__ = ["PERMILLE", "SolveInfo"]

PERMILLE = 1000
_PERMILLE = PERMILLE


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


def ws(terms: Any, coefs: Any) -> Any:
    return cp_model.LinearExpr.weighted_sum(list(terms), [int(c) for c in coefs])


def _gap(objective: float, bound: float) -> float:
    if objective == bound:
        return 0.0
    return abs(objective - bound) / max(abs(objective), 1.0)


def _cp_solver(time_limit: float, seed: int) -> cp_model.CpSolver:
    solver = reproducible_solver(time_limit, seed)
    # Probing and symmetry detection cost seconds on assignment-like models and rarely pay.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    return solver


def lex_solve(
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
        solver = _cp_solver(per_stage, seed)
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


def summarise(
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
