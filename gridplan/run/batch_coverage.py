"""Coverage batch by batch, for :mod:`gridplan.run.batched`.

Holds the search radius a batch must read around itself (:func:`search_radius_m`), which batch
owns each facility (:func:`facility_owners`), taking a batch's open road components as the
main network (:func:`_merge_open_components`), one batch's coverage and catchments
(:func:`batch_coverage`), and merging the batches into the whole plan's coverage metrics,
flags and ``coverage_summary`` layer (:func:`merge_coverage`, :func:`write_coverage_summary`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridplan._text import format_ids
from gridplan.run.batch_read import Box, _read, union_box
from gridplan.settings import DEFAULT, Config

if TYPE_CHECKING:
    from pyproj import CRS

    from gridplan.dataset import Dataset
    from gridplan.network.graph import WalkNetwork


def search_radius_m(config: Config | None = None) -> float:
    """Ground distance around a batch within which coverage must see roads and facilities.

    A building's minutes to a category are searched up to ``search_factor`` (2) times the
    walking distance of the category's largest tier
    (:func:`gridplan.access.coverage.compute_coverage`),
    access at both ends included, so every road, barrier and facility of such a walk lies within
    that distance of the building; a facility at its end joins the network within
    ``coverage.max_access_m`` of itself. The radius is the largest search bound plus
    ``max_access_m``.
    """
    from gridplan.access.coverage import SEARCH_FACTOR, profile_speed

    cfg = config or DEFAULT
    factor = SEARCH_FACTOR
    tiers = [int(t) for t, cats in cfg.coverage.tiers.items() if cats]
    longest = max(tiers, default=0) * profile_speed("standard", cfg) * float(factor)
    return float(longest + cfg.coverage.max_access_m)


def facility_owners(
    src: tuple[Path, str | None], comms: gpd.GeoDataFrame, batch_size: int
) -> tuple[dict[int, list[str]], dict[int, Box], int]:
    """Batch index -> ids of the facilities it owns, and their bounds; and the facilities read.

    A facility belongs to the batch of the first community (by id) containing it, or, outside
    every community, of the nearest one; each facility is in exactly one batch, so its
    catchments and its line in the facilities layer are written once.
    """
    import shapely

    fac = _read(src, columns=["facility_id"])
    if fac.crs is not None and comms.crs is not None and not fac.crs.equals(comms.crs):
        fac = fac.to_crs(comms.crs)
    geoms = fac.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    owner = np.full(len(fac), -1, dtype=np.int64)
    tree = shapely.STRtree(comms.geometry.to_numpy())
    pi, ci = tree.query(geoms[ok], predicate="within")
    idx = np.flatnonzero(ok)
    if len(pi):
        first = pd.Series(ci).groupby(pi).min()
        owner[idx[first.index.to_numpy()]] = first.to_numpy()
    rest = np.flatnonzero(ok & (owner < 0))
    if len(rest):
        ri, rc = tree.query_nearest(geoms[rest], all_matches=True)
        first = pd.Series(rc).groupby(ri).min()
        owner[rest[first.index.to_numpy()]] = first.to_numpy()
    ids = np.asarray([str(v).strip() for v in fac["facility_id"]], dtype=object)
    batch = np.where(owner >= 0, owner // batch_size, -1)
    owned: dict[int, list[str]] = {}
    boxes: dict[int, Box] = {}
    for b in np.unique(batch[batch >= 0]):
        m = batch == b
        owned[int(b)] = sorted(ids[m].tolist())
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(geoms[m]))
        boxes[int(b)] = (x0, y0, x1, y1)
    return owned, boxes, int(ok.sum())


def _merge_open_components(
    network: WalkNetwork, core: Box, radius_m: float
) -> tuple[WalkNetwork, dict[str, int]]:
    """The batch network with its possibly-cut components taken as the main component.

    Snapping prefers the main component (the largest of the whole network). A batch holds the
    roads within ``radius_m`` of it, so a component with a node beyond that may go on outside
    the batch (it is *open*: usually a piece of the whole area's main network), while one
    entirely within it is a whole component of the full network (*closed*). The open
    components together are the main one, unless a closed component is longer than all of
    them (then it is); with no open component the rule is the full network's own.
    """
    from dataclasses import replace

    if network.n_edges == 0:
        return network, {"open_components": 0}
    x, y = network.xy[:, 0], network.xy[:, 1]
    beyond = (
        (x < core[0] - radius_m)
        | (y < core[1] - radius_m)
        | (x > core[2] + radius_m)
        | (y > core[3] + radius_m)
    )
    labels = network.component
    n_comp = int(labels.max()) + 1
    is_open = np.bincount(labels[beyond], minlength=n_comp) > 0
    length = np.bincount(labels[network.edge_u], weights=network.edge_length, minlength=n_comp)
    info = {"open_components": int(is_open.sum())}
    if not is_open.any():
        return network, info
    closed_best = float(length[~is_open].max()) if (~is_open).any() else -1.0
    if closed_best > float(length[is_open].sum()):
        main = int(np.flatnonzero(~is_open)[np.argmax(length[~is_open])])
        return replace(network, main_component=main), info
    main = int(np.flatnonzero(is_open)[0])
    merged = np.where(is_open[labels], main, labels)
    return replace(network, component=merged, main_component=main), info


def _empty_layer(columns: list[str], crs: CRS | None) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in columns},
        geometry=gpd.GeoSeries([], crs=crs),
        crs=crs,
    )


def _first_ids(values: Iterable[Any], limit: int = 10) -> list[str]:
    return sorted({str(v) for v in values})[:limit]


def batch_coverage(
    ds: Dataset, planned: gpd.GeoDataFrame, owned: list[str], cfg: Config, radius_m: float
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Coverage of one batch's buildings and catchments of the facilities it owns.

    Returns the layers to write (``coverage``, the community and grid rows of
    ``coverage_summary``, the owned ``facilities`` and their ``catchments``) and the figures
    the driver sums into the whole plan's metrics and flags.
    """
    from gridplan.access.coverage import compute_coverage
    from gridplan.access.isochrones import catchments
    from gridplan.network.graph import build_walk_network
    from gridplan.network.snapping import snap_points

    t0 = time.perf_counter()
    roads = ds.layer("roads")
    if roads is None:
        roads = _empty_layer(["road_class", "walkable"], ds.crs)
    facilities = ds.layer("facilities")
    if facilities is None:
        facilities = _empty_layer(["facility_id", "category", "name"], ds.crs)
    network = build_walk_network(roads, barriers=ds.layer("barriers"), config=cfg)
    mine = facilities[facilities["facility_id"].astype(str).isin(set(owned))]
    parts = [ds.layers["communities"], planned, mine]
    bounds = [tuple(f.total_bounds) for f in parts if len(f)]
    core = union_box(*bounds) if bounds else (0.0, 0.0, 0.0, 0.0)
    network, info = _merge_open_components(network, core, radius_m)
    t_net = time.perf_counter() - t0
    cov = compute_coverage(planned, facilities, network, config=cfg)
    t1 = time.perf_counter()
    catch = catchments(mine, network, config=cfg)
    t_catch = time.perf_counter() - t1
    fsnap = snap_points(network, mine.geometry, config=cfg)
    m = cov.metrics
    summary = cov.summary
    whole = summary[summary["level"] == "all"]
    reach = cov.coverage.drop_duplicates("building_id")
    cats = mine["category"].astype(str).to_numpy()[fsnap.reachable]
    figures = {
        "all": [
            [str(t), str(c), int(h), int(k), int(u)]
            for t, c, h, k, u in zip(
                whole["tier"].to_numpy(),
                whole["category"].to_numpy(),
                whole["households"].to_numpy(dtype=np.int64),
                whole["households_covered"].to_numpy(dtype=np.int64),
                whole["households_unreachable"].to_numpy(dtype=np.int64),
                strict=True,
            )
        ],
        "residential_buildings": int(m["residential_buildings"]),
        "households": int(m["households"]),
        "households_unreachable": int(m["households_unreachable"]),
        "buildings_unreachable": int(m["buildings_unreachable"]),
        "buildings_moved_off_fragment_or_barrier": int(
            m["buildings_moved_off_fragment_or_barrier"]
        ),
        "unreachable_building_ids": _first_ids(reach.loc[~reach["reachable"], "building_id"]),
        "facilities": len(mine),
        "facilities_unreachable": int((~fsnap.reachable).sum()),
        "unreachable_facility_ids": _first_ids(
            mine["facility_id"].astype(str).to_numpy()[~fsnap.reachable]
        ),
        "categories_reachable": sorted(set(cats.tolist())),
        "facilities_read": len(facilities),
        "roads_read": len(roads),
        **info,
        "seconds": {
            "network": round(t_net, 4),
            "snap": m["seconds"]["snap"],
            "search": m["seconds"]["search"],
            "total": m["seconds"]["total"],
            "catchments": round(t_catch, 4),
        },
    }
    layers = {
        "coverage": cov.coverage,
        "coverage_summary": summary[summary["level"] != "all"].reset_index(drop=True),
        "facilities": mine,
        "catchments": catch,
    }
    return layers, figures


def merge_coverage(
    parts: list[dict[str, Any]], cfg: Config
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The ``all`` rows of the coverage summary, the coverage metrics and flags of the whole
    plan, from the batches' figures: households are summed, then shares divided (a share is
    weighted by households, never an average of the batches' shares)."""
    from gridplan.access.coverage import profile_speed, tier_code, tier_pairs

    keys: list[tuple[str, str]] = []
    sums: dict[tuple[str, str], np.ndarray] = {}
    for part in parts:
        for tier, cat, hh, covered, unreach in part["all"]:
            k = (tier, cat)
            if k not in sums:
                keys.append(k)
                sums[k] = np.zeros(3, dtype=np.int64)
            sums[k] += np.array([hh, covered, unreach], dtype=np.int64)
    rows = pd.DataFrame(
        {
            "level": ["all"] * len(keys),
            "area_id": ["all"] * len(keys),
            "tier": [k[0] for k in keys],
            "category": [k[1] for k in keys],
            "households": np.array([sums[k][0] for k in keys], dtype=np.int64),
            "households_covered": np.array([sums[k][1] for k in keys], dtype=np.int64),
        }
    )
    tot = rows["households"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rows["share_covered"] = np.where(
            tot > 0, rows["households_covered"] / np.maximum(tot, 1), np.nan
        )
    rows["households_unreachable"] = np.array([sums[k][2] for k in keys], dtype=np.int64)

    def total(key: str) -> int:
        return sum(int(p[key]) for p in parts)

    households = total("households")
    denom = max(households, 1)
    pairs = tier_pairs(cfg)
    share: dict[str, dict[str, float]] = {}
    for t, c in pairs:
        got = sums.get((tier_code(t), c), np.zeros(3, dtype=np.int64))
        share.setdefault(tier_code(t), {})[c] = round(float(got[1]) / denom, 6)
    complete: dict[str, float] = {}
    for t in sorted({t for t, _ in pairs}):
        got = sums.get((tier_code(t), "*"), np.zeros(3, dtype=np.int64))
        complete[tier_code(t)] = round(float(got[1]) / denom, 6)
    seconds: dict[str, float] = {}
    for p in parts:
        for k, v in p.get("seconds", {}).items():
            seconds[k] = round(seconds.get(k, 0.0) + float(v), 4)
    metrics = {
        "profile": "standard",
        "speed_m_per_min": profile_speed("standard", cfg),
        "residential_buildings": total("residential_buildings"),
        "households": households,
        "households_unreachable": total("households_unreachable"),
        "buildings_unreachable": total("buildings_unreachable"),
        "buildings_moved_off_fragment_or_barrier": total("buildings_moved_off_fragment_or_barrier"),
        "facilities": total("facilities"),
        "facilities_unreachable": total("facilities_unreachable"),
        "covered_share": share,
        "complete_share": complete,
        "seconds": seconds,
    }
    # the sentences of :func:`gridplan.access.coverage.compute_coverage`, for the whole plan
    flags: list[str] = []
    access = f"{cfg.coverage.max_access_m:g} m"
    n_fac = total("facilities_unreachable")
    if n_fac:
        ids = format_ids(
            sorted({i for p in parts for i in p["unreachable_facility_ids"]}), total=n_fac
        )
        flags.append(
            f"facilities {ids} are more than {access} from any walkable road on their side of "
            "every barrier and serve nobody; check their location or add the access road"
        )
    n_b = total("buildings_unreachable")
    if n_b:
        ids = format_ids(
            sorted({i for p in parts for i in p["unreachable_building_ids"]}), total=n_b
        )
        flags.append(
            f"{n_b} residential buildings ({ids}) cannot reach the walk network within "
            f"{access}; they are counted as unreachable, not as uncovered; add the missing "
            "roads or paths"
        )
    found = {c for p in parts for c in p["categories_reachable"]}
    missing = [c for c in dict.fromkeys(c for _, c in pairs) if c not in found]
    if missing:
        one = len(missing) == 1
        flags.append(
            f"no reachable facility of categor{'y' if one else 'ies'} {', '.join(missing)}: "
            f"every household is uncovered for {'it' if one else 'them'}; add them to the "
            "facilities layer"
        )
    for tier, value in complete.items():
        if value < 0.5:
            flags.append(
                f"only {value:.0%} of households reach every {tier} facility category; "
                "see the coverage summary for the categories missing"
            )
    return rows, metrics, flags


def write_coverage_summary(target: Path, all_rows: pd.DataFrame, batches: list[Path]) -> int:
    """The ``coverage_summary`` layer: the whole plan's ``all`` rows, then every batch's
    community rows, then every batch's grid rows (the order of an in-memory plan when ids sort
    across batches as they do within one), one batch in memory at a time."""
    pyogrio.write_dataframe(all_rows, target, layer="coverage_summary", driver="GPKG")
    n = len(all_rows)
    for level in ("community", "grid"):
        for f in batches:
            df = pyogrio.read_dataframe(
                f, layer="coverage_summary", where=f"level = '{level}'", read_geometry=False
            )
            if len(df):
                df = df[list(all_rows.columns)]
                pyogrio.write_dataframe(
                    df, target, layer="coverage_summary", driver="GPKG", append=True
                )
                n += len(df)
    return n
