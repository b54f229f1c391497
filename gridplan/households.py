"""Household estimation for buildings without counts, and calibration to community totals.

Planners often hold building footprints with floors or height but no household counts. For
each building whose ``households`` is missing:

1. **Use.** The ``use`` column when given; otherwise inferred from the footprint: 30–5 000 m²
   is ``residential``, smaller (sheds, kiosks, toilets) and larger (factories, malls) are
   ``non_residential``. A building with a given positive household count is ``residential``.
2. **Floors.** ``floors``; else ``height / floor_height_m`` (rounded, at least 1); else 1.
3. **Households.** ``round(footprint × floors × share / dwelling_size_m2)`` with share 1 for
   residential, ``mixed_residential_share`` for mixed and 0 for non-residential buildings.
4. **Calibration.** Where a community gives ``households_total``, the *estimated* buildings of
   that community are scaled so that given + estimated counts add up to the total exactly
   (largest-remainder rounding); given counts are never changed.

Point buildings have no footprint: they are estimated from a ``footprint_m2`` column when
present, else 0 households (still flagged as estimated).

Example
-------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> b = gpd.GeoDataFrame(
...     {"building_id": ["a", "b"], "households": [None, 12], "floors": [6, None]},
...     geometry=[box(0, 0, 30, 15), box(40, 0, 50, 10)], crs="EPSG:32648")
>>> out = estimate_households(b)
>>> out["households"].tolist(), out["households_estimated"].tolist()
([30, 12], [True, False])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridplan._errors import DataError
from gridplan.settings import DEFAULT, Config

__all__ = [
    "estimate_households",
    "household_sensitivity",
    "largest_remainder",
]

logger = logging.getLogger(__name__)


def largest_remainder(values: Sequence[float] | np.ndarray, total: int) -> np.ndarray:
    """Round non-negative ``values`` to integers summing exactly to ``total``.

    Each value gets its floor after scaling to ``total``; the units still missing go to the
    largest fractional parts (ties to the earlier position, so the result is deterministic).

    Parameters
    ----------
    values
        Non-negative weights, at least one positive when ``total > 0``.
    total
        The exact sum wanted (≥ 0).

    Returns
    -------
    numpy.ndarray
        int64 array of ``len(values)``.
    """
    v = np.asarray(values, dtype=np.float64)
    if total < 0:
        msg = f"largest_remainder needs a total of 0 or more, got {total}"
        raise ValueError(msg)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    s = float(v.sum())
    if s <= 0:
        if total == 0:
            return np.zeros(v.size, dtype=np.int64)
        msg = "largest_remainder needs a positive weight to distribute a positive total"
        raise ValueError(msg)
    scaled = v / s * total
    base = np.floor(scaled).astype(np.int64)
    missing = int(total - base.sum())
    if missing > 0:
        frac = scaled - base
        order = np.lexsort((np.arange(v.size), -frac))
        base[order[:missing]] += 1
    return base


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.to_numeric(frame[column], errors="coerce").astype("float64")


def _footprint(buildings: gpd.GeoDataFrame) -> pd.Series:
    geom = buildings.geometry
    area = pd.Series(np.asarray(geom.area, dtype=np.float64), index=buildings.index)
    area = area.where(geom.notna(), np.nan)
    if "footprint_m2" in buildings.columns:
        given = _numeric(buildings, "footprint_m2")
        area = area.where(area > 0, given)
    return area.fillna(0.0)


def _infer_use(buildings: gpd.GeoDataFrame, footprint: pd.Series, cfg: Config) -> pd.Series:
    if "use" in buildings.columns:
        use = buildings["use"].astype("object").where(buildings["use"].notna(), None)
    else:
        use = pd.Series(None, index=buildings.index, dtype="object")
    given_hh = _numeric(buildings, "households")
    by_size = np.where(
        (footprint >= cfg.households.min_residential_footprint_m2)
        & (footprint <= cfg.households.max_residential_footprint_m2),
        "residential",
        "non_residential",
    )
    inferred = np.where(given_hh > 0, "residential", by_size)
    missing = use.isna()
    out = use.copy()
    out[missing] = inferred[missing.to_numpy()]
    return out.astype("object")


def _floors(buildings: gpd.GeoDataFrame, floor_height_m: float) -> pd.Series:
    floors = _numeric(buildings, "floors")
    height = _numeric(buildings, "height")
    from_height = np.maximum(np.floor(height / floor_height_m + 0.5), 1.0)
    floors = floors.where(floors > 0, from_height.where(height > 0))
    return floors.fillna(1.0)


def _raw_estimates(
    buildings: gpd.GeoDataFrame, config: Config, dwelling_size_m2: float
) -> tuple[pd.Series, pd.Series]:
    """Unrounded household estimates for every row, and the (filled) use column."""
    hs = config.households
    footprint = _footprint(buildings)
    use = _infer_use(buildings, footprint, config)
    floors = _floors(buildings, hs.floor_height_m)
    share = use.map(
        {"residential": 1.0, "mixed": hs.mixed_residential_share, "non_residential": 0.0}
    ).astype("float64")
    share = share.fillna(0.0)
    raw = footprint * floors * share / dwelling_size_m2
    return raw.astype("float64"), use


def _community_of(buildings: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None) -> pd.Series:
    if "community_id" in buildings.columns:
        cid = buildings["community_id"].astype("object")
    else:
        cid = pd.Series(None, index=buildings.index, dtype="object")
    if communities is None or cid.notna().all() or "community_id" not in communities.columns:
        return cid
    todo = buildings.loc[cid.isna()]
    pts = gpd.GeoDataFrame(
        geometry=todo.geometry.representative_point(), index=todo.index, crs=buildings.crs
    )
    comm = communities[["community_id", "geometry"]].to_crs(buildings.crs)
    joined = gpd.sjoin(pts, comm, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    cid = cid.copy()
    cid.loc[joined.index] = joined["community_id"].astype("object")
    return cid


def _calibrate(
    est: pd.Series,
    given: pd.Series,
    estimated: pd.Series,
    community: pd.Series,
    communities: gpd.GeoDataFrame,
) -> pd.Series:
    """Scale estimated rows per community to ``households_total``; rounded households."""
    out = np.floor(est + 0.5)
    if "households_total" not in communities.columns:
        return out
    totals = pd.to_numeric(communities["households_total"], errors="coerce")
    for cid, total in zip(communities["community_id"], totals, strict=True):
        if pd.isna(total):
            continue
        in_comm = community == cid
        est_rows = in_comm & estimated
        if not est_rows.any():
            continue
        given_sum = int(given[in_comm & ~estimated].sum())
        target = int(total) - given_sum
        weights = est[est_rows].to_numpy()
        if target < 0:
            logger.info(
                "communities: %s gives households_total %d but its buildings with given counts "
                "already hold %d; its estimated buildings get 0 households",
                cid,
                int(total),
                given_sum,
            )
            target = 0
        if weights.sum() <= 0:
            if target > 0:
                logger.info(
                    "communities: %s needs %d more households but none of its buildings "
                    "without counts looks residential; the total cannot be matched",
                    cid,
                    target,
                )
            continue
        out[est_rows] = largest_remainder(weights, target)
    return out


def estimate_households(
    buildings: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    dwelling_size_m2: float | None = None,
) -> gpd.GeoDataFrame:
    """Fill missing household counts from footprint × floors, calibrated to community totals.

    Parameters
    ----------
    buildings
        Buildings in a metric CRS. ``households`` may be missing (column or values); rows with
        ``households_estimated`` True are re-estimated (so a prepared layer can be re-run).
        Optional columns used: ``use``, ``floors``, ``height``, ``community_id``,
        ``footprint_m2`` (point buildings).
    communities
        Community polygons with ``community_id`` and optionally ``households_total``; buildings
        without ``community_id`` are placed in the community containing them.
    config
        Settings (``config.households``); ``None`` for the defaults.
    dwelling_size_m2
        Overrides ``config.households.dwelling_size_m2`` (used by
        :func:`household_sensitivity`).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``households`` (int64, filled), ``households_estimated`` (bool) and ``use``
        (filled where it was missing).

    Raises
    ------
    DataError
        The buildings are in a geographic CRS (areas would be in square degrees).
    """
    cfg = config if config is not None else DEFAULT
    if buildings.crs is not None and buildings.crs.is_geographic:
        msg = (
            "buildings: household estimation needs a metric CRS, got "
            f"{buildings.crs.to_string()}; reproject first (gridplan.io.prepare_dataset does)"
        )
        raise DataError(msg)
    size = float(
        dwelling_size_m2 if dwelling_size_m2 is not None else cfg.households.dwelling_size_m2
    )
    if size <= 0:
        msg = f"dwelling size must be positive, got {size}"
        raise ValueError(msg)
    out = buildings.copy()
    given = _numeric(out, "households")
    estimated = given.isna()
    if "households_estimated" in out.columns:
        estimated |= out["households_estimated"].fillna(False).astype(bool)
    raw, use = _raw_estimates(out, cfg, size)
    est = raw.where(estimated, 0.0)
    if communities is not None and len(communities) and "community_id" in communities.columns:
        community = _community_of(out, communities)
        rounded = _calibrate(est, given.fillna(0.0), estimated, community, communities)
    else:
        rounded = np.floor(est + 0.5)
    hh = given.where(~estimated, rounded).fillna(0.0)
    out["households"] = np.floor(hh.to_numpy() + 0.5).astype(np.int64)
    out["households_estimated"] = estimated.to_numpy(dtype=bool)
    out["use"] = use.to_numpy()
    n = int(estimated.sum())
    if n:
        logger.info(
            "buildings: estimated households for %d of %d buildings (%d households)",
            n,
            len(out),
            int(out.loc[estimated.to_numpy(), "households"].sum()),
        )
    return out


def household_sensitivity(
    buildings: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    factors: Sequence[float] = (0.8, 1.0, 1.2),
) -> dict[float, int]:
    """Total households when the dwelling size is scaled by each factor.

    Only buildings whose households are missing (or flagged ``households_estimated``) change;
    calibration to community totals is applied only when ``communities`` is given (it pins the
    totals of calibrated communities, so leave it out to see the raw uncertainty).

    Parameters
    ----------
    buildings
        As for :func:`estimate_households`.
    communities
        Optional communities for calibration.
    config
        Settings; ``None`` for the defaults.
    factors
        Multipliers of ``dwelling_size_m2`` (0.8 means dwellings 20 % smaller, hence more
        households).

    Returns
    -------
    dict
        factor -> total households (given plus estimated) over all buildings.
    """
    cfg = config if config is not None else DEFAULT
    base = cfg.households.dwelling_size_m2
    result: dict[float, int] = {}
    for factor in factors:
        if factor <= 0:
            msg = f"sensitivity factors must be positive, got {factor}"
            raise ValueError(msg)
        est = estimate_households(
            buildings, communities=communities, config=cfg, dwelling_size_m2=base * factor
        )
        result[float(factor)] = int(est["households"].sum())
    return result


def grid_household_sensitivity(
    buildings: gpd.GeoDataFrame,
    *,
    config: Config | None = None,
    factors: Sequence[float] = (0.8, 1.2),
) -> dict[str, Any]:
    """How the planned grids' households move if the dwelling size is off by each factor.

    The grids are kept as planned (``buildings.grid_id``); only the estimated counts change.
    A planner reads it as: "if dwellings are 20 % smaller than assumed, grids would hold
    between X and Y households".

    Parameters
    ----------
    buildings
        Planned buildings: ``grid_id``, ``households``, ``households_estimated``, geometry.
    config
        Settings (``households.dwelling_size_m2``, ``grids`` bounds).
    factors
        Multipliers of the dwelling size.

    Returns
    -------
    dict
        ``{"dwelling_size_m2", "buildings_estimated", "households_estimated",
        "scenarios": {"×0.8": {...}, ...}}``, each scenario with the dwelling size, total
        households, and households per grid (min, mean, max, share of grids within bounds).
        Empty when no household was estimated.
    """
    cfg = config if config is not None else DEFAULT
    flagged = buildings["households_estimated"].astype(bool)
    if not flagged.any():
        return {}
    base = cfg.households.dwelling_size_m2
    lo, hi = cfg.grids.min_households, cfg.grids.max_households
    grid = buildings["grid_id"].astype(str)
    out: dict[str, Any] = {
        "dwelling_size_m2": base,
        "buildings_estimated": int(flagged.sum()),
        "households_estimated": int(buildings.loc[flagged, "households"].sum()),
        "scenarios": {},
    }
    for factor in (1.0, *factors):
        est = estimate_households(buildings, config=cfg, dwelling_size_m2=base * factor)
        per_grid = est["households"].groupby(grid.to_numpy()).sum()
        out["scenarios"][f"×{factor:g}"] = {
            "dwelling_size_m2": round(base * factor, 1),
            "households": int(est["households"].sum()),
            "grid_households_min": int(per_grid.min()),
            "grid_households_mean": round(float(per_grid.mean()), 1),
            "grid_households_max": int(per_grid.max()),
            "grids_within_bounds": round(float(per_grid.between(lo, hi).mean()), 3),
        }
    return out
