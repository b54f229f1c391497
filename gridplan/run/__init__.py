"""Running the pipeline: stages, sequential and Dask runners, batched runs.

The names below are imported lazily: a run in memory does not import the Dask and batched
runners.
"""

from __future__ import annotations

from gridplan._lazy import lazy_surface

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


__getattr__, __dir__ = lazy_surface(__name__, _PUBLIC)
