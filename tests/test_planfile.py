from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from gridplan._atomic import atomic_output_dir
from gridplan._errors import DataError, OutputExistsError
from gridplan.output.planfile import (
    CONTRACT_LAYERS,
    Plan,
    read_plan,
    write_plan_gpkg,
)


def _plan() -> Plan:
    crs = "EPSG:32648"
    grids = gpd.GeoDataFrame(
        {"grid_id": ["C01-001", "C01-002"], "community_id": ["C01", "C01"], "households": [10, 12]},
        geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)],
        crs=crs,
    )
    buildings = gpd.GeoDataFrame(
        {"building_id": ["B1", "B2"], "grid_id": ["C01-001", "C01-002"], "households": [10, 12]},
        geometry=[Point(5, 5), Point(15, 5)],
        crs=crs,
    )
    members = pd.DataFrame({"unit_id": ["U1"], "building_id": ["B1"], "households": [10]})
    return Plan(
        layers={"grids": grids, "buildings": buildings, "unit_members": members},
        metadata={"seed": 0, "metrics": {"partition": {"max_deviation": 0.1}}, "note": "网格"},
        crs=grids.crs,
        output_crs=gpd.GeoSeries([], crs="EPSG:4326").crs,
    )


def test_write_and_read_round_trip(tmp_path):
    plan = _plan()
    write_plan_gpkg(plan, tmp_path / "plan.gpkg")
    back = read_plan(tmp_path)
    for name in CONTRACT_LAYERS:
        assert name in back.layers, name
    assert back.metadata == plan.metadata
    assert back.grids.crs.to_epsg() == 4326
    assert list(back.grids["grid_id"]) == ["C01-001", "C01-002"]
    assert back.unit_members["households"].tolist() == [10]
    # empty contract layers keep their columns
    assert {"person_id", "role", "target_id", "distance_m"} <= set(back.assignments.columns)
    # geometry survives the CRS round trip to within millimetres
    g = back.grids.to_crs(plan.crs)
    assert g.geometry.iloc[0].symmetric_difference(box(0, 0, 10, 10)).area < 1e-4


def test_atomic_output_keeps_old_on_failure(tmp_path):
    out = tmp_path / "plan"
    with atomic_output_dir(out) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (out / "a.txt").read_text() == "first"
    with pytest.raises(OutputExistsError), atomic_output_dir(out):
        pass
    with pytest.raises(RuntimeError), atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("second")
        raise RuntimeError("stage failed")
    assert (out / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]
    with atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_resumable_atomic_output_keeps_its_work_for_the_next_run(tmp_path):
    from gridplan._atomic import partial_dir

    out = tmp_path / "plan"
    with pytest.raises(RuntimeError), atomic_output_dir(out, resumable=True) as work:
        (work / "batch-1").write_text("done")
        raise RuntimeError("batch 2 failed")
    assert not out.exists()
    assert (partial_dir(out) / "batch-1").read_text() == "done"
    with atomic_output_dir(out, resumable=True) as work:
        assert work == partial_dir(out)
        assert (work / "batch-1").exists()  # the next run finds the earlier work
        (work / "plan.gpkg").write_text("all")
    assert sorted(p.name for p in out.iterdir()) == ["batch-1", "plan.gpkg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


def test_read_plan_missing(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_plan(tmp_path / "nope")


def test_plan_metadata_type_names_the_keys_every_plan_has():
    from gridplan.output.planfile import DatasetBlock, PlanExtras, PlanMetadata
    from gridplan.run.metadata import METADATA_KEYS, plan_metadata
    from gridplan.settings import DEFAULT

    optional = set(PlanExtras.__optional_keys__)
    assert set(PlanMetadata.__required_keys__) | {"skipped"} == set(METADATA_KEYS)
    assert PlanMetadata.__optional_keys__ == PlanExtras.__optional_keys__
    dataset = {k: None for k in DatasetBlock.__required_keys__}
    meta = plan_metadata(DEFAULT, ["partition"], dataset=dataset, checksums={}, skipped={})
    assert (
        set(PlanMetadata.__required_keys__)
        <= set(meta)
        <= set(PlanMetadata.__required_keys__) | optional
    )
    assert set(meta["dataset"]) == set(DatasetBlock.__required_keys__)


def test_plan_gpkg_carries_qgis_styles(town_plan_dir) -> None:
    """plan.gpkg holds the ``layer_styles`` table QGIS reads: one default QML style per
    styled layer, each valid XML with a renderer, labels where a layer is labelled; it is
    registered in gpkg_contents and is not read back as a plan layer."""
    import sqlite3
    import xml.etree.ElementTree as ET

    from gridplan.output.planfile import read_plan

    con = sqlite3.connect(town_plan_dir / "plan.gpkg")
    rows = con.execute(
        "SELECT f_table_name, f_geometry_column, styleQML, useAsDefault FROM layer_styles"
    ).fetchall()
    registered = con.execute(
        "SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'"
    ).fetchone()
    con.close()
    styles = {name: (geom, qml, default) for name, geom, qml, default in rows}
    assert {"grids", "units", "sites", "catchments"} <= set(styles)
    assert registered == ("attributes",)
    for name, (geom, qml, default) in styles.items():
        assert geom == "geom" and default == 1, name
        root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
        assert root.tag == "qgis" and root.find("renderer-v2") is not None, name
    grids = ET.fromstring(styles["grids"][1].split("\n", 1)[1])
    assert grids.get("labelsEnabled") == "1"
    assert grids.find("labeling/settings/text-style").get("fieldName") == "grid_id"
    tiers = ET.fromstring(styles["catchments"][1].split("\n", 1)[1])
    values = [c.get("value") for c in tiers.iter("category")]
    assert values == ["5min", "10min", "15min"]  # tiers in numeric order
    assert "layer_styles" not in read_plan(town_plan_dir).layers


def test_geometry_last_in_plan_layers(town_plan) -> None:
    """In memory, as in the file, a plan layer's geometry is its last column."""
    for name in ("grids", "units", "buildings", "sites"):
        df = town_plan.layers[name]
        assert list(df.columns)[-1] == df.geometry.name, name
