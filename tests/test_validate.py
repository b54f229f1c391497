"""Validation: every kind of broken dataset is reported with its layer, ids and fix."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from _layers import UTM, X0, Y0, valid_layers
from pyproj import CRS
from shapely.geometry import LineString, Point, Polygon, box

from gridplan._errors import DataError
from gridplan._text import format_ids, parse_bool, split_list
from gridplan.dataset import Dataset
from gridplan.io.load import read_dataset
from gridplan.settings import load_config
from gridplan.validate.checks import check_dataset, validate_dataset


def _ds(layers: dict[str, pd.DataFrame] | None = None, **kw) -> Dataset:
    layers = valid_layers() if layers is None else layers
    crs = CRS.from_user_input(kw.pop("crs", UTM))
    layer_crs = kw.pop(
        "layer_crs",
        {n: crs for n, f in layers.items() if isinstance(f, gpd.GeoDataFrame)},
    )
    return Dataset(layers=layers, crs=crs, input_crs=crs, layer_crs=layer_crs, **kw)


def _errors(ds: Dataset) -> list[str]:
    return check_dataset(ds)[0]


def _one(errors: list[str], *needles: str) -> str:
    hits = [e for e in errors if all(n in e for n in needles)]
    assert hits, f"no error containing {needles} in {errors}"
    assert "Fix:" in hits[0]
    return hits[0]


# ------------------------------------------------------------------------ the valid baseline


def test_valid_dataset_has_no_errors_and_warns_about_estimates() -> None:
    errors, warnings = check_dataset(_ds())
    assert errors == []
    assert any("households missing" in w and "A01" in w for w in warnings)
    assert validate_dataset(_ds()) == warnings


def test_validate_raises_once_with_every_problem() -> None:
    layers = valid_layers()
    layers["buildings"].loc[0, "households"] = -3
    layers["facilities"].loc[0, "category"] = "karaoke"
    with pytest.raises(DataError) as exc:
        validate_dataset(_ds(layers))
    assert len(exc.value.problems) == 2
    assert "negative households" in str(exc.value)
    assert "karaoke" in str(exc.value)


# ------------------------------------------------------------------------ structure


def test_missing_buildings_layer() -> None:
    layers = valid_layers()
    del layers["buildings"]
    _one(_errors(_ds(layers)), "buildings: missing layer")


def test_empty_buildings_layer() -> None:
    layers = valid_layers()
    layers["buildings"] = layers["buildings"].iloc[0:0]
    _one(_errors(_ds(layers)), "buildings: the layer is empty")


@pytest.mark.parametrize(
    ("layer", "column"),
    [
        ("buildings", "building_id"),
        ("communities", "community_id"),
        ("facilities", "category"),
        ("facilities", "facility_id"),
        ("people", "building_id"),
        ("people", "person_id"),
        ("vulnerable", "households"),
        ("sites", "site_id"),
    ],
)
def test_missing_required_column(layer: str, column: str) -> None:
    layers = valid_layers()
    layers[layer] = layers[layer].drop(columns=[column])
    _one(_errors(_ds(layers)), f"{layer}: missing required column {column}")


@pytest.mark.parametrize(
    ("layer", "column", "dup"),
    [
        ("buildings", "building_id", "A00"),
        ("communities", "community_id", "A"),
        ("facilities", "facility_id", "F1"),
        ("people", "person_id", "P1"),
    ],
)
def test_duplicate_ids(layer: str, column: str, dup: str) -> None:
    layers = valid_layers()
    layers[layer].loc[1, column] = dup
    msg = _one(_errors(_ds(layers)), f"{layer}: duplicate {column}")
    assert dup in msg


def test_duplicate_site_ids() -> None:
    layers = valid_layers()
    s = layers["sites"]
    layers["sites"] = pd.concat([s, s], ignore_index=True)
    _one(_errors(_ds(layers)), "sites: duplicate site_id", "S1")


def test_missing_ids() -> None:
    layers = valid_layers()
    layers["buildings"].loc[4, "building_id"] = None
    _one(_errors(_ds(layers)), "buildings: missing building_id", "row 5")


# ------------------------------------------------------------------------ geometry


def test_empty_geometry() -> None:
    layers = valid_layers()
    layers["buildings"].loc[2, "geometry"] = None
    layers["facilities"].loc[0, "geometry"] = Point()
    errors = _errors(_ds(layers))
    _one(errors, "buildings: empty geometry", "A02")
    _one(errors, "facilities: empty geometry", "F1")


def test_empty_road_geometry_is_a_warning() -> None:
    layers = valid_layers()
    layers["roads"].loc[1, "geometry"] = None
    errors, warnings = check_dataset(_ds(layers))
    assert errors == []
    assert any("roads: empty geometry" in w and "row 2" in w for w in warnings)


def test_invalid_repairable_geometry_is_a_warning() -> None:
    layers = valid_layers()
    bowtie = Polygon(
        [(X0 + 50, Y0 + 50), (X0 + 90, Y0 + 62), (X0 + 90, Y0 + 50), (X0 + 50, Y0 + 62)]
    )
    assert not bowtie.is_valid
    layers["buildings"].loc[0, "geometry"] = bowtie
    errors, warnings = check_dataset(_ds(layers))
    assert errors == []
    assert any("invalid geometry repaired" in w and "A00" in w for w in warnings)


def test_invalid_unrepairable_geometry_is_an_error() -> None:
    layers = valid_layers()
    flat = Polygon([(X0 + 50, Y0 + 50), (X0 + 60, Y0 + 50), (X0 + 70, Y0 + 50)])
    layers["buildings"].loc[0, "geometry"] = flat
    _one(_errors(_ds(layers)), "buildings: invalid geometry that cannot be repaired", "A00")


@pytest.mark.parametrize(
    ("layer", "geom", "label"),
    [
        ("roads", box(X0, Y0, X0 + 10, Y0 + 10), "row 1"),
        ("facilities", LineString([(X0, Y0), (X0 + 5, Y0 + 5)]), "F1"),
        ("communities", LineString([(X0, Y0), (X0 + 5, Y0 + 5)]), "A"),
        ("buildings", LineString([(X0, Y0), (X0 + 5, Y0 + 5)]), "A00"),
    ],
)
def test_wrong_geometry_type(layer: str, geom, label: str) -> None:
    layers = valid_layers()
    layers[layer].loc[0, "geometry"] = geom
    _one(_errors(_ds(layers)), f"{layer}: wrong geometry type", label)


# ------------------------------------------------------------------------ households


def test_negative_households() -> None:
    layers = valid_layers()
    layers["buildings"].loc[0, "households"] = -4
    _one(_errors(_ds(layers)), "buildings: negative households", "A00=-4")


def test_non_integer_households() -> None:
    layers = valid_layers()
    layers["buildings"].loc[0, "households"] = 12.5
    _one(_errors(_ds(layers)), "households is not a whole number", "A00=12.5")


def test_non_numeric_households() -> None:
    layers = valid_layers()
    b = layers["buildings"]
    b["households"] = b["households"].astype(object)
    b.loc[0, "households"] = "twelve"
    _one(_errors(_ds(layers)), "households is not a number", "A00='twelve'")


def test_absurd_households_above_cap() -> None:
    layers = valid_layers()
    layers["buildings"].loc[0, "households"] = 5000
    msg = _one(_errors(_ds(layers)), "absurd households", "A00=5000")
    assert "max_households_per_building" in msg
    cfg = load_config({"households": {"max_households_per_building": 10000}})
    errors = check_dataset(_ds(layers), config=cfg)[0]
    assert not any("absurd households" in e for e in errors)


def test_implausible_household_density() -> None:
    layers = valid_layers()
    b = layers["buildings"]
    # a 1-floor 50 m² house with 400 households
    b.loc[0, "geometry"] = box(X0 + 50, Y0 + 50, X0 + 60, Y0 + 55)
    b.loc[0, "floors"] = 1
    b.loc[0, "households"] = 400
    _one(_errors(_ds(layers)), "implausible household density", "A00=400")


def test_zero_households_residential_is_a_warning() -> None:
    layers = valid_layers()
    layers["buildings"].loc[2, "households"] = 0
    errors, warnings = check_dataset(_ds(layers))
    assert errors == []
    assert any("residential buildings with 0 households" in w and "A02" in w for w in warnings)


def test_negative_floors_and_height() -> None:
    layers = valid_layers()
    layers["buildings"].loc[0, "floors"] = -2
    layers["buildings"].loc[1, "height"] = -9.0
    errors = _errors(_ds(layers))
    _one(errors, "negative floors", "A00")
    _one(errors, "negative height", "A01")


def test_unknown_use() -> None:
    layers = valid_layers()
    layers["buildings"].loc[3, "use"] = "castle"
    _one(_errors(_ds(layers)), "buildings: unknown use", "A10='castle'")


# ------------------------------------------------------------------------ communities


def test_buildings_outside_every_community() -> None:
    layers = valid_layers()
    layers["buildings"].loc[0, "geometry"] = box(X0 - 500, Y0, X0 - 460, Y0 + 12)
    _one(_errors(_ds(layers)), "buildings: outside every community", "A00")


def test_overlapping_communities() -> None:
    layers = valid_layers()
    layers["communities"].loc[1, "geometry"] = box(X0 + 390, Y0, X0 + 800, Y0 + 400)
    msg = _one(_errors(_ds(layers)), "communities: overlapping communities", "A/B")
    assert "4000 m²" in msg


def test_touching_communities_do_not_overlap() -> None:
    errors = _errors(_ds())
    assert not any("overlapping" in e for e in errors)


def test_unknown_community_id_on_buildings() -> None:
    layers = valid_layers()
    layers["buildings"].loc[0, "community_id"] = "Z"
    _one(_errors(_ds(layers)), "community_id not found in communities", "A00=Z")


def test_bad_households_total() -> None:
    layers = valid_layers()
    layers["communities"].loc[1, "households_total"] = -200
    _one(_errors(_ds(layers)), "communities: negative households_total", "B")


# ------------------------------------------------------------------------ people, facilities


def test_person_home_building_missing() -> None:
    layers = valid_layers()
    layers["people"].loc[1, "building_id"] = "NOPE"
    _one(_errors(_ds(layers)), "people: home building does not exist", "P2→NOPE")


def test_person_unknown_role() -> None:
    layers = valid_layers()
    layers["people"].loc[0, "roles"] = "grid_head;mayor"
    _one(_errors(_ds(layers)), "people: unknown role", "P1=mayor")


def test_person_unreadable_party_member() -> None:
    layers = valid_layers()
    layers["people"].loc[0, "party_member"] = "maybe"
    _one(_errors(_ds(layers)), "people: party_member is not yes/no", "P1")


def test_unknown_facility_category_and_config_extension() -> None:
    layers = valid_layers()
    layers["facilities"].loc[1, "category"] = "karaoke"
    _one(_errors(_ds(layers)), "facilities: unknown facility category", "F2=karaoke")
    cfg = load_config({"coverage": {"categories": ["karaoke"]}})
    assert check_dataset(_ds(layers), config=cfg)[0] == []


def test_site_unknown_category() -> None:
    layers = valid_layers()
    layers["sites"].loc[0, "categories"] = "market;zoo"
    _one(_errors(_ds(layers)), "sites: unknown facility category", "S1=zoo")


def test_vulnerable_missing_building() -> None:
    layers = valid_layers()
    layers["vulnerable"].loc[0, "building_id"] = "GHOST"
    _one(_errors(_ds(layers)), "vulnerable: building does not exist", "GHOST")


def test_vulnerable_more_than_building_has() -> None:
    layers = valid_layers()
    layers["vulnerable"] = pd.DataFrame(
        {"building_id": ["A00", "A00"], "households": [8, 7], "kind": ["disabled", "low_income"]}
    )
    _one(_errors(_ds(layers)), "more vulnerable households than the building has", "A00: 15 > 12")


def test_vulnerable_unknown_kind() -> None:
    layers = valid_layers()
    layers["vulnerable"].loc[0, "kind"] = "rich"
    _one(_errors(_ds(layers)), "vulnerable: unknown kind", "'rich'")


# ------------------------------------------------------------------------ CRS


def test_missing_crs() -> None:
    layers = {
        k: (v.set_crs(None, allow_override=True) if isinstance(v, gpd.GeoDataFrame) else v)
        for k, v in valid_layers().items()
    }
    ds = _ds(layers, layer_crs=dict.fromkeys(("buildings", "communities", "roads")))
    _one(_errors(ds), "missing CRS", "buildings")


def test_offset_declared_on_projected_data() -> None:
    _one(_errors(_ds(offset="gcj02")), "offset 'gcj02' declared on projected data")


def test_projected_coordinates_labelled_geographic() -> None:
    layers = {
        k: (v.set_crs(4326, allow_override=True) if isinstance(v, gpd.GeoDataFrame) else v)
        for k, v in valid_layers().items()
    }
    msg = _one(_errors(_ds(layers, crs="EPSG:4326")), "buildings: coordinates out of range")
    assert "A00" in msg and "and 8 more" in msg


def test_unreadable_csv_coordinates_reported(tmp_path: Path) -> None:
    (tmp_path / "buildings.csv").write_text(
        "building_id,lon,lat,households\nb1,105.9,26.2,10\nb2,east,26.2,4\n", encoding="utf-8"
    )
    ds = read_dataset(tmp_path)
    errors = _errors(ds)
    _one(errors, "buildings: lon/lat missing or not numbers", "row 2")
    _one(errors, "buildings: empty geometry", "b2")


def test_spatial_layer_without_geometry(tmp_path: Path) -> None:
    (tmp_path / "buildings.csv").write_text("building_id,households\nb1,10\n", encoding="utf-8")
    _one(_errors(read_dataset(tmp_path)), "buildings: no geometry")


# ------------------------------------------------------------------------ helpers


def test_helpers() -> None:
    assert format_ids(range(3)) == "0, 1, 2"
    assert format_ids(range(13)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 3 more"
    assert split_list("grid_head; Volunteer、unit_head") == ["grid_head", "volunteer", "unit_head"]
    assert split_list(None) == []
    assert [parse_bool(v) for v in ("是", "no", 1, None, "perhaps")] == [
        True,
        False,
        True,
        False,
        None,
    ]


def test_non_residential_with_households_is_a_warning() -> None:
    layers = valid_layers()
    layers["buildings"].loc[4, "use"] = "non_residential"
    errors, warnings = check_dataset(_ds(layers))
    assert errors == []
    assert any("non_residential buildings with households" in w and "A11" in w for w in warnings)
