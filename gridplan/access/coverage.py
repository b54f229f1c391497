"""The 15-minute life circle: walking minutes from every household to every facility category.

For each facility category one bounded multi-source Dijkstra runs on the compiled core of the
walk network, starting from every facility of the category at once; the categories sharing a
search bound go to SciPy in one call (:func:`gridplan.network.nearest_source_distances`), and
every building is snapped once for all of them. A building's minutes are its network distance
(access at both ends included) divided by the walking speed of the profile. Tiers do not
nest: each ``coverage.tiers`` entry is a separate check of its own categories.

Households that cannot join the walk network (no walkable edge within ``max_access_m`` on their
side of every barrier) are *unreachable*, reported apart from households that are reachable but
*not covered*.

Example
-------
>>> import geopandas as gpd
>>> from shapely.geometry import LineString, Point
>>> from gridplan.network import build_walk_network
>>> roads = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (600, 0)])], crs="EPSG:32648")
>>> buildings = gpd.GeoDataFrame(
...     {"building_id": ["B1"], "households": [10]}, geometry=[Point(0, 20)], crs="EPSG:32648")
>>> facilities = gpd.GeoDataFrame(
...     {"facility_id": ["F1"], "category": ["kindergarten"]},
...     geometry=[Point(220, 20)], crs="EPSG:32648")
>>> res = compute_coverage(buildings, facilities, build_walk_network(roads))
>>> row = res.coverage.query("category == 'kindergarten'").iloc[0]
>>> str(row.tier), round(float(row.minutes), 3), bool(row.covered)
('5min', 4.333, True)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import ConfigError, DataError
from gridplan._text import format_ids, ordered_tiers
from gridplan.network.distances import nearest_source_distances
from gridplan.network.graph import WalkNetwork
from gridplan.network.snapping import SnapResult, snap_points
from gridplan.settings import DEFAULT, Config

__all__ = [
    "PROFILES",
    "SEARCH_FACTOR",
    "CoverageResult",
    "compute_coverage",
    "profile_speed",
    "residential_buildings",
    "tier_code",
    "tier_pairs",
]

log = logging.getLogger(__name__)

#: Minutes to a category are searched up to this many times the tier's walk (farther is
#: reported as beyond the search).
SEARCH_FACTOR = 2.0

#: Walking-speed profiles: ``standard`` (``speed_m_per_min``), ``elderly``.
PROFILES: tuple[str, ...] = ("standard", "elderly")


@dataclass(frozen=True)
class CoverageResult:
    """Coverage of residential buildings by tier and category.

    Attributes
    ----------
    coverage
        One row per residential building (households > 0) × tier × category of that tier:
        building_id, tier (``"5min"``…), category, minutes (``NaN`` when no facility within
        the search bound or the building is unreachable), covered, reachable.
    summary
        Household shares per area: level (``all``, ``community``, ``grid``), area_id, tier,
        category (``"*"`` for households reaching every category of the tier, "complete"),
        households, households_covered, share_covered, households_unreachable.
    metrics
        JSON-serialisable figures (shares per tier and category, counts, timings, profile).
    flags
        Sentences for the report naming ids and the fix.
    """

    coverage: pd.DataFrame
    summary: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def tier_code(minutes: int) -> str:
    """The tier code used in outputs: ``5`` -> ``"5min"`` (its display label is
    :func:`gridplan.i18n.tier_label`)."""
    return f"{int(minutes)}min"


def profile_speed(profile: str, config: Config | None = None) -> float:
    """Walking speed in metres per minute of a profile (``standard`` or ``elderly``)."""
    cfg = config or DEFAULT
    if profile == "standard":
        return float(cfg.coverage.speed_m_per_min)
    if profile == "elderly":
        return float(cfg.coverage.elderly_speed_m_per_min)
    msg = f"coverage profile {profile!r} is unknown; use one of {', '.join(PROFILES)}"
    raise ConfigError(msg)


def residential_buildings(buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Buildings with households > 0, sorted by building_id, as representative points."""
    missing = [c for c in ("building_id", "households") if c not in buildings.columns]
    if missing:
        msg = f"buildings: column(s) {', '.join(missing)} missing; prepare the dataset first"
        raise DataError(msg)
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0)
    res = buildings.loc[hh.to_numpy() > 0].copy()
    res["households"] = hh[hh > 0].astype(np.int64).to_numpy()
    res["building_id"] = res["building_id"].astype(str)
    res = res.sort_values("building_id", kind="stable")
    geoms = res.geometry.to_numpy()
    not_point = shapely.get_type_id(geoms) != 0
    if not_point.any():
        geoms = geoms.copy()
        geoms[not_point] = shapely.point_on_surface(geoms[not_point])
        res = res.set_geometry(gpd.GeoSeries(geoms, index=res.index, crs=res.crs))
    return res


def check_facilities(facilities: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if facilities is None:
        return gpd.GeoDataFrame(
            {"facility_id": pd.Series(dtype=str), "category": pd.Series(dtype=str)},
            geometry=gpd.GeoSeries([], dtype="geometry"),
        )
    missing = [c for c in ("facility_id", "category") if c not in facilities.columns]
    if missing:
        msg = f"facilities: column(s) {', '.join(missing)} missing; give each facility an id "
        msg += "and a category"
        raise DataError(msg)
    fac = facilities.copy()
    fac["facility_id"] = fac["facility_id"].astype(str)
    fac["category"] = fac["category"].astype(str)
    return fac.sort_values("facility_id", kind="stable")


def tier_pairs(cfg: Config) -> list[tuple[int, str]]:
    """Every (tier minutes, category) the config checks, tiers ascending."""
    return [(int(t), str(c)) for t, cats in sorted(cfg.coverage.tiers.items()) for c in cats]


def compute_coverage(
    buildings: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    network: WalkNetwork,
    *,
    config: Config | None = None,
    profile: str = "standard",
    search_factor: float | None = SEARCH_FACTOR,
) -> CoverageResult:
    """Walking minutes from each residential building to the nearest facility of each category.

    Parameters
    ----------
    buildings
        Prepared ``buildings`` (building_id, households, geometry; community_id and grid_id
        optional, used for the summary).
    facilities
        Prepared ``facilities`` (facility_id, category, Point geometry); ``None`` for none.
    network
        Walk network from :func:`gridplan.network.build_walk_network`.
    config
        Settings (``coverage`` section).
    profile
        ``"standard"`` or ``"elderly"`` walking speed.
    search_factor
        Each category's search stops at this multiple of its largest tier's walking distance
        (minutes beyond it are reported as ``NaN``); ``None`` searches the whole network.

    Returns
    -------
    CoverageResult
        Per building rows, area summaries, metrics and flags.

    Raises
    ------
    DataError
        A required column is missing.
    ConfigError
        An unknown profile.
    """
    cfg = config or DEFAULT
    speed = profile_speed(profile, cfg)
    t0 = time.perf_counter()
    res = residential_buildings(buildings)
    fac = check_facilities(facilities)
    pairs = tier_pairs(cfg)
    flags: list[str] = []

    bsnap = snap_points(network, res.geometry, config=cfg)
    fsnap = snap_points(network, fac.geometry, config=cfg)
    t_snap = time.perf_counter() - t0

    unreach_fac = fac["facility_id"].to_numpy()[~fsnap.reachable]
    if len(unreach_fac):
        flags.append(
            f"facilities {format_ids(unreach_fac)} are more than "
            f"{cfg.coverage.max_access_m:g} m from any walkable road on their side of every "
            "barrier and serve nobody; check their location or add the access road"
        )
    unreach_b = res["building_id"].to_numpy()[~bsnap.reachable]
    if len(unreach_b):
        flags.append(
            f"{len(unreach_b)} residential buildings ({format_ids(unreach_b)}) cannot reach "
            f"the walk network within {cfg.coverage.max_access_m:g} m; they are counted as "
            "unreachable, not as uncovered; add the missing roads or paths"
        )
    moved = res["building_id"].to_numpy()[bsnap.moved]
    if len(moved):
        log.info("%d buildings joined a farther edge to avoid a fragment or barrier", len(moved))

    # one bounded multi-source search per category
    limit_m: dict[str, float] = {}
    for t, c in pairs:
        lim = np.inf if search_factor is None else t * speed * float(search_factor)
        limit_m[c] = max(limit_m.get(c, 0.0), lim)
    cat_codes = fac["category"].to_numpy()
    dist: dict[str, np.ndarray] = {}
    missing_cats: list[str] = []
    t1 = time.perf_counter()
    searched: list[str] = []
    for c in dict.fromkeys(c for _, c in pairs):
        if not ((cat_codes == c) & fsnap.reachable).any():
            missing_cats.append(c)
            dist[c] = np.full(len(res), np.inf)
        else:
            searched.append(c)
    rows = nearest_source_distances(
        network,
        [_subset(fsnap, cat_codes == c) for c in searched],
        bsnap,
        limits=[limit_m[c] for c in searched],
    )
    dist.update(zip(searched, rows, strict=True))
    t_search = time.perf_counter() - t1
    if missing_cats:
        flags.append(
            f"no reachable facility of categor{'y' if len(missing_cats) == 1 else 'ies'} "
            f"{', '.join(missing_cats)}: every household is uncovered for "
            f"{'it' if len(missing_cats) == 1 else 'them'}; add them to the facilities layer"
        )

    n, k = len(res), len(pairs)
    minutes = np.full((n, k), np.nan)
    covered = np.zeros((n, k), dtype=bool)
    for j, (t, c) in enumerate(pairs):
        d = dist[c]
        m = d / speed
        m[~np.isfinite(m)] = np.nan
        minutes[:, j] = m
        covered[:, j] = d <= t * speed + 1e-9
    # text columns are gathered from one inferred array each (no per-row type inference)
    pos = np.tile(np.arange(k), n)
    coverage = pd.DataFrame(
        {
            "building_id": _text(res["building_id"]).take(np.repeat(np.arange(n), k)),
            "tier": ordered_tiers(_text([tier_code(t) for t, _ in pairs]).take(pos)),
            "category": _text([c for _, c in pairs]).take(pos),
            "minutes": minutes.ravel(),
            "covered": covered.ravel(),
            "reachable": np.repeat(bsnap.reachable, k),
        }
    )
    summary = _summary(res, pairs, covered, bsnap.reachable)
    metrics = _metrics(res, pairs, covered, bsnap, fsnap, profile, speed)
    metrics["seconds"] = {
        "snap": round(t_snap, 4),
        "search": round(t_search, 4),
        "total": round(time.perf_counter() - t0, 4),
    }
    for t in sorted({t for t, _ in pairs}):
        share = metrics["complete_share"][tier_code(t)]
        if share < 0.5:
            flags.append(
                f"only {share:.0%} of households reach every {tier_code(t)} facility category; "
                "see the coverage summary for the categories missing"
            )
    return CoverageResult(coverage=coverage, summary=summary, metrics=metrics, flags=flags)


def _text(values: Any) -> Any:
    """Strings as the array pandas infers for them (``str`` in pandas 3, ``object`` before)."""
    return pd.Series(np.asarray(values, dtype=object), dtype=None).array


def _subset(snap: SnapResult, mask: np.ndarray) -> SnapResult:
    return SnapResult(
        index=snap.index[mask],
        edge=snap.edge[mask],
        node_u=snap.node_u[mask],
        node_v=snap.node_v[mask],
        along_m=snap.along_m[mask],
        access_m=snap.access_m[mask],
        offset_u=snap.offset_u[mask],
        offset_v=snap.offset_v[mask],
        reachable=snap.reachable[mask],
        component=snap.component[mask],
        moved=snap.moved[mask],
    )


def _summary(
    res: gpd.GeoDataFrame, pairs: list[tuple[int, str]], covered: np.ndarray, reach: np.ndarray
) -> pd.DataFrame:
    hh = res["households"].to_numpy(dtype=np.int64)
    tiers = sorted({t for t, _ in pairs})
    # columns: one per (tier, category), then one "complete" per tier
    blocks: list[tuple[int, str, np.ndarray]] = [
        (t, c, covered[:, j]) for j, (t, c) in enumerate(pairs)
    ]
    for t in tiers:
        js = [j for j, (tt, _) in enumerate(pairs) if tt == t]
        blocks.append((t, "*", np.asarray(covered[:, js].all(axis=1))))
    cov_hh = np.stack([hh * b for _, _, b in blocks], axis=1) if blocks else np.zeros((len(hh), 0))
    levels: list[tuple[str, np.ndarray]] = [("all", np.zeros(len(hh), dtype=np.int64))]
    names: dict[str, np.ndarray] = {"all": np.array(["all"], dtype=object)}
    for level, col in (("community", "community_id"), ("grid", "grid_id")):
        if col in res.columns:
            keys = res[col].astype("string").fillna("").to_numpy(dtype=object)
            uniq, inv = np.unique(keys.astype(str), return_inverse=True)
            levels.append((level, inv.ravel()))
            names[level] = uniq.astype(object)
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "level",
            "area_id",
            "tier",
            "tier_minutes",
            "category",
            "households",
            "households_covered",
            "households_unreachable",
        )
    }
    k = len(blocks)
    for level, inv in levels:
        n_area = len(names[level])
        total = np.bincount(inv, weights=hh, minlength=n_area)
        unreach = np.bincount(inv, weights=hh * ~reach, minlength=n_area)
        cells = (inv[:, None] * k + np.arange(k)).ravel()
        covsum = np.bincount(cells, weights=cov_hh.ravel(), minlength=n_area * k)
        parts["level"].append(np.full(n_area * k, level, dtype=object))
        parts["area_id"].append(np.repeat(names[level], k))
        parts["tier"].append(np.tile([tier_code(t) for t, _, _ in blocks], n_area))
        parts["tier_minutes"].append(np.tile([t for t, _, _ in blocks], n_area))
        parts["category"].append(np.tile(np.array([c for _, c, _ in blocks], dtype=object), n_area))
        parts["households"].append(np.repeat(total, k))
        parts["households_covered"].append(covsum.ravel())
        parts["households_unreachable"].append(np.repeat(unreach, k))
    out = pd.DataFrame({name: np.concatenate(v) for name, v in parts.items()})
    for col in ("households", "households_covered", "households_unreachable"):
        out[col] = np.rint(out[col].to_numpy(dtype=float)).astype(np.int64)
    tot = out["households"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out.insert(
            7,
            "share_covered",
            np.where(tot > 0, out["households_covered"] / np.maximum(tot, 1), np.nan),
        )
    out = out.sort_values(["level", "area_id", "tier_minutes", "category"], kind="stable")
    out["tier"] = ordered_tiers(out["tier"])  # groupby / sort_values give 5, 10, 15 minutes
    return out.drop(columns="tier_minutes").reset_index(drop=True)


def _metrics(
    res: gpd.GeoDataFrame,
    pairs: list[tuple[int, str]],
    covered: np.ndarray,
    bsnap: SnapResult,
    fsnap: SnapResult,
    profile: str,
    speed: float,
) -> dict[str, Any]:
    hh = res["households"].to_numpy(dtype=np.int64)
    total = int(hh.sum())
    denom = max(total, 1)
    share: dict[str, dict[str, float]] = {}
    for j, (t, c) in enumerate(pairs):
        share.setdefault(tier_code(t), {})[c] = round(float((hh * covered[:, j]).sum()) / denom, 6)
    complete: dict[str, float] = {}
    for t in sorted({t for t, _ in pairs}):
        js = [j for j, (tt, _) in enumerate(pairs) if tt == t]
        complete[tier_code(t)] = round(float((hh * covered[:, js].all(axis=1)).sum()) / denom, 6)
    return {
        "profile": profile,
        "speed_m_per_min": speed,
        "residential_buildings": len(res),
        "households": total,
        "households_unreachable": int(hh[~bsnap.reachable].sum()),
        "buildings_unreachable": int((~bsnap.reachable).sum()),
        "buildings_moved_off_fragment_or_barrier": int(bsnap.moved.sum()),
        "facilities": len(fsnap.edge),
        "facilities_unreachable": int((~fsnap.reachable).sum()),
        "covered_share": share,
        "complete_share": complete,
    }
