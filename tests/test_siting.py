"""Siting: the obvious site, exact vs brute force, set covering, candidates, determinism."""

from __future__ import annotations

import itertools
import time

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from shapely.geometry import LineString, Point

from gridplan._errors import ConfigError
from gridplan.access import covering
from gridplan.access.coverage import compute_coverage
from gridplan.access.covering import solve_max_cover, solve_set_cover
from gridplan.access.siting import candidate_coverage, generate_candidates, site_facilities
from gridplan.network.graph import build_walk_network
from gridplan.network.snapping import snap_points
from gridplan.settings import load_config

CRS = "EPSG:32648"
CFG = load_config({"coverage": {"tiers": {"5": ["kindergarten"]}}, "siting": {"new_sites": 1}})


def town():
    """A 3 km street; households cluster around x=2000, a few near x=400 (covered), one far."""
    roads = gpd.GeoDataFrame(
        {"road_class": ["residential"]}, geometry=[LineString([(0, 0), (3000, 0)])], crs=CRS
    )
    net = build_walk_network(roads)
    xs = [380, 420, 1950, 2000, 2050, 2100, 2900]
    hh = [10, 10, 30, 30, 30, 30, 5]
    b = gpd.GeoDataFrame(
        {"building_id": [f"B{i}" for i in range(len(xs))], "households": hh},
        geometry=[Point(x, 10) for x in xs],
        crs=CRS,
    )
    f = gpd.GeoDataFrame(
        {"facility_id": ["F0"], "category": ["kindergarten"]}, geometry=[Point(400, 0)], crs=CRS
    )
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S_far", "S_mid", "S_old", "S_school_only"],
            "categories": ["kindergarten", "kindergarten;nursery", None, "primary_school"],
        },
        geometry=[Point(2900, 5), Point(2020, 5), Point(450, 5), Point(2030, 5)],
        crs=CRS,
    )
    return net, b, f, sites


def test_siting_picks_the_obvious_site():
    net, b, f, sites = town()
    cov = compute_coverage(b, f, net, config=CFG)
    res = site_facilities(b, cov, net, sites=sites, config=CFG)
    assert res.sites.site_id.tolist() == ["S_mid"]
    assert res.sites.households_newly_covered.tolist() == [120]
    assert res.sites["rank"].tolist() == [1]
    m = res.metrics["kindergarten"]
    assert m["status"] == "optimal"
    assert m["objective"] == 120
    assert m["gap"] == 0
    assert m["households_covered_before"] == 20
    assert m["candidates"] == 3  # the primary-school-only site is not a candidate
    assert list(res.sites.columns) == [
        "site_id",
        "category",
        "tier",
        "households_newly_covered",
        "rank",
        "geometry",
    ]


def test_two_sites_rank_by_marginal_gain():
    net, b, f, sites = town()
    cov = compute_coverage(b, f, net, config=CFG)
    res = site_facilities(b, cov, net, sites=sites, config=CFG, new_sites=2)
    assert res.sites.site_id.tolist() == ["S_mid", "S_far"]
    assert res.sites.households_newly_covered.tolist() == [120, 5]


def test_generated_candidates_cover_the_cluster():
    net, b, f, _ = town()
    cov = compute_coverage(b, f, net, config=CFG)
    res = site_facilities(b, cov, net, config=CFG)
    assert len(res.sites) == 1
    assert res.sites.households_newly_covered.iloc[0] == 120
    assert 1750 <= res.sites.geometry.iloc[0].x <= 2300


def test_set_cover_finds_fewest_sites_or_explains():
    net, b, f, sites = town()
    cov = compute_coverage(b, f, net, config=CFG)
    res = site_facilities(b, cov, net, sites=sites, config=CFG, mode="set_cover", target_share=0.9)
    assert res.sites.site_id.tolist() == ["S_mid"]
    assert res.metrics["kindergarten"]["objective"] == 1
    full = site_facilities(b, cov, net, sites=sites, config=CFG, target_share=1.0)
    assert sorted(full.sites.site_id) == ["S_far", "S_mid"]
    few = sites[sites.site_id == "S_far"]
    short = site_facilities(b, cov, net, sites=few, config=CFG, target_share=0.9)
    assert len(short.sites) == 0
    assert short.metrics["kindergarten"]["status"] == "infeasible"
    assert any("target" in flag for flag in short.flags)
    with pytest.raises(ConfigError):
        site_facilities(b, cov, net, config=CFG, mode="everything")


def test_siting_is_deterministic():
    net, b, f, _sites = town()
    cov = compute_coverage(b, f, net, config=CFG)
    a = site_facilities(b, cov, net, config=CFG, new_sites=2)
    c = site_facilities(b.iloc[::-1], cov, net, config=CFG, new_sites=2)
    assert a.sites.site_id.tolist() == c.sites.site_id.tolist()
    assert a.sites.households_newly_covered.tolist() == c.sites.households_newly_covered.tolist()


def test_candidate_coverage_by_hand():
    net, _, _, _ = town()
    cand = snap_points(net, gpd.GeoSeries([Point(1000, 0), Point(2000, 0)], crs=CRS))
    dem = snap_points(net, gpd.GeoSeries([Point(1290, 5), Point(1300, 5), Point(2200, 0)], crs=CRS))
    inc = candidate_coverage(net, cand, dem, 300).toarray()
    assert inc.tolist() == [[1, 0], [0, 0], [0, 1]]


def test_generate_candidates_thins_junctions():
    lines = [LineString([(i * 20, 0), (i * 20, 100)]) for i in range(11)]
    lines.append(LineString([(0, 0), (200, 0)]))
    net = build_walk_network(
        gpd.GeoDataFrame({"road_class": ["footway"] * len(lines)}, geometry=lines, crs=CRS)
    )
    cand = generate_candidates(net, spacing_m=100)
    assert len(cand) <= 6
    assert cand.site_id.is_unique


@settings(max_examples=30, deadline=None)
@given(
    data=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=12),
    weights=st.lists(st.integers(0, 50), min_size=12, max_size=12),
    p=st.integers(1, 3),
)
def test_max_cover_is_optimal_against_brute_force(data, weights, p):
    a = np.array(data, dtype=np.int8)
    w = np.array(weights[: len(a)])
    sol = solve_max_cover(w, sparse.csr_matrix(a), p, time_limit_s=5)
    best = max(
        int(w[a[:, list(c)].any(axis=1)].sum())
        for c in itertools.combinations(range(a.shape[1]), p)
    )
    assert sol.objective == best
    assert len(sol.chosen) <= p
    assert int(sol.gains.sum()) == best
    assert sol.heuristic_objective <= best


@settings(max_examples=20, deadline=None)
@given(
    data=st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=1, max_size=10),
    share=st.floats(0.1, 1.0),
)
def test_set_cover_is_minimal_against_brute_force(data, share):
    a = np.array(data, dtype=np.int8)
    w = np.arange(1, len(a) + 1)
    need = share * w.sum()
    sol = solve_set_cover(w, sparse.csr_matrix(a), need, time_limit_s=5)
    sizes = [
        k
        for k in range(a.shape[1] + 1)
        for c in itertools.combinations(range(a.shape[1]), k)
        if w[a[:, list(c)].any(axis=1)].sum() >= need - 1e-9
    ]
    if not sizes:
        assert sol.status == "infeasible"
    else:
        assert sol.objective == min(sizes)
        assert sol.bound <= min(sizes)


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(st.lists(st.booleans(), min_size=8, max_size=8), min_size=2, max_size=14),
    weights=st.lists(st.integers(1, 60), min_size=14, max_size=14),
    share=st.floats(0.2, 0.95),
)
def test_set_cover_bounds_never_exceed_the_optimum(data, weights, share):
    a = sparse.csr_matrix(np.array(data, dtype=np.int8))
    w = np.array(weights[: a.shape[0]], dtype=np.int64)
    need = int(np.ceil(share * w.sum()))
    dense = a.toarray().astype(bool)
    sizes = [
        k
        for k in range(a.shape[1] + 1)
        for c in itertools.combinations(range(a.shape[1]), k)
        if w[dense[:, list(c)].any(axis=1)].sum() >= need
    ]
    if not sizes:
        return
    best = min(sizes)
    everything = list(range(a.shape[1]))
    assert covering._lagrangian_bound(w, a, need, a.shape[1], time.perf_counter() + 5) <= best
    lp_bound, cover = covering._set_cover_bound(w, a, need, everything, time.perf_counter() + 5)
    assert lp_bound <= best
    assert w[dense[:, cover].any(axis=1)].sum() >= need
    kept = covering._drop_redundant(w, a, everything, need)
    assert w[dense[:, kept].any(axis=1)].sum() >= need
    assert len(kept) >= best


def test_town_siting_from_sites_layer(town_dataset):
    net = build_walk_network(town_dataset.layer("roads"), barriers=town_dataset.layer("barriers"))
    b, f = town_dataset.layer("buildings"), town_dataset.layer("facilities")
    cfg = load_config({"siting": {"new_sites": 2}})
    cov = compute_coverage(b, f, net, config=cfg)
    res = site_facilities(
        b,
        cov,
        net,
        sites=town_dataset.layer("sites"),
        config=cfg,
        categories=["kindergarten", "primary_school"],
    )
    assert set(res.metrics) == {"kindergarten", "primary_school"}
    for cat, m in res.metrics.items():
        assert m["status"] in ("optimal", "nothing_to_cover")
        rows = res.sites[res.sites.category == cat]
        assert rows.households_newly_covered.sum() == m["households_newly_covered"]
        assert len(rows) <= 2
        assert (rows.households_newly_covered > 0).all()
        assert set(rows.site_id) <= set(town_dataset.layer("sites").site_id.astype(str))
