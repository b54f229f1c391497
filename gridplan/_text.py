"""Message and value helpers shared by every layer: id lists, the problem sentence, parsing.

Example
-------
>>> format_ids(range(13))
'0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 3 more'
>>> message("buildings", "households negative", ["B1"], "give a count of 0 or more")
'buildings: households negative (1): B1. Fix: give a count of 0 or more'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MAX_IDS",
    "MAX_LINES",
    "bullets",
    "format_ids",
    "message",
    "ordered_tiers",
    "parse_bool",
    "split_list",
    "tier_minutes",
    "tiers_in_order",
]

#: How many ids a message lists before "and N more".
MAX_IDS = 10

_TRUE = frozenset({"true", "t", "yes", "y", "1", "是", "1.0"})
_FALSE = frozenset({"false", "f", "no", "n", "0", "否", "0.0", ""})
_SPLIT = re.compile(r"[;,，；、|]")


def format_ids(ids: Iterable[Any], limit: int = MAX_IDS, *, total: int | None = None) -> str:
    """``a, b, c and 4 more``: the first ``limit`` ids, then how many were left out.

    ``total``: how many ids there are when ``ids`` holds only the first few of them.
    """
    items = [str(i) for i in ids]
    count = len(items) if total is None else max(total, len(items))
    shown = items[:limit]
    if count <= len(shown):
        return ", ".join(shown)
    return f"{', '.join(shown)} and {count - len(shown)} more"


#: How many items a multi-line message lists before "… and N more".
MAX_LINES = 20


def bullets(items: Iterable[Any], limit: int = MAX_LINES) -> str:
    """Items one per line (``\n  - item``), the first ``limit`` of them, then how many more.

    >>> bullets(["a", "b", "c"], limit=2)
    '\n  - a\n  - b\n  … and 1 more'
    """
    lines = [str(i) for i in items]
    text = "".join(f"\n  - {line}" for line in lines[:limit])
    if len(lines) > limit:
        text += f"\n  … and {len(lines) - limit} more"
    return text


def split_list(value: Any) -> list[str]:
    """Split a ``;``-list (``,``, ``、``, ``|`` also accepted) into stripped lowercase items."""
    if value is None or (not isinstance(value, list | tuple) and pd.isna(value)):
        return []
    parts = value if isinstance(value, list | tuple) else _SPLIT.split(str(value))
    return [p.strip().lower() for p in (str(x) for x in parts) if p.strip()]


def parse_bool(value: Any) -> bool | None:
    """``True``/``False`` for the usual spellings (yes/no, 1/0, 是/否), ``None`` if unreadable.

    Missing values read as ``False``.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return False
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def message(layer: str, what: str, ids: Iterable[Any] | None, fix: str) -> str:
    """``layer: what (n): ids. Fix: fix``, the one form of every data problem."""
    text = f"{layer}: {what}"
    if ids is not None:
        items = list(ids)
        text += f" ({len(items)}): {format_ids(items)}"
    return f"{text}. Fix: {fix}"


_TIER = re.compile(r"^(\d+)min$")


def tier_minutes(tier: Any) -> int:
    """The minutes of a tier code: ``"15min"`` -> 15 (0 when it holds no number)."""
    digits = "".join(ch for ch in str(tier) if ch.isdigit())
    return int(digits) if digits else 0


def ordered_tiers(values: Iterable[Any]) -> pd.Categorical[Any]:
    """Tier codes (``"5min"``, ``"10min"`` …) as an ordered categorical whose order is the
    tiers' minutes, so that sorting and grouping give 5, 10, 15 minutes, not the text order
    "10min, 15min, 5min". Missing values stay missing.
    """
    vals = pd.Series(list(values), dtype=object)
    present = vals.dropna().astype(str)
    cats = sorted(set(present), key=lambda t: (tier_minutes(t), t))
    codes = vals.where(vals.isna(), vals.astype(str))
    return pd.Categorical(codes, categories=cats, ordered=True)


def tiers_in_order(value: Any) -> Any:
    """``value`` with every dict keyed only by tier codes re-ordered by minutes (nested dicts
    and lists too): metadata read back from JSON written with sorted keys."""
    if isinstance(value, dict):
        items = {k: tiers_in_order(v) for k, v in value.items()}
        if items and all(isinstance(k, str) and _TIER.match(k) for k in items):
            return dict(sorted(items.items(), key=lambda kv: tier_minutes(kv[0])))
        return items
    if isinstance(value, list):
        return [tiers_in_order(v) for v in value]
    return value
