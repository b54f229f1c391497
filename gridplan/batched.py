"""Plans a province batch by batch of communities from disk, resuming an interrupted run.

:func:`plan_to_folder_batched` reads, plans and writes a batch of communities at a time and
resumes an interrupted run from the batches already written. Each batch is planned community by
community with the runners of :mod:`gridplan.parallel` (in this process or on Dask workers), so
a batch's grids and units are those of an in-memory run. Coverage runs batch by batch too, on
the roads and facilities within reach of the batch (:func:`search_radius_m`), so a building's
minutes are those of a whole-dataset run; siting does not split into batches and is left out.

Example
-------
>>> from gridplan.batched import plan_to_folder_batched                # doctest: +SKIP
>>> plan_to_folder_batched("province.gpkg", "out", batch_size=16)      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridplan import _errors
from gridplan._errors import DataError, GridplanError
from gridplan.parallel import (
    DEFAULT_RETRIES,
    Progress,
    _dask_runner,
    _LocalRunner,
    _order,
    _plan_with,
)
from gridplan.planfile import check_output_dir, write_plan_gpkg
from gridplan.settings import DEFAULT, Config

__all__ = ["BATCHED_STAGES", "SITING_SKIPPED", "plan_to_folder_batched", "search_radius_m"]

logger = logging.getLogger(__name__)

#: Stages :func:`plan_to_folder_batched` runs (siting, map and report need the whole province).
BATCHED_STAGES: tuple[str, ...] = ("partition", "units", "assign", "coverage")

#: Why siting does not run batch by batch (in the plan's ``skipped`` metadata).
SITING_SKIPPED = (
    "batched mode: siting is one optimisation over the whole area (a new site serves "
    "households of several batches and the number of sites is shared), so it does not split "
    "into batches; run `gridplan site` on a city in memory"
)


_SPATIAL = ("buildings", "communities", "roads", "barriers", "facilities", "sites")
_TABLES = ("people", "vulnerable")


def _layer_files(path: Path) -> dict[str, tuple[Path, str | None]]:
    """Layer name -> (file, layer inside the file) for a dataset folder or GeoPackage."""
    found: dict[str, tuple[Path, str | None]] = {}
    if path.is_dir():
        for name in (*_SPATIAL, *_TABLES):
            for ext in (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".csv"):
                f = path / f"{name}{ext}"
                if f.exists():
                    found[name] = (f, None)
                    break
    elif path.suffix.lower() == ".gpkg":
        names = {str(n) for n, _ in pyogrio.list_layers(path)}
        for name in (*_SPATIAL, *_TABLES):
            if name in names:
                found[name] = (path, name)
    else:
        msg = f"dataset {path}: batched planning reads a folder of layer files or a GeoPackage"
        raise DataError(msg)
    if "buildings" not in found or "communities" not in found:
        msg = (
            f"dataset {path}: batched planning needs `buildings` and `communities` layers "
            "(communities are the batches); add the communities layer or plan in memory"
        )
        raise DataError(msg)
    if found["buildings"][0].suffix.lower() == ".csv":
        msg = (
            f"dataset {path}: batched planning cannot filter buildings.csv by area; convert it "
            "to GeoPackage or GeoJSON first"
        )
        raise DataError(msg)
    return found


def _read(src: tuple[Path, str | None], **kw: Any) -> Any:
    return pyogrio.read_dataframe(src[0], layer=src[1], **kw)


def _sql_list(ids: Iterable[str]) -> str:
    return ", ".join("'" + str(i).replace("'", "''") + "'" for i in ids)


def _read_table(src: tuple[Path, str | None], building_ids: set[str]) -> pd.DataFrame:
    """Rows of a roster table (people, vulnerable) living in ``building_ids``, read in chunks."""
    path, layer = src
    if path.suffix.lower() == ".csv":
        keep = []
        for chunk in pd.read_csv(
            path, dtype=str, keep_default_na=False, na_values=[""], chunksize=200_000
        ):
            col = "building_id" if "building_id" in chunk else chunk.columns[1]
            keep.append(chunk[chunk[col].isin(building_ids)])
        return pd.concat(keep, ignore_index=True)
    df = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    return pd.DataFrame(df[df["building_id"].astype(str).isin(building_ids)])


def _write_scratch(folder: Path, layers: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            pyogrio.write_dataframe(frame, folder / f"{name}.gpkg", layer=name, driver="GPKG")
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)


Box = tuple[float, float, float, float]


def _union_box(*boxes: Box | None) -> Box:
    real = [b for b in boxes if b is not None and all(math.isfinite(v) for v in b)]
    return (
        min(b[0] for b in real),
        min(b[1] for b in real),
        max(b[2] for b in real),
        max(b[3] for b in real),
    )


def _expand_box(box: Box, crs: Any, metres: float) -> Box:
    """``box`` (in ``crs``) grown by at least ``metres`` of ground distance on every side.

    The growth is done in degrees of WGS84 with the shortest degree lengths of the box's
    latitudes (so it is never less than ``metres``), and the result is brought back to ``crs``
    with densified edges. A box without a CRS is taken as longitude/latitude when it looks like
    one, as metres otherwise.
    """
    from pyproj import CRS, Transformer

    if metres <= 0:
        return box
    geographic = crs is None and -180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90
    if crs is None and not geographic:
        return (box[0] - metres, box[1] - metres, box[2] + metres, box[3] + metres)
    c = CRS.from_user_input(crs) if crs is not None else CRS.from_epsg(4326)
    lonlat = box
    if not c.is_geographic:
        to_ll = Transformer.from_crs(c, 4326, always_xy=True)
        x0, y0, x1, y1 = to_ll.transform_bounds(*box, densify_pts=21)
        lonlat = (float(x0), float(y0), float(x1), float(y1))
    # 110 574 m: a degree of latitude at the equator (the shortest); a degree of longitude is
    # never shorter than 111 319 m × cos(latitude)
    dlat = metres / 110_574.0
    far = min(max(abs(lonlat[1]), abs(lonlat[3])) + dlat, 89.0)
    dlon = metres / (111_319.0 * math.cos(math.radians(far)))
    grown = (lonlat[0] - dlon, lonlat[1] - dlat, lonlat[2] + dlon, lonlat[3] + dlat)
    if c.is_geographic:
        return grown
    back = Transformer.from_crs(4326, c, always_xy=True)
    x0, y0, x1, y1 = back.transform_bounds(*grown, densify_pts=21)
    return (float(x0), float(y0), float(x1), float(y1))


def _load_margin(radius_m: float, core: Box, crs: Any, offset: str | None) -> float:
    """Ground metres to grow a batch's box by so that it holds ``radius_m`` around the batch
    in the working (UTM) CRS too: plus 6 % of the box's size for the turn of the UTM grid
    (at most 3° inside a zone), and, for offset coordinates, 10 % and 100 m for the
    unevenness of the offset."""
    extent = max(core[2] - core[0], core[3] - core[1])
    geographic = (crs is None and abs(core[0]) <= 180 and abs(core[3]) <= 90) or (
        crs is not None and _is_geographic(crs)
    )
    extent_m = extent * 111_320.0 if geographic else extent
    margin = radius_m * 1.02 + 0.06 * extent_m + 20.0
    if offset:
        margin += 0.1 * radius_m + 100.0
    return margin


def _is_geographic(crs: Any) -> bool:
    from pyproj import CRS

    return bool(CRS.from_user_input(crs).is_geographic)


def _read_batch(
    files: dict[str, tuple[Path, str | None]],
    comms: gpd.GeoDataFrame,
    ids: list[str],
    has_cid: bool,
    *,
    coverage: Mapping[str, Any] | None = None,
    offset: str | None = None,
) -> dict[str, Any]:
    """The raw layers of the communities ``ids``: their buildings, what lies near them.

    Without ``coverage`` the roads, barriers and facilities are read in the batch's bounding
    box + 5 %; with it (keys ``radius_m``, ``box``: the bounds of the facilities the batch
    owns), in the box of the batch's communities, buildings and owned facilities grown by
    ``radius_m`` of ground distance (see :func:`_load_margin`).
    """
    sel = comms[comms["community_id"].astype(str).isin(ids)]
    minx, miny, maxx, maxy = sel.total_bounds
    pad = max(maxx - minx, maxy - miny) * 0.05 + 1e-4
    bbox = (minx - pad, miny - pad, maxx + pad, maxy + pad)
    out: dict[str, Any] = {"communities": sel}
    if has_cid:
        b = _read(files["buildings"], where=f"community_id IN ({_sql_list(ids)})")
        loose = _read(files["buildings"], where="community_id IS NULL", bbox=bbox)
        if len(loose):
            pts = loose.geometry.representative_point()
            inside = gpd.sjoin(
                gpd.GeoDataFrame(geometry=pts, crs=loose.crs),
                sel[["geometry"]],
                predicate="within",
                how="inner",
            )
            loose = loose.loc[sorted(set(inside.index))]
            b = pd.concat([b, loose], ignore_index=True)
    else:
        b = _read(files["buildings"], bbox=bbox)
        pts = b.geometry.representative_point()
        inside = gpd.sjoin(
            gpd.GeoDataFrame(geometry=pts, crs=b.crs),
            sel[["geometry"]],
            predicate="within",
            how="inner",
        )
        b = b.loc[sorted(set(inside.index))]
    out["buildings"] = gpd.GeoDataFrame(b, geometry="geometry", crs=b.crs)
    near = bbox
    if coverage is not None:
        core = _union_box(
            tuple(sel.total_bounds),
            tuple(out["buildings"].total_bounds) if len(out["buildings"]) else None,
            coverage.get("box"),
        )
        margin = _load_margin(float(coverage["radius_m"]), core, sel.crs, offset)
        near = _union_box(bbox, _expand_box(core, sel.crs, margin))
    for name in ("roads", "barriers", "facilities"):
        if name in files:
            out[name] = _read(files[name], bbox=near)
    bids = set(out["buildings"]["building_id"].astype(str))
    for name in _TABLES:
        if name in files:
            out[name] = _read_table(files[name], bids)
    return out


def search_radius_m(config: Config | None = None) -> float:
    """Ground distance around a batch within which coverage must see roads and facilities.

    A building's minutes to a category are searched up to ``search_factor`` (2) times the
    walking distance of the category's largest tier (:func:`gridplan.coverage.compute_coverage`),
    access at both ends included, so every road, barrier and facility of such a walk lies within
    that distance of the building; a facility at its end joins the network within
    ``coverage.max_access_m`` of itself. The radius is the largest search bound plus
    ``max_access_m``.
    """
    from gridplan.coverage import compute_coverage, profile_speed

    cfg = config or DEFAULT
    factor = inspect.signature(compute_coverage).parameters["search_factor"].default
    tiers = [int(t) for t, cats in cfg.coverage.tiers.items() if cats]
    longest = max(tiers, default=0) * profile_speed("standard", cfg) * float(factor)
    return float(longest + cfg.coverage.max_access_m)


def _facility_owners(
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


def _merge_open_components(network: Any, core: Box, radius_m: float) -> tuple[Any, dict[str, int]]:
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


def _empty_layer(columns: list[str], crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in columns},
        geometry=gpd.GeoSeries([], crs=crs),
        crs=crs,
    )


def _first_ids(values: Iterable[Any], limit: int = 10) -> list[str]:
    return sorted({str(v) for v in values})[:limit]


def _batch_coverage(
    ds: Any, planned: gpd.GeoDataFrame, owned: list[str], cfg: Config, radius_m: float
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Coverage of one batch's buildings and catchments of the facilities it owns.

    Returns the layers to write (``coverage``, the community and grid rows of
    ``coverage_summary``, the owned ``facilities`` and their ``catchments``) and the figures
    the driver sums into the whole plan's metrics and flags.
    """
    from gridplan.coverage import compute_coverage
    from gridplan.isochrones import catchments
    from gridplan.network import build_walk_network, snap_points

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
    core = _union_box(*bounds) if bounds else (0.0, 0.0, 0.0, 0.0)
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


def _merge_coverage(
    parts: list[dict[str, Any]], cfg: Config
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The ``all`` rows of the coverage summary, the coverage metrics and flags of the whole
    plan, from the batches' figures: households are summed, then shares divided (a share is
    weighted by households, never an average of the batches' shares)."""
    from gridplan.coverage import _tier_pairs, profile_speed, tier_label

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
    pairs = _tier_pairs(cfg)
    share: dict[str, dict[str, float]] = {}
    for t, c in pairs:
        got = sums.get((tier_label(t), c), np.zeros(3, dtype=np.int64))
        share.setdefault(tier_label(t), {})[c] = round(float(got[1]) / denom, 6)
    complete: dict[str, float] = {}
    for t in sorted({t for t, _ in pairs}):
        got = sums.get((tier_label(t), "*"), np.zeros(3, dtype=np.int64))
        complete[tier_label(t)] = round(float(got[1]) / denom, 6)
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
    # the sentences of :func:`gridplan.coverage.compute_coverage`, for the whole plan
    flags: list[str] = []
    access = f"{cfg.coverage.max_access_m:g} m"
    n_fac = total("facilities_unreachable")
    if n_fac:
        ids = _id_list([i for p in parts for i in p["unreachable_facility_ids"]], n_fac)
        flags.append(
            f"facilities {ids} are more than {access} from any walkable road on their side of "
            "every barrier and serve nobody; check their location or add the access road"
        )
    n_b = total("buildings_unreachable")
    if n_b:
        ids = _id_list([i for p in parts for i in p["unreachable_building_ids"]], n_b)
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


def _id_list(first: list[str], count: int, limit: int = 10) -> str:
    vals = sorted(set(first))[:limit]
    more = f" and {count - limit} more" if count > limit else ""
    return ", ".join(vals) + more


def _fingerprint(path: Path, cfg: Config, batch_size: int, offset: str | None) -> str:
    from gridplan import __version__

    h = hashlib.sha256()
    h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    h.update(f"{__version__}|{batch_size}|{offset}|{path.resolve()}".encode())
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    for f in files:
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


@contextlib.contextmanager
def _resumable_output_dir(out: Path, *, overwrite: bool) -> Iterator[Path]:
    """Like :func:`gridplan.planfile.atomic_output_dir`, but the work folder survives failure.

    The folder is ``.<out>.partial`` beside ``out`` (a fixed name, so a re-run finds it). On
    success it replaces ``out`` in one rename; on an error it is kept, with its
    ``progress.json``, for the next run to resume; ``out`` is never touched before success.
    """
    check_output_dir(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.partial"
    work.mkdir(exist_ok=True)
    try:
        yield work
    except BaseException:
        logger.warning("kept %s to resume from; run the same command again", work)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(work, out)
    except BaseException:
        if old.exists():
            os.replace(old, out)
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


class _Appender:
    """Appends batch GeoPackages into one, in batch order, one batch in memory at a time.

    A layer is created from the first batch where it has rows (so that its field types come
    from real values) and appended to afterwards (pyogrio ``append=True``); a layer that is
    empty in every batch is written empty at :meth:`finish`. Layers named in ``later`` are
    left out (the caller writes them: :func:`_write_coverage_summary`).
    """

    def __init__(self, target: Path, *, later: tuple[str, ...] = ()) -> None:
        self.target = target
        self.later = later
        self.created: dict[str, list[str]] = {}
        self.empty: dict[str, Any] = {}
        self.rows: dict[str, int] = {}
        self.seconds = 0.0

    def add(self, src: Path) -> None:
        t0 = time.perf_counter()
        for name, _ in pyogrio.list_layers(src):
            name = str(name)
            if name == "metadata" or name in self.later:
                continue
            df = pyogrio.read_dataframe(src, layer=name)
            if not len(df):
                self.empty.setdefault(name, df)
                continue
            if name in self.created:
                df = df[[c for c in self.created[name] if c in df.columns]]
                pyogrio.write_dataframe(df, self.target, layer=name, driver="GPKG", append=True)
            else:
                pyogrio.write_dataframe(df, self.target, layer=name, driver="GPKG")
                self.created[name] = list(df.columns)
            self.rows[name] = self.rows.get(name, 0) + len(df)
        self.seconds += time.perf_counter() - t0

    def finish(self) -> dict[str, int]:
        for name, df in self.empty.items():
            if name not in self.created:
                pyogrio.write_dataframe(df, self.target, layer=name, driver="GPKG")
                self.rows[name] = 0
        return dict(self.rows)


def _write_coverage_summary(target: Path, all_rows: pd.DataFrame, batches: list[Path]) -> int:
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


def _batch_task(
    files: dict[str, tuple[Path, str | None]],
    comms: gpd.GeoDataFrame,
    batch: list[str],
    has_cid: bool,
    cfg: Config,
    order: list[str],
    offset: str | None,
    source: Path,
    gpkg: Path,
    inject: Mapping[str, str] | None,
    coverage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read, prepare, plan and write one batch; return its summary (runs on a worker).

    ``coverage`` (``radius_m``, ``owned``: the ids of the facilities the batch owns, ``box``:
    their bounds) makes the batch compute coverage and catchments too (:func:`_batch_coverage`).
    """
    from gridplan.io import load_dataset

    t0 = time.perf_counter()
    c0 = time.process_time()
    scratch = gpkg.parent / f"{gpkg.stem}-scratch"
    if scratch.exists():
        shutil.rmtree(scratch)
    if gpkg.exists():
        gpkg.unlink()
    try:
        raw = _read_batch(files, comms, batch, has_cid, coverage=coverage, offset=offset)
        _write_scratch(scratch, raw)
        del raw
        try:
            ds = load_dataset(scratch, offset=offset, config=cfg)
        except DataError as exc:
            msg = f"batch of communities {', '.join(batch)}: {exc}"
            raise DataError(msg) from None
        ds.source = source
        t_read = time.perf_counter() - t0
        grid_order = [s for s in order if s != "coverage"]
        plan = _plan_with(ds, cfg, grid_order, _LocalRunner(), None, inject=inject)
        plan.layers.pop("people", None)
        figures: dict[str, Any] | None = None
        if coverage is not None:
            t_cov = time.perf_counter()
            cov_layers, figures = _batch_coverage(
                ds, plan.buildings, list(coverage["owned"]), cfg, float(coverage["radius_m"])
            )
            plan.layers.update(cov_layers)
            plan.metadata["timings_s"]["coverage"] = round(time.perf_counter() - t_cov, 3)
        t1 = time.perf_counter()
        partial = gpkg.with_suffix(".part.gpkg")
        if partial.exists():
            partial.unlink()
        write_plan_gpkg(plan, partial)
        os.replace(partial, gpkg)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    flags = [f for stage in plan.metadata.get("flags", {}).values() for f in stage]
    return {
        "ids": batch,
        "communities": len(batch),
        "buildings": len(plan.buildings),
        "households": int(plan.buildings["households"].sum()),
        "grids": len(plan.grids),
        "units": len(plan.layer("units")),
        "flags": flags,
        "seconds": {
            "read_prepare": round(t_read, 3),
            **plan.metadata.get("timings_s", {}),
            "write": round(time.perf_counter() - t1, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
        "cpu_s": round(time.process_time() - c0, 3),
        "community_cpu_s": float(plan.metadata["parallel"].get("task_cpu_s", 0.0)),
        "coverage": figures,
    }


def plan_to_folder_batched(
    dataset_path: str | Path,
    out: str | Path,
    *,
    config: Config | None = None,
    batch_size: int = 16,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    stages: Iterable[str] | None = None,
    offset: str | None = None,
    retries: int = DEFAULT_RETRIES,
    client: Any = None,
    inject_failure: Mapping[str, str] | None = None,
) -> Path:
    """Plan a large dataset batch by batch of communities, never holding all of it in memory.

    A batch is ``batch_size`` communities (in id order). Planning a batch is one task: read its
    buildings with a ``community_id IN (…)`` filter (buildings without a community id: by the
    batch's bounding box, kept when inside a batch community), the roads, barriers, facilities
    and sites by the batch's bounding box (+5 %), the rosters by building id; validate and
    prepare it as a dataset of its own (:func:`gridplan.io.load_dataset`); plan it community by
    community (the same grids as in memory: :func:`~gridplan.parallel.plan_by_community`);
    write its own GeoPackage. With ``workers``/``scheduler`` the batches run on Dask workers,
    one batch per worker at a time (so a worker holds one batch); the driver holds only the
    communities layer and the batches' summaries. As batches finish, their layers are appended into
    ``plan.gpkg`` in batch order, one batch at a time (pyogrio ``append=True``), while the
    workers plan the next batches; a ``metadata`` table ends it.

    Stages: partition, units, staffing (within the batch: a head never comes from another
    batch) and coverage. Coverage: the roads, barriers and facilities are read in the box of
    the batch's communities, buildings and owned facilities grown by :func:`search_radius_m`
    (the largest coverage search bound plus ``coverage.max_access_m``, as ground distance,
    with pyogrio's ``bbox`` filter), which holds every walk a search can take from a batch
    building, so the coverage rows (one per building, tier and category) are those of a
    whole-dataset run and partition cleanly. A road component reaching beyond that box is
    taken as part of the main network (snapping prefers the main component; see
    :func:`_merge_open_components`: the one approximation, which matters only for a building
    nearer a disconnected fragment reaching out of the box than the main network). Each
    facility belongs to one batch (the batch of the community containing it, else of the
    nearest community), which writes its row of ``facilities`` and its ``catchments``. The
    ``coverage_summary`` community and grid rows come from their batch; its ``all`` rows and
    the coverage metrics and flags are summed over the batches (households, then shares: a
    share is weighted by households, never an average of the batches' shares).

    Siting is left out (``metadata["skipped"]["site"]`` and a flag say so): choosing new
    sites is one optimisation over the whole area (a site serves households of several
    batches; the number of sites is shared), which does not split into batches. Map, report
    and rosters are skipped too; plan a city in memory for those.

    Resume: the work happens in ``.<out>.partial`` beside ``out``, whose ``progress.json`` lists
    the finished batches with their communities (a batch's GeoPackage is renamed into place
    only when complete). A run that fails keeps that folder; the same command run again (same
    dataset files, config, stages and batch size) plans only the batches not finished. The
    finished folder replaces ``out`` in one rename (a resume-aware variant of
    :func:`gridplan.planfile.atomic_output_dir`: ``out`` is untouched until then).

    Parameters
    ----------
    dataset_path
        A dataset folder (one file per layer) or GeoPackage with a ``communities`` layer. With
        ``scheduler``, the dataset and ``out`` must be on a file system the workers share.
    out
        The plan folder to write.
    config
        Settings; ``None`` for the defaults.
    batch_size
        Communities per batch (a worker's memory grows with it; a province community is
        ~500 buildings).
    workers, scheduler, client
        Run the batches on Dask (see :func:`~gridplan.parallel.plan_parallel`).
    overwrite
        Replace an existing ``out``.
    progress
        Called with a line per batch.
    stages
        Some of ``partition``, ``units``, ``assign``, ``coverage`` (those they need are
        added); ``None`` for all four. Coverage is skipped (and said so in the metadata) when
        the dataset has no roads or no facilities.
    offset
        ``"gcj02"`` or ``"bd09"`` for offset coordinates.
    retries
        Times a batch is re-run after a worker error (Dask only); listed in the metadata.
    inject_failure
        For tests: community id -> marker file; that community fails once (see
        :func:`~gridplan.parallel.plan_parallel`). Without Dask the failure stops the run (to
        test resume).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    DataError
        A layer is missing or a batch does not validate (naming the batch's communities).
    GridplanError
        Batches failed on the workers even after ``retries`` (the finished ones are kept for a
        resume).
    """
    cfg = config or DEFAULT
    if batch_size < 1:
        msg = f"batch_size must be at least 1, not {batch_size}"
        raise _errors.ConfigError(msg)
    src = Path(dataset_path)
    files = _layer_files(src)
    out = Path(out)
    order = _order(BATCHED_STAGES if stages is None else stages)
    beyond = [s for s in order if s not in BATCHED_STAGES]
    if beyond:
        msg = (
            f"stage(s) {', '.join(beyond)} cannot run batch by batch; batched planning runs "
            f"{', '.join(BATCHED_STAGES)}: plan in memory for the others"
        )
        raise _errors.ConfigError(msg)
    comms = _read(files["communities"])
    comms["community_id"] = comms["community_id"].astype(str)
    comms = comms.sort_values("community_id", kind="stable").reset_index(drop=True)
    ids = comms["community_id"].tolist()
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    info = pyogrio.read_info(files["buildings"][0], layer=files["buildings"][1])
    has_cid = "community_id" in list(info["fields"])
    n_buildings_in = int(info["features"])
    fp = _fingerprint(src, cfg, batch_size, offset) + "|" + ",".join(order)
    radius = search_radius_m(cfg)
    cov_skip: str | None = None
    owned: dict[int, list[str]] = {}
    owned_box: dict[int, Box] = {}
    n_facilities = 0
    if "coverage" in order:
        n_roads = (
            int(pyogrio.read_info(files["roads"][0], layer=files["roads"][1])["features"])
            if "roads" in files
            else 0
        )
        if n_roads and "facilities" in files:
            owned, owned_box, n_facilities = _facility_owners(
                files["facilities"], comms, batch_size
            )
        if not n_roads or not n_facilities:
            cov_skip = "the dataset needs `roads` and `facilities` layers"
    with_cov = "coverage" in order and cov_skip is None
    use_dask = client is not None or workers is not None or scheduler is not None

    with contextlib.ExitStack() as stack:
        work = stack.enter_context(_resumable_output_dir(out, overwrite=overwrite)).resolve()
        state_path = work / "progress.json"
        state: dict[str, Any] = {}
        if state_path.exists():
            with contextlib.suppress(ValueError):
                state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("fingerprint") != fp:
            if state:
                logger.warning("%s belongs to another run (inputs changed): starting over", work)
            for p in work.iterdir():
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink()
            state = {"fingerprint": fp, "batches": {}, "resumed": 0, "retried": {}}
        else:
            state["resumed"] = int(state.get("resumed", 0)) + 1
        (work / "batches").mkdir(exist_ok=True)

        def save_state() -> None:
            tmp_state = state_path.with_suffix(".json.tmp")
            tmp_state.write_text(json.dumps(state, indent=1, default=str), encoding="utf-8")
            os.replace(tmp_state, state_path)

        save_state()
        jobs: dict[str, tuple[Any, ...]] = {}
        tags: dict[str, str] = {}
        for bi, batch in enumerate(batches, start=1):
            tag = f"{bi:05d}"
            gpkg = work / "batches" / f"batch-{tag}.gpkg"
            if tag in state["batches"] and gpkg.exists():
                if progress:
                    progress(f"batch {bi}/{len(batches)} already written: skipped")
                continue
            sub = comms[comms["community_id"].isin(batch)]
            key = f"batch-{tag}"
            tags[key] = tag
            cov_job = (
                {"radius_m": radius, "owned": owned.get(bi - 1, []), "box": owned_box.get(bi - 1)}
                if with_cov
                else None
            )
            jobs[key] = (
                files,
                sub,
                batch,
                has_cid,
                cfg,
                [s for s in order if with_cov or s != "coverage"],
                offset,
                src,
                gpkg,
                inject_failure,
                cov_job,
            )
        runner: Any = (
            stack.enter_context(_dask_runner(workers, scheduler, client, retries))
            if use_dask
            else _LocalRunner()
        )
        t_start = time.perf_counter()
        cpu0 = time.process_time()
        # plan.gpkg is rebuilt from the batch files on every run, in batch order, while the
        # workers plan the remaining batches (a crash mid-append costs nothing: it is redone)
        target = work / "plan.gpkg"
        if target.exists():
            target.unlink()
        appender = _Appender(target, later=("coverage_summary",) if with_cov else ())
        next_tag = [1]

        def append_ready() -> None:
            while next_tag[0] <= len(batches) and f"{next_tag[0]:05d}" in state["batches"]:
                appender.add(work / "batches" / f"batch-{next_tag[0]:05d}.gpkg")
                next_tag[0] += 1

        for done_now, (key, summary) in enumerate(runner.run(_batch_task, jobs), start=1):
            tag = tags[key]
            state["batches"][tag] = summary
            if key in runner.retried:
                state["retried"][f"{key} ({', '.join(summary['ids'])})"] = runner.retried[key]
            save_state()
            append_ready()
            if progress:
                progress(
                    f"batch {int(tag)}/{len(batches)} ({summary['ids'][0]}–{summary['ids'][-1]}) "
                    f"planned: {summary['households']:,} households ({done_now}/{len(jobs)})"
                )
        if runner.failed:
            lines = "; ".join(f"{k}: {why}" for k, why in sorted(runner.failed.items()))
            msg = (
                f"{len(runner.failed)} batch(es) failed on the workers even after {retries} "
                f"retries ({lines}); the {len(state['batches'])} finished batch(es) are kept in "
                f"{work}: run the same command again to resume"
            )
            raise GridplanError(msg)

        if progress:
            progress("appending the last batches to plan.gpkg …")
        append_ready()
        rows = appender.finish()
        done = [state["batches"][t] for t in sorted(state["batches"])]
        metrics: dict[str, Any] = {}
        all_flags: dict[str, list[str]] = {}
        cov_info: dict[str, Any] = {}
        if with_cov:
            parts = [d["coverage"] for d in done if d.get("coverage")]
            whole, metrics["coverage"], all_flags["coverage"] = _merge_coverage(parts, cfg)
            files_in_order = [
                work / "batches" / f"batch-{i:05d}.gpkg" for i in range(1, len(batches) + 1)
            ]
            rows["coverage_summary"] = _write_coverage_summary(target, whole, files_in_order)
            cov_info = {
                "search_radius_m": round(radius, 3),
                "facilities": n_facilities,
                "facilities_read": sum(int(p["facilities_read"]) for p in parts),
                "roads_read": sum(int(p["roads_read"]) for p in parts),
                "open_components": sum(int(p["open_components"]) for p in parts),
            }
        summary_all = {
            k: sum(int(d[k]) for d in done)
            for k in ("communities", "buildings", "households", "grids", "units")
        }
        flags = [f for d in done for f in d.get("flags", [])]
        if summary_all["buildings"] != n_buildings_in:
            flags.append(
                f"buildings: {n_buildings_in} in the dataset but {summary_all['buildings']} "
                "planned; the others lie outside every community polygon and have no "
                "community_id: give those buildings a community_id"
            )
        skipped = {"site": SITING_SKIPPED, "map": "batched mode", "report": "batched mode"}
        if "coverage" not in order:
            skipped["coverage"] = "not asked for (stages)"
        elif cov_skip:
            skipped["coverage"] = cov_skip
        flags.append(
            "siting (new facility sites) did not run: it optimises over the whole area and does "
            "not split into batches; run `gridplan site` on a city in memory for it"
        )
        from gridplan import __version__

        meta = {
            "gridplan_version": __version__,
            "seed": cfg.seed,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "parameters": cfg.to_dict(),
            "stages": order,
            "dataset": {"source": str(src)},
            "batched": {
                "batch_size": batch_size,
                "batches": len(batches),
                "resumed_runs": state.get("resumed", 0),
                "mode": runner.mode,
                "workers": int(runner.workers),
                "retried": state.get("retried", {}),
                "failed": {},
                "rows": rows,
                "seconds_this_run": round(time.perf_counter() - t_start, 3),
                "append_seconds": round(appender.seconds, 3),
                "cpu_s": {
                    "batch_tasks": round(sum(float(d.get("cpu_s", 0.0)) for d in done), 3),
                    "community_tasks": round(
                        sum(float(d.get("community_cpu_s", 0.0)) for d in done), 3
                    ),
                    "driver_this_run": round(time.process_time() - cpu0, 3),
                },
                "batch_seconds": {tag: d.get("seconds", {}) for tag, d in state["batches"].items()},
                "coverage": cov_info,
                **summary_all,
            },
            "metrics": metrics,
            "flags": {"batched": flags, **all_flags},
            "skipped": skipped,
        }
        table = pd.DataFrame(
            {
                "key": list(meta),
                "value": [
                    json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
                    for v in meta.values()
                ],
            }
        )
        pyogrio.write_dataframe(table, target, layer="metadata", driver="GPKG")
        shutil.rmtree(work / "batches", ignore_errors=True)
        state_path.unlink(missing_ok=True)
    return out
