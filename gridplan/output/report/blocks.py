"""The blocks a report document is made of, and how its figures are written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "fmt_number", "fmt_share"]


@dataclass(frozen=True)
class Block:
    """One block of the document.

    ``kind`` is ``h1``, ``h2``, ``h3``, ``p``, ``ul``, ``dl`` (label, value pairs), ``table``
    or ``img``. Text may hold ``**bold**`` and ``\\`code\\``` spans (both renderers know them).
    """

    kind: str
    text: str = ""
    items: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def fmt_number(value: Any) -> str:
    """A figure as a person reads it: ``8,795``, ``382.4``; ``–`` when missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer():
            return f"{int(value):,}"
        return f"{value:,.1f}"
    return str(value)


def fmt_share(value: Any) -> str:
    """A share as a percentage: ``73.9 %`` (``2 %`` below 10 % is shown as ``2.1 %``)."""
    if value is None:
        return "–"
    return f"{100 * float(value):.1f} %"
