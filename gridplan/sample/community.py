"""One community of the sample generator: every layer, in the local metric frame.

Blocks and their uses, buildings trimmed to the household target, facilities, building
ids and household gaps, the roster, vulnerable households and candidate sites.
Private to :mod:`gridplan.sample`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import nearest_points

from gridplan.sample.buildings import (
    _SPECIAL_MIN_AREA,
    _SPECIAL_NAMES,
    _Bldg,
    _compound_name,
    _leaf_buildings,
)
from gridplan.sample.geometry import _polys
from gridplan.sample.layout import (
    _BLOCK_AREA,
    _HALF_WIDTH,
    _bsp,
    _Layout,
    _Leaf,
    _Road,
    _street_names,
    _zone,
)
from gridplan.sample.names import _STORE_BRANDS, _SUPERMARKETS, _SURNAMES
from gridplan.sample.people import _people
from gridplan.sample.spec import _Counters
from gridplan.settings import FACILITY_CATEGORIES

# the public module's logger, so log lines keep the name they had before the split
logger = logging.getLogger(__name__)


def _community(
    lay: _Layout, comm: dict[str, Any], seed: int, counters: _Counters
) -> dict[str, Any]:
    """Generate every layer of one community (local metric frame)."""
    spec = lay.spec
    rng = np.random.default_rng([seed, comm["index"]])
    prefix = f"{comm['community_id']}-" if spec.prefixed_ids else ""
    wide = not spec.prefixed_ids
    if spec.prefixed_ids:
        counters = _Counters()
    names = _street_names(rng)

    # 1. streets and blocks
    chords: list[_Road] = []
    raw_leaves: list[Polygon] = []
    for atom in comm["atoms"]:
        land = atom.difference(lay.river_zone)
        if lay.rail_zone is not None:
            land = land.difference(lay.rail_zone)
        for part in _polys(land):
            if part.area < 2000:
                continue
            zone, _ = _zone(spec, lay.old_centre, part.representative_point(), rng)
            sizes = _BLOCK_AREA["tower" if zone == "tower" else "slab"]
            _bsp(part, sizes, lay.old_centre, spec.old_radius, rng, raw_leaves, chords, names)
    all_roads = [r.geometry for r in lay.roads] + [r.geometry for r in chords]
    reserve = [
        r.geometry.buffer(_HALF_WIDTH[r.road_class], quad_segs=2) for r in [*lay.roads, *chords]
    ]
    tree = shapely.STRtree(all_roads)
    leaves: list[_Leaf] = []
    for p in raw_leaves:
        zone, dist = _zone(spec, lay.old_centre, p.representative_point(), rng)
        if p.area < _BLOCK_AREA["slab"][1]:
            zone = "old"  # small blocks at the edge of the old quarter hold houses
        elif zone == "old":
            zone = "slab"
        setback = 0.8 if zone == "old" else rng.uniform(2.0, 4.0)
        near = tree.query(p.buffer(2.0))
        block = p
        if len(near):
            block = p.difference(shapely.union_all([reserve[i] for i in near]))
        block = block.buffer(-setback, join_style="mitre")
        parts = _polys(block)
        if not parts:
            continue
        main = max(parts, key=lambda q: q.area)
        if main.area < 250.0:
            continue
        leaves.append(_Leaf(p, main, zone, dist))

    # 2. block uses: district facilities first, then housing up to the target, then the rest
    free = list(range(len(leaves)))
    special_leaf: dict[str, int] = {}
    for cat in (
        "secondary_school",
        "primary_school",
        "market",
        "health_center",
        "sports",
        "culture_center",
        "elderly_home",
    ):
        if cat not in comm["facilities"]:
            continue
        need = _SPECIAL_MIN_AREA[cat]
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
    target = comm["target"]

    # 3. buildings: district facility blocks, housing until the target is passed, the rest
    bldgs: list[_Bldg] = []
    lanes: dict[int, list[_Road]] = {}

    def build(li: int) -> int:
        b, ln = _leaf_buildings(leaves[li], li, rng, "compound")
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

    total = sum(build(li) for li in sorted(special_leaf.values()))
    housing: list[int] = []
    for i in free:
        if total >= target + 40:
            break
        leaves[i].use = leaves[i].zone
        leaves[i].order = len(housing)
        housing.append(i)
        total += build(i)
    for i in free:
        if leaves[i].order >= 0:
            continue
        x = rng.random()
        far = leaves[i].dist > spec.slab_radius
        if x < 0.3:
            leaves[i].use = "office"
        elif x < 0.5:
            leaves[i].use = "commercial"
        elif x < 0.78 and far:
            leaves[i].use = "industrial"
        elif x < 0.9:
            leaves[i].use = "park"
        else:
            leaves[i].use = "vacant"
        total += build(i)
        leaf = leaves[i]
        if leaf.use == "park":
            ring = leaf.buildable.buffer(-8.0)
            if isinstance(ring, Polygon) and ring.area > 800:
                ext = LineString(ring.exterior.coords)
                inner = ring.representative_point()  # a path from the middle of the park
                near = tree.query(leaf.poly.buffer(2.0))
                edge = (
                    shapely.union_all([all_roads[k] for k in near])
                    if len(near)
                    else (leaf.poly.exterior)
                )
                a = np.asarray(nearest_points(edge, inner)[0].coords[0])
                bpt = np.asarray(inner.coords[0])
                v = a - bpt
                if np.hypot(*v) > 1.0:
                    v = v / np.hypot(*v)
                    path = LineString([bpt, a + v * 0.5])
                    if path.crosses(edge):  # else the park keeps no paths
                        lanes[i] = [
                            _Road(ext, "footway", None, True),
                            _Road(path, "footway", None, True),
                        ]

    # 4. trim housing to the community target (the last residential blocks go first)
    excess = total - target
    res_order = sorted(
        {b.leaf for b in bldgs if b.kind in ("slab", "tower", "house")},
        key=lambda i: -leaves[i].order,
    )
    by_leaf: dict[int, list[_Bldg]] = {}
    for b in bldgs:
        by_leaf.setdefault(b.leaf, []).append(b)
    excess = sum(b.households for b in bldgs) - target
    logger.debug("trim %s: total %d target %d", comm["community_id"], excess + target, target)
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
    bldgs = [b for b in bldgs if not b.removed]
    live_leaves = {b.leaf for b in bldgs}
    road_extra = [
        r
        for li in sorted(lanes)
        if li in live_leaves or leaves[li].use == "park"
        for r in lanes[li]
    ]
    if excess < 0:
        logger.info(
            "community %s: %d households short of its target %d",
            comm["community_id"],
            -excess,
            target,
        )
    # compound ids in block order, after trimming
    compound_names: dict[str, str] = {}
    comp_of_leaf: dict[int, str] = {}
    for b in bldgs:
        if b.compound is None:
            continue
        if b.leaf not in comp_of_leaf:
            counters.compound += 1
            cid = f"{prefix}XQ{counters.compound:03d}"
            comp_of_leaf[b.leaf] = cid
            compound_names[cid] = _compound_name(rng)
        b.compound = comp_of_leaf[b.leaf]

    # 5. facilities hosted in buildings (converting some), district facilities in their blocks
    facilities: list[dict[str, Any]] = []

    def add_fac(cat: str, geom: Point, name: str) -> None:
        facilities.append({"category": cat, "geometry": geom, "name": name})

    cname = comm["name"].removesuffix("社区")
    for cat, li in special_leaf.items():
        hosts = [b for b in bldgs if b.leaf == li]
        pt = hosts[0].geometry.centroid if hosts else leaves[li].buildable.representative_point()
        label = cname + ("第二" if cat == "primary_school" and rng.random() < 0.3 else "")
        add_fac(cat, pt, label + _SPECIAL_NAMES[cat])
    by_comp: dict[str, list[_Bldg]] = {}
    for b in bldgs:
        if b.compound:
            by_comp.setdefault(b.compound, []).append(b)
    for b in bldgs:
        if b.kind == "kg":
            if b.compound:
                add_fac("kindergarten", b.geometry.centroid, compound_names[b.compound] + "幼儿园")
            else:
                add_fac(
                    "kindergarten",
                    b.geometry.centroid,
                    _SURNAMES[int(rng.integers(40))] + "家幼儿园",
                )
    mixed = [b for b in bldgs if b.use == "mixed"]
    offices = [b for b in bldgs if b.kind == "office"]
    residential = [b for b in bldgs if b.use == "residential" and b.households > 0]
    pool = offices or mixed or residential
    if pool:
        add_fac(
            "service_station",
            pool[int(rng.integers(len(pool)))].geometry.centroid,
            comm["name"] + "党群服务中心",
        )
    comps = sorted(by_comp)
    for comp in comps:
        if len(by_comp[comp]) and rng.random() < 0.18:
            b = by_comp[comp][0]
            add_fac("service_station", b.geometry.centroid, compound_names[comp] + "党群服务站")
    hosts = mixed or residential
    if hosts:
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
            brand = _SUPERMARKETS[int(rng.integers(len(_SUPERMARKETS)))]
            add_fac("supermarket", b.geometry.centroid, f"{brand}({cname}店)")
        for b in mixed:
            if rng.random() < 0.2:
                brand = _STORE_BRANDS[int(rng.integers(len(_STORE_BRANDS)))]
                add_fac("convenience_store", b.geometry.centroid, brand)
        for _ in range(target // 900):
            b = hosts[int(rng.integers(len(hosts)))]
            add_fac(
                "convenience_store",
                b.geometry.centroid,
                _SURNAMES[int(rng.integers(40))] + "记便民店",
            )

    # 6. building ids, household gaps, population
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
                "community_id": comm["community_id"],
                "geometry": b.geometry,
                "_hh": b.households,
                "_pop": pop,
            }
        )
    true_hh = sum(r["_hh"] for r in rows)
    true_pop = sum(r["_pop"] for r in rows)

    # 7. people, vulnerable households, candidate sites
    people = _people(rows, rng, prefix, wide, counters, comm)
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
                    "kind": ("elderly_alone", "disabled", "low_income", "left_behind_child")[
                        int(k)
                    ],
                }
            )
    sites = []
    five = ["service_station", "kindergarten", "nursery", "elderly_daycare", "health_station"]
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
    cat_rank = {c: i for i, c in enumerate(FACILITY_CATEGORIES)}
    facilities.sort(key=lambda f: cat_rank[f["category"]])
    for f in facilities:
        counters.facility += 1
        f["facility_id"] = f"{prefix}F{counters.facility:0{4 if wide else 3}d}"

    census = {
        "community_id": comm["community_id"],
        "name": comm["name"],
        "households_total": round(true_hh * (1 + rng.normal(0, 0.015))),
        "population_total": round(true_pop * (1 + rng.normal(0, 0.015))),
        "geometry": comm["geometry"],
    }
    return {
        "_households": true_hh,
        "communities": [census],
        "buildings": rows,
        "roads": [*chords, *road_extra],
        "facilities": facilities,
        "people": people,
        "vulnerable": vulnerable,
        "sites": sites,
    }
