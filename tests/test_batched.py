"""Batched province runs compute coverage batch by batch, as a whole-dataset run does."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from gridplan._errors import ConfigError
from gridplan.network.graph import build_walk_network
from gridplan.network.snapping import snap_points
from gridplan.run.batch_coverage import _merge_open_components, merge_coverage, search_radius_m
from gridplan.run.batch_read import _expand_box
from gridplan.run.batched import plan_to_folder_batched
from gridplan.settings import load_config

#: Slow walkers and short access: a 350 m search radius, so that each batch of the ~1.4 km town
#: reads only part of its roads and facilities (the default radius, 2.3 km, reads all of them).
SLOW = {"coverage": {"speed_m_per_min": 10.0, "max_access_m": 50.0}}
STAGES = ["partition", "coverage"]
KEY = ["building_id", "tier", "category"]
SUMMARY_KEY = ["level", "area_id", "tier", "category"]


@pytest.fixture(scope="module")
def slow_runs(town_path, tmp_path_factory):
    """The town planned in memory and batch by batch (one community a batch), slow walkers."""
    from gridplan.io.load import load_dataset
    from gridplan.output.planfile import read_plan
    from gridplan.run.pipeline import plan_dataset

    cfg = load_config(SLOW)
    mem = plan_dataset(
        load_dataset(town_path, config=cfg), config=cfg, stages=STAGES, catchments=True
    )
    out = tmp_path_factory.mktemp("batched") / "plan"
    plan_to_folder_batched(town_path, out, config=cfg, batch_size=1, stages=STAGES)
    return mem, read_plan(out)


def test_search_radius_is_the_largest_search_bound_plus_access():
    cfg = load_config(SLOW)
    # 15 minutes × 10 m/min × search factor 2, plus 50 m of access
    assert search_radius_m(cfg) == pytest.approx(350.0)
    assert search_radius_m() == pytest.approx(15 * 60 * 2 + 500)


def test_batches_read_only_the_roads_near_them(slow_runs, town_path):
    _, got = slow_runs
    roads = gpd.read_file(town_path / "roads.geojson")
    info = got.metadata["batched"]["coverage"]
    assert got.metadata["batched"]["batches"] == 3
    assert info["search_radius_m"] == pytest.approx(350.0)
    # the bbox filter left roads out (three batches reading everything would read 3 × n)
    assert info["roads_read"] < 3 * len(roads)


def test_coverage_table_equals_the_whole_dataset_run(slow_runs):
    mem, got = slow_runs
    a = mem.layers["coverage"].sort_values(KEY).reset_index(drop=True)
    b = got.layers["coverage"].sort_values(KEY).reset_index(drop=True)
    assert len(a) == len(b) > 0
    assert b[KEY].equals(a[KEY].astype(b[KEY].dtypes.to_dict()))
    ma, mb = a["minutes"].to_numpy(float), b["minutes"].to_numpy(float)
    assert (np.isnan(ma) == np.isnan(mb)).all()
    both = ~np.isnan(ma)
    assert both.any() and (~both).any()  # some reached, some beyond the search bound
    np.testing.assert_allclose(mb[both], ma[both], rtol=0, atol=1e-6)
    assert (a["covered"].to_numpy(bool) == b["covered"].to_numpy(bool)).all()
    assert a["covered"].any()


def test_summary_metrics_and_flags_equal_the_whole_dataset_run(slow_runs):
    mem, got = slow_runs
    a = mem.layers["coverage_summary"].sort_values(SUMMARY_KEY).reset_index(drop=True)
    b = got.layers["coverage_summary"].sort_values(SUMMARY_KEY).reset_index(drop=True)
    assert set(b["level"]) == {"all", "community", "grid"}
    pd.testing.assert_frame_equal(b, a, check_dtype=False)
    # the whole-plan rows come first, once
    raw = got.layers["coverage_summary"]
    n_all = int((raw["level"] == "all").sum())
    assert (raw["level"].iloc[:n_all] == "all").all()

    def untimed(m):
        return {k: v for k, v in m.items() if k != "seconds"}

    cov_a, cov_b = mem.metadata["metrics"]["coverage"], got.metadata["metrics"]["coverage"]
    assert untimed(cov_b) == untimed(cov_a)
    assert got.metadata["flags"]["coverage"] == mem.metadata["flags"]["coverage"]


def test_each_facility_and_catchment_is_written_once(slow_runs):
    mem, got = slow_runs
    fac = got.layers["facilities"]["facility_id"]
    assert fac.is_unique
    assert sorted(fac) == sorted(mem.layers["facilities"]["facility_id"])
    keys = ["facility_id", "tier"]
    ca = mem.layers["catchments"].sort_values(keys).reset_index(drop=True)
    cb = got.layers["catchments"].to_crs(ca.crs).sort_values(keys).reset_index(drop=True)
    assert cb[keys].equals(ca[keys])
    ga, gb = ca.geometry, cb.geometry
    ok = ga.notna() & ~ga.is_empty
    assert (ok == (gb.notna() & ~gb.is_empty)).all()
    # the same polygons, up to the round trip through the input's CRS
    assert float(ga[ok].symmetric_difference(gb[ok]).area.max()) < 1e-3


def test_siting_is_left_out_and_says_why(slow_runs, town_path, tmp_path):
    _, got = slow_runs
    assert "whole area" in got.metadata["skipped"]["site"]
    assert any("siting" in f for f in got.metadata["flags"]["batched"])
    assert "sites" not in got.metadata["metrics"]
    with pytest.raises(ConfigError, match="site"):
        plan_to_folder_batched(town_path, tmp_path / "p", stages=["site"])


def test_whole_shares_are_weighted_by_households():
    cfg = load_config({"coverage": {"tiers": {5: ["kindergarten"]}}})

    def part(hh: int, covered: int) -> dict:
        return {
            "all": [["5min", "*", hh, covered, 0], ["5min", "kindergarten", hh, covered, 0]],
            "residential_buildings": 1,
            "households": hh,
            "households_unreachable": 0,
            "buildings_unreachable": 0,
            "buildings_moved_off_fragment_or_barrier": 0,
            "unreachable_building_ids": [],
            "facilities": 1,
            "facilities_unreachable": 0,
            "unreachable_facility_ids": [],
            "categories_reachable": ["kindergarten"],
            "seconds": {"total": 1.0},
        }

    rows, metrics, flags = merge_coverage([part(900, 900), part(100, 0)], cfg)
    # 900 of 1000 households: 0.9, not the mean of the batches' shares (0.5)
    assert metrics["covered_share"] == {"5min": {"kindergarten": 0.9}}
    assert metrics["complete_share"] == {"5min": 0.9}
    assert rows["households"].tolist() == [1000, 1000]
    assert rows["share_covered"].tolist() == [0.9, 0.9]
    assert metrics["seconds"] == {"total": 2.0}
    assert flags == []
    _, metrics, flags = merge_coverage([part(100, 10), part(300, 30)], cfg)
    assert metrics["complete_share"] == {"5min": 0.1}
    assert flags and "only 10%" in flags[0]


def test_cut_pieces_of_the_network_count_as_its_main_component():
    # batch area: x, y in 0..100, radius 50. Roads A and B run out of the batch's reach (their
    # pieces read for the batch are not joined here, but may be outside it); C is a short
    # fragment wholly inside, nearer the house than A. B is the longest piece read, so without
    # the rule only B would be the main component and the house would join the fragment.
    roads = gpd.GeoDataFrame(
        {"road_class": ["residential"] * 3},
        geometry=[
            LineString([(0, 0), (400, 0)]),  # A: open, 40 m from the house
            LineString([(-600, 100), (0, 100)]),  # B: open, the longest
            LineString([(40, 30), (60, 30)]),  # C: closed fragment, 10 m from the house
        ],
        crs="EPSG:32648",
    )
    net = build_walk_network(roads)
    house = gpd.GeoSeries([Point(50, 40)], crs="EPSG:32648")
    before = snap_points(net, house, max_access_m=60.0)
    assert before.access_m[0] == pytest.approx(10.0)  # the fragment, B being the main one
    merged, info = _merge_open_components(net, (0.0, 0.0, 100.0, 100.0), 50.0)
    assert info == {"open_components": 2}
    main = merged.main_component
    edge_comp = merged.component[merged.edge_u]
    # both open roads are main, the fragment is not
    assert (edge_comp[merged.edge_length > 150] == main).all()
    assert len(set(edge_comp[merged.edge_length > 150])) == 1
    frag = np.flatnonzero(np.isclose(merged.edge_length, 20.0))
    assert (edge_comp[frag] != main).all()
    # the house joins the main network 40 m away, not the fragment 10 m away
    snap = snap_points(merged, house, max_access_m=60.0)
    assert snap.reachable[0] and snap.access_m[0] == pytest.approx(40.0)
    assert snap.moved[0]
    # with everything inside the radius the rule is the network's own
    same, info = _merge_open_components(net, (-700.0, -700.0, 700.0, 700.0), 50.0)
    assert info == {"open_components": 0} and same is net


@settings(max_examples=40, deadline=None)
@given(
    lon=st.floats(70.0, 135.0),
    lat=st.floats(-60.0, 60.0),
    size=st.floats(0.0, 0.5),
    metres=st.floats(1.0, 20_000.0),
    kind=st.sampled_from(["lonlat", "web", "utm"]),
)
def test_a_grown_box_holds_every_point_within_the_distance(lon, lat, size, metres, kind):
    from pyproj import Geod, Transformer

    zone = int((lon + 180) // 6) + 1
    utm = f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"
    crs = {"lonlat": "EPSG:4326", "web": "EPSG:3857", "utm": utm}[kind]
    box_ll = (lon, lat, lon + size, lat + size)
    to = Transformer.from_crs(4326, crs, always_xy=True)
    box = to.transform_bounds(*box_ll, densify_pts=21)
    grown = _expand_box(box, crs, metres)
    geod = Geod(ellps="WGS84")
    # points `metres` away from the box's corners and edge midpoints, in every direction
    xs = [lon, lon + size / 2, lon + size]
    ys = [lat, lat + size / 2, lat + size]
    starts = [(x, y) for x in xs for y in ys if x in (xs[0], xs[2]) or y in (ys[0], ys[2])]
    az = np.arange(0, 360, 15.0)
    for x, y in starts:
        px, py, _ = geod.fwd(np.full(len(az), x), np.full(len(az), y), az, np.full(len(az), metres))
        gx, gy = to.transform(px, py)
        assert (gx >= grown[0]).all() and (gx <= grown[2]).all()
        assert (gy >= grown[1]).all() and (gy <= grown[3]).all()
    assert all(math.isfinite(v) for v in grown)


def test_batched_writes_the_files_and_metadata_keys_of_a_sequential_run(town_path, tmp_path):
    """The same stages run sequentially and batch by batch give the same plan folder files,
    a manifest listing each with its checksum, and metadata with the same keys."""
    import json

    from gridplan.io.load import load_dataset
    from gridplan.output.planfile import MANIFEST, file_checksum, read_plan
    from gridplan.run.batched import BATCHED_STAGES
    from gridplan.run.metadata import METADATA_KEYS
    from gridplan.run.pipeline import plan_dataset, run_to_folder

    seq, bat = tmp_path / "seq", tmp_path / "bat"
    plan = plan_dataset(load_dataset(town_path), stages=BATCHED_STAGES)
    run_to_folder(plan, seq, stages=BATCHED_STAGES)
    plan_to_folder_batched(town_path, bat, batch_size=2)

    def files(folder):
        return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}

    assert files(bat) == files(seq)
    assert {"plan.gpkg", MANIFEST, "rosters.xlsx", "rosters/staff.csv"} <= files(bat)
    for folder in (seq, bat):
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        assert set(manifest) == files(folder) - {MANIFEST}
        assert all(file_checksum(folder / name) == sha for name, sha in manifest.items())

    a, b = read_plan(seq).metadata, read_plan(bat).metadata
    assert set(METADATA_KEYS) <= set(a)
    assert set(a) == set(b) - {"batched"}
    assert set(a["dataset"]) == set(b["dataset"])
    for key in ("input_crs", "working_crs", "offset", "layers"):
        assert b["dataset"][key] == a["dataset"][key], key
    assert set(b["checksums"]) == set(a["checksums"])
    assert b["checksums"]["buildings"] == file_checksum(town_path / "buildings.geojson")
    assert set(b["metrics"]) == set(a["metrics"]) == {"partition", "units", "staffing", "coverage"}
    assert set(b["sensitivity"]) == set(a["sensitivity"])
    assert b["sensitivity"]["scenarios"] == a["sensitivity"]["scenarios"]

    # grids are those of the sequential run, so the merged partition figures are its figures
    def untimed(m):
        if isinstance(m, dict):
            return {k: untimed(v) for k, v in m.items() if not k.endswith(("time_s", "seconds"))}
        return m

    assert untimed(b["metrics"]["partition"]) == untimed(a["metrics"]["partition"])
    assert {"partition", "units", "assign"} <= set(b["timings_s"])
    for key in ("parameters", "seed", "gridplan_version", "stages"):
        assert b[key] == a[key], key


USE_COLS = ["building_id", "use", "use_source", "use_reason", "households"]


def _evidence_town(town_path, folder):
    """The town with its uses and household counts withheld, plus use evidence: landuse
    polygons (one across two communities), POIs inside some footprints, an overrides file."""
    import shutil

    from shapely.geometry import box

    folder.mkdir(parents=True)
    for f in town_path.iterdir():
        if f.name != "buildings.geojson":
            shutil.copy(f, folder / f.name)
    b = gpd.read_file(town_path / "buildings.geojson")
    b = b.drop(columns=["use", "households", "population"])
    b.to_file(folder / "buildings.geojson")
    x0, y0, x1, y1 = b.total_bounds
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    gpd.GeoDataFrame(
        {"landuse": ["commercial", "residential", "industrial"]},
        geometry=[
            box(xm - 0.002, ym - 0.002, xm + 0.002, ym + 0.002),  # reaches over communities
            box(x0, y0, xm, ym),
            box(x1 - 0.001, y1 - 0.001, x1, y1),
        ],
        crs=b.crs,
    ).to_file(folder / "landuse.geojson")
    pts = b.geometry.representative_point()
    kinds = ["hotel", "bank", "office", "company", "restaurant", "supermarket"]
    picks = list(range(0, len(b), 37))
    gpd.GeoDataFrame(
        {"amenity": [kinds[i % len(kinds)] for i in range(len(picks))]},
        geometry=[pts.iloc[i] for i in picks],
        crs=b.crs,
    ).to_file(folder / "pois.geojson")
    ids = b["building_id"].astype(str)
    pd.DataFrame(
        {
            "building_id": [ids.iloc[5], ids.iloc[400], ids.iloc[900]],
            "use": ["non_residential", "residential", None],
            "households": [None, 30, 12],
        }
    ).to_csv(folder / "overrides.csv", index=False)
    return folder


def _uses(buildings):
    return (
        pd.DataFrame(buildings[USE_COLS])
        .astype({"building_id": str})
        .sort_values("building_id")
        .reset_index(drop=True)
    )


@pytest.fixture(scope="module")
def evidence_runs(town_path, tmp_path_factory):
    """The evidence town planned in memory and in batches of one community (partition only)."""
    from gridplan.io.load import load_dataset
    from gridplan.output.planfile import read_plan
    from gridplan.run.pipeline import plan_dataset

    folder = _evidence_town(town_path, tmp_path_factory.mktemp("evidence") / "town")
    mem = plan_dataset(load_dataset(folder), stages=["partition"])
    out = tmp_path_factory.mktemp("evidence-batched") / "plan"
    plan_to_folder_batched(folder, out, batch_size=1, stages=["partition"])
    return folder, mem, read_plan(out)


def test_batches_decide_uses_like_a_whole_dataset_run(evidence_runs):
    _, mem, got = evidence_runs
    a, b = _uses(mem.buildings), _uses(got.buildings)
    assert len(a) == len(b) == 1001
    # the evidence is used: landuse, POIs and overrides all decide some buildings
    reasons = " | ".join(a["use_reason"].astype(str))
    assert "inside landuse=commercial" in reasons and "POI" in reasons
    assert (a["use_source"] == "override").sum() == 3
    assert a["use"].nunique() == 3
    pd.testing.assert_frame_equal(a[USE_COLS[:-1]], b[USE_COLS[:-1]], check_dtype=False)
    np.testing.assert_array_equal(a["households"].to_numpy(int), b["households"].to_numpy(int))


def test_batched_overrides_file_wins_over_the_dataset_layer(evidence_runs, tmp_path):
    from gridplan._errors import DataError
    from gridplan.output.planfile import read_plan

    folder, _, _ = evidence_runs
    ids = sorted(pd.read_csv(folder / "overrides.csv")["building_id"].astype(str))
    fix = tmp_path / "fix.csv"
    pd.DataFrame({"building_id": [ids[0]], "households": [77]}).to_csv(fix, index=False)
    out = tmp_path / "plan"
    plan_to_folder_batched(folder, out, batch_size=2, stages=["partition"], overrides=fix)
    b = read_plan(out).buildings.set_index("building_id")
    assert (b["use_source"] == "override").sum() == 1
    assert b.loc[ids[0], "households"] == 77
    # a row naming no building is refused before any batch, as in a whole-dataset run
    pd.DataFrame({"building_id": ["NOPE1"], "households": [3]}).to_csv(fix, index=False)
    with pytest.raises(DataError, match="overrides: building_id found in no building: NOPE1"):
        plan_to_folder_batched(folder, tmp_path / "p2", batch_size=2, overrides=fix)
    assert not (tmp_path / "p2").exists()
