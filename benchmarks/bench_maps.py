"""Size and build time of ``map.html`` for the ``town`` and ``city`` sample plans.

The town and city are planned with the real pipeline (:func:`gridplan.run.pipeline.plan_dataset` on
the bundled sample generator's output). When the pipeline cannot plan them yet, a synthetic plan
of matching size is measured instead (same households, buildings, grids, units, facilities and
coverage rows) and the section says so.

Run: ``.venv/bin/python benchmarks/bench_maps.py``
"""

from __future__ import annotations

import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _common import CHROMIUM, CHROMIUM_ARGS, WORK_DIR, table, timed, write_section
from shapely.geometry import Point, box

from gridplan.output.maps.layers import BIG_PLAN_FEATURES
from gridplan.output.maps.make import write_map
from gridplan.output.planfile import Plan

logger = logging.getLogger("bench_maps")

#: Sample sizes (gridplan.sample): households, communities, buildings, facilities.
SIZES: dict[str, dict[str, int]] = {
    "town": {"households": 8800, "communities": 3, "buildings": 430, "facilities": 40},
    "city": {"households": 70000, "communities": 19, "buildings": 3500, "facilities": 300},
}
CATEGORIES = {
    "5min": [
        "service_station",
        "kindergarten",
        "elderly_daycare",
        "health_station",
        "convenience_store",
    ],
    "10min": ["primary_school", "market"],
    "15min": ["secondary_school", "health_center", "culture_center", "sports", "elderly_home"],
}
RADIUS = {"5min": 300.0, "10min": 600.0, "15min": 900.0}


def synthetic_plan(
    households: int, communities: int, buildings: int, facilities: int, *, seed: int = 0
) -> Plan:
    """A plan shaped like the pipeline's: grids of ~400 households tiling a square town."""
    rng = np.random.default_rng(seed)
    crs = "EPSG:32649"
    n_grids = max(1, round(households / 400))
    side = math.ceil(math.sqrt(n_grids))
    cell = 350.0
    x0, y0 = 500_000.0, 2_530_000.0
    grid_rows, b_rows, u_rows, m_rows = [], [], [], []
    bid = 0
    for g in range(n_grids):
        gx, gy = x0 + cell * (g % side), y0 + cell * (g // side)
        gid = f"C{g % communities + 1:02d}-G{g + 1:03d}"
        # a wiggly grid outline (more vertices, like real street-bounded grids)
        t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
        r = cell / 2 * (1 + 0.04 * np.sin(5 * t + g))
        outline = shapely.Polygon(
            np.c_[gx + cell / 2 + r * np.cos(t) * 1.05, gy + cell / 2 + r * np.sin(t) * 1.05]
        )
        grid_poly = outline.intersection(box(gx, gy, gx + cell, gy + cell))
        nb = max(1, round(buildings / n_grids))
        b_hh = rng.multinomial(400, np.ones(nb) / nb)
        unit_no = 0
        for k in range(nb):
            bx = gx + 20 + (k % 6) * 52 + rng.uniform(0, 8)
            by = gy + 20 + (k // 6) * 52 + rng.uniform(0, 8)
            foot = shapely.affinity.rotate(box(bx, by, bx + 30, by + 14), rng.uniform(-20, 20))
            b_id = f"B{bid:05d}"
            bid += 1
            hh = int(b_hh[k])
            b_rows.append(
                {
                    "building_id": b_id,
                    "community_id": gid[:3],
                    "grid_id": gid,
                    "households": hh,
                    "households_estimated": bool(k % 3 == 0),
                    "use": "residential",
                    "floors": 6,
                    "geometry": foot,
                }
            )
            left = hh
            floor = 1
            while left > 0:
                take = min(left, 10)
                uid = f"{gid}-{unit_no // 1 + 1:03d}"
                unit_no += 1
                m_rows.append(
                    {
                        "unit_id": uid,
                        "building_id": b_id,
                        "entrance": "1",
                        "floor_from": floor,
                        "floor_to": floor + 1,
                        "households": take,
                    }
                )
                u_rows.append(
                    {
                        "unit_id": uid,
                        "grid_id": gid,
                        "households": take,
                        "head_id": f"P{len(u_rows):05d}",
                        "geometry": foot.buffer(3),
                    }
                )
                left -= take
                floor += 2
        grid_rows.append(
            {
                "grid_id": gid,
                "community_id": gid[:3],
                "households": 400,
                "population": 1080.0,
                "n_buildings": nb,
                "n_units": unit_no,
                "head_id": f"H{g:04d}",
                "worker_ids": f"W{g:04d}",
                "geometry": grid_poly,
            }
        )
    grids = gpd.GeoDataFrame(grid_rows, crs=crs)
    blds = gpd.GeoDataFrame(b_rows, crs=crs)
    units = gpd.GeoDataFrame(u_rows, crs=crs)
    minx, miny, maxx, maxy = grids.total_bounds
    cats = [c for cs in CATEGORIES.values() for c in cs]
    fac = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i:04d}" for i in range(facilities)],
            "category": [cats[i % len(cats)] for i in range(facilities)],
            "name": [f"设施{i}" for i in range(facilities)],
            "geometry": [
                Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(facilities)
            ],
        },
        crs=crs,
    )
    tier_of = {c: t for t, cs in CATEGORIES.items() for c in cs}
    catch = fac.assign(
        tier=[tier_of[c] for c in fac.category],
        minutes=[int(tier_of[c][:-3]) for c in fac.category],
    )
    catch = catch.set_geometry(
        [p.buffer(RADIUS[t], 24) for p, t in zip(fac.geometry, catch.tier, strict=True)]
    )
    cents = blds.geometry.centroid
    cov = []
    for cat in cats:
        pts = fac[fac.category == cat].geometry
        d = (
            np.min([cents.distance(p).to_numpy() for p in pts], axis=0)
            if len(pts)
            else np.full(len(blds), np.inf)
        )
        tier = tier_of[cat]
        cov.append(
            pd.DataFrame(
                {
                    "building_id": blds.building_id,
                    "tier": tier,
                    "category": cat,
                    "minutes": np.round(d / 60, 1),
                    "covered": d <= RADIUS[tier],
                }
            )
        )
    people = pd.DataFrame(
        {
            "person_id": [f"P{i:05d}" for i in range(len(units))],
            "name": [f"居民{i}" for i in range(len(units))],
            "phone": [f"138{i:08d}" for i in range(len(units))],
        }
    )
    communities = grids.dissolve("community_id").reset_index()[["community_id", "geometry"]]
    communities["name"] = communities["community_id"] + "社区"
    sites = fac.head(3)[["geometry"]].assign(
        site_id=["S1", "S2", "S3"],
        category="kindergarten",
        tier="5min",
        households_newly_covered=[300, 200, 100],
        rank=[1, 2, 3],
    )
    layers: dict[str, pd.DataFrame] = {
        "grids": grids,
        "units": units,
        "unit_members": pd.DataFrame(m_rows),
        "buildings": blds,
        "coverage": pd.concat(cov, ignore_index=True),
        "sites": sites,
        "facilities": fac,
        "catchments": catch,
        "communities": communities,
        "people": people,
    }
    return Plan(layers=layers, metadata={}, crs=grids.crs, output_crs=grids.crs)


def pipeline_plan(scale: str) -> Plan | None:
    """The scale's sample planned by the real pipeline, or ``None`` when it cannot run yet."""
    try:
        from gridplan.io.load import load_dataset
        from gridplan.run.pipeline import plan_dataset
        from gridplan.sample.generate import write_sample

        folder = WORK_DIR / f"sample-{scale}"
        if not (folder / "buildings.geojson").exists():
            write_sample(folder, scale)
        return plan_dataset(load_dataset(folder))
    except Exception as exc:  # any failure of another stage: fall back to a synthetic plan
        logger.warning("pipeline could not plan %s (%s: %s)", scale, type(exc).__name__, exc)
        return None


def counts(plan: Plan) -> dict[str, int]:
    return {
        k: len(v)
        for k, v in plan.layers.items()
        if k in ("grids", "units", "buildings", "facilities", "coverage", "catchments")
    }


def open_seconds(html: Path, *, repeat: int = 3) -> float | None:
    """Median seconds until headless Chromium shows the map's grid labels (None: no browser).

    The page carries Leaflet and its plugins inline; every network request (tiles) is refused,
    as offline.
    """
    if not CHROMIUM.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            r.abort()

    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
        )
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.route("**/*", route)
            t0 = time.perf_counter()
            page.goto(html.as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function(
                "document.querySelectorAll('.gp-label').length > 0", timeout=120_000
            )
            times.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    return statistics.median(times)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    rows: list[list[Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale, size in SIZES.items():
            plan = pipeline_plan(scale) if "--synthetic" not in sys.argv else None
            source = "pipeline"
            if plan is None:
                plan = synthetic_plan(**size)
                source = "synthetic"
            c = counts(plan)
            for simplify in (None, 0.0):
                path = Path(tmp) / f"{scale}-{simplify}.html"
                seconds, _ = timed(
                    lambda p=plan, out=path, s=simplify: write_map(p, out, lang="zh", simplify_m=s),
                    repeat=3 if simplify is None else 1,
                )
                big = max(c.get("buildings", 0), c.get("units", 0)) > BIG_PLAN_FEATURES
                opened = open_seconds(path) if simplify is None else None
                rows.append(
                    [
                        scale,
                        source,
                        "default (2 m)" if simplify is None else "none",
                        c.get("grids", 0),
                        c.get("units", 0),
                        c.get("buildings", 0),
                        "off" if big else "on",
                        round(path.stat().st_size / 1e6, 2),
                        seconds,
                        "–" if opened is None else round(opened, 2),
                    ]
                )
            if source == "synthetic":
                notes.append(
                    f"`{scale}`: the pipeline could not plan the sample yet, so a synthetic plan "
                    f"of matching size was measured ({size['households']:,} households)."
                )
    body = table(
        [
            "plan",
            "source",
            "simplify",
            "grids",
            "units",
            "buildings",
            "heavy layers at open",
            "map.html MB",
            "write s",
            "open s (Chromium)",
        ],
        rows,
    )
    if notes:
        body += "\n\n" + "\n".join(f"- {n}" for n in notes)
    body += (
        "\n\n`write s`: median of 3 runs of `write_map` (1 run without simplification). "
        "`open s`: median of 3 loads in headless Chromium until the grid layer is drawn, with "
        "every network request refused. The map embeds every layer (units, buildings by grid "
        "and by coverage, catchments) and Leaflet with its two plugins (about 0.2 MB), so it "
        "works offline except for tiles; pop-ups are built in the browser from compact "
        "per-feature data, and grid labels appear from the zoom at which they fit. The heavy "
        f"layers start switched off above {BIG_PLAN_FEATURES:,} buildings or units, and a layer "
        "switched off at open builds its features only when first switched on (catchments and "
        "buildings by coverage always are)."
    )
    path = write_section(
        "maps", "Maps: map.html size", body, command=".venv/bin/python benchmarks/bench_maps.py"
    )
    print(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
