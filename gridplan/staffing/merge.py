"""Staffing figures of several communities (or batches of them) as one.

Each community is staffed on its own (:func:`gridplan.staffing.assign_staff`), and a batched
run staffs its batches apart, so the figures of the whole plan are put together from theirs:
counts and totals are summed (posts, households, solver objectives and bounds, seconds),
extremes taken (the heaviest load, the largest solver gap), statuses listed, means recomputed
from their totals and party shares weighted by the posts they are shares of. Figures that do
not combine (a ratio with no total beside it) are left out and named; the solver's stages
(``stages``) describe one part's run only and are left out of a merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["merge_staffing_metrics"]

#: Floating-point figures that add up.
_SUMMED_FLOATS = frozenset({"time_s", "objective", "bound", "total_m"})
#: Figures taken as the largest (the worst case).
_MAXED = frozenset({"heaviest_load_households", "heaviest_load_share_of_capacity", "gap"})
#: Party shares and the solver problems whose posts filled weigh them.
_SHARES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("party_share_grid_heads", ("grid_heads",)),
    ("party_share_grid_workers", ("grid_workers",)),
    ("party_share_heads_and_workers", ("grid_heads", "grid_workers")),
)


def _statuses(values: Sequence[Any]) -> str:
    """Solver statuses of several runs: each status once, sorted (``FEASIBLE, OPTIMAL``)."""
    seen = {s.strip() for v in values for s in str(v).split(",") if s.strip()}
    return ", ".join(sorted(seen))


def _combine(path: str, values: list[Any], skipped: list[str]) -> Any:
    key = path.rsplit(".", 1)[-1]
    if all(isinstance(v, dict) for v in values):
        keys: list[str] = []
        for v in values:
            keys += [k for k in v if k not in keys]
        out: dict[str, Any] = {}
        for k in keys:
            merged = _combine(f"{path}.{k}", [v[k] for v in values if k in v], skipped)
            if merged is not None:
                out[k] = merged
        if "mean_m" in keys and "total_m" in out and "n" in out:
            out["mean_m"] = round(out["total_m"] / out["n"], 1) if out["n"] else 0.0
            if f"{path}.mean_m" in skipped:
                skipped.remove(f"{path}.mean_m")
        return out
    if key == "status":
        return _statuses(values)
    if key == "stages" and len(values) > 1:
        return None  # each part's solver stages; they describe that part only
    known = [v for v in values if v is not None]
    if key in _MAXED and known and all(isinstance(v, int | float) for v in known):
        return max(known)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return sum(values)
    if key in _SUMMED_FLOATS and all(isinstance(v, int | float) for v in values):
        return round(float(sum(values)), 3)
    if all(v == values[0] for v in values):
        return values[0]
    skipped.append(path)
    return None


def merge_staffing_metrics(
    parts: Sequence[dict[str, Any]], skipped: list[str] | None = None
) -> dict[str, Any]:
    """The staffing metrics of several communities or batches as one.

    Parameters
    ----------
    parts
        ``StaffingResult.metrics`` of each part (in any order: the result does not depend on
        it, up to the rounding of the party shares).
    skipped
        Receives the dotted paths (``staffing.grid_heads.stages``) of figures that do not
        combine; they are left out of the result.

    Returns
    -------
    dict
        The metrics in the shape of one part's.
    """
    skipped = [] if skipped is None else skipped
    if len(parts) == 1:
        return dict(parts[0])
    out: dict[str, Any] = _combine("staffing", list(parts), skipped) or {}
    for share, problems in _SHARES:
        weights = [sum(int(m.get(p, {}).get("n_filled", 0)) for p in problems) for m in parts]
        have = [(float(m[share]), w) for m, w in zip(parts, weights, strict=True) if share in m]
        if have:
            total = sum(w for _, w in have)
            out[share] = round(sum(s * w for s, w in have) / total, 4) if total else 0.0
            if f"staffing.{share}" in skipped:
                skipped.remove(f"staffing.{share}")
    return out
