"""Grids never span a barrier, checked independently of the code that cuts faces.

Random pairs of communities whose shared line is not axis-aligned, an arterial running along
(or almost on) that line, and a river crossing both communities, drawn as a line or as a
polygon. The check does not use :func:`gridplan.adjacency.split_faces`: it cuts each community
by subtracting a half-metre buffer of every barrier and asks which piece holds each building. A grid
may hold buildings of two pieces only when a face too small for a grid was merged, and then
the plan's flags say so.
"""

from __future__ import annotations

import itertools
import os

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
import shapely.ops
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon
from test_partition import CRS

from gridplan.adjacency import on_grid, split_faces
from gridplan.partition.grids import partition_grids
from gridplan.partition.replan import replan_grids
from gridplan.settings import BARRIER_SNAP_M

SIZE = 900.0


def two_communities(rng: np.random.Generator, tilt: float) -> tuple[Polygon, Polygon, LineString]:
    """A square cut in two by a slanted, slightly bent line: both halves and the whole line."""
    y0 = SIZE / 2 + rng.uniform(-80, 80)
    bend = rng.uniform(-40, 40)
    dy = np.tan(tilt) * SIZE
    line = LineString(
        [
            (-10.0, y0 - dy / 2),
            (SIZE * 0.37, y0 - dy * 0.13 + bend),
            (SIZE * 0.71, y0 + dy * 0.21 - bend / 2),
            (SIZE + 10.0, y0 + dy / 2),
        ]
    )
    square = shapely.box(0, 0, SIZE, SIZE)
    halves = sorted(shapely.get_parts(shapely.ops.split(square, line)), key=lambda p: p.centroid.y)
    return halves[0], halves[-1], line


def offset(line: LineString, metres: float) -> LineString:
    """``line`` moved sideways by ``metres`` (kept as a line; extended a little at both ends)."""
    if abs(metres) < 1e-9:
        return line
    moved = line.offset_curve(metres)
    if moved.geom_type != "LineString":
        moved = max(shapely.get_parts(moved), key=lambda g: g.length)
    return moved


def river(rng: np.random.Generator, width: float) -> LineString:
    """A river entering from the west and leaving to the east, crossing the shared line."""
    xs = np.linspace(-20, SIZE + 20, 7)
    ys = SIZE * rng.uniform(0.2, 0.8) + rng.uniform(-120, 120, len(xs))
    # enter and leave each community: meander north and south of the middle
    ys[1::2] = np.clip(ys[1::2], SIZE * 0.62, SIZE - 60)
    ys[0::2] = np.clip(ys[0::2], 60, SIZE * 0.38)
    return LineString(np.column_stack([xs, ys]))


def turn(geom, angle: float):
    """``geom`` turned by ``angle`` degrees about the centre (no edge stays axis-aligned)."""
    return shapely.affinity.rotate(geom, angle, origin=(SIZE / 2, SIZE / 2))


def town(
    seed: int, tilt: float, road_offset: float, river_width: float, n: int, angle: float = 0.0
):
    rng = np.random.default_rng(seed)
    south, north, shared = two_communities(rng, tilt)
    road = offset(shared, road_offset)
    water = river(rng, river_width)
    river_geom = water.buffer(river_width / 2, cap_style="flat") if river_width > 0 else water
    south, north, shared, road, river_geom = (
        turn(g, angle) for g in (south, north, shared, road, river_geom)
    )
    barrier_union = shapely.union_all([road, river_geom])
    pts: list[Point] = []
    keep_out = barrier_union.buffer(4.0)
    square = south.union(north).buffer(-3.0)
    while len(pts) < n:
        p = Point(rng.uniform(-0.3 * SIZE, 1.3 * SIZE), rng.uniform(-0.3 * SIZE, 1.3 * SIZE))
        if square.covers(p) and not keep_out.covers(p) and shapely.distance(p, shared) > 4.0:
            pts.append(p)
    hh = rng.integers(5, 41, n)
    comm = ["C01" if south.covers(p) else "C02" for p in pts]
    b = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:04d}" for i in range(n)],
            "households": hh.astype("int64"),
            "population": hh * 2.6,
            "community_id": comm,
        },
        geometry=pts,
        crs=CRS,
    )
    c = gpd.GeoDataFrame({"community_id": ["C01", "C02"]}, geometry=[south, north], crs=CRS)
    roads = gpd.GeoDataFrame({"road_class": ["primary"]}, geometry=[road], crs=CRS)
    barriers = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[river_geom], crs=CRS)
    return b, c, roads, barriers


def pieces_of(community: Polygon, barriers: list[shapely.Geometry]) -> list[Polygon]:
    """The community less a half-metre buffer of every barrier line (a polygon's outline): the
    barrier arrangement computed independently of :func:`split_faces`. Gaps narrower than
    ``settings.BARRIER_SNAP_M`` (1 m) between barriers and the community line are closed, as
    split_faces closes them; buildings keep 4 m from barriers, so no building is lost."""
    lines = [g.boundary if g.geom_type in ("Polygon", "MultiPolygon") else g for g in barriers]
    lines.append(community.boundary)
    cut = shapely.difference(community, shapely.union_all(lines).buffer(BARRIER_SNAP_M / 2))
    return [p for p in shapely.get_parts(cut) if p.area > 1.0]


def spanning_grids(res, c: gpd.GeoDataFrame, roads, barriers) -> dict[str, dict]:
    """Grids whose buildings lie in more than one piece of the independent arrangement:
    grid id -> {(community, piece): households of the whole piece}."""
    bars = [*roads.geometry, *barriers.geometry]
    out: dict[str, dict] = {}
    for cid, geom in zip(c["community_id"], c.geometry, strict=True):
        pieces = pieces_of(geom, bars)
        tree = shapely.STRtree(pieces)
        sub = res.buildings[res.buildings["community_id"] == cid]
        pts = sub.geometry.representative_point().to_numpy()
        where = tree.query(pts, predicate="within")
        piece = np.full(len(sub), -1)
        piece[where[0]] = where[1]
        assert (piece >= 0).all(), "a building lies on a barrier; the generator keeps 4 m away"
        piece_hh = pd.Series(sub["households"].to_numpy()).groupby(piece).sum()
        for gid, ps in pd.Series(piece).groupby(sub["grid_id"].to_numpy()):
            if ps.nunique() > 1:
                out[str(gid)] = {(cid, int(p)): int(piece_hh[p]) for p in set(ps.tolist())}
    return out


def check(res, b, c, roads, barriers, lo: int = 300, *, replan: bool = False) -> None:
    # tiling of each community's land (the community less the river drawn as a polygon),
    # every grid one polygon, every building in one grid
    polys = barriers[barriers.geom_type == "Polygon"]
    water = shapely.union_all(np.asarray(polys.geometry.array)) if len(polys) else Polygon()
    for cid, geom in zip(c["community_id"], c.geometry, strict=True):
        gg = res.grids[res.grids["community_id"] == cid]
        assert (gg.geom_type == "Polygon").all()
        union = shapely.union_all(np.asarray(gg.geometry.array))
        assert union.difference(geom).area < 1e-4 * geom.area
        # no grid over water (but the few m² of bank kept round a building near the river)
        assert union.intersection(water).area < 1e-3 * geom.area
        # the land no grid covers is bare: land cut off by the river holding no building
        bare = shapely.difference(shapely.difference(geom, water), union)
        pts = shapely.points(shapely.get_coordinates(b.geometry.representative_point()))
        for piece in shapely.get_parts(bare):
            if piece.area > 1.0:
                assert not shapely.intersects(piece.buffer(-0.01), pts).any()
    assert int(res.grids["households"].sum()) == int(b["households"].sum())
    spans = spanning_grids(res, c, roads, barriers)
    # a grid may take in a piece too small for a grid of its own (a merge), never join two
    # pieces that could each hold a grid
    # (a re-plan keeps grids whole: when the part of a piece left to re-plan is too small
    # for a grid, it is merged, and the re-planned part's merge is reported)
    part_merges = [f for f in res.flags if "(re-planned part)" in f and "merged" in f]
    for gid, pieces in spans.items():
        if sum(h >= lo for h in pieces.values()) > 1:
            assert replan and part_merges, (gid, pieces)
    # pieces that share grids were merged by the plan (k pieces joined need k - 1 merges),
    # and the plan says so
    joined = nx.Graph()
    for pieces in spans.values():
        keys = sorted(pieces)
        joined.add_edges_from(itertools.pairwise(keys))
    needed = sum(len(comp) - 1 for comp in nx.connected_components(joined))
    merged = [f for f in res.flags if "merged with its neighbour" in f]
    assert needed <= res.metrics["faces_merged"] <= len(merged), (spans, res.flags)


TILTS = st.floats(-0.6, 0.6).filter(lambda t: abs(t) > 0.01)


ANGLES = st.floats(0.0, 90.0)


@settings(
    max_examples=int(os.environ.get("GRIDPLAN_EXAMPLES", 12)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    tilt=TILTS,
    road_offset=st.sampled_from([0.0, 0.2, -0.2, 0.9, -1.5, 3.0, -3.0]),
    river_width=st.sampled_from([0.0, 8.0, 25.0]),
    n=st.integers(200, 320),
    angle=ANGLES,
)
@example(seed=0, tilt=0.5, road_offset=0.0, river_width=0.0, n=260, angle=0.0)
@example(seed=2, tilt=-0.25, road_offset=-1.5, river_width=25.0, n=260, angle=17.0)
def test_grids_never_span_a_barrier(
    seed: int, tilt: float, road_offset: float, river_width: float, n: int, angle: float
) -> None:
    b, c, roads, barriers = town(seed, tilt, road_offset, river_width, n, angle)
    res = partition_grids(b, c, roads=roads, barriers=barriers, seed=seed, time_limit_s=5)
    check(res, b, c, roads, barriers)


@settings(
    max_examples=int(os.environ.get("GRIDPLAN_EXAMPLES", 5)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    tilt=TILTS,
    road_offset=st.sampled_from([0.0, 0.4, -2.0]),
    river_width=st.sampled_from([0.0, 15.0]),
    angle=ANGLES,
)
def test_replan_keeps_barriers(
    seed: int, tilt: float, road_offset: float, river_width: float, angle: float
) -> None:
    b, c, roads, barriers = town(seed, tilt, road_offset, river_width, 240, angle)
    old = partition_grids(b, c, roads=roads, barriers=barriers, seed=seed, time_limit_s=5)
    rng = np.random.default_rng(seed + 1)
    changed = b.copy()
    grow = rng.choice(len(b), size=20, replace=False)
    changed.loc[changed.index[grow], "households"] += 30
    new = replan_grids(
        old.buildings,
        old.grids,
        changed,
        c,
        roads=roads,
        barriers=barriers,
        seed=seed,
        time_limit_s=5,
    )
    check(new, changed, c, roads, barriers, replan=True)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    tilt=TILTS,
    road_offset=st.floats(-3.0, 3.0),
    polygon=st.booleans(),
    angle=ANGLES,
)
def test_faces_tile_and_keep_every_crossing_barrier(
    seed: int, tilt: float, road_offset: float, polygon: bool, angle: float
) -> None:
    rng = np.random.default_rng(seed)
    south, north, shared = two_communities(rng, tilt)
    road = offset(shared, road_offset)
    water = river(rng, 20.0)
    bars = [
        turn(road, angle),
        turn(water.buffer(10.0, cap_style="flat") if polygon else water, angle),
    ]
    for area in (turn(south, angle), turn(north, angle)):
        lines = [
            g
            for bar in bars
            for g in shapely.get_parts(
                shapely.intersection(bar.boundary if bar.geom_type == "Polygon" else bar, area)
            )
            if g.length > 0
        ]
        faces = split_faces(area, lines)
        # the faces tile the area (with coordinates on the 1 mm grid faces are cut on)
        assert on_grid(area).symmetric_difference(area).area < 1e-5 * area.area
        area = on_grid(area)
        assert abs(sum(f.area for f in faces) - area.area) < 1e-5 * area.area
        union = shapely.union_all(faces)
        assert union.symmetric_difference(area).area < 1e-5 * area.area
        # every piece of the independent arrangement wider than a sliver lies in one face,
        # and no face holds two of them: no barrier was dropped
        pieces = [q for q in pieces_of(area, bars) if 2 * q.area / q.length >= 1.0]
        for piece in pieces:
            core = piece.buffer(-0.5)
            holders = [i for i, f in enumerate(faces) if f.buffer(1e-6).covers(core)]
            assert len(holders) == 1, (round(piece.area), len(faces))
        for f in faces:
            inside = [q for q in pieces if f.covers(q.representative_point())]
            assert len(inside) <= 1, [round(q.area) for q in inside]


@settings(max_examples=30, deadline=None)
@given(st.floats(150.0, 850.0), st.floats(200.0, 800.0), st.booleans())
def test_a_barrier_ending_inside_is_reported_where_a_region_spans_it(
    end_x: float, y: float, closed: bool
) -> None:
    """A primary road entering a 1 km square from the west and ending at ``end_x`` separates
    no land: the western region it cuts right through, holding buildings north and south of
    it, is reported; the eastern region, around the road's end, is not. Crossing the whole
    square the road separates land, and a region across it is left to the merge report."""
    from shapely.geometry import box

    from gridplan.adjacency import barrier_lines, open_barrier_spans

    area = box(0, 0, 1000, 1000)
    road = LineString([(0, y), (1000 if closed else end_x, y)])
    roads = gpd.GeoDataFrame({"road_class": ["primary"]}, geometry=[road], crs=CRS)
    lines = barrier_lines(area, roads=roads)
    cut = end_x - 100.0  # the western region ends 100 m before the road does
    west, east = box(0, 0, cut, 1000), box(cut, 0, 1000, 1000)
    xy = np.array(
        [[cut / 2, y - 40.0], [cut / 2, y + 40.0], [end_x + 50, y - 40], [end_x + 50, y + 40]]
    )
    label = np.array([0, 0, 1, 1])
    spans = open_barrier_spans(area, [west, east], lines, xy, label)
    if closed:
        assert spans == []
    else:
        assert spans == [(0, "primary", pytest.approx(cut, abs=1e-6))]
    # two regions, one each side of the road: nothing to report either way
    south, north = box(0, 0, 1000, y), box(0, y, 1000, 1000)
    halves = open_barrier_spans(area, [south, north], lines, xy, np.array([0, 1, 0, 1]))
    assert halves == []
