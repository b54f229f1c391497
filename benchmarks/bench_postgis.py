"""Writing a plan: into a PostGIS schema against into plan.gpkg, on the city sample.

The plan of ``gridplan sample --scale city`` (19 communities, 70 000 households; partition,
units, staffing and coverage) is made once in memory, then written alternately with
:func:`gridplan.output.planfile.write_plan_gpkg` (a new GeoPackage file) and
:func:`gridplan.output.postgis.write_plan_postgis` (a schema replaced in one transaction,
``fid`` keys, GiST indexes, jsonb metadata), and read back with ``read_plan`` from each. The
server is a throw-away local PostgreSQL with PostGIS on a Unix socket (tests/_postgres.py),
started with ``fsync=off`` like the test server: the figures compare the two writers' work,
not disk flushes.

Run: ``.venv/bin/python benchmarks/bench_postgis.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import WORK_DIR, table, write_section  # noqa: E402
from _postgres import postgres_server  # noqa: E402

from gridplan.db import parse_database_url  # noqa: E402
from gridplan.io.load import load_dataset  # noqa: E402
from gridplan.output.planfile import read_plan, write_plan_gpkg  # noqa: E402
from gridplan.output.postgis import write_plan_postgis  # noqa: E402
from gridplan.run.pipeline import plan_dataset  # noqa: E402
from gridplan.sample.generate import write_sample  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    city = WORK_DIR / "postgis" / "city"
    if not city.exists():
        write_sample(city, "city", seed=0)
    plan = plan_dataset(load_dataset(city), stages=["assign", "coverage"])
    plan.layers.pop("people", None)
    rows_total = sum(len(v) for v in plan.layers.values())
    times: dict[str, list[float]] = {k: [] for k in ("gpkg_w", "pg_w", "gpkg_r", "pg_r")}
    gpkg = WORK_DIR / "postgis" / "plan.gpkg"
    with postgres_server() as srv:
        where = parse_database_url(srv.url(schema="plan_city"))
        for _ in range(args.repeat):
            gpkg.unlink(missing_ok=True)
            t0 = time.perf_counter()
            write_plan_gpkg(plan, gpkg)
            times["gpkg_w"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            write_plan_postgis(plan, where, overwrite=True)
            times["pg_w"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            a = read_plan(gpkg)
            times["gpkg_r"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            b = read_plan(srv.url(schema="plan_city"))
            times["pg_r"].append(time.perf_counter() - t0)
        assert sorted(a.layers) == sorted(b.layers)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [
        [
            "write",
            round(med["gpkg_w"], 2),
            round(med["pg_w"], 2),
            f"{med['pg_w'] / med['gpkg_w']:.2f}",
        ],
        [
            "read back",
            round(med["gpkg_r"], 2),
            round(med["pg_r"], 2),
            f"{med['pg_r'] / med['gpkg_r']:.2f}",
        ],
    ]
    sizes = ", ".join(f"{k} {len(v):,}" for k, v in sorted(plan.layers.items()) if len(v))
    body = (
        f"The city sample's plan: {rows_total:,} rows in {len(plan.layers)} layers ({sizes}). "
        f"Median of {args.repeat} alternating runs, seconds.\n\n"
        + table(["", "plan.gpkg s", "PostGIS schema s", "PostGIS / gpkg"], rows)
    )
    print(body)
    write_section(
        "postgis",
        "Plans into PostGIS against plan.gpkg",
        body,
        command=".venv/bin/python benchmarks/bench_postgis.py",
    )


if __name__ == "__main__":
    main()
