"""Coverage by tier and category: hand-computed minutes, tiers, profiles, summaries."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon

from gridplan._errors import ConfigError, DataError
from gridplan.access.coverage import compute_coverage
from gridplan.network.graph import build_walk_network
from gridplan.settings import load_config

CRS = "EPSG:32648"
CFG = load_config(
    {"coverage": {"tiers": {"5": ["kindergarten", "health_station"], "10": ["primary_school"]}}}
)


def street(length=2000.0):
    roads = gpd.GeoDataFrame(
        {"road_class": ["residential"]}, geometry=[LineString([(0, 0), (length, 0)])], crs=CRS
    )
    return build_walk_network(roads)


def buildings_at(xs, households=None, y=10.0, **cols):
    n = len(xs)
    data = {
        "building_id": [f"B{i}" for i in range(n)],
        "households": households if households is not None else [10] * n,
        **cols,
    }
    return gpd.GeoDataFrame(data, geometry=[Point(x, y) for x in xs], crs=CRS)


def facilities_at(items):
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i}" for i in range(len(items))],
            "category": [c for c, _ in items],
        },
        geometry=[Point(x, 0) for _, x in items],
        crs=CRS,
    )


def cell(res, bid, cat):
    row = res.coverage[(res.coverage.building_id == bid) & (res.coverage.category == cat)]
    assert len(row) == 1
    return row.iloc[0]


def test_minutes_by_hand_and_tier_boundary():
    # building access 10 m; kindergarten at x=0: B0 at x=280 walks 10 + 280 = 290 m
    b = buildings_at([280, 290, 500])
    f = facilities_at([("kindergarten", 0.0), ("primary_school", 0.0)])
    res = compute_coverage(b, f, street(), config=CFG)
    r = cell(res, "B0", "kindergarten")
    assert r.tier == "5min"
    assert r.minutes == pytest.approx(290 / 60)
    assert r.covered
    r1 = cell(res, "B1", "kindergarten")  # 300 m exactly: covered
    assert r1.minutes == pytest.approx(5.0)
    assert r1.covered
    assert not cell(res, "B2", "kindergarten").covered  # 510 m
    assert cell(res, "B2", "kindergarten").minutes == pytest.approx(8.5)  # within 2x bound
    assert cell(res, "B2", "primary_school").covered  # 10-minute tier: 600 m
    hs = cell(res, "B0", "health_station")
    assert np.isnan(hs.minutes)
    assert not hs.covered
    assert any("health_station" in f for f in res.flags)


def test_one_row_per_residential_building_tier_and_category():
    b = buildings_at([100, 200, 300], households=[5, 0, 7])
    f = facilities_at([("kindergarten", 0.0)])
    res = compute_coverage(b, f, street(), config=CFG)
    assert len(res.coverage) == 2 * 3
    assert set(res.coverage.building_id) == {"B0", "B2"}
    assert list(res.coverage.columns) == [
        "building_id",
        "tier",
        "category",
        "minutes",
        "covered",
        "reachable",
    ]
    assert set(zip(res.coverage.tier, res.coverage.category, strict=True)) == {
        ("5min", "kindergarten"),
        ("5min", "health_station"),
        ("10min", "primary_school"),
    }


def test_elderly_profile_is_slower():
    b = buildings_at([100, 250, 280, 700])
    f = facilities_at([("kindergarten", 0.0)])
    std = compute_coverage(b, f, street(), config=CFG)
    old = compute_coverage(b, f, street(), config=CFG, profile="elderly")
    ks = std.coverage[std.coverage.category == "kindergarten"].minutes.to_numpy()
    ko = old.coverage[old.coverage.category == "kindergarten"].minutes.to_numpy()
    fin = np.isfinite(ks)
    assert np.allclose(ko[fin], ks[fin] * 60 / 52)
    assert cell(std, "B2", "kindergarten").covered  # 290 m at 60 m/min: 4.8 min
    assert not cell(old, "B2", "kindergarten").covered  # at 52 m/min: 5.6 min
    assert old.metrics["profile"] == "elderly"
    with pytest.raises(ConfigError):
        compute_coverage(b, f, street(), config=CFG, profile="jogging")


def test_facility_off_the_network_serves_nobody():
    b = buildings_at([100])
    f = gpd.GeoDataFrame(
        {"facility_id": ["F0"], "category": ["kindergarten"]},
        geometry=[Point(100, 800)],  # 800 m from the only road
        crs=CRS,
    )
    res = compute_coverage(b, f, street(), config=CFG)
    assert res.metrics["facilities_unreachable"] == 1
    assert not cell(res, "B0", "kindergarten").covered
    assert any("F0" in flag for flag in res.flags)


def test_unreachable_households_are_reported_apart_from_uncovered():
    b = buildings_at([100, 100], households=[4, 6])
    b.loc[1, "geometry"] = Point(100, 900)
    f = facilities_at([("kindergarten", 0.0)])
    res = compute_coverage(b, f, street(), config=CFG)
    assert res.metrics["households_unreachable"] == 6
    row = cell(res, "B1", "kindergarten")
    assert not row.reachable
    assert not row.covered
    assert np.isnan(row.minutes)
    top = res.summary[(res.summary.level == "all") & (res.summary.category == "kindergarten")]
    assert top.households.iloc[0] == 10
    assert top.households_covered.iloc[0] == 4
    assert top.households_unreachable.iloc[0] == 6


def test_complete_households_and_grid_summary():
    b = buildings_at(
        [100, 100, 1500],
        households=[3, 4, 5],
        community_id=["C1", "C1", "C2"],
        grid_id=["G1", "G2", "G2"],
    )
    f = facilities_at([("kindergarten", 0.0), ("health_station", 150.0)])
    res = compute_coverage(b, f, street(), config=CFG)
    s = res.summary
    complete = s[(s.level == "all") & (s.tier == "5min") & (s.category == "*")]
    assert complete.households_covered.iloc[0] == 7
    assert res.metrics["complete_share"]["5min"] == pytest.approx(7 / 12)
    g2 = s[(s.level == "grid") & (s.area_id == "G2") & (s.tier == "5min") & (s.category == "*")]
    assert g2.households.iloc[0] == 9
    assert g2.share_covered.iloc[0] == pytest.approx(4 / 9)
    c2 = s[(s.level == "community") & (s.area_id == "C2") & (s.category == "kindergarten")]
    assert c2.households_covered.iloc[0] == 0


def test_polygon_buildings_use_a_point_inside():
    b = gpd.GeoDataFrame(
        {"building_id": ["B0"], "households": [10]},
        geometry=[Polygon([(90, 10), (110, 10), (110, 30), (90, 30)])],
        crs=CRS,
    )
    f = facilities_at([("kindergarten", 0.0)])
    res = compute_coverage(b, f, street(), config=CFG)
    assert cell(res, "B0", "kindergarten").minutes == pytest.approx(120 / 60, abs=0.1)


def test_river_with_one_bridge_decides_coverage():
    lines = [
        LineString([(0, 0), (1000, 0)]),
        LineString([(0, 100), (1000, 100)]),
        LineString([(500, 0), (500, 100)]),
    ]
    roads = gpd.GeoDataFrame({"road_class": ["residential"] * 3}, geometry=lines, crs=CRS)
    river = gpd.GeoDataFrame(
        geometry=[Polygon([(-100, 40), (1100, 40), (1100, 60), (-100, 60)])], crs=CRS
    )
    net = build_walk_network(roads, barriers=river)
    b = gpd.GeoDataFrame(
        {"building_id": ["N1", "S1"], "households": [5, 5]},
        geometry=[Point(100, 110), Point(120, -10)],
        crs=CRS,
    )
    f = gpd.GeoDataFrame(
        {"facility_id": ["F0"], "category": ["primary_school"]},
        geometry=[Point(100, -10)],
        crs=CRS,
    )
    res = compute_coverage(b, f, net, config=CFG)
    # the north building is 120 m from the school as the crow flies but walks via the bridge
    assert cell(res, "N1", "primary_school").minutes == pytest.approx(
        (10 + 400 + 100 + 400 + 10) / 60
    )
    assert cell(res, "S1", "primary_school").minutes == pytest.approx(40 / 60)


def test_missing_columns_are_named():
    with pytest.raises(DataError, match="households"):
        compute_coverage(
            gpd.GeoDataFrame({"building_id": ["B0"]}, geometry=[Point(0, 0)], crs=CRS),
            None,
            street(),
            config=CFG,
        )


def test_deterministic_and_inputs_untouched():
    b = buildings_at([100, 400, 900], households=[1, 2, 3])
    f = facilities_at([("kindergarten", 0.0), ("primary_school", 800.0)])
    before = b.copy()
    a = compute_coverage(b, f, street(), config=CFG)
    c = compute_coverage(b.iloc[::-1], f.iloc[::-1], street(), config=CFG)
    pd.testing.assert_frame_equal(a.coverage, c.coverage)
    pd.testing.assert_frame_equal(a.summary, c.summary)
    pd.testing.assert_frame_equal(b, before)


def test_town_minutes_match_networkx(town_dataset):
    """Every residential building of the sample town, against an independent Dijkstra."""
    import networkx as nx

    from gridplan.access.coverage import residential_buildings
    from gridplan.network.snapping import snap_points

    roads, barriers = town_dataset.layer("roads"), town_dataset.layer("barriers")
    buildings, facilities = town_dataset.layer("buildings"), town_dataset.layer("facilities")
    net = build_walk_network(roads, barriers=barriers)
    res = compute_coverage(buildings, facilities, net, search_factor=None)
    blds = residential_buildings(buildings)
    bsnap = snap_points(net, blds.geometry)
    g = nx.Graph()
    for u, v, length in zip(net.edge_u, net.edge_v, net.edge_length, strict=True):
        if u != v and (not g.has_edge(u, v) or g[u][v]["w"] > length):
            g.add_edge(int(u), int(v), w=float(length))
    for cat in ("kindergarten", "primary_school", "health_center"):
        fsnap = snap_points(net, facilities.geometry[facilities["category"] == cat])
        g2 = g.copy()
        for i in np.flatnonzero(fsnap.reachable):
            for node, off in (
                (fsnap.node_u[i], fsnap.offset_u[i]),
                (fsnap.node_v[i], fsnap.offset_v[i]),
            ):
                if not g2.has_edge("S", int(node)) or g2["S"][int(node)]["w"] > off:
                    g2.add_edge("S", int(node), w=float(off))
        dist = nx.single_source_dijkstra_path_length(g2, "S", weight="w")
        du = np.array([dist.get(int(n), np.inf) for n in bsnap.node_u])
        dv = np.array([dist.get(int(n), np.inf) for n in bsnap.node_v])
        want = np.minimum(du + bsnap.offset_u, dv + bsnap.offset_v)
        for i in np.flatnonzero(fsnap.reachable):  # same-edge walks
            same = bsnap.edge == fsnap.edge[i]
            direct = bsnap.access_m + fsnap.access_m[i] + np.abs(bsnap.along_m - fsnap.along_m[i])
            want[same] = np.minimum(want[same], direct[same])
        got = res.coverage[res.coverage.category == cat].set_index("building_id")["minutes"]
        got_m = got.reindex(blds["building_id"]).to_numpy() * 60.0
        assert np.nanmax(np.abs(got_m - want)) < 1.0


def test_tiers_group_and_sort_in_minutes_order(tmp_path):
    """5min, 10min, 15min: never the text order 10min, 15min, 5min (nor after a round trip)."""
    from gridplan.output.planfile import Plan, read_plan, write_plan_gpkg

    cfg = load_config(
        {"coverage": {"tiers": {"5": ["kindergarten"], "10": ["primary_school"], "15": ["market"]}}}
    )
    b = buildings_at([100, 200, 900], households=[5, 8, 7])
    f = facilities_at([("kindergarten", 0.0), ("primary_school", 0.0), ("market", 50.0)])
    res = compute_coverage(b, f, street(), config=cfg)
    want = ["5min", "10min", "15min"]
    for frame in (res.coverage, res.summary):
        assert list(frame.groupby("tier", observed=True).size().index) == want
        shuffled = frame.sample(frac=1.0, random_state=3)
        assert list(dict.fromkeys(shuffled.sort_values("tier")["tier"].astype(str))) == want
        assert list(dict.fromkeys(frame["tier"].astype(str))) == want  # rows in that order
    plan = Plan(
        layers={"coverage": res.coverage, "coverage_summary": res.summary},
        crs=CRS,
        metadata={"metrics": {"coverage": res.metrics}},  # type: ignore[typeddict-item]
    )
    back = read_plan(write_plan_gpkg(plan, tmp_path / "plan.gpkg"))
    for name in ("coverage", "coverage_summary"):
        got = back.layers[name]
        assert list(got.groupby("tier", observed=True).size().index) == want, name
        assert got["tier"].astype(str).tolist() == plan.layers[name]["tier"].astype(str).tolist()
    # the metadata's shares per tier come back in minutes order too (JSON keys are sorted)
    assert list(back.metadata["metrics"]["coverage"]["complete_share"]) == want
