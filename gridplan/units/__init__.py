"""Ten-household units (十联户) inside each grid."""

from __future__ import annotations

from gridplan.units.form import UnitsResult, form_units

__all__ = [
    "UnitsResult",
    "form_units",
]
