"""Ten-household units: splits by entrance and floor, neighbourhood grouping, invariants."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from gridplan._errors import DataError
from gridplan.settings import load_config
from gridplan.units.form import UnitsResult, form_units
from gridplan.units.split import _band_entrance, _split_sequence, split_building

CRS = "EPSG:32648"


def frame(rows: list[dict], *, points: bool = False) -> gpd.GeoDataFrame:
    """Buildings from dicts with id, grid, hh, x, y and optional floors, entrances, use."""
    geoms = [
        Point(r["x"], r["y"]) if points else box(r["x"] - 4, r["y"] - 4, r["x"] + 4, r["y"] + 4)
        for r in rows
    ]
    return gpd.GeoDataFrame(
        {
            "building_id": [r["id"] for r in rows],
            "grid_id": [r.get("grid", "C01-001") for r in rows],
            "households": np.array([r["hh"] for r in rows], dtype=np.int64),
            "floors": pd.array([r.get("floors") for r in rows], dtype="Int64"),
            "entrances": pd.array([r.get("entrances") for r in rows], dtype="Int64"),
            "use": [r.get("use", "residential") for r in rows],
            "compound": [None] * len(rows),
        },
        geometry=geoms,
        crs=CRS,
    )


def village(
    nx: int,
    ny: int,
    hh: int = 3,
    *,
    grid: str = "C01-001",
    spacing: float = 20.0,
    prefix: str = "H",
) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i:02d}{j:02d}",
            "grid": grid,
            "hh": hh,
            "x": i * spacing,
            "y": j * spacing,
            "floors": 2,
        }
        for i in range(nx)
        for j in range(ny)
    ]


def check_invariants(
    b: gpd.GeoDataFrame, res: UnitsResult, lo: int, hi: int, *, fresh: bool = True
) -> None:
    """Conservation per building and grid, one grid per unit, consecutive floor bands."""
    m = res.unit_members
    u = res.units
    # conservation per building
    want = b[b.households > 0].groupby("building_id")["households"].sum()
    got = m.groupby("building_id")["households"].sum()
    assert {k: int(v) for k, v in want.items()} == {k: int(v) for k, v in got.items()}
    assert (m.households > 0).all()
    # unit households = sum of members; unit ids unique and coded by grid
    assert u.unit_id.is_unique
    per_unit = m.groupby("unit_id")["households"].sum()
    assert per_unit.reindex(u.unit_id).tolist() == u.households.tolist()
    assert all(
        uid.startswith(f"{g}-") and len(uid) == len(g) + 4
        for uid, g in zip(u.unit_id, u.grid_id, strict=True)
    )
    # every member building lies in the unit's grid (units never cross grids)
    grid_of = dict(zip(b.building_id, b.grid_id, strict=True))
    unit_grid = dict(zip(u.unit_id, u.grid_id, strict=True))
    assert all(
        grid_of[bid] == unit_grid[uid] for uid, bid in zip(m.unit_id, m.building_id, strict=True)
    )
    # conservation per grid
    gw = b[b.households > 0].groupby("grid_id")["households"].sum().sort_index()
    gu = u.groupby("grid_id")["households"].sum().sort_index()
    assert gw.to_dict() == gu.to_dict()
    # floor bands consecutive, non-overlapping, covering each entrance
    banded = m[m.floor_from.notna()]
    for (bid, _e), rows in banded.groupby(["building_id", "entrance"], dropna=False):
        rows = rows.sort_values("floor_from")
        f0 = rows.floor_from.to_numpy(dtype=int)
        f1 = rows.floor_to.to_numpy(dtype=int)
        assert (f0 <= f1).all()
        assert f0[0] == 1
        fl = int(b.loc[b.building_id == bid, "floors"].iloc[0])
        assert f1[-1] == fl
        # per-floor counts stay below the minimum here, so no floor is ever shared
        assert (f0[1:] == f1[:-1] + 1).all()
    if fresh:
        assert u.head_id.isna().all()
    assert u.crs == b.crs
    assert u.geometry.notna().all() and not u.geometry.is_empty.any()


# --------------------------------------------------------------------------------------------
# building splits


def test_split_sequence_meets_bounds_and_target():
    groups = _split_sequence((2,) * 18, 5, 15, 10)
    assert groups is not None
    sizes = [2 * (j - i) for i, j in groups]
    assert sum(sizes) == 36 and all(5 <= s <= 15 for s in sizes)
    assert [i for i, _ in groups][1:] == [j for _, j in groups][:-1]
    assert _split_sequence((20,), 5, 15, 10) is None


def test_tower_split_by_entrance_then_floor_bands():
    # 2 entrances x 18 floors x 2 households a floor
    split = split_building("B0123", 72, 18, 2, 5, 15, 10)
    assert not split.remainders
    rows = [(m[1], m[2] or 0, m[3] or 0, m[4]) for u in split.units for m in u]
    assert sum(r[3] for r in rows) == 72
    for e in (1, 2):
        bands = sorted((r[1], r[2]) for r in rows if r[0] == e)
        assert bands[0][0] == 1 and bands[-1][1] == 18
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(bands))
    assert all(5 <= sum(m[4] for m in u) <= 15 for u in split.units)
    # a band looks like "entrance 2, floors 7-11" (units of 8-10 households)
    assert any(r[0] == 2 and r[2] - r[1] + 1 == 5 for r in rows)


def test_corridor_floor_shared_only_when_whole_floors_cannot_fit():
    split = _band_entrance("B1", 1, 60, 3, 5, 15, 10)  # 20 households a floor
    sizes = [u[0][4] for u in split.units]
    assert sum(sizes) == 60 and all(5 <= s <= 15 for s in sizes)
    bands = [(u[0][2] or 0, u[0][3] or 0) for u in split.units]
    assert bands[0][0] == 1 and bands[-1][1] == 3
    assert all(b[0] >= a[1] for a, b in itertools.pairwise(bands))


def test_small_entrances_grouped_whole():
    split = split_building("B2", 24, 3, 8, 5, 15, 10)  # 8 entrances of 3 households
    assert not split.remainders
    sizes = [sum(m[4] for m in u) for u in split.units]
    assert sum(sizes) == 24 and all(5 <= s <= 15 for s in sizes)
    ents = [m[1] for u in split.units for m in u]
    assert ents == list(range(1, 9))


def test_gap_in_bounds_leaves_a_remainder_for_the_pool():
    split = _band_entrance("B3", None, 13, 13, 8, 12, 10)
    assert [u[0][4] for u in split.units] == [10]
    assert [r[0][4] for r in split.remainders] == [3]
    assert split.remainders[0][0][2] == 11 and split.remainders[0][0][3] == 13


def test_building_without_data_split_evenly_and_flagged():
    b = frame([{"id": "B9", "hh": 47, "x": 0, "y": 0, "floors": None, "entrances": None}])
    res = form_units(b)
    m = res.unit_members
    assert m.households.sum() == 47
    assert m.entrance.isna().all() and m.floor_from.isna().all()
    assert all(5 <= h <= 15 for h in m.households)
    assert res.metrics["split_evenly_buildings"] == 1
    assert any("B9" in f and "floor" in f for f in res.flags)


def test_floors_without_entrances_banded_and_flagged():
    b = frame([{"id": "B8", "hh": 60, "x": 0, "y": 0, "floors": 20, "entrances": None}])
    res = form_units(b)
    assert res.unit_members.floor_from.notna().all()
    assert res.metrics["split_no_entrances"] == 1
    assert any("B8" in f and "entrance" in f for f in res.flags)


# --------------------------------------------------------------------------------------------
# small buildings


def test_village_units_in_range_compact_and_contiguous():
    b = frame(village(10, 10, hh=3))  # 300 households in houses of 3
    res = form_units(b)
    check_invariants(b, res, 5, 15)
    assert res.metrics["share_in_range"] == 1.0
    assert 25 <= res.metrics["n_units"] <= 60
    # compact: no unit spreads wider than a few house spacings
    assert res.metrics["max_spread_m"] <= 100
    # leftovers merged: no unit of 1-2 households
    assert res.units.households.min() >= 5


def test_street_not_crossed_when_blocks_are_large_enough():
    left = village(4, 10, hh=3, prefix="L")
    right = [dict(r, x=r["x"] + 100, id="R" + r["id"][1:]) for r in village(4, 10, hh=3)]
    b = frame(left + right)
    road = gpd.GeoDataFrame(
        {"road_class": ["residential"]}, geometry=[LineString([(80, -50), (80, 300)])], crs=CRS
    )
    res = form_units(b, roads=road)
    check_invariants(b, res, 5, 15)
    sides = res.unit_members.assign(side=res.unit_members.building_id.str[0])
    assert (sides.groupby("unit_id")["side"].nunique() == 1).all()
    # without the road, some unit may cross: the road is what keeps them apart
    assert res.metrics["share_in_range"] == 1.0


def test_tiny_block_joins_across_street_instead_of_staying_tiny():
    b = frame([*village(5, 4, hh=3), {"id": "Z1", "hh": 2, "x": 200, "y": 0, "floors": 1}])
    road = gpd.GeoDataFrame(
        {"road_class": ["residential"]}, geometry=[LineString([(150, -50), (150, 300)])], crs=CRS
    )
    res = form_units(b, roads=road)
    check_invariants(b, res, 5, 15)
    assert res.units.households.min() >= 5


def test_non_residential_and_empty_buildings_in_no_unit():
    rows = [*village(3, 3, hh=4), {"id": "S1", "hh": 0, "x": 10, "y": 10, "use": "non_residential"}]
    res = form_units(frame(rows))
    assert "S1" not in set(res.unit_members.building_id)


def test_grid_too_small_gives_one_flagged_unit():
    b = frame(
        [
            {"id": "A", "grid": "C01-002", "hh": 2, "x": 0, "y": 0},
            {"id": "B", "grid": "C01-002", "hh": 1, "x": 10, "y": 0},
        ]
    )
    res = form_units(b)
    assert res.units.households.tolist() == [3]
    assert res.metrics["grids_below_min"] == 1
    assert any("C01-002" in f for f in res.flags)


def test_point_buildings_get_hull_geometry():
    b = frame(village(3, 3, hh=2), points=True)
    res = form_units(b)
    assert (res.units.geometry.area > 0).all()
    assert res.units.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()


def test_leftover_apartment_remainder_joins_neighbours():
    cfg = load_config(
        {"units": {"min_households": 8, "target_households": 10, "max_households": 12}}
    )
    b = frame(
        [
            {"id": "T1", "hh": 13, "x": 0, "y": 0, "floors": 13, "entrances": 1},
            {"id": "H1", "hh": 3, "x": 20, "y": 0, "floors": 1},
            {"id": "H2", "hh": 3, "x": 40, "y": 0, "floors": 1},
        ]
    )
    res = form_units(b, config=cfg)
    check_invariants(b, res, 8, 12)
    assert res.metrics["share_in_range"] == 1.0
    t1 = res.unit_members[res.unit_members.building_id == "T1"]
    assert len(t1) == 2 and t1.households.sum() == 13


# --------------------------------------------------------------------------------------------
# codes, stability, errors


def test_codes_and_keep_grids_copy_previous_units():
    b = frame(village(5, 5, hh=3, grid="C01-001") + village(5, 5, hh=2, grid="C01-002", prefix="K"))
    first = form_units(b)
    assert sorted(first.units.grid_id.unique()) == ["C01-001", "C01-002"]
    assert first.units.unit_id.str.fullmatch(r"C01-00[12]-\d{3}").all()
    # change grid 2 only, then re-plan keeping grid 1
    b2 = b.copy()
    b2.loc[b2.building_id == "K0000", "households"] = 9
    kept_units = first.units[first.units.grid_id == "C01-001"]
    kept_members = first.unit_members[first.unit_members.unit_id.isin(kept_units.unit_id)]
    # make the previous units recognisably different to see they are copied, not recomputed
    prev = UnitsResult(
        units=kept_units.assign(head_id="P1"), unit_members=kept_members, metrics={}, flags=[]
    )
    second = form_units(b2, previous=prev, keep_grids=["C01-001"])
    s1 = second.units[second.units.grid_id == "C01-001"]
    assert (s1.head_id == "P1").all()
    assert second.metrics["kept_grids"] == 1
    check_invariants(b2, second, 5, 15, fresh=False)


def test_kept_grid_with_changed_buildings_is_replanned_and_flagged():
    b = frame(village(4, 4, hh=3))
    first = form_units(b)
    b2 = b.copy()
    b2.loc[b2.building_id == "H0000", "households"] = 5
    second = form_units(b2, previous=first, keep_grids=["C01-001"])
    assert second.metrics["kept_grids"] == 0
    assert any("re-planned" in f for f in second.flags)
    check_invariants(b2, second, 5, 15)


def test_input_not_mutated_and_errors_name_ids():
    b = frame(village(3, 3))
    before = b.copy()
    form_units(b)
    pd.testing.assert_frame_equal(b, before)
    with pytest.raises(DataError, match="grid_id"):
        form_units(b.drop(columns="grid_id"))
    bad = b.copy()
    bad.loc[0, "grid_id"] = None
    with pytest.raises(DataError, match="H0000"):
        form_units(bad)
    with pytest.raises(DataError, match="geographic"):
        form_units(b.set_crs("EPSG:4326", allow_override=True))


# --------------------------------------------------------------------------------------------
# property tests


@st.composite
def towns(draw):
    n = draw(st.integers(1, 40))
    grids = draw(st.integers(1, 3))
    rows = []
    for i in range(n):
        kind = draw(st.sampled_from(["house", "house", "house", "slab", "tower", "shop"]))
        if kind == "house":
            hh, floors, ents = draw(st.integers(1, 6)), draw(st.integers(1, 3)), None
        elif kind == "slab":
            ents = draw(st.integers(1, 4))
            floors = draw(st.integers(3, 12))
            hh = ents * floors * draw(st.integers(1, 3))
        elif kind == "tower":
            floors = draw(st.integers(10, 33))
            ents = draw(st.one_of(st.none(), st.integers(1, 2)))
            hh = floors * draw(st.integers(2, 4)) * (ents or 1)
        else:
            hh, floors, ents = 0, 2, None
        if kind in ("slab", "tower") and draw(st.booleans()) and draw(st.booleans()):
            floors = None  # missing floor data
        rows.append(
            {
                "id": f"B{i:03d}",
                "grid": f"C01-{i % grids + 1:03d}",
                "hh": hh,
                "x": draw(st.floats(0, 300)),
                "y": draw(st.floats(0, 300)),
                "floors": floors,
                "entrances": ents,
            }
        )
    return frame(rows, points=draw(st.booleans()))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(towns(), st.booleans())
def test_invariants_on_random_towns(b, with_road):
    roads = None
    if with_road:
        roads = gpd.GeoDataFrame(
            {"road_class": ["residential"]},
            geometry=[LineString([(150, -10), (150, 310)])],
            crs=CRS,
        )
    res = form_units(b, roads=roads)
    check_invariants(b, res, 5, 15)
    # contiguity can make the bounds unreachable in adversarial grids (a line of houses
    # 2 - 11 - 3), so here: no unit under half the minimum unless its grid is that small,
    # no unit over max + min, and apartment bands always in range. Realistic neighbourhoods
    # meet the bounds exactly (tests above, benchmarks).
    total = b[b.households > 0].groupby("grid_id")["households"].sum()
    u = res.units
    assert ((u.households * 2 >= 5) | (u.grid_id.map(total) * 2 < 5)).all()
    assert (u.households <= 15 + 5).all()
    m = res.unit_members
    solo = m.groupby("unit_id")["building_id"].transform("nunique") == 1
    big = m.building_id.map(b.set_index("building_id")["households"]) > 15
    banded = m[solo & big].groupby("unit_id")["households"].sum()
    assert banded.between(5, 15).all()
    assert res.metrics["n_units"] == len(res.units)
    # determinism
    again = form_units(b, roads=roads)
    pd.testing.assert_frame_equal(res.unit_members, again.unit_members)
    assert res.units.drop(columns="geometry").equals(again.units.drop(columns="geometry"))


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 4))
def test_apartment_bands_always_in_range(entrances, floors, per_floor):
    split = split_building("B", entrances * floors * per_floor, floors, entrances, 5, 15, 10)
    rows = [m for u in split.units + split.remainders for m in u]
    assert sum(r[4] for r in rows) == entrances * floors * per_floor
    if entrances * floors * per_floor > 15:
        assert all(5 <= sum(m[4] for m in u) <= 15 for u in split.units)
        assert not split.remainders


def test_building_split_over_grids_planned_part_by_part():
    b = frame(
        [
            {
                "id": "T1",
                "grid": "C01-001",
                "hh": 120,
                "x": 0,
                "y": 0,
                "floors": 20,
                "entrances": 4,
            },
            {"id": "H1", "grid": "C01-002", "hh": 6, "x": 40, "y": 0, "floors": 1},
        ]
    )
    parts = pd.DataFrame(
        {
            "building_id": ["T1", "T1", "H1"],
            "grid_id": ["C01-001", "C01-002", "C01-002"],
            "households": [90, 30, 6],
        }
    )
    res = form_units(b, building_parts=parts)
    m = res.unit_members.merge(res.units[["unit_id", "grid_id"]], on="unit_id")
    t1 = m[m.building_id == "T1"]
    assert t1.groupby("grid_id")["households"].sum().to_dict() == {"C01-001": 90, "C01-002": 30}
    assert sorted(t1[t1.grid_id == "C01-001"].entrance.unique()) == [1, 2, 3]
    assert sorted(t1[t1.grid_id == "C01-002"].entrance.unique()) == [4]
    with pytest.raises(DataError, match="T1"):
        form_units(b, building_parts=parts.assign(households=[90, 20, 6]))


def test_keep_grids_accepts_units_read_back_from_a_plan_file():
    b = frame(village(4, 4, hh=3))
    first = form_units(b)
    # a plan file holds the contract columns only, ids possibly re-typed
    units = first.units[["unit_id", "grid_id", "households", "head_id", "geometry"]]
    prev = UnitsResult(units=units, unit_members=first.unit_members, metrics={}, flags=[])
    second = form_units(b, previous=prev, keep_grids=["C01-001"])
    assert second.metrics["kept_grids"] == 1
    assert second.units.unit_id.tolist() == first.units.unit_id.tolist()
    assert second.units.n_buildings.tolist() == first.units.n_buildings.tolist()
    pd.testing.assert_frame_equal(second.unit_members, first.unit_members)
