"""Running the pipeline: stages, sequential and Dask runners, batched runs."""

from __future__ import annotations

from gridplan.run.batch_coverage import search_radius_m
from gridplan.run.batched import BATCHED_STAGES, SITING_SKIPPED, plan_to_folder_batched
from gridplan.run.parallel import CommunityPlan, plan_by_community, plan_community, plan_parallel
from gridplan.run.pipeline import (
    STAGES,
    bundled_town,
    plan_dataset,
    plan_parameters,
    replan_config,
    replan_dataset,
    resolve_stages,
    run_to_folder,
    subset_communities,
)

__all__ = [
    "BATCHED_STAGES",
    "SITING_SKIPPED",
    "STAGES",
    "CommunityPlan",
    "bundled_town",
    "plan_by_community",
    "plan_community",
    "plan_dataset",
    "plan_parallel",
    "plan_parameters",
    "plan_to_folder_batched",
    "replan_config",
    "replan_dataset",
    "resolve_stages",
    "run_to_folder",
    "search_radius_m",
    "subset_communities",
]
