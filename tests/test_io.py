"""Reading datasets in every format, aliases, offsets, checksums, and preparation."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from _layers import UTM, X0, Y0, valid_layers
from pyproj import CRS
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gridplan._errors import DataError
from gridplan.dataset import Dataset
from gridplan.io.load import layer_checksum, load_dataset, read_dataset, to_output_crs
from gridplan.io.prepare import prepare_dataset
from gridplan.offsets import convert_geoseries, local_utm_crs, wgs84_to_gcj02
from gridplan.validate.checks import check_dataset

TOWN = Path(__file__).resolve().parents[1] / "data" / "town"
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


def _layers(crs: str = "EPSG:4326") -> dict[str, Any]:
    """The shared valid dataset as files give it: in ``crs`` (WGS84 by default), yes/no flags
    as text, and no community_id or height columns (communities are found by location)."""
    return valid_layers(crs, community_ids=False, heights=False, text_flags=True)


def _write_folder(folder: Path, layers: dict[str, pd.DataFrame], ext: str = "geojson") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in layers.items():
        if not isinstance(frame, gpd.GeoDataFrame):
            frame.to_csv(folder / f"{name}.csv", index=False)
        elif ext == "geojson":
            frame.to_file(folder / f"{name}.geojson", driver="GeoJSON")
        elif ext == "shp":
            frame.to_file(folder / f"{name}.shp")
        elif ext == "gpkg":
            frame.to_file(folder / f"{name}.gpkg", layer=name, driver="GPKG")
    return folder


def _write_gpkg(path: Path, layers: dict[str, pd.DataFrame]) -> Path:
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_file(path, layer=name, driver="GPKG")
        else:
            import pyogrio

            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG")
    return path


def _check_prepared(ds: Dataset) -> None:
    assert ds.prepared
    assert ds.crs.utm_zone == "48N"
    b = ds.layer("buildings")
    assert b.crs == ds.crs
    assert len(b) == 18
    assert b["households"].dtype == np.int64
    assert b["households_estimated"].sum() == 8
    assert b["building_id"].map(type).eq(str).all()
    # community B is calibrated to 200
    assert b.loc[b["community_id"] == "B", "households"].sum() == 200
    assert set(ds.layers) == {
        "buildings",
        "communities",
        "roads",
        "facilities",
        "sites",
        "people",
        "vulnerable",
    }
    f = ds.layer("facilities")
    assert (f.geometry.geom_type == "Point").all()
    p = ds.layer("people")
    assert p["party_member"].tolist() == [True, False]
    assert p["roles"].tolist() == ["grid_head", "volunteer;unit_head"]


# ------------------------------------------------------------------------ formats


def test_geojson_folder_round_trip(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "ds", _layers())
    ds = load_dataset(folder)
    _check_prepared(ds)
    assert ds.input_crs.to_epsg() == 4326
    assert ds.source == folder
    assert any("households missing" in w for w in ds.warnings)


def test_geopackage(tmp_path: Path) -> None:
    path = _write_gpkg(tmp_path / "town.gpkg", _layers())
    ds = load_dataset(path)
    _check_prepared(ds)


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
def test_shapefile_folder_with_truncated_names(tmp_path: Path) -> None:
    layers = _layers()
    layers["communities"] = layers["communities"].rename(columns={"households_total": "households"})
    f = layers["facilities"]
    layers["facilities"] = f.set_geometry(f.geometry.representative_point())
    folder = _write_folder(tmp_path / "shp", layers, ext="shp")
    assert (folder / "buildings.shp").exists()
    raw = read_dataset(folder)
    assert "building_id" in raw.layer("buildings").columns
    assert "households_total" in raw.layer("communities").columns
    _check_prepared(load_dataset(folder))


def test_per_layer_gpkg_folder(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "g", _layers(), ext="gpkg")
    _check_prepared(load_dataset(folder))


def test_csv_lon_lat_and_wkt(tmp_path: Path) -> None:
    layers = _layers()
    folder = _write_folder(tmp_path / "csv", layers)
    b = layers.pop("buildings")
    (folder / "buildings.geojson").unlink()
    table = pd.DataFrame(b.drop(columns="geometry"))
    table["geometry"] = b.geometry.to_wkt()
    table.to_csv(folder / "buildings.csv", index=False)
    (folder / "buildings.prj").write_text("EPSG:4326", encoding="utf-8")
    f = layers["facilities"]
    (folder / "facilities.geojson").unlink()
    pts = f.geometry.representative_point()
    pd.DataFrame(
        {"facility_id": f["facility_id"], "type": f["category"], "lon": pts.x, "lat": pts.y}
    ).to_csv(folder / "facilities.csv", index=False)
    raw = read_dataset(folder)
    assert raw.layer("facilities").crs.to_epsg() == 4326
    assert raw.layer("facilities")["category"].tolist() == ["kindergarten", "market"]
    _check_prepared(load_dataset(folder))


def test_csv_wkt_without_crs_takes_dataset_crs_with_warning(tmp_path: Path) -> None:
    layers = _layers()
    folder = _write_folder(tmp_path / "w", layers)
    s = layers["sites"]
    (folder / "sites.geojson").unlink()
    pd.DataFrame({"site_id": s["site_id"], "wkt": s.geometry.to_wkt()}).to_csv(
        folder / "sites.csv", index=False
    )
    raw = read_dataset(folder)
    assert raw.layer_crs["sites"] is None
    ds = load_dataset(folder)
    assert any("without a CRS" in w and "sites" in w for w in ds.warnings)


def test_cgcs2000_and_projected_inputs(tmp_path: Path) -> None:
    ds4490 = load_dataset(_write_folder(tmp_path / "c", _layers("EPSG:4490")))
    assert ds4490.input_crs.to_epsg() == 4490
    _check_prepared(ds4490)
    # CGCS2000 3-degree Gauss-Kruger zone 35 (EPSG:4523), a common Chinese projected CRS
    dsgk = load_dataset(_write_folder(tmp_path / "p", _layers("EPSG:4523")))
    assert dsgk.input_crs.to_epsg() == 4523
    _check_prepared(dsgk)
    a = ds4490.layer("buildings").geometry.centroid
    b = dsgk.layer("buildings").geometry.centroid
    assert float(a.distance(b).max()) < 0.5


def test_mixed_layer_crs_are_reprojected_to_buildings_crs(tmp_path: Path) -> None:
    layers = _layers()
    layers["roads"] = layers["roads"].to_crs(UTM)
    raw = read_dataset(_write_folder(tmp_path / "m", layers))
    assert raw.layer("roads").crs.to_epsg() == 4326
    assert raw.layer_crs["roads"] == CRS.from_epsg(32648)


def test_geoparquet(tmp_path: Path) -> None:
    layers = _layers()
    folder = _write_folder(tmp_path / "pq", layers)
    (folder / "buildings.geojson").unlink()
    if HAS_PYARROW:
        layers["buildings"].to_parquet(folder / "buildings.parquet")
        _check_prepared(load_dataset(folder))
    else:
        (folder / "buildings.parquet").write_bytes(b"PAR1")
        with pytest.raises(DataError, match="pip install pyarrow"):
            read_dataset(folder)


# ------------------------------------------------------------------------ aliases and values


def test_column_aliases_case_insensitive(tmp_path: Path) -> None:
    layers = _layers()
    layers["buildings"] = layers["buildings"].rename(
        columns={"building_id": "ID", "households": "HH", "floors": "building:levels"}
    )
    layers["buildings"]["Building"] = "apartments"
    layers["buildings"] = layers["buildings"].drop(columns="use")
    layers["roads"] = layers["roads"].rename(columns={"road_class": "highway"})
    layers["people"] = layers["people"].rename(columns={"building_id": "home", "roles": "Role"})
    raw = read_dataset(_write_folder(tmp_path / "a", layers))
    b = raw.layer("buildings")
    # ``building`` is the OSM tag, its own column since issue 15 (no longer an alias of use);
    # the tag table turns it into the use when the dataset is prepared
    assert {"building_id", "households", "floors", "building"} <= set(b.columns)
    assert set(b["building"]) == {"apartments"}
    assert raw.layer("roads")["road_class"].tolist() == ["primary", "footway"]
    assert "building_id" in raw.layer("people").columns
    prepared = load_dataset(tmp_path / "a")
    _check_prepared(prepared)
    assert set(prepared.layer("buildings")["use"]) == {"residential"}


def test_ids_become_strings_and_use_synonyms(tmp_path: Path) -> None:
    layers = _layers()
    b = layers["buildings"]
    b["building_id"] = np.arange(len(b)) + 100
    b["use"] = ["住宅", "yes", "Commercial", "mixed_use", None, "res"] * 3
    folder = _write_folder(tmp_path / "i", {"buildings": b})
    raw = read_dataset(folder)
    assert raw.layer("buildings")["building_id"].iloc[0] == "100"
    assert raw.layer("buildings")["use"].tolist()[:6] == [
        "residential",
        None,
        "non_residential",
        "mixed",
        None,
        "residential",
    ]


# ------------------------------------------------------------------------ checksums


def test_checksums_stable_and_content_sensitive(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "k", _layers())
    one = read_dataset(folder).checksums
    two = read_dataset(folder).checksums
    assert one == two
    assert set(one) == {
        "buildings",
        "communities",
        "roads",
        "facilities",
        "sites",
        "people",
        "vulnerable",
    }
    assert all(len(v) == 64 for v in one.values())
    b = gpd.read_file(folder / "buildings.geojson")
    b.loc[0, "households"] = 13
    b.to_file(folder / "buildings.geojson", driver="GeoJSON")
    three = read_dataset(folder).checksums
    assert three["buildings"] != one["buildings"]
    assert three["roads"] == one["roads"]
    frame = pd.DataFrame({"a": [1.5, None], "b": ["x", "y"]})
    assert layer_checksum(frame) == layer_checksum(frame[["b", "a"]])


# ------------------------------------------------------------------------ offsets


def test_gcj02_offset_removed(tmp_path: Path) -> None:
    layers = _layers()
    truth = load_dataset(_write_folder(tmp_path / "t", layers))
    shifted = {}
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            frame = frame.copy()
            frame.geometry = frame.geometry.apply(
                lambda g: shapely.transform(
                    g, lambda c: np.column_stack(wgs84_to_gcj02(c[:, 0], c[:, 1]))
                )
            )
        shifted[name] = frame
    folder = _write_folder(tmp_path / "g", shifted)
    plain = load_dataset(folder)
    ds = load_dataset(folder, offset="gcj02")
    assert ds.offset == "gcj02"
    assert ds.input_crs.to_epsg() == 4326
    moved = plain.layer("buildings").distance(truth.layer("buildings"), align=False)
    err = ds.layer("buildings").distance(truth.layer("buildings"), align=False)
    assert float(moved.min()) > 100  # the offset is hundreds of metres here
    assert float(err.max()) < 0.5


def test_offset_on_projected_data_is_a_validation_error(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "p", _layers(UTM))
    raw = read_dataset(folder, offset="bd09")
    assert raw.crs.to_epsg() == 32648  # not converted
    with pytest.raises(DataError, match="declared on projected data"):
        load_dataset(folder, offset="bd09")


def test_unknown_offset() -> None:
    with pytest.raises(DataError, match="unknown offset"):
        read_dataset(".", offset="mars")


# ------------------------------------------------------------------------ errors


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_dataset(tmp_path / "nowhere")


def test_unknown_file_type(tmp_path: Path) -> None:
    path = tmp_path / "town.xlsx"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"unknown file type town\.xlsx"):
        read_dataset(path)
    (tmp_path / "buildings.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match=r"unknown file type buildings\.xlsx"):
        read_dataset(tmp_path)


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "buildings.geojson").write_text("{ not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"cannot read .*buildings.geojson"):
        read_dataset(tmp_path)


def test_empty_folder_reports_missing_buildings(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_dataset(tmp_path)
    text = str(exc.value)
    assert "no layer files" in text and "buildings: missing layer" in text


def test_layers_argument(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "l", _layers())
    raw = read_dataset(folder, layers=["buildings", "roads"])
    assert set(raw.layers) == {"buildings", "roads"}
    with pytest.raises(DataError, match="unknown layer"):
        read_dataset(folder, layers=["houses"])
    (folder / "buildings.geojson").rename(folder / "houses.geojson")
    mapped = read_dataset(folder, layers={"buildings": "houses", "people": "people"})
    assert set(mapped.layers) == {"buildings", "people"}
    assert len(mapped.layer("buildings")) == 18


# ------------------------------------------------------------------------ preparation


def _raw(layers: dict[str, pd.DataFrame], crs: str = UTM) -> Dataset:
    c = CRS.from_user_input(crs)
    return Dataset(
        layers=layers,
        crs=c,
        input_crs=c,
        layer_crs={k: c for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)},
    )


def test_prepare_fills_community_and_population() -> None:
    b = gpd.GeoDataFrame(
        {"building_id": ["a", "b"], "households": [10, None], "community_id": ["X", "Y"]},
        geometry=[box(X0, Y0, X0 + 30, Y0 + 15), box(X0 + 100, Y0, X0 + 130, Y0 + 15)],
        crs=UTM,
    )
    ds = prepare_dataset(_raw({"buildings": b}))
    comm = ds.layer("communities")
    assert comm["community_id"].tolist() == ["C01"]
    poly = comm.geometry.iloc[0]
    # the built-up area (buildings grown by 25 m, closed), one polygon holding both buildings
    assert poly.geom_type == "Polygon"
    assert poly.contains(b.geometry.union_all().buffer(20))
    out = ds.layer("buildings")
    assert out["community_id"].tolist() == ["C01", "C01"]
    assert out["households"].tolist() == [10, 5]
    assert out["population"].tolist() == pytest.approx([26.2, 13.1])
    assert any("C01" in w for w in ds.warnings)


def test_prepare_repairs_and_reshapes() -> None:
    bowtie = Polygon([(X0, Y0), (X0 + 40, Y0 + 12), (X0 + 40, Y0), (X0, Y0 + 12)])
    two = MultiPolygon([box(X0 + 100, Y0, X0 + 140, Y0 + 12), box(X0 + 200, Y0, X0 + 205, Y0 + 5)])
    b = gpd.GeoDataFrame(
        {"building_id": ["bow", "two", "pt"], "households": [5, 6, 7]},
        geometry=[bowtie, two, Point(X0 + 300, Y0)],
        crs=UTM,
    )
    comm = gpd.GeoDataFrame(
        {"community_id": ["A"]}, geometry=[box(X0 - 10, Y0 - 10, X0 + 400, Y0 + 100)], crs=UTM
    )
    roads = gpd.GeoDataFrame(
        {"road_class": [None]},
        geometry=[
            shapely.MultiLineString(
                [[(X0, Y0 + 50), (X0 + 100, Y0 + 50)], [(X0, Y0 + 60), (X0 + 100, Y0 + 60)]]
            )
        ],
        crs=UTM,
    )
    ds = prepare_dataset(_raw({"buildings": b, "communities": comm, "roads": roads}))
    out = ds.layer("buildings")
    assert out.geometry.iloc[0].is_valid
    assert out.geometry.iloc[1].geom_type == "Polygon"
    assert out.geometry.iloc[1].area == pytest.approx(480)
    assert out.geometry.iloc[2].geom_type == "Point"
    assert any("invalid geometry repaired" in w and "bow" in w for w in ds.warnings)
    assert any("largest part is kept" in w and "two" in w for w in ds.warnings)
    r = ds.layer("roads")
    assert len(r) == 2 and (r.geometry.geom_type == "LineString").all()
    assert r["road_class"].tolist() == ["unclassified", "unclassified"]


def test_prepare_assigns_community_by_location() -> None:
    layers = _layers(UTM)
    ds = prepare_dataset(_raw(layers))
    b = ds.layer("buildings")
    assert (b["community_id"] == b["building_id"].str[0]).all()


def test_to_output_crs(tmp_path: Path) -> None:
    ds = load_dataset(_write_folder(tmp_path / "o", _layers("EPSG:4490")))
    out = to_output_crs(ds.layer("buildings"), ds)
    assert out.crs.to_epsg() == 4490
    orig = _layers("EPSG:4490")["buildings"]
    got = shapely.get_coordinates(out.geometry.values)
    want = shapely.get_coordinates(orig.geometry.values)
    assert np.abs(got - want).max() < 1e-7


# ------------------------------------------------------------------------ the bundled town


@pytest.fixture(scope="module")
def town_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/town when it exists, else the same town generated into a temporary folder."""
    if (TOWN / "buildings.geojson").exists():
        return TOWN
    sample = pytest.importorskip("gridplan.sample")
    out = tmp_path_factory.mktemp("town") / "town"
    return Path(sample.write_sample(out, "town", seed=0))


def test_bundled_town_loads(town_folder: Path) -> None:
    raw = read_dataset(town_folder)
    errors, _ = check_dataset(raw)
    assert errors == []
    ds = load_dataset(town_folder)
    b = ds.layer("buildings")
    comm = ds.layer("communities")
    assert ds.crs.utm_zone is not None
    assert ds.input_crs == raw.crs
    assert b["households_estimated"].any()
    assert b["community_id"].notna().all()
    assert set(b["community_id"]) <= set(comm["community_id"])
    # calibration: every community with a total gets it exactly
    sums = b.groupby("community_id")["households"].sum()
    for cid, total in zip(comm["community_id"], comm["households_total"], strict=True):
        if pd.notna(total):
            assert sums[cid] == total
    # the Anshun pilot figures the town imitates (about 8 800 households)
    assert 7000 < b["households"].sum() < 11000


def test_town_with_gcj02_offset_round_trips(town_folder: Path, tmp_path: Path) -> None:
    truth = read_dataset(town_folder, layers=["buildings"]).layer("buildings")
    shifted = truth.set_geometry(convert_geoseries(truth.geometry, "wgs84", "gcj02"))
    shifted.to_file(tmp_path / "buildings.geojson", driver="GeoJSON")
    back = read_dataset(tmp_path, offset="gcj02").layer("buildings")
    utm = local_utm_crs(truth)
    err = back.to_crs(utm).distance(truth.to_crs(utm), align=False)
    moved = shifted.to_crs(utm).distance(truth.to_crs(utm), align=False)
    assert float(moved.min()) > 50
    assert float(err.max()) < 0.5


def test_single_file_is_the_buildings_layer(tmp_path: Path) -> None:
    path = tmp_path / "houses.geojson"
    _layers()["buildings"].to_file(path, driver="GeoJSON")
    ds = load_dataset(path)
    assert len(ds.layer("buildings")) == 18
    assert ds.layer("communities")["community_id"].tolist() == ["C01"]


def test_unmatched_households_total_is_a_warning() -> None:
    layers = _layers(UTM)
    layers["communities"].loc[0, "households_total"] = 10  # A's given counts alone are 60
    ds = prepare_dataset(_raw(layers))
    assert any("households_total not matched" in w and "A: total 10" in w for w in ds.warnings)
    b = ds.layer("buildings")
    assert b.loc[b["community_id"] == "A", "households"].sum() == 60


def test_gb18030_csv_and_bom(tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "zh", {"buildings": _layers()["buildings"]})
    (folder / "people.csv").write_bytes(
        "person_id,building_id,name,party_member\nP1,A00,王小明,是\n".encode("gb18030")
    )
    (folder / "vulnerable.csv").write_bytes("\ufeffbuilding_id,households\nA00,1\n".encode())
    ds = load_dataset(folder)
    assert ds.layer("people")["name"].tolist() == ["王小明"]
    assert ds.layer("people")["party_member"].tolist() == [True]
    assert ds.layer("vulnerable")["households"].tolist() == [1]
