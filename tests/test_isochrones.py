"""Catchments (isochrone polygons): the streets reached, against a plain reference."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import ops
from shapely.geometry import LineString, Point

import gridplan.access.isochrones as iso
from gridplan.access.coverage import _subset, check_facilities, profile_speed, tier_pairs
from gridplan.access.isochrones import catchments
from gridplan.network.distances import node_distances
from gridplan.network.graph import build_walk_network
from gridplan.network.snapping import snap_points
from gridplan.settings import DEFAULT, load_config

CRS = "EPSG:32648"
CFG = load_config(
    {"coverage": {"tiers": {"5": ["kindergarten", "health_station"], "10": ["primary_school"]}}}
)
#: Categories listed at several tiers: the smaller tiers come from the largest one's search.
NESTED = load_config(
    {"coverage": {"tiers": {"5": ["kindergarten"], "10": ["kindergarten", "market"]}}}
)


def street(length=2000.0):
    roads = gpd.GeoDataFrame(
        {"road_class": ["residential"]}, geometry=[LineString([(0, 0), (length, 0)])], crs=CRS
    )
    return build_walk_network(roads)


def lattice(n=7, step=90.0):
    """A street grid, n x n nodes, one diagonal and one short dead end for variety."""
    lines = [LineString([(0, i * step), ((n - 1) * step, i * step)]) for i in range(n)]
    lines += [LineString([(i * step, 0), (i * step, (n - 1) * step)]) for i in range(n)]
    lines += [LineString([(0, 0), (2 * step, 2 * step)]), LineString([(step, 35), (150, 60)])]
    roads = gpd.GeoDataFrame({"road_class": ["residential"] * len(lines)}, geometry=lines, crs=CRS)
    return build_walk_network(roads)


def facilities_at(items, y=0.0):
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i}" for i in range(len(items))],
            "category": [c for c, _ in items],
        },
        geometry=[Point(x, y) for _, x in items],
        crs=CRS,
    )


def reference(facilities, network, config=None, buffer_m=None):
    """The plain implementation: one search per facility and tier, edge by edge."""
    cfg = config or DEFAULT
    buffer_m = cfg.coverage.catchment_buffer_m if buffer_m is None else buffer_m
    speed = profile_speed("standard", cfg)
    fac = check_facilities(facilities)
    snap = snap_points(network, fac.geometry, config=cfg)
    out = []
    for i, cat in enumerate(fac["category"]):
        for t in [t for t, c in tier_pairs(cfg) if c == cat]:
            if not snap.reachable[i]:
                out.append(None)
                continue
            budget = t * speed
            nd = node_distances(network, _subset(snap, np.arange(len(fac)) == i), limit=budget)
            parts = []
            for e in range(network.n_edges):
                g, length = network.edge_geometry[e], network.edge_length[e]
                du, dv = nd[network.edge_u[e]], nd[network.edge_v[e]]
                if not (np.isfinite(du) or np.isfinite(dv)):
                    continue
                ru, rv = max(budget - du, 0.0), max(budget - dv, 0.0)
                if ru + rv >= length:
                    parts.append(g)
                    continue
                if ru > 0:
                    parts.append(ops.substring(g, 0.0, ru))
                if rv > 0:
                    parts.append(ops.substring(g, length - rv, length))
            own, left = int(snap.edge[i]), budget - float(snap.access_m[i])
            if left > 0:
                a, length = float(snap.along_m[i]), network.edge_length[own]
                g = network.edge_geometry[own]
                parts.append(ops.substring(g, max(a - left, 0), min(a + left, length)))
            lines = [p for p in parts if p.geom_type == "LineString" and not p.is_empty]
            poly = shapely.union_all([p.buffer(buffer_m, quad_segs=2) for p in lines])
            out.append(shapely.simplify(poly, buffer_m / 8))
    return out


def assert_close(got, want, tol=0.01):
    """Each polygon within ``tol`` of the reference: symmetric difference / area."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if w is None:
            assert g is None or g.is_empty
            continue
        assert g.is_valid
        assert shapely.symmetric_difference(g, w).area <= tol * w.area


def test_catchments_follow_the_street():
    f = facilities_at([("kindergarten", 1000.0), ("primary_school", 1000.0)])
    cat = catchments(f, street(), config=CFG, buffer_m=20)
    assert list(cat.columns) == ["facility_id", "category", "tier", "minutes", "geometry"]
    assert cat.tier.tolist() == ["5min", "10min"]
    five = cat.geometry.iloc[0]
    assert five.contains(Point(1250, 10))
    assert not five.contains(Point(1350, 10))  # beyond 300 m
    assert not five.contains(Point(1000, 100))  # off the street corridor
    assert cat.geometry.iloc[1].contains(Point(1550, 10))


def test_lattice_matches_the_reference_and_nested_tiers():
    net = lattice()
    f = facilities_at([("kindergarten", 100.0), ("market", 270.0), ("kindergarten", 400.0)], y=95.0)
    got = catchments(f, net, config=NESTED)
    assert got.tier.tolist() == ["5min", "10min", "10min", "5min", "10min"]
    assert_close(list(got.geometry), reference(f, net, config=NESTED))
    # each tier's polygon inside the next: the 5-minute ones come from the 10-minute search
    for fid in ("F0", "F2"):
        five, ten = got[got.facility_id == fid].geometry
        assert five.area < ten.area
        assert shapely.difference(five, ten).area < 1e-3 * five.area


def test_town_matches_the_reference(town_dataset):
    roads, barriers = town_dataset.layer("roads"), town_dataset.layer("barriers")
    facilities = town_dataset.layer("facilities")
    net = build_walk_network(roads, barriers=barriers)
    got = catchments(facilities, net)
    assert len(got) > 20
    assert_close(list(got.geometry), reference(facilities, net))


def test_chunked_searches_and_input_order_change_nothing(monkeypatch):
    net = lattice()
    f = facilities_at([("kindergarten", x) for x in (30.0, 200.0, 310.0, 480.0)], y=185.0)
    before = f.copy()
    whole = catchments(f, net, config=NESTED)
    monkeypatch.setattr(iso, "_DIJKSTRA_BYTES", 1)  # one facility per SciPy call
    chunked = catchments(f.iloc[::-1], net, config=NESTED)
    pd.testing.assert_frame_equal(whole.drop(columns="geometry"), chunked.drop(columns="geometry"))
    assert list(whole.geometry.to_wkb()) == list(chunked.geometry.to_wkb())
    pd.testing.assert_frame_equal(f, before)


def test_unreachable_and_far_facilities():
    f = facilities_at([("kindergarten", 1000.0), ("kindergarten", 1000.0)])
    f.loc[1, "geometry"] = Point(1000, 5000)  # beyond max_access_m
    cat = catchments(f, street(), config=CFG)
    assert cat.geometry.iloc[0] is not None and not cat.geometry.iloc[0].is_empty
    assert cat.geometry.iloc[1] is None or cat.geometry.iloc[1].is_empty


@settings(max_examples=60, deadline=None)
@given(
    pts=st.lists(
        st.tuples(st.floats(-500, 500), st.floats(-500, 500)), min_size=2, max_size=6, unique=True
    ),
    a=st.floats(0, 1),
    b=st.floats(0, 1),
)
def test_substrings_match_shapely(pts, a, b):
    line = LineString(pts)
    if line.length < 1e-6:
        return
    s, t = sorted((a * line.length, b * line.length))
    got = iso._substrings(np.array([line, line]), np.array([s, 0.0]), np.array([t, s]))
    want = [ops.substring(line, s, t), ops.substring(line, 0.0, s)]
    keep = [w for w in want if w.geom_type == "LineString" and w.length > 1e-6]
    assert len(got) <= 2
    assert all(g.geom_type == "LineString" for g in got)
    # the pieces of some length are shapely's, within rounding
    long = [g for g in got if g.length > 1e-6]
    assert len(long) == len(keep)
    for g, w in zip(long, keep, strict=True):
        assert shapely.hausdorff_distance(g, w) < 1e-6
        assert shapely.equals_exact(shapely.get_point(g, 0), shapely.get_point(w, 0), 1e-6)


def test_lattice_catchment_holds_no_network_beyond_the_budget():
    net = lattice()
    f = facilities_at([("kindergarten", 0.0)], y=0.0)
    poly = catchments(f, net, config=CFG, buffer_m=10).geometry.iloc[0]
    # 300 m along the grid from the corner, the diagonal is shorter: (212 m to (150, 150))
    assert poly.contains(Point(270, 0))
    assert not poly.contains(Point(330, 0))
    assert poly.contains(Point(150, 150))
    assert not poly.contains(Point(540, 540))


@pytest.mark.parametrize("buffer_m", [5.0, 40.0])
def test_buffer_width(buffer_m):
    f = facilities_at([("kindergarten", 1000.0)])
    poly = catchments(f, street(), config=CFG, buffer_m=buffer_m).geometry.iloc[0]
    assert poly.contains(Point(1000, buffer_m * 0.8))
    assert not poly.contains(Point(1000, buffer_m * 1.3))


def test_a_polygon_does_not_depend_on_the_other_facilities():
    """What the Dask path relies on: chunks of facilities give the polygons of the whole run."""
    net = lattice(n=9, step=70.0)
    f = facilities_at([("kindergarten", x) for x in (20.0, 250.0, 420.0, 530.0)], y=140.0)
    whole = catchments(f, net, config=NESTED)
    assert whole.geometry.area.max() > 20 * 90 * 70  # large enough to use united patches
    for i in (3, 1):
        alone = catchments(f.iloc[[i]], net, config=NESTED)
        want = whole[whole.facility_id == f.facility_id.iloc[i]].geometry
        assert list(alone.geometry.to_wkb()) == list(want.to_wkb())
