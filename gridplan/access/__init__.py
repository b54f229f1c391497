"""The 15-minute life circle: coverage, catchments, covering solvers and siting.

The names below are imported lazily: coverage alone must not pay for importing OR-Tools.
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
