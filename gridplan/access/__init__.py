"""The 15-minute life circle: coverage, catchments, covering solvers and siting."""

from __future__ import annotations

from gridplan.access.coverage import (
    PROFILES,
    SEARCH_FACTOR,
    CoverageResult,
    compute_coverage,
    profile_speed,
    residential_buildings,
    tier_label,
    tier_pairs,
)
from gridplan.access.covering import CoverSolution, solve_max_cover, solve_set_cover
from gridplan.access.isochrones import catchments
from gridplan.access.siting import (
    SitingResult,
    candidate_coverage,
    generate_candidates,
    site_facilities,
)

__all__ = [
    "PROFILES",
    "SEARCH_FACTOR",
    "CoverSolution",
    "CoverageResult",
    "SitingResult",
    "candidate_coverage",
    "catchments",
    "compute_coverage",
    "generate_candidates",
    "profile_speed",
    "residential_buildings",
    "site_facilities",
    "solve_max_cover",
    "solve_set_cover",
    "tier_label",
    "tier_pairs",
]
