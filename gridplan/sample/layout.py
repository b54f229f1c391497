"""Town layout of the sample generator: roads, river, rail, communities, streets, blocks.

The frame of arterials, the river and the railway, the communities merged from the blocks
they cut, the street subdivision of a community into blocks, and the final noding of the
road network. Private to :mod:`gridplan.sample`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.ops import polygonize, split

from gridplan._errors import ConfigError
from gridplan.sample.geometry import WGS84, _lines, extend, polys
from gridplan.sample.names import ARTERIAL_NAMES, NAME_CHARS, SURNAMES
from gridplan.sample.spec import TownSpec

# Half widths of the carriageway plus pavement, metres (buildings keep clear of these).
HALF_WIDTH = {
    "trunk": 20.0,
    "primary": 16.0,
    "secondary": 11.0,
    "tertiary": 8.0,
    "residential": 4.5,
    "service": 3.0,
    "footway": 1.5,
}
CLASS_RANK = {c: i for i, c in enumerate(HALF_WIDTH)}

# Largest block the street subdivision leaves, m² (and the smallest piece it cuts).
BLOCK_AREA = {"old": (4200.0, 1300.0), "slab": (36000.0, 11000.0), "tower": (42000.0, 14000.0)}


# --------------------------------------------------------------------------------------------
# Town layout: frame, arterials, river, rail, communities
# --------------------------------------------------------------------------------------------


@dataclass
class Road:
    geometry: LineString
    road_class: str
    name: str | None = None
    walkable: bool | None = None


@dataclass
class Layout:
    spec: TownSpec
    crs: CRS
    origin: tuple[float, float]
    rotation: float
    roads: list[Road]  # town-level roads (arterials, riverside roads, footbridge)
    river_line: LineString
    river_zone: Polygon  # no building land: water plus banks up to the riverside roads
    rail_line: LineString | None
    rail_zone: Polygon | None
    barriers: list[dict[str, Any]]
    atoms: list[Polygon]
    communities: list[dict[str, Any]]
    old_centre: Point


def _wiggly(
    p0: tuple[float, float], p1: tuple[float, float], rng: np.random.Generator, n: int, amp: float
) -> LineString:
    """A polyline from ``p0`` to ``p1`` with interior vertices pushed sideways up to ``amp``."""
    t = np.linspace(0.0, 1.0, n)
    x = p0[0] + (p1[0] - p0[0]) * t
    y = p0[1] + (p1[1] - p0[1]) * t
    length = math.hypot(p1[0] - p0[0], p1[1] - p0[1])
    nx, ny = -(p1[1] - p0[1]) / length, (p1[0] - p0[0]) / length
    off = np.zeros(n)
    off[1:-1] = np.cumsum(rng.uniform(-amp, amp, n - 2)) * 0.6
    off[1:-1] = np.clip(off[1:-1], -amp, amp)
    return LineString(np.column_stack([x + nx * off, y + ny * off]))


def _layout(spec: TownSpec, seed: int) -> Layout:
    rng = np.random.default_rng([seed, 1_000_003, spec.index])
    w2, h2 = spec.width / 2.0, spec.height / 2.0
    frame = box(-w2, -h2, w2, h2)
    ov = 0.5
    names = list(ARTERIAL_NAMES)
    rng.shuffle(names)
    name_iter = iter(names * 4)

    # arterials: straight frame edges (a ring road, the north side a trunk road) and wiggly
    # interior lines at about ``arterial_spacing``
    roads: list[Road] = []
    ncol = max(2, round(spec.width / spec.arterial_spacing))
    nrow = max(1, round(spec.height / spec.arterial_spacing))
    xs = np.linspace(-w2, w2, ncol + 1)
    ys = np.linspace(-h2, h2, nrow + 1)
    xs[1:-1] += rng.uniform(-0.12, 0.12, ncol - 1) * spec.width / ncol
    ys[1:-1] += rng.uniform(-0.12, 0.12, nrow - 1) * spec.height / nrow
    vertical: list[LineString] = []
    horizontal: list[LineString] = []
    for i, x in enumerate(xs):
        if i in (0, ncol):
            line = LineString([(x, -h2 - ov), (x, h2 + ov)])
        else:
            line = extend(_wiggly((x, -h2), (x, h2), rng, 6, 14.0), ov)
        vertical.append(line)
    for j, y in enumerate(ys):
        if j in (0, nrow):
            line = LineString([(-w2 - ov, y), (w2 + ov, y)])
        else:
            line = extend(_wiggly((-w2, y), (w2, y), rng, 7, 14.0), ov)
        horizontal.append(line)

    # the river: a meander from north to south through the western part of the frame
    # (in the middle of an arterial column, so the banks keep clear of the arterials)
    c = max(0, ncol // 2 - (1 if ncol >= 4 else 0))
    colw = float(xs[c + 1] - xs[c])
    x0 = float(xs[c] + xs[c + 1]) / 2
    amp = rng.uniform(0.16, 0.24) * colw
    lam = rng.uniform(0.9, 1.3) * spec.height
    phase = rng.uniform(0, 2 * math.pi)
    yy = np.linspace(-h2 - 300.0, h2 + 300.0, 90)
    xx = x0 + amp * np.sin(2 * math.pi * (yy + h2) / lam + phase) + 0.02 * yy
    river_line = LineString(np.column_stack([xx, yy]))
    bank = spec.river_half_width + 14.0
    river_zone = river_line.buffer(bank, quad_segs=4)
    water = river_line.buffer(spec.river_half_width, quad_segs=4).intersection(
        frame.buffer(250.0, join_style="mitre")
    )
    barriers: list[dict[str, Any]] = [{"geometry": water, "kind": "river", "name": spec.river_name}]

    # rail (city): a straight line across the south of the frame
    rail_line = None
    rail_zone = None
    if spec.rail:
        yr = -h2 + spec.height * rng.uniform(0.2, 0.3)
        tilt = rng.uniform(-0.08, 0.08) * spec.height
        rail_line = LineString([(-w2 - 400.0, yr - tilt), (w2 + 400.0, yr + tilt)])
        rail_zone = rail_line.buffer(18.0, cap_style="flat")
        barriers.append({"geometry": rail_line, "kind": "rail", "name": spec.rail_name})

    # bridges: the crossing arterials nearest the middle keep their span, the rest stop at
    # the riverside road
    crossing = sorted(range(len(horizontal)), key=lambda j: (abs(ys[j]), j))
    bridged = set(crossing[: spec.bridges])
    cut_zone = river_line.buffer(bank - ov, quad_segs=4)
    for i, line in enumerate(vertical):
        cls = "primary" if i in (0, ncol) or i % 2 == 0 else "secondary"
        nm = next(name_iter)
        for part in _lines(line.difference(cut_zone)):
            roads.append(Road(part, cls, nm))
    for j, line in enumerate(horizontal):
        cls = "trunk" if j == nrow else ("primary" if j == 0 or j % 2 == 1 else "secondary")
        nm = spec.trunk_name if j == nrow else next(name_iter)
        parts = [line] if j in bridged else _lines(line.difference(cut_zone))
        for part in parts:
            roads.append(Road(part, cls, nm, False if cls == "trunk" else None))
    # riverside roads (滨河路) along both banks, and one footbridge between two bridges
    big = box(-w2 - ov, -h2 - ov, w2 + ov, h2 + ov)
    for k, part in enumerate(_lines(river_zone.exterior.intersection(big))):
        if part.length > 50.0:
            roads.append(Road(part, "tertiary", "滨河东路" if k % 2 else "滨河西路"))
    yb = float(rng.uniform(-0.3, 0.3) * spec.height)
    xc = float(np.interp(yb, yy, xx))
    probe = LineString([(xc - 3 * bank, yb), (xc + 3 * bank, yb)])
    for part in _lines(probe.intersection(river_zone.buffer(ov))):
        roads.append(Road(part, "footway", "风雨桥", True))

    # atoms: the frame cut by arterials, the river and the rail; then merged into communities
    cutters = [*vertical, *horizontal, river_line]
    if rail_line is not None:
        cutters.append(rail_line)
    noded = shapely.union_all([*cutters, frame.exterior])
    atoms = [p for p in polygonize(_lines(noded)) if frame.contains(p.representative_point())]
    atoms = [shapely.normalize(p) for p in atoms if p.area > 1.0]
    atoms.sort(key=lambda p: (-round(p.centroid.y, 3), round(p.centroid.x, 3)))
    groups = _merge_atoms(atoms, spec.n_communities, river_line, rail_line)

    # old centre: on the east bank near the middle of the town
    yo = float(rng.uniform(-0.15, 0.15) * spec.height)
    xo = float(np.interp(yo, yy, xx)) + bank + 80.0
    old_centre = Point(xo, yo)

    # community targets: share of land, shaken, scaled to the town total
    areas = np.array([sum(atoms[a].area for a in g) for g in groups])
    share = areas * rng.uniform(0.85, 1.15, len(groups))
    share = share / share.sum()
    targets = np.floor(share * spec.households).astype(int)
    targets[np.argmax(targets)] += spec.households - int(targets.sum())

    comms: list[dict[str, Any]] = []
    for k, g in enumerate(groups):
        poly = shapely.union_all([atoms[a] for a in g])
        if isinstance(poly, MultiPolygon):  # never expected: merged atoms share edges
            poly = max(poly.geoms, key=lambda p: p.area)
        gk = spec.first_community + k
        comms.append(
            {
                "index": gk,
                "community_id": f"C{gk + 1:0{spec.id_width}d}",
                "name": spec.community_names[k],
                "geometry": shapely.normalize(poly),
                "atoms": [atoms[a] for a in g],
                "target": int(targets[k]),
                "facilities": {},
            }
        )
    _allocate_facilities(comms, rng)

    crs = CRS.from_epsg(32600 + int((spec.lon + 180.0) // 6.0) + 1)
    to_utm = Transformer.from_crs(WGS84, crs, always_xy=True)
    e0, n0 = to_utm.transform(spec.lon, spec.lat)
    return Layout(
        spec=spec,
        crs=crs,
        origin=(float(e0), float(n0)),
        rotation=float(rng.uniform(-9.0, 9.0)),
        roads=roads,
        river_line=river_line,
        river_zone=river_zone,
        rail_line=rail_line,
        rail_zone=rail_zone,
        barriers=barriers,
        atoms=atoms,
        communities=comms,
        old_centre=old_centre,
    )


def _merge_atoms(
    atoms: list[Polygon], n: int, river: LineString, rail: LineString | None
) -> list[list[int]]:
    """Merge neighbouring atoms until ``n`` groups remain, preferring arterial edges."""
    groups: list[list[int]] = [[i] for i in range(len(atoms))]
    if len(atoms) < n:
        msg = f"sample layout has {len(atoms)} blocks for {n} communities; enlarge the frame"
        raise ConfigError(msg)
    tree = shapely.STRtree(atoms)
    weight: dict[tuple[int, int], float] = {}
    for i, a in enumerate(atoms):
        for j in tree.query(a, predicate="touches"):
            j = int(j)
            if j <= i:
                continue
            shared = a.boundary.intersection(atoms[j].boundary)
            length = shared.length
            if length <= 0:
                continue
            mid = shared.centroid
            if mid.distance(river) < 1.0 or (rail is not None and mid.distance(rail) < 1.0):
                length *= 0.01  # communities rarely straddle the river or the railway
            weight[(i, j)] = length
    owner = list(range(len(atoms)))
    area = [a.area for a in atoms]
    while len(groups) > n:
        land: dict[tuple[int, int], float] = {}
        for (i, j), wgt in weight.items():
            oi, oj = owner[i], owner[j]
            if oi == oj:
                continue
            key = (min(oi, oj), max(oi, oj))
            land[key] = land.get(key, 0.0) + wgt
        if not land:
            break
        garea = {g[0]: sum(area[a] for a in g) for g in groups}

        def cost(
            key: tuple[int, int],
            land: dict[tuple[int, int], float] = land,
            garea: dict[int, float] = garea,
        ) -> tuple[float, int, int]:
            across = land[key] < 5.0  # only a river or rail edge between them
            return ((garea[key[0]] + garea[key[1]]) * (25.0 if across else 1.0), *key)

        gi, gj = min(land, key=cost)
        ki = next(idx for idx, g in enumerate(groups) if g[0] == gi)
        kj = next(idx for idx, g in enumerate(groups) if g[0] == gj)
        merged = sorted(groups[ki] + groups[kj])
        for a in merged:
            owner[a] = merged[0]
        groups = [g for idx, g in enumerate(groups) if idx not in (ki, kj)] + [merged]
    groups.sort(
        key=lambda g: (
            -round(shapely.union_all([atoms[a] for a in g]).centroid.y, -1),
            round(shapely.union_all([atoms[a] for a in g]).centroid.x, -1),
        )
    )
    return groups


def _allocate_facilities(comms: list[dict[str, Any]], rng: np.random.Generator) -> None:
    """Decide which communities host each district facility (with deliberate gaps)."""
    n = len(comms)
    rates = {
        "primary_school": 0.75,
        "secondary_school": 0.35,
        "health_center": 0.3,
        "culture_center": 0.3,
        "sports": 0.3,
        "elderly_home": 0.3,
        "elderly_daycare": 0.7,
        "nursery": 0.4,
        "supermarket": 0.8,
    }
    for cat, rate in rates.items():
        k = max(1, min(n, round(rate * n)))
        for c in sorted(rng.choice(n, size=k, replace=False).tolist()):
            comms[c]["facilities"][cat] = 1
    lacking = max(1, round(0.15 * n)) if n > 1 else 0  # communities without a market
    no_market = set(rng.choice(n, size=lacking, replace=False).tolist()) if lacking else set()
    for c in range(n):
        if c not in no_market:
            comms[c]["facilities"]["market"] = 1


# --------------------------------------------------------------------------------------------
# Street subdivision and blocks
# --------------------------------------------------------------------------------------------


@dataclass
class Leaf:
    poly: Polygon  # the block up to the street centre lines
    buildable: Polygon  # the block less road reserves and setbacks
    zone: str  # old / slab / tower
    dist: float
    use: str = "vacant"
    order: int = -1


def _zone(spec: TownSpec, centre: Point, p: Point, rng: np.random.Generator) -> tuple[str, float]:
    d = p.distance(centre) * rng.uniform(0.88, 1.12)
    if d < spec.old_radius:
        return "old", d
    if d < spec.slab_radius:
        return ("tower" if rng.random() < 0.15 else "slab"), d
    return ("tower" if rng.random() < 0.45 else "slab"), d


def bsp(
    poly: Polygon,
    sizes: tuple[float, float],
    centre: Point,
    old_radius: float,
    rng: np.random.Generator,
    leaves: list[Polygon],
    chords: list[Road],
    names: Iterator[str],
) -> None:
    """Split ``poly`` by streets across its long side until its pieces are blocks.

    Pieces reaching into the old quarter (within ``old_radius`` of ``centre``) are cut into
    small irregular blocks, the others into compound-sized blocks (``sizes``: largest block,
    smallest piece).
    """
    stack = [poly]
    while stack:
        p = stack.pop()
        old = p.distance(centre) < old_radius
        max_area, min_area = BLOCK_AREA["old"] if old else sizes
        if p.area <= max_area:
            leaves.append(p)
            continue
        mrr = np.asarray(p.minimum_rotated_rectangle.exterior.coords)
        e0, e1 = mrr[1] - mrr[0], mrr[2] - mrr[1]
        long_v, short_v = (e0, e1) if np.hypot(*e0) >= np.hypot(*e1) else (e1, e0)
        length = float(np.hypot(*long_v))
        mid = mrr[:4].mean(axis=0)
        t = rng.uniform(0.32, 0.68) if old else rng.uniform(0.42, 0.58)
        at = mid + (t - 0.5) * long_v
        jit = math.radians(rng.uniform(-14, 14) if old else rng.uniform(-3, 3))
        u = short_v / np.hypot(*short_v)
        u = np.array(
            [
                u[0] * math.cos(jit) - u[1] * math.sin(jit),
                u[0] * math.sin(jit) + u[1] * math.cos(jit),
            ]
        )
        reach = length + float(np.hypot(*short_v))
        cut = LineString([at - u * reach, at + u * reach])
        pieces = polys(split(p, cut))
        if len(pieces) < 2 or min(q.area for q in pieces) < min_area:
            leaves.append(p)
            continue
        a = p.area
        if a > 250_000:
            cls = "secondary"
        elif a > 60_000:
            cls = "tertiary"
        elif a > 9_000 or not old:
            cls = "residential"
        else:
            cls = str(rng.choice(["residential", "residential", "footway", "service"]))
        for chord in _lines(cut.intersection(p)):
            if chord.length < 5.0:
                continue
            nm: str | None = None
            if cls in ("secondary", "tertiary") or (cls == "residential" and rng.random() < 0.6):
                nm = next(names)
            chords.append(Road(extend(chord), cls, nm, True if cls == "footway" else None))
        stack.extend(
            sorted(
                pieces, key=lambda q: (round(q.centroid.x, 3), round(q.centroid.y, 3)), reverse=True
            )
        )


def street_names(rng: np.random.Generator) -> Iterator[str]:
    chars = list(NAME_CHARS)
    while True:
        a, b = rng.choice(len(chars), size=2, replace=False)
        r = rng.random()
        if r < 0.45:
            yield chars[a] + chars[b] + "路"
        elif r < 0.7:
            yield chars[a] + chars[b] + "街"
        elif r < 0.85:
            yield SURNAMES[int(rng.integers(30))] + "家巷"
        else:
            yield chars[a] + chars[b] + "巷"


# --------------------------------------------------------------------------------------------
# Roads: shared junction vertices, trimmed overshoots
# --------------------------------------------------------------------------------------------


def junctions(roads: list[Road]) -> list[Road]:
    """Insert every crossing as a vertex shared by both ways; drop < 2 m overshoots."""
    geoms = np.array([r.geometry for r in roads], dtype=object)
    tree = shapely.STRtree(geoms)
    ia, ib = tree.query(geoms, predicate="intersects")
    keep = ia < ib
    ia, ib = ia[keep], ib[keep]
    inter = shapely.intersection(geoms[ia], geoms[ib])
    extra: dict[int, list[np.ndarray]] = {}
    for a, b, g in zip(ia.tolist(), ib.tolist(), inter, strict=True):
        pts = []
        for part in shapely.get_parts(g):
            if isinstance(part, Point):
                pts.append(np.asarray(part.coords[0]))
            elif isinstance(part, LineString) and not part.is_empty:
                c = np.asarray(part.coords)
                pts.extend([c[0], c[-1]])
        for p in pts:
            extra.setdefault(a, []).append(p)
            extra.setdefault(b, []).append(p)
    out = []
    for i, r in enumerate(roads):
        line = r.geometry
        coords = np.asarray(line.coords)
        if i not in extra:
            out.append(r)
            continue
        seg = np.hypot(*np.diff(coords, axis=0).T)
        pos = np.concatenate([[0.0], np.cumsum(seg)])
        jp = np.array(extra[i])
        jpos = shapely.line_locate_point(line, shapely.points(jp))
        allp = np.concatenate([coords, jp])
        allpos = np.concatenate([pos, jpos])
        isj = np.concatenate([np.zeros(len(coords), bool), np.ones(len(jp), bool)])
        order = np.lexsort((~isj, allpos))
        allp, allpos, isj = allp[order], allpos[order], isj[order]
        # drop original vertices that coincide with a junction
        keep_v = np.ones(len(allp), bool)
        for k in range(len(allp)):
            if not isj[k]:
                near = np.abs(allpos - allpos[k]) < 1e-6
                if np.any(near & isj):
                    keep_v[k] = False
        allp, allpos, isj = allp[keep_v], allpos[keep_v], isj[keep_v]
        # collapse repeated junction points
        dedup = np.ones(len(allp), bool)
        dedup[1:] = np.hypot(*np.diff(allp, axis=0).T) > 1e-9
        allp, allpos, isj = allp[dedup], allpos[dedup], isj[dedup]
        jidx = np.flatnonzero(isj)
        lo, hi = 0, len(allp) - 1
        if len(jidx):
            if 0 < allpos[jidx[0]] - allpos[0] < 2.0:
                lo = int(jidx[0])
            if 0 < allpos[-1] - allpos[jidx[-1]] < 2.0:
                hi = int(jidx[-1])
        kept = allp[lo : hi + 1]
        if len(kept) >= 2:
            out.append(Road(LineString(kept), r.road_class, r.name, r.walkable))
    # a stub that only reached its street is trimmed; isolated stubs under 2 m go
    return [r for r in out if r.geometry.length >= 2.0]
