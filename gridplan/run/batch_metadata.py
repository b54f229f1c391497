"""The metadata of a batched run, put together from its batches, for :mod:`gridplan.run.batched`.

A batched run never holds the whole plan, so the figures of a whole-plan run are combined from
what each batch reports (:func:`batch_figures`): counts are summed, extremes taken over the
batches, means and shares weighted by what they are shares of (grids, units, posts filled), the
per-community partition figures merged. Figures that do not combine (a median of unit spreads,
a solver's gap) are left out and named in ``batched["metrics_not_merged"]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gridplan.output.planfile import Plan
from gridplan.partition.result import size_summary
from gridplan.run.community import polsby_popper
from gridplan.settings import Config
from gridplan.staffing.merge import merge_staffing_metrics

__all__ = [
    "batch_figures",
    "merge_dataset_blocks",
    "merge_metrics",
    "merge_sensitivity",
    "merge_timings",
]


def batch_figures(plan: Plan, cfg: Config) -> dict[str, Any]:
    """What a batch reports for the run's metadata: its grids' household figures (sums, so
    that they combine exactly), its stage metrics and flags, and its sensitivity."""
    g = plan.grids
    h = g["households"].to_numpy(dtype=float) if len(g) else np.zeros(0)
    t = cfg.grids.target_households
    pp = polsby_popper(np.asarray(g.geometry.array, dtype=object)) if len(g) else np.zeros(0)
    n = len(h)
    grids = {
        "n": n,
        "sum": float(h.sum()),
        "sumsq": float((h**2).sum()),
        "min": float(h.min()) if n else None,
        "max": float(h.max()) if n else None,
        "absdev_max": float(np.abs(h - t).max()) if n else 0.0,
        "within_10pct": int((np.abs(h - t) <= 0.1 * t).sum()),
        "within_bounds": int(
            ((h >= cfg.grids.min_households) & (h <= cfg.grids.max_households)).sum()
        ),
        "pp_sum": float(pp.sum()),
        "pp_min": float(pp.min()) if n else None,
    }
    meta = plan.metadata
    return {
        "grid_figures": grids,
        "metrics": {k: v for k, v in meta.get("metrics", {}).items() if k != "coverage"},
        "stage_flags": {k: list(v) for k, v in meta.get("flags", {}).items()},
        "sensitivity": meta.get("sensitivity") or {},
        "skipped": dict(meta.get("skipped", {})),
    }


def _partition(
    parts: Sequence[dict[str, Any]], grids: Sequence[dict[str, Any]], cfg: Config
) -> dict[str, Any]:
    g = cfg.grids
    t = g.target_households
    per: dict[str, Any] = {}
    for m in parts:
        per.update(m.get("communities", {}))
    n = sum(int(x["n"]) for x in grids)
    total = sum(float(x["sum"]) for x in grids)
    mean = total / n if n else 0.0
    var = max(sum(float(x["sumsq"]) for x in grids) / n - mean**2, 0.0) if n else 0.0
    mins = [x["min"] for x in grids if x["min"] is not None]
    maxs = [x["max"] for x in grids if x["max"] is not None]
    pp_mins = [x["pp_min"] for x in grids if x["pp_min"] is not None]

    def summed(key: str) -> int:
        return int(sum(int(m.get(key, 0)) for m in parts))

    out = {
        "grids": n,
        "households": int(total),
        "households_min": int(min(mins)) if mins else 0,
        "households_max": int(max(maxs)) if maxs else 0,
        "households_mean": round(mean, 2),
        "households_std": round(math.sqrt(var), 2),
        "max_deviation": round(max(float(x["absdev_max"]) for x in grids) / t, 4) if n else 0.0,
        "share_within_10pct": round(sum(int(x["within_10pct"]) for x in grids) / n, 4)
        if n
        else 1.0,
        "share_within_bounds": round(sum(int(x["within_bounds"]) for x in grids) / n, 4)
        if n
        else 1.0,
        "polsby_popper_mean": round(sum(float(x["pp_sum"]) for x in grids) / n, 4) if n else 0.0,
        "polsby_popper_min": round(min(pp_mins), 4) if pp_mins else 0.0,
        "cut_edges": summed("cut_edges"),
        "adjacency_edges": summed("adjacency_edges"),
        "faces": summed("faces"),
        "faces_merged": summed("faces_merged"),
        "contiguity_ok": all(bool(m.get("contiguity_ok", True)) for m in parts),
        "time_s": round(sum(float(m.get("time_s", 0.0)) for m in parts), 3),
        "communities": per,
        "target_households": t,
        "bounds": [g.min_households, g.max_households],
        "flags": summed("flags"),
        "grids_out_of_bounds": summed("grids_out_of_bounds"),
    }
    out.update(size_summary(per))
    return out


def _units(parts: Sequence[dict[str, Any]], cfg: Config, skipped: list[str]) -> dict[str, Any]:
    n = sum(int(m.get("n_units", 0)) for m in parts)
    hist: dict[str, int] = {}
    for m in parts:
        for k, v in m.get("size_histogram", {}).items():
            hist[k] = hist.get(k, 0) + int(v)
    sizes = np.repeat(np.array([int(k) for k in hist], dtype=np.int64), [hist[k] for k in hist])

    def weighted(key: str, default: float) -> float:
        if not n:
            return default
        return float(sum(float(m.get(key, default)) * int(m.get("n_units", 0)) for m in parts) / n)

    def summed(key: str) -> int:
        return int(sum(int(m.get(key, 0)) for m in parts))

    skipped += ["units.median_spread_m", "units.p90_spread_m"]
    return {
        "n_grids": summed("n_grids"),
        "n_units": n,
        "households": summed("households"),
        "mean_households": float(sizes.mean()) if len(sizes) else 0.0,
        "median_households": float(np.median(sizes)) if len(sizes) else 0.0,
        "min_households": int(sizes.min()) if len(sizes) else 0,
        "max_households": int(sizes.max()) if len(sizes) else 0,
        "share_in_range": weighted("share_in_range", 1.0),
        "share_in_range_feasible": weighted("share_in_range_feasible", 1.0),
        "size_histogram": dict(sorted(hist.items(), key=lambda kv: int(kv[0]))),
        "grids_below_min": summed("grids_below_min"),
        "max_spread_m": max((float(m.get("max_spread_m", 0.0)) for m in parts), default=0.0),
        "split_buildings": summed("split_buildings"),
        "split_evenly_buildings": summed("split_evenly_buildings"),
        "split_no_entrances": summed("split_no_entrances"),
        "split_no_floors": summed("split_no_floors"),
        "kept_grids": summed("kept_grids"),
        "bounds": [cfg.units.min_households, cfg.units.target_households, cfg.units.max_households],
        "seed": int(cfg.seed),
        "time_s": round(sum(float(m.get("time_s", 0.0)) for m in parts), 3),
    }


def merge_metrics(
    batches: Sequence[dict[str, Any]], cfg: Config
) -> tuple[dict[str, Any], dict[str, list[str]], list[str]]:
    """The partition, units and staffing metrics and flags of the whole run from its batches
    (:func:`batch_figures`), and the figures left out because they do not combine."""
    skipped: list[str] = []
    metrics: dict[str, Any] = {}
    flags: dict[str, list[str]] = {}
    for b in batches:
        for stage, lst in b.get("stage_flags", {}).items():
            flags.setdefault(stage, []).extend(lst)
    parts = {
        stage: [b["metrics"][stage] for b in batches if stage in b.get("metrics", {})]
        for stage in ("partition", "units", "staffing")
    }
    if parts["partition"]:
        metrics["partition"] = _partition(
            parts["partition"], [b["grid_figures"] for b in batches], cfg
        )
    if parts["units"]:
        metrics["units"] = _units(parts["units"], cfg, skipped)
    if parts["staffing"]:
        metrics["staffing"] = merge_staffing_metrics(parts["staffing"], skipped)
    return metrics, flags, sorted(set(skipped))


def merge_sensitivity(batches: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The household sensitivity of the whole run: counts summed; per scenario, the grid
    figures over every batch's grids (a batch without estimates keeps its households in every
    scenario). Means and shares are weighted by grids, to the batches' rounding."""
    with_est = [b["sensitivity"] for b in batches if b.get("sensitivity")]
    if not with_est:
        return {}
    out: dict[str, Any] = {
        "dwelling_size_m2": with_est[0]["dwelling_size_m2"],
        "buildings_estimated": sum(int(s["buildings_estimated"]) for s in with_est),
        "households_estimated": sum(int(s["households_estimated"]) for s in with_est),
        "scenarios": {},
    }
    for name, first in with_est[0]["scenarios"].items():
        rows = []
        for b in batches:
            g = b["grid_figures"]
            if not g["n"]:
                continue
            sc = (b.get("sensitivity") or {}).get("scenarios", {}).get(name)
            if sc is not None:
                rows.append((g["n"], sc))
            else:
                rows.append(
                    (
                        g["n"],
                        {
                            "households": int(g["sum"]),
                            "grid_households_min": int(g["min"]),
                            "grid_households_mean": g["sum"] / g["n"],
                            "grid_households_max": int(g["max"]),
                            "grids_within_bounds": g["within_bounds"] / g["n"],
                        },
                    )
                )
        n = sum(k for k, _ in rows)
        out["scenarios"][name] = {
            "dwelling_size_m2": first["dwelling_size_m2"],
            "households": sum(int(sc["households"]) for _, sc in rows),
            "grid_households_min": min(int(sc["grid_households_min"]) for _, sc in rows),
            "grid_households_mean": round(
                sum(float(sc["grid_households_mean"]) * k for k, sc in rows) / n, 1
            ),
            "grid_households_max": max(int(sc["grid_households_max"]) for _, sc in rows),
            "grids_within_bounds": round(
                sum(float(sc["grids_within_bounds"]) * k for k, sc in rows) / n, 3
            ),
        }
    return out


def merge_timings(batches: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Seconds per stage summed over the batches (task time, not wall time)."""
    out: dict[str, float] = {}
    for b in batches:
        for k, v in b.get("seconds", {}).items():
            if k != "total":
                out[k] = round(out.get(k, 0.0) + float(v), 3)
    return out


def merge_dataset_blocks(
    source: str, offset: str | None, batches: Sequence[dict[str, Any]], layers: dict[str, int]
) -> dict[str, Any]:
    """The ``dataset`` block of the whole run: the input CRS, the working CRS (a list when the
    batches were planned in several UTM zones), the batches' warnings, ``layers``."""
    blocks = [b["dataset"] for b in batches if b.get("dataset")]
    working = sorted({str(b["working_crs"]) for b in blocks if b.get("working_crs")})
    return {
        "source": source,
        "input_crs": blocks[0]["input_crs"] if blocks else None,
        "working_crs": working[0] if len(working) == 1 else (working or None),
        "offset": offset,
        "layers": layers,
        "warnings": [w for b in blocks for w in b.get("warnings", [])],
    }
