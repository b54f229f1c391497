"""The walk network: graph, snapping of buildings and facilities, bounded distances."""

from __future__ import annotations

from gridplan.network.distances import (
    distance_matrix,
    distance_to_nearest,
    iter_distance_pairs,
    nearest_source_distances,
    node_distances,
)
from gridplan.network.graph import WalkNetwork, build_walk_network, walkable_mask
from gridplan.network.snapping import SegmentIndex, SnapResult, segment_index, snap_points

__all__ = [
    "SegmentIndex",
    "SnapResult",
    "WalkNetwork",
    "build_walk_network",
    "distance_matrix",
    "distance_to_nearest",
    "iter_distance_pairs",
    "nearest_source_distances",
    "node_distances",
    "segment_index",
    "snap_points",
    "walkable_mask",
]
