"""Buildings of the sample generator: compounds of slabs, towers, the old quarter, the rest.

Footprints (with households, floors, use, compound and entrances) and compound lanes of one
block by its use. Private to :mod:`gridplan.sample`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from gridplan.sample.geometry import _lines, _rects, extend, frame_angle, rotate
from gridplan.sample.layout import Leaf, Road
from gridplan.sample.names import COMPOUND_A, COMPOUND_SUFFIX


@dataclass
class Bldg:
    geometry: Polygon
    households: int
    floors: int
    use: str
    kind: str  # slab / tower / house / shop / school / office / ...
    compound: str | None = None
    entrances: int | None = None
    leaf: int = -1
    height: float | None = None
    removed: bool = False
    label: str = ""


def _place(
    rot: Polygon,
    rng: np.random.Generator,
    lengths: np.ndarray,
    depth: float,
    col_gap: float,
    row_gap: float,
    max_rows: int = 99,
) -> list[tuple[Polygon, int, int]]:
    """Rows of rectangles (cycling through ``lengths``) that fit inside ``rot``.

    Returns (rectangle, row, index-in-lengths) in placement order.
    """
    minx, miny, maxx, maxy = rot.bounds
    out: list[tuple[Polygon, int, int]] = []
    y = miny + rng.uniform(0.5, 4.0)
    row = 0
    while y + depth <= maxy and row < max_rows:
        x = minx + rng.uniform(0.5, col_gap)
        cx, ks = [], []
        k = 0
        while x + lengths[k % len(lengths)] <= maxx:
            ln = lengths[k % len(lengths)]
            cx.append(x + ln / 2)
            ks.append(k % len(lengths))
            x += ln + col_gap
            k += 1
        if cx:
            ln_arr = lengths[np.asarray(ks)]
            rects = _rects(
                np.asarray(cx), np.full(len(cx), y + depth / 2), ln_arr, np.full(len(cx), depth)
            )
            ok = shapely.contains_properly(rot, rects)
            placed = [(r, row, kk) for r, kk, good in zip(rects, ks, ok, strict=True) if good]
            out.extend(placed)
            if placed:
                row += 1
        y += depth + row_gap
    return out


def _lanes_between_rows(
    rot: Polygon,
    placed: list[tuple[Polygon, int, int]],
    leaf: Polygon,
    angle: float,
    c: Point,
    every: int,
) -> list[Road]:
    """Compound service lanes in the gaps between rows, reaching the bounding streets."""
    rows: dict[int, tuple[float, float]] = {}
    for r, row, _ in placed:
        y0, y1 = r.bounds[1], r.bounds[3]
        lo, hi = rows.get(row, (y0, y1))
        rows[row] = (min(lo, y0), max(hi, y1))
    ordered = [rows[k] for k in sorted(rows)]
    minx, _, maxx, _ = rot.bounds
    lanes = []
    for i in range(len(ordered) - 1):
        if i % every:
            continue
        ym = (ordered[i][1] + ordered[i + 1][0]) / 2
        probe = LineString([(minx - 80.0, ym), (maxx + 80.0, ym)])
        world = rotate(probe, angle, c.x, c.y)
        for part in _lines(world.intersection(leaf)):
            if part.length > 30.0:
                lanes.append(Road(extend(part), "service", None))
    return lanes


def compound_name(rng: np.random.Generator) -> str:
    chars = list(COMPOUND_A)
    a, b = rng.choice(len(chars), size=2, replace=False)
    return chars[a] + chars[b] + str(COMPOUND_SUFFIX[int(rng.integers(len(COMPOUND_SUFFIX)))])


def leaf_buildings(
    leaf: Leaf, li: int, rng: np.random.Generator, compound: str | None
) -> tuple[list[Bldg], list[Road]]:
    """Buildings (and compound lanes) of one block by its use.

    Footprints are laid out in the block's own frame (its long side along x, turned so slabs
    face roughly south) and turned back into place at the end.
    """
    angle = frame_angle(leaf.poly)
    c = leaf.buildable.centroid
    rot = rotate(leaf.buildable, -angle, c.x, c.y)
    shapely.prepare(rot)
    out: list[Bldg] = []
    lanes: list[Road] = []

    use = leaf.use
    if use == "slab":
        floors = int(rng.choice([6, 6, 7, 7, 7]))
        unit_w = rng.uniform(12.5, 15.0)
        depth = rng.uniform(10.5, 12.5)
        ents = rng.choice([2, 3, 3, 3, 4, 4], size=3)
        per_floor = int(rng.choice([2, 2, 2, 3, 3, 4]))
        lengths = ents * unit_w
        mixed_front = rng.random() < 0.35
        placed = _place(
            rot, rng, lengths, depth, rng.uniform(6, 12), floors * 3.0 * rng.uniform(0.85, 1.1)
        )
        for r, row, k in placed:
            e = int(ents[k])
            hh = min(24, floors * per_floor) * e
            u = "residential"
            if mixed_front and row == 0:
                u = "mixed"
                hh = min(24, (floors - 1) * per_floor) * e
            out.append(
                Bldg(
                    r,
                    hh,
                    floors,
                    u,
                    "slab",
                    compound,
                    e,
                    li,
                    floors * 2.9 + rng.uniform(0.6, 2.5),
                )
            )
        lanes = _lanes_between_rows(rot, placed, leaf.poly, angle, c, 2)
    elif use == "tower":
        w = rng.uniform(20.0, 28.0)
        d = rng.uniform(15.0, 21.0)
        placed = _place(rot, rng, np.array([w]), d, rng.uniform(22, 36), rng.uniform(32, 46))
        for r, _row, _k in placed:
            floors = int(rng.integers(18, 34))
            e = int(rng.choice([1, 2, 2]))
            hpf = int(rng.choice([4, 6])) if e == 1 else int(rng.choice([6, 8]))
            hh = int(np.clip(floors * hpf, 100, 300))
            out.append(
                Bldg(
                    r,
                    hh,
                    floors,
                    "residential",
                    "tower",
                    compound,
                    e,
                    li,
                    floors * 3.0 + rng.uniform(2.0, 6.0),
                )
            )
        lanes = _lanes_between_rows(rot, placed, leaf.poly, angle, c, 1)
    elif use == "old":
        cell = rng.uniform(10.5, 12.5)
        minx, miny, maxx, maxy = rot.bounds
        gx = np.arange(minx + cell / 2, maxx, cell)
        gy = np.arange(miny + cell / 2, maxy, cell)
        if len(gx) and len(gy):
            cx, cy = (a.ravel() for a in np.meshgrid(gx, gy))
            n = len(cx)
            a = rng.uniform(-4.0, 4.0, n)
            hw = rng.uniform(6.5, cell - 1.6, n)
            hd = rng.uniform(7.0, cell - 1.6, n)
            ext_x = hw * np.cos(np.radians(np.abs(a))) + hd * np.sin(np.radians(np.abs(a)))
            ext_y = hw * np.sin(np.radians(np.abs(a))) + hd * np.cos(np.radians(np.abs(a)))
            cx = cx + rng.uniform(-1, 1, n) * np.maximum(cell - ext_x - 0.8, 0) / 2
            cy = cy + rng.uniform(-1, 1, n) * np.maximum(cell - ext_y - 0.8, 0) / 2
            keep = rng.random(n) < 0.9
            rects = _rects(cx, cy, hw, hd, a)
            ok = shapely.contains_properly(rot, rects) & keep
            for r in rects[ok]:
                floors = int(rng.choice([1, 2, 2, 3, 3]))
                hh = int(min(floors + 1, rng.choice([1, 2, 2, 3, 3])))
                u = "residential"
                kind = "house"
                x = rng.random()
                if x < 0.13:
                    u, hh, kind = "mixed", 1, "shophouse"
                elif x < 0.17:
                    u, hh, kind = "non_residential", 0, "shop"
                out.append(
                    Bldg(
                        r,
                        hh,
                        floors,
                        u,
                        kind,
                        None,
                        None,
                        li,
                        floors * 3.2 + rng.uniform(0.0, 1.0),
                    )
                )
    else:
        specs = _NONRES.get(use)
        if specs is not None:
            lengths = np.array([rng.uniform(*s[0]) for s in specs])
            depth = rng.uniform(*specs[0][1])
            placed = _place(
                rot,
                rng,
                lengths,
                depth,
                rng.uniform(10, 18),
                rng.uniform(14, 26),
                max_rows=3 if use in SPECIAL_MIN_AREA else 5,
            )
            cap = {"office": 6, "commercial": 10, "industrial": 6}.get(use, len(specs) * 2)
            for r, _row, k in placed[:cap]:
                s = specs[k]
                floors = int(rng.integers(s[2][0], s[2][1] + 1))
                u = s[3]
                hh = int(rng.integers(2, 9)) if u == "mixed" else 0
                out.append(
                    Bldg(
                        r,
                        hh,
                        floors,
                        u,
                        use,
                        None,
                        None,
                        li,
                        floors * 3.8 + rng.uniform(0.0, 2.0),
                    )
                )
    if out:
        placed_back = shapely.normalize(
            rotate(np.array([b.geometry for b in out], dtype=object), angle, c.x, c.y)
        )
        for b, g in zip(out, placed_back, strict=True):
            b.geometry = g
    return out, lanes


# non-residential block uses: list of (length range, depth range, floors range, use)
_NONRES: dict[str, list[tuple[tuple[float, float], tuple[float, float], tuple[int, int], str]]] = {
    "office": [
        ((32, 50), (14, 18), (5, 12), "non_residential"),
        ((24, 36), (14, 18), (4, 8), "non_residential"),
    ],
    "commercial": [
        ((30, 60), (16, 24), (2, 5), "mixed"),
        ((24, 40), (16, 24), (2, 4), "non_residential"),
        ((20, 36), (16, 24), (3, 6), "mixed"),
    ],
    "industrial": [
        ((50, 85), (26, 40), (1, 2), "non_residential"),
        ((40, 60), (26, 40), (1, 3), "non_residential"),
    ],
    "primary_school": [
        ((50, 64), (14, 16), (4, 5), "non_residential"),
        ((26, 34), (14, 16), (3, 4), "non_residential"),
    ],
    "secondary_school": [
        ((56, 70), (15, 17), (5, 6), "non_residential"),
        ((30, 40), (15, 17), (4, 5), "non_residential"),
    ],
    "market": [((42, 60), (30, 40), (1, 2), "non_residential")],
    "health_center": [((36, 48), (16, 20), (4, 6), "non_residential")],
    "culture_center": [((34, 46), (24, 32), (2, 4), "non_residential")],
    "sports": [((50, 64), (34, 42), (1, 2), "non_residential")],
    "elderly_home": [((36, 46), (13, 16), (4, 6), "non_residential")],
}
SPECIAL_MIN_AREA = {
    "primary_school": 7000.0,
    "secondary_school": 9000.0,
    "market": 2500.0,
    "health_center": 2500.0,
    "culture_center": 2500.0,
    "sports": 4000.0,
    "elderly_home": 2500.0,
}
SPECIAL_NAMES = {
    "primary_school": "小学",
    "secondary_school": "中学",
    "market": "菜市场",
    "health_center": "社区卫生服务中心",
    "culture_center": "文化活动中心",
    "sports": "全民健身中心",
    "elderly_home": "养老院",
}
