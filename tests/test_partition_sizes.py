"""Grids: the size-forced check, the balance metrics where sizes allow, multi-grid re-splits."""

from __future__ import annotations

import itertools
from typing import Any

import geopandas as gpd
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from gridplan.partition.grids import partition_grids
from gridplan.partition.regions import _band, sizes_allow
from gridplan.partition.result import size_summary
from gridplan.partition.search import _Search

CRS = "EPSG:32648"


def _brute_force(items: list[int], k: int, lo: int, hi: int) -> bool:
    items = [x for x in items if x > 0]
    for assign in itertools.product(range(k), repeat=len(items)):
        loads = [0] * k
        for x, a in zip(items, assign, strict=True):
            loads[a] += x
        if min(loads) >= lo and max(loads) <= hi:
            return True
    return False


def test_sizes_allow_decides_the_plain_cases() -> None:
    assert sizes_allow(np.array([300, 250, 150, 100]), 2, 400) is True
    assert sizes_allow(np.array([480]), 1, 400) is False  # one building beyond +10 %
    assert sizes_allow(np.array([200, 200, 300]), 2, 400) is False  # 400 + 300: no split
    assert sizes_allow(np.array([3] * 206), 2, 400) is False  # 618 households, 2 grids
    assert sizes_allow(np.array([0, 0, 400]), 1, 400) is True
    assert sizes_allow(np.array([40] * 30), 3, 400) is True


def test_sizes_allow_glues_a_node_enclosed_by_one_neighbour() -> None:
    w = np.array([264, 150, 96, 290])
    assert sizes_allow(w, 2, 400) is True  # 264 + 96 and 150 + 290
    # node 0 touches only node 3: together 554 households, more than one grid may hold
    edges = np.array([(0, 3), (3, 1), (1, 2), (2, 3)])
    assert sizes_allow(w, 2, 400, edges=edges) is False
    # touching only node 1 instead: 264 + 150 and 96 + 290 fit
    edges = np.array([(0, 1), (3, 1), (1, 2), (2, 3)])
    assert sizes_allow(w, 2, 400, edges=edges) is True


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.integers(0, 300), min_size=1, max_size=7),
    k=st.integers(1, 3),
    scale=st.floats(0.85, 1.15),
)
def test_sizes_allow_agrees_with_brute_force(items: list[int], k: int, scale: float) -> None:
    target = max(1.0, sum(items) / k * scale)
    lo, hi = _band(target, 0.1)
    got = sizes_allow(np.array(items), k, target)
    assert got is not None  # small cases are always decided
    assert got == _brute_force(items, k, lo, hi)


def _two_faces() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """West of a primary road one tower of 480 households; east 20 blocks of 40."""
    geoms = [Point(100, 100)] + [Point(320 + 30 * (i % 5), 40 + 40 * (i // 5)) for i in range(20)]
    hh = [480] + [40] * 20
    b = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:03d}" for i in range(len(hh))],
            "households": np.array(hh, dtype="int64"),
            "community_id": "C01",
        },
        geometry=geoms,
        crs=CRS,
    )
    c = gpd.GeoDataFrame({"community_id": ["C01"]}, geometry=[box(0, 0, 500, 200)], crs=CRS)
    roads = gpd.GeoDataFrame(
        {"road_class": ["primary"]}, geometry=[LineString([(250, -10), (250, 210)])], crs=CRS
    )
    return b, c, roads


def test_metrics_separate_size_forced_grids() -> None:
    b, c, roads = _two_faces()
    res = partition_grids(b, c, roads=roads)
    m = res.metrics["communities"]["C01"]
    tower_grid = res.buildings.loc[res.buildings["building_id"] == "B000", "grid_id"].iloc[0]
    assert res.metrics["max_deviation"] == 0.2  # the tower's grid: 480 households
    assert m["grids_size_forced"] == 1
    assert m["size_forced_grids"] == [tower_grid]
    assert m["grids_size_unproven"] == 0
    assert m["max_deviation_sizes_allow"] <= 0.1
    assert m["share_within_10pct_sizes_allow"] == 1.0
    assert m["grids_within_10pct_sizes_allow"] == 2
    overall = size_summary(res.metrics["communities"])
    assert overall["size_forced_grids"] == [tower_grid]
    assert overall["share_within_10pct_sizes_allow"] == 1.0
    assert overall["max_deviation_sizes_allow"] == m["max_deviation_sizes_allow"]


def test_size_summary_counts_communities_without_the_check_as_not_forced() -> None:
    per: dict[str, dict[str, Any]] = {
        "C01": {
            "grids": 4,
            "max_deviation": 0.2,
            "share_within_10pct": 0.75,
            "grids_size_forced": 1,
            "size_forced_grids": ["C01-002"],
            "grids_size_unproven": 0,
            "grids_within_10pct_sizes_allow": 3,
            "max_deviation_sizes_allow": 0.05,
            "share_within_10pct_sizes_allow": 1.0,
        },
        "C02": {"grids": 2, "max_deviation": 0.15, "share_within_10pct": 0.5},
    }
    s = size_summary(per)
    assert s["grids_size_forced"] == 1
    assert s["grids_within_10pct_sizes_allow"] == 4
    assert s["share_within_10pct_sizes_allow"] == 0.8
    assert s["max_deviation_sizes_allow"] == 0.15


def test_size_summary_gives_no_figure_when_every_grid_is_size_forced() -> None:
    # Shenzhen's single convex-hull community: every grid of its one face group is size-forced;
    # a share "over the grids sizes allow" is then over no grid and must not read 100 %
    per = {
        "C01": {
            "grids": 3,
            "grids_size_forced": 3,
            "size_forced_grids": ["C01-001", "C01-002", "C01-003"],
            "grids_size_unproven": 0,
            "grids_within_10pct_sizes_allow": 0,
            "max_deviation_sizes_allow": None,
            "share_within_10pct_sizes_allow": None,
        }
    }
    s = size_summary(per)
    assert s["grids_size_forced"] == 3
    assert s["share_within_10pct_sizes_allow"] is None
    assert s["max_deviation_sizes_allow"] is None


def test_resplit_balances_three_grids_that_no_pair_can() -> None:
    # a path of towers: no re-split of two neighbouring grids reaches ±10 %, three can
    w = np.array([154, 237, 97, 156, 129, 150, 62, 193])
    n = len(w)
    adj = [[j for j in (i - 1, i + 1) if 0 <= j < n] for i in range(n)]
    cost = [[10.0] * len(a) for a in adj]
    labels = np.array([0, 1, 2, 2, 2, 2, 2, 2])
    s = _Search(
        adj=adj, cost=cost, w=w, labels=labels, k=3, target=400.0, low=300.0, high=500.0, mu=1.0
    )
    assert s.resplit([0, 1, 2], np.random.default_rng(0))
    lab = np.array(s.lab)
    loads = np.bincount(lab, weights=w, minlength=3)
    assert np.all(np.abs(loads - 400) <= 40), loads
    for r in range(3):  # every grid is one interval of the path
        idx = np.flatnonzero(lab == r)
        assert idx.max() - idx.min() + 1 == len(idx)
    assert sorted(s.weights) == sorted(loads.tolist())
