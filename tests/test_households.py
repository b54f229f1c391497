"""Household estimation and calibration."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from gridplan._errors import DataError
from gridplan.households import estimate_households, household_sensitivity, largest_remainder
from gridplan.settings import load_config

CRS = "EPSG:32648"


def _buildings(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)


def test_hand_computed_estimates() -> None:
    b = _buildings(
        [
            # 30 x 15 = 450 m², 6 floors, residential: 450 * 6 / 90 = 30
            {"building_id": "a", "floors": 6, "use": "residential", "geometry": box(0, 0, 30, 15)},
            # height 16 m -> round(16/3) = 5 floors; mixed share 0.6: 400 * 5 * 0.6 / 90 = 13.3
            {"building_id": "b", "height": 16.0, "use": "mixed", "geometry": box(0, 20, 20, 40)},
            # no floors, no height -> 1 floor: 200 / 90 = 2.2 -> 2
            {"building_id": "c", "geometry": box(50, 0, 70, 10)},
            # 5 x 5 = 25 m² shed -> non_residential -> 0
            {"building_id": "d", "geometry": box(80, 0, 85, 5)},
            # tagged non_residential -> 0 despite size
            {
                "building_id": "e",
                "floors": 3,
                "use": "non_residential",
                "geometry": box(0, 50, 30, 80),
            },
        ]
    )
    out = estimate_households(b)
    assert out["households"].tolist() == [30, 13, 2, 0, 0]
    assert out["households"].dtype == np.int64
    assert out["households_estimated"].tolist() == [True] * 5
    assert out["use"].tolist() == [
        "residential",
        "mixed",
        "residential",
        "non_residential",
        "non_residential",
    ]
    # the input is not mutated
    assert "households_estimated" not in b.columns


def test_big_footprint_inferred_non_residential_and_given_count_implies_residential() -> None:
    b = _buildings(
        [
            {"building_id": "mall", "households": None, "geometry": box(0, 0, 100, 60)},
            {"building_id": "kiosk", "households": 1, "geometry": box(200, 0, 204, 4)},
        ]
    )
    out = estimate_households(b)
    assert out["households"].tolist() == [0, 1]
    assert out["use"].tolist() == ["non_residential", "residential"]
    assert out["households_estimated"].tolist() == [True, False]


def test_config_dwelling_size_and_floor_height() -> None:
    cfg = load_config({"households": {"dwelling_size_m2": 60.0, "floor_height_m": 4.0}})
    b = _buildings([{"building_id": "a", "height": 12.0, "geometry": box(0, 0, 30, 20)}])
    # 600 m² * 3 floors / 60 = 30
    assert estimate_households(b, config=cfg)["households"].tolist() == [30]


def test_given_counts_never_changed_and_calibration_exact() -> None:
    b = _buildings(
        [
            {
                "building_id": "g1",
                "households": 50,
                "community_id": "C1",
                "geometry": box(0, 0, 20, 20),
            },
            {
                "building_id": "g2",
                "households": 7,
                "community_id": "C1",
                "geometry": box(30, 0, 50, 20),
            },
            {
                "building_id": "e1",
                "floors": 6,
                "community_id": "C1",
                "geometry": box(0, 30, 30, 45),
            },
            {
                "building_id": "e2",
                "floors": 3,
                "community_id": "C1",
                "geometry": box(40, 30, 70, 45),
            },
            {
                "building_id": "e3",
                "floors": 2,
                "community_id": "C1",
                "geometry": box(80, 30, 90, 45),
            },
            {
                "building_id": "x1",
                "floors": 6,
                "community_id": "C2",
                "geometry": box(500, 0, 530, 15),
            },
        ]
    )
    comm = gpd.GeoDataFrame(
        {"community_id": ["C1", "C2"], "households_total": [200, None]},
        geometry=[box(-10, -10, 100, 100), box(400, -10, 600, 100)],
        crs=CRS,
    )
    out = estimate_households(b, communities=comm)
    hh = dict(zip(out["building_id"], out["households"], strict=True))
    assert hh["g1"] == 50 and hh["g2"] == 7
    assert sum(hh[k] for k in ("g1", "g2", "e1", "e2", "e3")) == 200
    # proportional: raw 30 : 15 : 3.33 scaled to 143
    assert hh["e1"] > hh["e2"] > hh["e3"] > 0
    assert hh["e1"] == pytest.approx(143 * 30 / 48.333, abs=1)
    # C2 has no total: plain estimate 450*6/90 = 30
    assert hh["x1"] == 30
    est = dict(zip(out["building_id"], out["households_estimated"], strict=True))
    assert [k for k, v in est.items() if v] == ["e1", "e2", "e3", "x1"]


def test_calibration_places_buildings_by_location_when_no_community_id() -> None:
    b = _buildings(
        [
            {"building_id": "a", "floors": 4, "geometry": box(0, 0, 30, 15)},
            {"building_id": "b", "floors": 4, "geometry": box(40, 0, 70, 15)},
        ]
    )
    comm = gpd.GeoDataFrame(
        {"community_id": ["C1"], "households_total": [101]}, geometry=[box(-5, -5, 80, 20)], crs=CRS
    )
    out = estimate_households(b, communities=comm)
    assert out["households"].sum() == 101
    assert sorted(out["households"].tolist()) == [50, 51]


def test_given_total_below_given_counts_gives_zero_estimates() -> None:
    b = _buildings(
        [
            {
                "building_id": "g",
                "households": 90,
                "community_id": "C1",
                "geometry": box(0, 0, 10, 10),
            },
            {"building_id": "e", "floors": 5, "community_id": "C1", "geometry": box(20, 0, 50, 20)},
        ]
    )
    comm = gpd.GeoDataFrame(
        {"community_id": ["C1"], "households_total": [80]}, geometry=[box(-5, -5, 60, 30)], crs=CRS
    )
    out = estimate_households(b, communities=comm)
    assert out["households"].tolist() == [90, 0]


def test_point_buildings_use_footprint_column() -> None:
    b = _buildings(
        [
            {"building_id": "p", "floors": 10, "footprint_m2": 450.0, "geometry": Point(0, 0)},
            {"building_id": "q", "floors": 10, "geometry": Point(10, 0)},
        ]
    )
    assert estimate_households(b)["households"].tolist() == [50, 0]


def test_reestimates_flagged_rows_of_a_prepared_layer() -> None:
    b = _buildings(
        [
            {
                "building_id": "a",
                "households": 999,
                "households_estimated": True,
                "floors": 6,
                "geometry": box(0, 0, 30, 15),
            },
            {
                "building_id": "b",
                "households": 12,
                "households_estimated": False,
                "geometry": box(40, 0, 50, 10),
            },
        ]
    )
    assert estimate_households(b)["households"].tolist() == [30, 12]


def test_geographic_crs_rejected() -> None:
    b = _buildings([{"building_id": "a", "geometry": box(0, 0, 30, 15)}]).set_crs(
        4326, allow_override=True
    )
    with pytest.raises(DataError, match="metric CRS"):
        estimate_households(b)


def test_sensitivity_totals_move_inversely_with_dwelling_size() -> None:
    b = _buildings(
        [
            {"building_id": "a", "floors": 6, "geometry": box(0, 0, 30, 15)},  # 2700 m² floor
            {"building_id": "g", "households": 10, "geometry": box(40, 0, 50, 10)},
        ]
    )
    s = household_sensitivity(b)
    # 2700/72 = 37.5 -> 38; 2700/90 = 30; 2700/108 = 25
    assert s == {0.8: 48, 1.0: 40, 1.2: 35}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=30),
    st.integers(0, 5000),
)
def test_largest_remainder_sums_exactly(weights: list[float], total: int) -> None:
    if sum(weights) <= 0 and total > 0:
        with pytest.raises(ValueError):
            largest_remainder(weights, total)
        return
    out = largest_remainder(weights, total)
    assert out.sum() == total
    assert (out >= 0).all()
    if sum(weights) > 0:
        exact = np.asarray(weights) / sum(weights) * total
        assert np.all(np.abs(out - exact) < 1.0 + 1e-9)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(1, 30), st.booleans()), min_size=1, max_size=12
    ),
    st.integers(0, 2000),
)
def test_calibration_invariants(specs: list[tuple[int, int, bool]], total: int) -> None:
    rows = []
    for i, (hh, floors, given_count) in enumerate(specs):
        rows.append(
            {
                "building_id": f"b{i}",
                "households": hh if given_count else None,
                "floors": floors,
                "community_id": "C1",
                "geometry": box(i * 50, 0, i * 50 + 30, 20),
            }
        )
    b = _buildings(rows)
    comm = gpd.GeoDataFrame(
        {"community_id": ["C1"], "households_total": [total]},
        geometry=[box(-10, -10, 50 * len(rows) + 10, 30)],
        crs=CRS,
    )
    out = estimate_households(b, communities=comm)
    given_mask = b["households"].notna().to_numpy()
    assert (out["households"].to_numpy()[given_mask] == b["households"][given_mask]).all()
    assert (out["households_estimated"].to_numpy() == ~given_mask).all()
    given_sum = int(b["households"].fillna(0).sum())
    if (~given_mask).any() and total >= given_sum:
        assert int(out["households"].sum()) == total
    assert pd.api.types.is_integer_dtype(out["households"])
