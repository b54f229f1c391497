"""Deterministic synthetic sample datasets: a county town, a city, a province.

The samples look like the data a Chinese community planner holds (DESIGN.md §1, raw input
form, WGS84): building footprints of gated compounds (小区) of six- and seven-storey slab
apartments, high-rise towers in the newer districts, an old quarter of small houses along a
river, shops, schools and offices; community boundaries that follow arterial roads and the
river; a road hierarchy from trunk road to footway; the river (crossed by a few bridges) and,
in the city, a railway; facilities of every category with deliberate gaps; a roster of cadres,
party members, grid workers, unit-head candidates and volunteers; the "yellow list" of
vulnerable households; and candidate sites for new facilities.

Scales (calibrated on DOMAIN.md):

- ``town``: three communities, about 8 800 households and 24 000 residents (the Anshun pilot),
  near Anshun, Guizhou;
- ``city``: 19 communities of about 10 000 residents, about 70 000 households (Cenxi, Guangxi);
- ``province``: hundreds of communities in towns spread over Guizhou, millions of households,
  generated and written community by community.

Everything is generated in a local metric frame, placed on the ground through the local UTM
zone and written in WGS84 with coordinates rounded to 7 decimals. The same scale and seed give
identical layers and byte-identical files (with the same GEOS, PROJ and GDAL versions: the
bundled ``data/town`` is checked against a fresh one by the tests).

Example
-------
>>> from gridplan.sample import generate_sample
>>> layers = generate_sample("town", seed=0)
>>> sorted(layers)[:3]
['barriers', 'buildings', 'communities']
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box
from shapely.ops import nearest_points, polygonize, split

from gridplan._errors import ConfigError, OutputExistsError
from gridplan.settings import FACILITY_CATEGORIES

__all__ = ["SCALES", "generate_sample", "write_sample"]

logger = logging.getLogger(__name__)

#: Sample scales understood by :func:`generate_sample` and :func:`write_sample`.
SCALES: tuple[str, ...] = ("town", "city", "province")

#: Layers written as CSV (tabular, linked by ``building_id``); the others are GeoJSON.
_TABULAR = ("people", "vulnerable")

WGS84 = "EPSG:4326"

# --------------------------------------------------------------------------------------------
# Names (fake, assembled from common characters)
# --------------------------------------------------------------------------------------------

_SURNAMES = tuple(
    dict.fromkeys(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
        "程苏魏吕丁任沈姚卢韦覃莫蒙龙石谭廖贺陆"
    )
)
_GIVEN = tuple(
    dict.fromkeys(
        "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍建国志海燕红梅文斌晓东春德凤金花"
        "珍莉琳鹏飞辉俊峰宇浩欣怡涵轩婷佳琪远成林云秀荣昌福寿庆永忠"
    )
)
_ARTERIAL_NAMES = (
    "中华路",
    "黄果树大街",
    "塔山路",
    "虹山路",
    "人民路",
    "建设路",
    "解放路",
    "新华路",
    "文化路",
    "西秀路",
    "南华路",
    "青年路",
    "朝阳路",
    "迎宾大道",
    "龙泉路",
    "富民路",
    "兴业路",
    "金钟路",
    "华西路",
    "太平路",
    "府前路",
    "若飞路",
    "儒林路",
    "钟鼓楼路",
    "胜利路",
    "民主路",
    "和平路",
    "东风路",
    "健康路",
    "育才路",
)
_NAME_CHARS = "安康平顺兴福和乐景文宁泰瑞祥丰荣华锦翠秀青云桂枫松竹梅兰菊荷"
_COMMUNITY_NAMES = (
    "东关社区",
    "西街社区",
    "南门社区",
    "北关社区",
    "塔山社区",
    "虹山社区",
    "新华社区",
    "和平社区",
    "中华社区",
    "文化社区",
    "建设社区",
    "光明社区",
    "龙泉社区",
    "滨河社区",
    "桥东社区",
    "花园社区",
    "民族社区",
    "义昌社区",
    "华西社区",
    "钟鼓社区",
    "若飞社区",
    "儒林社区",
    "太平社区",
    "富民社区",
)
_PLACE_A = "东西南北新老上下大小中前后"
_PLACE_B = "关街门桥河山城坪塘湾坡寨井园"
_COMPOUND_A = "金银阳光锦绣华府翠湖山水幸福康乐盛世名都滨江龙城东方新天地"
_COMPOUND_SUFFIX = ("小区", "花园", "苑", "家园", "雅居", "新村", "公馆", "名城")
_STORE_BRANDS = ("美宜佳", "红旗连锁", "见福便利店", "易捷便利店", "百佳惠", "邻里便利店")
_SUPERMARKETS = ("合力超市", "北京华联", "永辉超市", "星力超市", "生鲜超市")
_RIVERS = ("清水江", "南明河", "都柳江", "三岔河", "北盘江", "赤水河", "舞阳河", "乌江")
_PHONE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "182",
    "187",
    "188",
    "189",
)
_PHONE_WEIGHTS = np.array([3.0] * 10 + [1.0] * 9)
_SKILLS = ("elderly_care", "medical", "legal", "tutoring", "mediation")

# Half widths of the carriageway plus pavement, metres (buildings keep clear of these).
_HALF_WIDTH = {
    "trunk": 20.0,
    "primary": 16.0,
    "secondary": 11.0,
    "tertiary": 8.0,
    "residential": 4.5,
    "service": 3.0,
    "footway": 1.5,
}
_CLASS_RANK = {c: i for i, c in enumerate(_HALF_WIDTH)}

# Largest block the street subdivision leaves, m² (and the smallest piece it cuts).
_BLOCK_AREA = {"old": (4200.0, 1300.0), "slab": (36000.0, 11000.0), "tower": (42000.0, 14000.0)}


# --------------------------------------------------------------------------------------------
# Scale specifications
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TownSpec:
    """One town (a frame of arterials holding ``n_communities`` communities)."""

    index: int  # town number (0 for town and city scales)
    lat: float
    lon: float
    width: float  # metres, west-east
    height: float  # metres, south-north
    n_communities: int
    first_community: int  # global index of its first community
    households: int  # total target households
    persons_per_household: float
    arterial_spacing: float
    old_radius: float  # old quarter extent from the old centre, metres
    slab_radius: float  # beyond this the newer districts of towers
    rail: bool
    river_half_width: float
    river_name: str
    bridges: int
    prefixed_ids: bool
    id_width: int  # digits of community ids ("C01" / "C001")
    community_names: tuple[str, ...]
    trunk_name: str = "国道G320"
    rail_name: str = "沪昆铁路"


def _town_spec(scale: str, seed: int) -> _TownSpec:
    if scale == "town":
        return _TownSpec(
            index=0,
            lat=26.2456,
            lon=105.9322,
            width=1350.0,
            height=1050.0,
            n_communities=3,
            first_community=0,
            households=8800,
            persons_per_household=24000 / 8800,
            arterial_spacing=450.0,
            old_radius=280.0,
            slab_radius=540.0,
            rail=False,
            river_half_width=14.0,
            river_name="贯城河",
            bridges=2,
            prefixed_ids=False,
            id_width=2,
            community_names=_COMMUNITY_NAMES[:3],
        )
    if scale == "city":
        return _TownSpec(
            index=0,
            lat=22.9180,
            lon=110.9930,
            width=4600.0,
            height=3500.0,
            n_communities=19,
            first_community=0,
            households=70000,
            persons_per_household=190000 / 70000,
            arterial_spacing=720.0,
            old_radius=1000.0,
            slab_radius=2000.0,
            rail=True,
            river_half_width=38.0,
            river_name="义昌江",
            bridges=4,
            prefixed_ids=True,
            id_width=2,
            community_names=_COMMUNITY_NAMES[:19],
            trunk_name="国道G324",
            rail_name="洛湛铁路",
        )
    msg = f"unknown sample scale {scale!r}; use one of {', '.join(SCALES)}"
    raise ConfigError(msg)


def _province_specs(seed: int, n_communities: int) -> Iterator[_TownSpec]:
    """Towns of 6–16 communities spread over Guizhou until ``n_communities`` are placed."""
    rng = np.random.default_rng([seed, 424242])
    width = max(3, len(str(n_communities)))
    names = [a + b + "社区" for b in _PLACE_B for a in _PLACE_A]
    order = rng.permutation(len(names))
    done = 0
    t = 0
    while done < n_communities:
        k = min(n_communities - done, int(rng.integers(6, 17)))
        area = k * rng.uniform(0.85, 1.15) * 1.0e6
        aspect = rng.uniform(1.1, 1.5)
        w = math.sqrt(area * aspect)
        row, col = divmod(t, 8)
        lat = 25.1 + 0.45 * (row % 8) + rng.uniform(-0.1, 0.1)
        lon = 104.7 + 0.5 * col + rng.uniform(-0.12, 0.12)
        hh = int(k * rng.integers(3300, 4300))
        cnames = tuple(names[order[(done + i) % len(names)]] for i in range(k))
        if done + k > len(names):  # more communities than distinct names: number the repeats
            cnames = tuple(
                f"{n}{(done + i) // len(names) + 1}" if done + i >= len(names) else n
                for i, n in enumerate(cnames)
            )
        yield _TownSpec(
            index=t,
            lat=lat,
            lon=lon,
            width=w,
            height=area / w,
            n_communities=k,
            first_community=done,
            households=hh,
            persons_per_household=float(rng.uniform(2.6, 2.9)),
            arterial_spacing=float(rng.uniform(560.0, 720.0)),
            old_radius=float(rng.uniform(350.0, 650.0)),
            slab_radius=float(rng.uniform(900, 1500)),
            rail=bool(rng.random() < 0.3),
            river_half_width=float(rng.uniform(12.0, 35.0)),
            river_name=_RIVERS[int(rng.integers(len(_RIVERS)))],
            bridges=int(rng.integers(2, 4)),
            prefixed_ids=True,
            id_width=width,
            community_names=cnames,
            trunk_name=("国道G320", "国道G321", "国道G210", "国道G326")[t % 4],
            rail_name=("沪昆铁路", "贵广铁路", "川黔铁路")[t % 3],
        )
        done += k
        t += 1


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------


def _extend(line: LineString, d: float = 0.5) -> LineString:
    """The line lengthened by ``d`` at both ends (so it crosses what it ends on)."""
    c = np.asarray(line.coords)
    if len(c) < 2:
        return line
    a = c[0] - c[1]
    b = c[-1] - c[-2]
    na, nb = np.hypot(*a), np.hypot(*b)
    if na > 0:
        c[0] = c[0] + a / na * d
    if nb > 0:
        c[-1] = c[-1] + b / nb * d
    return LineString(c)


def _lines(geom: Any) -> list[LineString]:
    """The LineString parts of any geometry (empty list when none)."""
    out = []
    for g in shapely.get_parts(np.asarray([geom])):
        if isinstance(g, LineString) and not g.is_empty:
            out.append(g)
        elif g.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(_lines(g))
    return out


def _polys(geom: Any) -> list[Polygon]:
    out = []
    for g in shapely.get_parts(np.asarray([geom])):
        if isinstance(g, Polygon) and not g.is_empty:
            out.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            out.extend(_polys(g))
    return out


def _rotate(geoms: Any, angle_deg: float, cx: float, cy: float) -> Any:
    """Rotate geometries (scalar or array) counter-clockwise about ``(cx, cy)``."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)

    def f(xy: np.ndarray) -> np.ndarray:
        x = xy[:, 0] - cx
        y = xy[:, 1] - cy
        return np.column_stack([cx + c * x - s * y, cy + s * x + c * y])

    return shapely.transform(geoms, f)


def _rects(
    cx: np.ndarray, cy: np.ndarray, w: np.ndarray, d: np.ndarray, a: np.ndarray | None = None
) -> np.ndarray:
    """Rectangles centred on ``cx, cy``, ``w`` wide, ``d`` deep, turned ``a`` degrees."""
    n = len(cx)
    if n == 0:
        return np.empty(0, dtype=object)
    ang = np.zeros(n) if a is None else np.radians(a)
    dx = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    dy = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    lx = w[:, None] * dx[None, :]
    ly = d[:, None] * dy[None, :]
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    x = cx[:, None] + c * lx - s * ly
    y = cy[:, None] + s * lx + c * ly
    return shapely.polygons(np.stack([x, y], axis=-1))


def _frame_angle(poly: Polygon) -> float:
    """Direction of the block's long side, folded into (-45°, 45°] so slabs face south."""
    mrr = np.asarray(poly.minimum_rotated_rectangle.exterior.coords)
    e = np.diff(mrr[:3], axis=0)
    k = int(np.argmax(np.hypot(e[:, 0], e[:, 1])))
    ang = math.degrees(math.atan2(e[k, 1], e[k, 0]))
    while ang > 45.0:
        ang -= 90.0
    while ang <= -45.0:
        ang += 90.0
    return ang


# --------------------------------------------------------------------------------------------
# Town layout: frame, arterials, river, rail, communities
# --------------------------------------------------------------------------------------------


@dataclass
class _Road:
    geometry: LineString
    road_class: str
    name: str | None = None
    walkable: bool | None = None


@dataclass
class _Layout:
    spec: _TownSpec
    crs: CRS
    origin: tuple[float, float]
    rotation: float
    roads: list[_Road]  # town-level roads (arterials, riverside roads, footbridge)
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


def _layout(spec: _TownSpec, seed: int) -> _Layout:
    rng = np.random.default_rng([seed, 1_000_003, spec.index])
    w2, h2 = spec.width / 2.0, spec.height / 2.0
    frame = box(-w2, -h2, w2, h2)
    ov = 0.5
    names = list(_ARTERIAL_NAMES)
    rng.shuffle(names)
    name_iter = iter(names * 4)

    # arterials: straight frame edges (a ring road, the north side a trunk road) and wiggly
    # interior lines at about ``arterial_spacing``
    roads: list[_Road] = []
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
            line = _extend(_wiggly((x, -h2), (x, h2), rng, 6, 14.0), ov)
        vertical.append(line)
    for j, y in enumerate(ys):
        if j in (0, nrow):
            line = LineString([(-w2 - ov, y), (w2 + ov, y)])
        else:
            line = _extend(_wiggly((-w2, y), (w2, y), rng, 7, 14.0), ov)
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
            roads.append(_Road(part, cls, nm))
    for j, line in enumerate(horizontal):
        cls = "trunk" if j == nrow else ("primary" if j == 0 or j % 2 == 1 else "secondary")
        nm = spec.trunk_name if j == nrow else next(name_iter)
        parts = [line] if j in bridged else _lines(line.difference(cut_zone))
        for part in parts:
            roads.append(_Road(part, cls, nm, False if cls == "trunk" else None))
    # riverside roads (滨河路) along both banks, and one footbridge between two bridges
    big = box(-w2 - ov, -h2 - ov, w2 + ov, h2 + ov)
    for k, part in enumerate(_lines(river_zone.exterior.intersection(big))):
        if part.length > 50.0:
            roads.append(_Road(part, "tertiary", "滨河东路" if k % 2 else "滨河西路"))
    yb = float(rng.uniform(-0.3, 0.3) * spec.height)
    xc = float(np.interp(yb, yy, xx))
    probe = LineString([(xc - 3 * bank, yb), (xc + 3 * bank, yb)])
    for part in _lines(probe.intersection(river_zone.buffer(ov))):
        roads.append(_Road(part, "footway", "风雨桥", True))

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
    return _Layout(
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
class _Leaf:
    poly: Polygon  # the block up to the street centre lines
    buildable: Polygon  # the block less road reserves and setbacks
    zone: str  # old / slab / tower
    dist: float
    use: str = "vacant"
    order: int = -1


def _zone(spec: _TownSpec, centre: Point, p: Point, rng: np.random.Generator) -> tuple[str, float]:
    d = p.distance(centre) * rng.uniform(0.88, 1.12)
    if d < spec.old_radius:
        return "old", d
    if d < spec.slab_radius:
        return ("tower" if rng.random() < 0.15 else "slab"), d
    return ("tower" if rng.random() < 0.45 else "slab"), d


def _bsp(
    poly: Polygon,
    sizes: tuple[float, float],
    centre: Point,
    old_radius: float,
    rng: np.random.Generator,
    leaves: list[Polygon],
    chords: list[_Road],
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
        max_area, min_area = _BLOCK_AREA["old"] if old else sizes
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
        pieces = _polys(split(p, cut))
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
            chords.append(_Road(_extend(chord), cls, nm, True if cls == "footway" else None))
        stack.extend(
            sorted(
                pieces, key=lambda q: (round(q.centroid.x, 3), round(q.centroid.y, 3)), reverse=True
            )
        )


def _street_names(rng: np.random.Generator) -> Iterator[str]:
    chars = list(_NAME_CHARS)
    while True:
        a, b = rng.choice(len(chars), size=2, replace=False)
        r = rng.random()
        if r < 0.45:
            yield chars[a] + chars[b] + "路"
        elif r < 0.7:
            yield chars[a] + chars[b] + "街"
        elif r < 0.85:
            yield _SURNAMES[int(rng.integers(30))] + "家巷"
        else:
            yield chars[a] + chars[b] + "巷"


# --------------------------------------------------------------------------------------------
# Buildings
# --------------------------------------------------------------------------------------------


@dataclass
class _Bldg:
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
) -> list[_Road]:
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
        world = _rotate(probe, angle, c.x, c.y)
        for part in _lines(world.intersection(leaf)):
            if part.length > 30.0:
                lanes.append(_Road(_extend(part), "service", None))
    return lanes


def _compound_name(rng: np.random.Generator) -> str:
    chars = list(_COMPOUND_A)
    a, b = rng.choice(len(chars), size=2, replace=False)
    return chars[a] + chars[b] + str(_COMPOUND_SUFFIX[int(rng.integers(len(_COMPOUND_SUFFIX)))])


def _leaf_buildings(
    leaf: _Leaf, li: int, rng: np.random.Generator, compound: str | None
) -> tuple[list[_Bldg], list[_Road]]:
    """Buildings (and compound lanes) of one block by its use.

    Footprints are laid out in the block's own frame (its long side along x, turned so slabs
    face roughly south) and turned back into place at the end.
    """
    angle = _frame_angle(leaf.poly)
    c = leaf.buildable.centroid
    rot = _rotate(leaf.buildable, -angle, c.x, c.y)
    shapely.prepare(rot)
    out: list[_Bldg] = []
    lanes: list[_Road] = []

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
                _Bldg(
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
                _Bldg(
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
                    _Bldg(
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
                max_rows=3 if use in _SPECIAL_MIN_AREA else 5,
            )
            cap = {"office": 6, "commercial": 10, "industrial": 6}.get(use, len(specs) * 2)
            for r, _row, k in placed[:cap]:
                s = specs[k]
                floors = int(rng.integers(s[2][0], s[2][1] + 1))
                u = s[3]
                hh = int(rng.integers(2, 9)) if u == "mixed" else 0
                out.append(
                    _Bldg(
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
            _rotate(np.array([b.geometry for b in out], dtype=object), angle, c.x, c.y)
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
_SPECIAL_MIN_AREA = {
    "primary_school": 7000.0,
    "secondary_school": 9000.0,
    "market": 2500.0,
    "health_center": 2500.0,
    "culture_center": 2500.0,
    "sports": 4000.0,
    "elderly_home": 2500.0,
}
_SPECIAL_NAMES = {
    "primary_school": "小学",
    "secondary_school": "中学",
    "market": "菜市场",
    "health_center": "社区卫生服务中心",
    "culture_center": "文化活动中心",
    "sports": "全民健身中心",
    "elderly_home": "养老院",
}


# --------------------------------------------------------------------------------------------
# One community
# --------------------------------------------------------------------------------------------


@dataclass
class _Counters:
    """Running id numbers (global for the town scale, per community otherwise)."""

    building: int = 0
    compound: int = 0
    person: int = 0
    facility: int = 0
    site: int = 0


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


_SURNAME_P = 1.0 / (np.arange(len(_SURNAMES)) + 6.0)
_SURNAME_P = _SURNAME_P / _SURNAME_P.sum()  # common surnames first (a Zipf-like spread)
_PHONE_P = _PHONE_WEIGHTS / _PHONE_WEIGHTS.sum()


def _person_name(rng: np.random.Generator) -> str:
    s = _SURNAMES[int(rng.choice(len(_SURNAMES), p=_SURNAME_P))]
    n = 1 if rng.random() < 0.35 else 2
    return s + "".join(_GIVEN[int(i)] for i in rng.integers(len(_GIVEN), size=n))


def _people(
    rows: list[dict[str, Any]],
    rng: np.random.Generator,
    prefix: str,
    wide: bool,
    counters: _Counters,
    comm: dict[str, Any],
) -> list[dict[str, Any]]:
    """The roster: cadres, grid workers, grid-head candidates, unit-head candidates, volunteers."""
    homes = [r for r in rows if r["_hh"] > 0 and r["use"] != "non_residential"]
    if not homes:
        return []
    hh = np.array([r["_hh"] for r in homes], dtype=float)
    total = int(hh.sum())
    weights = hh / hh.sum()
    phones: set[str] = set()
    people: list[dict[str, Any]] = []

    def phone() -> str:
        while True:
            p = str(_PHONE_PREFIXES[int(rng.choice(len(_PHONE_PREFIXES), p=_PHONE_P))])
            p += "".join(str(int(d)) for d in rng.integers(0, 10, size=8))
            if p not in phones:
                phones.add(p)
                return p

    def add(
        home: str,
        roles: str,
        party_p: float,
        full_time: bool = False,
        skills: str | None = None,
        capacity: int | None = None,
    ) -> None:
        counters.person += 1
        people.append(
            {
                "person_id": f"{prefix}P{counters.person:0{5 if wide else 4}d}",
                "building_id": home,
                "name": _person_name(rng),
                "party_member": bool(rng.random() < party_p),
                "roles": roles,
                "full_time": full_time,
                "skills": skills,
                "capacity_households": capacity,
                "phone": phone() if rng.random() < 0.93 else None,
            }
        )

    def home() -> str:
        return str(homes[int(rng.choice(len(homes), p=weights))]["building_id"])

    def skill_list(k_max: int) -> str | None:
        k = int(rng.integers(0, k_max + 1))
        if k == 0:
            return None
        return ";".join(sorted(rng.choice(_SKILLS, size=k, replace=False).tolist()))

    grids = max(1, math.ceil(total / 400))
    n_cadres = 5 + total // 1500
    for _ in range(n_cadres):  # community cadres (社区两委): salaried, head or work a grid
        add(home(), "grid_head;grid_worker", 0.9, True, "mediation" if rng.random() < 0.4 else None)
    for _ in range(max(1, math.ceil(total / 450))):  # full-time grid workers (专职网格员)
        add(
            home(),
            "grid_worker",
            0.55,
            True,
            skill_list(1),
            int(rng.choice([400, 450, 500, 550, 600])),
        )
    for _ in range(max(2, math.ceil(1.4 * grids) - n_cadres)):  # party backbone, retired cadres
        add(
            home(),
            str(rng.choice(["grid_head", "grid_head;volunteer"])),
            0.85,
            False,
            skill_list(2),
        )
    for _ in range(math.ceil(total / 300)):  # part-time grid workers (兼职网格员)
        add(
            home(),
            str(rng.choice(["grid_worker", "grid_worker;volunteer"])),
            0.5,
            False,
            skill_list(2),
            int(rng.choice([100, 150, 200, 250, 300])),
        )
    # unit-head candidates (联户长): about one per 9 households, living where they serve; one
    # compound in every third community has none (a deliberate vacancy to be reported)
    comps = sorted({r["compound"] for r in homes if r["compound"]})
    vacant = None
    if comps and comm["index"] % 3 == 1:
        sizes = {c: sum(r["_hh"] for r in homes if r["compound"] == c) for c in comps}
        vacant = min(comps, key=lambda c: (sizes[c] < 60, sizes[c], c))
    # (spread systematically: one every 7-11 households along the buildings in id order,
    # which follows the blocks, so nearly every group of ten neighbours has one)
    pos = float(rng.uniform(0.0, 9.0))
    cum = 0.0
    for r in homes:
        end = cum + r["_hh"]
        while pos < end:
            if r["compound"] is None or r["compound"] != vacant:
                add(
                    str(r["building_id"]),
                    "unit_head" if rng.random() < 0.8 else "unit_head;volunteer",
                    0.33,
                    False,
                    skill_list(1) if rng.random() < 0.3 else None,
                )
            pos += float(rng.uniform(7.0, 11.0))
        cum = end
    for _ in range(math.ceil(total / 35)):  # volunteers, 在职党员双报到
        add(
            home(),
            "volunteer",
            0.45,
            False,
            skill_list(2) or str(rng.choice(_SKILLS)),
            int(rng.choice([10, 20, 30])) if rng.random() < 0.3 else None,
        )
    return people


# --------------------------------------------------------------------------------------------
# Roads: shared junction vertices, trimmed overshoots
# --------------------------------------------------------------------------------------------


def _junctions(roads: list[_Road]) -> list[_Road]:
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
            out.append(_Road(LineString(kept), r.road_class, r.name, r.walkable))
    # a stub that only reached its street is trimmed; isolated stubs under 2 m go
    return [r for r in out if r.geometry.length >= 2.0]


# --------------------------------------------------------------------------------------------
# Frames (WGS84) and the drivers
# --------------------------------------------------------------------------------------------


def _to_wgs84(geoms: list[Any], lay: _Layout) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return arr
    tr = Transformer.from_crs(lay.crs, WGS84, always_xy=True)
    a = math.radians(lay.rotation)
    c, s = math.cos(a), math.sin(a)
    e0, n0 = lay.origin

    def f(xy: np.ndarray) -> np.ndarray:
        x = e0 + c * xy[:, 0] - s * xy[:, 1]
        y = n0 + s * xy[:, 0] + c * xy[:, 1]
        lon, lat = tr.transform(x, y)
        return np.round(np.column_stack([lon, lat]), 7)

    return shapely.transform(arr, f)


_COLUMNS: dict[str, dict[str, str]] = {
    "buildings": {
        "building_id": "object",
        "households": "Int64",
        "population": "Int64",
        "floors": "Int64",
        "height": "Float64",
        "use": "object",
        "compound": "object",
        "entrances": "Int64",
        "community_id": "object",
    },
    "communities": {
        "community_id": "object",
        "name": "object",
        "households_total": "Int64",
        "population_total": "Int64",
    },
    "roads": {"road_class": "object", "name": "object", "walkable": "boolean"},
    "barriers": {"kind": "object", "name": "object"},
    "facilities": {"facility_id": "object", "category": "object", "name": "object"},
    "sites": {"site_id": "object", "categories": "object"},
    "people": {
        "person_id": "object",
        "building_id": "object",
        "name": "object",
        "party_member": "bool",
        "roles": "object",
        "full_time": "bool",
        "skills": "object",
        "capacity_households": "Int64",
        "phone": "object",
    },
    "vulnerable": {"building_id": "object", "kind": "object", "households": "int64"},
}
_SORT = {
    "buildings": ["building_id"],
    "communities": ["community_id"],
    "facilities": ["facility_id"],
    "sites": ["site_id"],
    "people": ["person_id"],
    "vulnerable": ["building_id", "kind"],
}


def _frame(layer: str, records: list[dict[str, Any]], lay: _Layout | None) -> Any:
    cols = _COLUMNS[layer]
    data = {
        c: pd.Series([r.get(c) for r in records], dtype=t if t != "object" else object)
        for c, t in cols.items()
    }
    df = pd.DataFrame(data)
    if layer in ("people", "vulnerable"):
        out: Any = df
    else:
        geoms = _to_wgs84([r["geometry"] for r in records], lay) if lay else np.empty(0, object)
        out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
    if layer in _SORT and len(out):
        out = out.sort_values(_SORT[layer], kind="stable").reset_index(drop=True)
    return out


def _iter_batches(scale: str, seed: int, n_communities: int | None) -> Iterator[dict[str, Any]]:
    """Yield one batch of layers per community, then the town's roads and barriers."""
    if scale == "province":
        specs: Iterator[_TownSpec] = _province_specs(seed, n_communities or 400)
    else:
        spec = _town_spec(scale, seed)
        if n_communities is not None and n_communities != spec.n_communities:
            frac = n_communities / spec.n_communities
            spec = _TownSpec(
                **{
                    **spec.__dict__,
                    "n_communities": n_communities,
                    "households": int(spec.households * frac),
                    "width": spec.width * math.sqrt(frac),
                    "height": spec.height * math.sqrt(frac),
                    "community_names": tuple(
                        _COMMUNITY_NAMES[i % len(_COMMUNITY_NAMES)] for i in range(n_communities)
                    ),
                    "id_width": max(2, len(str(n_communities))),
                }
            )
        specs = iter([spec])
    for spec in specs:
        lay = _layout(spec, seed)
        counters = _Counters()
        roads: list[_Road] = list(lay.roads)
        carry = 0
        for comm in lay.communities:
            comm["target"] += carry  # a community short of land hands its rest to the next
            batch = _community(lay, comm, seed, counters)
            carry = comm["target"] - int(batch.pop("_households"))
            roads.extend(batch.pop("roads"))
            yield {name: _frame(name, recs, lay) for name, recs in batch.items()}
        roads = _junctions(roads)
        roads.sort(key=lambda r: _CLASS_RANK[r.road_class])
        road_recs = [
            {
                "road_class": r.road_class,
                "name": r.name,
                "walkable": r.walkable,
                "geometry": r.geometry,
            }
            for r in roads
        ]
        yield {
            "roads": _frame("roads", road_recs, lay),
            "barriers": _frame("barriers", lay.barriers, lay),
        }


def generate_sample(
    scale: str = "town", *, seed: int = 0, n_communities: int | None = None
) -> dict[str, Any]:
    """Generate a synthetic dataset in memory (DESIGN.md §1 raw input form, WGS84).

    Parameters
    ----------
    scale
        ``"town"`` (3 communities, ~8 800 households), ``"city"`` (19 communities,
        ~70 000 households) or ``"province"`` (``n_communities`` communities, default 400:
        use :func:`write_sample` for that, it streams to disk).
    seed
        Random seed; the same scale and seed give identical layers.
    n_communities
        Override the number of communities (mainly for small province samples in tests).

    Returns
    -------
    dict
        Layer name -> table: GeoDataFrames ``buildings``, ``communities``, ``roads``,
        ``barriers``, ``facilities``, ``sites`` in EPSG:4326; DataFrames ``people`` and
        ``vulnerable`` (linked by ``building_id``).

    Raises
    ------
    ConfigError
        An unknown scale or a bad number of communities.
    """
    if scale not in SCALES:
        msg = f"unknown sample scale {scale!r}; use one of {', '.join(SCALES)}"
        raise ConfigError(msg)
    if n_communities is not None and n_communities < 1:
        msg = f"n_communities must be at least 1, got {n_communities}"
        raise ConfigError(msg)
    parts: dict[str, list[Any]] = {}
    for batch in _iter_batches(scale, seed, n_communities):
        for name, frame in batch.items():
            parts.setdefault(name, []).append(frame)
    out: dict[str, Any] = {}
    for name in (
        "buildings",
        "communities",
        "roads",
        "barriers",
        "facilities",
        "people",
        "vulnerable",
        "sites",
    ):
        frames = [f for f in parts.get(name, []) if len(f)] or parts.get(name, [])[:1]
        if not frames:
            continue
        merged = pd.concat(frames, ignore_index=True)
        if isinstance(frames[0], gpd.GeoDataFrame):
            merged = gpd.GeoDataFrame(merged, geometry="geometry", crs=WGS84)
        if name in _SORT:
            merged = merged.sort_values(_SORT[name], kind="stable").reset_index(drop=True)
        out[name] = merged
    return out


_GEOJSON_OPTIONS = {"COORDINATE_PRECISION": 7, "RFC7946": "YES", "WRITE_BBOX": "NO"}
_FEATURES = b'"features": [\n'
_FOOTER = b"\n]\n}\n"


def _write_layer(folder: Path, name: str, frame: Any, append: bool) -> None:
    """Write (or append) one layer: GeoJSON for spatial layers, CSV for the rosters.

    GDAL's own GeoJSON append rewrites the whole file each time (quadratic over a province),
    so an append here writes the batch alone and splices its feature lines in front of the
    closing brackets of the existing file: the result is byte-identical to one write of all
    the rows, and the file is valid GeoJSON after every batch.
    """
    if name in _TABULAR:
        frame.to_csv(
            folder / f"{name}.csv",
            mode="a" if append else "w",
            header=not append,
            index=False,
            lineterminator="\n",
            encoding="utf-8",
        )
        return
    path = folder / f"{name}.geojson"
    if not append:
        pyogrio.write_dataframe(frame, path, driver="GeoJSON", layer_options=_GEOJSON_OPTIONS)
        return
    scratch = folder / ".batch"
    scratch.mkdir(exist_ok=True)
    part = scratch / path.name  # same file name, so the same "name" member
    pyogrio.write_dataframe(frame, part, driver="GeoJSON", layer_options=_GEOJSON_OPTIONS)
    body = part.read_bytes().partition(_FEATURES)[2]
    part.unlink()
    scratch.rmdir()
    body = body[: -len(_FOOTER)]
    if not body.strip():
        return
    with path.open("r+b") as fh:
        fh.seek(-len(_FOOTER) - 2, os.SEEK_END)
        before = fh.read(2)
        if fh.read() != _FOOTER:
            msg = f"{path} does not end like a GeoJSON file gridplan wrote; cannot append"
            raise OSError(msg)
        fh.seek(-len(_FOOTER), os.SEEK_END)
        fh.truncate()
        fh.write((b"" if before == b"[\n" else b",\n") + body + _FOOTER)


def write_sample(
    out: str | Path,
    scale: str = "town",
    *,
    seed: int = 0,
    overwrite: bool = False,
    n_communities: int | None = None,
) -> Path:
    """Write a synthetic dataset folder: one GeoJSON per spatial layer, CSV for the rosters.

    Files: ``communities.geojson``, ``buildings.geojson``, ``roads.geojson``,
    ``barriers.geojson``, ``facilities.geojson``, ``sites.geojson``, ``people.csv``,
    ``vulnerable.csv``. The output is byte-deterministic for a scale and seed. The folder is
    written next to the target under a temporary name and renamed into place, so a failed
    run leaves nothing half-written. The ``province`` scale is generated and appended
    community by community, never holding the whole province in memory.

    Parameters
    ----------
    out
        Dataset folder to create.
    scale
        ``"town"``, ``"city"`` or ``"province"``.
    seed
        Random seed.
    overwrite
        Replace an existing folder.
    n_communities
        Override the number of communities (province default 400).

    Returns
    -------
    Path
        The folder written.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    ConfigError
        An unknown scale.
    """
    if scale not in SCALES:
        msg = f"unknown sample scale {scale!r}; use one of {', '.join(SCALES)}"
        raise ConfigError(msg)
    target = Path(out)
    if target.exists() and not overwrite:
        msg = f"{target} already exists; pass overwrite=True (--overwrite) to replace it"
        raise OutputExistsError(msg)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        if scale == "province":
            written: set[str] = set()
            empty: dict[str, Any] = {}
            for batch in _iter_batches(scale, seed, n_communities):
                for name, frame in batch.items():
                    if len(frame) == 0:
                        empty.setdefault(name, frame)
                        continue
                    _write_layer(tmp, name, frame, name in written)
                    written.add(name)
                logger.debug("province: wrote a batch of %s", sorted(batch))
            for name, frame in empty.items():
                if name not in written:
                    _write_layer(tmp, name, frame, False)
        else:
            layers = generate_sample(scale, seed=seed, n_communities=n_communities)
            for name, frame in layers.items():
                _write_layer(tmp, name, frame, False)
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            target.rename(old)
            tmp.rename(target)
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote the %s sample (seed %d) to %s", scale, seed, target)
    return target
