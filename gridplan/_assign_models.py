"""The OR-Tools models behind :mod:`gridplan.assign`, one function per problem.

Every function takes plain integer arrays (targets, people, candidate pairs, integer costs) so
the models can be tested and benchmarked on their own, and returns the chosen pairs with a
:class:`SolveInfo` (status, objective, bound, gap, time). The models live in
:mod:`gridplan._assign_common` (the report and lexicographic CP-SAT solving),
:mod:`gridplan._assign_flows` (heads, part-time workers and volunteers: min-cost flows) and
:mod:`gridplan._assign_full_time` (full-time workers over adjacent grids); this module gathers
them under one name.
"""

from __future__ import annotations

from gridplan._assign_common import SolveInfo, _summarise
from gridplan._assign_flows import solve_matching, solve_part_time, solve_volunteers
from gridplan._assign_full_time import solve_full_time

__all__ = [
    "SolveInfo",
    "_summarise",
    "solve_full_time",
    "solve_matching",
    "solve_part_time",
    "solve_volunteers",
]
