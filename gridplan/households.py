"""Household estimation for buildings without counts, and calibration to community totals.

Planners often hold building footprints with floors or height but no household counts. For
each building whose ``households`` is missing:

1. **Use.** A planner's ``overrides`` first, then the ``use`` column when given; otherwise
   inferred from every piece of evidence the dataset carries (OSM ``building`` tag, name,
   landuse, POIs, height, footprint, plate depth): :func:`gridplan.uses.infer_uses`, which
   records ``use_source``, ``use_reason`` and ``use_confidence`` per building.
2. **Floors.** ``floors``; else ``height / floor_height_m`` (rounded, at least 1); else 1.
3. **Households.** ``round(footprint × floors × share / dwelling_size_m2)`` with share 1 for
   residential, ``mixed_residential_share`` for mixed and 0 for non-residential buildings.
4. **Calibration.** Where a community gives ``households_total``, the *estimated* buildings of
   that community are scaled so that given + estimated counts add up to the total exactly
   (largest-remainder rounding); given counts are never changed. ``households_uncalibrated``
   keeps each estimate before scaling. Calibration does not hide change: when the given
   counts hold more than ``max_given_share`` of the total, or the estimates are scaled by more
   than ``max_calibration_factor`` either way, a warning names the community, the factor and
   the buildings affected (:func:`calibration_summary`: the total looks stale).

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
from gridplan._text import format_ids
from gridplan.settings import DEFAULT, Config
from gridplan.uses import infer_uses

__all__ = [
    "apply_overrides",
    "calibration_summary",
    "calibration_warnings",
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


def _floors(buildings: gpd.GeoDataFrame, floor_height_m: float) -> pd.Series:
    floors = _numeric(buildings, "floors")
    height = _numeric(buildings, "height")
    from_height = np.maximum(np.floor(height / floor_height_m + 0.5), 1.0)
    floors = floors.where(floors > 0, from_height.where(height > 0))
    return floors.fillna(1.0)


def _raw_estimates(
    buildings: gpd.GeoDataFrame,
    config: Config,
    dwelling_size_m2: float,
    uses: pd.DataFrame,
) -> pd.Series:
    """Unrounded household estimates for every row, given the decided uses."""
    hs = config.households
    footprint = _footprint(buildings)
    use = uses["use"]
    floors = _floors(buildings, hs.floor_height_m)
    share = use.map(
        {"residential": 1.0, "mixed": hs.mixed_residential_share, "non_residential": 0.0}
    ).astype("float64")
    share = share.fillna(0.0)
    raw = footprint * floors * share / dwelling_size_m2
    return raw.astype("float64")


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
        target = max(int(total) - given_sum, 0)
        weights = est[est_rows].to_numpy()
        if weights.sum() <= 0:
            continue
        out[est_rows] = largest_remainder(weights, target)
    return out


def apply_overrides(
    buildings: pd.DataFrame, overrides: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Apply a planner's corrections: ``use`` and/or ``households`` per ``building_id``.

    An override wins over every estimate: its ``use`` replaces the building's, its
    ``households`` becomes a given count (not estimated, never calibrated). Blank cells leave
    that column as it was. The rows touched get ``use_source = "override"`` and a
    ``use_reason`` saying what was set.

    Parameters
    ----------
    buildings
        Buildings with ``building_id``.
    overrides
        ``building_id`` and optional ``use`` (residential, mixed, non_residential) and
        ``households``; ``None`` or empty for none.

    Returns
    -------
    tuple
        ``(buildings, applied, unknown)``: a copy with the overrides applied, the building
        ids overridden, and the override ids found in no building (left out).
    """
    out = buildings.copy()
    if overrides is None or not len(overrides) or "building_id" not in overrides.columns:
        return out, [], []
    ov = overrides.copy()
    ov["building_id"] = ov["building_id"].astype(str)
    ov = ov.drop_duplicates("building_id", keep="last").set_index("building_id")
    ids = out["building_id"].astype(str)
    known = ov.index.isin(set(ids))
    unknown = sorted(ov.index[~known].tolist())
    ov = ov[known]
    if not len(ov):
        return out, [], unknown
    hit = ids.isin(ov.index).to_numpy()
    row_ids = ids[hit]
    for col in ("use", "use_source", "use_reason", "households"):
        if col not in out.columns:
            out[col] = pd.Series(np.nan if col == "households" else None, index=out.index)
        if col != "households":
            out[col] = out[col].astype(object)
    if "households_estimated" in out.columns:
        out["households_estimated"] = out["households_estimated"].astype("boolean")
    reasons = []
    for idx, bid in zip(out.index[hit], row_ids, strict=True):
        row = ov.loc[bid]
        said = []
        use = row.get("use") if "use" in ov.columns else None
        if use is not None and not (isinstance(use, float) and np.isnan(use)) and str(use).strip():
            out.at[idx, "use"] = str(use).strip().lower()
            said.append(f"use={str(use).strip().lower()}")
        hh = (
            pd.to_numeric(pd.Series([row.get("households")]), errors="coerce").iloc[0]
            if "households" in ov.columns
            else np.nan
        )
        if pd.notna(hh):
            out.at[idx, "households"] = float(hh)
            if "households_estimated" in out.columns:
                out.at[idx, "households_estimated"] = False
            said.append(f"households={int(hh)}")
        reasons.append(f"override: {', '.join(said) if said else 'nothing set'}")
    out.loc[hit, "use_source"] = "override"
    out.loc[hit, "use_reason"] = reasons
    return out, sorted(row_ids.tolist()), unknown


def calibration_summary(
    buildings: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame | None,
    *,
    config: Config | None = None,
) -> pd.DataFrame:
    """Per community: the estimate before and after calibration, and whether it looks stale.

    Parameters
    ----------
    buildings
        Buildings as :func:`estimate_households` returns them (``community_id``,
        ``households``, ``households_estimated``, ``households_uncalibrated``).
    communities
        Communities with ``community_id`` and ``households_total``.
    config
        Settings (``households.max_calibration_factor``, ``max_given_share``).

    Returns
    -------
    pandas.DataFrame
        One row per community with a ``households_total``: ``community_id``,
        ``households_total``, ``given`` (households of buildings with counts),
        ``estimated_before``, ``estimated_after``, ``factor`` (after / before; NaN when
        nothing was estimated), ``status`` (``ok``; ``stale_total``: the given counts hold
        ``max_given_share`` of the total or more and the estimates are scaled down;
        ``scaled_up``/``scaled_down``: the factor is beyond ``max_calibration_factor``;
        ``unmatched``: the total cannot be met), ``buildings_affected`` (estimated buildings
        whose count calibration changed) and ``affected_ids`` (their ids, ``;``-list).
    """
    cfg = config if config is not None else DEFAULT
    cols = [
        "community_id",
        "households_total",
        "given",
        "estimated_before",
        "estimated_after",
        "factor",
        "status",
        "buildings_affected",
        "affected_ids",
    ]
    if (
        communities is None
        or not len(communities)
        or "households_total" not in communities.columns
        or "community_id" not in buildings.columns
    ):
        return pd.DataFrame(columns=cols)
    f = cfg.households.max_calibration_factor
    share = cfg.households.max_given_share
    est = buildings["households_estimated"].fillna(False).astype(bool).to_numpy()
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    raw = (
        pd.to_numeric(buildings["households_uncalibrated"], errors="coerce").fillna(0).to_numpy()
        if "households_uncalibrated" in buildings.columns
        else hh
    )
    cid = buildings["community_id"].astype(object).to_numpy()
    ids = buildings["building_id"].astype(str).to_numpy()
    rows = []
    totals = pd.to_numeric(communities["households_total"], errors="coerce")
    for c, total in zip(communities["community_id"], totals, strict=True):
        if pd.isna(total):
            continue
        inside = cid == c
        given = int(hh[inside & ~est].sum())
        before = int(raw[inside & est].sum())
        after = int(hh[inside & est].sum())
        changed = inside & est & (hh != raw)
        factor = after / before if before > 0 else float("nan")
        if before > 0 and given >= share * float(total) and after < before:
            status = "stale_total"
        elif before > 0 and factor > f:
            status = "scaled_up"
        elif before > 0 and factor < 1.0 / f:
            status = "scaled_down"
        elif given + after != int(total):
            status = "unmatched"
        else:
            status = "ok"
        rows.append(
            [
                c,
                int(total),
                given,
                before,
                after,
                round(factor, 3) if before > 0 else float("nan"),
                status,
                int(changed.sum()),
                ";".join(sorted(ids[changed].tolist())),
            ]
        )
    return pd.DataFrame(rows, columns=cols)


def calibration_warnings(summary: pd.DataFrame, *, config: Config | None = None) -> list[str]:
    """One sentence per community whose calibration hides change (``status`` not ``ok``).

    Each names the community, the factor and the buildings affected, and the fix.
    """
    cfg = config if config is not None else DEFAULT
    f = cfg.households.max_calibration_factor
    out = []
    for r in summary.itertuples(index=False):
        status = str(r.status)
        if status in ("ok", "unmatched"):
            continue
        ids = str(r.affected_ids) if isinstance(r.affected_ids, str) else ""
        affected = ids.split(";") if ids else []
        what = {
            "stale_total": (
                f"its buildings with given counts hold {r.given} of its households_total "
                f"{r.households_total}"
            ),
            "scaled_up": f"calibration scales the estimates up by {r.factor:g} (more than {f:g}×)",
            "scaled_down": (
                f"calibration scales the estimates down by {r.factor:g} (below 1/{f:g})"
            ),
        }[status]
        out.append(
            f"communities: {r.community_id}: {what}, so its {r.estimated_before} estimated "
            f"households become {r.estimated_after} (factor {r.factor:g}; "
            f"{r.buildings_affected} building(s) changed: {format_ids(affected)}). "
            "The households_total looks stale. Fix: update households_total, or give the "
            "buildings' counts (an overrides file), or check the estimates"
        )
    return out


def estimate_households(
    buildings: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    dwelling_size_m2: float | None = None,
    landuse: gpd.GeoDataFrame | None = None,
    pois: gpd.GeoDataFrame | None = None,
    overrides: pd.DataFrame | None = None,
    warn: bool = True,
) -> gpd.GeoDataFrame:
    """Fill missing household counts from footprint × floors, calibrated to community totals.

    Parameters
    ----------
    buildings
        Buildings in a metric CRS. ``households`` may be missing (column or values); rows with
        ``households_estimated`` True are re-estimated (so a prepared layer can be re-run).
        Optional columns used: ``use``, ``floors``, ``height``, ``community_id``,
        ``footprint_m2`` (point buildings), ``building`` (OSM tag), ``name``.
    communities
        Community polygons with ``community_id`` and optionally ``households_total``; buildings
        without ``community_id`` are placed in the community containing them.
    config
        Settings (``config.households``); ``None`` for the defaults.
    dwelling_size_m2
        Overrides ``config.households.dwelling_size_m2`` (used by
        :func:`household_sensitivity`).
    landuse, pois
        Evidence for the use of buildings without one (:func:`gridplan.uses.infer_uses`).
    overrides
        A planner's corrections (:func:`apply_overrides`): they win over every estimate.
        Unknown ids are logged as a warning and left out (validation reports them first).
    warn
        Log the calibration warnings (:func:`calibration_warnings`). A caller that keeps them
        itself (:func:`gridplan.io.prepare_dataset` puts them in the dataset's warnings, which
        the command line prints) passes ``False``, so that each is said once.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``households`` (int64, filled), ``households_estimated`` (bool),
        ``households_uncalibrated`` (int64: the estimate before calibration; the given count
        where given), ``use`` (filled where it was missing), ``use_source``, ``use_reason``
        and ``use_confidence``.

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
    applied: list[str] = []
    if overrides is not None and len(overrides):
        applied_df, applied, unknown = apply_overrides(out, overrides)
        out = gpd.GeoDataFrame(applied_df, geometry=out.geometry.name, crs=out.crs)
        if unknown:
            logger.warning(
                "overrides: %d building id(s) not in buildings, not applied: %s",
                len(unknown),
                format_ids(unknown),
            )
        logger.info("overrides: applied to %d building(s)", len(applied))
    given = _numeric(out, "households")
    estimated = given.isna()
    if "households_estimated" in out.columns:
        estimated |= out["households_estimated"].fillna(False).astype(bool)
    probe = out.copy()
    probe["households"] = given.where(~estimated)
    uses = infer_uses(probe, landuse=landuse, pois=pois, config=cfg)
    raw = _raw_estimates(out, cfg, size, uses)
    est = raw.where(estimated, 0.0)
    community: pd.Series | None = None
    if communities is not None and len(communities) and "community_id" in communities.columns:
        community = _community_of(out, communities)
        rounded = _calibrate(est, given.fillna(0.0), estimated, community, communities)
    else:
        rounded = np.floor(est + 0.5)
    hh = given.where(~estimated, rounded).fillna(0.0)
    out["households"] = np.floor(hh.to_numpy() + 0.5).astype(np.int64)
    out["households_estimated"] = estimated.to_numpy(dtype=bool)
    uncal = given.where(~estimated, np.floor(est + 0.5)).fillna(0.0)
    out["households_uncalibrated"] = np.floor(uncal.to_numpy() + 0.5).astype(np.int64)
    if applied:
        # a use set by the planner is kept as given; a count alone leaves the use inferred,
        # and the reason says both
        hit = out["building_id"].astype(str).isin(applied).to_numpy()
        said = out.loc[hit, "use_reason"].astype(str).to_numpy()
        inferred = uses.loc[hit, "use_reason"].astype(str).to_numpy()
        setuse = np.array(["use=" in t for t in said])
        uses.loc[hit, "use_reason"] = np.where(
            setuse, said, [f"{a}; use: {b}" for a, b in zip(said, inferred, strict=True)]
        )
        uses.loc[hit, "use_source"] = "override"
        uses.loc[hit, "use_confidence"] = "high"
    for col in uses.columns:
        out[col] = uses[col].to_numpy()
    n = int(estimated.sum())
    if n:
        logger.info(
            "buildings: estimated households for %d of %d buildings (%d households)",
            n,
            len(out),
            int(out.loc[estimated.to_numpy(), "households"].sum()),
        )
    if warn and community is not None and communities is not None:
        placed = out.assign(community_id=community.to_numpy())
        summary = calibration_summary(placed, communities, config=cfg)
        for line in calibration_warnings(summary, config=cfg):
            logger.warning("%s", line)
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
            buildings,
            communities=communities,
            config=cfg,
            dwelling_size_m2=base * factor,
            warn=False,  # a what-if: the warnings are those of the plan's own estimate
        )
        result[float(factor)] = int(est["households"].sum())
    return result


def grid_household_sensitivity(
    buildings: gpd.GeoDataFrame,
    *,
    config: Config | None = None,
    factors: Sequence[float] = (0.8, 1.2),
    grids: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """How the planned grids' households move if the dwelling size is off by each factor.

    The grids are kept as planned (``buildings.grid_id``); only the estimated counts change.
    A planner reads it as: "if dwellings are 20 % smaller than assumed, grids would hold
    between X and Y households".

    The ``×1`` scenario is the plan itself. The plan's estimates were calibrated to the
    communities' ``households_total`` where given; each scenario scales every estimated
    building's planned count as its raw estimate (footprint × floors ÷ dwelling size) scales,
    so the calibration is kept and only the dwelling size changes.

    Parameters
    ----------
    buildings
        Planned buildings: ``grid_id``, ``households``, ``households_estimated``, geometry.
    config
        Settings (``households.dwelling_size_m2``, ``grids`` bounds).
    factors
        Multipliers of the dwelling size.
    grids
        The planned grids (``grid_id``, ``households``): the scenarios start from their
        households (a building split over grids counts in each); ``None`` to sum
        ``buildings`` by ``grid_id``.

    Returns
    -------
    dict
        ``{"dwelling_size_m2", "buildings_estimated", "households_estimated",
        "scenarios": {"×1": {...}, "×0.8": {...}, ...}}``, each scenario with the dwelling
        size, total households, and households per grid (min, mean, max, share of grids
        within bounds). Empty when no household was estimated.
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
    planned = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
    if grids is not None and len(grids):
        start = pd.Series(
            pd.to_numeric(grids["households"], errors="coerce").fillna(0).to_numpy(float),
            index=grids["grid_id"].astype(str).to_numpy(),
        )
    else:
        start = pd.Series(planned, index=grid.to_numpy()).groupby(level=0).sum()
    raw1: np.ndarray | None = None
    for factor in (1.0, *factors):
        est = estimate_households(buildings, config=cfg, dwelling_size_m2=base * factor)
        raw = est["households_uncalibrated"].to_numpy(dtype=float)
        if raw1 is None:
            raw1 = raw
        ratio = np.divide(raw, raw1, out=np.ones_like(raw), where=raw1 > 0)
        scenario = np.where(raw1 > 0, np.floor(planned * ratio + 0.5), raw)
        scenario = np.where(flagged.to_numpy(), scenario, planned)
        delta = pd.Series(scenario - planned, index=grid.to_numpy()).groupby(level=0).sum()
        per_grid = start.add(delta.reindex(start.index).fillna(0.0))
        out["scenarios"][f"×{factor:g}"] = {
            "dwelling_size_m2": round(base * factor, 1),
            "households": round(float(scenario.sum())),
            "grid_households_min": int(per_grid.min()),
            "grid_households_mean": round(float(per_grid.mean()), 1),
            "grid_households_max": int(per_grid.max()),
            "grids_within_bounds": round(float(per_grid.between(lo, hi).mean()), 3),
        }
    return out
