"""Grids on land only, and towers bigger than a grid said plainly (issue 15, parts 3 and 4).

- The community of a dataset without ``communities`` is the built-up area, never a hull.
- Water polygons are cut out of every community: no grid covers water (property test).
- A 1 200-household tower is split over grids by entrance and floor: the plan lists each part,
  every grid holding one is in the building's ``grid_ids``, and every unit holds only parts
  of its own grid (checked independently of the code that forms them).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from gridplan.land import built_up_area, land_area, water_area
from gridplan.partition import partition_grids
from gridplan.units import form_units

CRS = "EPSG:32650"


def test_built_up_area_is_not_the_hull() -> None:
    # two blocks of buildings on either side of a bay 400 m wide, with a coast road round it
    west = [box(x, y, x + 20, y + 12) for x in range(0, 200, 40) for y in range(0, 400, 30)]
    east = [box(x, y, x + 20, y + 12) for x in range(600, 800, 40) for y in range(0, 400, 30)]
    road = LineString([(0, 440), (800, 440)])
    area = built_up_area(west + east, [road])
    assert area.geom_type == "Polygon"
    assert all(area.contains(b) for b in west + east)
    hull = shapely.convex_hull(shapely.union_all(west + east))
    # the bay between the blocks is not built up: the hull's middle is out
    assert not area.intersects(box(300, 0, 500, 380))
    assert area.area < 0.75 * hull.area


def test_built_up_area_leaves_water_out() -> None:
    houses = [box(x, y, x + 15, y + 10) for x in range(0, 300, 30) for y in range(0, 300, 30)]
    lake = box(100, 100, 190, 190)
    houses = [h for h in houses if not h.intersects(lake.buffer(5))]
    area = built_up_area(houses, [], water=lake)
    assert area.intersection(lake).area < 1e-6
    assert all(area.contains(h) for h in houses)


def test_water_area_takes_water_kinds_only() -> None:
    bars = gpd.GeoDataFrame(
        {"kind": ["Water", "rail", "riverbank", "river"]},
        geometry=[
            box(0, 0, 10, 10),
            box(20, 0, 30, 10),
            box(40, 0, 50, 10),
            LineString([(0, 20), (50, 20)]),  # a river as a line stays a barrier
        ],
        crs=CRS,
    )
    assert water_area(bars).area == 200.0


def test_land_area_keeps_buildings_and_drops_bare_islets() -> None:
    area = box(0, 0, 300, 100)
    water = box(100, -10, 140, 110).union(box(200, 40, 220, 60).difference(box(205, 45, 215, 55)))
    # a building on the east bank, one on the west bank; the islet in the ring of water is bare
    land, dropped = land_area(area, water, keep=np.array([[50.0, 50.0], [250.0, 50.0]]))
    assert land.geom_type == "MultiPolygon" and len(land.geoms) == 2
    assert dropped == 1
    assert land.intersection(water).area < 1e-6


def _lake_town(seed: int, n: int, lake_w: float, lake_h: float) -> tuple:
    rng = np.random.default_rng(seed)
    lake = box(300 - lake_w / 2, 250 - lake_h / 2, 300 + lake_w / 2, 250 + lake_h / 2)
    pts: list[Point] = []
    while len(pts) < n:
        p = Point(rng.uniform(3, 597), rng.uniform(3, 497))
        if not lake.buffer(3).covers(p):
            pts.append(p)
    hh = rng.integers(5, 40, n)
    b = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:04d}" for i in range(n)],
            "households": hh.astype("int64"),
            "community_id": "C01",
        },
        geometry=pts,
        crs=CRS,
    )
    c = gpd.GeoDataFrame({"community_id": ["C01"]}, geometry=[box(0, 0, 600, 500)], crs=CRS)
    bars = gpd.GeoDataFrame({"kind": ["water"]}, geometry=[lake], crs=CRS)
    return b, c, bars, lake


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(60, 160),
    lake_w=st.floats(40.0, 580.0),
    lake_h=st.floats(40.0, 300.0),
)
def test_no_grid_covers_water(seed: int, n: int, lake_w: float, lake_h: float) -> None:
    b, c, bars, lake = _lake_town(seed, n, lake_w, lake_h)
    res = partition_grids(b, c, barriers=bars, seed=seed, time_limit_s=3)
    g = res.grids
    assert (g.geom_type == "Polygon").all()
    # no grid over water (a building 3 m from the shore keeps ≤ 5 m of it: a few m² at most)
    wet = g.geometry.intersection(lake).area
    assert (wet <= 0.01 * g.geometry.area + 80.0).all()
    # the grids tile the land: nothing outside the community, no overlaps, every building in
    union = g.geometry.union_all()
    assert union.difference(c.geometry.iloc[0]).area < 1e-3
    assert abs(g.geometry.area.sum() - union.area) < 1e-3 * union.area
    land = c.geometry.iloc[0].difference(lake)
    assert land.difference(union).area < 1e-3 * land.area or len(shapely.get_parts(land)) > 1
    assert int(g["households"].sum()) == int(b["households"].sum())
    pts = b.geometry.to_numpy()
    for gid, geom in zip(g["grid_id"], g.geometry, strict=True):
        mine = (res.buildings["grid_id"] == gid).to_numpy()
        assert shapely.covers(geom.buffer(1e-6), pts[mine]).all()


def _tower_town() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(5)
    n = 90
    xs, ys = rng.uniform(10, 590, n), rng.uniform(10, 390, n)
    geoms: list[shapely.Geometry] = [Point(x, y) for x, y in zip(xs, ys, strict=True)]
    hh = rng.integers(5, 30, n).astype("int64")
    geoms[0] = box(250, 180, 330, 200)  # the tower: 1 200 households, 3 entrances, 40 floors
    hh[0] = 1200
    b = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:03d}" for i in range(n)],
            "households": hh,
            "floors": [40] + [6] * (n - 1),
            "entrances": [3] + [None] * (n - 1),
            "community_id": "C01",
        },
        geometry=geoms,
        crs=CRS,
    )
    c = gpd.GeoDataFrame({"community_id": ["C01"]}, geometry=[box(0, 0, 600, 400)], crs=CRS)
    return b, c


def test_tower_split_over_grids_is_listed_and_units_stay_in_their_grid() -> None:
    b, c = _tower_town()
    res = partition_grids(b, c, seed=0)
    parts = res.building_parts
    tower = parts[parts["building_id"] == "B000"]
    # the parts sum to the building's households, and more than one grid holds it
    assert int(tower["households"].sum()) == 1200
    grids_holding = sorted(set(tower["grid_id"]))
    assert len(grids_holding) >= 3
    # every part says where it lies: an entrance of the 3 and a floor range within the 40
    assert tower["entrance"].between(1, 3).all()
    assert (tower["floor_from"] >= 1).all() and (tower["floor_to"] <= 40).all()
    assert (tower["floor_from"] <= tower["floor_to"]).all()
    # the plan lists every grid holding it
    row = res.buildings.set_index("building_id").loc["B000"]
    assert row["grid_ids"].split(";") == grids_holding
    assert row["grid_id"] in grids_holding
    one = res.buildings[res.buildings["building_id"] != "B000"]
    assert (one["grid_ids"] == one["grid_id"]).all()
    # grid bounds hold wherever the face's households allow (all of them here)
    assert res.grids["households"].between(300, 500).all()

    units = form_units(res.buildings, building_parts=parts)
    m = units.unit_members.merge(units.units[["unit_id", "grid_id"]], on="unit_id")
    tm = m[m["building_id"] == "B000"]
    assert int(tm["households"].sum()) == 1200
    # independent check: every unit member of the tower lies in a part of the unit's grid
    # (same entrance, floors inside the part's floors)
    for unit_grid, e, f0, f1 in zip(
        tm["grid_id"], tm["entrance"], tm["floor_from"], tm["floor_to"], strict=True
    ):
        own = tower[(tower["grid_id"] == unit_grid) & (tower["entrance"] == e)]
        assert len(own), (unit_grid, e)
        assert ((own["floor_from"] <= f0) & (own["floor_to"] >= f1)).any(), (unit_grid, e, f0, f1)
    # and each grid's units hold exactly what its parts hold
    held = tm.groupby("grid_id")["households"].sum()
    want = tower.groupby("grid_id")["households"].sum()
    pd.testing.assert_series_equal(held.sort_index(), want.sort_index(), check_names=False)
