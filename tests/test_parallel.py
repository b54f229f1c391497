"""Parallel and batched planning (issue 7): the same plan as the sequential run, resumable."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from gridplan.run.batched import plan_to_folder_batched
from gridplan.run.community import INJECT_FAILURE_ENV
from gridplan.run.parallel import plan_by_community, plan_parallel

distributed = pytest.importorskip("distributed")

#: Sort keys of each layer (ids first, then what makes a row unique).
KEYS: dict[str, list[str]] = {
    "grids": ["grid_id"],
    "units": ["unit_id"],
    "unit_members": ["unit_id", "building_id", "entrance", "floor_from"],
    "buildings": ["building_id"],
    "building_parts": ["building_id", "grid_id"],
    "assignments": ["person_id", "role", "target_id"],
    "vacancies": ["role", "target_id"],
    "coverage": ["building_id", "tier", "category"],
    "coverage_summary": ["level", "area_id", "tier", "category"],
    "catchments": ["facility_id", "tier"],
    "sites": [],
    "communities": ["community_id"],
    "facilities": ["facility_id"],
    "people": ["person_id"],
}


def _sorted(df: pd.DataFrame, name: str) -> pd.DataFrame:
    keys = [k for k in KEYS.get(name, []) if k in df.columns]
    if keys:
        df = df.sort_values(keys, kind="stable", na_position="first")
    return df.reset_index(drop=True)


def assert_layers_equal(a: pd.DataFrame, b: pd.DataFrame, name: str) -> None:
    """Same rows and values; geometries equal exactly (by WKB)."""
    a, b = _sorted(a, name), _sorted(b, name)
    assert list(a.columns) == list(b.columns), name
    geo = [c for c in a.columns if isinstance(a[c].dtype, gpd.array.GeometryDtype)]
    for c in geo:
        wa = a[c].to_wkb(hex=True) if hasattr(a[c], "to_wkb") else a[c]
        wb = b[c].to_wkb(hex=True) if hasattr(b[c], "to_wkb") else b[c]
        assert list(wa) == list(wb), f"{name}.{c} geometries differ"
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns=geo)), pd.DataFrame(b.drop(columns=geo)), obj=name
    )


def _untimed(value):
    """``value`` without wall-time entries (``time_s``, ``seconds``, ``*_s`` keys)."""
    if isinstance(value, dict):
        return {
            k: _untimed(v)
            for k, v in value.items()
            if not (k in ("seconds", "time") or str(k).endswith("_s"))
        }
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def assert_plans_equal(a, b) -> None:
    """Every layer equal; metrics and flags equal, wall times aside."""
    assert sorted(a.layers) == sorted(b.layers)
    for name in a.layers:
        assert_layers_equal(a.layers[name], b.layers[name], name)
    assert _untimed(a.metadata["metrics"]) == _untimed(b.metadata["metrics"])
    assert a.metadata["flags"] == b.metadata["flags"]


@pytest.fixture(scope="module")
def client():
    """One 2-worker local cluster for the module (starting one costs seconds)."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as cl,
    ):
        yield cl


@pytest.fixture(scope="module")
def town_sequential(town_plan):
    """The sequential pipeline's plan (``plan_dataset``): what every Dask run must equal."""
    return town_plan


def inject(monkeypatch: pytest.MonkeyPatch, markers: dict[str, str]) -> None:
    """Set the test hook: each community's first task fails while its marker is missing."""
    monkeypatch.setenv(INJECT_FAILURE_ENV, json.dumps(markers))


def test_two_workers_give_the_sequential_plan(
    town_dataset, town_sequential, client, tmp_path, monkeypatch
):
    lines: list[str] = []
    marker = tmp_path / "fail-once"
    inject(monkeypatch, {"C02": str(marker)})
    plan = plan_parallel(town_dataset, client=client, progress=lines.append)
    assert_plans_equal(plan, town_sequential)
    par = plan.metadata["parallel"]
    assert par["mode"] == "dask" and par["workers"] == 2
    # the injected failure was retried, reported, and the community is in the plan
    assert marker.exists()
    assert par["retried"] == {"C02": 1}
    assert (plan.grids["community_id"] == "C02").any()
    done = [ln for ln in lines if ln.startswith("community ")]
    assert len(done) == len(town_dataset.layers["communities"])
    assert any("C02 planned (after a retry)" in ln for ln in done)


def test_plan_to_folder_sequential_and_dask_give_the_same_layers(
    town_path, town_sequential, client, tmp_path
):
    """The library's mode choice (what `gridplan run` calls): the same plan layers in this
    process and on Dask, written and in memory; batched writes the same grids."""
    from gridplan.output.planfile import read_plan
    from gridplan.run import plan_to_folder

    stages = ["assign"]
    seq = plan_to_folder(town_path, tmp_path / "seq", stages=stages)
    par = plan_to_folder(town_path, tmp_path / "dask", stages=stages, client=client)
    assert (seq.mode, par.mode) == ("sequential", "dask")
    assert seq.plan is not None and par.plan is not None
    assert_plans_equal(par.plan, seq.plan)
    assert "parallel" not in seq.plan.metadata and par.plan.metadata["parallel"]["workers"] == 2
    a, b = read_plan(seq.out), read_plan(par.out)
    assert sorted(a.layers) == sorted(b.layers)
    for name in a.layers:
        assert_layers_equal(a.layers[name], b.layers[name], name)
    cols = ["grid_id", "community_id", "households", "n_buildings", "n_units", "geometry"]
    assert_layers_equal(seq.plan.grids[cols], town_sequential.grids[cols], "grids")
    bat = plan_to_folder(town_path, tmp_path / "bat", batch_size=2, stages=["units"])
    assert bat.mode == "batched" and bat.plan is None
    got = read_plan(bat.out)
    assert_layers_equal(got.grids[cols], a.grids[cols], "grids")
    assert_layers_equal(got.units[["unit_id", "grid_id"]], a.units[["unit_id", "grid_id"]], "units")


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """The city sample (19 communities, 70 000 households, a river and a railway)."""
    from gridplan.sample.generate import write_sample

    return write_sample(tmp_path_factory.mktemp("city") / "city", "city", seed=0)


def test_city_sequential_dask_and_batched_give_the_same_plan(city, client, tmp_path):
    """Every layer a batched run writes (grids, units, staffing, coverage) is the same in the
    three modes: communities are planned and staffed one by one whatever runs them."""
    from gridplan.output.planfile import read_plan
    from gridplan.run import plan_to_folder

    stages = ["assign", "coverage"]
    runs = {
        "sequential": plan_to_folder(city, tmp_path / "seq", stages=stages),
        "dask": plan_to_folder(city, tmp_path / "dask", stages=stages, client=client),
        "batched": plan_to_folder(city, tmp_path / "bat", stages=stages, batch_size=5),
    }
    assert {k: r.mode for k, r in runs.items()} == {k: k for k in runs}
    plans = {k: read_plan(r.out) for k, r in runs.items()}
    seq = plans["sequential"]
    assert len(seq.grids["community_id"].unique()) == 19
    assert len(seq.layers["assignments"]) > 0 and len(seq.layers["coverage"]) > 0
    # a batched run (no map) keeps the catchments in its GeoPackage for QGIS
    assert set(plans["batched"].layers) - set(seq.layers) == {"catchments"}
    for mode in ("dask", "batched"):
        other = plans[mode]
        assert set(seq.layers) <= set(other.layers), mode
        for name in seq.layers:
            assert_layers_equal(other.layers[name], seq.layers[name], name)
    posts = [p.metadata["metrics"]["staffing"]["posts"] for p in plans.values()]
    assert posts[0] == posts[1] == posts[2]


def test_plan_to_folder_refuses_what_a_batched_run_cannot_do(town_path, town_dataset, tmp_path):
    from gridplan._errors import ConfigError
    from gridplan.run import plan_to_folder

    with pytest.raises(ConfigError, match="path"):
        plan_to_folder(town_dataset, tmp_path / "a", batch_size=2)
    with pytest.raises(ConfigError, match="do not go together"):
        plan_to_folder(town_path, tmp_path / "b", batch_size=2, communities=["C01"])
    assert not any(tmp_path.iterdir())


def test_local_runner_equals_the_whole_dataset_partition(town_dataset, town_sequential):
    """The sequential plan, community tasks one after the other, has the grids and buildings
    that one `partition_grids` over the whole dataset gives."""
    from gridplan.partition.grids import partition_grids
    from gridplan.settings import DEFAULT

    whole = partition_grids(
        town_dataset.layers["buildings"],
        town_dataset.layers["communities"],
        roads=town_dataset.layer("roads"),
        barriers=town_dataset.layer("barriers"),
        config=DEFAULT,
        seed=DEFAULT.seed,
    )
    seq = town_sequential
    cols = list(whole.grids.columns)
    assert_layers_equal(seq.grids[cols], whole.grids, "grids")
    assert_layers_equal(seq.buildings[list(whole.buildings.columns)], whole.buildings, "buildings")
    # the plan lists split buildings only (none in the town: no layer)
    bp = whole.building_parts
    split = bp[bp["building_id"].duplicated(keep=False)].reset_index(drop=True)
    if len(split):
        assert_layers_equal(seq.layers["building_parts"], split, "building_parts")
    else:
        assert "building_parts" not in seq.layers
    assert _untimed(seq.metadata["metrics"]["partition"]) == _untimed(whole.metrics)
    assert seq.metadata["flags"]["partition"] == list(whole.flags)


def test_per_community_equals_the_pipeline_on_that_community(town_dataset, town_sequential):
    """Each community's grids and units are those the pipeline plans for it alone
    (``--communities C03`` gives C03 the grids it has in the whole run)."""
    from gridplan.run.pipeline import plan_dataset, subset_communities

    cid = sorted(town_dataset.layers["communities"]["community_id"])[-1]
    alone = plan_dataset(subset_communities(town_dataset, [cid]), stages=["units"])
    seq = town_sequential
    grids = seq.grids[seq.grids["community_id"] == cid]
    cols = ["grid_id", "community_id", "households", "population", "n_buildings", "n_units"]
    assert_layers_equal(alone.grids[[*cols, "geometry"]], grids[[*cols, "geometry"]], "grids")
    units = seq.units[seq.units["grid_id"].isin(grids["grid_id"])]
    ucols = ["unit_id", "grid_id", "households", "geometry"]
    assert_layers_equal(alone.units[ucols], units[ucols], "units")


def test_a_community_failing_for_good_is_reported(town_dataset, client, tmp_path, monkeypatch):
    from gridplan._errors import GridplanError

    # a marker inside a missing folder can never be created: every attempt fails
    bad = str(tmp_path / "missing" / "marker")
    inject(monkeypatch, {"C01": bad})
    with pytest.raises(GridplanError, match=r"C01.*retries"):
        plan_parallel(
            town_dataset,
            client=client,
            stages=["partition"],
            retries=1,
        )


def test_scheduler_address(town_dataset, town_sequential, client):
    """``--scheduler ADDR`` connects to a running cluster and gives the same grids."""
    plan = plan_parallel(town_dataset, scheduler=client.scheduler.address, stages=["partition"])
    assert plan.metadata["parallel"]["workers"] == 2
    cols = ["grid_id", "community_id", "households", "n_buildings", "geometry"]
    assert_layers_equal(plan.grids[cols], town_sequential.grids[cols], "grids")


@pytest.fixture(scope="module")
def province(tmp_path_factory) -> Path:
    from gridplan.sample.generate import write_sample

    out = tmp_path_factory.mktemp("prov") / "province"
    return write_sample(out, "province", seed=3, n_communities=3)


def test_batched_on_dask_gives_the_in_memory_grids(province, client, tmp_path, monkeypatch):
    from gridplan.io.load import load_dataset
    from gridplan.output.planfile import read_plan

    marker = tmp_path / "fail-once"
    inject(monkeypatch, {"C001": str(marker)})
    out = plan_to_folder_batched(
        province,
        tmp_path / "plan",
        batch_size=2,
        stages=["partition"],
        client=client,
    )
    written = read_plan(out)
    # the batch holding C001 failed once on its worker, was retried and is reported
    assert marker.exists()
    assert written.metadata["batched"]["retried"] == {"batch-00001 (C001, C002)": 1}
    mem = plan_by_community(load_dataset(province), stages=["partition"])
    cols = ["grid_id", "community_id", "households", "population", "n_buildings"]
    want = mem.grids.to_crs(written.grids.crs)[[*cols, "geometry"]]
    got = written.grids[[*cols, "geometry"]]
    assert_layers_equal(got, want, "grids")
    assert sorted(written.buildings["building_id"]) == sorted(mem.buildings["building_id"])
    assert written.buildings["grid_id"].notna().all()
    assert written.metadata["batched"]["batches"] == 2
    assert not (tmp_path / ".plan.partial").exists()


def test_batched_resumes_after_a_failure(province, tmp_path, monkeypatch):
    from gridplan.output.planfile import read_plan

    out = tmp_path / "plan"
    comms = gpd.read_file(province / "communities.geojson")
    last = sorted(comms["community_id"])[-1]
    marker = tmp_path / "fail-once"
    inject(monkeypatch, {last: str(marker)})
    with pytest.raises(RuntimeError, match="injected"):
        plan_to_folder_batched(province, out, batch_size=2, stages=["partition"])
    partial = tmp_path / ".plan.partial"
    assert not out.exists()
    state = json.loads((partial / "progress.json").read_text(encoding="utf-8"))
    assert list(state["batches"]) == ["00001"]
    lines: list[str] = []
    plan_to_folder_batched(
        province,
        out,
        batch_size=2,
        stages=["partition"],
        progress=lines.append,
    )
    assert any("already written: skipped" in ln for ln in lines)
    assert not partial.exists()
    # the resumed folder is complete: no work files left, the manifest lists what is there
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["manifest.json", "plan.gpkg"]
    assert list(json.loads((out / "manifest.json").read_text(encoding="utf-8"))) == ["plan.gpkg"]
    plan = read_plan(out)
    assert plan.metadata["batched"]["resumed_runs"] == 1
    assert set(plan.grids["community_id"]) == set(comms["community_id"])
    assert plan.buildings["building_id"].is_unique


def test_batched_leaves_an_existing_output_alone(province, tmp_path):
    from gridplan._errors import OutputExistsError

    out = tmp_path / "plan"
    out.mkdir()
    (out / "keep.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputExistsError):
        plan_to_folder_batched(province, out)
    assert (out / "keep.txt").exists()


def test_missing_dask_is_a_clear_error(town_dataset, monkeypatch):
    import builtins

    from gridplan._errors import GridplanError

    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(GridplanError, match=r"gridplan\[dask\]"):
        plan_parallel(town_dataset, workers=2)
