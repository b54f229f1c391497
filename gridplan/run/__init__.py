"""Running the pipeline: stages, sequential and Dask runners, batched runs.

The names below are imported lazily: a run in memory does not import the Dask and batched
runners.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> module that defines it.
_PUBLIC: dict[str, str] = {
    "search_radius_m": "gridplan.run.batch_coverage",
    "BATCHED_STAGES": "gridplan.run.batched",
    "SITING_SKIPPED": "gridplan.run.batched",
    "plan_to_folder_batched": "gridplan.run.batched",
    "CommunityPlan": "gridplan.run.parallel",
    "plan_by_community": "gridplan.run.parallel",
    "plan_community": "gridplan.run.parallel",
    "plan_parallel": "gridplan.run.parallel",
    "STAGES": "gridplan.run.pipeline",
    "bundled_town": "gridplan.run.pipeline",
    "grids_from_plan": "gridplan.run.pipeline",
    "plan_coverage": "gridplan.run.pipeline",
    "plan_dataset": "gridplan.run.pipeline",
    "plan_parameters": "gridplan.run.pipeline",
    "replan_config": "gridplan.run.pipeline",
    "replan_dataset": "gridplan.run.pipeline",
    "resolve_stages": "gridplan.run.pipeline",
    "run_to_folder": "gridplan.run.pipeline",
    "subset_communities": "gridplan.run.pipeline",
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
