"""Every problem of a dataset, collected and raised once."""

from __future__ import annotations

from gridplan.validate.checks import (
    REQUIRED_COLUMNS,
    SPATIAL_LAYERS,
    check_dataset,
    validate_dataset,
)
from gridplan.validate.common import ID_COLUMNS

__all__ = [
    "ID_COLUMNS",
    "REQUIRED_COLUMNS",
    "SPATIAL_LAYERS",
    "check_dataset",
    "validate_dataset",
]
