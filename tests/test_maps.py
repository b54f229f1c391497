"""The Folium map: layers in both languages, pop-ups, masking, basemaps, robustness.

``synthetic_plan`` (also used by the report, roster and browser tests) builds a small plan of
three grids, six units, twelve buildings, three facilities and a roster with real-looking phone
and ID numbers, without running any planning stage.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
from shapely.geometry import Point, box

from gridplan.i18n import LABELS, category_label, label, tier_label
from gridplan.output.maps.make import grid_colors, make_map, write_map
from gridplan.output.planfile import Plan

CRS = "EPSG:32649"  # UTM 49N: Guangxi
X0, Y0 = 500_000.0, 2_700_000.0
PHONES = [
    "13812345678",
    "13998765432",
    "15011112222",
    "18633334444",
    "17755556666",
    "13600001111",
    "13700002222",
    "13500003333",
    "15800004444",
    "18900005555",
]
ID_NUMBER = "11010519491231002X"


def synthetic_plan(*, with_people: bool = True) -> Plan:
    """Three grids side by side, two units each, two buildings per unit."""
    grids, units, members, buildings = [], [], [], []
    for g in range(3):
        gid = f"G{g + 1:02d}"
        gx = X0 + 200 * g
        grids.append(
            {"grid_id": gid, "community_id": "C01", "geometry": box(gx, Y0, gx + 200, Y0 + 400)}
        )
        for u in range(2):
            uid = f"{gid}-U{u + 1:02d}"
            uy = Y0 + 200 * u
            units.append(
                {"unit_id": uid, "grid_id": gid, "geometry": box(gx, uy, gx + 200, uy + 200)}
            )
            for b in range(2):
                bid = f"B{g}{u}{b}"
                bx, by = gx + 30 + 100 * b, uy + 60
                hh = 6 + g + u + b
                buildings.append(
                    {
                        "building_id": bid,
                        "community_id": "C01",
                        "grid_id": gid,
                        "households": hh,
                        "households_estimated": b == 1,
                        "use": "residential",
                        "floors": 6,
                        "geometry": box(bx, by, bx + 40, by + 20),
                    }
                )
                members.append(
                    {
                        "unit_id": uid,
                        "building_id": bid,
                        "entrance": "1",
                        "floor_from": 1,
                        "floor_to": 6,
                        "households": hh,
                    }
                )
    bdf = gpd.GeoDataFrame(buildings, crs=CRS)
    udf = gpd.GeoDataFrame(units, crs=CRS)
    mdf = pd.DataFrame(members)
    udf["households"] = [int(mdf.loc[mdf.unit_id == u, "households"].sum()) for u in udf.unit_id]
    gdf = gpd.GeoDataFrame(grids, crs=CRS)
    gdf["households"] = [int(bdf.loc[bdf.grid_id == g, "households"].sum()) for g in gdf.grid_id]
    gdf["population"] = gdf["households"] * 2.6
    gdf["n_buildings"] = 4
    gdf["n_units"] = 2
    people = pd.DataFrame(
        {
            "person_id": [f"P{i:02d}" for i in range(10)],
            "name": [
                "张伟",
                "王芳",
                "李娜",
                "刘洋",
                "陈静",
                "杨磊",
                "赵敏",
                "黄强",
                "周杰",
                "吴霞",
            ],
            "party_member": [True, True, False, True, False, False, True, False, False, True],
            "roles": ["grid_head"] * 3 + ["grid_worker"] * 3 + ["unit_head"] * 4,
            "phone": PHONES,
            "id_number": [ID_NUMBER] + [f"4503051980010{i:04d}" + "1" for i in range(9)],
        }
    )
    gdf["head_id"] = ["P00", "P01", ""]  # G03's head is vacant
    gdf["n_workers"] = [1, 1, 1]
    gdf["worker_ids"] = ["P03", "P04", "P05"]
    udf["head_id"] = ["P06", "P07", "P08", "P09", "", ""]
    assignments = pd.DataFrame(
        [
            ("P00", "grid_head", "G01", 0.0),
            ("P01", "grid_head", "G02", 120.0),
            ("P03", "grid_worker_full", "G01", 10.0),
            ("P04", "grid_worker_part", "G02", 50.0),
            ("P05", "grid_worker_part", "G03", 400.0),
        ]
        + [
            (p, "unit_head", u, 0.0)
            for p, u in zip(["P06", "P07", "P08", "P09"], udf.unit_id[:4], strict=True)
        ],
        columns=["person_id", "role", "target_id", "distance_m"],
    )
    vacancies = pd.DataFrame(
        {
            "role": ["grid_head", "unit_head", "unit_head"],
            "target_id": ["G03", "G03-U01", "G03-U02"],
            "reason": ["no eligible grid head within 1500 m"] + ["no resident volunteer"] * 2,
        }
    )
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": ["F1", "F2", "F3"],
            "category": ["kindergarten", "primary_school", "market"],
            "name": ["阳光幼儿园", "实验小学", "东门菜市场"],
            "geometry": [
                Point(X0 + 100, Y0 + 100),
                Point(X0 + 300, Y0 + 300),
                Point(X0 + 500, Y0 + 50),
            ],
        },
        crs=CRS,
    )
    tiers = {
        "kindergarten": ("5min", 300.0),
        "primary_school": ("10min", 600.0),
        "market": ("10min", 600.0),
    }
    catchments = gpd.GeoDataFrame(
        {
            "facility_id": facilities.facility_id,
            "category": facilities.category,
            "tier": [tiers[c][0] for c in facilities.category],
            "minutes": [int(tiers[c][0][:-3]) for c in facilities.category],
            "geometry": [
                p.buffer(tiers[c][1])
                for p, c in zip(facilities.geometry, facilities.category, strict=True)
            ],
        },
        crs=CRS,
    )
    cov_rows = []
    for rec in buildings:
        c = rec["geometry"].centroid
        for f, cat in zip(facilities.geometry, facilities.category, strict=True):
            tier, radius = tiers[cat]
            d = c.distance(f)
            cov_rows.append(
                {
                    "building_id": rec["building_id"],
                    "tier": tier,
                    "category": cat,
                    "minutes": round(d / 60, 1),
                    "covered": d <= radius,
                    "reachable": True,
                }
            )
    coverage = pd.DataFrame(cov_rows)
    communities = gpd.GeoDataFrame(
        {
            "community_id": ["C01"],
            "name": ["东城社区"],
            "geometry": [box(X0, Y0, X0 + 600, Y0 + 400)],
        },
        crs=CRS,
    )
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S1"],
            "category": ["kindergarten"],
            "tier": ["5min"],
            "households_newly_covered": [40],
            "rank": [1],
            "geometry": [Point(X0 + 500, Y0 + 300)],
        },
        crs=CRS,
    )
    layers: dict[str, pd.DataFrame] = {
        "grids": gdf,
        "units": udf,
        "unit_members": mdf,
        "buildings": bdf,
        "assignments": assignments,
        "coverage": coverage,
        "sites": sites,
        "communities": communities,
        "facilities": facilities,
        "catchments": catchments,
        "vacancies": vacancies,
    }
    if with_people:
        layers["people"] = people
    metadata = {
        "gridplan_version": "0.1.0",
        "seed": 0,
        "parameters": {
            "grids": {"target_households": 30, "min_households": 20, "max_households": 40},
            "units": {"target_households": 10, "min_households": 5, "max_households": 15},
        },
        "metrics": {
            "partition": {"compactness_mean": 0.78, "faces_merged": 2, "status": "OPTIMAL"},
            "units": {"n_units": 6},
            "staffing": {"status": "FEASIBLE", "objective": 530.0, "bound": 500.0, "gap": 0.06},
            "coverage": {"speed_m_per_min": 60},
            "siting": {"status": "OPTIMAL", "gap": 0.0},
        },
        "flags": {"partition": ["grid G03 holds 33 households, above the target 30"]},
    }
    return Plan(layers=layers, metadata=metadata, crs=gdf.crs, output_crs=gdf.crs)


def contains(text: str, needle: str) -> bool:
    """``needle`` in the page, as written or as folium's JSON escapes it (\\uXXXX, \\u003c)."""
    escaped = json.dumps(needle)[1:-1]
    for ch, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        escaped = escaped.replace(ch, code)
    return needle in text or escaped in text


def unmasked_numbers(text: str) -> list[str]:
    """Mobile or ID numbers standing alone (not inside a hex id or a coordinate)."""
    return re.findall(r"(?<![\w.])(?:1[3-9]\d{9}|\d{17}[\dXx])(?!\w)", text)


def in_layer_control(text: str, name: str) -> bool:
    """Whether the layer control lists an overlay or basemap called ``name``."""
    block = text[text.find("base_layers :") : text.find("L.control.layers(")]
    return bool(re.search(re.escape(json.dumps(name)) + r"\s*:\s*\w+", block))


def expected_layer_names(plan: Plan, lang: str) -> list[str]:
    names = [
        label(k, lang)
        for k in (
            "communities",
            "grids",
            "units",
            "buildings_by_grid",
            "buildings_by_coverage",
            "facilities",
            "uncovered",
            "sites",
        )
    ]
    tiers = sorted(set(plan.layers["catchments"]["tier"]))
    names += [label("catchments", lang, tier=tier_label(t, lang)) for t in tiers]
    return names


@pytest.fixture(scope="module")
def plan() -> Plan:
    return synthetic_plan()


@pytest.fixture(scope="module")
def html_zh(plan: Plan, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write_map(plan, tmp_path_factory.mktemp("map") / "map.html", lang="zh")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def html_en(plan: Plan) -> str:
    return make_map(plan, lang="en").get_root().render()


def test_labels_complete_in_both_languages() -> None:
    from gridplan.i18n import CATEGORY_LABELS, ROLE_LABELS
    from gridplan.settings import FACILITY_CATEGORIES

    for table in (LABELS, CATEGORY_LABELS, ROLE_LABELS):
        assert set(table["zh"]) == set(table["en"])
        assert all(v.strip() for lang in table for v in table[lang].values())
    assert set(CATEGORY_LABELS["en"]) == set(FACILITY_CATEGORIES)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_layer_named_in_its_language(
    plan: Plan, lang: str, html_zh: str, html_en: str
) -> None:
    text = html_zh if lang == "zh" else html_en
    for name in expected_layer_names(plan, lang):
        assert in_layer_control(text, name), name
    other = "en" if lang == "zh" else "zh"
    assert not in_layer_control(text, label("buildings_by_coverage", other))
    assert not contains(text, label("buildings_by_coverage", other))


def test_grid_popup_lists_households_head_workers_and_units(html_zh: str) -> None:
    assert contains(html_zh, "网格 G01")
    assert contains(html_zh, "张伟 (138****5678)")  # G01's head, phone masked
    assert contains(html_zh, "刘洋")  # G01's worker
    assert contains(html_zh, "G01-U01") and contains(html_zh, "G01-U02")
    assert contains(html_zh, label("vacant", "zh"))  # G03 has no head
    assert contains(html_zh, "东城社区")


def test_unit_popup_lists_member_buildings_and_head(html_en: str) -> None:
    assert contains(html_en, "Unit G01-U01")
    assert contains(html_en, "Member buildings")
    assert contains(html_en, "B000") and contains(html_en, "B001")
    assert contains(html_en, "赵敏 (137****2222)")  # P06 heads G01-U01
    assert contains(html_en, "1–6")  # floors


def test_no_unmasked_phone_or_id_in_map(html_zh: str, html_en: str) -> None:
    for text in (html_zh, html_en):
        for phone in PHONES:
            assert phone not in text
        assert ID_NUMBER not in text
        assert not unmasked_numbers(text)


def test_facilities_sites_and_uncovered(plan: Plan, html_en: str) -> None:
    assert contains(html_en, category_label("kindergarten", "en"))
    assert contains(html_en, "阳光幼儿园")
    assert contains(html_en, "Recommended new sites: S1")
    assert contains(html_en, "Households newly covered")
    # some buildings lack a 10-minute market: the uncovered layer names it
    assert contains(html_en, "Not within walking reach")


def test_controls_present(html_zh: str) -> None:
    for needle in (
        "L.control.layers",
        "L.Control.Search",
        "L.control.fullscreen",
        "control.scale",
        "gp-legend",
        "搜索网格编号",
    ):
        assert contains(html_zh, needle), needle


def test_neighbouring_grids_differ_in_colour(plan: Plan) -> None:
    colors = grid_colors(plan.layers["grids"])
    assert colors["G01"] != colors["G02"] != colors["G03"]
    assert grid_colors(plan.layers["grids"]) == colors  # deterministic


def test_map_is_deterministic(plan: Plan, html_en: str) -> None:
    again = make_map(plan, lang="en").get_root().render()
    strip = re.compile(r"_[0-9a-f]{32}")
    assert strip.sub("", again) == strip.sub("", html_en)


def test_gaode_shifts_overlays_and_offers_no_osm(plan: Plan) -> None:
    osm = make_map(plan, lang="en")
    gaode = make_map(plan, lang="en", basemap="gaode")
    html_gaode = gaode.get_root().render()
    assert "autonavi.com" in html_gaode
    assert "tile.openstreetmap.org" not in html_gaode
    # GCJ-02 moves points in China by a few hundred metres: the map's centre moves too
    shift = max(abs(a - b) for a, b in zip(gaode.location, osm.location, strict=True))
    assert 1e-3 < shift < 1e-2


def test_tianditu_needs_key_and_uses_it(plan: Plan) -> None:
    from gridplan._errors import ConfigError

    with pytest.raises(ConfigError, match="key"):
        make_map(plan, basemap="tianditu")
    text = make_map(plan, basemap="tianditu", tianditu_key="abc123").get_root().render()
    assert contains(text, "tianditu.gov.cn/vec_w") and "tk=abc123" in text
    assert contains(text, "LAYER=cva")


def test_unknown_language_or_basemap(plan: Plan) -> None:
    from gridplan._errors import ConfigError

    with pytest.raises(ConfigError):
        make_map(plan, lang="fr")
    with pytest.raises(ConfigError):
        make_map(plan, basemap="bing")


@pytest.mark.parametrize(
    "drop",
    [
        ["people"],
        ["units", "unit_members"],
        ["coverage", "catchments", "sites", "facilities"],
        ["grids"],
        list(synthetic_plan().layers),
    ],
)
def test_missing_layers_render_what_exists(drop: list[str], tmp_path: Path) -> None:
    plan = synthetic_plan()
    for name in drop:
        plan.layers.pop(name, None)
    text = write_map(plan, tmp_path / "m.html", lang="en").read_text(encoding="utf-8")
    assert contains(text, "L.map")
    for name in drop:
        key = {
            "grids": "Grids",
            "units": "Ten-household units",
            "sites": "Recommended new sites",
            "facilities": "Facilities",
        }.get(name)
        if key:
            assert not in_layer_control(text, key)
    if "people" in drop and "grids" not in drop:
        assert contains(text, "P00")  # the head is named by id when no roster is given
        assert not any(p in text for p in PHONES)


def test_plan_read_back_in_wgs84_still_maps(plan: Plan, tmp_path: Path) -> None:
    layers = {
        k: (v.to_crs(4326) if isinstance(v, gpd.GeoDataFrame) else v)
        for k, v in plan.layers.items()
    }
    wgs = Plan(layers=layers, metadata=plan.metadata, crs=pyproj.CRS.from_epsg(4326))
    text = make_map(wgs, lang="en").get_root().render()
    assert contains(text, "Unit G01-U01")


def test_simplify_and_rounding_keep_file_light(plan: Plan) -> None:
    text = make_map(plan, lang="en").get_root().render()
    coords = re.findall(r"\[(1\d\d\.\d+),(\d\d\.\d+)\]", text)
    assert coords
    assert all(len(x.split(".")[1]) <= 6 and len(y.split(".")[1]) <= 6 for x, y in coords)


def test_the_unmasked_number_check_catches_numbers() -> None:
    assert unmasked_numbers("tel 13812345678, id 11010519491231002X") == [
        "13812345678",
        "11010519491231002X",
    ]
    assert unmasked_numbers("138****5678 map_13812345678ab 111.13812345678") == []


def test_units_sharing_a_building_get_one_marker_listing_all(tmp_path: Path) -> None:
    plan = synthetic_plan()
    units = plan.layers["units"].copy()
    units.loc[units.unit_id == "G01-U02", "geometry"] = units.loc[
        units.unit_id == "G01-U01", "geometry"
    ].iloc[0]
    plan.layers["units"] = units
    text = make_map(plan, lang="en").get_root().render()
    assert contains(text, "Ten-household units G01-U01 … G01-U02 (2)")
    assert not contains(text, "Unit G01-U02")
    assert contains(text, "Unit G02-U01")


def test_point_buildings_are_drawn_as_circles() -> None:
    plan = synthetic_plan()
    b = plan.layers["buildings"]
    assert isinstance(b, gpd.GeoDataFrame)
    plan.layers["buildings"] = b.set_geometry(b.geometry.centroid)
    text = make_map(plan, lang="en").get_root().render()
    assert contains(text, '"type":"Point"')
    assert "L.circleMarker(ll, {radius: 4})" in text


def test_no_personal_data_in_logs(
    plan: Plan, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        write_map(plan, tmp_path / "m.html", lang="zh", basemap="gaode")
    assert "map written" in caplog.text
    assert not unmasked_numbers(caplog.text)


def test_grid_labels_wait_for_a_zoom_where_they_fit(plan: Plan, tmp_path: Path) -> None:
    """Labels of small grids appear only when zoomed in far enough for them to fit."""
    import re

    import shapely.affinity

    def threshold(p: Plan) -> int:
        page = write_map(p, tmp_path / "m.html", lang="en").read_text(encoding="utf-8")
        found = re.search(r"toggle\('gp-hide-labels',map\.getZoom\(\)<(\d+)\)", page)
        assert found, "the label toggle is missing"
        return int(found.group(1))

    big = threshold(plan)
    grids = plan.layers["grids"]
    shrunk = grids.assign(
        geometry=[shapely.affinity.scale(g, 0.1, 0.1, origin="centroid") for g in grids.geometry]
    )
    small = threshold(
        Plan({**plan.layers, "grids": shrunk}, plan.metadata, plan.crs, plan.output_crs)
    )
    # a tenth of the width needs 2^3.32 more magnification: 3 or 4 whole zoom levels later
    assert small - big in (3, 4)


def test_uncovered_per_tier_and_picked_category(plan: Plan, html_zh: str) -> None:
    """Who is missing what: a layer per tier basket (off at open) and one picked category (on
    at open: the one the fewest households miss); legend lines tied to their layers."""
    cov = plan.layers["coverage"]
    tiers = sorted({str(t) for t in cov.loc[~cov["covered"].astype(bool), "tier"]})
    assert tiers
    for t in tiers:
        name = label("uncovered_tier", "zh", tier=tier_label(t, "zh"))
        assert in_layer_control(html_zh, name), name
    assert in_layer_control(html_zh, label("uncovered", "zh"))
    assert "gp-picker" in html_zh and "gp.picked" in html_zh
    # every legend line of a layer names it, so the page shows only the lines of layers on
    legend = html_zh[html_zh.index("<div class='gp-legend'>") :]
    assert legend.count("<div class='gp-legend-item' data-gp-layer='") >= 4
    tied = re.search(r"data-gp-layer='(\w+)'><div><i style='background:#1a9850'>", legend)
    assert tied, "the coverage classes are not tied to their layer"
    assert label("cov_all", "zh") in legend  # present, shown only with its layer
    # search box wide enough for its placeholder
    assert ".leaflet-control-search .search-input {min-width: 11em;}" in html_zh


def test_grid_labels_at_pole_of_inaccessibility(plan: Plan, html_en: str) -> None:
    from shapely.ops import polylabel

    grids = plan.layers["grids"]
    metric = grids.to_crs(grids.estimate_utm_crs()) if not grids.crs.is_projected else grids
    row = metric.sort_values("grid_id").iloc[0]
    geom = row.geometry
    poly = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
    p = polylabel(poly, tolerance=max(1.0, poly.area**0.5 / 50))
    lon, lat = gpd.GeoSeries([p], crs=metric.crs).to_crs(4326).iloc[0].coords[0]
    assert f"[{round(lat, 6)},{round(lon, 6)}," in html_en
    assert "gp.declutter(labels)" in html_en


def test_tier_lists_in_minutes_order_whatever_the_row_order(plan: Plan) -> None:
    """Coverage rows in text order (10min, 15min, 5min): the pop-ups' missing services, the
    category picker and the per-tier layers still go 5, 10, 15 minutes."""
    from gridplan.output.maps.layers import coverage_by_building

    cov = plan.layers["coverage"].copy()
    extra = cov[cov["tier"] == "10min"].assign(tier="15min", category="culture_center")
    cov = pd.concat([cov, extra], ignore_index=True)
    cov["covered"] = False
    cov = cov.sort_values(["tier", "building_id"], kind="stable").reset_index(drop=True)
    assert list(dict.fromkeys(cov["tier"])) == ["10min", "15min", "5min"]
    shuffled = Plan(layers={**plan.layers, "coverage": cov}, crs=plan.crs, metadata=plan.metadata)
    by_building = coverage_by_building(shuffled)
    assert by_building
    for _, missing in by_building.values():
        minutes = [int(t[:-3]) for t, _ in missing]
        assert minutes == sorted(minutes) and minutes[0] == 5
    text = make_map(shuffled, lang="en").get_root().render()
    names = [
        label("uncovered_tier", "en", tier=tier_label(t, "en")) for t in ("5min", "10min", "15min")
    ]
    at = [text.find(json.dumps(n)[1:-1]) for n in names]
    assert all(i >= 0 for i in at) and at == sorted(at), at
    picks = [text.find(f"{tier_label(t, 'en')} · ") for t in ("5min", "10min", "15min")]
    assert all(i >= 0 for i in picks) and picks == sorted(picks), picks
