"""OR-Tools' CP-SAT solver set up one way: the same answer on every run, even when the time
limit cuts the search.

CP-SAT with several workers races them and keeps whichever finishes first, and a wall-clock
limit stops the search wherever the machine's load has got it to; either makes two runs on
the same input differ. One worker and a limit in deterministic time (CP-SAT's own measure of
work done) make a cut search stop at the same point every time; the wall-clock limit, twice
as long, is only a safety net on a loaded machine.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

__all__ = ["reproducible_solver"]


def reproducible_solver(time_limit_s: float, seed: int) -> cp_model.CpSolver:
    """A CP-SAT solver that gives the same answer for the same model and seed.

    Parameters
    ----------
    time_limit_s
        Work limit in CP-SAT's deterministic seconds (at least 0.05); the wall-clock limit
        is twice that.
    seed
        Random seed of the search.

    Returns
    -------
    ortools.sat.python.cp_model.CpSolver
        One worker, the seed, both limits set; the caller adds its own search tuning.
    """
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = 1
    params.random_seed = int(seed) % (2**31)
    params.max_deterministic_time = max(float(time_limit_s), 0.05)
    params.max_time_in_seconds = max(2.0 * float(time_limit_s), 0.1)
    return solver
