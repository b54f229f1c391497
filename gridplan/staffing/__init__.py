"""Staffing with OR-Tools: grid heads, grid workers, building and unit heads, volunteers."""

from __future__ import annotations

from gridplan.staffing.assign import POST_ROLES, ROLES, StaffingResult, assign_staff
from gridplan.staffing.context import DistanceFn
from gridplan.staffing.merge import merge_staffing_metrics

__all__ = [
    "POST_ROLES",
    "ROLES",
    "DistanceFn",
    "StaffingResult",
    "assign_staff",
    "merge_staffing_metrics",
]
