"""Deterministic synthetic towns, cities and provinces."""

from __future__ import annotations

from gridplan.sample.generate import generate_sample, write_sample
from gridplan.sample.spec import SCALES

__all__ = [
    "SCALES",
    "generate_sample",
    "write_sample",
]
