"""Ten-household units (十联户) inside grids, down to entrance (单元) and floor.

Below each grid, households are organised in units of about ten, each with a unit head
(联户长) living among them. :func:`form_units` builds them grid by grid, never across grids:

1. **Apartment buildings** (more households than ``units.max_households``) are split by
   entrance, then into consecutive floor bands: households are spread evenly over entrances
   and floors, and a dynamic programme over each entrance's floors picks the bands whose sizes
   stay within ``[min_households, max_households]`` and closest to ``target_households``. So a
   unit reads "building B0123, entrance 2, floors 7–11". Entrances too small for a unit of their
   own are grouped whole. A floor is shared by two units only when whole floors cannot meet
   the bounds (a corridor block of 20 households a floor). Without entrance data the building
   is banded by floor alone; without floor data it is split evenly by households; both are
   counted and flagged. What a band cannot hold (a remainder under the minimum, only under
   tight bounds) joins the small-building pool below.
2. **Small buildings** (and remainders) are grouped along a building adjacency graph: the
   Delaunay triangulation of representative points, with edges that cross a street or join
   two compounds (小区) cut (used only when a block would otherwise be too small for a unit).
   Each connected part is peeled from its rim inwards: a seed on the rim grows by nearest
   neighbours to the target size, absorbing households a cut would strand. A repair pass lets
   undersized units take boundary buildings from neighbours (keeping both contiguous and in
   bounds) or merge; a balancing pass moves boundary buildings towards the target; a leftover
   still too small takes the top floor(s) of a nearby band or a nearby member, or merges.
   Greedy growth with local search was chosen over a CP-SAT capacitated clustering: grids hold
   a few hundred households, the greedy met the bounds for every unit of the ``town`` and
   ``city`` samples, and it plans the whole city (70 000 households) in about 3 s
   (benchmarks/bench_units.py).

Unit codes are the grid code plus a 3-digit sequence (``C01-003-012``) ordered by the first
member's building id, entrance and floor. With ``previous`` and ``keep_grids`` the units of
those grids are copied unchanged, so a re-plan keeps the codes of untouched grids.

Example
-------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> b = gpd.GeoDataFrame(
...     {"building_id": ["B1", "B2"], "grid_id": ["C01-001", "C01-001"],
...      "households": [36, 4], "floors": [9, 1], "entrances": [2, None]},
...     geometry=[Point(0, 0), Point(30, 0)], crs="EPSG:32648")
>>> res = form_units(b)
>>> print(res.unit_members[["unit_id", "building_id", "entrance", "floor_from", "floor_to",
...                   "households"]].to_string(index=False))
    unit_id building_id  entrance  floor_from  floor_to  households
C01-001-001          B1         1           1         4           8
C01-001-001          B2      <NA>        <NA>      <NA>           4
C01-001-002          B1         1           5         9          10
C01-001-003          B1         2           1         4           8
C01-001-004          B1         2           5         9          10
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import DataError
from gridplan._text import format_ids
from gridplan.settings import DEFAULT, Config
from gridplan.units.group import (
    _components,
    _crossing,
    delaunay_edges,
    fix_leftovers,
    grow,
    improve,
)
from gridplan.units.split import Member, _Split, split_building, split_segments

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = ["UnitsResult", "form_units"]

logger = logging.getLogger(__name__)

#: Road classes a unit may freely cross (paths inside blocks and compounds).
MINOR_ROAD_CLASSES: frozenset[str] = frozenset(
    {
        "footway",
        "path",
        "steps",
        "pedestrian",
        "cycleway",
        "corridor",
        "service",
        "track",
        "bridleway",
        "living_street",
    }
)

#: Buffer around the hull of point-only buildings, metres (unit geometry for the map).
POINT_BUFFER_M = 8.0


@dataclass(frozen=True)
class UnitsResult:
    """Ten-household units of a plan.

    Attributes
    ----------
    units
        One row per unit: unit_id, grid_id, households, n_buildings, head_id (``None`` until
        staffing), geometry (union of member footprints; a buffered hull for point buildings),
        in the buildings' metric CRS.
    unit_members
        One row per (unit, building part): unit_id, building_id, entrance, floor_from, floor_to
        (``Int64``, missing for whole buildings or unknown data), households. The rows of a
        building sum exactly to its households.
    metrics
        JSON-serialisable figures: sizes, share within bounds, spread, splits, time.
    flags
        Sentences for the report, each naming ids and the fix.
    """

    units: gpd.GeoDataFrame
    unit_members: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# one grid


@dataclass
class _Piece:
    members: list[Member]
    households: int
    xy: tuple[float, float]
    compound: str = ""


def _plan_grid(
    frame: pd.DataFrame,
    roads: shapely.STRtree | None,
    lo: int,
    hi: int,
    target: int,
    deadline: float,
) -> tuple[list[list[Member]], list[str], list[str]]:
    """Units of one grid: bands of large buildings, then groups of the small ones.

    Parameters
    ----------
    frame
        Residential buildings of the grid (rows of :func:`_building_frame`), sorted by id.
    roads
        Streets a unit should not cross.
    lo, hi, target
        Unit size bounds and target, households.
    deadline
        :func:`time.perf_counter` time at which the local search stops.

    Returns
    -------
    units
        The units, as lists of members.
    no_entr, no_floor
        Ids of the split buildings without entrance data, without floor data.
    """
    units, unit_xy, pieces, no_entr, no_floor = _split_large(frame, lo, hi, target)
    if pieces:
        xy = np.array([p.xy for p in pieces], dtype=float)
        w = np.array([p.households for p in pieces], dtype=np.int64)
        adj, comps = _piece_graph(pieces, xy, w, roads, lo)
        pool_units: list[list[int]] = []
        for comp in comps:
            pool_units.extend(grow(comp, w, xy, adj, lo, hi, target))
        pool_units = improve(pool_units, w, xy, adj, lo, hi, target, deadline)
        _add_pool_units(pool_units, pieces, xy, w, units, unit_xy, lo, hi)
    floors_of = dict(zip(frame["building_id"], frame["_floors"], strict=True))
    pos = dict(zip(frame["building_id"], zip(frame["_x"], frame["_y"], strict=True), strict=True))
    units = fix_leftovers(units, unit_xy, floors_of, pos, lo, hi, target)
    return units, no_entr, no_floor


def _split_large(
    frame: pd.DataFrame, lo: int, hi: int, target: int
) -> tuple[list[list[Member]], list[tuple[float, float]], list[_Piece], list[str], list[str]]:
    """Split the grid's large buildings into entrance and floor bands; pool the rest.

    Parameters
    ----------
    frame
        Residential buildings of the grid, sorted by id.
    lo, hi, target
        Unit size bounds and target, households.

    Returns
    -------
    units
        The bands that make units of their own.
    unit_xy
        The point of each of those units (its building's).
    pieces
        Small buildings and band remainders, to be grouped.
    no_entr, no_floor
        Ids of the split buildings without entrance data, without floor data.
    """
    units: list[list[Member]] = []
    unit_xy: list[tuple[float, float]] = []
    pieces: list[_Piece] = []
    no_entr: list[str] = []
    no_floor: list[str] = []
    for bid, h, fl, en, eoff, x, y, comp, segs in zip(
        frame["building_id"],
        frame["households"],
        frame["_floors"],
        frame["_entrances"],
        frame["_eoff"],
        frame["_x"],
        frame["_y"],
        frame["_compound"],
        frame["_segments"],
        strict=True,
    ):
        h = int(h)
        if segs:  # the part of a building split over grids that this grid holds
            split = split_segments(bid, segs, lo, hi, target)
            units.extend(split.units)
            unit_xy.extend([(x, y)] * len(split.units))
            for rem in split.remainders:
                pieces.append(_Piece(rem, sum(m[4] for m in rem), (x, y), comp))
            continue
        if h <= hi:
            pieces.append(_Piece([(bid, None, None, None, h)], h, (x, y), comp))
            continue
        floors = int(fl) if fl > 0 else None
        entrances = int(en) if en > 0 else None
        if entrances is None:
            no_entr.append(bid)
        if floors is None:
            no_floor.append(bid)
        split = split_building(bid, h, floors, entrances, lo, hi, target)
        if eoff:  # a part of a building split over grids: its entrances continue the count
            split = _Split(
                [[_shift(m, int(eoff)) for m in u] for u in split.units],
                [[_shift(m, int(eoff)) for m in u] for u in split.remainders],
            )
        units.extend(split.units)
        unit_xy.extend([(x, y)] * len(split.units))
        for rem in split.remainders:
            pieces.append(_Piece(rem, sum(m[4] for m in rem), (x, y), comp))
    return units, unit_xy, pieces, no_entr, no_floor


def _piece_graph(
    pieces: list[_Piece],
    xy: np.ndarray,
    w: np.ndarray,
    roads: shapely.STRtree | None,
    lo: int,
) -> tuple[list[set[int]], list[list[int]]]:
    """Adjacency of the pooled pieces: Delaunay edges within street blocks and compounds.

    Blocks too small for a unit are joined, smallest first, to the nearest block across
    the street (or compound wall).

    Parameters
    ----------
    pieces
        The pooled pieces.
    xy
        Their points, ``(n, 2)``.
    w
        Their households.
    roads
        Streets a unit should not cross.
    lo
        Smallest unit, households.

    Returns
    -------
    adj
        Neighbours of each piece.
    comps
        The connected parts of ``adj``.
    """
    n = len(pieces)
    edges = delaunay_edges(xy)
    cross = _crossing(edges, xy, roads)
    # a compound (小区) wall is crossed as reluctantly as a street
    comps_of = np.array([p.compound for p in pieces], dtype=object)
    if len(edges):
        cross |= comps_of[edges[:, 0]] != comps_of[edges[:, 1]]
    adj: list[set[int]] = [set() for _ in range(n)]
    for a, b in edges[~cross]:
        adj[a].add(int(b))
        adj[b].add(int(a))
    # merge street blocks too small for a unit with the nearest block across the street
    comps = _components(range(n), adj)
    comp_of = np.empty(n, dtype=np.int64)
    for c, comp in enumerate(comps):
        comp_of[comp] = c
    cross_edges = edges[cross]
    lengths = np.hypot(*(xy[cross_edges[:, 0]] - xy[cross_edges[:, 1]]).T)
    order = np.lexsort((cross_edges[:, 1], cross_edges[:, 0], lengths))
    while len(comps) > 1:
        totals = [int(w[c].sum()) for c in comps]
        small = [c for c in range(len(comps)) if totals[c] < lo]
        if not small:
            break
        c = min(small, key=lambda q: (totals[q], comps[q][0]))
        joined = False
        for e in order:
            a, b = (int(v) for v in cross_edges[e])
            if (comp_of[a] == c) != (comp_of[b] == c):
                adj[a].add(b)
                adj[b].add(a)
                joined = True
                break
        if not joined:
            break
        comps = _components(range(n), adj)
        for q, comp in enumerate(comps):
            comp_of[comp] = q
    return adj, comps


def _add_pool_units(
    pool_units: list[list[int]],
    pieces: list[_Piece],
    xy: np.ndarray,
    w: np.ndarray,
    units: list[list[Member]],
    unit_xy: list[tuple[float, float]],
    lo: int,
    hi: int,
) -> None:
    """Add the grouped pieces as units; a lone one below ``lo`` joins the nearest band.

    Parameters
    ----------
    pool_units
        Groups of piece indices.
    pieces
        The pooled pieces.
    xy
        Their points.
    w
        Their households.
    units
        The grid's units so far (bands); extended, or a band grown by a leftover.
    unit_xy
        The point of each unit; extended alongside ``units``.
    lo, hi
        Unit size bounds, households.
    """
    for pu in pool_units:
        hh = int(w[pu].sum())
        if hh < lo and units:
            c = xy[pu].mean(axis=0)
            sizes = [sum(m[4] for m in u) for u in units]
            cand = [
                (float(np.hypot(*(np.asarray(unit_xy[k]) - c))), k)
                for k in range(len(units))
                if sizes[k] + hh <= hi
            ]
            if cand:
                k = min(cand)[1]
                units[k] = units[k] + [m for v in pu for m in pieces[v].members]
                continue
        units.append([m for v in pu for m in pieces[v].members])
        unit_xy.append((float(xy[pu, 0].mean()), float(xy[pu, 1].mean())))


# --------------------------------------------------------------------------------------------
# public


def _check_input(buildings: gpd.GeoDataFrame) -> None:
    problems = []
    missing = [c for c in ("building_id", "grid_id", "households") if c not in buildings]
    if missing:
        msg = (
            f"buildings layer lacks column(s) {', '.join(missing)}; run the partition stage "
            "first (it adds grid_id) on a prepared dataset"
        )
        raise DataError(msg)
    if buildings.crs is not None and buildings.crs.is_geographic:
        msg = "buildings layer is in a geographic CRS; units need the prepared metric CRS"
        raise DataError(msg)
    ids = buildings["building_id"].astype(str)
    # a building split over grids by the partition appears once per grid; twice in one grid
    # is an error
    pair = pd.DataFrame({"b": ids, "g": buildings["grid_id"].astype("string")})
    dup = sorted(ids[pair.duplicated()].unique())
    if dup:
        problems.append(f"duplicate building_id {format_ids(dup)} within one grid: make ids unique")
    hh = pd.to_numeric(buildings["households"], errors="coerce")
    bad = sorted(ids[hh.isna() | (hh < 0)])
    if bad:
        problems.append(f"households missing or negative for {format_ids(bad)}: fill them (≥ 0)")
    nogrid = sorted(ids[buildings["grid_id"].isna() & (hh.fillna(0) > 0)])
    if nogrid:
        problems.append(
            f"residential buildings without grid_id {format_ids(nogrid)}: re-run partition"
        )
    empty = sorted(ids[buildings.geometry.isna() | buildings.geometry.is_empty])
    if empty:
        problems.append(f"empty geometry for {format_ids(empty)}: repair or drop them")
    if problems:
        msg = "buildings layer: " + "; ".join(problems)
        raise DataError(msg, problems)


def _int_or_zero(s: pd.Series | None, n: int) -> np.ndarray:
    if s is None:
        return np.zeros(n, dtype=np.int64)
    v = pd.to_numeric(s, errors="coerce").fillna(0).to_numpy(dtype=float)
    return np.where(np.isfinite(v), v, 0).astype(np.int64)


def _shift(m: Member, offset: int) -> Member:
    return (m[0], None if m[1] is None else m[1] + offset, m[2], m[3], m[4])


def _expand_parts(frame: pd.DataFrame, parts: pd.DataFrame) -> pd.DataFrame:
    """Replace buildings split over grids by one row per grid part.

    Entrances are shared out over the parts in grid order, in proportion to households
    (largest remainders), so the parts' entrance numbers continue one another.
    """
    need = {"building_id", "grid_id", "households"}
    if not need <= set(parts.columns):
        msg = f"building_parts lacks column(s) {', '.join(sorted(need - set(parts.columns)))}"
        raise DataError(msg)
    place = [c for c in ("entrance", "floor_from", "floor_to") if c in parts.columns]
    p = parts[sorted(need) + place].copy()
    p["building_id"] = p["building_id"].astype(str)
    p["grid_id"] = p["grid_id"].astype(str)
    p = p[p["households"] > 0]
    multi = p[p.duplicated("building_id", keep=False)]
    if multi.empty:
        return frame
    multi = multi.sort_values(["building_id", "grid_id"], kind="stable")
    base = frame.set_index("building_id")
    wrong = []
    rows = []
    for bid, grp in multi.groupby("building_id", sort=True):
        if bid not in base.index:
            continue
        b = base.loc[bid]
        if isinstance(b, pd.DataFrame):
            b = b.iloc[0]
        hh = grp["households"].astype(np.int64).to_numpy()
        if int(hh.sum()) != int(b["households"]):
            wrong.append(str(bid))
            continue
        if len(place) == 3 and grp[place].notna().to_numpy().any():
            # the partition says where each grid's part lies: entrance and floors
            for g, sub in grp.groupby("grid_id", sort=True):
                segs = tuple(
                    (_opt(e), _opt(f0), _opt(f1), int(h))
                    for e, f0, f1, h in zip(
                        sub["entrance"],
                        sub["floor_from"],
                        sub["floor_to"],
                        sub["households"],
                        strict=True,
                    )
                )
                row = b.to_dict()
                row.update(
                    building_id=bid,
                    grid_id=g,
                    households=int(sub["households"].sum()),
                    _segments=segs,
                )
                rows.append(row)
            continue
        grp = pd.DataFrame(grp.groupby("grid_id", sort=True, as_index=False)["households"].sum())
        hh = grp["households"].astype(np.int64).to_numpy()
        ents = int(b["_entrances"])
        if ents >= len(hh):
            quota = ents * hh / hh.sum()
            alloc = np.floor(quota).astype(np.int64)
            alloc = np.maximum(alloc, 1)
            while alloc.sum() > ents:
                alloc[int(np.argmax(alloc))] -= 1
            order = np.argsort(-(quota - np.floor(quota)), kind="stable")
            i = 0
            while alloc.sum() < ents:
                alloc[order[i % len(order)]] += 1
                i += 1
            offs = np.concatenate([[0], np.cumsum(alloc)[:-1]])
        else:
            alloc = np.zeros(len(hh), dtype=np.int64)
            offs = np.zeros(len(hh), dtype=np.int64)
        for g, h, a, o in zip(grp["grid_id"], hh, alloc, offs, strict=True):
            row = b.to_dict()
            row.update(
                building_id=bid, grid_id=g, households=int(h), _entrances=int(a), _eoff=int(o)
            )
            rows.append(row)
    if wrong:
        msg = (
            f"building_parts: households of the parts of {format_ids(wrong)} do not sum to the "
            "building's households; re-run the partition"
        )
        raise DataError(msg)
    keep = frame[~frame["building_id"].isin(multi["building_id"].unique())]
    return pd.concat([keep, pd.DataFrame(rows, columns=frame.columns)], ignore_index=True)


def _opt(v: Any) -> int | None:
    """An optional whole number (``None`` for a missing value)."""
    return None if pd.isna(v) else int(v)


def _previous_grid_ok(prev_members: pd.DataFrame, frame: pd.DataFrame) -> bool:
    """The buildings of a kept grid still hold what its previous units hold."""
    ids = prev_members["building_id"].astype(str)
    hh = pd.to_numeric(prev_members["households"], errors="coerce").fillna(-1)
    old = {str(k): int(v) for k, v in hh.groupby(ids.to_numpy()).sum().items() if v > 0}
    new = {
        str(k): int(v) for k, v in frame.groupby("building_id")["households"].sum().items() if v > 0
    }
    return old == new


def _kept_units(units: pd.DataFrame, members: pd.DataFrame, crs: CRS | None) -> gpd.GeoDataFrame:
    """Previous units in the output shape (a plan file may lack n_buildings or head_id)."""
    out = units.copy()
    if "n_buildings" not in out:
        nb = members.groupby("unit_id")["building_id"].nunique()
        out["n_buildings"] = out["unit_id"].map(nb).fillna(0)
    if "head_id" not in out:
        out["head_id"] = None
    if "households" not in out:
        out["households"] = out["unit_id"].map(members.groupby("unit_id")["households"].sum())
    out = out[["unit_id", "grid_id", "households", "n_buildings", "head_id", "geometry"]]
    out["grid_id"] = out["grid_id"].astype(str)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=units.crs).to_crs(crs)


def form_units(
    buildings: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    seed: int | None = None,
    previous: UnitsResult | None = None,
    keep_grids: Collection[str] = (),
    building_parts: pd.DataFrame | None = None,
) -> UnitsResult:
    """Form ten-household units (十联户) inside every grid.

    Parameters
    ----------
    buildings
        Prepared buildings in a metric CRS with ``grid_id`` (from the partition stage),
        ``households``, and optionally ``floors`` and ``entrances``. Buildings with no
        households belong to no unit. Not modified.
    roads
        Street lines; adjacency edges crossing a street (other than
        :data:`MINOR_ROAD_CLASSES`) are only used when a block is too small for a unit.
    config
        Settings; ``None`` means :data:`gridplan.settings.DEFAULT`. Uses ``config.units``.
    seed
        Recorded in the metrics; the method is deterministic without randomness (ties are
        broken by ids), so the same inputs always give the same units.
    previous
        An earlier result; with ``keep_grids`` its units of those grids are copied unchanged.
    keep_grids
        Grid ids whose previous units are kept. A kept grid whose buildings changed households
        is re-planned and flagged.
    building_parts
        The partition's ``building_parts`` (building_id, grid_id, households): a building
        split over grids is planned part by part, each part inside its own grid, its
        entrances shared out over the parts.

    Returns
    -------
    UnitsResult
        Units, their members, metrics and flags.

    Raises
    ------
    DataError
        Missing columns, a geographic CRS, duplicate ids, bad household counts, residential
        buildings without a grid, or empty geometries.
    """
    t0 = time.perf_counter()
    cfg = config if config is not None else DEFAULT
    seed = cfg.seed if seed is None else seed
    _check_input(buildings)
    lo = cfg.units.min_households
    hi = cfg.units.max_households
    target = cfg.units.target_households
    crs = buildings.crs

    frame = _building_frame(buildings, building_parts)
    res = frame[frame["households"] > 0].sort_values("building_id", kind="stable")
    tree = _street_index(roads)
    keep = set(keep_grids)
    grid_ids = sorted(str(g) for g in res["grid_id"].dropna().unique())
    plans = _plan_grids(res, tree, keep, previous, lo, hi, target, cfg.units.time_limit_s)

    members = _members_frame(plans.member_rows)
    units_gdf = _new_units(plans.unit_rows, members, buildings, crs)
    if plans.kept_units:
        units_gdf, members = _add_kept(units_gdf, members, plans, crs)
    units_gdf, members = _sorted_output(units_gdf, members)

    xy_by_id = dict(
        zip(frame["building_id"], zip(frame["_x"], frame["_y"], strict=True), strict=True)
    )
    sizes_m, small_grids = size_metrics(units_gdf, lo=lo, hi=hi)
    metrics: dict[str, Any] = {
        "n_grids": len(grid_ids),
        **sizes_m,
        **spread_metrics(members, xy_by_id),
        "split_buildings": len(plans.split_ids),
        "split_evenly_buildings": len(set(plans.no_entr) | set(plans.no_floor)),
        "split_no_entrances": len(plans.no_entr),
        "split_no_floors": len(plans.no_floor),
        "kept_grids": len(plans.kept_grids),
        "bounds": [lo, target, hi],
        "seed": int(seed),
        "time_s": 0.0,
    }
    flags = _flags(units_gdf, plans, small_grids, keep if previous is None else set(), lo, hi)
    metrics["time_s"] = round(time.perf_counter() - t0, 3)
    logger.info(
        "formed %d units in %d grids (%.1f%% within %d–%d) in %.2f s",
        metrics["n_units"],
        metrics["n_grids"],
        100 * metrics["share_in_range"],
        lo,
        hi,
        metrics["time_s"],
    )
    return UnitsResult(units=units_gdf, unit_members=members, metrics=metrics, flags=flags)


def _building_frame(
    buildings: gpd.GeoDataFrame, building_parts: pd.DataFrame | None
) -> pd.DataFrame:
    """The buildings as plain columns, one row per grid part of a building split over grids.

    Parameters
    ----------
    buildings
        Checked buildings (see :func:`_check_input`).
    building_parts
        The partition's ``building_parts``, or ``None``.

    Returns
    -------
    pandas.DataFrame
        building_id, grid_id, households, and ``_floors``, ``_entrances`` (0 when unknown),
        ``_eoff`` (the first entrance of a part), ``_compound`` (``""`` when none), ``_x``,
        ``_y`` (the representative point).
    """
    n = len(buildings)
    rep = shapely.point_on_surface(buildings.geometry.to_numpy())
    frame = pd.DataFrame(
        {
            "building_id": buildings["building_id"].astype(str).to_numpy(),
            "grid_id": buildings["grid_id"].astype("string").to_numpy(),
            "households": pd.to_numeric(buildings["households"]).to_numpy().astype(np.int64),
            "_floors": _int_or_zero(buildings.get("floors"), n),
            "_entrances": _int_or_zero(buildings.get("entrances"), n),
            "_eoff": np.zeros(n, dtype=np.int64),
            "_compound": (
                buildings["compound"].astype("string").fillna("").astype(str).to_numpy()
                if "compound" in buildings
                else np.full(n, "", dtype=object)
            ),
            "_x": shapely.get_x(rep),
            "_y": shapely.get_y(rep),
            "_segments": pd.Series([None] * n, dtype=object).to_numpy(),
        }
    )
    if building_parts is not None and len(building_parts):
        frame = _expand_parts(frame, building_parts)
    return frame


def _street_index(roads: gpd.GeoDataFrame | None) -> shapely.STRtree | None:
    """Spatial index of the streets a unit should not cross.

    Parameters
    ----------
    roads
        Street lines, optionally with ``road_class``; ``None`` for none.

    Returns
    -------
    shapely.STRtree or None
        The index over the non-empty lines outside :data:`MINOR_ROAD_CLASSES`, or ``None``
        when there are none.
    """
    if roads is None or not len(roads):
        return None
    lines = roads
    if "road_class" in roads:
        minor = roads["road_class"].astype("string").isin(sorted(MINOR_ROAD_CLASSES))
        lines = roads[~minor.fillna(False).to_numpy(dtype=bool)]
    g = lines.geometry.to_numpy()
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    if not len(g):
        return None
    return shapely.STRtree(g)


@dataclass
class _GridPlans:
    """The units of every grid, new and kept, and what the report needs of them.

    Attributes
    ----------
    unit_rows
        unit_id, grid_id of each new unit.
    member_rows
        unit_id, building_id, entrance, floor_from, floor_to, households of each new member.
    kept_units, kept_members
        The previous units and members of each kept grid.
    kept_grids
        Ids of the grids whose previous units were kept.
    split_ids
        Buildings split over several units, grid by grid.
    no_entr, no_floor
        Split buildings without entrance, without floor data.
    replanned
        Grids to be kept whose buildings changed: planned afresh.
    """

    unit_rows: list[dict[str, Any]] = field(default_factory=list)
    member_rows: list[dict[str, Any]] = field(default_factory=list)
    kept_units: list[pd.DataFrame] = field(default_factory=list)
    kept_members: list[pd.DataFrame] = field(default_factory=list)
    kept_grids: list[str] = field(default_factory=list)
    split_ids: list[str] = field(default_factory=list)
    no_entr: list[str] = field(default_factory=list)
    no_floor: list[str] = field(default_factory=list)
    replanned: list[str] = field(default_factory=list)


def _plan_grids(
    res: pd.DataFrame,
    tree: shapely.STRtree | None,
    keep: set[str],
    previous: UnitsResult | None,
    lo: int,
    hi: int,
    target: int,
    per_grid_s: float,
) -> _GridPlans:
    """Units of every grid, in grid order: the previous ones of a kept grid, else new ones.

    Parameters
    ----------
    res
        Residential rows of :func:`_building_frame`, sorted by building id.
    tree
        Streets a unit should not cross (:func:`_street_index`).
    keep
        Grids whose previous units are kept when their buildings are unchanged.
    previous
        The earlier result, or ``None``.
    lo, hi, target
        Unit size bounds and target, households.
    per_grid_s
        Time limit of the local search in one grid, seconds.

    Returns
    -------
    _GridPlans
        New unit and member rows, kept units and members, and the split and re-planned ids.
    """
    out = _GridPlans()
    prev_units = previous.units if previous is not None else None
    prev_members = previous.unit_members if previous is not None else None
    for gid, sub in res.groupby("grid_id", sort=True):
        gid = str(gid)
        if gid in keep and prev_units is not None and prev_members is not None:
            pu = prev_units[prev_units["grid_id"].astype(str) == gid]
            pm = prev_members[prev_members["unit_id"].isin(pu["unit_id"])]
            if len(pu) and _previous_grid_ok(pm, sub):
                out.kept_units.append(pu)
                out.kept_members.append(pm)
                out.kept_grids.append(gid)
                continue
            out.replanned.append(gid)
        units, ne, nf = _plan_grid(sub, tree, lo, hi, target, time.perf_counter() + per_grid_s)
        out.no_entr.extend(ne)
        out.no_floor.extend(nf)
        counts = sub.set_index("building_id")["households"]
        out.split_ids.extend(sorted(b for b in counts.index if counts[b] > hi))
        _number_units(gid, units, out.unit_rows, out.member_rows)
    return out


def _number_units(
    gid: str,
    units: list[list[Member]],
    unit_rows: list[dict[str, Any]],
    member_rows: list[dict[str, Any]],
) -> None:
    """Code the units of one grid in order of their first member; append their rows.

    Parameters
    ----------
    gid
        The grid id (the prefix of the unit codes).
    units
        The grid's units, as lists of members.
    unit_rows
        Unit rows so far (unit_id, grid_id); the grid's are appended.
    member_rows
        Member rows so far; the grid's are appended, each unit's sorted by building id,
        entrance and floor.
    """
    keyed = []
    for u in units:
        ms = sorted(u, key=_member_key)
        keyed.append((_member_key(ms[0]), ms))
    keyed.sort(key=lambda t: t[0])
    for seq, (_, ms) in enumerate(keyed, start=1):
        uid = f"{gid}-{seq:03d}"
        unit_rows.append({"unit_id": uid, "grid_id": gid})
        for bid, e, f0, f1, h in ms:
            member_rows.append(
                {
                    "unit_id": uid,
                    "building_id": bid,
                    "entrance": e,
                    "floor_from": f0,
                    "floor_to": f1,
                    "households": h,
                }
            )


def _members_frame(member_rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The member rows as the ``unit_members`` table (nullable integer entrance and floors).

    Parameters
    ----------
    member_rows
        Rows of :func:`_number_units`.

    Returns
    -------
    pandas.DataFrame
        unit_id, building_id, entrance, floor_from, floor_to (``Int64``), households.
    """
    members = pd.DataFrame(
        member_rows,
        columns=["unit_id", "building_id", "entrance", "floor_from", "floor_to", "households"],
    )
    for c in ("entrance", "floor_from", "floor_to"):
        members[c] = pd.array(members[c].tolist(), dtype="Int64")
    members["households"] = members["households"].astype(np.int64)
    return members


def _new_units(
    unit_rows: list[dict[str, Any]],
    members: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    crs: Any,
) -> gpd.GeoDataFrame:
    """The new units with their size, building count and geometry.

    Parameters
    ----------
    unit_rows
        unit_id, grid_id of each new unit.
    members
        Their members (:func:`_members_frame`).
    buildings
        The input buildings (footprints by ``building_id``).
    crs
        The buildings' CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        unit_id, grid_id, households, n_buildings, head_id (``None``), geometry.
    """
    geom_by_id = dict(
        zip(buildings["building_id"].astype(str), buildings.geometry.to_numpy(), strict=True)
    )
    new_units = pd.DataFrame(unit_rows, columns=["unit_id", "grid_id"])
    grouped = members.groupby("unit_id", sort=False)
    hh = grouped["households"].sum()
    bids_of = grouped["building_id"].agg(lambda s: sorted(set(s)))
    new_units["households"] = new_units["unit_id"].map(hh).fillna(0).astype(np.int64)
    new_units["n_buildings"] = new_units["unit_id"].map(bids_of.map(len)).fillna(0).astype(np.int64)
    new_units["head_id"] = pd.Series([None] * len(new_units), dtype=object)
    new_geoms = [_unit_geometry([geom_by_id[b] for b in bids_of[u]]) for u in new_units["unit_id"]]
    return gpd.GeoDataFrame(new_units, geometry=new_geoms, crs=crs)


def _add_kept(
    units_gdf: gpd.GeoDataFrame, members: pd.DataFrame, plans: _GridPlans, crs: Any
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Append the kept grids' previous units and members to the new ones.

    Parameters
    ----------
    units_gdf
        The new units.
    members
        Their members.
    plans
        The grid plans, with at least one kept grid.
    crs
        The buildings' CRS (kept units are brought to it).

    Returns
    -------
    units, members
        New and kept together, in the columns and types of the new ones.
    """
    ku = pd.concat(
        [
            _kept_units(pu, pm, crs)
            for pu, pm in zip(plans.kept_units, plans.kept_members, strict=True)
        ],
        ignore_index=True,
    )
    units_gdf = pd.concat([units_gdf, ku[units_gdf.columns]], ignore_index=True)
    units_gdf = gpd.GeoDataFrame(units_gdf, geometry="geometry", crs=crs)
    km = pd.concat(plans.kept_members, ignore_index=True)
    for c in ("entrance", "floor_from", "floor_to"):
        if c not in km:
            km[c] = pd.NA
    km = km[members.columns].assign(building_id=km["building_id"].astype(str))
    members = pd.concat([members, km], ignore_index=True)
    for c in ("entrance", "floor_from", "floor_to"):
        members[c] = members[c].astype("Int64")
    members["households"] = members["households"].astype(np.int64)
    return units_gdf, members


def _sorted_output(
    units_gdf: gpd.GeoDataFrame, members: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Ids as strings, units by code, members by unit, building, entrance and floor.

    Parameters
    ----------
    units_gdf
        All units; their id columns are made strings in place.
    members
        All members; their id columns are made strings in place.

    Returns
    -------
    units, members
        Sorted, with a fresh index and integer counts.
    """
    for frame_, cols in (
        (units_gdf, ("unit_id", "grid_id")),
        (members, ("unit_id", "building_id")),
    ):
        for c in cols:
            frame_[c] = frame_[c].astype(str)
    units_gdf = units_gdf.sort_values("unit_id", kind="stable").reset_index(drop=True)
    members = members.sort_values(
        ["unit_id", "building_id", "entrance", "floor_from"], kind="stable", na_position="first"
    ).reset_index(drop=True)
    units_gdf["households"] = units_gdf["households"].astype(np.int64)
    units_gdf["n_buildings"] = units_gdf["n_buildings"].astype(np.int64)
    return units_gdf, members


def _flags(
    units_gdf: gpd.GeoDataFrame,
    plans: _GridPlans,
    small_grids: list[str],
    keep_without_previous: set[str],
    lo: int,
    hi: int,
) -> list[str]:
    """Report sentences on the units, each naming ids and the fix.

    Parameters
    ----------
    units_gdf
        All units.
    plans
        The grid plans (split and re-planned ids).
    small_grids
        Grids holding fewer than ``lo`` households in all.
    keep_without_previous
        Grids to keep given without a previous result (empty otherwise).
    lo, hi
        Unit size bounds, households.

    Returns
    -------
    list of str
        The flags, in report order.
    """
    flags: list[str] = []
    if keep_without_previous:
        flags.append(
            f"keep_grids {format_ids(sorted(keep_without_previous))} given without a previous "
            "plan: all grids planned"
        )
    if small_grids:
        flags.append(
            f"grid(s) {format_ids(small_grids)} hold fewer than {lo} households in all: "
            "each is one undersized unit; merge the grid with a neighbour or lower "
            "[units] min_households"
        )
    in_range = units_gdf["households"].between(lo, hi)
    bad = units_gdf[~in_range & ~units_gdf["grid_id"].astype(str).isin(small_grids)]
    if len(bad):
        flags.append(
            f"{len(bad)} unit(s) outside {lo}–{hi} households "
            f"({format_ids(bad['unit_id'].tolist())}): "
            "building sizes or street blocks leave no in-range grouping; check their buildings "
            "or widen [units] min_households/max_households"
        )
    if plans.no_entr:
        flags.append(
            f"{len(plans.no_entr)} large building(s) split without entrance data "
            f"({format_ids(plans.no_entr)}): "
            "units are floor bands of the whole building; add `entrances` to split by 单元"
        )
    if plans.no_floor:
        flags.append(
            f"{len(plans.no_floor)} large building(s) split evenly by households without floor "
            f"data ({format_ids(plans.no_floor)}): add `floors` (or height) for floor bands"
        )
    if plans.replanned:
        flags.append(
            f"grid(s) {format_ids(plans.replanned)} were to be kept but their buildings or "
            "households changed since the previous plan: their units were re-planned and "
            "re-numbered"
        )
    return flags


def _member_key(m: Member) -> tuple[str, int, int]:
    return (m[0], -1 if m[1] is None else m[1], -1 if m[2] is None else m[2])


def _unit_geometry(geoms: list[Any]) -> Any:
    """Union of member footprints; point members become a buffered hull."""
    polys = [g for g in geoms if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
    pts = [g for g in geoms if g is not None and g.geom_type not in ("Polygon", "MultiPolygon")]
    parts = list(polys)
    if pts:
        parts.append(shapely.convex_hull(shapely.union_all(pts)).buffer(POINT_BUFFER_M))
    if len(parts) == 1:
        return parts[0]
    return shapely.union_all(parts)


def size_metrics(units: pd.DataFrame, *, lo: int, hi: int) -> tuple[dict[str, Any], list[str]]:
    """Unit size figures (count, households, mean/median/min/max, share within ``[lo, hi]``,
    histogram) and the grids too small for one in-range unit (left out of the *feasible*
    share)."""
    sizes = units["households"].to_numpy(dtype=np.int64)
    grid_total = units.groupby("grid_id")["households"].sum()
    small = sorted(str(g) for g in grid_total.index if grid_total[g] < lo)
    in_range = (sizes >= lo) & (sizes <= hi)
    feasible = ~units["grid_id"].astype(str).isin(small).to_numpy()
    vals, cnts = np.unique(sizes, return_counts=True)
    metrics = {
        "n_units": len(units),
        "households": int(sizes.sum()),
        "mean_households": float(sizes.mean()) if len(sizes) else 0.0,
        "median_households": float(np.median(sizes)) if len(sizes) else 0.0,
        "min_households": int(sizes.min()) if len(sizes) else 0,
        "max_households": int(sizes.max()) if len(sizes) else 0,
        "share_in_range": float(in_range.mean()) if len(sizes) else 1.0,
        "share_in_range_feasible": float(in_range[feasible].mean()) if feasible.any() else 1.0,
        "size_histogram": {str(int(k)): int(v) for k, v in zip(vals, cnts, strict=True)},
        "grids_below_min": len(small),
    }
    return metrics, small


def spread_metrics(
    members: pd.DataFrame, xy_by_id: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Largest, median and 90th-percentile spread of the units (metres between the farthest
    member buildings' representative points)."""
    spreads = list(_spreads(members, xy_by_id).values())
    return {
        "max_spread_m": float(max(spreads, default=0.0)),
        "median_spread_m": float(np.median(spreads)) if spreads else 0.0,
        "p90_spread_m": float(np.percentile(spreads, 90)) if spreads else 0.0,
    }


def building_points(buildings: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """Building id -> its representative point, as unit spreads measure it."""
    rep = shapely.point_on_surface(np.asarray(buildings.geometry.values))
    return dict(
        zip(
            buildings["building_id"].astype(str),
            zip(shapely.get_x(rep).tolist(), shapely.get_y(rep).tolist(), strict=True),
            strict=True,
        )
    )


def _spreads(members: pd.DataFrame, xy_by_id: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Largest straight-line distance between member buildings, per unit (metres)."""
    if members.empty:
        return {}
    uid = members["unit_id"].astype(str).to_numpy()
    pairs = pd.DataFrame({"u": uid, "b": members["building_id"].astype(str).to_numpy()})
    units = pd.unique(uid)  # in order of first appearance
    pairs = pairs.drop_duplicates()
    xy = pairs["b"].map(xy_by_id)
    pairs = pairs[xy.notna()]
    out = dict.fromkeys(units.tolist(), 0.0)
    if pairs.empty:
        return out
    coords = np.array(xy[xy.notna()].tolist(), dtype=float)
    pairs = pairs.assign(x=coords[:, 0], y=coords[:, 1])
    many = pairs[pairs.groupby("u")["u"].transform("size") > 1]
    if many.empty:
        return out
    # every pair of member buildings of a unit (units hold a few buildings: small squares)
    both = many.merge(many, on="u", suffixes=("", "_o"))
    d = pd.Series(np.hypot(both["x"] - both["x_o"], both["y"] - both["y_o"]), index=both.index)
    for u, v in d.groupby(both["u"], sort=False).max().items():
        out[str(u)] = float(v)
    return out
