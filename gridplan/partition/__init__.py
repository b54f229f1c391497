"""Grids (网格): the partition of each community, minimal-change re-plans and hand edits."""

from __future__ import annotations

from gridplan.partition.edits import (
    EditResult,
    apply_edits,
    check_edits,
    merge_edits,
    next_grid_code,
    read_edits,
    split_edits,
)
from gridplan.partition.grids import partition_grids
from gridplan.partition.replan import ReplanResult, replan_grids
from gridplan.partition.result import PartitionResult

__all__ = [
    "EditResult",
    "PartitionResult",
    "ReplanResult",
    "apply_edits",
    "check_edits",
    "merge_edits",
    "next_grid_code",
    "partition_grids",
    "read_edits",
    "replan_grids",
    "split_edits",
]
