"""GCJ-02 / BD-09 offsets: known values, round trips over China, zero outside China."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import LineString, Point, Polygon

from gridplan._errors import DataError
from gridplan.offsets import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_geoseries,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    local_utm_crs,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")


def _metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


def _china_grid() -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.meshgrid(np.linspace(73.6, 134.9, 120), np.linspace(18.2, 53.5, 120))
    return lon.ravel(), lat.ravel()


def test_known_value_beijing() -> None:
    # Tiananmen: the GCJ-02 offset there is about 500 m, mostly eastwards.
    lon, lat = wgs84_to_gcj02(116.397, 39.908)
    assert lon == pytest.approx(116.403243, abs=1e-6)
    assert lat == pytest.approx(39.909403, abs=1e-6)
    assert 300 < _metres(116.397, 39.908, lon, lat) < 800


def test_gcj02_round_trip_below_half_metre_over_china() -> None:
    lon, lat = _china_grid()
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert _metres(lon, lat, wlon, wlat).max() < 0.5
    # And the other way round: GCJ-02 -> WGS84 -> GCJ-02.
    back = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert _metres(lon, lat, back[0], back[1]).max() < 0.5
    # The offset itself is real everywhere inside (tens to hundreds of metres).
    assert _metres(lon, lat, glon, glat).min() > 1.0


def test_bd09_round_trips_over_china() -> None:
    lon, lat = _china_grid()
    b = wgs84_to_bd09(lon, lat)
    w = bd09_to_wgs84(*b)
    assert _metres(lon, lat, w[0], w[1]).max() < 0.5
    g = gcj02_to_bd09(lon, lat)
    gg = bd09_to_gcj02(*g)
    assert _metres(lon, lat, gg[0], gg[1]).max() < 0.5


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(2.35, 48.85), (-74.0, 40.7), (139.7, 35.7), (151.2, -33.9), (0.0, 0.0), (71.0, 30.0)],
)
def test_offset_exactly_zero_outside_china(lon: float, lat: float) -> None:
    assert bool(out_of_china(lon, lat))
    for func in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    ):
        out = func(lon, lat)
        assert (float(out[0]), float(out[1])) == (lon, lat)


def test_out_of_china_inside() -> None:
    assert not out_of_china(105.93, 26.25)
    mask = out_of_china(np.array([105.9, 2.3]), np.array([26.2, 48.8]))
    assert mask.tolist() == [False, True]


def test_vectorised_shapes_kept() -> None:
    lon = np.full((3, 4), 106.6)
    lat = np.full((3, 4), 26.6)
    out = gcj02_to_wgs84(lon, lat)
    assert out[0].shape == (3, 4)
    assert np.allclose(out[0], out[0][0, 0])


@settings(max_examples=100, deadline=None)
@given(st.floats(73.7, 134.9), st.floats(18.2, 53.4))
def test_round_trip_property(lon: float, lat: float) -> None:
    w = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, w[0], w[1]) < 0.5


def test_convert_geoseries_moves_every_vertex_and_back() -> None:
    gs = gpd.GeoSeries(
        [
            Point(106.63, 26.65),
            LineString([(106.6, 26.6), (106.7, 26.7)]),
            Polygon([(106.6, 26.6), (106.61, 26.6), (106.61, 26.61)]),
            None,
        ],
        crs="EPSG:4326",
    )
    g = convert_geoseries(gs, "wgs84", "gcj02")
    assert g.crs == gs.crs
    assert g.iloc[3] is None
    exp = wgs84_to_gcj02(106.63, 26.65)
    assert g.iloc[0].x == pytest.approx(float(exp[0]))
    back = convert_geoseries(g, "GCJ-02", "WGS84")
    for a, b in zip(gs.iloc[:3], back.iloc[:3], strict=True):
        assert a.equals_exact(b, 1e-8)
    bd = convert_geoseries(gs, "wgs84", "bd09")
    assert not bd.iloc[0].equals_exact(g.iloc[0], 1e-6)


def test_convert_geoseries_rejects_projected_and_unknown() -> None:
    gs = gpd.GeoSeries([Point(600000, 2900000)], crs="EPSG:32648")
    with pytest.raises(DataError, match="projected"):
        convert_geoseries(gs, "gcj02", "wgs84")
    with pytest.raises(DataError, match="unknown coordinate offset"):
        convert_geoseries(gs.set_crs(4326, allow_override=True), "mars", "wgs84")


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [(105.93, 26.25, 32648), (121.47, 31.23, 32651), (87.6, 43.8, 32645), (-70.6, -33.4, 32719)],
)
def test_local_utm_crs_matches_geopandas(lon: float, lat: float, epsg: int) -> None:
    gs = gpd.GeoSeries([Point(lon, lat), Point(lon + 0.01, lat + 0.01)], crs="EPSG:4326")
    assert local_utm_crs(gs).to_epsg() == epsg
    assert local_utm_crs(gs) == gs.estimate_utm_crs()
    # from a projected CRS too
    assert local_utm_crs(gs.to_crs(3857)).to_epsg() == epsg


def test_local_utm_crs_needs_a_crs() -> None:
    with pytest.raises(DataError, match="without a CRS"):
        local_utm_crs(gpd.GeoSeries([Point(0, 0)]))
