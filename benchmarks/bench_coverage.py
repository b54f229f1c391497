"""Coverage: correctness against networkx, speed against pandana, networkx and bare SciPy.

Correctness: on the ``town`` sample, every residential building's minutes to every tier
category must agree to 1 m of walking with an independent networkx Dijkstra on a multigraph
built from the same edges, each building and facility inserted as a node splitting its edge
(access distance on a spoke). Minutes beyond the search bound must be ``NaN`` exactly where the
reference is beyond it.

Speed, same network and facilities, one run (medians of ``--repeat`` for the fast methods):

- gridplan end to end: ``build_walk_network(roads)`` (noding raw road lines) plus
  ``compute_coverage`` (snapping, one bounded search per category, tables);
- gridplan search phase alone, against a bare ``scipy.sparse.csgraph.dijkstra(min_only=True,
  limit=...)`` per category from the facilities' nearest nodes over the same CSR matrix;
- networkx ``multi_source_dijkstra_path_length`` with the same cutoff per category (graph build
  reported apart);
- pandana: ``Network`` from the already-noded node and edge tables (its contraction hierarchy
  included), ``get_node_ids`` for buildings, ``set_pois`` + ``nearest_pois`` per category. It runs
  in a subprocess killed after ``--cap`` seconds. pandana gets the noding for free and snaps to
  nodes only (no access distance), so the comparison favours it.

Cases: the ``city`` sample and a synthetic ~100 000-node walk network (a jittered 316 × 316
street grid, 80 m blocks, 12 % of segments missing, a mix of road classes) with 50 000
buildings and 1 200 facilities.

Run: ``.venv/bin/python benchmarks/bench_coverage.py [--repeat 3] [--cap 900] [--quick]``.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK_DIR, table, timed, write_section

from gridplan.access.coverage import compute_coverage, residential_buildings
from gridplan.network.graph import WalkNetwork, build_walk_network
from gridplan.network.snapping import snap_points
from gridplan.settings import DEFAULT

CRS = "EPSG:32648"
SPEED = DEFAULT.coverage.speed_m_per_min
FACTOR = 2.0  # compute_coverage's default search bound: twice the tier distance


# --------------------------------------------------------------------------- data


def load_sample(scale: str) -> dict[str, Any] | None:
    """Prepared layers of a bundled sample, or ``None`` when the generator is missing."""
    try:
        from gridplan.io.load import load_dataset
        from gridplan.sample.generate import write_sample
    except ImportError:
        return None
    root = Path(__file__).resolve().parent.parent
    path = root / "data" / "town" if scale == "town" else WORK_DIR / scale
    if not (path / "buildings.geojson").exists():
        path = WORK_DIR / f"coverage_{scale}"
        if not (path / "buildings.geojson").exists():
            write_sample(path, scale, seed=0, overwrite=True)
    ds = load_dataset(path)
    return {k: ds.layer(k) for k in ("roads", "barriers", "buildings", "facilities", "sites")}


def synthetic_city(
    side: int = 316, step: float = 80.0, n_bld: int = 50_000, n_fac: int = 1200, seed: int = 1
) -> dict[str, Any]:
    """A jittered street grid of about ``side**2`` nodes with buildings and facilities."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(side) * step, np.arange(side) * step, indexing="ij")
    p = np.stack([gx, gy], -1) + rng.normal(0, 8, size=(side, side, 2))
    a = np.concatenate([p[:-1].reshape(-1, 2), p[:, :-1].reshape(-1, 2)])
    b = np.concatenate([p[1:].reshape(-1, 2), p[:, 1:].reshape(-1, 2)])
    keep = rng.random(len(a)) > 0.12
    lines = shapely.linestrings(np.stack([a[keep], b[keep]], 1))
    classes = rng.choice(
        ["residential", "footway", "service", "primary", "motorway"],
        len(lines),
        p=[0.5, 0.2, 0.2, 0.08, 0.02],
    )
    roads = gpd.GeoDataFrame({"road_class": classes}, geometry=lines, crs=CRS)
    w = (side - 1) * step
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"B{i:06d}" for i in range(n_bld)],
            "households": rng.integers(1, 80, n_bld),
        },
        geometry=shapely.points(rng.uniform(0, w, n_bld), rng.uniform(0, w, n_bld)),
        crs=CRS,
    )
    cats = [c for cs in DEFAULT.coverage.tiers.values() for c in cs]
    facilities = gpd.GeoDataFrame(
        {"facility_id": [f"F{i:05d}" for i in range(n_fac)], "category": rng.choice(cats, n_fac)},
        geometry=shapely.points(rng.uniform(0, w, n_fac), rng.uniform(0, w, n_fac)),
        crs=CRS,
    )
    return {"roads": roads, "barriers": None, "buildings": buildings, "facilities": facilities}


def category_limits() -> dict[str, float]:
    lim: dict[str, float] = {}
    for t, cats in DEFAULT.coverage.tiers.items():
        for c in cats:
            lim[c] = max(lim.get(c, 0.0), t * SPEED * FACTOR)
    return lim


# --------------------------------------------------------------------------- correctness


def reference_distances(net: WalkNetwork, fsnap: Any, bsnap: Any) -> np.ndarray:
    """Independent networkx Dijkstra: edges split at every point, access on a spoke."""
    g = nx.MultiGraph()
    on_edge: dict[int, list[tuple[float, str, int]]] = {}
    for kind, snap in (("f", fsnap), ("b", bsnap)):
        for i in np.flatnonzero(snap.reachable).tolist():
            on_edge.setdefault(int(snap.edge[i]), []).append((float(snap.along_m[i]), kind, i))
    for e in range(net.n_edges):
        prev: Any = int(net.edge_u[e])
        pa = 0.0
        for a, kind, j in sorted(on_edge.get(e, [])):
            g.add_edge(prev, (kind, j), w=a - pa)
            prev, pa = (kind, j), a
        g.add_edge(prev, int(net.edge_v[e]), w=float(net.edge_length[e]) - pa)
    g.add_node("S")
    for i in np.flatnonzero(fsnap.reachable).tolist():
        g.add_edge("S", ("f", i), w=float(fsnap.access_m[i]))
    dist = nx.single_source_dijkstra_path_length(g, "S", weight="w")
    out = np.full(len(bsnap.edge), np.inf)
    for i in np.flatnonzero(bsnap.reachable).tolist():
        out[i] = dist.get(("b", i), np.inf) + bsnap.access_m[i]
    return out


def correctness(layers: dict[str, Any], name: str) -> list[Any]:
    net = build_walk_network(layers["roads"], barriers=layers["barriers"])
    cov = compute_coverage(layers["buildings"], layers["facilities"], net)
    res = residential_buildings(layers["buildings"])
    bsnap = snap_points(net, res.geometry)
    fac = layers["facilities"].sort_values("facility_id")
    lim = category_limits()
    worst = 0.0
    n_cmp = 0
    nan_ok = True
    for c, limit in lim.items():
        sel = (fac["category"] == c).to_numpy()
        if not sel.any():
            continue
        fsnap = snap_points(net, fac.geometry[sel])
        ref = reference_distances(net, fsnap, bsnap)
        rows = cov.coverage[cov.coverage["category"] == c].drop_duplicates("building_id")
        got = rows.set_index("building_id")["minutes"].reindex(res["building_id"]).to_numpy()
        inside = ref <= limit - 1e-6
        worst = max(worst, float(np.nanmax(np.abs(got[inside] * SPEED - ref[inside]), initial=0.0)))
        n_cmp += int(inside.sum())
        nan_ok &= bool(np.isnan(got[ref > limit + 1e-6]).all())
    return [name, len(res), n_cmp, f"{worst:.2e}", "yes" if worst <= 1.0 and nan_ok else "NO"]


# --------------------------------------------------------------------------- speed


def _nearest_nodes(net: WalkNetwork, pts: gpd.GeoSeries) -> np.ndarray:
    snap = snap_points(net, pts)
    r = snap.reachable
    nodes = np.where(snap.offset_u <= snap.offset_v, snap.node_u, snap.node_v)
    return np.asarray(nodes[r])


def run_pandana(payload: Path) -> float:
    """Runs inside the subprocess: build, snap buildings to nodes, nearest POI per category."""
    import pandana

    with payload.open("rb") as fh:
        d = pickle.load(fh)
    t0 = time.perf_counter()
    net = pandana.Network(
        pd.Series(d["x"]),
        pd.Series(d["y"]),
        pd.Series(d["u"]),
        pd.Series(d["v"]),
        pd.DataFrame({"w": d["w"]}),
        twoway=True,
    )
    net.get_node_ids(pd.Series(d["bx"]), pd.Series(d["by"]))
    for c, (fx, fy, limit) in d["pois"].items():
        net.set_pois(c, limit, 1, pd.Series(fx), pd.Series(fy))
        net.nearest_pois(limit, c, num_pois=1)
    return time.perf_counter() - t0


def speed(layers: dict[str, Any], name: str, repeat: int, cap: float) -> dict[str, Any]:
    roads, barriers = layers["roads"], layers["barriers"]
    bld, fac = layers["buildings"], layers["facilities"]

    def ours() -> Any:
        net = build_walk_network(roads, barriers=barriers)
        return net, compute_coverage(bld, fac, net)

    t_ours, (net, _) = timed(ours, repeat=repeat)
    # the same start as pandana: the already-noded edges (nothing left to node)
    noded = gpd.GeoDataFrame(
        {"road_class": net.edge_road_class}, geometry=net.edge_geometry, crs=roads.crs
    )

    def ours_noded() -> Any:
        net2 = build_walk_network(noded, barriers=barriers)
        return compute_coverage(bld, fac, net2)

    t_noded, _ = timed(ours_noded, repeat=repeat)
    t_build, _ = timed(lambda: build_walk_network(roads, barriers=barriers), repeat=repeat)
    t_cov, _ = timed(lambda: compute_coverage(bld, fac, net), repeat=repeat)
    searches = []
    for _ in range(repeat):
        searches.append(compute_coverage(bld, fac, net).metrics["seconds"]["search"])
    t_search = float(np.median(searches))
    lim = category_limits()
    fac_nodes = {
        c: _nearest_nodes(net, fac.geometry[(fac["category"] == c).to_numpy()]) for c in lim
    }

    def bare() -> None:
        for c, limit in lim.items():
            if len(fac_nodes[c]):
                dijkstra(net.csr, indices=fac_nodes[c], min_only=True, limit=limit)

    t_bare, _ = timed(bare, repeat=repeat)
    t_graph, g = timed(lambda: WalkNetwork.graph.func(net), repeat=1)  # type: ignore[attr-defined]

    def nx_run() -> None:
        for c, limit in lim.items():
            if len(fac_nodes[c]):
                nx.multi_source_dijkstra_path_length(
                    g, set(fac_nodes[c].tolist()), cutoff=limit, weight="length_m"
                )

    t_nx, _ = timed(nx_run, repeat=1)
    # pandana in a subprocess with a cap
    e = net.edges_frame()
    e = e[e["u"] != e["v"]]
    res = residential_buildings(bld)
    pois = {}
    for c, limit in lim.items():
        f = fac[fac["category"] == c]
        if len(f):
            pois[c] = (f.geometry.x.to_numpy(), f.geometry.y.to_numpy(), limit)
    payload = WORK_DIR / f"coverage_pandana_{name.replace(' ', '_')}.pkl"
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with payload.open("wb") as fh:
        pickle.dump(
            {
                "x": net.xy[:, 0],
                "y": net.xy[:, 1],
                "u": e["u"].to_numpy(),
                "v": e["v"].to_numpy(),
                "w": e["length_m"].to_numpy(),
                "bx": res.geometry.x.to_numpy(),
                "by": res.geometry.y.to_numpy(),
                "pois": pois,
            },
            fh,
        )
    try:
        runs = repeat if net.n_nodes < 20_000 else 1
        out = subprocess.run(
            [sys.executable, __file__, "--pandana", str(payload), "--repeat", str(runs)],
            capture_output=True,
            text=True,
            timeout=cap,
            check=True,
        )
        t_pandana: float | None = float(out.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        t_pandana = None
    finally:
        payload.unlink(missing_ok=True)
    return {
        "name": name,
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "buildings": len(res),
        "facilities": len(fac),
        "ours": t_ours,
        "ours_noded": t_noded,
        "pandana_runs": runs,
        "build": t_build,
        "coverage": t_cov,
        "search": t_search,
        "bare": t_bare,
        "nx_graph": t_graph,
        "nx": t_nx,
        "pandana": t_pandana,
        "cap": cap,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cap", type=float, default=900.0)
    ap.add_argument("--quick", action="store_true", help="skip the 100 000-node case")
    ap.add_argument("--pandana", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.pandana:
        print(float(np.median([run_pandana(args.pandana) for _ in range(args.repeat)])))
        return

    town = load_sample("town")
    city = load_sample("city")
    corr_rows = []
    if town is not None:
        corr_rows.append(correctness(town, "town sample"))
    corr_rows.append(correctness(synthetic_city(side=60, n_bld=3000, n_fac=150), "synthetic 60×60"))
    cases = []
    if city is not None:
        cases.append(speed(city, "city sample", args.repeat, args.cap))
    if not args.quick:
        cases.append(speed(synthetic_city(), "synthetic 100k", args.repeat, args.cap))

    rows = []
    for r in cases:
        pd_t = r["pandana"]
        rows.append(
            [
                r["name"],
                f"{r['nodes']:,}",
                f"{r['buildings']:,}",
                r["facilities"],
                r["ours"],
                r["build"],
                r["coverage"],
                r["search"],
                r["bare"],
                r["search"] / r["bare"],
                r["nx_graph"],
                r["nx"],
                r["ours_noded"],
                pd_t if pd_t is not None else f"> {r['cap']:.0f}",
                (pd_t / r["ours"]) if pd_t is not None else f"> {r['cap'] / r['ours']:.0f}",
                (pd_t / r["ours_noded"])
                if pd_t is not None
                else f"> {r['cap'] / r['ours_noded']:.0f}",
            ]
        )
    body = (
        "Correctness: minutes × speed against an independent networkx Dijkstra (edges split at "
        "every building and facility), every residential building × category within the "
        "search bound; NaN beyond it.\n\n"
        + table(
            ["case", "buildings", "building × category compared", "max abs Δ (m)", "≤ 1 m"],
            corr_rows,
        )
        + "\n\nSpeed (seconds; medians of "
        f"{args.repeat}, networkx one run, pandana one run on the 100k network). *gridplan e2e* "
        "= noding raw road lines + `compute_coverage` (snapping with access distances, 14 "
        "category searches, tables); *from noded* = the same from the already-noded edges, "
        "pandana's input; *search* = gridplan's category searches alone; *bare* = "
        "`csgraph.dijkstra(min_only=True, limit)` per category from the facilities' nearest "
        "nodes; pandana = `Network` (from noded tables, contraction hierarchy included) + "
        "`get_node_ids` + `set_pois`/`nearest_pois` per category, in a subprocess.\n\n"
        + table(
            [
                "case",
                "nodes",
                "buildings",
                "facilities",
                "gridplan e2e",
                "build",
                "coverage",
                "search",
                "bare scipy",
                "search / bare",
                "nx graph",
                "networkx",
                "gridplan from noded",
                "pandana",
                "pandana / gridplan e2e",
                "pandana / gridplan from noded",
            ],
            rows,
        )
    )
    path = write_section(
        "coverage",
        "Coverage: network walking minutes",
        body,
        command=".venv/bin/python benchmarks/bench_coverage.py",
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
