"""The deterministic sample generator and the bundled sample town (data/town)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from gridplan._errors import ConfigError, OutputExistsError
from gridplan.sample import generate as sample
from gridplan.sample.generate import generate_sample, write_sample
from gridplan.settings import FACILITY_CATEGORIES, PERSON_ROLES, VULNERABLE_KINDS

ROOT = Path(__file__).resolve().parent.parent
TOWN = ROOT / "data" / "town"
FILES = (
    "barriers.geojson",
    "buildings.geojson",
    "communities.geojson",
    "facilities.geojson",
    "partner_units.csv",
    "people.csv",
    "requests.csv",
    "roads.geojson",
    "sites.geojson",
    "vulnerable.csv",
)
REQUIRED = {
    "buildings": {
        "building_id",
        "geometry",
        "households",
        "population",
        "floors",
        "height",
        "use",
        "compound",
        "entrances",
        "community_id",
    },
    "communities": {"community_id", "geometry", "name", "households_total", "population_total"},
    "roads": {"geometry", "road_class", "name", "walkable"},
    "barriers": {"geometry", "kind"},
    "facilities": {"facility_id", "category", "geometry", "name"},
    "people": {
        "person_id",
        "building_id",
        "name",
        "party_member",
        "roles",
        "full_time",
        "skills",
        "capacity_households",
        "phone",
    },
    "vulnerable": {"building_id", "households", "kind"},
    "sites": {"site_id", "geometry", "categories"},
}


@pytest.fixture(scope="module")
def town() -> dict:
    return generate_sample("town", seed=0)


@pytest.fixture(scope="module")
def metric(town: dict) -> dict:
    crs = town["communities"].estimate_utm_crs()
    return {k: v.to_crs(crs) for k, v in town.items() if isinstance(v, gpd.GeoDataFrame)}


def test_committed_town_is_byte_identical_to_a_fresh_one(tmp_path: Path) -> None:
    out = write_sample(tmp_path / "town", "town", seed=0)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (out / name).read_bytes() == (TOWN / name).read_bytes(), name
    # the boundaries file is a relative link to the town's communities
    link = ROOT / "data" / "boundaries" / "town_communities.geojson"
    assert link.is_symlink() and not Path(link.readlink()).is_absolute()
    assert link.read_bytes() == (TOWN / "communities.geojson").read_bytes()


def test_another_seed_gives_another_town(town: dict) -> None:
    other = generate_sample("town", seed=1)
    a = set(shapely.to_wkb(town["buildings"].geometry.values).tolist())
    b = set(shapely.to_wkb(other["buildings"].geometry.values).tolist())
    assert len(a & b) < 0.01 * len(a)
    assert not town["people"]["name"].equals(other["people"]["name"])


def test_every_layer_has_its_contract_columns_in_wgs84(town: dict) -> None:
    assert set(town) == set(REQUIRED)
    for name, cols in REQUIRED.items():
        assert cols <= set(town[name].columns), (name, cols - set(town[name].columns))
        if isinstance(town[name], gpd.GeoDataFrame):
            assert town[name].crs.to_epsg() == 4326
            xy = shapely.get_coordinates(town[name].geometry.values)
            assert np.array_equal(xy, np.round(xy, 7))
    assert not isinstance(town["people"], gpd.GeoDataFrame)


def test_ids_are_readable_and_unique(town: dict) -> None:
    patterns = {
        ("buildings", "building_id"): r"B\d{5}",
        ("communities", "community_id"): r"C\d{2}",
        ("facilities", "facility_id"): r"F\d{4}",
        ("sites", "site_id"): r"S\d{4}",
        ("people", "person_id"): r"P\d{5}",
    }
    for (layer, col), pat in patterns.items():
        ids = town[layer][col]
        assert ids.is_unique and ids.is_monotonic_increasing, layer
        assert ids.str.fullmatch(pat).all(), layer
    comp = town["buildings"]["compound"].dropna()
    assert comp.str.fullmatch(r"XQ\d{3}").all() and comp.nunique() >= 10


def test_town_totals_match_the_anshun_pilot(town: dict) -> None:
    c = town["communities"]
    assert list(c["community_id"]) == ["C01", "C02", "C03"]
    assert c["name"].str.endswith("社区").all()
    assert abs(c["households_total"].sum() - 8800) <= 0.05 * 8800
    assert abs(c["population_total"].sum() - 24000) <= 0.05 * 24000
    b = town["buildings"]
    known = b.groupby("community_id")["households"].sum()
    for cid, total in zip(c["community_id"], c["households_total"], strict=True):
        # known counts fall short of the census by the buildings whose count is missing
        assert 0.7 * total <= known[cid] <= 1.03 * total, cid


def test_some_residential_buildings_lack_a_household_count(town: dict) -> None:
    b = town["buildings"]
    res = b[b["use"] == "residential"]
    share = res["households"].isna().mean()
    assert 0.08 <= share <= 0.17
    assert res.loc[res["households"].isna(), "floors"].notna().all()
    assert (b.loc[b["use"] == "non_residential", "households"].fillna(0) == 0).all()


def test_building_types_are_realistic(town: dict) -> None:
    b = town["buildings"].dropna(subset=["households"])
    tower = b[(b["floors"] >= 18) & (b["use"] == "residential")]
    assert len(tower) >= 3
    assert tower["households"].between(100, 300).all()
    assert tower["entrances"].isin([1, 2]).all()
    slab = b[b["compound"].notna() & (b["floors"] <= 7) & (b["use"] == "residential")]
    assert len(slab) >= 30
    assert slab["entrances"].between(2, 4).all()
    per_entrance = slab["households"] / slab["entrances"]
    assert per_entrance.between(12, 24).all()
    house = b[b["compound"].isna() & (b["use"] == "residential")]
    assert len(house) >= 200
    assert house["households"].between(1, 4).all() and house["floors"].between(1, 3).all()
    assert set(b["use"]) == {"residential", "mixed", "non_residential"}


def test_buildings_lie_in_their_community_and_touch_nothing(metric: dict) -> None:
    b, c, r, w = (metric[k] for k in ("buildings", "communities", "roads", "barriers"))
    joined = gpd.sjoin(b, c[["community_id", "geometry"]], predicate="within", how="left")
    assert (joined["community_id_left"] == joined["community_id_right"]).all()
    g = b.geometry.values
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    assert not np.any(i < j), "buildings overlap"
    assert len(shapely.STRtree(r.geometry.values).query(g, predicate="intersects")[0]) == 0
    assert len(shapely.STRtree(w.geometry.values).query(g, predicate="intersects")[0]) == 0


def test_communities_tile_the_town(metric: dict) -> None:
    c = metric["communities"]
    assert c.is_valid.all() and (c.geom_type == "Polygon").all()
    union = shapely.union_all(c.geometry.values)
    assert union.geom_type == "Polygon"
    assert abs(union.area - c.area.sum()) < 1.0  # no overlaps
    assert 1.0e6 < union.area < 2.5e6


def test_roads_form_one_network_crossing_the_river_on_few_bridges(metric: dict) -> None:
    r, w = metric["roads"], metric["barriers"]
    classes = set(r["road_class"])
    assert {
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "residential",
        "service",
        "footway",
    } <= classes
    river = w.loc[w["kind"] == "river"].geometry.union_all()
    crossing = r[r.crosses(river) | r.within(river)]
    assert 2 <= len(crossing[crossing["road_class"] != "footway"]) <= 4
    # every junction is a vertex shared by the ways meeting there: one connected network
    nodes: dict[tuple[float, float], int] = {}
    parent: list[int] = []

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for geom in r.geometry:
        ids = []
        for xy in np.round(np.asarray(geom.coords), 3):
            key = (float(xy[0]), float(xy[1]))
            if key not in nodes:
                nodes[key] = len(parent)
                parent.append(len(parent))
            ids.append(nodes[key])
        for k in ids[1:]:
            parent[find(k)] = find(ids[0])
    assert len({find(k) for k in range(len(parent))}) == 1


def test_facilities_cover_every_category_with_gaps(town: dict, metric: dict) -> None:
    f = town["facilities"]
    assert set(f["category"]) == set(FACILITY_CATEGORIES)
    assert f["name"].notna().all()
    # one community has no market
    mf = gpd.sjoin(metric["facilities"], metric["communities"][["community_id", "geometry"]])
    with_market = set(mf.loc[mf["category"] == "market", "community_id"])
    assert len(with_market) < len(town["communities"])
    # some homes are more than 300 m from any kindergarten
    b = metric["buildings"]
    homes = b[b["use"] == "residential"].geometry.centroid
    kg = metric["facilities"].loc[metric["facilities"]["category"] == "kindergarten"].geometry
    far = homes.distance(kg.union_all()) > 300
    assert 0.05 < far.mean() < 0.95


def test_people_roster_can_staff_the_town(town: dict) -> None:
    p, b = town["people"], town["buildings"]
    assert p["building_id"].isin(b["building_id"]).all()
    homes = b.set_index("building_id").loc[p["building_id"], "use"]
    assert (homes != "non_residential").all()
    assert 0.30 <= p["party_member"].mean() <= 0.50
    roles = p["roles"].str.split(";")
    assert set(roles.explode()) == set(PERSON_ROLES)
    total = town["communities"]["households_total"].sum()
    heads = roles.apply(lambda r: "grid_head" in r).sum()
    assert heads >= 1.3 * total / 400
    units = roles.apply(lambda r: "unit_head" in r).sum()
    assert total / 10 <= units <= total / 8
    ft = p[p["full_time"]]
    assert len(ft) >= total / 500 and ft["roles"].str.contains("grid_worker").all()
    assert p["capacity_households"].notna().any() and p["capacity_households"].isna().any()
    skills = p["skills"].dropna().str.split(";").explode()
    assert set(skills) == {"elderly_care", "medical", "legal", "tutoring", "mediation"}
    phones = p["phone"].dropna()
    assert phones.map(lambda s: re.fullmatch(r"1[358]\d{9}", s) is not None).all()
    assert phones.is_unique
    assert p["name"].str.len().between(2, 3).all()
    # a deliberate vacancy: a compound where nobody can be unit head
    comp_hh = b.groupby("compound")["households"].sum()
    lived = b.set_index("building_id").loc[
        p.loc[roles.apply(lambda r: "unit_head" in r), "building_id"], "compound"
    ]
    assert len(set(comp_hh[comp_hh > 0].index) - set(lived.dropna())) >= 1


def test_vulnerable_households_and_sites(town: dict) -> None:
    v, b, s = town["vulnerable"], town["buildings"], town["sites"]
    assert set(v["kind"]) == set(VULNERABLE_KINDS)
    assert v["building_id"].isin(b["building_id"]).all()
    assert (v["households"] >= 1).all()
    assert 0.01 <= v["households"].sum() / 8800 <= 0.1
    assert len(s) >= 3 and s["site_id"].is_unique
    cats = s["categories"].str.split(";").explode()
    assert set(cats) <= set(FACILITY_CATEGORIES)


def test_province_streams_community_by_community(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int, bool]] = []
    real = sample._write_layer

    def spy(folder: Path, name: str, frame: pd.DataFrame, append: bool) -> None:
        calls.append((name, len(frame), append))
        real(folder, name, frame, append)

    monkeypatch.setattr(sample, "_write_layer", spy)
    out = write_sample(tmp_path / "prov", "province", seed=3, n_communities=4)
    writes = [c for c in calls if c[0] == "buildings"]
    assert len(writes) == 4 and [a for *_, a in writes] == [False, True, True, True]
    b = gpd.read_file(out / "buildings.geojson")
    c = gpd.read_file(out / "communities.geojson")
    assert list(c["community_id"]) == ["C001", "C002", "C003", "C004"]
    assert b["building_id"].is_unique and b["building_id"].str.fullmatch(r"C\d{3}-B\d{4}").all()
    assert sum(n for name, n, _ in writes) == len(b)
    # the streamed file is byte-identical to writing the whole layer at once
    whole = generate_sample("province", seed=3, n_communities=4)["buildings"]
    (tmp_path / "whole").mkdir()
    real(tmp_path / "whole", "buildings", whole, False)
    assert (tmp_path / "whole" / "buildings.geojson").read_bytes() == (
        out / "buildings.geojson"
    ).read_bytes()
    people = pd.read_csv(out / "people.csv", dtype=str)
    assert len(people) > 0 and people["building_id"].isin(b["building_id"]).all()
    # no temporary folder left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prov", "whole"]
    # a province streams its layers, each community's requests and partner units too
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    req = pd.read_csv(out / "requests.csv", dtype=str)
    units = pd.read_csv(out / "partner_units.csv", dtype=str)
    assert req["request_id"].is_unique and units["partner_id"].is_unique
    assert req["building_id"].isin(b["building_id"]).all()
    assert units["building_id"].isin(b["building_id"]).all()
    assert set(req["request_id"].str[:4]) == {"C001", "C002", "C003", "C004"}


def test_existing_output_is_kept_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError):
        write_sample(out, "town")
    assert (out / "keep.txt").exists()
    write_sample(out, "province", n_communities=1, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "buildings.geojson").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_bad_scale_or_count_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scale"):
        generate_sample("village")
    with pytest.raises(ConfigError, match="scale"):
        write_sample(tmp_path / "x", "village")
    with pytest.raises(ConfigError, match="n_communities"):
        generate_sample("province", n_communities=0)
    assert not (tmp_path / "x").exists()


def test_bundled_town_reads_and_validates() -> None:
    io = pytest.importorskip("gridplan.io")
    if not hasattr(io, "load_dataset"):
        pytest.skip("gridplan.io.load_dataset not there yet")
    ds = io.load_dataset(TOWN)
    assert len(ds.layer("communities")) == 3
    assert ds.layer("buildings")["households_estimated"].sum() > 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(*[st.integers(0, 100)] * 4).filter(lambda t: (t[0], t[1]) != (t[2], t[3])),
        min_size=2,
        max_size=12,
    )
)
def test_every_road_crossing_becomes_a_shared_vertex(segs: list[tuple[int, ...]]) -> None:
    lines = [shapely.LineString([(a, b), (c, d)]) for a, b, c, d in segs]
    roads = [sample.Road(g, "residential") for g in lines]
    out = sample.junctions(roads)
    assert all(r.geometry.length >= 2.0 for r in out)
    vertices = [{tuple(xy) for xy in np.asarray(r.geometry.coords)} for r in out]
    for i in range(len(out)):
        for j in range(i + 1, len(out)):
            inter = out[i].geometry.intersection(out[j].geometry)
            for part in shapely.get_parts(inter):
                if part.geom_type != "Point":
                    continue  # collinear overlaps are not crossings
                p = (part.x, part.y)
                assert any(np.hypot(p[0] - v[0], p[1] - v[1]) < 1e-6 for v in vertices[i])
                assert any(np.hypot(p[0] - v[0], p[1] - v[1]) < 1e-6 for v in vertices[j])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 1200))
def test_province_towns_hold_exactly_the_communities_asked(seed: int, n: int) -> None:
    specs = list(sample.province_specs(seed, n))
    assert sum(s.n_communities for s in specs) == n
    assert [s.first_community for s in specs] == list(
        np.cumsum([0] + [s.n_communities for s in specs[:-1]])
    )
    names = [name for s in specs for name in s.community_names]
    assert len(set(names)) == len(names)
    assert all(103.5 < s.lon < 109.6 and 24.6 < s.lat < 29.3 for s in specs)  # in Guizhou


@pytest.mark.parametrize("scale", ["town", "city"])
def test_sample_totals_are_those_of_its_own_buildings(scale: str, tmp_path: Path) -> None:
    """A sample is clean: no community's households_total looks stale. (The city's C18, with
    two estimated buildings, was scaled by 2.8 while its total carried a census noise.)"""
    from gridplan import io
    from gridplan.households import calibration_summary

    ds = io.load_dataset(write_sample(tmp_path / scale, scale, seed=0))
    assert not [w for w in ds.warnings if "looks stale" in w]
    summary = calibration_summary(ds.layer("buildings"), ds.layer("communities"))
    assert (summary["status"] == "ok").all(), summary
    # the planned households are the totals, community by community, and the totals are
    # whole: given counts plus the calibrated estimates of the withheld ones
    b = ds.layer("buildings")
    per = b.groupby("community_id")["households"].sum()
    comms = ds.layer("communities").set_index("community_id")["households_total"]
    assert (per.reindex(comms.index) == comms).all()
