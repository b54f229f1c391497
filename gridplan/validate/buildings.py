"""Checks of the buildings and communities layers: numeric attributes, household counts
and densities, uses, community membership, and overlapping community boundaries.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.settings import BUILDING_USES, Config
from gridplan.validate.common import _pairs, _Report, numeric_problems, unknown_values

#: Communities may share at most this much area (m²) before they count as overlapping.
MAX_OVERLAP_M2 = 1.0


def _floor_area_check(
    b: gpd.GeoDataFrame,
    metric: gpd.GeoDataFrame | None,
    hh: pd.Series,
    labels: pd.Series,
    cfg: Config,
    rep: _Report,
) -> None:
    cap = cfg.households.max_households_per_building
    over = hh > cap
    if over.any():
        rep.error(
            "buildings",
            f"absurd households (more than households.max_households_per_building = {cap})",
            _pairs(labels, over, hh, lambda lab, v: f"{lab}={int(v)}"),
            "correct the count (a typing slip?), split the building, or raise "
            "[households] max_households_per_building",
        )
    if metric is None or not len(metric):
        return
    poly = metric.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    idx = metric.index[poly.to_numpy()]
    if not len(idx):
        return
    geoms = metric.geometry[idx]
    invalid = ~geoms.is_valid
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = geoms[invalid].make_valid()
    area = geoms.area
    floors = pd.to_numeric(b.loc[idx, "floors"], errors="coerce") if "floors" in b else None
    height = pd.to_numeric(b.loc[idx, "height"], errors="coerce") if "height" in b else None
    # floor area = footprint × floors; floors from ``floors``, else ``height`` / floor height,
    # else ``households.assumed_max_floors``
    f = pd.Series(float(cfg.households.assumed_max_floors), index=idx)
    if height is not None:
        from_h = np.maximum(np.floor(height / cfg.households.floor_height_m + 0.5), 1.0)
        f = f.where(~(height > 0), from_h)
    if floors is not None:
        f = f.where(~(floors > 0), floors)
    capacity = area * f / cfg.households.min_floor_area_per_household_m2
    dense = (hh[idx] > capacity) & ~over[idx]
    if dense.any():
        items = [
            f"{lab}={int(n)} households on {a:.0f} m² × {fl:g} floors"
            for lab, n, a, fl in zip(
                labels[idx][dense].tolist(),
                hh[idx][dense].tolist(),
                area[dense].tolist(),
                f[dense].tolist(),
                strict=True,
            )
        ]
        rep.error(
            "buildings",
            "implausible household density (under "
            f"{cfg.households.min_floor_area_per_household_m2:g} m² of floor area per household)",
            items,
            "correct households or floors, or check that the footprint is the whole building",
        )


def check_buildings(
    b: pd.DataFrame,
    metric: gpd.GeoDataFrame | None,
    labels: pd.Series,
    cfg: Config,
    rep: _Report,
) -> None:
    for col, what in (
        ("floors", "the number of floors"),
        ("height", "the height in metres"),
        ("population", "the number of residents"),
        ("entrances", "the number of entrances (单元)"),
    ):
        if col in b.columns:
            numeric_problems(b, col, labels, "buildings", rep, integer=False, what=what)
    if "use" in b.columns:
        unknown_values(
            b["use"],
            BUILDING_USES,
            labels,
            rep,
            "buildings",
            "use",
            "set use to residential, mixed or non_residential, or leave it empty to infer",
        )
    if "households" not in b.columns:
        rep.warn(
            "buildings",
            "no households column: every building's households is estimated from footprint "
            "and floors",
            None,
            "add a households column where counts are known",
        )
        return
    hh = numeric_problems(
        b, "households", labels, "buildings", rep, integer=True, what="households"
    )
    missing = b["households"].isna() | (b["households"].astype(str).str.strip() == "")
    if missing.any():
        rep.warn(
            "buildings",
            "households missing, estimated from footprint × floors (flagged in the plan)",
            labels[missing],
            "give the counts where known",
        )
    _floor_area_check(b, metric, hh, labels, cfg, rep)
    if "use" in b.columns:
        use = b["use"].astype(str).str.strip().str.lower()
        lived_in = (use == "non_residential") & (hh > 0)
        if lived_in.any():
            rep.warn(
                "buildings",
                "non_residential buildings with households (their households are planned)",
                labels[lived_in],
                "mark them mixed if people live there, or blank their households",
            )
        res = use == "residential"
        zero = res & (hh == 0)
        if zero.any():
            rep.warn(
                "buildings",
                "residential buildings with 0 households",
                labels[zero],
                "give their households, or mark them non_residential if nobody lives there",
            )


def check_communities(
    c: pd.DataFrame, metric: gpd.GeoDataFrame | None, labels: pd.Series, rep: _Report
) -> None:
    for col, what in (
        ("households_total", "the community's household total"),
        ("population_total", "the community's population"),
    ):
        if col in c.columns:
            numeric_problems(
                c, col, labels, "communities", rep, integer=col == "households_total", what=what
            )
    if metric is None or len(metric) < 2:
        return
    geoms = np.asarray(metric.geometry.values)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    pairs = []
    for i, j in zip(left[keep], right[keep], strict=True):
        area = shapely.area(shapely.intersection(geoms[i], geoms[j]))
        if area > MAX_OVERLAP_M2:
            a, b = labels[metric.index[i]], labels[metric.index[j]]
            pairs.append(f"{a}/{b} ({area:.0f} m²)")
    if pairs:
        rep.error(
            "communities",
            "overlapping communities",
            pairs,
            "make the boundaries meet without overlapping (snap shared edges), so that every "
            "building belongs to one community",
        )


def check_building_communities(
    b: pd.DataFrame,
    bmetric: gpd.GeoDataFrame | None,
    c: pd.DataFrame | None,
    cmetric: gpd.GeoDataFrame | None,
    labels: pd.Series,
    rep: _Report,
) -> None:
    has_cid = "community_id" in b.columns and b["community_id"].notna().any()
    if c is None:
        if has_cid and b["community_id"].dropna().nunique() > 1:
            rep.warn(
                "buildings",
                "community_id given but there is no communities layer: all buildings are "
                "planned as one community C01",
                None,
                "add a communities layer (community_id + boundary polygon)",
            )
        return
    if has_cid and "community_id" in c.columns:
        known = set(c["community_id"].dropna().astype(str))
        cid = b["community_id"]
        unknown = cid.notna() & ~cid.astype(str).isin(known)
        if unknown.any():
            rep.error(
                "buildings",
                "community_id not found in communities",
                _pairs(labels, unknown, cid, lambda lab, v: f"{lab}={v}"),
                "add those communities (id + boundary) or correct the buildings' community_id",
            )
    if bmetric is None or cmetric is None or not len(bmetric) or not len(cmetric):
        return
    tree = shapely.STRtree(np.asarray(cmetric.geometry.values))
    hits = tree.query(np.asarray(bmetric.geometry.values), predicate="intersects")
    inside = np.zeros(len(bmetric), dtype=bool)
    inside[hits[0]] = True
    if not inside.all():
        rep.error(
            "buildings",
            "outside every community",
            labels[bmetric.index[~inside]],
            "extend the community boundaries to cover these buildings, or delete buildings that "
            "belong to another area",
        )


def check_overrides(
    o: pd.DataFrame, building_ids: set[str] | None, labels: pd.Series, rep: _Report
) -> None:
    """A planner's corrections: known buildings, known uses, plausible household counts."""
    if "building_id" in o.columns and building_ids is not None:
        bid = o["building_id"]
        unknown = bid.notna() & ~bid.astype(str).isin(building_ids)
        if unknown.any():
            rep.error(
                "overrides",
                "building_id found in no building",
                labels[unknown],
                "correct the ids (they are the buildings layer's building_id) or delete those "
                "rows of the overrides",
            )
    if "use" in o.columns:
        unknown_values(
            o["use"],
            BUILDING_USES,
            labels,
            rep,
            "overrides",
            "use",
            "set use to residential, mixed or non_residential, or leave it empty",
        )
    if "households" in o.columns:
        numeric_problems(o, "households", labels, "overrides", rep, integer=True, what="households")
    has_use = o["use"].notna() if "use" in o.columns else pd.Series(False, index=o.index)
    has_hh = (
        pd.to_numeric(o["households"], errors="coerce").notna()
        if "households" in o.columns
        else pd.Series(False, index=o.index)
    )
    empty = ~has_use & ~has_hh
    if empty.any():
        rep.warn(
            "overrides",
            "rows setting neither use nor households (ignored)",
            labels[empty],
            "give a use (residential, mixed, non_residential) and/or households",
        )
