"""Running the pipeline: stages, the runners they run on (sequential, Dask), batched runs, and
:func:`plan_to_folder`, the one call that chooses between them.

The names below are imported lazily: a run in memory does not import the Dask and batched
runners.
"""

from __future__ import annotations

from gridplan._lazy import lazy_surface

#: Public name -> module that defines it.
_PUBLIC: dict[str, str] = {
    "ProgressBars": "gridplan._progress",
    "search_radius_m": "gridplan.run.batch_coverage",
    "BATCHED_STAGES": "gridplan.run.batched",
    "SITING_SKIPPED": "gridplan.run.batched",
    "plan_to_folder_batched": "gridplan.run.batched",
    "CommunityPlan": "gridplan.run.community",
    "GridStage": "gridplan.run.community",
    "plan_community": "gridplan.run.community",
    "PlanRun": "gridplan.run.folder",
    "plan_to_folder": "gridplan.run.folder",
    "plan_by_community": "gridplan.run.parallel",
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
    "DaskRunner": "gridplan.run.runner",
    "LocalRunner": "gridplan.run.runner",
    "Runner": "gridplan.run.runner",
    "dask_runner": "gridplan.run.runner",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_surface(__name__, _PUBLIC)
