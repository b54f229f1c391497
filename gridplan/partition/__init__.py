"""Grids (网格): the partition of each community, and minimal-change re-plans."""

from __future__ import annotations

from gridplan.partition.grids import partition_grids
from gridplan.partition.replan import ReplanResult, replan_grids
from gridplan.partition.result import PartitionResult

__all__ = [
    "PartitionResult",
    "ReplanResult",
    "partition_grids",
    "replan_grids",
]
