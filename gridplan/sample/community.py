"""One community of the sample generator: every layer, in the local metric frame.

Blocks and their uses, buildings trimmed to the household target, facilities, building
ids and household gaps, the roster, vulnerable households and candidate sites.
Private to :mod:`gridplan.sample`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import nearest_points

from gridplan.sample.buildings import (
    SPECIAL_MIN_AREA,
    SPECIAL_NAMES,
    Bldg,
    compound_name,
    leaf_buildings,
)
from gridplan.sample.geometry import polys
from gridplan.sample.layout import (
    BLOCK_AREA,
    HALF_WIDTH,
    Layout,
    Leaf,
    Road,
    _zone,
    bsp,
    street_names,
)
from gridplan.sample.names import STORE_BRANDS, SUPERMARKETS, SURNAMES
from gridplan.sample.people import _people
from gridplan.sample.spec import Counters, TownSpec
from gridplan.settings import FACILITY_CATEGORIES

# the public module's logger, so log lines keep the name they had before the split
logger = logging.getLogger(__name__)


def _community(lay: Layout, comm: dict[str, Any], seed: int, counters: Counters) -> dict[str, Any]:
    """Generate every layer of one community (local metric frame).

    The seven steps below draw from one random generator in a fixed order, so each step is
    called once, in turn; reordering them changes the sample.

    Parameters
    ----------
    lay
        The town layout.
    comm
        The community: index, community_id, name, atoms, facilities, target, geometry.
    seed
        Random seed of the sample.
    counters
        Running id numbers of the town (replaced by fresh ones for prefixed ids).

    Returns
    -------
    dict
        ``_households`` (households placed) and the records of every layer: communities,
        buildings, roads, facilities, people, vulnerable, sites.
    """
    spec = lay.spec
    rng = np.random.default_rng([seed, comm["index"]])
    prefix = f"{comm['community_id']}-" if spec.prefixed_ids else ""
    wide = not spec.prefixed_ids
    if spec.prefixed_ids:
        counters = Counters()
    names = street_names(rng)
    target = comm["target"]

    streets = _streets_and_blocks(lay, comm, rng, names)  # 1
    leaves = streets.leaves
    special_leaf, free = _block_uses(leaves, comm, rng)  # 2
    bldgs, lanes = _place_buildings(streets, special_leaf, free, target, spec, rng)  # 3
    bldgs = _trim_housing(bldgs, leaves, target, comm["community_id"])  # 4
    live_leaves = {b.leaf for b in bldgs}
    road_extra = _kept_lanes(lanes, leaves, live_leaves)
    compound_names = _compound_ids(bldgs, prefix, counters, rng)
    facilities = _facilities(bldgs, leaves, special_leaf, compound_names, comm, rng)  # 5
    rows = _building_rows(bldgs, spec, prefix, wide, counters, comm["community_id"], rng)  # 6
    true_hh = sum(r["_hh"] for r in rows)
    true_pop = sum(r["_pop"] for r in rows)
    people = _people(rows, rng, prefix, wide, counters, comm)  # 7
    vulnerable = _vulnerable(rows, rng)
    offices = [b for b in bldgs if b.kind == "office"]
    sites = _candidate_sites(leaves, live_leaves, offices, prefix, wide, counters, rng)
    _number_facilities(facilities, prefix, wide, counters)
    # The totals are those of the community's own buildings, exactly: calibration scales the
    # estimates of the buildings whose counts are withheld by (total - given) / estimate, so a
    # census noise of a few per cent of the whole community, all of it landing on a handful of
    # estimated buildings, would make a clean sample's total "look stale" (a city community
    # with 2 estimated buildings was scaled by 2.8).
    census = {
        "community_id": comm["community_id"],
        "name": comm["name"],
        "households_total": int(true_hh),
        "population_total": int(true_pop),
        "geometry": comm["geometry"],
    }
    return {
        "_households": true_hh,
        "communities": [census],
        "buildings": rows,
        "roads": [*streets.chords, *road_extra],
        "facilities": facilities,
        "people": people,
        "vulnerable": vulnerable,
        "sites": sites,
    }


# --------------------------------------------------------------------------------------------
# 1. streets and blocks


@dataclass
class _Streets:
    """The streets and blocks of one community.

    Attributes
    ----------
    chords
        Streets cut through the community's land.
    all_roads
        Line geometries of the town roads, then of ``chords``.
    tree
        Spatial index over ``all_roads``.
    leaves
        Blocks large enough to build on, in street-subdivision order.
    """

    chords: list[Road]
    all_roads: list[LineString]
    tree: shapely.STRtree
    leaves: list[Leaf]


def _streets_and_blocks(
    lay: Layout, comm: dict[str, Any], rng: np.random.Generator, names: Iterator[str]
) -> _Streets:
    """Cut the community's land into blocks by streets; shrink them to their buildable part.

    Parameters
    ----------
    lay
        The town layout (roads, river and rail zones, old centre).
    comm
        The community (its ``atoms``: land pieces between arterials).
    rng
        The community's random generator.
    names
        Street names, drawn lazily from ``rng``.

    Returns
    -------
    _Streets
        New streets, all road lines with their index, and the buildable blocks.
    """
    spec = lay.spec
    chords: list[Road] = []
    raw_leaves: list[Polygon] = []
    for atom in comm["atoms"]:
        land = atom.difference(lay.river_zone)
        if lay.rail_zone is not None:
            land = land.difference(lay.rail_zone)
        for part in polys(land):
            if part.area < 2000:
                continue
            zone, _ = _zone(spec, lay.old_centre, part.representative_point(), rng)
            sizes = BLOCK_AREA["tower" if zone == "tower" else "slab"]
            bsp(part, sizes, lay.old_centre, spec.old_radius, rng, raw_leaves, chords, names)
    all_roads = [r.geometry for r in lay.roads] + [r.geometry for r in chords]
    reserve = [
        r.geometry.buffer(HALF_WIDTH[r.road_class], quad_segs=2) for r in [*lay.roads, *chords]
    ]
    tree = shapely.STRtree(all_roads)
    leaves: list[Leaf] = []
    for p in raw_leaves:
        zone, dist = _zone(spec, lay.old_centre, p.representative_point(), rng)
        if p.area < BLOCK_AREA["slab"][1]:
            zone = "old"  # small blocks at the edge of the old quarter hold houses
        elif zone == "old":
            zone = "slab"
        setback = 0.8 if zone == "old" else rng.uniform(2.0, 4.0)
        near = tree.query(p.buffer(2.0))
        block = p
        if len(near):
            block = p.difference(shapely.union_all([reserve[i] for i in near]))
        block = block.buffer(-setback, join_style="mitre")
        parts = polys(block)
        if not parts:
            continue
        main = max(parts, key=lambda q: q.area)
        if main.area < 250.0:
            continue
        leaves.append(Leaf(p, main, zone, dist))
    return _Streets(chords, all_roads, tree, leaves)


# --------------------------------------------------------------------------------------------
# 2. block uses


#: District facilities given a block of their own, in the order they pick one.
_DISTRICT_CATEGORIES: tuple[str, ...] = (
    "secondary_school",
    "primary_school",
    "market",
    "health_center",
    "sports",
    "culture_center",
    "elderly_home",
)


def _block_uses(
    leaves: list[Leaf], comm: dict[str, Any], rng: np.random.Generator
) -> tuple[dict[str, int], list[int]]:
    """Give district facilities their blocks; order the other blocks for housing.

    Parameters
    ----------
    leaves
        The community's blocks; the ``use`` of the facility blocks is set.
    comm
        The community (its ``facilities``).
    rng
        The community's random generator.

    Returns
    -------
    special_leaf
        District facility category -> index of its block.
    free
        Indices of the other blocks, the first to be housing first (old quarter, then slabs,
        then towers, one tower compound early).
    """
    free = list(range(len(leaves)))
    special_leaf: dict[str, int] = {}
    for cat in _DISTRICT_CATEGORIES:
        if cat not in comm["facilities"]:
            continue
        need = SPECIAL_MIN_AREA[cat]
        cands = [i for i in free if leaves[i].buildable.area >= need]
        if cat != "market":
            cands = [i for i in cands if leaves[i].zone != "old"] or cands
        if not cands:
            cands = sorted(free, key=lambda i: -leaves[i].buildable.area)[:1]
        if not cands:
            continue
        cands.sort(key=lambda i: abs(leaves[i].buildable.area - 2.2 * need))
        pick = cands[int(rng.integers(min(3, len(cands))))]
        leaves[pick].use = cat
        special_leaf[cat] = pick
        free.remove(pick)
    prio = rng.random(len(leaves))
    for i in free:
        if leaves[i].zone == "old":
            prio[i] += 0.6
        elif leaves[i].zone == "slab":
            prio[i] += 0.3
    towers = [i for i in free if leaves[i].zone == "tower"]
    if towers:  # one tower compound of the newer district comes early
        prio[max(towers, key=lambda i: prio[i])] += 0.6
    free.sort(key=lambda i: -prio[i])
    return special_leaf, free


# --------------------------------------------------------------------------------------------
# 3. buildings


def _place_buildings(
    streets: _Streets,
    special_leaf: dict[str, int],
    free: list[int],
    target: int,
    spec: TownSpec,
    rng: np.random.Generator,
) -> tuple[list[Bldg], dict[int, list[Road]]]:
    """Build the district facility blocks, housing until the target is passed, the rest.

    Parameters
    ----------
    streets
        The community's streets and blocks; the ``use`` and ``order`` of blocks are set.
    special_leaf
        District facility category -> its block.
    free
        The other blocks, in housing order.
    target
        Households the community should hold.
    spec
        The town's specification (``slab_radius``: industry lies beyond it).
    rng
        The community's random generator.

    Returns
    -------
    bldgs
        Every building, block by block.
    lanes
        Block index -> its compound lanes or park paths.
    """
    leaves = streets.leaves
    bldgs: list[Bldg] = []
    lanes: dict[int, list[Road]] = {}
    total = sum(_build_block(leaves, li, rng, bldgs, lanes) for li in sorted(special_leaf.values()))
    housing: list[int] = []
    for i in free:
        if total >= target + 40:
            break
        leaves[i].use = leaves[i].zone
        leaves[i].order = len(housing)
        housing.append(i)
        total += _build_block(leaves, i, rng, bldgs, lanes)
    for i in free:
        if leaves[i].order >= 0:
            continue
        leaves[i].use = _other_use(rng.random(), leaves[i].dist > spec.slab_radius)
        _build_block(leaves, i, rng, bldgs, lanes)
        if leaves[i].use == "park":
            paths = _park_paths(leaves[i], streets)
            if paths is not None:
                lanes[i] = paths
    return bldgs, lanes


def _build_block(
    leaves: list[Leaf],
    li: int,
    rng: np.random.Generator,
    bldgs: list[Bldg],
    lanes: dict[int, list[Road]],
) -> int:
    """Build one block by its use, some kindergartens among its buildings.

    Parameters
    ----------
    leaves
        The community's blocks.
    li
        Index of the block to build.
    rng
        The community's random generator.
    bldgs
        Buildings so far; the block's are appended.
    lanes
        Block index -> lanes; the block's are set.

    Returns
    -------
    int
        Households of the block.
    """
    b, ln = leaf_buildings(leaves[li], li, rng, "compound")
    # kindergartens (配套幼儿园) take a slab of some compounds, a house of the old quarter
    slabs = [x for x in b if x.kind == "slab"]
    if sum(x.households for x in slabs) >= 200 and len(slabs) >= 3 and rng.random() < 0.55:
        k = slabs[-1]
        k.use, k.households, k.floors, k.entrances, k.kind = "non_residential", 0, 3, None, "kg"
        k.height = 10.5
    houses = [x for x in b if x.kind == "house"]
    if len(houses) > 10 and rng.random() < 0.12:
        k = houses[int(rng.integers(len(houses)))]
        k.use, k.households, k.kind = "non_residential", 0, "kg"
    bldgs.extend(b)
    lanes[li] = ln
    return sum(x.households for x in b)


def _other_use(x: float, far: bool) -> str:
    """Use of a block left over after housing.

    Parameters
    ----------
    x
        A uniform draw in [0, 1).
    far
        Whether the block lies beyond the slab district (industry is allowed there).

    Returns
    -------
    str
        office, commercial, industrial, park or vacant.
    """
    if x < 0.3:
        return "office"
    if x < 0.5:
        return "commercial"
    if x < 0.78 and far:
        return "industrial"
    if x < 0.9:
        return "park"
    return "vacant"


def _park_paths(leaf: Leaf, streets: _Streets) -> list[Road] | None:
    """Footways of a park: a ring inside its edge and a path from its middle to the street.

    Parameters
    ----------
    leaf
        The park's block.
    streets
        The community's roads and their index.

    Returns
    -------
    list of Road or None
        The ring and the path, or ``None`` when the park is too small or the path would not
        reach a street (the park then keeps the lanes of its build).
    """
    ring = leaf.buildable.buffer(-8.0)
    if not (isinstance(ring, Polygon) and ring.area > 800):
        return None
    ext = LineString(ring.exterior.coords)
    inner = ring.representative_point()  # a path from the middle of the park
    near = streets.tree.query(leaf.poly.buffer(2.0))
    edge = (
        shapely.union_all([streets.all_roads[k] for k in near])
        if len(near)
        else (leaf.poly.exterior)
    )
    a = np.asarray(nearest_points(edge, inner)[0].coords[0])
    bpt = np.asarray(inner.coords[0])
    v = a - bpt
    if not np.hypot(*v) > 1.0:
        return None
    v = v / np.hypot(*v)
    path = LineString([bpt, a + v * 0.5])
    if not path.crosses(edge):  # the park keeps no paths
        return None
    return [Road(ext, "footway", None, True), Road(path, "footway", None, True)]


# --------------------------------------------------------------------------------------------
# 4. trimming, lanes kept, compound ids


def _trim_housing(
    bldgs: list[Bldg], leaves: list[Leaf], target: int, community_id: str
) -> list[Bldg]:
    """Trim housing to the community target: the last residential blocks go first.

    Whole blocks are dropped (and left vacant) while they fit the excess, then single
    residential buildings; a shortfall is logged.

    Parameters
    ----------
    bldgs
        Every building; the dropped ones are marked ``removed``.
    leaves
        The community's blocks; the ``use`` of dropped blocks becomes vacant.
    target
        Households the community should hold.
    community_id
        For the log.

    Returns
    -------
    list of Bldg
        The buildings kept, in their order.
    """
    res_order = sorted(
        {b.leaf for b in bldgs if b.kind in ("slab", "tower", "house")},
        key=lambda i: -leaves[i].order,
    )
    by_leaf: dict[int, list[Bldg]] = {}
    for b in bldgs:
        by_leaf.setdefault(b.leaf, []).append(b)
    excess = sum(b.households for b in bldgs) - target
    logger.debug("trim %s: total %d target %d", community_id, excess + target, target)
    for li in res_order:
        if excess <= 0:
            break
        leaf_hh = sum(b.households for b in by_leaf[li])
        if leaf_hh > excess:
            break
        for b in by_leaf[li]:
            b.removed = True
        excess -= leaf_hh
        leaves[li].use = "vacant"
    if excess > 0:
        for li in res_order:
            for b in reversed(by_leaf[li]):
                small = b.households <= excess
                if small and not b.removed and b.kind in ("slab", "tower", "house"):
                    b.removed = True
                    excess -= b.households
            if excess <= 2:
                break
    if excess < 0:
        logger.info(
            "community %s: %d households short of its target %d",
            community_id,
            -excess,
            target,
        )
    return [b for b in bldgs if not b.removed]


def _kept_lanes(
    lanes: dict[int, list[Road]], leaves: list[Leaf], live_leaves: set[int]
) -> list[Road]:
    """Lanes of the blocks that kept buildings, and park paths, in block order.

    Parameters
    ----------
    lanes
        Block index -> its lanes.
    leaves
        The community's blocks.
    live_leaves
        Indices of the blocks with buildings after trimming.

    Returns
    -------
    list of Road
        The lanes kept.
    """
    return [
        r
        for li in sorted(lanes)
        if li in live_leaves or leaves[li].use == "park"
        for r in lanes[li]
    ]


def _compound_ids(
    bldgs: list[Bldg], prefix: str, counters: Counters, rng: np.random.Generator
) -> dict[str, str]:
    """Number the compounds (小区) in block order, after trimming, and name them.

    Parameters
    ----------
    bldgs
        The buildings kept; ``compound`` of compound buildings becomes the compound id.
    prefix
        Id prefix (the community id and a dash, or empty).
    counters
        Running id numbers; ``compound`` advances.
    rng
        The community's random generator.

    Returns
    -------
    dict
        Compound id -> its name.
    """
    compound_names: dict[str, str] = {}
    comp_of_leaf: dict[int, str] = {}
    for b in bldgs:
        if b.compound is None:
            continue
        if b.leaf not in comp_of_leaf:
            counters.compound += 1
            cid = f"{prefix}XQ{counters.compound:03d}"
            comp_of_leaf[b.leaf] = cid
            compound_names[cid] = compound_name(rng)
        b.compound = comp_of_leaf[b.leaf]
    return compound_names


# --------------------------------------------------------------------------------------------
# 5. facilities


def _facilities(
    bldgs: list[Bldg],
    leaves: list[Leaf],
    special_leaf: dict[str, int],
    compound_names: dict[str, str],
    comm: dict[str, Any],
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """District facilities in their blocks, the others hosted in buildings.

    Parameters
    ----------
    bldgs
        The buildings kept.
    leaves
        The community's blocks.
    special_leaf
        District facility category -> its block.
    compound_names
        Compound id -> name.
    comm
        The community (name, facilities, target).
    rng
        The community's random generator.

    Returns
    -------
    list of dict
        category, geometry and name of each facility, unnumbered, in the order placed.
    """
    facilities: list[dict[str, Any]] = []

    def add_fac(cat: str, geom: Point, name: str) -> None:
        facilities.append({"category": cat, "geometry": geom, "name": name})

    cname = comm["name"].removesuffix("社区")
    for cat, li in special_leaf.items():
        hosts = [b for b in bldgs if b.leaf == li]
        pt = hosts[0].geometry.centroid if hosts else leaves[li].buildable.representative_point()
        label = cname + ("第二" if cat == "primary_school" and rng.random() < 0.3 else "")
        add_fac(cat, pt, label + SPECIAL_NAMES[cat])
    for b in bldgs:
        if b.kind == "kg":
            if b.compound:
                add_fac("kindergarten", b.geometry.centroid, compound_names[b.compound] + "幼儿园")
            else:
                add_fac(
                    "kindergarten",
                    b.geometry.centroid,
                    SURNAMES[int(rng.integers(40))] + "家幼儿园",
                )
    mixed = [b for b in bldgs if b.use == "mixed"]
    _service_stations(bldgs, mixed, compound_names, comm["name"], rng, add_fac)
    residential = [b for b in bldgs if b.use == "residential" and b.households > 0]
    hosts = mixed or residential
    if hosts:
        _hosted_services(bldgs, mixed, hosts, cname, comm, rng, add_fac)
    return facilities


def _service_stations(
    bldgs: list[Bldg],
    mixed: list[Bldg],
    compound_names: dict[str, str],
    name: str,
    rng: np.random.Generator,
    add_fac: Callable[[str, Point, str], None],
) -> None:
    """The community's party-and-public service centre and some compound stations.

    Parameters
    ----------
    bldgs
        The buildings kept.
    mixed
        The mixed-use buildings among them.
    compound_names
        Compound id -> name.
    name
        The community's name.
    rng
        The community's random generator.
    add_fac
        Records a facility (category, point, name).
    """
    offices = [b for b in bldgs if b.kind == "office"]
    residential = [b for b in bldgs if b.use == "residential" and b.households > 0]
    pool = offices or mixed or residential
    if pool:
        add_fac(
            "service_station",
            pool[int(rng.integers(len(pool)))].geometry.centroid,
            name + "党群服务中心",
        )
    by_comp: dict[str, list[Bldg]] = {}
    for b in bldgs:
        if b.compound:
            by_comp.setdefault(b.compound, []).append(b)
    for comp in sorted(by_comp):
        if len(by_comp[comp]) and rng.random() < 0.18:
            b = by_comp[comp][0]
            add_fac("service_station", b.geometry.centroid, compound_names[comp] + "党群服务站")


def _hosted_services(
    bldgs: list[Bldg],
    mixed: list[Bldg],
    hosts: list[Bldg],
    cname: str,
    comm: dict[str, Any],
    rng: np.random.Generator,
    add_fac: Callable[[str, Point, str], None],
) -> None:
    """Health stations, daycare, nurseries, a supermarket and convenience stores in buildings.

    Parameters
    ----------
    bldgs
        The buildings kept.
    mixed
        The mixed-use buildings among them.
    hosts
        Buildings that may host a service (mixed-use, else residential); not empty.
    cname
        The community's short name (without 社区).
    comm
        The community (facilities, target).
    rng
        The community's random generator.
    add_fac
        Records a facility (category, point, name).
    """
    target = comm["target"]
    for _ in range(1 + int(target > 3500 and rng.random() < 0.5)):
        b = hosts[int(rng.integers(len(hosts)))]
        add_fac("health_station", b.geometry.centroid, cname + "社区卫生服务站")
    for cat, label in (("elderly_daycare", "老年人日间照料中心"), ("nursery", "托育园")):
        if cat in comm["facilities"]:
            b = hosts[int(rng.integers(len(hosts)))]
            add_fac(cat, b.geometry.centroid, cname + label)
    if "supermarket" in comm["facilities"]:
        com = [b for b in bldgs if b.kind == "commercial"] or hosts
        b = com[int(rng.integers(len(com)))]
        brand = SUPERMARKETS[int(rng.integers(len(SUPERMARKETS)))]
        add_fac("supermarket", b.geometry.centroid, f"{brand}({cname}店)")
    for b in mixed:
        if rng.random() < 0.2:
            brand = STORE_BRANDS[int(rng.integers(len(STORE_BRANDS)))]
            add_fac("convenience_store", b.geometry.centroid, brand)
    for _ in range(target // 900):
        b = hosts[int(rng.integers(len(hosts)))]
        add_fac(
            "convenience_store",
            b.geometry.centroid,
            SURNAMES[int(rng.integers(40))] + "记便民店",
        )


# --------------------------------------------------------------------------------------------
# 6. building ids, household gaps, population


def _building_rows(
    bldgs: list[Bldg],
    spec: TownSpec,
    prefix: str,
    wide: bool,
    counters: Counters,
    community_id: str,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Building records: ids, population, some household counts left missing.

    Parameters
    ----------
    bldgs
        The buildings kept; ``label`` of residential ones is set (``"missing"`` for a gap).
    spec
        The town's specification (``persons_per_household``).
    prefix
        Id prefix (the community id and a dash, or empty).
    wide
        Whether ids take the wider town-scale number width.
    counters
        Running id numbers; ``building`` advances.
    community_id
        The community's id.
    rng
        The community's random generator.

    Returns
    -------
    list of dict
        One record a building, with the true ``_hh`` and ``_pop`` kept for later steps.
    """
    for b in bldgs:
        if b.use == "residential" and b.households > 0:
            b.label = "missing" if rng.random() < 0.12 else ""
    rows = []
    pph = spec.persons_per_household
    for b in bldgs:
        counters.building += 1
        bid = f"{prefix}B{counters.building:0{5 if wide else 4}d}"
        pop = round(b.households * pph * rng.uniform(0.92, 1.08)) if b.households else 0
        missing = b.label == "missing"
        rows.append(
            {
                "building_id": bid,
                "households": None if missing else b.households,
                "population": None if missing else pop,
                "floors": b.floors,
                "height": round(b.height, 1) if b.height and rng.random() < 0.6 else None,
                "use": b.use,
                "compound": b.compound,
                "entrances": b.entrances,
                "community_id": community_id,
                "geometry": b.geometry,
                "_hh": b.households,
                "_pop": pop,
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# 7. vulnerable households, candidate sites, facility ids

_VULNERABLE_KINDS: tuple[str, ...] = (
    "elderly_alone",
    "disabled",
    "low_income",
    "left_behind_child",
)


def _vulnerable(rows: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    """Vulnerable households per residential building, by kind.

    Parameters
    ----------
    rows
        Building records (with the true households ``_hh``).
    rng
        The community's random generator.

    Returns
    -------
    list of dict
        building_id, households, kind.
    """
    vulnerable = []
    for r in rows:
        hh = r["_hh"]
        if hh <= 0 or r["use"] == "non_residential":
            continue
        rate = (
            0.09
            if r["compound"] is None
            else (0.05 if r["entrances"] is None or r["floors"] < 10 else 0.025)
        )
        n = int(rng.binomial(hh, rate))
        if n == 0:
            continue
        kinds = rng.choice(4, size=n, p=[0.45, 0.15, 0.25, 0.15])
        for k, cnt in zip(*np.unique(kinds, return_counts=True), strict=True):
            vulnerable.append(
                {
                    "building_id": r["building_id"],
                    "households": int(cnt),
                    "kind": _VULNERABLE_KINDS[int(k)],
                }
            )
    return vulnerable


#: Facilities of the 5-minute tier a candidate site may host.
_FIVE_MINUTE: tuple[str, ...] = (
    "service_station",
    "kindergarten",
    "nursery",
    "elderly_daycare",
    "health_station",
)


def _candidate_sites(
    leaves: list[Leaf],
    live_leaves: set[int],
    offices: list[Bldg],
    prefix: str,
    wide: bool,
    counters: Counters,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Candidate sites: vacant blocks without buildings, and up to two office buildings.

    Parameters
    ----------
    leaves
        The community's blocks.
    live_leaves
        Indices of the blocks with buildings.
    offices
        The office buildings kept.
    prefix
        Id prefix (the community id and a dash, or empty).
    wide
        Whether ids take the wider town-scale number width.
    counters
        Running id numbers; ``site`` advances.
    rng
        The community's random generator.

    Returns
    -------
    list of dict
        categories (``;``-joined), geometry, site_id.
    """
    five = list(_FIVE_MINUTE)
    sites = []
    for li, leaf in enumerate(leaves):
        if leaf.use == "vacant" and li not in live_leaves and leaf.buildable.area > 600:
            cats = sorted(
                rng.choice(
                    [*five, "market", "primary_school"], size=int(rng.integers(2, 5)), replace=False
                ).tolist()
            )
            sites.append(
                {"categories": ";".join(cats), "geometry": leaf.buildable.representative_point()}
            )
    for b in rng.permutation(len(offices))[:2]:
        cats = sorted(rng.choice(five, size=int(rng.integers(1, 4)), replace=False).tolist())
        sites.append({"categories": ";".join(cats), "geometry": offices[int(b)].geometry.centroid})
    for s in sites:
        counters.site += 1
        s["site_id"] = f"{prefix}S{counters.site:0{4 if wide else 3}d}"
    return sites


def _number_facilities(
    facilities: list[dict[str, Any]], prefix: str, wide: bool, counters: Counters
) -> None:
    """Sort the facilities by category and give them ids, in place.

    Parameters
    ----------
    facilities
        Facility records; sorted (stable) and given ``facility_id``.
    prefix
        Id prefix (the community id and a dash, or empty).
    wide
        Whether ids take the wider town-scale number width.
    counters
        Running id numbers; ``facility`` advances.
    """
    cat_rank = {c: i for i, c in enumerate(FACILITY_CATEGORIES)}
    facilities.sort(key=lambda f: cat_rank[f["category"]])
    for f in facilities:
        counters.facility += 1
        f["facility_id"] = f"{prefix}F{counters.facility:0{4 if wide else 3}d}"
