"""Use inference (issue 15): every rule on small fixtures, overrides, calibration warnings,
GeoPackage outputs, and the review-overrides loop through the CLI."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from gridplan.cli import main
from gridplan.households import (
    apply_overrides,
    calibration_summary,
    estimate_households,
)
from gridplan.settings import load_config
from gridplan.uses import infer_uses, name_evidence, plate_depth

CRS = "EPSG:32651"


def _one(geom=None, **cols) -> gpd.GeoDataFrame:
    data = {"building_id": ["b"], **{k: [v] for k, v in cols.items()}}
    return gpd.GeoDataFrame(data, geometry=[geom or box(0, 0, 40, 12)], crs=CRS)


def _use(frame: gpd.GeoDataFrame, **kw) -> tuple[str, str, str, str]:
    r = infer_uses(frame, **kw).iloc[0]
    return r["use"], r["use_source"], r["use_reason"], r["use_confidence"]


# -- single rules ---------------------------------------------------------------------------


def test_default_is_residential_on_low_evidence():
    use, source, reason, conf = _use(_one())
    assert (use, source, conf) == ("residential", "inferred", "low")
    assert reason.startswith("default")


def test_given_use_wins_and_is_given():
    use, source, reason, _ = _use(_one(use="non_residential", name="XX花园"))
    assert (use, source, reason) == ("non_residential", "given", "use column")


def test_given_households_make_a_home():
    use, _, reason, conf = _use(_one(households=12, building="office"))
    assert use == "residential" and reason == "households given (12)" and conf == "high"


@pytest.mark.parametrize(
    ("tag", "use"),
    [("hotel", "non_residential"), ("apartments", "residential"), ("mixed_use", "mixed")],
)
def test_osm_tag_decides(tag, use):
    got, _, reason, conf = _use(_one(building=tag, name="Grand Apartments"))
    assert got == use and reason == f"OSM building={tag}" and conf == "high"


def test_unknown_tag_is_never_rejected_and_left_to_inference():
    use, _, reason, _ = _use(_one(building="spaceship"))
    assert use == "residential" and "spaceship" not in reason.split(";")[0]


@pytest.mark.parametrize(
    ("name", "use"),
    [
        ("上海中心大厦", "non_residential"),
        ("汇丰银行大楼", "non_residential"),
        ("香格里拉大酒店", "non_residential"),
        ("上海证券交易所", "non_residential"),
        ("陆家嘴派出所", "non_residential"),
        ("世茂滨江花园", "residential"),
        ("银行宿舍", "residential"),  # the head noun (last word) decides
        ("花园酒店", "non_residential"),
        ("Citigroup Tower", "non_residential"),
        ("Riverside Apartments", "residential"),
        ("金茂商住楼", "mixed"),
    ],
)
def test_name_words(name, use):
    assert _use(_one(name=name))[0] == use


def test_name_words_extend_from_config():
    cfg = load_config({"households": {"non_residential_words": ["kirkko"]}})
    assert name_evidence("Vanha kirkko") is None
    assert name_evidence("Vanha kirkko", config=cfg) == (
        "non_residential",
        "kirkko",
        "planner's word",
        "strong",
    )
    assert _use(_one(name="Vanha kirkko"), config=cfg)[0] == "non_residential"


def test_latin_words_match_whole_words_only():
    assert name_evidence("Bankside Residence")[0] == "residential"
    assert name_evidence("Hotelli") is None


def test_landuse_containing_the_building():
    lu = gpd.GeoDataFrame(
        {"landuse": ["industrial", "residential"]},
        geometry=[box(-100, -100, 100, 100), box(-10, -10, 60, 30)],
        crs=CRS,
    )
    use, _, reason, _ = _use(_one(), landuse=lu)  # the smaller, residential polygon wins
    assert use == "residential" and reason == "inside landuse=residential"
    use, _, reason, _ = _use(_one(), landuse=lu.iloc[[0]])
    assert use == "non_residential" and reason == "inside landuse=industrial"


def test_commercial_land_alone_does_not_decide():
    lu = gpd.GeoDataFrame(
        {"landuse": ["commercial"]}, geometry=[box(-100, -100, 100, 100)], crs=CRS
    )
    assert _use(_one(), landuse=lu)[0] == "residential"


def test_pois_inside_the_footprint():
    def pois(*kinds):
        return gpd.GeoDataFrame(
            {"kind": list(kinds)}, geometry=[Point(5 + i, 5) for i in range(len(kinds))], crs=CRS
        )

    assert _use(_one(), pois=pois("hotel"))[0] == "non_residential"
    assert "1 hotel POI inside" in _use(_one(), pois=pois("hotel"))[2]
    assert _use(_one(), pois=pois("bank"))[0] == "residential"  # a branch below homes
    use, _, reason, _ = _use(_one(), pois=pois("bank", "office", "company"))
    assert use == "non_residential" and "3 " in reason
    use, _, reason, _ = _use(_one(), pois=pois("restaurant", "hairdresser"))
    assert use == "mixed" and "shops below homes" in reason
    assert _use(_one(), pois=pois("bench", "vending_machine"))[0] == "residential"
    far = gpd.GeoDataFrame({"kind": ["hotel"]}, geometry=[Point(500, 500)], crs=CRS)
    assert _use(_one(), pois=far)[0] == "residential"


def test_height_is_evidence_not_a_verdict():
    assert _use(_one(box(0, 0, 40, 40), height=632.0))[0] == "non_residential"
    assert "height 632 m" in _use(_one(box(0, 0, 40, 40), height=632.0))[2]
    # a residential tower of 153 m with a residential name stays a home
    assert _use(_one(box(0, 0, 30, 20), height=153.0, name="仁恒滨江花园"))[0] == "residential"


def test_footprint_and_plate_depth():
    assert _use(_one(box(0, 0, 4, 4)))[0] == "non_residential"  # 16 m²: a kiosk
    use, _, reason, _ = _use(_one(box(0, 0, 120, 120)))
    assert use == "non_residential" and "footprint 14 400 m²" in reason
    use, _, reason, _ = _use(_one(box(0, 0, 60, 50)))
    assert use == "non_residential" and "plate 50 m deep" in reason
    assert _use(_one(box(0, 0, 80, 12)))[0] == "residential"  # a 12 m slab
    assert _use(_one(box(0, 0, 100, 4)))[0] == "non_residential"  # a canopy


def test_plate_depth_of_a_courtyard_block_is_its_wing():
    ring = box(0, 0, 100, 100).difference(box(15, 15, 85, 85))
    assert 14 <= plate_depth([ring])[0] <= 22  # the corner square's circle, not 100 m
    assert np.isnan(plate_depth([Point(0, 0)])[0])


def test_non_residential_get_no_households_and_mixed_a_share():
    b = gpd.GeoDataFrame(
        {
            "building_id": ["o", "r", "m"],
            "name": ["环球金融中心大厦", "XX小区", None],
            "floors": [10] * 3,
        },
        geometry=[box(0, 0, 30, 12), box(50, 0, 80, 12), box(100, 0, 130, 12)],
        crs=CRS,
    )
    b["building"] = [None, None, "mixed_use"]
    out = estimate_households(b)
    assert out["households"].tolist() == [0, 40, 24]
    assert out["use_source"].tolist() == ["inferred"] * 3


# -- overrides --------------------------------------------------------------------------------


def test_overrides_win_and_unknown_ids_are_named(caplog):
    b = gpd.GeoDataFrame(
        {"building_id": ["a", "b"], "floors": [6, 6]},
        geometry=[box(0, 0, 30, 12), box(50, 0, 80, 12)],
        crs=CRS,
    )
    ov = pd.DataFrame(
        {
            "building_id": ["a", "b", "zz"],
            "use": ["non_residential", None, None],
            "households": [None, 7, 3],
        }
    )
    _, applied, unknown = apply_overrides(b, ov)
    assert applied == ["a", "b"] and unknown == ["zz"]
    with caplog.at_level(logging.WARNING):
        out = estimate_households(b, overrides=ov)
    assert "zz" in caplog.text
    assert out["households"].tolist() == [0, 7]
    assert out["households_estimated"].tolist() == [True, False]
    assert out["use_source"].tolist() == ["override", "override"]
    assert out["use_reason"].tolist()[0] == "override: use=non_residential"
    assert out["use_reason"].tolist()[1].startswith("override: households=7; use: ")


# -- calibration ------------------------------------------------------------------------------


def _community(n_est: int, given: list[int], total: int):
    geoms = [box(i * 50, 0, i * 50 + 30, 12) for i in range(n_est + len(given))]
    b = gpd.GeoDataFrame(
        {
            "building_id": [f"b{i}" for i in range(len(geoms))],
            "households": [None] * n_est + given,
            "floors": [6] * len(geoms),
            "community_id": ["C"] * len(geoms),
        },
        geometry=geoms,
        crs=CRS,
    )
    comm = gpd.GeoDataFrame(
        {"community_id": ["C"], "households_total": [total]},
        geometry=[box(-10, -10, 50 * len(geoms) + 10, 30)],
        crs=CRS,
    )
    return b, comm


def test_stale_total_is_said_not_hidden(caplog):
    # issue 15: four new buildings with 240 given households; the total was not updated
    # (the total matched the old buildings: 8 555 given + 40 × 24 estimated ≈ 9 515)
    b, comm = _community(40, [2000, 2000, 2000, 2000, 555, 60, 60, 60, 60], 9515)
    with caplog.at_level(logging.WARNING):
        out = estimate_households(b, communities=comm)
    s = calibration_summary(out, comm).iloc[0]
    assert s["status"] == "stale_total" and s["estimated_before"] == 960
    assert s["estimated_after"] == 720 and s["given"] == 8795
    assert "C:" in caplog.text and "looks stale" in caplog.text and "b0" in caplog.text
    assert int(out["households"].sum()) == 9515  # calibration itself stays


def test_scaling_beyond_the_factor_is_flagged_both_ways():
    b, comm = _community(10, [], 10 * 24 * 3)
    assert (
        calibration_summary(estimate_households(b, communities=comm), comm).iloc[0]["status"]
        == "scaled_up"
    )
    b, comm = _community(10, [], 10 * 24 // 3)
    assert (
        calibration_summary(estimate_households(b, communities=comm), comm).iloc[0]["status"]
        == "scaled_down"
    )
    b, comm = _community(10, [], 10 * 24 + 20)
    row = calibration_summary(estimate_households(b, communities=comm), comm).iloc[0]
    assert row["status"] == "ok" and row["estimated_before"] == 240


@settings(max_examples=40, deadline=None)
@given(
    n_est=st.integers(1, 8),
    given_counts=st.lists(st.integers(0, 80), max_size=4),
    total=st.integers(0, 600),
)
def test_calibration_conserves_households(n_est, given_counts, total):
    b, comm = _community(n_est, given_counts, total)
    out = estimate_households(b, communities=comm)
    s = calibration_summary(out, comm).iloc[0]
    assert s["given"] == sum(given_counts)  # given counts never change
    if total >= sum(given_counts):
        assert int(out["households"].sum()) == total
    else:
        assert s["estimated_after"] == 0 and s["status"] in ("stale_total", "scaled_down")
    assert (out["households_uncalibrated"] >= 0).all()


# -- datasets: layers, validation, GeoPackage outputs ----------------------------------------------


def _dataset(folder: Path) -> Path:
    folder.mkdir()
    b = gpd.GeoDataFrame(
        {
            "building_id": ["h1", "h2", "o1", "t1"],
            "building": ["yes", "apartments", "yes", "tower"],
            "name": ["阳光花园1栋", None, "国际金融中心大厦", None],
            "floors": [18, 6, 40, None],
        },
        geometry=[box(0, 0, 40, 12), box(60, 0, 100, 12), box(0, 40, 40, 80), box(60, 40, 66, 46)],
        crs=CRS,
    ).to_crs(4326)
    b.to_file(folder / "buildings.geojson")
    gpd.GeoDataFrame({"landuse": ["residential"]}, geometry=[box(-5, -5, 110, 20)], crs=CRS).to_crs(
        4326
    ).to_file(folder / "landuse.geojson")
    gpd.GeoDataFrame(
        {"amenity": ["bank", "restaurant"]}, geometry=[Point(10, 50), Point(70, 5)], crs=CRS
    ).to_crs(4326).to_file(folder / "pois.geojson")
    return folder


def test_load_dataset_reads_new_layers(tmp_path):
    from gridplan.io import load_dataset

    ds = load_dataset(_dataset(tmp_path / "d"))
    b = ds.layer("buildings").set_index("building_id")
    assert set(ds.layers) >= {"landuse", "pois"}
    assert b.loc["o1", "use"] == "non_residential" and "大厦" in b.loc["o1", "use_reason"]
    assert b.loc["h1", "use"] == "residential"
    assert b.loc["h2", "use"] == "mixed" or b.loc["h2", "use_reason"] == "OSM building=apartments"
    assert b.loc["t1", "use"] == "non_residential" and b.loc["t1", "households"] == 0


def test_validation_names_bad_overrides(tmp_path):
    from gridplan._errors import DataError
    from gridplan.io import load_dataset

    folder = _dataset(tmp_path / "d")
    pd.DataFrame({"building_id": ["h1", "nope"], "use": ["office block", None]}).to_csv(
        folder / "overrides.csv", index=False
    )
    with pytest.raises(DataError) as exc:
        load_dataset(folder)
    text = str(exc.value)
    assert "overrides: building_id found in no building" in text and "nope" in text
    assert "overrides: unknown use" in text


def test_sample_and_import_write_one_geopackage(tmp_path):
    runner = CliRunner()
    out = tmp_path / "town.gpkg"
    res = runner.invoke(main, ["sample", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file()
    names = {n for n, _ in pyogrio.list_layers(out)}
    assert {"buildings", "communities", "people", "vulnerable"} <= names
    res = runner.invoke(main, ["sample", "--out", str(out)])
    assert res.exit_code == 1 and "already exists" in res.output
    assert [p.name for p in tmp_path.iterdir()] == ["town.gpkg"]  # nothing half-written
    res = runner.invoke(main, ["validate", str(out)])
    assert res.exit_code == 0, res.output


def test_run_with_overrides_file_says_how_many(tmp_path):
    from gridplan.output.planfile import read_plan

    folder = _dataset(tmp_path / "d")
    ov = tmp_path / "fix.csv"
    ov.write_text("building_id,use,households\nh1,,99\no1,residential,\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(
        main,
        ["run", str(folder), "--out", str(tmp_path / "p"), "--overrides", str(ov), "--lang", "en"],
    )
    assert res.exit_code == 0, res.output
    assert "2 override(s) applied" in res.output
    plan = read_plan(tmp_path / "p")
    b = plan.buildings.set_index("building_id")
    assert b.loc["h1", "households"] == 99 and b.loc["o1", "use"] == "residential"
    assert set(b.loc[["h1", "o1"], "use_source"]) == {"override"}
    report = (tmp_path / "p" / "report.md").read_text(encoding="utf-8")
    assert "Households to check" in report and "Corrections by the planner applied: 2" in report
    bad = tmp_path / "bad.csv"
    bad.write_text("building_id,use\nghost,residential\n", encoding="utf-8")
    res = runner.invoke(
        main, ["run", str(folder), "--out", str(tmp_path / "q"), "--overrides", str(bad)]
    )
    assert res.exit_code == 1 and "ghost" in res.output and not (tmp_path / "q").exists()
