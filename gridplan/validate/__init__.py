"""Every problem of a dataset, collected and raised once."""

from __future__ import annotations

from gridplan.validate.buildings import MAX_OVERLAP_M2
from gridplan.validate.checks import (
    REQUIRED_COLUMNS,
    SPATIAL_LAYERS,
    check_dataset,
    validate_dataset,
)
from gridplan.validate.common import ID_COLUMNS, format_ids, parse_bool, split_list
from gridplan.validate.geometry import GEOMETRY_TYPES

__all__ = [
    "GEOMETRY_TYPES",
    "ID_COLUMNS",
    "MAX_OVERLAP_M2",
    "REQUIRED_COLUMNS",
    "SPATIAL_LAYERS",
    "check_dataset",
    "format_ids",
    "parse_bool",
    "split_list",
    "validate_dataset",
]
