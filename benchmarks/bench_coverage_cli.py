"""Coverage, whole process: ``gridplan coverage`` against a pandana script doing the same job.

Both are timed as what a planner runs: a fresh Python process from the command line to the
written result, imports, reading and writing included, on the same dataset file.

- ``gridplan coverage TOWN --out DIR`` (no grids: no partition, no catchments): read, validate
  and prepare the layers, build the walk network from the raw road lines, snap every
  residential building and facility with its access distance, one bounded search per facility
  category, and write ``plan.gpkg`` (the ``coverage`` table, its summaries, the buildings and
  facilities) and ``manifest.json``;
- the pandana script (:data:`PANDANA_SCRIPT`): read roads, buildings and facilities with
  geopandas, drop unwalkable road classes, make nodes of the line ends (the lines are already
  split at every junction, which gridplan does not assume), ``pandana.Network`` (its
  contraction hierarchy included), ``get_node_ids`` for the building centroids,
  ``set_pois`` + ``nearest_pois`` per category with the same search bound, and write one CSV of
  minutes per building and category. It snaps to nodes only (no access distance).

Also timed: ``gridplan coverage --per-grid`` (partitions first), ``--grids PLAN_DIR`` (the grids
of a plan made once before), and ``gridplan --help`` (imports must stay lazy). One cProfile run of
``gridplan coverage`` says where its time goes.

The town: the synthetic street grid of ``bench_coverage.py`` with 118 × 118 junctions (about
14 000 network nodes, 80 m blocks, 12 % of segments missing, a mix of road classes, 2 %
motorway), 7 000 buildings (12 m squares, 1–79 households) in 16 communities and 170 facilities
of the GB 50180 categories, as one GeoPackage in UTM 48N. (``gridplan sample --scale city`` has
only about 4 200 nodes.)

Run: ``.venv/bin/python benchmarks/bench_coverage_cli.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK_DIR, table, write_section
from bench_coverage import synthetic_city

from gridplan.settings import DEFAULT

ROOT = Path(__file__).resolve().parent.parent
SIDE = 118
N_BLD = 7000
N_FAC = 170

#: The peer: what a planner would write with pandana for the same job.
PANDANA_SCRIPT = """
import sys
import geopandas as gpd
import numpy as np
import pandas as pd
import pandana
import shapely

src, out = sys.argv[1], sys.argv[2]
SPEED = 60.0                                 # m/min, as gridplan's default
TIERS = {tiers!r}                            # minutes -> categories
UNWALKABLE = {unwalkable!r}
roads = gpd.read_file(src, layer="roads")
bld = gpd.read_file(src, layer="buildings")
fac = gpd.read_file(src, layer="facilities")
roads = roads[~roads["road_class"].isin(UNWALKABLE)]
# nodes: the line ends (the lines are split at every junction), to the centimetre
ends = np.concatenate([
    shapely.get_coordinates(shapely.get_point(roads.geometry.values, 0)),
    shapely.get_coordinates(shapely.get_point(roads.geometry.values, -1)),
])
xy, inv = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
inv = inv.ravel()
n = len(roads)
net = pandana.Network(
    pd.Series(xy[:, 0]), pd.Series(xy[:, 1]),
    pd.Series(inv[:n]), pd.Series(inv[n:]),
    pd.DataFrame({{"w": roads.geometry.length.to_numpy()}}),
    twoway=True,
)
bld = bld[bld["households"] > 0]
pts = bld.geometry.centroid
node = net.get_node_ids(pts.x, pts.y).to_numpy()
limit = {{}}
for t, cats in TIERS.items():
    for c in cats:
        limit[c] = max(limit.get(c, 0.0), t * SPEED * 2.0)
res = pd.DataFrame({{"building_id": bld["building_id"].to_numpy()}})
for c, lim in limit.items():
    f = fac[fac["category"] == c]
    if not len(f):
        res[c] = np.nan
        continue
    net.set_pois(c, lim, 1, f.geometry.x, f.geometry.y)
    d = net.nearest_pois(lim, c, num_pois=1)[1]
    d = d.where(d < lim)
    res[c] = d.reindex(node).to_numpy() / SPEED
res.to_csv(out, index=False)
"""


# --------------------------------------------------------------------------- the town


def write_town(path: Path) -> dict[str, Any]:
    """The synthetic town as one GeoPackage (layers roads, buildings, facilities, communities)."""
    layers = synthetic_city(side=SIDE, n_bld=N_BLD, n_fac=N_FAC, seed=1)
    roads, pts, fac = layers["roads"], layers["buildings"], layers["facilities"]
    w = (SIDE - 1) * 80.0
    k = 4  # 4 × 4 communities
    cell = w / k
    edges = [i * cell for i in range(k + 1)]
    edges[0], edges[-1] = -50.0, w + 50.0  # a margin around the jittered streets
    boxes = [
        shapely.box(edges[i], edges[j], edges[i + 1], edges[j + 1])
        for i in range(k)
        for j in range(k)
    ]
    comm = gpd.GeoDataFrame(
        {
            "community_id": [f"C{n:02d}" for n in range(k * k)],
            "name": [f"社区{n:02d}" for n in range(k * k)],
        },
        geometry=boxes,
        crs=roads.crs,
    )
    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    ci = np.clip((x // cell).astype(int), 0, k - 1)
    cj = np.clip((y // cell).astype(int), 0, k - 1)
    bld = gpd.GeoDataFrame(
        {
            "building_id": pts["building_id"],
            "households": pts["households"],
            "floors": 6,
            "use": "residential",
            "community_id": [f"C{i * k + j:02d}" for i, j in zip(ci, cj, strict=True)],
        },
        geometry=shapely.box(x - 6, y - 6, x + 6, y + 6),
        crs=roads.crs,
    )
    if path.exists():
        path.unlink()
    for name, df in (
        ("communities", comm),
        ("buildings", bld),
        ("roads", roads),
        ("facilities", fac),
    ):
        df.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return {"buildings": len(bld), "facilities": len(fac), "roads": len(roads)}


# --------------------------------------------------------------------------- timing


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_wall(cmd: list[str]) -> float:
    """Wall seconds of one process, start to exit (it must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=_env(), cwd=ROOT, capture_output=True)
    return time.perf_counter() - t0


def gridplan_cmd(town: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gridplan.cli",
        "-q",
        "coverage",
        str(town),
        "--out",
        str(out),
        "--overwrite",
        *extra,
    ]


def profile_gridplan(town: Path, out: Path, runs: int = 3) -> dict[str, float]:
    """In-process cProfile runs of ``gridplan coverage`` (modules already imported): median
    cumulative seconds of each phase."""
    from click.testing import CliRunner

    from gridplan.cli import main

    got: dict[str, list[float]] = {}
    for _ in range(runs):
        prof = cProfile.Profile()
        prof.enable()
        res = CliRunner().invoke(
            main, ["-q", "coverage", str(town), "--out", str(out), "--overwrite"]
        )
        prof.disable()
        assert res.exit_code == 0, res.output
        cum: dict[tuple[str, str], float] = {}
        for (file, _line, fn), row in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]
            key = (Path(file).name, fn)
            cum[key] = max(cum.get(key, 0.0), row[3])
        for name, key in PHASES:
            got.setdefault(name, []).append(cum.get(key, 0.0))
    return {name: statistics.median(v) for name, v in got.items()}


PHASES = [
    ("read the layers (`read_dataset`)", ("load.py", "read_dataset")),
    ("validate (`validate_dataset`)", ("checks.py", "validate_dataset")),
    ("prepare: repair, households, UTM (`prepare_dataset`)", ("prepare.py", "prepare_dataset")),
    ("walk network (`build_walk_network`)", ("graph.py", "build_walk_network")),
    ("coverage (`compute_coverage`)", ("coverage.py", "compute_coverage")),
    ("  of which snapping (`snap_points`)", ("snapping.py", "snap_points")),
    (
        "  of which searches (`nearest_source_distances`)",
        ("distances.py", "nearest_source_distances"),
    ),
    ("write plan.gpkg (`write_plan_gpkg`)", ("planfile.py", "write_plan_gpkg")),
    ("the command in process", ("cli.py", "coverage")),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import pandana  # noqa: F401  (fail early: the peer must be installed, `pip install pandana`)

    work = WORK_DIR / "coverage_cli"
    work.mkdir(parents=True, exist_ok=True)
    town = work / "town14k.gpkg"
    sizes = write_town(town)
    script = work / "pandana_coverage.py"
    tiers = {int(t): list(c) for t, c in DEFAULT.coverage.tiers.items()}
    script.write_text(
        PANDANA_SCRIPT.format(
            tiers=tiers, unwalkable=list(DEFAULT.coverage.unwalkable_road_classes)
        ),
        encoding="utf-8",
    )
    grids_plan = work / "grids-plan"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gridplan.cli",
            "-q",
            "partition",
            str(town),
            "--out",
            str(grids_plan),
            "--overwrite",
        ],
        check=True,
        env=_env(),
        cwd=ROOT,
        capture_output=True,
    )
    cases: dict[str, list[str]] = {
        "gridplan coverage": gridplan_cmd(town, work / "cov"),
        "pandana script": [sys.executable, str(script), str(town), str(work / "pandana.csv")],
        "gridplan coverage --grids PLAN_DIR": gridplan_cmd(
            town, work / "cov-grids", "--grids", str(grids_plan)
        ),
        "gridplan coverage --per-grid": gridplan_cmd(town, work / "cov-per-grid", "--per-grid"),
        "gridplan --help": [sys.executable, "-m", "gridplan.cli", "--help"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import geopandas'": [sys.executable, "-c", "import geopandas"],
        "python -c 'import pandana'": [sys.executable, "-c", "import pandana"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for cmd in cases.values():  # warm the file cache once
        run_wall(cmd)
    for _ in range(args.repeat):  # interleaved, so that noise hits every case alike
        for name, cmd in cases.items():
            times[name].append(run_wall(cmd))
    med = {k: statistics.median(v) for k, v in times.items()}

    # the same figures? minutes of gridplan (with access distances) and pandana (node snapping)
    cov = gpd.read_file(work / "cov" / "plan.gpkg", layer="coverage", engine="pyogrio")
    wide = cov.drop_duplicates(["building_id", "category"]).pivot(
        index="building_id", columns="category", values="minutes"
    )
    pdn = pd.read_csv(work / "pandana.csv", dtype={"building_id": str}).set_index("building_id")
    pdn = pdn.reindex(wide.index)[wide.columns]
    a, b = wide.to_numpy(float), pdn.to_numpy(float)
    both = ~np.isnan(a) & ~np.isnan(b)
    diff_m = np.abs(a[both] - b[both]) * DEFAULT.coverage.speed_m_per_min
    agree = float(np.mean(np.isnan(a) == np.isnan(b)))

    from gridplan.io.load import load_dataset
    from gridplan.network.graph import build_walk_network

    ds = load_dataset(town)
    net = build_walk_network(ds.layer("roads"))
    prof = profile_gridplan(town, work / "cov-prof")
    shutil.rmtree(work / "cov-prof", ignore_errors=True)
    whole = med["gridplan coverage"]
    prof_rows = [[name, sec, f"{sec / whole:.0%}"] for name, sec in prof.items()]
    rest = whole - prof["the command in process"]
    prof_rows.append(
        ["interpreter start and imports (process median − in process)", rest, f"{rest / whole:.0%}"]
    )

    ratio = med["pandana script"] / med["gridplan coverage"]
    rows = [
        [name, med[name], min(times[name]), max(times[name]), med[name] / med["gridplan coverage"]]
        for name in cases
    ]
    body = (
        f"The town: synthetic {SIDE} × {SIDE} street grid, **{net.n_nodes:,} network nodes** "
        f"({net.n_edges:,} edges), {sizes['buildings']:,} buildings in 16 communities, "
        f"{sizes['facilities']} facilities, {sizes['roads']:,} road lines, one GeoPackage. "
        "Each figure is the wall time of a fresh process, start to exit (imports, reading and "
        f"writing included); median, min and max of {args.repeat} runs, the cases interleaved. "
        "*gridplan coverage* reads, validates and prepares the layers, nodes the raw road "
        "lines, snaps with access distances, searches each category and writes plan.gpkg; the "
        "pandana script reads the same file, takes line ends as nodes (it relies on the lines "
        "being split at junctions), builds `pandana.Network` and runs `nearest_pois` per "
        "category, and writes a CSV.\n\n"
        + table(["process", "median s", "min s", "max s", "× gridplan coverage"], rows)
        + f"\n\n**pandana script / gridplan coverage = {ratio:.2f}×** (the issue's goal: ≥ 5×). "
        f"Same figures: beyond-the-bound (NaN) agrees on {agree:.1%} of building × category "
        f"cells; where both found a facility the minutes differ by a median "
        f"{np.median(diff_m):.1f} m of walking (95th percentile "
        f"{np.percentile(diff_m, 95):.1f} m): "
        "pandana snaps to the nearest node and has no access distance.\n\n"
        "Where `gridplan coverage`'s time goes: cumulative seconds of each phase, median of 3 "
        "cProfile runs in process (modules already imported), as a share of the process "
        "median above:\n\n" + table(["phase", "s", "share of the process"], prof_rows)
    )
    path = write_section(
        "coverage_cli",
        "Coverage, whole process: `gridplan coverage` against a pandana script",
        body,
        command=".venv/bin/python benchmarks/bench_coverage_cli.py",
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
