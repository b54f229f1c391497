"""Tests for gridplan.partition.replan: kept grids stay as they were, few households move, ids
stay."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from test_partition import CRS, check_plan, town

from gridplan.partition.grids import partition_grids
from gridplan.partition.replan import replan_grids


def add_compound(
    b: gpd.GeoDataFrame, x: float, y: float, towers: int = 6, hh: int = 100
) -> gpd.GeoDataFrame:
    rows = [
        {
            "building_id": f"N{i:02d}",
            "households": hh,
            "population": hh * 2.6,
            "compound": "NEW",
            "entrances": 2,
            "community_id": "C01",
            "geometry": box(
                x + 25 * (i % 3), y + 25 * (i // 3), x + 25 * (i % 3) + 12, y + 25 * (i // 3) + 12
            ),
        }
        for i in range(towers)
    ]
    new = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS)
    return gpd.GeoDataFrame(pd.concat([b, new], ignore_index=True), geometry="geometry", crs=CRS)


def check_kept(old, new) -> None:
    old_geom = dict(zip(old.grids["grid_id"], old.grids.geometry, strict=True))
    new_geom = dict(zip(new.grids["grid_id"], new.grids.geometry, strict=True))
    for gid in new.kept:
        assert gid in old_geom
        assert new_geom[gid].equals(old_geom[gid])
    assert set(new.kept).isdisjoint(new.changed_grids)
    assert set(new.grids["grid_id"]) <= set(new.kept) | set(new.changed_grids)
    # ids never change for kept grids; every old id that survives is an old grid's id
    assert set(new.kept) <= set(old.grids["grid_id"])
    # moved rows: existing buildings now (partly) in another grid
    if len(new.moved):
        old_of = dict(zip(old.buildings["building_id"], old.buildings["grid_id"], strict=True))
        for bid, h, og, ng in new.moved.itertuples(index=False):
            assert old_of[bid] == og != ng
            assert h > 0
    assert new.metrics["moved_households"] == int(new.moved["households"].sum())


def test_new_compound_changes_few_grids_and_moves_nobody() -> None:
    b, c, _ = town(4, 150, max_hh=30)
    old = partition_grids(b, c, seed=0)
    # the compound goes in the middle of the largest grid
    big = old.grids.assign(a=old.grids.area).sort_values(["a", "grid_id"]).iloc[-1]
    p = big.geometry.representative_point()
    b2 = add_compound(b, p.x - 30, p.y - 15)
    b2.loc[b2["building_id"].str.startswith("N"), "geometry"] = [
        shapely.Point(p.x + dx, p.y + dy)
        for dx, dy in [(-4, -2), (0, -2), (4, -2), (-4, 2), (0, 2), (4, 2)]
    ]
    new = replan_grids(old.buildings, old.grids, b2, c, seed=0)
    check_plan(new, b2, c)
    check_kept(old, new)
    assert len(new.changed_grids) <= 3
    assert big["grid_id"] in new.changed_grids
    assert new.metrics["moved_households"] == 0
    assert new.grids["households"].between(300, 500).all()
    assert len(new.kept) == len(old.grids) - 1
    # new grids get the next free codes
    fresh = set(new.grids["grid_id"]) - set(old.grids["grid_id"])
    last = max(int(g.split("-")[1]) for g in old.grids["grid_id"])
    assert all(int(g.split("-")[1]) > last for g in fresh)


def test_no_change_keeps_everything() -> None:
    b, c, roads = town(9, 120, road_y=220)
    old = partition_grids(b, c, roads=roads, seed=1)
    new = replan_grids(old.buildings, old.grids, b, c, roads=roads, seed=1)
    assert new.changed_grids == [] or all(
        "could not be improved" in f or "too few" in f or "Fix:" in f for f in new.flags
    )
    assert len(new.moved) == 0
    assert sorted(new.grids["grid_id"]) == sorted(old.grids["grid_id"])


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(60, 140),
    drop=st.floats(0.0, 0.5),
    towers=st.integers(0, 8),
)
@example(seed=10000, n=111, drop=0.5, towers=1)  # once left a hole in the tiling (CI, session 2)
def test_replan_random_changes(seed: int, n: int, drop: float, towers: int) -> None:
    b, c, _ = town(seed, n, max_hh=30)
    old = partition_grids(b, c, seed=seed)
    rng = np.random.default_rng(seed)
    keep = rng.random(len(b)) >= drop * (b.geometry.x.to_numpy() < 300)
    b2 = b[keep].reset_index(drop=True)
    if towers:
        b2 = add_compound(b2, rng.uniform(50, 600), rng.uniform(50, 400), towers=towers)
    new = replan_grids(old.buildings, old.grids, b2, c, seed=seed)
    check_plan(new, b2, c)
    check_kept(old, new)
    hh = dict(zip(new.grids["grid_id"], new.grids["households"], strict=True))
    for gid in new.kept:  # kept grids are within bounds (or flagged as not improvable)
        assert 300 <= hh[gid] <= 500 or any(gid in f for f in new.flags)
    again = replan_grids(old.buildings, old.grids, b2, c, seed=seed)
    assert again.grids["grid_id"].tolist() == new.grids["grid_id"].tolist()
    assert again.buildings["grid_id"].tolist() == new.buildings["grid_id"].tolist()


SIZE_KEYS = (
    "grids_size_forced",
    "size_forced_grids",
    "grids_size_unproven",
    "grids_within_10pct_sizes_allow",
    "max_deviation_sizes_allow",
    "share_within_10pct_sizes_allow",
)


def test_replan_reports_balance_where_sizes_allow() -> None:
    """Issue 14: re-planned and kept grids are size-checked as partition_grids checks them, so
    a re-plan's metrics (and report) keep the balance where building sizes allow."""
    b, c, roads = town(9, 120, road_y=220)
    old = partition_grids(b, c, roads=roads, seed=1)
    same = replan_grids(old.buildings, old.grids, b, c, roads=roads, seed=1)
    assert same.changed_grids == []
    for key in SIZE_KEYS:  # nothing changed: the same figures as the old plan
        assert key in same.metrics["communities"]["C01"]
        assert same.metrics[key] == old.metrics[key], key

    big = old.grids.assign(a=old.grids.area).sort_values(["a", "grid_id"]).iloc[-1]
    p = big.geometry.representative_point()
    b2 = add_compound(b, p.x - 30, p.y - 15)
    new = replan_grids(old.buildings, old.grids, b2, c, roads=roads, seed=1)
    assert new.changed_grids and new.kept
    per = new.metrics["communities"]["C01"]
    for key in SIZE_KEYS:
        assert key in per
        assert new.metrics[key] == per[key], key
    # the 600 households of the compound leave some grids size-forced, not all of them
    forced = set(per["size_forced_grids"])
    assert forced and forced < set(new.grids["grid_id"])
    free = new.grids[~new.grids["grid_id"].isin(forced)]
    assert per["grids_within_10pct_sizes_allow"] == int(
        ((free["households"] - 400).abs() <= 40).sum()
    )

    # kept grids keep the flags the old grids layer records
    recorded = old.grids.assign(size_forced=False, size_unproven=False)
    again = replan_grids(old.buildings, recorded, b2, c, roads=roads, seed=1)
    assert again.grids["grid_id"].tolist() == new.grids["grid_id"].tolist()
    assert set(again.metrics["size_forced_grids"]).isdisjoint(again.kept)
    assert set(again.metrics["size_forced_grids"]) == forced - set(new.kept)


def test_a_grid_that_outgrew_its_bounds_is_split(town_dataset, town_plan):
    """Households grew in the buildings of one grid (no new building): the re-plan splits it
    instead of keeping it over the maximum (the start used to have no spare region)."""
    from gridplan.partition import replan_grids

    g, b = town_plan.grids, town_plan.buildings
    gid = str(g.sort_values("households")["grid_id"].iloc[-1])
    grown = town_dataset.layers["buildings"].copy()
    mine = grown["building_id"].isin(b.loc[b["grid_id"] == gid, "building_id"])
    grown.loc[mine, "households"] = grown.loc[mine, "households"] * 2
    res = replan_grids(
        b,
        g,
        grown,
        town_dataset.layers["communities"],
        roads=town_dataset.layers["roads"],
        barriers=town_dataset.layers["barriers"],
    )
    assert int(grown.loc[mine, "households"].sum()) > 500
    assert gid in res.changed_grids
    mine_ids = set(b.loc[b["grid_id"] == gid, "building_id"])
    holding = res.buildings.loc[res.buildings["building_id"].isin(mine_ids), "grid_id"]
    assert holding.nunique() >= 2
    over = res.grids.loc[res.grids["households"] > 500, "grid_id"]
    assert int(res.grids["households"].max()) < int(grown.loc[mine, "households"].sum())
    assert all(any(x in f for f in res.flags) for x in over)  # any grid still over is said
