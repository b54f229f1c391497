"""``map.html`` opened in headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright).

No network: the page carries its JavaScript and CSS libraries inline (Leaflet and the two
plugins the map uses, vendored in ``gridplan/_vendor``), tile requests are refused at once, and
any other request is refused and reported as a failure. Checks: no JavaScript error, every
expected layer in the layer control, a grid pop-up opening on a click, a screenshot kept in
``test-artifacts/map.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gridplan.i18n import label, tier_label
from gridplan.output.maps.make import write_map

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
TILE_HOSTS = ("tile.openstreetmap.org", "tianditu.gov.cn", "autonavi.com")


@pytest.fixture(scope="module")
def map_plan(request: pytest.FixtureRequest) -> Any:
    """The town plan when the sample town and the pipeline exist, else the synthetic plan."""
    try:
        return request.getfixturevalue("town_plan")
    except pytest.skip.Exception:  # data/town not generated yet
        from test_maps import synthetic_plan

        return synthetic_plan()


def _open(browser: Any, html: Path) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    errors: list[str] = []
    refused: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
            return
        if not any(host in url for host in TILE_HOSTS):
            refused.append(url)
        r.abort()

    page.route("**/*", route)
    page.goto(html.as_uri(), wait_until="load")
    page.wait_for_timeout(300)
    return page, errors, refused


def _click_target(plan: Any) -> tuple[str, float, float]:
    """A grid id and a lon/lat inside it, away from buildings, units' markers and points."""
    import geopandas as gpd
    import shapely

    grids = plan.layers["grids"].sort_values("grid_id")
    grids = grids.to_crs(grids.estimate_utm_crs()) if not grids.crs.is_projected else grids
    blockers = []
    for name in ("buildings", "units", "facilities", "sites"):
        layer = plan.layers.get(name)
        if isinstance(layer, gpd.GeoDataFrame) and len(layer):
            layer = layer.to_crs(grids.crs)
            geoms = layer.geometry if name == "buildings" else layer.representative_point()
            blockers.append(shapely.union_all(geoms.buffer(25).to_numpy()))
    blocked = shapely.union_all(blockers) if blockers else None
    row = grids.iloc[0]
    area = row.geometry.buffer(-15)
    free = area.difference(blocked) if blocked is not None else area
    point = (free if not free.is_empty else row.geometry).representative_point()
    lon, lat = gpd.GeoSeries([point], crs=grids.crs).to_crs(4326).iloc[0].coords[0]
    return str(row["grid_id"]), lon, lat


def _layer_names(plan: Any, lang: str) -> list[str]:
    """The overlay names the map must list for this plan."""
    needs = {
        "communities": "communities",
        "grids": "grids",
        "units": "units",
        "buildings_by_grid": "buildings",
        "buildings_by_coverage": "coverage",
        "uncovered": "coverage",
        "facilities": "facilities",
        "sites": "sites",
    }
    names = []
    for key, layer in needs.items():
        df = plan.layers.get(layer)
        if (
            df is not None
            and len(df) > 0
            and (key != "buildings_by_coverage" or "buildings" in plan.layers)
        ):
            names.append(label(key, lang))
    return names


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_map_opens_without_errors(browser: Any, map_plan: Any, lang: str, tmp_path: Path) -> None:
    html = write_map(map_plan, tmp_path / "map.html", lang=lang)
    page, errors, refused = _open(browser, html)
    try:
        assert errors == [], errors
        assert refused == [], f"the map fetched more than its libraries and tiles: {refused}"
        assert page.evaluate("typeof L.Control.Search") == "function"
        listed = [
            s.strip()
            for s in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
        ]
        for name in _layer_names(map_plan, lang):
            assert name in listed, (name, listed)
        if "catchments" in map_plan.layers:
            tiers = sorted(set(map_plan.layers["catchments"]["tier"].astype(str)))
            for tier in tiers:
                assert label("catchments", lang, tier=tier_label(tier, lang)) in listed
        assert page.locator(".leaflet-control-layers-base label").count() >= 1
        assert page.locator(".gp-legend").count() == 1
        assert page.locator(".leaflet-control-search").count() == 1
        assert page.locator(".leaflet-control-zoom-fullscreen").count() == 1
        assert page.locator(".leaflet-control-scale").count() == 1
        assert page.locator(".gp-label").count() >= 1  # permanent grid labels

        # a click inside a grid (away from buildings and markers) opens the grid's pop-up
        grid_id, lon, lat = _click_target(map_plan)
        xy = page.evaluate(
            """([lat, lon]) => {
                const map = Object.values(window).find(v => v instanceof L.Map);
                map.setView([lat, lon], 17, {animate: false});
                const p = map.latLngToContainerPoint([lat, lon]);
                const r = map.getContainer().getBoundingClientRect();
                return [r.left + p.x, r.top + p.y];
            }""",
            [lat, lon],
        )
        page.wait_for_timeout(300)
        page.mouse.click(xy[0], xy[1])
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5000)
        text = popup.inner_text()
        assert grid_id in text, text
        assert label("households", lang) in text
        assert label("grid_head", lang) in text
        # searching a grid code flies to the grid and opens its pop-up
        last = sorted(map_plan.layers["grids"]["grid_id"].astype(str))[-1]
        page.keyboard.press("Escape")
        search = page.locator(".leaflet-control-search input.search-input")
        search.press_sequentially(last, delay=50)
        page.wait_for_timeout(800)  # leaflet-search lists its matches after a short delay
        search.press("Enter")
        page.wait_for_function(
            "(gid) => [...document.querySelectorAll('.leaflet-popup-content')]"
            ".some(e => e.innerText.includes(gid))",
            arg=last,
            timeout=10000,
        )
        # a layer hidden at open builds its features when switched on
        hidden = label("buildings_by_coverage", lang)
        if hidden in listed:
            count = (
                "() => Object.keys(Object.values(window)"
                ".find(v => v instanceof L.Map)._layers).length"
            )
            before = page.evaluate(count)
            page.locator(".leaflet-control-layers-overlays label", has_text=hidden).locator(
                "input"
            ).check()
            page.wait_for_timeout(300)
            assert page.evaluate(count) > before
        page.wait_for_timeout(600)  # let the pop-up fade in before the screenshot
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / ("map.png" if lang == "zh" else f"map-{lang}.png")))
        assert errors == [], errors
    finally:
        page.close()


def test_inlined_map_needs_no_network_but_tiles(browser: Any, tmp_path: Path) -> None:
    from test_maps import synthetic_plan

    html = write_map(synthetic_plan(), tmp_path / "map.html", lang="en")
    text = html.read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in text
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    errors: list[str] = []
    fetched: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def refuse(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
            return
        fetched.append(r.request.url)
        r.abort()

    page.route("**/*", refuse)
    try:
        page.goto(html.as_uri(), wait_until="load")
        assert errors == [], errors
        assert page.locator(".leaflet-control-layers-overlays label").count() >= 8
        assert page.locator(".leaflet-control-search").count() == 1
        assert all(any(h in url for h in TILE_HOSTS) for url in fetched), fetched
    finally:
        page.close()


def test_map_with_requests_opens_and_shows_a_popup(
    browser: Any, town_plan: Any, tmp_path: Path
) -> None:
    """The open-requests layers (gridplan run --requests): no JavaScript error (folium's own
    pop-ups need jQuery, which the inlined page does not carry), both layers listed, a
    request's pop-up masked."""
    from gridplan.requests.planview import import_for_plan, plan_requests

    town = ROOT / "data" / "town"
    ledger = tmp_path / "req.gpkg"
    import_for_plan(ledger, town / "requests.csv", town_plan.layers)
    layer, _rep = plan_requests(ledger, town_plan.layers, lang="zh")
    html = write_map(town_plan, tmp_path / "map.html", lang="zh", requests=layer)
    page, errors, refused = _open(browser, html)
    assert errors == [] and refused == []
    control = page.locator(".leaflet-control-layers").inner_text()
    assert label("requests.layer", "zh") in control
    assert label("requests.layer_by_grid", "zh") in control
    first = layer.iloc[0]
    page.evaluate(
        "([lat, lon]) => { for (const k in window) { const v = window[k];"
        " if (v && v._layers && k.startsWith('gp_requests_')) { v.eachLayer(function (l) {"
        " const p = l.getLatLng(); if (Math.abs(p.lat - lat) < 1e-6 && Math.abs(p.lng - lon)"
        " < 1e-6 && !l.getTooltip()) { l.openPopup(); } }); } } }",
        [first.geometry.y, first.geometry.x],
    )
    text = page.locator(".leaflet-popup-content").first.inner_text()
    assert str(first["request_id"]) in text and "****" in text
    if ARTIFACTS.exists():
        page.screenshot(path=str(ARTIFACTS / "map_requests.png"))
