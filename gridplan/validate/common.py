"""Shared vocabulary of dataset validation: ids per layer, value parsing, row labels,
and the report that collects error and warning sentences (layer, ids, fix).

Every per-layer check module (:mod:`gridplan.validate.geometry`,
:mod:`gridplan.validate.buildings`, :mod:`gridplan.validate.people`) writes into a
:class:`_Report` through these helpers; id lists, value parsing and the sentence form are in
:mod:`gridplan._text`, shared with reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from gridplan._text import message

#: The id column of each layer that has one.
ID_COLUMNS: dict[str, str] = {
    "buildings": "building_id",
    "communities": "community_id",
    "facilities": "facility_id",
    "people": "person_id",
    "sites": "site_id",
    "overrides": "building_id",
    "communities_old": "community_id",
}


def row_labels(frame: pd.DataFrame, layer: str) -> pd.Series:
    """A label per row: its id when it has one, else ``row N`` (1-based)."""
    rows = pd.Series([f"row {i + 1}" for i in range(len(frame))], index=frame.index)
    col = ID_COLUMNS.get(layer)
    if col and col in frame.columns:
        ids = frame[col]
        return ids.astype("object").where(ids.notna(), rows).astype(str)
    return rows


def _pairs(labels: pd.Series, mask: pd.Series, values: pd.Series, fmt: Any) -> list[str]:
    """``fmt(label, value)`` for the rows selected by ``mask``."""
    return [
        fmt(lab, v) for lab, v in zip(labels[mask].tolist(), values[mask].tolist(), strict=True)
    ]


class _Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, layer: str, what: str, ids: Iterable[Any] | None, fix: str) -> None:
        self.errors.append(message(layer, what, ids, fix))

    def warn(self, layer: str, what: str, ids: Iterable[Any] | None, fix: str) -> None:
        self.warnings.append(message(layer, what, ids, fix))


def numeric_problems(
    frame: pd.DataFrame,
    column: str,
    labels: pd.Series,
    layer: str,
    rep: _Report,
    *,
    integer: bool,
    what: str,
) -> pd.Series:
    """Report non-numeric, negative and (when ``integer``) fractional values; return numbers."""
    raw = frame[column]
    num = pd.to_numeric(raw, errors="coerce").astype("float64")
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    bad = present & (num.isna() | ~np.isfinite(num.fillna(0.0)))
    if bad.any():
        rep.error(
            layer,
            f"{column} is not a number",
            _pairs(labels, bad, raw, lambda lab, v: f"{lab}={v!r}"),
            f"give {what} as a plain number, or leave it empty",
        )
    neg = num < 0
    if neg.any():
        rep.error(
            layer,
            f"negative {column}",
            _pairs(labels, neg, num, lambda lab, v: f"{lab}={v:g}"),
            f"{what} cannot be negative; correct or blank the value",
        )
    if integer:
        frac = (num >= 0) & np.isfinite(num) & (num != np.floor(num))
        if frac.any():
            rep.error(
                layer,
                f"{column} is not a whole number",
                _pairs(labels, frac, num, lambda lab, v: f"{lab}={v:g}"),
                f"{what} counts whole units; round the value",
            )
    return num.where(~(bad | neg))


def unknown_values(
    values: pd.Series,
    allowed: Sequence[str],
    labels: pd.Series,
    rep: _Report,
    layer: str,
    column: str,
    fix: str,
) -> None:
    """An error naming the rows whose ``column`` is not one of ``allowed`` (case and spaces
    aside); missing values are fine."""
    unknown = values.notna() & ~values.astype(str).str.strip().str.lower().isin(allowed)
    if unknown.any():
        rep.error(
            layer,
            f"unknown {column} (allowed: {', '.join(allowed)})",
            _pairs(labels, unknown, values, lambda lab, v: f"{lab}={v!r}"),
            fix,
        )
