"""The 15-minute life circle: coverage, catchments, covering solvers and siting.

The names below are imported lazily: coverage alone must not pay for importing OR-Tools.
"""

from __future__ import annotations

from gridplan._lazy import lazy_surface

#: Public name -> module that defines it.
_PUBLIC: dict[str, str] = {
    "PROFILES": "gridplan.access.coverage",
    "SEARCH_FACTOR": "gridplan.access.coverage",
    "CoverageResult": "gridplan.access.coverage",
    "compute_coverage": "gridplan.access.coverage",
    "profile_speed": "gridplan.access.coverage",
    "residential_buildings": "gridplan.access.coverage",
    "tier_code": "gridplan.access.coverage",
    "tier_pairs": "gridplan.access.coverage",
    "CoverSolution": "gridplan.access.covering",
    "solve_max_cover": "gridplan.access.covering",
    "solve_set_cover": "gridplan.access.covering",
    "catchments": "gridplan.access.isochrones",
    "SitingResult": "gridplan.access.siting",
    "candidate_coverage": "gridplan.access.siting",
    "generate_candidates": "gridplan.access.siting",
    "site_facilities": "gridplan.access.siting",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_surface(__name__, _PUBLIC)
