"""Tests for gridplan.adjacency: faces, barrier lines, territory cells and their graph."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon, box

from gridplan.adjacency import (
    barrier_lines,
    barrier_strength,
    cell_graph,
    connected_components,
    face_neighbours,
    split_faces,
)

CRS = "EPSG:32648"


def test_split_faces_by_crossing_line_and_dangling_line() -> None:
    area = box(0, 0, 100, 50)
    faces = split_faces(area, [LineString([(50, -10), (50, 60)])])
    assert len(faces) == 2
    assert abs(sum(f.area for f in faces) - area.area) < 1e-6
    # sorted west to east within the same band
    assert faces[0].centroid.x < faces[1].centroid.x
    assert len(split_faces(area, [LineString([(50, -10), (50, 25)])])) == 1


def test_barrier_lines_keep_barrier_classes_and_barriers_only() -> None:
    area = box(0, 0, 100, 100)
    roads = gpd.GeoDataFrame(
        {"road_class": ["primary", "residential", "trunk"]},
        geometry=[
            LineString([(0, 50), (100, 50)]),
            LineString([(50, 0), (50, 100)]),
            LineString([(200, 0), (200, 100)]),  # outside the area
        ],
        crs=CRS,
    )
    rivers = gpd.GeoDataFrame({"kind": ["river"]}, geometry=[box(20, -5, 30, 105)], crs=CRS)
    lines = barrier_lines(area, roads=roads, barriers=rivers)
    assert sorted(set(lines["kind"])) == ["primary", "river"]
    assert (lines.geometry.length > 0).all()
    assert barrier_strength("river") > barrier_strength("primary", is_road=True)
    faces = split_faces(area, list(lines.geometry))
    # primary road splits twice the river's two banks: 3 columns x 2 rows
    assert len(faces) == 6
    neigh = face_neighbours(faces, lines)
    kinds = {kind for _, _, kind in neigh.values()}
    assert {"primary", "river"} <= kinds


def test_empty_barriers_give_the_area() -> None:
    area = box(0, 0, 10, 10)
    lines = barrier_lines(area)
    assert len(lines) == 0
    faces = split_faces(area, [])
    assert len(faces) == 1 and faces[0].equals(area)


def test_cell_graph_single_and_pair() -> None:
    area = box(0, 0, 20, 10)
    cells, edges, lengths = cell_graph(area, np.array([[5.0, 5.0]]))
    assert cells == [area] and len(edges) == 0
    cells, edges, lengths = cell_graph(area, np.array([[5.0, 5.0], [15.0, 5.0]]))
    assert edges.tolist() == [[0, 1]]
    assert abs(lengths[0] - 10.0) < 1e-9


def test_cell_graph_concave_area_gives_one_polygon_per_site() -> None:
    # a U shape: Voronoi cells of sites in one arm reach across the gap into the other arm
    u = Polygon([(0, 0), (100, 0), (100, 100), (70, 100), (70, 20), (30, 20), (30, 100), (0, 100)])
    pts = np.array([[15.0, 90.0], [85.0, 90.0], [50.0, 10.0], [15.0, 30.0], [85.0, 30.0]])
    cells, edges, _ = cell_graph(u, pts)
    assert all(c.geom_type == "Polygon" for c in cells)
    assert abs(sum(c.area for c in cells) - u.area) < 1e-6
    for i, c in enumerate(cells):
        assert c.covers(shapely.Point(pts[i]))
    adj: list[list[int]] = [[] for _ in range(len(pts))]
    for i, j in edges.tolist():
        adj[i].append(j)
        adj[j].append(i)
    # the two arm tips are not adjacent (the gap separates them)
    assert 1 not in adj[0]
    assert len(connected_components(range(len(pts)), adj)) == 1


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-20, 220), st.floats(-20, 120)), min_size=1, max_size=60))
def test_cells_tile_the_area(points: list[tuple[float, float]]) -> None:
    area = Polygon(
        [(0, 0), (200, 0), (200, 100), (120, 100), (120, 40), (60, 40), (60, 100), (0, 100)]
    )
    pts = np.array(points, dtype=float)
    cells, edges, lengths = cell_graph(area, pts)
    assert len(cells) == len(pts)
    assert all(c.geom_type == "Polygon" and c.area > 0 for c in cells)
    assert abs(sum(c.area for c in cells) - area.area) < 1e-6 * area.area
    assert shapely.union_all(cells).symmetric_difference(area).area < 1e-6 * area.area
    assert (edges[:, 0] < edges[:, 1]).all() if len(edges) else True
    assert (lengths > 0).all()
    adj: list[list[int]] = [[] for _ in range(len(pts))]
    for i, j in edges.tolist():
        adj[i].append(j)
        adj[j].append(i)
    # cells tile a connected polygon, so the cell graph is connected
    assert len(connected_components(range(len(pts)), adj)) == 1
