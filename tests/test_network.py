"""Walk network: noding, walkability, snapping (fragments, barriers, far points), distances."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from gridplan._errors import DataError
from gridplan.network.distances import (
    distance_matrix,
    distance_to_nearest,
    nearest_source_distances,
)
from gridplan.network.graph import build_walk_network, walkable_mask
from gridplan.network.snapping import snap_points

CRS = "EPSG:32648"


def roads_of(lines, classes=None, walkable=None):
    data = {"road_class": classes or ["residential"] * len(lines)}
    if walkable is not None:
        data["walkable"] = pd.array(walkable, dtype="boolean")
    return gpd.GeoDataFrame(data, geometry=lines, crs=CRS)


def points(*xy):
    return gpd.GeoSeries([Point(x, y) for x, y in xy], crs=CRS)


def test_crossing_lines_are_noded():
    net = build_walk_network(
        roads_of([LineString([(0, 0), (200, 0)]), LineString([(100, -50), (100, 50)])])
    )
    assert net.n_nodes == 5
    assert net.n_edges == 4
    assert sorted(net.edge_length.round(6)) == [50, 50, 100, 100]
    assert net.graph.number_of_edges() == 4
    # nodes are numbered by x then y: (0,0) (100,-50) (100,0) (100,50) (200,0)
    assert net.xy.tolist() == [[0, 0], [100, -50], [100, 0], [100, 50], [200, 0]]
    assert nx.shortest_path_length(net.graph, 0, 3, weight="length_m") == pytest.approx(150)
    assert nx.shortest_path_length(net.graph, 1, 4, weight="length_m") == pytest.approx(150)


def test_t_junction_and_shared_vertex_are_joined():
    # the second line ends on the first's interior; the third shares a vertex of the first
    lines = [
        LineString([(0, 0), (100, 0), (200, 0)]),
        LineString([(50, 80), (50, 0)]),
        LineString([(100, 0), (100, -70)]),
    ]
    net = build_walk_network(roads_of(lines))
    assert net.n_nodes == 6
    assert len(set(net.component.tolist())) == 1


def test_walkable_classes_and_overrides():
    lines = [LineString([(0, i * 10), (100, i * 10)]) for i in range(4)]
    roads = roads_of(
        lines,
        classes=["motorway", "motorway", "residential", "trunk"],
        walkable=[None, True, False, None],
    )
    assert walkable_mask(roads).tolist() == [False, True, False, False]
    net = build_walk_network(roads)
    assert net.n_edges == 1
    assert net.edge_road_class.tolist() == ["motorway"]


def test_geographic_crs_is_refused():
    roads = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (0.01, 0)])], crs="EPSG:4326")
    with pytest.raises(DataError, match="roads"):
        build_walk_network(roads)


def test_empty_network_leaves_everything_unreachable():
    net = build_walk_network(roads_of([LineString([(0, 0), (100, 0)])], classes=["motorway"]))
    assert net.n_nodes == 0
    snap = snap_points(net, points((10, 10)))
    assert not snap.reachable.any()


def test_node_numbering_does_not_depend_on_row_order():
    lines = [
        LineString([(0, 0), (200, 0)]),
        LineString([(100, -50), (100, 50)]),
        LineString([(200, 0), (200, 100)]),
    ]
    a = build_walk_network(roads_of(lines))
    b = build_walk_network(roads_of(lines[::-1]))
    assert np.array_equal(a.xy, b.xy)
    assert np.array_equal(a.edge_u, b.edge_u) or np.array_equal(
        np.sort(np.c_[a.edge_u, a.edge_v], axis=1), np.sort(np.c_[b.edge_u, b.edge_v], axis=1)
    )
    assert np.allclose(np.sort(a.edge_length), np.sort(b.edge_length))


def test_snap_offsets_by_hand():
    net = build_walk_network(roads_of([LineString([(0, 0), (100, 0)])]))
    snap = snap_points(net, points((30, 10)))
    assert snap.access_m[0] == pytest.approx(10)
    assert snap.along_m[0] == pytest.approx(30)
    assert snap.offset_u[0] == pytest.approx(40)
    assert snap.offset_v[0] == pytest.approx(80)


def test_fragment_is_avoided_when_main_network_is_within_reach():
    main = [LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (1000, 1000)])]
    fragment = [LineString([(0, 60), (50, 60)])]  # a short isolated lane
    net = build_walk_network(roads_of(main + fragment))
    snap = snap_points(net, points((20, 50)), max_access_m=100)
    # the fragment is 10 m away, the main road 50 m: the main road wins
    assert snap.reachable[0]
    assert snap.component[0] == net.main_component
    assert snap.access_m[0] == pytest.approx(50)
    assert snap.moved[0]
    # with the main road out of reach, the fragment is still better than nothing
    far = snap_points(net, points((20, 50)), max_access_m=30)
    assert far.reachable[0]
    assert far.component[0] != net.main_component


def test_point_beyond_max_access_is_unreachable():
    net = build_walk_network(roads_of([LineString([(0, 0), (100, 0)])]))
    snap = snap_points(net, points((50, 600), (50, 400)), max_access_m=500)
    assert snap.reachable.tolist() == [False, True]
    assert snap.access_m[0] == pytest.approx(600)
    assert np.isinf(snap.offset_u[0])


def river_town():
    """Two banks (y=0 south, y=100 north), a river between y=40 and y=60, one bridge at x=500."""
    lines = [
        LineString([(0, 0), (1000, 0)]),
        LineString([(0, 100), (1000, 100)]),
        LineString([(500, 0), (500, 100)]),  # the bridge
    ]
    river = gpd.GeoDataFrame(
        {"kind": ["river"]},
        geometry=[Polygon([(-100, 40), (1100, 40), (1100, 60), (-100, 60)])],
        crs=CRS,
    )
    return build_walk_network(roads_of(lines), barriers=river)


def test_river_is_crossed_only_on_the_bridge():
    net = river_town()
    # the building stands on the north bank just above the river: the south road is nearer
    # (35 m across the water) than the north road (45 m) but it may not join across
    bld = snap_points(net, points((100, 65)))
    assert bld.reachable[0]
    assert bld.access_m[0] == pytest.approx(35)
    assert net.xy[bld.node_u[0]][1] == pytest.approx(100)
    fac = snap_points(net, points((100, -10)))  # south bank, 10 m below the south road
    d = distance_to_nearest(net, fac, bld)
    # 10 access + 400 east + 100 bridge + 400 west + 35 access
    assert d[0] == pytest.approx(945)


def test_without_barriers_the_point_joins_across():
    lines = [LineString([(0, 0), (1000, 0)]), LineString([(0, 100), (1000, 100)])]
    net = build_walk_network(roads_of(lines))
    snap = snap_points(net, points((100, 35)))
    assert snap.access_m[0] == pytest.approx(35)
    assert net.xy[snap.node_u[0]][1] == pytest.approx(0)


def test_same_edge_walk_is_direct():
    net = build_walk_network(roads_of([LineString([(0, 0), (1000, 0)])]))
    a = snap_points(net, points((400, 5)))
    b = snap_points(net, points((450, 10)))
    assert distance_to_nearest(net, a, b)[0] == pytest.approx(65)
    assert distance_matrix(net, a, b)[0, 0] == pytest.approx(65)


def test_distance_fn_for_staffing():
    net = build_walk_network(roads_of([LineString([(0, 0), (1000, 0)])]))
    d = net.distance_fn(np.array([[0.0, 10.0]]), np.array([[100.0, 10.0], [0.0, 9000.0]]))
    assert d.shape == (1, 2)
    assert d[0, 0] == pytest.approx(120)
    assert np.isinf(d[0, 1])


def _reference(net, src, tgt):
    """Independent networkx Dijkstra on a multigraph whose edges are split at the points."""
    g = nx.MultiGraph()
    on_edge: dict[int, list] = {}
    for kind, snap in (("s", src), ("t", tgt)):
        for i in np.flatnonzero(snap.reachable):
            on_edge.setdefault(int(snap.edge[i]), []).append((float(snap.along_m[i]), kind, i))
    for e in range(net.n_edges):
        prev: object = int(net.edge_u[e])
        pa = 0.0
        for a, kind, i in sorted(on_edge.get(e, [])):
            g.add_edge(prev, (kind, i), w=a - pa)
            prev, pa = (kind, i), a
        g.add_edge(prev, int(net.edge_v[e]), w=float(net.edge_length[e]) - pa)
    g.add_node("S")
    for i in np.flatnonzero(src.reachable):
        g.add_edge("S", ("s", i), w=float(src.access_m[i]))
    dist = nx.single_source_dijkstra_path_length(g, "S", weight="w")
    out = np.full(len(tgt.edge), np.inf)
    for i in np.flatnonzero(tgt.reachable):
        out[i] = dist.get(("t", i), np.inf) + tgt.access_m[i]
    return out


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    drop=st.floats(0.0, 0.5),
    n_src=st.integers(1, 4),
)
def test_distances_match_networkx(seed, drop, n_src):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(6):
        for j in range(6):
            if i < 5 and rng.random() > drop:
                lines.append(LineString([(i * 80, j * 80), ((i + 1) * 80, j * 80)]))
            if j < 5 and rng.random() > drop:
                lines.append(LineString([(i * 80, j * 80), (i * 80, (j + 1) * 80)]))
    if not lines:
        return
    net = build_walk_network(roads_of(lines))
    xy = rng.uniform(-20, 420, size=(20 + n_src, 2))
    src = snap_points(net, points(*map(tuple, xy[:n_src])), max_access_m=60)
    tgt = snap_points(net, points(*map(tuple, xy[n_src:])), max_access_m=60)
    got = distance_to_nearest(net, src, tgt)
    want = _reference(net, src, tgt)
    assert np.array_equal(np.isfinite(got), np.isfinite(want))
    fin = np.isfinite(want)
    assert np.allclose(got[fin], want[fin], atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), drop=st.floats(0.0, 0.5))
def test_grouped_search_equals_one_search_per_group(seed, drop):
    rng = np.random.default_rng(seed)
    lines = [
        LineString([(i * 80, j * 80), ((i + 1) * 80, j * 80)])
        for i in range(5)
        for j in range(6)
        if rng.random() > drop
    ] + [
        LineString([(i * 80, j * 80), (i * 80, (j + 1) * 80)])
        for i in range(6)
        for j in range(5)
        if rng.random() > drop
    ]
    if not lines:
        return
    net = build_walk_network(roads_of(lines))
    xy = rng.uniform(-20, 420, size=(40, 2))
    tgt = snap_points(net, points(*map(tuple, xy[:30])), max_access_m=60)
    groups = [
        snap_points(net, points(*map(tuple, xy[lo:hi])), max_access_m=60)
        for lo, hi in ((30, 33), (33, 34), (34, 40), (40, 40))
    ]
    limits = [150.0, 400.0, 150.0, 300.0]
    got = nearest_source_distances(net, groups, tgt, limits=limits)
    assert got.shape == (4, 30)
    for g, lim in enumerate(limits):
        want = distance_to_nearest(net, groups[g], tgt, limit=lim)
        assert np.array_equal(got[g], want)


def test_a_wall_line_keeps_a_point_on_its_side():
    roads = roads_of([LineString([(0, 0), (1000, 0)]), LineString([(0, 100), (1000, 100)])])
    wall = gpd.GeoDataFrame(
        {"kind": ["wall"]}, geometry=[LineString([(-100, 40), (1100, 40)])], crs=CRS
    )
    pt = points((500, 45), (500, 30))
    walled = snap_points(build_walk_network(roads, barriers=wall), pt, max_access_m=80)
    open_ = snap_points(build_walk_network(roads), pt, max_access_m=80)
    assert open_.access_m[0] == pytest.approx(45)
    assert walled.access_m[0] == pytest.approx(55)
    assert bool(walled.moved[0]) and not bool(open_.moved[0])
    assert walled.access_m[1] == pytest.approx(30)  # on the near side: unaffected


_lattice_line = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=2, max_size=3, unique=True
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_lattice_line, min_size=2, max_size=6))
def test_noding_matches_a_full_overlay(raw):
    # lines on a coarse lattice cross, touch, end on each other and overlap in every way
    lines = [LineString([(10.0 * x, 10.0 * y) for x, y in pts]) for pts in raw]
    lines = [g for g in lines if g.is_simple and g.length > 0]
    if len(lines) < 2:
        return
    net = build_walk_network(roads_of(lines))
    ref_parts = shapely.get_parts(shapely.union_all(lines, grid_size=0.01))
    ref = nx.Graph()
    for part in ref_parts:
        xy = np.asarray(part.coords)
        a, b = tuple(xy[0].round(2)), tuple(xy[-1].round(2))
        w = min(part.length, ref.edges[a, b]["w"]) if ref.has_edge(a, b) else part.length
        ref.add_edge(a, b, w=w)
    nodes = {tuple(p) for p in net.xy.round(2).tolist()}
    assert nodes == set(ref.nodes)
    ours = nx.Graph()
    for u, v, w in zip(net.edge_u, net.edge_v, net.edge_length, strict=True):
        a, b = tuple(net.xy[u].round(2)), tuple(net.xy[v].round(2))
        w = min(w, ours.edges[a, b]["w"]) if ours.has_edge(a, b) else w
        ours.add_edge(a, b, w=w)
    got = dict(nx.all_pairs_dijkstra_path_length(ours, weight="w"))
    want = dict(nx.all_pairs_dijkstra_path_length(ref, weight="w"))
    for a, row in want.items():
        for b, d in row.items():
            assert got[a][b] == pytest.approx(d, abs=1e-6)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), spread=st.sampled_from([5.0, 60.0, 400.0]))
def test_nearest_edge_is_exact_and_lowest_on_ties(seed, spread):
    from gridplan.network.snapping import _nearest

    rng = np.random.default_rng(seed)
    grid = [LineString([(0, y), (300, y)]) for y in (0, 100, 200)]
    grid += [LineString([(x, 0), (x, 200)]) for x in (0, 150, 300)]
    grid.append(LineString([(20, 20), (90, 60), (140, 180), (280, 150)]))  # a bent street
    net = build_walk_network(roads_of(grid))
    xy = rng.uniform(-spread, 300 + spread, size=(120, 2))
    xy[:20] = net.xy[rng.integers(0, net.n_nodes, 20)]  # on junctions: ties between edges
    pts = shapely.points(xy)
    edge, dist, along = _nearest(net, pts, 300.0)
    every = shapely.distance(pts[:, None], net.edge_geometry[None, :])
    best = every.min(axis=1)
    assert np.allclose(dist, best, atol=1e-9)
    tie = every <= best[:, None] + 1e-9 * np.maximum(best[:, None], 1.0)
    assert (edge == tie.argmax(axis=1)).all()
    located = shapely.line_locate_point(net.edge_geometry[edge], pts)
    assert np.allclose(along, located, atol=1e-6)
