"""The plan report: ``report.md`` for planners, ``report.json`` with the same figures, PNG charts.

Sections: summary, plan quality (grid balance, compactness, faces merged, flags), ten-household
units, staffing (filled and vacant roles, vacancies with reasons, party share, solver status),
coverage by tier × category and by grid (worst first), siting, re-plan before/after and the
sensitivity of household estimates when the metadata holds them. A section whose stage did not
run says so and names the command that runs it; nothing is ever a placeholder.

Figures are computed from the plan's layers where they can be, and completed by the metrics
each stage left in ``plan.metadata["metrics"]`` (known keys shown by name, the rest listed).

Example
-------
>>> from gridplan.output.report import build_report, write_report
>>> report = build_report(plan)                                # doctest: +SKIP
>>> report["quality"]["households"]["share_within_10pct"]      # doctest: +SKIP
0.83
>>> write_report(plan, "out/town", lang="en")                  # doctest: +SKIP
[PosixPath('out/town/report.md'), PosixPath('out/town/report.json'), ...]
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.i18n import check_lang, label
from gridplan.output.planfile import SKIP_REASONS, Plan
from gridplan.output.report.charts import _charts
from gridplan.output.report.common import (
    _flags,
    _households,
    _metrics,
    _nonempty,
    _params,
    _r,
    _records,
    _rest,
    clean,
    group_sums,
    metric_crs,
    minutes,
)
from gridplan.output.report.render import render_html, render_markdown
from gridplan.output.report.review import household_review
from gridplan.privacy import mask_text
from gridplan.settings import DEFAULT

__all__ = ["build_report", "write_report"]

logger = logging.getLogger(__name__)

#: Commands that run each stage, named when a section's stage did not run.
COMMANDS: dict[str, str] = {
    "quality": "gridplan partition DATASET --out DIR",
    "units": "gridplan units DATASET --out DIR",
    "staffing": "gridplan assign DATASET --out DIR",
    "coverage": "gridplan coverage DATASET --out DIR",
    "siting": "gridplan site DATASET --out DIR",
    "replan": "gridplan replan OLD_PLAN_DIR DATASET --out DIR",
}

#: Report section -> the pipeline stage behind it (``metadata["skipped"]`` is by stage).
SECTION_STAGES: dict[str, str] = {
    "quality": "partition",
    "units": "units",
    "staffing": "assign",
    "coverage": "coverage",
    "siting": "site",
}

STAFF_ROLES: tuple[str, ...] = (
    "grid_head",
    "grid_worker_full",
    "grid_worker_part",
    "unit_head",
    "building_head",
    "volunteer",
)
_PARTY_ROLES = {"grid_head", "grid_worker_full", "grid_worker_part", "grid_worker"}


# --------------------------------------------------------------------------- sections


def _summary(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    communities = _nonempty(plan, "communities")
    buildings = _nonempty(plan, "buildings")
    grids = _nonempty(plan, "grids")
    units = _nonempty(plan, "units")
    if communities is not None:
        out["communities"] = len(communities)
    elif buildings is not None and "community_id" in buildings.columns:
        out["communities"] = int(buildings["community_id"].nunique())
    if buildings is not None:
        hh = _households(buildings)
        out["buildings"] = len(buildings)
        out["residential_buildings"] = int((hh > 0).sum())
        out["households"] = int(hh.sum())
        if "households_estimated" in buildings.columns:
            est = buildings["households_estimated"].fillna(False).astype(bool).to_numpy()
            out["buildings_estimated"] = int((est & (hh.to_numpy() > 0)).sum())
            out["households_estimated"] = int(hh.to_numpy()[est].sum())
    elif grids is not None:
        out["households"] = int(_households(grids).sum())
    if grids is not None and "population" in grids.columns:
        out["population"] = round(float(pd.to_numeric(grids["population"]).fillna(0).sum()))
    out["grids"] = 0 if grids is None else len(grids)
    out["units"] = 0 if units is None else len(units)
    return out


def _quality(plan: Plan) -> dict[str, Any]:
    grids = _nonempty(plan, "grids")
    metrics = _metrics(plan, "partition")
    if grids is None:
        return {"ran": False, "command": COMMANDS["quality"]}
    gp = _params(plan, "grids")
    target = int(
        metrics.get("target_households")
        or gp.get("target_households")
        or DEFAULT.grids.target_households
    )
    bounds = metrics.get("bounds") or [
        gp.get("min_households", DEFAULT.grids.min_households),
        gp.get("max_households", DEFAULT.grids.max_households),
    ]
    lo, hi = int(bounds[0]), int(bounds[1])
    hh = _households(grids).to_numpy(dtype=float)
    ids = grids["grid_id"].astype(str).to_numpy()
    out: dict[str, Any] = {
        "ran": True,
        "households": {
            "min": int(hh.min()),
            "max": int(hh.max()),
            "mean": _r(hh.mean(), 2),
            "std": _r(hh.std(), 2),
            "target": target,
            "min_allowed": lo,
            "max_allowed": hi,
            "share_within_10pct": _r((np.abs(hh - target) <= 0.1 * target).mean()),
            "share_within_bounds": _r(((hh >= lo) & (hh <= hi)).mean()),
            "below_min": sorted(ids[hh < lo].tolist()),
            "above_max": sorted(ids[hh > hi].tolist()),
        },
    }
    if isinstance(grids, gpd.GeoDataFrame) and grids.geometry.name in grids.columns:
        metric = metric_crs(grids, plan)
        geoms = metric.geometry.to_numpy()
        area, perim = shapely.area(geoms), shapely.length(geoms)
        pp = np.where(perim > 0, 4 * math.pi * area / np.maximum(perim, 1e-12) ** 2, 0.0)
        worst = int(np.argmin(pp))
        out["compactness"] = {
            "polsby_popper_mean": _r(pp.mean()),
            "polsby_popper_min": _r(pp.min()),
            "least_compact_grid": str(ids[worst]),
        }
    if "share_within_10pct_sizes_allow" in metrics:
        out["households"]["share_within_10pct_sizes_allow"] = metrics[
            "share_within_10pct_sizes_allow"
        ]
        out["households"]["grids_size_forced"] = metrics.get("grids_size_forced", 0)
    if "faces_merged" in metrics:
        out["faces_merged"] = metrics["faces_merged"]
    known = {
        "households_min",
        "households_max",
        "households_mean",
        "households_std",
        "share_within_10pct",
        "share_within_10pct_sizes_allow",
        "grids_size_forced",
        "share_within_bounds",
        "polsby_popper_mean",
        "polsby_popper_min",
        "faces_merged",
        "target_households",
        "bounds",
        "grids",
        "households",
        "flags",
    }
    out["metrics"] = _rest(metrics, known)
    out["flags"] = _flags(plan, "partition")
    return out


def _units(plan: Plan) -> dict[str, Any]:
    units = _nonempty(plan, "units")
    if units is None:
        return {"ran": False, "command": COMMANDS["units"]}
    up = _params(plan, "units")
    lo = int(up.get("min_households", DEFAULT.units.min_households))
    hi = int(up.get("max_households", DEFAULT.units.max_households))
    hh = _households(units).astype(int)
    dist = hh.value_counts().sort_index()
    metrics = _metrics(plan, "units")
    return {
        "ran": True,
        "count": len(units),
        "min_allowed": lo,
        "max_allowed": hi,
        "households_min": int(hh.min()),
        "households_max": int(hh.max()),
        "households_mean": _r(hh.mean(), 2),
        "share_in_range": _r(((hh >= lo) & (hh <= hi)).mean()),
        "size_distribution": {
            str(int(k)): int(v) for k, v in zip(dist.index, dist.to_numpy(), strict=True)
        },
        "metrics": _rest(
            metrics,
            {
                "share_in_range",
                "n_units",
                "households",
                "mean_households",
                "min_households",
                "max_households",
                "size_histogram",
                "bounds",
                "seed",
                "n_grids",
            },
        ),
        "flags": _flags(plan, "units"),
    }


def _solver_entries(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every (possibly nested) metrics dict with a solver ``status``: name -> its figures."""
    out: dict[str, dict[str, Any]] = {}
    if "status" in metrics:
        out["_"] = {k: metrics.get(k) for k in ("status", "objective", "bound", "gap")}
    for key, value in metrics.items():
        if isinstance(value, dict) and "status" in value:
            out[str(key)] = {k: value.get(k) for k in ("status", "objective", "bound", "gap")}
    return out


def _staffing(plan: Plan) -> dict[str, Any]:
    assignments = _nonempty(plan, "assignments")
    vacancies = _nonempty(plan, "vacancies")
    metrics = _metrics(plan, "staffing")
    if assignments is None and vacancies is None and not metrics:
        return {"ran": False, "command": COMMANDS["staffing"]}
    filled = (
        assignments["role"].astype(str).value_counts().to_dict()
        if assignments is not None and "role" in assignments.columns
        else {}
    )
    vacant = (
        vacancies["role"].astype(str).value_counts().to_dict()
        if vacancies is not None and "role" in vacancies.columns
        else {}
    )
    roles = [r for r in STAFF_ROLES if r in filled or r in vacant]
    roles += sorted({str(r) for r in (*filled, *vacant)} - set(roles))
    vac_rows: list[dict[str, Any]] = []
    if vacancies is not None:
        cols = [
            c
            for c in ("role", "target_id", "reason", "reason_code", "reason_params")
            if c in vacancies.columns
        ]
        table = vacancies[cols].fillna("").astype(str)
        vac_rows = _records(table.sort_values(cols[:3])) if cols else []
        for row in vac_rows:
            if "reason_params" in row:
                row["reason_params"] = json.loads(row["reason_params"] or "{}")
    party: float | None = None
    people = _nonempty(plan, "people")
    if (
        assignments is not None
        and people is not None
        and {"person_id", "party_member"} <= set(people.columns)
    ):
        core = assignments[assignments["role"].isin(_PARTY_ROLES)]
        if len(core):
            flag = dict(
                zip(
                    people["person_id"].astype(str),
                    people["party_member"].fillna(False).astype(bool),
                    strict=True,
                )
            )
            party = _r(float(np.mean([flag.get(str(p), False) for p in core["person_id"]])))
    solver = _solver_entries(metrics)
    used = {"status", "objective", "bound", "gap", "posts", *solver}
    return {
        "ran": True,
        "roles": {
            r: {"filled": int(filled.get(r, 0)), "vacant": int(vacant.get(r, 0))} for r in roles
        },
        "vacancies": vac_rows,
        "filled_vs_possible": _posts(metrics),
        "party_share": party,
        "solver": solver,
        "metrics": _rest(metrics, used),
        "flags": _flags(plan, "staffing") + _flags(plan, "assign"),
    }


def _posts(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per role: posts, filled, the most possible and why the rest are vacant (by kind)."""
    posts = metrics.get("posts")
    if not isinstance(posts, dict):
        return {}
    keys = (
        "posts",
        "filled",
        "possible",
        "bound",
        "vacant_higher_post",
        "vacant_same_role",
        "vacant_out_of_reach",
        "vacant_other",
    )
    return {
        str(role): {k: row.get(k) for k in keys}
        for role, row in posts.items()
        if isinstance(row, dict)
    }


def _coverage_rows(plan: Plan) -> pd.DataFrame | None:
    """Coverage rows joined to building households and grids."""
    cov = _nonempty(plan, "coverage")
    if cov is None or not {"building_id", "tier", "category", "covered"} <= set(cov.columns):
        return None
    c = pd.DataFrame(
        {
            "building_id": cov["building_id"].astype(str),
            "tier": cov["tier"].astype(str),
            "category": cov["category"].astype(str),
            "covered": cov["covered"].fillna(False).astype(bool),
        }
    )
    buildings = _nonempty(plan, "buildings")
    if buildings is not None and "building_id" in buildings.columns:
        b = pd.DataFrame(
            {
                "building_id": buildings["building_id"].astype(str),
                "households": _households(buildings).to_numpy(),
                "grid_id": (
                    buildings["grid_id"].astype(str).to_numpy()
                    if "grid_id" in buildings.columns
                    else ""
                ),
            }
        ).drop_duplicates("building_id")
        c = c.merge(b, on="building_id", how="left")
        c["households"] = c["households"].fillna(0)
    else:
        c["households"] = 1.0
        c["grid_id"] = ""
    c = c[c["households"] > 0]
    c["hh_covered"] = c["households"] * c["covered"]
    return c


def _tier_category_row(tier: Any, cat: Any, hh: float, hc: float) -> dict[str, Any]:
    """One row of the coverage table: households and the share covered."""
    return {
        "tier": tier,
        "category": cat,
        "households": int(hh),
        "households_covered": int(hc),
        "share": _r(hc / hh) if hh else None,
    }


def _coverage(plan: Plan) -> dict[str, Any]:
    rows = _coverage_rows(plan)
    metrics = _metrics(plan, "coverage")
    summary = _nonempty(plan, "coverage_summary")
    if rows is None and summary is None:
        return {"ran": False, "command": COMMANDS["coverage"]}
    by_tc: list[dict[str, Any]] = []
    by_grid: list[dict[str, Any]] = []
    if rows is not None and len(rows):
        for (tier, cat), (hh, hc) in group_sums(
            rows, ["tier", "category"], ["households", "hh_covered"]
        ):
            by_tc.append(_tier_category_row(tier, cat, hh, hc))
        if (rows["grid_id"] != "").any():
            per_tier: dict[str, dict[str, float]] = {}
            for (gid, tier), (hh, hc) in group_sums(
                rows, ["grid_id", "tier"], ["households", "hh_covered"]
            ):
                per_tier.setdefault(gid, {})[tier] = _r(hc / hh) if hh else 1.0
            for (gid,), (hh, hc) in group_sums(rows, ["grid_id"], ["households", "hh_covered"]):
                tiers = dict(sorted(per_tier.get(gid, {}).items(), key=lambda kv: minutes(kv[0])))
                by_grid.append(
                    {"grid_id": gid, "share": _r(hc / hh) if hh else 1.0, "by_tier": tiers}
                )
    elif summary is not None and {"level", "tier", "category"} <= set(summary.columns):
        s = summary[
            (summary["level"].astype(str) == "community") & (summary["category"].astype(str) != "*")
        ]
        for (tier, cat), (hh, hc) in group_sums(
            s, ["tier", "category"], ["households", "households_covered"]
        ):
            by_tc.append(_tier_category_row(tier, cat, hh, hc))
        sg = summary[summary["level"].astype(str) == "grid"]
        id_col = "area_id" if "area_id" in summary.columns else "id"
        if len(sg) and id_col in sg.columns:
            sg = sg[sg["category"].astype(str) != "*"]
            for (gid,), (hh, hc) in group_sums(sg, [id_col], ["households", "households_covered"]):
                by_grid.append({"grid_id": gid, "share": _r(hc / hh) if hh else 1.0, "by_tier": {}})
    by_tc.sort(key=lambda d: (minutes(d["tier"]), d["category"]))
    by_grid.sort(key=lambda d: (d["share"], d["grid_id"]))
    complete = metrics.get("complete_share")
    return {
        "ran": True,
        "by_tier_category": by_tc,
        "by_grid": by_grid,
        "complete_share": (
            dict(sorted(complete.items(), key=lambda kv: minutes(kv[0])))
            if isinstance(complete, dict)
            else {}
        ),
        "metrics": _rest(metrics, {"covered_share", "households", "complete_share"}),
        "flags": _flags(plan, "coverage"),
    }


def _siting(plan: Plan) -> dict[str, Any]:
    sites = _nonempty(plan, "sites")
    metrics = _metrics(plan, "siting")
    if sites is None and not metrics:
        return {"ran": False, "command": COMMANDS["siting"]}
    rows: list[dict[str, Any]] = []
    if sites is not None:
        cols = [
            c
            for c in ("site_id", "category", "tier", "rank", "households_newly_covered")
            if c in sites.columns
        ]
        table = pd.DataFrame(sites[cols])
        sort = [c for c in ("category", "rank", "site_id") if c in table.columns]
        rows = [clean(r) for r in _records(table.sort_values(sort))]
    by_cat: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = by_cat.setdefault(
            str(r.get("category", "")), {"sites": 0, "households_newly_covered": 0}
        )
        entry["sites"] += 1
        entry["households_newly_covered"] += int(r.get("households_newly_covered") or 0)
    solver = _solver_entries(metrics)
    return {
        "ran": True,
        "sites": rows,
        "by_category": by_cat,
        "solver": solver,
        "metrics": _rest(metrics, {"status", "objective", "bound", "gap", *solver}),
        "flags": _flags(plan, "siting"),
    }


def _replan(plan: Plan) -> dict[str, Any]:
    meta = plan.metadata.get("replan")
    if not isinstance(meta, dict) or not meta:
        return {"ran": False, "command": COMMANDS["replan"]}
    out: dict[str, Any] = {"ran": True, **meta}
    moved = _nonempty(plan, "moved")
    if moved is not None and {"old_grid_id", "new_grid_id", "households"} <= set(moved.columns):
        m = pd.DataFrame(moved[["old_grid_id", "new_grid_id"]]).fillna("–")
        m["households"] = _households(moved).to_numpy()
        out["flows"] = [
            {"from": old, "to": new, "households": int(hh)}
            for (old, new), (hh,) in group_sums(m, ["old_grid_id", "new_grid_id"], ["households"])
        ]
    edits = _nonempty(plan, "edits")
    if edits is not None and {"building_id", "from_grid_id", "grid_id"} <= set(edits.columns):
        cols = ["building_id", "from_grid_id", "grid_id", "reason", "by", "at", "violations"]
        e = pd.DataFrame(edits.reindex(columns=cols)).astype(object)
        out["edits"] = [
            {c: (None if pd.isna(v) else mask_text(str(v))) for c, v in row.items()}
            for row in e.to_dict("records")
        ]
    return out


def _find_sensitivity(plan: Plan) -> dict[str, Any] | None:
    meta = plan.metadata
    if meta.get("sensitivity"):
        return meta["sensitivity"]
    metrics = meta.get("metrics") or {}
    for stage in ("households", "partition", "dataset"):
        value = metrics.get(stage)
        if isinstance(value, dict) and value.get("sensitivity"):
            return value["sensitivity"]
    return None


#: Metric keys that hold run times: the plan's metadata keeps them (``timings_s``), the report
#: leaves them out so that the same inputs and seed give the same report, byte for byte.
TIMING_KEYS = frozenset({"time_s", "seconds", "timings_s", "elapsed_s", "wall_s"})


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _place(plan: Plan) -> dict[str, Any]:
    """The communities of the plan: id and name (``None`` when the layer has no names)."""
    comms = _nonempty(plan, "communities")
    rows: list[dict[str, Any]] = []
    if comms is not None and "community_id" in comms.columns:
        names = comms["name"] if "name" in comms.columns else pd.Series(None, index=comms.index)
        for cid, name in sorted(
            zip(comms["community_id"].astype(str), names, strict=True), key=lambda t: t[0]
        ):
            rows.append({"community_id": cid, "name": None if pd.isna(name) else str(name)})
    else:
        grids = _nonempty(plan, "grids")
        if grids is not None and "community_id" in grids.columns:
            ids = sorted(grids["community_id"].astype(str).unique())
            rows = [{"community_id": c, "name": None} for c in ids]
    return {"communities": rows}


def _dates(plan: Plan) -> dict[str, Any]:
    """The date of the data and of the plan (``YYYY-MM-DD``; ``None`` when not recorded)."""
    created = plan.metadata.get("created_at")
    dataset = plan.metadata.get("dataset") or {}
    return {
        "data": dataset.get("data_date") if isinstance(dataset, dict) else None,
        "plan": str(created)[:10] if created else None,
    }


def _by_community(plan: Plan) -> list[dict[str, Any]]:
    """Per community: grids, households, residents, the smallest and largest grid, units."""
    grids = _nonempty(plan, "grids")
    if grids is None or "community_id" not in grids.columns:
        return []
    g = pd.DataFrame(
        {
            "community_id": grids["community_id"].astype(str),
            "households": _households(grids).astype(float),
            "population": (
                pd.to_numeric(grids["population"], errors="coerce").fillna(0)
                if "population" in grids.columns
                else 0.0
            ),
            "units": (
                pd.to_numeric(grids["n_units"], errors="coerce").fillna(0)
                if "n_units" in grids.columns
                else 0.0
            ),
        }
    )
    out = []
    for cid, part in g.groupby("community_id", sort=True):
        out.append(
            {
                "community_id": str(cid),
                "grids": len(part),
                "households": int(part["households"].sum()),
                "population": round(float(part["population"].sum())),
                "grid_households_min": int(part["households"].min()),
                "grid_households_max": int(part["households"].max()),
                "units": int(part["units"].sum()),
            }
        )
    return out


def _int_or_none(value: Any) -> int | None:
    """A whole number, or ``None`` for a missing or unknown (0) entrance or floor."""
    if value is None or pd.isna(value) or int(value) <= 0:
        return None
    return int(value)


def _split_buildings(plan: Plan) -> list[dict[str, Any]]:
    """Buildings split over several grids (their ``grid_ids`` list more than one), largest
    first: id, name, households, and per grid the households it holds and its parts
    (entrance, floor range, households) from the ``building_parts`` layer."""
    buildings = _nonempty(plan, "buildings")
    if buildings is None or "grid_ids" not in buildings.columns:
        return []
    gids = buildings["grid_ids"].astype("string").fillna("")
    split = buildings[gids.str.contains(";", regex=False).to_numpy()]
    if not len(split):
        return []
    parts = _nonempty(plan, "building_parts")
    by_building: dict[str, pd.DataFrame] = {}
    if parts is not None and {"building_id", "grid_id", "households"} <= set(parts.columns):
        p = pd.DataFrame(parts)
        p["building_id"] = p["building_id"].astype(str)
        p = p[p["building_id"].isin(set(split["building_id"].astype(str)))]
        by_building = {str(k): v for k, v in p.groupby("building_id", sort=True)}
    names = split["name"] if "name" in split.columns else pd.Series(None, index=split.index)
    out: list[dict[str, Any]] = []
    for bid, name, hh, grid_ids in zip(
        split["building_id"].astype(str),
        names,
        _households(split).astype(int),
        gids[gids.str.contains(";", regex=False)],
        strict=True,
    ):
        own = by_building.get(bid)
        grids: list[dict[str, Any]] = []
        for gid in str(grid_ids).split(";"):
            rows = own[own["grid_id"].astype(str) == gid] if own is not None else None
            entry: dict[str, Any] = {"grid_id": gid, "households": None, "parts": []}
            if rows is not None and len(rows):
                sort = [c for c in ("entrance", "floor_from") if c in rows.columns]
                rows = rows.sort_values(sort, kind="stable") if sort else rows
                entry["households"] = int(_households(rows).sum())
                entry["parts"] = [
                    {
                        "entrance": _int_or_none(r.get("entrance")),
                        "floor_from": _int_or_none(r.get("floor_from")),
                        "floor_to": _int_or_none(r.get("floor_to")),
                        "households": int(r["households"]),
                    }
                    for r in _records(rows)
                ]
            grids.append(entry)
        out.append(
            {
                "building_id": bid,
                "name": None if name is None or pd.isna(name) else str(name),
                "households": int(hh),
                "grids": grids,
            }
        )
    out.sort(key=lambda d: (-d["households"], d["building_id"]))
    return out


def _mark_skipped(report: dict[str, Any], plan: Plan) -> None:
    """Give each section whose stage was skipped the reason the run recorded: ``skipped`` (the
    code of :data:`~gridplan.output.planfile.SKIP_REASONS`, said in the report's language;
    ``None`` for a reason this version does not know) and ``reason`` (the recorded sentence)."""
    skipped = plan.metadata.get("skipped") or {}
    codes = {text: code for code, text in SKIP_REASONS.items()}
    for section, stage in SECTION_STAGES.items():
        entry = report.get(section)
        if not isinstance(entry, dict) or entry.get("ran") or stage not in skipped:
            continue
        entry["skipped"] = codes.get(str(skipped[stage]))
        entry["reason"] = str(skipped[stage])


def _attention(report: dict[str, Any], plan: Plan) -> list[dict[str, Any]]:
    """What a sub-district head should act on, most urgent first: one entry per matter, a
    ``code`` (its sentence in the label table, ``report.att_<code>``) and its figures."""
    out: list[dict[str, Any]] = []
    layers = (plan.metadata.get("dataset") or {}).get("layers") or {}
    st = report["staffing"]
    if not st["ran"] and (st.get("skipped") == "no_people" or (layers and "people" not in layers)):
        out.append({"code": "no_people"})
    if st["ran"]:
        for role, counts in st["roles"].items():
            if counts["vacant"]:
                out.append({"code": "vacant", "role": role, "n": counts["vacant"]})
    q = report["quality"]
    if q["ran"]:
        h = q["households"]
        for key, code in (("below_min", "below_min"), ("above_max", "above_max")):
            if h[key]:
                out.append(
                    {
                        "code": code,
                        "n": len(h[key]),
                        "grids": h[key],
                        "lo": h["min_allowed"],
                        "hi": h["max_allowed"],
                    }
                )
    cv = report["coverage"]
    if not cv["ran"] and layers:
        missing = [k for k in ("roads", "facilities") if k not in layers]
        if missing:
            out.append({"code": "no_coverage_data", "layers": missing})
    if cv["ran"]:
        complete = cv.get("complete_share") or {}
        for tier in sorted(complete, key=minutes):
            share = complete[tier]
            rows = [r for r in cv["by_tier_category"] if r["tier"] == tier]
            if share is None or share >= 0.5 or not rows:
                continue
            worst = min(rows, key=lambda r: r["share"] if r["share"] is not None else 1.0)
            out.append(
                {
                    "code": "coverage",
                    "tier": tier,
                    "share": share,
                    "categories": len(rows),
                    "worst": worst["category"],
                    "worst_share": worst["share"],
                }
            )
        unreachable = int(cv["metrics"].get("households_unreachable") or 0)
        if unreachable:
            out.append({"code": "unreachable", "n": unreachable})
    s = report["summary"]
    if s.get("households_estimated"):
        out.append(
            {
                "code": "estimated",
                "households": s["households_estimated"],
                "buildings": s.get("buildings_estimated", 0),
                "share": _r(s["households_estimated"] / max(s.get("households", 0), 1)),
            }
        )
    review = report.get("household_review") or {}
    if review.get("stale"):
        out.append({"code": "stale", "communities": review["stale"]})
    if review.get("weak_count"):
        out.append({"code": "weak", "n": review["weak_count"]})
    sens = report.get("sensitivity")
    if isinstance(sens, dict) and isinstance(sens.get("scenarios"), dict):
        grids = s.get("grids", 0)
        worst_in = min(
            (float(v.get("grids_within_bounds", 1.0)) for v in sens["scenarios"].values()),
            default=1.0,
        )
        outside = round((1.0 - worst_in) * grids)
        if outside:
            out.append({"code": "sensitive", "n": outside})
    return out


def build_report(plan: Plan) -> dict[str, Any]:
    """Every figure of the report, as plain JSON-serialisable data.

    Parameters
    ----------
    plan
        The plan (any stage may be missing: its section then says ``"ran": false`` and names
        the command that runs it).

    Returns
    -------
    dict
        Keys ``gridplan_version``, ``seed``, ``summary``, ``split_buildings`` (buildings
        split over several grids, with each grid's parts), ``quality``, ``units``, ``staffing``,
        ``coverage``, ``siting``, ``replan``, ``household_review`` (the buildings to check
        and the calibration per community: :mod:`gridplan.output.report.review`) and, when
        the metadata has one, ``sensitivity``.
    """
    meta = plan.metadata
    report: dict[str, Any] = {
        "gridplan_version": meta.get("gridplan_version"),
        "seed": meta.get("seed"),
        "dataset": meta.get("dataset"),
        "place": _place(plan),
        "dates": _dates(plan),
        "parameters": {k: _params(plan, k) for k in ("grids", "units", "coverage")},
        "summary": _summary(plan),
        "communities": _by_community(plan),
        "split_buildings": _split_buildings(plan),
        "quality": _quality(plan),
        "units": _units(plan),
        "staffing": _staffing(plan),
        "coverage": _coverage(plan),
        "siting": _siting(plan),
    }
    report["replan"] = _replan(plan)
    _mark_skipped(report, plan)
    review = household_review(plan)
    if review is not None:
        report["household_review"] = review
    sensitivity = _find_sensitivity(plan)
    if sensitivity is not None:
        report["sensitivity"] = sensitivity
    report["attention"] = _attention(report, plan)
    cleaned: dict[str, Any] = clean(_without_timings(report))
    return cleaned


def write_report(
    plan: Plan,
    folder: str | Path,
    *,
    lang: str = "en",
    requests: dict[str, Any] | None = None,
) -> list[Path]:
    """Write ``report.md``, ``report.json``, ``report.html`` and the PNG charts into ``folder``.

    ``report.md`` and ``report.html`` are one document for a sub-district head, every word in
    ``lang``; ``report.json`` holds every figure. The same plan gives the same files, byte
    for byte (run times stay in the plan's metadata).

    Parameters
    ----------
    plan
        The plan.
    folder
        Where to write (created when missing).
    lang
        Language of ``report.md`` and the charts (``"en"`` or ``"zh"``); ``report.json`` keys
        are always English.
    requests
        The residents' requests for the plan
        (:func:`gridplan.requests.planview.plan_requests`): a requests section (三率 per
        category and grid, partner units, coverage gaps, overdue) and ``report.json``'s
        ``requests``.

    Returns
    -------
    list of pathlib.Path
        ``report.md``, ``report.json``, ``report.html`` and any charts written. Without
        matplotlib the charts are skipped, and the report says so.
    """
    check_lang(lang)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = build_report(plan)
    if requests is not None:
        report["requests"] = requests
    charts: list[Path] = []
    note: str | None = None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        note = label("report.no_charts", lang)
        logger.warning("matplotlib is not installed: report charts skipped")
    else:
        charts = _charts(report, plan, folder, lang)
    report["charts"] = [p.name for p in charts]
    names = [p.name for p in charts]
    md = folder / "report.md"
    md.write_text(
        render_markdown(report, lang=lang, charts=names, charts_note=note), encoding="utf-8"
    )
    page = folder / "report.html"
    page.write_text(
        render_html(report, lang=lang, charts=names, charts_note=note), encoding="utf-8"
    )
    js = folder / "report.json"
    js.write_text(
        json.dumps(report, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )
    return [md, js, page, *charts]
