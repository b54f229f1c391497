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
>>> from gridplan.report import build_report, write_report
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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gridplan.i18n import category_label, check_lang, role_label, tier_label
from gridplan.planfile import Plan
from gridplan.settings import DEFAULT

__all__ = ["REPORT_LABELS", "build_report", "render_markdown", "write_report"]

logger = logging.getLogger(__name__)

#: Commands that run each stage (DESIGN.md §3), named when a section's stage did not run.
COMMANDS: dict[str, str] = {
    "quality": "gridplan partition DATASET --out DIR",
    "units": "gridplan units DATASET --out DIR",
    "staffing": "gridplan assign DATASET --out DIR",
    "coverage": "gridplan coverage DATASET --out DIR",
    "siting": "gridplan site DATASET --out DIR",
    "replan": "gridplan replan OLD_PLAN_DIR DATASET --out DIR",
}

#: Grids listed by name in the Markdown (worst coverage first); the JSON lists all.
WORST_GRIDS_SHOWN = 20
#: Vacancies listed in the Markdown; the JSON and the staff roster list all.
VACANCIES_SHOWN = 30

REPORT_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "gridplan report",
        "generated": "gridplan {version}, seed {seed}",
        "summary": "Summary",
        "quality": "Plan quality: grids",
        "units": "Ten-household units",
        "staffing": "Staffing",
        "coverage": "15-minute life circle: coverage",
        "siting": "New facility sites",
        "replan": "Re-plan: before and after",
        "sensitivity": "Sensitivity of household estimates",
        "charts": "Charts",
        "not_run": "This stage did not run. Run it with `{command}`.",
        "not_replan": "This plan is not a re-plan. After the data change, `{command}` re-plans "
        "moving as few households as possible, and this section compares before and after.",
        "no_charts": "Charts were skipped: matplotlib is not installed "
        "(`pip install gridplan[charts]`).",
        "communities": "Communities",
        "buildings": "Buildings",
        "residential_buildings": "Buildings with households",
        "households": "Households",
        "households_estimated": "Households estimated (no count in the data)",
        "buildings_estimated": "Buildings with estimated households",
        "population": "Residents",
        "grids": "Grids",
        "units_n": "Ten-household units",
        "figure": "Figure",
        "value": "Value",
        "hh_min": "Households per grid: smallest",
        "hh_max": "Households per grid: largest",
        "hh_mean": "Households per grid: mean",
        "hh_std": "Households per grid: standard deviation",
        "target": "Target households per grid (allowed {lo}–{hi})",
        "within_10": "Grids within ±10 % of the target",
        "within_bounds": "Grids within the allowed range",
        "below_min": "Grids below the minimum",
        "above_max": "Grids above the maximum",
        "compactness_mean": "Compactness (Polsby–Popper), mean",
        "compactness_min": "Compactness (Polsby–Popper), least compact grid",
        "faces_merged": "Faces merged (blocks too small to stand alone)",
        "flags": "Flags",
        "no_flags": "No flags.",
        "other": "Other figures",
        "unit_count": "Units",
        "unit_range": "Units within the allowed {lo}–{hi} households",
        "unit_in_range": "Units within the allowed range",
        "unit_min": "Households per unit: smallest",
        "unit_max": "Households per unit: largest",
        "unit_mean": "Households per unit: mean",
        "size_distribution": "Size distribution (households per unit: units)",
        "role": "Role",
        "filled": "Filled",
        "vacant": "Vacant",
        "vacancies": "Vacancies",
        "target_id": "Where",
        "reason": "Reason",
        "party_share": "Party members among grid heads and grid workers",
        "party_unknown": "unknown (no roster of people in the plan)",
        "solver": "Solver",
        "problem": "Problem",
        "status": "Status",
        "objective": "Objective",
        "bound": "Bound",
        "gap": "Gap",
        "tier": "Tier",
        "category": "Category",
        "covered": "Households covered",
        "share": "Share",
        "by_grid": "Coverage by grid (worst first; share of household × facility checks met)",
        "grid": "Grid",
        "all_checks": "All checks",
        "more_grids": "{n} more grids in report.json.",
        "more_vacancies": "{n} more vacancies in report.json.",
        "flows": "Households moved between grids",
        "from_grid": "From grid",
        "to_grid": "To grid",
        "site": "Site",
        "rank": "Rank",
        "newly_covered": "Households newly covered",
        "no_sites": "No new site was recommended.",
        "chart_grids": "Households per grid",
        "chart_coverage": "Households covered by category and tier",
        "min_line": "minimum",
        "max_line": "maximum",
        "target_line": "target",
        "n_grids": "grids",
        "share_axis": "share of households covered",
    },
    "zh": {
        "title": "gridplan 网格规划报告",
        "generated": "gridplan {version}，随机种子 {seed}",
        "summary": "概况",
        "quality": "网格划分质量",
        "units": "十联户",
        "staffing": "人员配备",
        "coverage": "15分钟生活圈设施覆盖",
        "siting": "新设施选址建议",
        "replan": "调整前后对比",
        "sensitivity": "户数估算的敏感性",
        "charts": "图表",
        "not_run": "该步骤未运行。运行命令：`{command}`。",
        "not_replan": "本规划不是调整规划。数据变化后运行 `{command}`，以最少的住户变动重新规划，"
        "本节将对比调整前后。",
        "no_charts": "未生成图表：未安装 matplotlib（`pip install gridplan[charts]`）。",
        "communities": "社区数",
        "buildings": "楼栋数",
        "residential_buildings": "有住户的楼栋",
        "households": "户数",
        "households_estimated": "估算户数（数据中无户数）",
        "buildings_estimated": "户数为估算的楼栋",
        "population": "常住人口",
        "grids": "网格数",
        "units_n": "十联户数",
        "figure": "指标",
        "value": "数值",
        "hh_min": "每网格户数：最少",
        "hh_max": "每网格户数：最多",
        "hh_mean": "每网格户数：平均",
        "hh_std": "每网格户数：标准差",
        "target": "每网格目标户数（允许 {lo}–{hi}）",
        "within_10": "户数在目标 ±10% 以内的网格",
        "within_bounds": "户数在允许范围内的网格",
        "below_min": "低于下限的网格",
        "above_max": "高于上限的网格",
        "compactness_mean": "紧凑度（Polsby–Popper）平均",
        "compactness_min": "紧凑度（Polsby–Popper）最低",
        "faces_merged": "合并的过小地块",
        "flags": "提示",
        "no_flags": "无提示。",
        "other": "其他指标",
        "unit_count": "十联户数",
        "unit_range": "户数在允许范围（{lo}–{hi} 户）内的十联户",
        "unit_in_range": "户数在允许范围内的十联户",
        "unit_min": "每个十联户户数：最少",
        "unit_max": "每个十联户户数：最多",
        "unit_mean": "每个十联户户数：平均",
        "size_distribution": "规模分布（户数：十联户个数）",
        "role": "职务",
        "filled": "已配备",
        "vacant": "空缺",
        "vacancies": "空缺岗位",
        "target_id": "位置",
        "reason": "原因",
        "party_share": "网格长和网格员中党员比例",
        "party_unknown": "未知（规划中无人员名册）",
        "solver": "求解器",
        "problem": "问题",
        "status": "状态",
        "objective": "目标值",
        "bound": "界",
        "gap": "间隙",
        "tier": "层级",
        "category": "类别",
        "covered": "覆盖户数",
        "share": "比例",
        "by_grid": "各网格覆盖情况（最差在前；住户×设施检查中满足的比例）",
        "grid": "网格",
        "all_checks": "全部检查",
        "more_grids": "另有 {n} 个网格见 report.json。",
        "more_vacancies": "另有 {n} 个空缺岗位见 report.json。",
        "flows": "在网格间调整的住户",
        "from_grid": "原网格",
        "to_grid": "新网格",
        "site": "选址",
        "rank": "优先级",
        "newly_covered": "新增覆盖户数",
        "no_sites": "未推荐新选址。",
        "chart_grids": "各网格户数",
        "chart_coverage": "各类设施覆盖户数比例",
        "min_line": "下限",
        "max_line": "上限",
        "target_line": "目标",
        "n_grids": "网格数",
        "share_axis": "覆盖住户比例",
    },
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
_CJK_FONTS = (
    "Noto Sans CJK SC",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)


# --------------------------------------------------------------------------- helpers


def _nonempty(plan: Plan, name: str) -> pd.DataFrame | None:
    df = plan.layers.get(name)
    if df is None or len(df) == 0:
        return None
    return df


def _metrics(plan: Plan, stage: str) -> dict[str, Any]:
    value = (plan.metadata.get("metrics") or {}).get(stage)
    return dict(value) if isinstance(value, dict) else {}


def _flags(plan: Plan, stage: str) -> list[str]:
    value = (plan.metadata.get("flags") or {}).get(stage)
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


def _params(plan: Plan, section: str) -> dict[str, Any]:
    params = plan.metadata.get("parameters") or {}
    value = params.get(section) if isinstance(params, dict) else None
    return value if isinstance(value, dict) else {}


def _clean(value: Any) -> Any:
    """JSON-serialisable plain Python: numpy scalars to int/float, NaN to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def _households(df: pd.DataFrame) -> pd.Series:
    if "households" not in df.columns:
        return pd.Series(0, index=df.index, dtype="int64")
    return pd.to_numeric(df["households"], errors="coerce").fillna(0)


def _metric_crs(gdf: gpd.GeoDataFrame, plan: Plan) -> gpd.GeoDataFrame:
    if gdf.crs is None and plan.crs is not None:
        gdf = gdf.set_crs(plan.crs)
    if gdf.crs is None:
        return gdf
    if CRS.from_user_input(gdf.crs).is_projected:
        return gdf
    return gdf.to_crs(gdf.estimate_utm_crs())


def _group_sums(
    df: pd.DataFrame, keys: list[str], cols: list[str]
) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
    """Sums of ``cols`` per group of ``keys``, sorted by the keys: [(keys, sums), ...]."""
    agg = df.groupby(keys, sort=True)[cols].sum().reset_index()
    key_rows = zip(*(agg[k].astype(str).tolist() for k in keys), strict=True)
    val_rows = zip(*(agg[c].astype(float).tolist() for c in cols), strict=True)
    return list(zip(key_rows, val_rows, strict=True))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in rec.items()} for rec in df.to_dict("records")]


def _rest(metrics: dict[str, Any], used: Iterable[str]) -> dict[str, Any]:
    skip = set(used)
    return {k: v for k, v in metrics.items() if k not in skip}


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
        metric = _metric_crs(grids, plan)
        geoms = metric.geometry.to_numpy()
        area, perim = shapely.area(geoms), shapely.length(geoms)
        pp = np.where(perim > 0, 4 * math.pi * area / np.maximum(perim, 1e-12) ** 2, 0.0)
        worst = int(np.argmin(pp))
        out["compactness"] = {
            "polsby_popper_mean": _r(pp.mean()),
            "polsby_popper_min": _r(pp.min()),
            "least_compact_grid": str(ids[worst]),
        }
    if "faces_merged" in metrics:
        out["faces_merged"] = metrics["faces_merged"]
    known = {
        "households_min",
        "households_max",
        "households_mean",
        "households_std",
        "share_within_10pct",
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
        cols = [c for c in ("role", "target_id", "reason") if c in vacancies.columns]
        vac_rows = _records(vacancies[cols].astype(str).sort_values(cols)) if cols else []
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
    used = {"status", "objective", "bound", "gap", *solver}
    return {
        "ran": True,
        "roles": {
            r: {"filled": int(filled.get(r, 0)), "vacant": int(vacant.get(r, 0))} for r in roles
        },
        "vacancies": vac_rows,
        "party_share": party,
        "solver": solver,
        "metrics": _rest(metrics, used),
        "flags": _flags(plan, "staffing") + _flags(plan, "assign"),
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
        for (tier, cat), (hh, hc) in _group_sums(
            rows, ["tier", "category"], ["households", "hh_covered"]
        ):
            by_tc.append(_tier_category_row(tier, cat, hh, hc))
        if (rows["grid_id"] != "").any():
            per_tier: dict[str, dict[str, float]] = {}
            for (gid, tier), (hh, hc) in _group_sums(
                rows, ["grid_id", "tier"], ["households", "hh_covered"]
            ):
                per_tier.setdefault(gid, {})[tier] = _r(hc / hh) if hh else 1.0
            for (gid,), (hh, hc) in _group_sums(rows, ["grid_id"], ["households", "hh_covered"]):
                tiers = dict(sorted(per_tier.get(gid, {}).items(), key=lambda kv: _minutes(kv[0])))
                by_grid.append(
                    {"grid_id": gid, "share": _r(hc / hh) if hh else 1.0, "by_tier": tiers}
                )
    elif summary is not None and {"level", "tier", "category"} <= set(summary.columns):
        s = summary[
            (summary["level"].astype(str) == "community") & (summary["category"].astype(str) != "*")
        ]
        for (tier, cat), (hh, hc) in _group_sums(
            s, ["tier", "category"], ["households", "households_covered"]
        ):
            by_tc.append(_tier_category_row(tier, cat, hh, hc))
        sg = summary[summary["level"].astype(str) == "grid"]
        id_col = "area_id" if "area_id" in summary.columns else "id"
        if len(sg) and id_col in sg.columns:
            sg = sg[sg["category"].astype(str) != "*"]
            for (gid,), (hh, hc) in _group_sums(sg, [id_col], ["households", "households_covered"]):
                by_grid.append({"grid_id": gid, "share": _r(hc / hh) if hh else 1.0, "by_tier": {}})
    by_tc.sort(key=lambda d: (_minutes(d["tier"]), d["category"]))
    by_grid.sort(key=lambda d: (d["share"], d["grid_id"]))
    return {
        "ran": True,
        "by_tier_category": by_tc,
        "by_grid": by_grid,
        "metrics": _rest(metrics, {"covered_share", "households"}),
        "flags": _flags(plan, "coverage"),
    }


def _minutes(tier: Any) -> int:
    digits = "".join(ch for ch in str(tier) if ch.isdigit())
    return int(digits) if digits else 0


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
        rows = [_clean(r) for r in _records(table.sort_values(sort))]
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
            for (old, new), (hh,) in _group_sums(m, ["old_grid_id", "new_grid_id"], ["households"])
        ]
    return out


def _find_sensitivity(plan: Plan) -> Any:
    meta = plan.metadata
    if meta.get("sensitivity"):
        return meta["sensitivity"]
    metrics = meta.get("metrics") or {}
    for stage in ("households", "partition", "dataset"):
        value = metrics.get(stage)
        if isinstance(value, dict) and value.get("sensitivity"):
            return value["sensitivity"]
    return None


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
        Keys ``gridplan_version``, ``seed``, ``summary``, ``quality``, ``units``, ``staffing``,
        ``coverage``, ``siting``, ``replan`` and, when the metadata has one, ``sensitivity``.
    """
    meta = plan.metadata
    report: dict[str, Any] = {
        "gridplan_version": meta.get("gridplan_version"),
        "seed": meta.get("seed"),
        "dataset": meta.get("dataset"),
        "summary": _summary(plan),
        "quality": _quality(plan),
        "units": _units(plan),
        "staffing": _staffing(plan),
        "coverage": _coverage(plan),
        "siting": _siting(plan),
    }
    report["replan"] = _replan(plan)
    sensitivity = _find_sensitivity(plan)
    if sensitivity is not None:
        report["sensitivity"] = sensitivity
    cleaned: dict[str, Any] = _clean(report)
    return cleaned


# --------------------------------------------------------------------------- Markdown


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1:
            return f"{int(value):,}"
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        shown = ", ".join(_fmt(v) for v in value[:12])
        return shown + (f", … ({len(value)})" if len(value) > 12 else "")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f} %"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += [
        "| " + " | ".join(v if isinstance(v, str) else _fmt(v) for v in row) + " |" for row in rows
    ]
    return [*out, ""]


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and len(out) < 200:
            out += _flatten(v, key + ".")
        else:
            out.append((key, v))
    return out


def _is_table(value: Any) -> bool:
    """A dict of dicts of plain values (rendered as a table)."""
    return (
        isinstance(value, dict)
        and len(value) > 1
        and all(
            isinstance(row, dict) and all(not isinstance(v, dict | list) for v in row.values())
            for row in value.values()
        )
    )


def _generic(d: dict[str, Any], lab: dict[str, str], *, limit: int = 60) -> list[str]:
    """Metrics no section shows by name: dicts of rows as tables, the rest as a list."""
    tables = {k: v for k, v in d.items() if _is_table(v)}
    items = _flatten({k: v for k, v in d.items() if k not in tables})
    if not items and not tables:
        return []
    lines = [f"{lab['other']}:", ""]
    lines += [f"- `{k}`: {_fmt(v)}" for k, v in items[:limit]]
    if len(items) > limit:
        lines.append(f"- … ({len(items) - limit})")
    if items:
        lines.append("")
    for key, rows in tables.items():
        cols = list(dict.fromkeys(c for row in rows.values() for c in row))[:10]
        lines += [f"`{key}`:", ""]
        lines += _table(
            ["", *[f"`{c}`" for c in cols]],
            [[f"`{name}`", *[row.get(c) for c in cols]] for name, row in rows.items()],
        )
    return lines


def _flag_lines(flags: list[str], lab: dict[str, str]) -> list[str]:
    if not flags:
        return [lab["no_flags"], ""]
    return [f"{lab['flags']}:", "", *[f"- {f}" for f in flags], ""]


def render_markdown(
    report: dict[str, Any],
    *,
    lang: str = "en",
    charts: list[str] | None = None,
    charts_note: str | None = None,
) -> str:
    """The Markdown text of a report built by :func:`build_report`.

    Parameters
    ----------
    report
        From :func:`build_report`.
    lang
        ``"en"`` or ``"zh"``.
    charts
        File names of charts to show, relative to the report.
    charts_note
        A sentence shown instead of charts (why there are none).
    """
    lab = REPORT_LABELS[check_lang(lang)]
    L: list[str] = [f"# {lab['title']}", ""]
    L += [
        lab["generated"].format(
            version=report.get("gridplan_version") or "?", seed=report.get("seed")
        ),
        "",
    ]

    s = report["summary"]
    L += [f"## {lab['summary']}", ""]
    rows = [
        [lab[k], s[k]]
        for k in (
            "communities",
            "buildings",
            "residential_buildings",
            "households",
            "households_estimated",
            "buildings_estimated",
            "population",
            "grids",
        )
        if k in s
    ]
    rows.append([lab["units_n"], s.get("units", 0)])
    L += _table([lab["figure"], lab["value"]], rows)

    q = report["quality"]
    L += [f"## {lab['quality']}", ""]
    if not q["ran"]:
        L += [lab["not_run"].format(command=q["command"]), ""]
    else:
        h = q["households"]
        rows = [
            [lab["target"].format(lo=h["min_allowed"], hi=h["max_allowed"]), h["target"]],
            [lab["hh_min"], h["min"]],
            [lab["hh_max"], h["max"]],
            [lab["hh_mean"], h["mean"]],
            [lab["hh_std"], h["std"]],
            [lab["within_10"], _pct(h["share_within_10pct"])],
            [lab["within_bounds"], _pct(h["share_within_bounds"])],
            [lab["below_min"], h["below_min"] or "–"],
            [lab["above_max"], h["above_max"] or "–"],
        ]
        if "compactness" in q:
            c = q["compactness"]
            rows += [
                [lab["compactness_mean"], c["polsby_popper_mean"]],
                [
                    lab["compactness_min"],
                    f"{_fmt(c['polsby_popper_min'])} ({c['least_compact_grid']})",
                ],
            ]
        if "faces_merged" in q:
            rows.append([lab["faces_merged"], q["faces_merged"]])
        L += _table([lab["figure"], lab["value"]], rows)
        L += _flag_lines(q["flags"], lab)
        L += _generic(q["metrics"], lab)

    u = report["units"]
    L += [f"## {lab['units']}", ""]
    if not u["ran"]:
        L += [lab["not_run"].format(command=u["command"]), ""]
    else:
        rows = [
            [lab["unit_count"], u["count"]],
            [
                lab["unit_range"].format(lo=u["min_allowed"], hi=u["max_allowed"]),
                _pct(u["share_in_range"]),
            ],
            [lab["unit_min"], u["households_min"]],
            [lab["unit_max"], u["households_max"]],
            [lab["unit_mean"], u["households_mean"]],
        ]
        L += _table([lab["figure"], lab["value"]], rows)
        dist = " · ".join(f"{k}: {v}" for k, v in u["size_distribution"].items())
        L += [f"{lab['size_distribution']}: {dist}", ""]
        L += _flag_lines(u["flags"], lab)
        L += _generic(u["metrics"], lab)

    st = report["staffing"]
    L += [f"## {lab['staffing']}", ""]
    if not st["ran"]:
        L += [lab["not_run"].format(command=st["command"]), ""]
    else:
        L += _table(
            [lab["role"], lab["filled"], lab["vacant"]],
            [[role_label(r, lang), v["filled"], v["vacant"]] for r, v in st["roles"].items()],
        )
        party = st["party_share"]
        L += [f"{lab['party_share']}: {lab['party_unknown'] if party is None else _pct(party)}", ""]
        if st["vacancies"]:
            shown = st["vacancies"][:VACANCIES_SHOWN]
            L += [f"### {lab['vacancies']} ({len(st['vacancies'])})", ""]
            L += _table(
                [lab["role"], lab["target_id"], lab["reason"]],
                [
                    [
                        role_label(v.get("role", ""), lang),
                        v.get("target_id", ""),
                        v.get("reason", ""),
                    ]
                    for v in shown
                ],
            )
            if len(st["vacancies"]) > len(shown):
                L += [lab["more_vacancies"].format(n=len(st["vacancies"]) - len(shown)), ""]
        L += _solver_lines(st["solver"], lab, "staffing")
        L += _flag_lines(st["flags"], lab)
        L += _generic(st["metrics"], lab)

    cv = report["coverage"]
    L += [f"## {lab['coverage']}", ""]
    if not cv["ran"]:
        L += [lab["not_run"].format(command=cv["command"]), ""]
    else:
        L += _table(
            [lab["tier"], lab["category"], lab["households"], lab["covered"], lab["share"]],
            [
                [
                    tier_label(r["tier"], lang),
                    category_label(r["category"], lang),
                    r["households"],
                    r["households_covered"],
                    _pct(r["share"]),
                ]
                for r in cv["by_tier_category"]
            ],
        )
        if cv["by_grid"]:
            tiers = sorted({t for g in cv["by_grid"] for t in g["by_tier"]}, key=_minutes)
            L += [f"### {lab['by_grid']}", ""]
            shown = cv["by_grid"][:WORST_GRIDS_SHOWN]
            L += _table(
                [lab["grid"], lab["all_checks"], *[tier_label(t, lang) for t in tiers]],
                [
                    [g["grid_id"], _pct(g["share"]), *[_pct(g["by_tier"].get(t)) for t in tiers]]
                    for g in shown
                ],
            )
            if len(cv["by_grid"]) > len(shown):
                L += [lab["more_grids"].format(n=len(cv["by_grid"]) - len(shown)), ""]
        L += _flag_lines(cv["flags"], lab)
        L += _generic(cv["metrics"], lab)

    si = report["siting"]
    L += [f"## {lab['siting']}", ""]
    if not si["ran"]:
        L += [lab["not_run"].format(command=si["command"]), ""]
    else:
        if si["sites"]:
            L += _table(
                [lab["site"], lab["category"], lab["tier"], lab["rank"], lab["newly_covered"]],
                [
                    [
                        r.get("site_id", ""),
                        category_label(str(r.get("category", "")), lang),
                        tier_label(str(r.get("tier", "")), lang) if r.get("tier") else "–",
                        r.get("rank"),
                        r.get("households_newly_covered"),
                    ]
                    for r in si["sites"]
                ],
            )
        else:
            L += [lab["no_sites"], ""]
        L += _solver_lines(si["solver"], lab, "siting")
        L += _flag_lines(si["flags"], lab)
        L += _generic(si["metrics"], lab)

    rp = report["replan"]
    L += [f"## {lab['replan']}", ""]
    if not rp["ran"]:
        L += [lab["not_replan"].format(command=rp["command"]), ""]
    else:
        L += _replan_lines({k: v for k, v in rp.items() if k not in ("ran", "flows")}, lab)
        if rp.get("flows"):
            L += [f"{lab['flows']}:", ""]
            L += _table(
                [lab["from_grid"], lab["to_grid"], lab["households"]],
                [[f["from"], f["to"], f["households"]] for f in rp["flows"][:30]],
            )

    if "sensitivity" in report:
        L += [f"## {lab['sensitivity']}", ""]
        sens = report["sensitivity"]
        if isinstance(sens, dict):
            L += _table([lab["figure"], lab["value"]], [[f"`{k}`", v] for k, v in _flatten(sens)])
        else:
            L += [_fmt(sens), ""]

    if charts or charts_note:
        L += [f"## {lab['charts']}", ""]
        L += [f"![{Path(c).stem}]({c})" for c in charts or []]
        if charts_note:
            L.append(charts_note)
        L.append("")
    return "\n".join(L).rstrip() + "\n"


def _solver_lines(solver: dict[str, dict[str, Any]], lab: dict[str, str], stage: str) -> list[str]:
    if not solver:
        return []
    rows = [
        [
            k if k != "_" else stage,
            v.get("status"),
            v.get("objective"),
            v.get("bound"),
            _pct(v["gap"]) if isinstance(v.get("gap"), int | float) else v.get("gap"),
        ]
        for k, v in solver.items()
    ]
    return [
        f"{lab['solver']}:",
        "",
        *_table([lab["problem"], lab["status"], lab["objective"], lab["bound"], lab["gap"]], rows),
    ]


def _replan_lines(rp: dict[str, Any], lab: dict[str, str]) -> list[str]:
    """Before/after pairs as a table (keys ``before``/``after`` or ``*_before``/``*_after``)."""
    lines: list[str] = []
    before, after = rp.get("before"), rp.get("after")
    if isinstance(before, dict) and isinstance(after, dict):
        keys = list(dict.fromkeys([*before, *after]))
        lines += _table(
            [lab["figure"], "before", "after"],
            [[f"`{k}`", before.get(k), after.get(k)] for k in keys],
        )
        rest = {k: v for k, v in rp.items() if k not in ("before", "after")}
    else:
        pairs = sorted({k[: -len("_before")] for k in rp if k.endswith("_before")})
        if pairs:
            lines += _table(
                [lab["figure"], "before", "after"],
                [[f"`{p}`", rp.get(f"{p}_before"), rp.get(f"{p}_after")] for p in pairs],
            )
        rest = {k: v for k, v in rp.items() if not (k.endswith("_before") or k.endswith("_after"))}
    lines += _table([lab["figure"], lab["value"]], [[f"`{k}`", v] for k, v in _flatten(rest)])
    return lines


# --------------------------------------------------------------------------- charts


def _cjk_font() -> Any:
    """A FontProperties for a Chinese font on this machine, or None (no global state touched)."""
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if entry.name in _CJK_FONTS:
            return font_manager.FontProperties(fname=entry.fname)
    hints = ("wqy", "notosanscjk", "notoserifcjk", "sourcehansans", "simhei", "msyh", "pingfang")
    for path in sorted(font_manager.findSystemFonts()):
        if any(h in Path(path).name.lower().replace("-", "") for h in hints):
            return font_manager.FontProperties(fname=path)
    return None


def _charts(report: dict[str, Any], plan: Plan, folder: Path, lang: str) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = _cjk_font() if lang == "zh" else None
    chart_lang = "zh" if font is not None else "en"  # Chinese labels only with a Chinese font
    lab = REPORT_LABELS[chart_lang]
    text_kw: dict[str, Any] = {"fontproperties": font} if font is not None else {}
    written: list[Path] = []

    grids = _nonempty(plan, "grids")
    q = report["quality"]
    if grids is not None and q.get("ran"):
        hh = _households(grids).to_numpy(dtype=float)
        h = q["households"]
        fig = Figure(figsize=(7, 4), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        bins = min(40, max(5, int(math.sqrt(len(hh))) * 2))
        ax.hist(hh, bins=bins, color="#4e79a7", edgecolor="white")
        for x, style, name in (
            (h["min_allowed"], "--", lab["min_line"]),
            (h["max_allowed"], "--", lab["max_line"]),
            (h["target"], "-", lab["target_line"]),
        ):
            ax.axvline(
                x,
                color="#e15759" if style == "--" else "#333",
                linestyle=style,
                label=f"{name} {x}",
            )
        ax.set_xlabel(lab["households"], **text_kw)
        ax.set_ylabel(lab["n_grids"], **text_kw)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(lab["chart_grids"], **text_kw)
        legend_font = font.copy() if font is not None else None
        if legend_font is not None:
            legend_font.set_size(8)
        ax.legend(prop=legend_font, fontsize=None if legend_font else 8)
        fig.tight_layout()
        path = folder / "households_per_grid.png"
        fig.savefig(path)
        written.append(path)
    cv = report["coverage"]
    if cv.get("ran") and cv["by_tier_category"]:
        rows = cv["by_tier_category"]
        fig = Figure(figsize=(7, 0.9 + 0.32 * len(rows)), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        tiers = sorted({r["tier"] for r in rows}, key=_minutes)
        palette = ["#1a9850", "#fdae61", "#4e79a7", "#b07aa1", "#9c755f"]
        names = [
            f"{category_label(r['category'], chart_lang)} ({tier_label(r['tier'], chart_lang)})"
            for r in rows
        ]
        shares = [100 * (r["share"] or 0.0) for r in rows]
        colors = [palette[tiers.index(r["tier"]) % len(palette)] for r in rows]
        y = np.arange(len(rows))[::-1]
        ax.barh(y, shares, color=colors)
        ax.set_yticks(y, names, fontsize=8)
        if font is not None:
            for tick in ax.get_yticklabels():
                tick.set_fontproperties(font)
                tick.set_fontsize(8)
        ax.set_xlim(0, 100)
        ax.set_xlabel(lab["share_axis"] + " (%)", **text_kw)
        ax.set_title(lab["chart_coverage"], **text_kw)
        for yy, sh in zip(y, shares, strict=True):
            ax.text(min(sh + 1, 90), yy, f"{sh:.0f}%", va="center", fontsize=7)
        fig.tight_layout()
        path = folder / "coverage_by_category.png"
        fig.savefig(path)
        written.append(path)
    return written


def write_report(plan: Plan, folder: str | Path, *, lang: str = "en") -> list[Path]:
    """Write ``report.md``, ``report.json`` and the PNG charts into ``folder``.

    Parameters
    ----------
    plan
        The plan.
    folder
        Where to write (created when missing).
    lang
        Language of ``report.md`` and the charts (``"en"`` or ``"zh"``); ``report.json`` keys
        are always English.

    Returns
    -------
    list of pathlib.Path
        ``report.md``, ``report.json`` and any charts written. Without matplotlib the charts
        are skipped, and the report says so.
    """
    check_lang(lang)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = build_report(plan)
    charts: list[Path] = []
    note: str | None = None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        note = REPORT_LABELS[lang]["no_charts"]
        logger.warning("matplotlib is not installed: report charts skipped")
    else:
        charts = _charts(report, plan, folder, lang)
    report["charts"] = [p.name for p in charts]
    md = folder / "report.md"
    md.write_text(
        render_markdown(report, lang=lang, charts=[p.name for p in charts], charts_note=note),
        encoding="utf-8",
    )
    js = folder / "report.json"
    js.write_text(
        json.dumps(report, ensure_ascii=False, indent=1, sort_keys=False) + "\n", encoding="utf-8"
    )
    return [md, js, *charts]
