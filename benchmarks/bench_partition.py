"""Grid partition: gridplan against spopt max-p, spopt RegionKMeans and GerryChain tree-part.

Every method partitions the same graphs in one run:

- ``lattice``: a 70 × 70 rook lattice of 50 m cells, 5–59 households per cell (157 200 in
  all), target 400 households, so 393 grids;
- ``city``: the ``city`` sample when :func:`gridplan.sample.generate_sample` exists, else a
  synthetic city-like community (compounds of houses, mid-rise blocks and towers, shops with no
  households), the Voronoi-cell contiguity graph of its buildings;
- ``towers``: 900 towers of 24–180 households in compounds, target 400.

Peers run in a subprocess killed after ``--cap`` seconds ("no result in N s"). Each is given
the most favourable setting we know: max-p with a floor of 0.85 × target and coordinates as
attributes (compact regions), RegionKMeans with coordinates and gridplan's grid count,
recursive_tree_part with ε = 0.05 and gridplan's grid count. Figures: solve time (inside the
subprocess, without start-up), grids, max deviation from the target, share of grids within
±10 % and within [300, 500], contiguity on the shared graph, mean Polsby–Popper of the grid
territories (union of the nodes' cells).

Run: ``.venv/bin/python benchmarks/bench_partition.py [--cap 300] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import Polygon, box

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK_DIR, table, write_section

from gridplan.adjacency import cell_graph, connected_components
from gridplan.partition.grids import partition_grids
from gridplan.partition.result import size_summary
from gridplan.settings import load_config

CRS = "EPSG:32648"
TARGET = 400
PEERS = ("maxp", "kmeans", "treepart")
LABELS = {
    "maxp": "spopt MaxPHeuristic (floor 0.85×target)",
    "kmeans": "spopt RegionKMeansHeuristic",
    "treepart": "GerryChain recursive_tree_part (ε 0.05)",
    "gridplan": "gridplan partition_grids",
}


# --------------------------------------------------------------------------- cases


def _fix_total(h: np.ndarray, total: int, lo: int, hi: int) -> np.ndarray:
    h = h.copy()
    diff = total - int(h.sum())
    i = 0
    while diff != 0:
        j = i % len(h)
        if diff > 0 and h[j] < hi:
            h[j] += 1
            diff -= 1
        elif diff < 0 and h[j] > lo:
            h[j] -= 1
            diff += 1
        i += 1
    return h


def lattice_case() -> dict[str, Any]:
    n, s = 70, 50.0
    rng = np.random.default_rng(0)
    h = _fix_total(rng.integers(5, 60, n * n), 393 * TARGET, 5, 59)
    cells = [
        box((k % n) * s, (k // n) * s, (k % n + 1) * s, (k // n + 1) * s) for k in range(n * n)
    ]
    foot = [c.buffer(-5) for c in cells]
    edges = []
    for k in range(n * n):
        if k % n < n - 1:
            edges.append((k, k + 1))
        if k // n < n - 1:
            edges.append((k, k + n))
    return {
        "name": "lattice",
        "desc": "70×70 lattice, 5–59 households per cell",
        "households": h,
        "footprints": foot,
        "cells": cells,
        "edges": np.array(edges),
        "area": box(0, 0, n * s, n * s),
        "compound": [None] * (n * n),
    }


def _graph_case(
    name: str,
    desc: str,
    pts: np.ndarray,
    h: np.ndarray,
    area: Polygon,
    compound: Sequence[str | None],
) -> dict[str, Any]:
    cells, edges, _ = cell_graph(area, pts)
    return {
        "name": name,
        "desc": desc,
        "households": h,
        "footprints": [shapely.Point(p) for p in pts],
        "cells": cells,
        "edges": edges,
        "area": area,
        "compound": compound,
    }


def tower_case() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    pts, hh, comp = [], [], []
    # 10 × 10 compounds of 3 × 3 towers, 150 m apart, towers 40 m apart inside
    for cy in range(10):
        for cx in range(10):
            for t in range(9):
                x = cx * 150 + 35 + (t % 3) * 40 + rng.uniform(-6, 6)
                y = cy * 150 + 35 + (t // 3) * 40 + rng.uniform(-6, 6)
                pts.append((x, y))
                hh.append(int(rng.integers(24, 181)))
                comp.append(f"K{cy:02d}{cx:02d}")
    h = np.array(hh)
    return _graph_case(
        "towers",
        "900 towers of 24–180 households in 100 compounds",
        np.array(pts),
        h,
        box(0, 0, 1500, 1500),
        comp,
    )


def synthetic_city_case() -> dict[str, Any]:
    """A city-like community: an old town of houses, mid-rise compounds, tower compounds."""
    rng = np.random.default_rng(2)
    pts: list[tuple[float, float]] = []
    hh: list[int] = []
    comp: list[str | None] = []
    size = 4000.0
    # blocks of 200 m on a 20 × 20 raster, each block one kind
    for by in range(20):
        for bx in range(20):
            x0, y0 = bx * 200.0, by * 200.0
            r = rng.random()
            dist = math.hypot(x0 - size / 2, y0 - size / 2) / (size / 2)
            if r < 0.35 + 0.3 * (1 - dist):  # old town: houses
                m = int(rng.integers(25, 60))
                for _ in range(m):
                    pts.append((x0 + rng.uniform(10, 190), y0 + rng.uniform(10, 190)))
                    hh.append(int(rng.integers(1, 9)) if rng.random() > 0.15 else 0)
                    comp.append(None)
            elif r < 0.8:  # mid-rise compound
                name = f"M{by:02d}{bx:02d}"
                for i in range(4):
                    for j in range(5):
                        pts.append(
                            (
                                x0 + 25 + 40 * j + rng.uniform(-3, 3),
                                y0 + 25 + 45 * i + rng.uniform(-3, 3),
                            )
                        )
                        hh.append(int(rng.integers(18, 73)))
                        comp.append(name)
            elif r < 0.92:  # towers
                name = f"T{by:02d}{bx:02d}"
                for i in range(3):
                    for j in range(3):
                        pts.append(
                            (
                                x0 + 40 + 60 * j + rng.uniform(-5, 5),
                                y0 + 40 + 60 * i + rng.uniform(-5, 5),
                            )
                        )
                        hh.append(int(rng.integers(60, 181)))
                        comp.append(name)
            else:  # shops, schools, workshops
                for _ in range(int(rng.integers(3, 10))):
                    pts.append((x0 + rng.uniform(10, 190), y0 + rng.uniform(10, 190)))
                    hh.append(0)
                    comp.append(None)
    return _graph_case(
        "city",
        "synthetic city-like community (the `city` sample is not written yet)",
        np.array(pts),
        np.array(hh),
        box(0, 0, size, size),
        comp,
    )


def load_city() -> Any:
    """The prepared ``city`` sample (written once to ``benchmarks/_work/city``), or None."""
    try:
        from gridplan.io.load import load_dataset
        from gridplan.sample.generate import write_sample
    except ImportError:
        return None
    path = WORK_DIR / "city"
    if not path.exists():
        write_sample(path, "city", seed=0, overwrite=True)
    return load_dataset(path)


def city_case() -> dict[str, Any]:
    ds = load_city()
    if ds is None:
        return synthetic_city_case()
    b, c = ds.layer("buildings"), ds.layer("communities")
    # peers need one connected graph: the community with the most households, barriers ignored
    cid = b.groupby("community_id")["households"].sum().sort_index().idxmax()
    area = c.loc[c["community_id"] == cid].geometry.iloc[0]
    sub = b[b["community_id"] == cid]
    pts = shapely.get_coordinates(shapely.point_on_surface(np.asarray(sub.geometry.array)))
    comp = [v if isinstance(v, str) else None for v in sub["compound"]]
    case = _graph_case(
        "city",
        f"`city` sample, its largest community {cid} (barriers ignored so that every "
        "method gets the same connected graph; buildings as points)",
        pts,
        sub["households"].to_numpy(dtype=int),
        area,
        comp,
    )
    return case


def full_city(repeat: int) -> tuple[list[Any], str] | None:
    """gridplan on the whole ``city`` sample with its barriers (the < 15 s goal).

    Returns the table row and a sentence with the balance where building sizes allow.
    """
    ds = load_city()
    if ds is None:
        return None
    L = ds.layers
    seconds, cpu, res = _wall_cpu(
        lambda: partition_grids(
            L["buildings"], L["communities"], roads=L.get("roads"), barriers=L.get("barriers")
        ),
        repeat,
    )
    m = res.metrics
    sz = size_summary(m["communities"])
    free = m["grids"] - sz["grids_size_forced"]
    note = (
        f"- city (whole sample): {sz['grids_size_forced']} of {m['grids']} grids are "
        "size-forced (their face's buildings cannot make its grids all within ±10 %); over "
        f"the other {free}: max deviation {100 * sz['max_deviation_sizes_allow']:.1f} %, "
        f"{100 * sz['share_within_10pct_sizes_allow']:.1f} % within ±10 %; overall "
        f"{100 * m['max_deviation']:.1f} % and {100 * m['share_within_10pct']:.1f} %; "
        f"median CPU {cpu:.2f} s."
    )
    row = [
        f"city (all {len(m['communities'])} communities, barriers on)",
        LABELS["gridplan"],
        f"{seconds:.2f}",
        f"{cpu:.2f}",
        m["grids"],
        f"{100 * m['max_deviation']:.1f} %",
        f"{100 * m['share_within_10pct']:.0f} %",
        f"{100 * m['share_within_bounds']:.0f} %",
        "yes" if m["contiguity_ok"] else "no",
        f"{m['polsby_popper_mean']:.3f}",
    ]
    return row, note


# --------------------------------------------------------------------------- evaluation


def evaluate(case: dict[str, Any], labels: np.ndarray) -> dict[str, Any]:
    h = case["households"]
    labs = np.asarray(labels)
    uniq = np.unique(labs)
    adj: list[list[int]] = [[] for _ in range(len(h))]
    for i, j in case["edges"].tolist():
        adj[i].append(j)
        adj[j].append(i)
    weights, contiguous, pp = [], 0, []
    cells = np.asarray(case["cells"], dtype=object)
    for r in uniq:
        sel = np.flatnonzero(labs == r)
        weights.append(int(h[sel].sum()))
        if len(connected_components(sel.tolist(), adj)) == 1:
            contiguous += 1
        geom = shapely.union_all(cells[sel])
        pp.append(4 * math.pi * geom.area / geom.length**2 if geom.length > 0 else 0.0)
    wv = np.array(weights, dtype=float)
    dev = np.abs(wv - TARGET) / TARGET
    return {
        "grids": len(uniq),
        "max_dev": float(dev.max()),
        "within10": float((dev <= 0.10).mean()),
        "in_bounds": float(((wv >= 300) & (wv <= 500)).mean()),
        "contiguous": contiguous == len(uniq),
        "pp": float(np.mean(pp)),
    }


# --------------------------------------------------------------------------- peers


def _peer_main(method: str, path: Path, out: Path) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    with path.open("rb") as fh:
        data = pickle.load(fh)
    h, edges, xy, k = data["households"], data["edges"], data["xy"], data["k"]
    t0 = time.perf_counter()
    c0 = time.process_time()
    if method in ("maxp", "kmeans"):
        import pandas as pd
        from libpysal.weights import W

        nb: dict[int, list[int]] = {i: [] for i in range(len(h))}
        for i, j in edges.tolist():
            nb[i].append(j)
            nb[j].append(i)
        w = W(nb, silence_warnings=True)
        if method == "maxp":
            from spopt.region import MaxPHeuristic

            gdf = gpd.GeoDataFrame(
                pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "households": h}),
                geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
            )
            model = MaxPHeuristic(gdf, w, ["x", "y"], "households", 0.85 * TARGET, top_n=2)
            np.random.seed(0)
            model.solve()
            labels = np.asarray(model.labels_)
        else:
            from spopt.region import RegionKMeansHeuristic

            model = RegionKMeansHeuristic(xy, k, w, seed=0)
            model.solve()
            labels = np.asarray(model.labels_)
    else:
        import networkx as nx
        from gerrychain import Graph
        from gerrychain.partition import recursive_tree_part

        g = nx.Graph()
        for i in range(len(h)):
            g.add_node(i, households=int(h[i]))
        g.add_edges_from(edges.tolist())
        graph = Graph.from_networkx(g)
        assign = recursive_tree_part(
            graph,
            range(k),
            pop_target=float(h.sum()) / k,
            pop_col="households",
            epsilon=0.05,
            rng=0,
        )
        labels = np.array([assign[i] for i in range(len(h))])
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    out.write_text(json.dumps({"labels": labels.tolist(), "seconds": seconds, "cpu": cpu}))


def run_peer(
    method: str, case: dict[str, Any], k: int, cap: float, cpu_cap: float | None = None
) -> dict[str, Any]:
    """Run one peer in a subprocess killed after ``cap`` s of wall time (or ``cpu_cap`` s CPU)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / f"partition_{case['name']}.pkl"
    out = WORK_DIR / f"partition_{case['name']}_{method}.json"
    out.unlink(missing_ok=True)
    xy = np.array([shapely.get_coordinates(c.centroid)[0] for c in case["cells"]])
    with path.open("wb") as fh:
        pickle.dump(
            {"households": case["households"], "edges": case["edges"], "xy": xy, "k": k}, fh
        )
    cmd = [sys.executable, __file__, "--peer", method, "--data", str(path), "--out", str(out)]

    def limit_cpu() -> None:  # runs in the child: SIGXCPU kills it after cpu_cap CPU seconds
        import resource

        if cpu_cap:
            resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_cap), int(cpu_cap) + 5))

    try:
        proc = subprocess.run(
            cmd, timeout=cap, capture_output=True, text=True, check=False, preexec_fn=limit_cpu
        )
    except subprocess.TimeoutExpired:
        return {"status": f"no result in {cap:.0f} s"}
    if cpu_cap and proc.returncode < 0:
        return {"status": f"no result in {cpu_cap:.0f} s of CPU"}
    if proc.returncode != 0 or not out.exists():
        last = (proc.stderr.strip().splitlines() or ["?"])[-1][:120]
        return {"status": f"failed: {last}"}
    res = json.loads(out.read_text())
    ev = evaluate(case, np.array(res["labels"]))
    ev["seconds"] = res["seconds"]
    ev["cpu"] = res["cpu"]
    ev["status"] = "ok"
    return ev


# --------------------------------------------------------------------------- gridplan


def _wall_cpu(fn: Any, repeat: int) -> tuple[float, float, Any]:
    """Median wall and CPU seconds of ``fn()`` over ``repeat`` runs, and the last result.

    CPU time is robust on a shared machine where wall time depends on the neighbours.
    """
    walls, cpus = [], []
    res = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus)), res


def run_gridplan(case: dict[str, Any], repeat: int) -> dict[str, Any]:
    n = len(case["households"])
    b = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:05d}" for i in range(n)],
            "households": case["households"].astype("int64"),
            "community_id": "C01",
            "compound": case["compound"],
        },
        geometry=case["footprints"],
        crs=CRS,
    )
    c = gpd.GeoDataFrame({"community_id": ["C01"]}, geometry=[case["area"]], crs=CRS)
    cfg = load_config({"seed": 0, "grids": {"time_limit_s": 60.0}})
    seconds, cpu, res = _wall_cpu(lambda: partition_grids(b, c, config=cfg), repeat)
    order = {g: i for i, g in enumerate(res.grids["grid_id"])}
    labels = res.buildings["grid_id"].map(order).to_numpy()
    ev = evaluate(case, labels)
    ev["seconds"] = seconds
    ev["cpu"] = cpu
    ev["status"] = "ok"
    ev["own_pp"] = res.metrics["polsby_popper_mean"]
    return ev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cap", type=float, default=300.0, help="peer time cap, seconds")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cases", default="lattice,city,towers")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--cpu-cap", type=float, default=None, help="peer CPU-time cap, seconds")
    ap.add_argument("--no-write", action="store_true", help="print, do not write the section")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        _peer_main(args.peer, Path(args.data), Path(args.out))
        return
    makers = {"lattice": lattice_case, "city": city_case, "towers": tower_case}
    rows: list[list[Any]] = []
    notes: list[str] = []
    summary: dict[str, dict[str, Any]] = {}
    notes_after: list[str] = []
    for name in args.cases.split(","):
        case = makers[name]()
        H = int(case["households"].sum())
        notes.append(
            f"- `{name}`: {case['desc']}; {len(case['households'])} nodes, "
            f"{len(case['edges'])} edges, {H} households."
        )
        gp = run_gridplan(case, args.repeat)
        k = gp["grids"]
        results = {"gridplan": gp}
        for peer in args.peers.split(","):
            if peer:
                print(f"{name}: {peer} …", file=sys.stderr, flush=True)
                results[peer] = run_peer(peer, case, k, args.cap, args.cpu_cap)
                print(f"{name}: {peer}: {results[peer]}", file=sys.stderr, flush=True)
        summary[name] = results
        for method in ("gridplan", *[p for p in PEERS if p in results]):
            r = results[method]
            if r["status"] != "ok":
                rows.append([name, LABELS[method], r["status"], "", "", "", "", "", "", ""])
                continue
            rows.append(
                [
                    name,
                    LABELS[method],
                    f"{r['seconds']:.2f}",
                    f"{r['cpu']:.2f}",
                    r["grids"],
                    f"{100 * r['max_dev']:.1f} %",
                    f"{100 * r['within10']:.0f} %",
                    f"{100 * r['in_bounds']:.0f} %",
                    "yes" if r["contiguous"] else "no",
                    f"{r['pp']:.3f}",
                ]
            )
        print(
            json.dumps(
                {name: {m: {k2: v for k2, v in r.items()} for m, r in results.items()}}, default=str
            ),
            file=sys.stderr,
            flush=True,
        )
    if "city" in args.cases.split(","):
        full = full_city(args.repeat)
        if full is not None:
            rows.append(full[0])
            notes_after.append(full[1])
    ratios: list[str] = []
    for name, by_method in summary.items():
        gp_s = by_method["gridplan"]["seconds"]
        gp_c = by_method["gridplan"]["cpu"]
        for peer in PEERS:
            pr = by_method.get(peer)
            if pr is None:
                continue
            if pr["status"] == "ok":
                ratios.append(
                    f"- {name}: gridplan is {pr['seconds'] / gp_s:.0f}× faster than {LABELS[peer]} "
                    f"in wall time, {pr['cpu'] / gp_c:.0f}× in CPU time."
                )
            elif pr["status"].startswith("no result"):
                ratios.append(
                    f"- {name}: {LABELS[peer]} gave no result within the cap "
                    f"(≥ {args.cap / gp_s:.0f}× gridplan's time)."
                )
    body = "\n".join(
        [
            "Same graphs, one run. Times are medians of "
            f"{args.repeat} gridplan runs (end to end: faces, cells, split, local search, "
            "territories) against one run of each peer inside a subprocess killed after "
            f"{args.cap:.0f} s of wall time (peer times exclude imports and set-up). The machine "
            "is shared by several jobs, so wall times are inflated by an uneven amount; CPU "
            "time (this process only) is the fairer comparison. Deviation is from the "
            "400-household target; bounds 300–500; "
            "compactness is the mean Polsby–Popper of the grid territories.",
            "",
            *notes,
            "",
            table(
                [
                    "graph",
                    "method",
                    "wall time (s)",
                    "CPU time (s)",
                    "grids",
                    "max deviation",
                    "within ±10 %",
                    "within bounds",
                    "contiguous",
                    "Polsby–Popper",
                ],
                rows,
            ),
            "",
            *notes_after,
            *ratios,
        ]
    )
    cmd = "python benchmarks/bench_partition.py"
    if args.cap != 300:
        cmd += f" --cap {args.cap:.0f}"
    if args.no_write:
        print(body)
        return
    write_section("partition", "Grid partition (issue 9)", body, command=cmd)


if __name__ == "__main__":
    main()
