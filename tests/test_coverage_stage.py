"""``gridplan coverage`` needs only what it uses (issue 14, step 3): no partition unless per-grid
figures are asked for, grids taken from an existing plan with ``--grids``, no catchments."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

from gridplan.cli import main
from gridplan.output.planfile import read_plan
from gridplan.run.pipeline import plan_coverage, plan_dataset, resolve_stages

KEY = ["building_id", "tier", "category"]
SUMMARY_KEY = ["level", "area_id", "tier", "category"]


@pytest.fixture()
def no_partition(monkeypatch):
    """Any partition (fresh or re-plan) fails the test."""
    import gridplan.partition.grids
    import gridplan.partition.replan

    def boom(*args, **kwargs):
        raise AssertionError("the coverage stage partitioned")

    monkeypatch.setattr(gridplan.partition.grids, "partition_grids", boom)
    monkeypatch.setattr(gridplan.partition.replan, "replan_grids", boom)


def _same_coverage(got, want, *, per_grid: bool) -> None:
    a = want.layers["coverage"].sort_values(KEY).reset_index(drop=True)
    b = got.layers["coverage"].sort_values(KEY).reset_index(drop=True)
    assert len(a) == len(b) > 0
    pd.testing.assert_frame_equal(b, a, check_dtype=False)
    sa = want.layers["coverage_summary"]
    if not per_grid:
        sa = sa[sa["level"] != "grid"]
    sa = sa.sort_values(SUMMARY_KEY).reset_index(drop=True)
    sb = got.layers["coverage_summary"].sort_values(SUMMARY_KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(sb, sa, check_dtype=False)

    def untimed(m):
        return {k: v for k, v in m.items() if k != "seconds"}

    ma, mb = want.metadata["metrics"]["coverage"], got.metadata["metrics"]["coverage"]
    assert untimed(mb) == untimed(ma)
    assert got.metadata["flags"]["coverage"] == want.metadata["flags"]["coverage"]


def test_coverage_stage_needs_nothing_before_it():
    assert resolve_stages(["coverage"]) == ["coverage"]
    assert resolve_stages(["site"]) == ["partition", "coverage", "site"]


def test_cli_coverage_writes_coverage_without_partitioning(no_partition, town_path, tmp_path):
    out = tmp_path / "cov"
    res = CliRunner().invoke(main, ["-q", "coverage", str(town_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    layers = dict(pyogrio.list_layers(out / "plan.gpkg"))
    assert "catchments" not in layers  # only the map draws them
    plan = read_plan(out)
    assert len(plan.grids) == 0  # the contract layer is there, with its columns, and empty
    assert "grid_id" in plan.grids.columns
    assert len(plan.coverage) > 0 and plan.coverage["covered"].any()
    assert set(plan.layers["coverage_summary"]["level"]) == {"all", "community"}
    assert plan.metadata["stages"] == ["coverage"]
    assert "partition" not in plan.metadata["timings_s"]
    assert "catchments" not in plan.metadata["timings_s"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "plan.gpkg"]


def test_cli_coverage_equals_the_full_run(no_partition, town_path, town_plan_dir, tmp_path):
    want = read_plan(town_plan_dir)
    out = tmp_path / "cov"
    res = CliRunner().invoke(main, ["-q", "coverage", str(town_path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    _same_coverage(read_plan(out), want, per_grid=False)


def test_cli_coverage_with_the_grids_of_a_plan(no_partition, town_path, town_plan_dir, tmp_path):
    want = read_plan(town_plan_dir)
    out = tmp_path / "cov-grids"
    res = CliRunner().invoke(
        main,
        ["-q", "coverage", str(town_path), "--out", str(out), "--grids", str(town_plan_dir)],
    )
    assert res.exit_code == 0, res.output
    got = read_plan(out)
    assert "grid" in set(got.layers["coverage_summary"]["level"])
    _same_coverage(got, want, per_grid=True)
    assert sorted(got.grids["grid_id"]) == sorted(want.grids["grid_id"])
    info = got.metadata["grids_from"]
    assert info["plan"] == str(town_plan_dir)
    assert info["grids"] == len(want.grids) and info["buildings_without_grid"] == 0
    assert got.metadata["stages"] == ["coverage"]


def test_cli_coverage_per_grid_partitions(town_path, town_plan, tmp_path):
    out = tmp_path / "cov-per-grid"
    res = CliRunner().invoke(
        main, ["-q", "coverage", str(town_path), "--out", str(out), "--per-grid"]
    )
    assert res.exit_code == 0, res.output
    got = read_plan(out)
    assert got.metadata["stages"] == ["partition", "coverage"]
    assert len(got.grids) == len(town_plan.grids)
    a = town_plan.layers["coverage_summary"].sort_values(SUMMARY_KEY).reset_index(drop=True)
    b = got.layers["coverage_summary"].sort_values(SUMMARY_KEY).reset_index(drop=True)
    pd.testing.assert_frame_equal(b, a, check_dtype=False)


def test_cli_coverage_grids_errors(town_path, tmp_path):
    runner = CliRunner()
    cov_only = tmp_path / "cov"
    assert runner.invoke(main, ["coverage", str(town_path), "--out", str(cov_only)]).exit_code == 0
    res = runner.invoke(
        main, ["coverage", str(town_path), "--out", str(tmp_path / "x"), "--grids", str(cov_only)]
    )
    assert res.exit_code == 1
    assert "no grids" in res.output and "--per-grid" in res.output
    assert not (tmp_path / "x").exists()
    res = runner.invoke(
        main,
        [
            "coverage",
            str(town_path),
            "--out",
            str(tmp_path / "y"),
            "--per-grid",
            "--grids",
            str(cov_only),
        ],
    )
    assert res.exit_code == 2


def test_library_coverage_alone_and_with_a_plan(no_partition, town_dataset, town_plan):
    alone = plan_dataset(town_dataset, stages=["coverage"])
    assert "grids" not in alone.layers and "catchments" not in alone.layers
    assert "grid_id" not in alone.buildings.columns or alone.buildings["grid_id"].isna().all()
    with_plan = plan_coverage(town_dataset, grids=town_plan)
    _same_coverage(with_plan, town_plan, per_grid=True)
    # catchments on request (a notebook drawing them without the map)
    assert "catchments" in plan_coverage(town_dataset, catchments=True).layers


def test_plan_coverage_flags_buildings_the_plan_does_not_know(town_dataset, town_plan):
    from gridplan.output.planfile import Plan

    layers = dict(town_plan.layers)
    b = layers["buildings"]
    res = b[b["households"] > 0]
    dropped = res["building_id"].iloc[:2].tolist()
    layers["buildings"] = b[~b["building_id"].isin(dropped)]
    old = Plan(layers=layers, metadata=town_plan.metadata, crs=town_plan.crs)
    got = plan_coverage(town_dataset, grids=old)
    assert got.metadata["grids_from"]["buildings_without_grid"] == 2
    flags = got.metadata["flags"]["grids_from_plan"]
    assert any(all(d in f for d in dropped) for f in flags)
    # their households are summed under no grid (area_id ""), every other grid as planned
    rows = got.layers["coverage_summary"].query("level == 'grid' and category == '*'")
    dropped_hh = int(
        town_dataset.layers["buildings"].set_index("building_id").loc[dropped, "households"].sum()
    )
    assert set(rows.loc[rows["area_id"] == "", "households"]) == {dropped_hh}
    total = got.metadata["metrics"]["coverage"]["households"]
    assert (rows.groupby("tier")["households"].sum() == total).all()


def test_cli_import_stays_light():
    """`gridplan --help` imports neither the data stack nor the map (instant)."""
    code = (
        "import sys; import gridplan.cli; "
        "heavy = [m for m in ('pandas', 'geopandas', 'folium', 'scipy', 'ortools') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
