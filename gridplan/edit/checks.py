"""Live checks of hand-edited grids: what a planner sees at once after moving buildings.

For every grid a move touches: households against the bounds, contiguity (one polygon that
holds all its buildings), barrier crossings (its buildings on both sides of an arterial road,
river or railway), compactness (Polsby–Popper), the ten-household units that lose or gain a
building, the grid head who no longer lives in the grid, and life-circle coverage: the share of
the grid's households within each tier's walk minutes of each facility type, before and after
(from the plan's building-level ``coverage`` layer: a move recomputes shares without routing).
Contiguity and barriers are hard rules (a move that breaks one needs an explicit "accept
anyway" with a reason); households out of bounds are shown and logged but never block a move
(moving buildings one by one passes through such states).

The checks are computed here, independently of the re-plan engine that redrew the grids, so
that a grid the engine could not draw well is shown rather than trusted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.adjacency import barrier_lines, shared_length, split_faces

__all__ = ["HARD", "CheckContext", "check_grids", "neighbours", "polsby_popper"]

#: Kinds of violation that need an explicit "accept anyway" with a reason.
HARD: frozenset[str] = frozenset({"pieces", "outside", "barrier", "not_neighbour", "stray"})

#: Two grids are neighbours when their borders share at least this many metres.
NEIGHBOUR_MIN_M = 1.0


@dataclass
class CheckContext:
    """What the checks need besides the grids: bounds, barriers, units and grid heads.

    Attributes
    ----------
    min_households, max_households
        The grid bounds of the plan's settings.
    lines
        Barrier lines per community (metric CRS), as the partition cuts faces with.
    unit_of
        building_id -> units of the original plan holding it.
    heads
        grid_id -> person_id of its grid head in the original plan.
    home
        person_id -> building_id where the person lives (from the dataset's people).
    coverage_keys
        ``tier/category`` of each column of ``covered`` (the plan's coverage layer).
    covered
        building_id -> row of booleans: the building is within the tier's walk minutes of a
        facility of the category.
    """

    min_households: int
    max_households: int
    lines: dict[str, list[Any]] = field(default_factory=dict)
    unit_of: dict[str, list[str]] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    home: dict[str, str] = field(default_factory=dict)
    coverage_keys: list[str] = field(default_factory=list)
    covered: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        communities: gpd.GeoDataFrame,
        roads: gpd.GeoDataFrame | None,
        barriers: gpd.GeoDataFrame | None,
        barrier_road_classes: Iterable[str],
        min_households: int,
        max_households: int,
        unit_members: pd.DataFrame | None = None,
        assignments: pd.DataFrame | None = None,
        people: pd.DataFrame | None = None,
        coverage: pd.DataFrame | None = None,
    ) -> CheckContext:
        """The context of a plan: barrier lines cut once per community (metric CRS)."""
        lines: dict[str, list[Any]] = {}
        classes = list(barrier_road_classes)
        for cid, geom in zip(communities["community_id"], communities.geometry, strict=True):
            area = shapely.make_valid(geom)
            bl = barrier_lines(area, roads=roads, barriers=barriers, barrier_road_classes=classes)
            lines[str(cid)] = list(bl.geometry)
        unit_of: dict[str, list[str]] = {}
        if unit_members is not None and len(unit_members):
            for u, b in zip(unit_members["unit_id"], unit_members["building_id"], strict=True):
                unit_of.setdefault(str(b), [])
                if str(u) not in unit_of[str(b)]:
                    unit_of[str(b)].append(str(u))
        heads: dict[str, str] = {}
        if assignments is not None and len(assignments):
            a = assignments[assignments["role"] == "grid_head"]
            heads = {str(t): str(p) for t, p in zip(a["target_id"], a["person_id"], strict=True)}
        home: dict[str, str] = {}
        if people is not None and {"person_id", "building_id"} <= set(people.columns):
            home = {
                str(p): str(b)
                for p, b in zip(people["person_id"], people["building_id"], strict=True)
                if isinstance(b, str) and b
            }
        keys: list[str] = []
        covered: dict[str, np.ndarray] = {}
        if coverage is not None and len(coverage) and {"tier", "category"} <= set(coverage):
            c = pd.DataFrame(coverage)
            c = c.assign(key=c["tier"].astype(str) + "/" + c["category"].astype(str))
            wide = c.pivot_table(
                index="building_id", columns="key", values="covered", aggfunc="max"
            )
            wide = wide.reindex(columns=sorted(wide.columns, key=_tier_order)).fillna(False)
            keys = [str(k) for k in wide.columns]
            values = wide.to_numpy(dtype=bool)
            covered = {str(b): values[i] for i, b in enumerate(wide.index)}
        return cls(
            min_households=int(min_households),
            max_households=int(max_households),
            lines=lines,
            unit_of=unit_of,
            heads=heads,
            home=home,
            coverage_keys=keys,
            covered=covered,
        )


def _tier_order(key: str) -> tuple[int, str]:
    tier, _, cat = str(key).partition("/")
    minutes = tier.removesuffix("min")
    return (int(minutes) if minutes.isdigit() else 10**6, cat)


def _shares(cov: np.ndarray, hh: np.ndarray, mask: np.ndarray) -> list[float] | None:
    total = float(hh[mask].sum())
    if total <= 0:
        return None
    return [round(float(x), 4) for x in cov[mask].sum(axis=0) / total]


def polsby_popper(geom: shapely.Geometry) -> float:
    """Compactness 4πA/P² of a polygon: 1 for a circle, near 0 for a thin strip."""
    if geom is None or geom.is_empty or geom.length == 0:
        return 0.0
    return float(4 * math.pi * geom.area / geom.length**2)


def neighbours(grids: gpd.GeoDataFrame) -> dict[str, list[str]]:
    """grid_id -> grids of the same community whose borders it shares (metric CRS)."""
    ids = [str(g) for g in grids["grid_id"]]
    comm = [str(c) for c in grids["community_id"]]
    geoms = grids.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    out: dict[str, list[str]] = {g: [] for g in ids}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a == b or comm[a] != comm[b]:
            continue
        if shared_length(geoms[a], geoms[b]) >= NEIGHBOUR_MIN_M:
            out[ids[a]].append(ids[b])
    return {g: sorted(set(v)) for g, v in out.items()}


def _pieces(geom: shapely.Geometry) -> list[shapely.Geometry]:
    return [p for p in shapely.get_parts(geom) if p.area > 0]


def _barrier_sides(geom: shapely.Geometry, points: np.ndarray, lines: list[Any]) -> int:
    """In how many faces (cut by the barriers) the grid's buildings lie."""
    inner = shapely.buffer(geom, -1.0)  # lines along the border cut nothing off
    near = [ln for ln in lines if ln.intersects(inner)]
    if not near or len(points) == 0:
        return 1 if len(points) else 0
    faces: list[shapely.Geometry] = []
    for part in _pieces(geom):
        faces.extend(split_faces(part, near, where="edit check"))
    if len(faces) <= 1:
        return 1
    pts = shapely.points(points)
    face_of = np.full(len(points), -1)
    for i, f in enumerate(faces):
        shapely.prepare(f)
        face_of[(face_of < 0) & shapely.covers(f, pts)] = i
    return len(set(face_of[face_of >= 0].tolist()))


def check_grids(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    grid_ids: Iterable[str],
    ctx: CheckContext,
    *,
    before: Mapping[str, str],
    moves: Mapping[str, tuple[str, str]] | None = None,
    previous_neighbours: Mapping[str, list[str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The live checks of ``grid_ids`` in a drafted plan.

    Parameters
    ----------
    grids, buildings
        The drafted plan (metric CRS): grids with grid_id, community_id, households,
        geometry; buildings with building_id, grid_id, households, geometry.
    grid_ids
        The grids to check (those the edits touched).
    ctx
        Bounds, barriers, units and heads of the plan (:class:`CheckContext`).
    before
        building_id -> grid_id in the original plan (units and moves are counted from it).
    moves
        building_id -> (grid it left, grid it went to) for the move being checked: a move to
        a grid that did not border the building's grid is a hard violation.
    previous_neighbours
        Grid neighbours before the move (:func:`neighbours`), for that check.

    Returns
    -------
    dict
        grid_id -> ``households``, ``min``, ``max``, ``bounds`` (``ok``/``under``/``over``),
        ``pieces``, ``outside`` (its buildings its polygon misses), ``barrier_sides``,
        ``compactness``, ``moved_in``, ``moved_out``, ``units_affected``, ``head`` /
        ``head_outside`` (the head lived in the grid and no longer does), ``coverage``
        (``before``, ``after``: shares per ``ctx.coverage_keys``, ``changed``: a share moved
        by half a percentage point or more) and ``violations``.
    """
    g = grids.set_index(grids["grid_id"].astype(str))
    bid = buildings["building_id"].astype(str).to_numpy()
    gid = buildings["grid_id"].astype(str).to_numpy()
    grid_now = dict(zip(bid, gid, strict=True))
    hh_all = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()
    was_in = np.array([str(before.get(b)) for b in bid], dtype=object)
    cov = None
    if ctx.coverage_keys:
        none = np.zeros(len(ctx.coverage_keys), dtype=bool)
        cov = (
            np.array([ctx.covered.get(b, none) for b in bid], dtype=float).reshape(
                len(bid), len(ctx.coverage_keys)
            )
            * hh_all[:, None]
        )
    out: dict[str, dict[str, Any]] = {}
    for grid in sorted({str(x) for x in grid_ids}):
        mine = gid == grid
        moved_in = sorted(b for b in bid[mine] if before.get(b) not in (None, grid))
        moved_out = sorted(
            b for b, old in before.items() if old == grid and grid_now.get(b) != grid
        )
        row: dict[str, Any] = {
            "grid_id": grid,
            "min": ctx.min_households,
            "max": ctx.max_households,
            "moved_in": moved_in,
            "moved_out": moved_out,
            "violations": [],
        }
        units = sorted({u for b in moved_in + moved_out for u in ctx.unit_of.get(b, [])})
        row["units_affected"] = units
        head = ctx.heads.get(grid)
        row["head"] = head
        home = ctx.home.get(head) if head else None
        # the edits' doing only: a head who lived in the grid and no longer does (a head may
        # live elsewhere in the plan as drawn: grid heads are community cadres)
        row["head_outside"] = bool(
            head and home and before.get(home) == grid and grid_now.get(home) != grid
        )
        if cov is not None:
            cb, ca = _shares(cov, hh_all, was_in == grid), _shares(cov, hh_all, mine)
            row["coverage"] = {
                "before": cb,
                "after": ca,
                "changed": cb is None
                or ca is None
                or any(abs(x - y) >= 0.005 for x, y in zip(cb, ca, strict=True)),
            }
        if grid not in g.index:
            row.update(households=0, bounds="empty", pieces=0, outside=[], barrier_sides=0)
            row["compactness"] = 0.0
            row["violations"].append({"kind": "empty", "ids": [grid]})
            out[grid] = row
            continue
        geom = g.geometry[grid]
        hh = int(pd.to_numeric(buildings.loc[mine, "households"], errors="coerce").fillna(0).sum())
        row["households"] = hh
        row["bounds"] = (
            "under" if hh < ctx.min_households else "over" if hh > ctx.max_households else "ok"
        )
        if row["bounds"] != "ok":
            row["violations"].append({"kind": row["bounds"], "ids": [grid]})
        pieces = _pieces(geom)
        row["pieces"] = len(pieces)
        if len(pieces) > 1:
            row["violations"].append({"kind": "pieces", "ids": [grid]})
        geoms = buildings.geometry.to_numpy()[mine]
        cover = shapely.buffer(geom, 0.5)
        shapely.prepare(cover)
        pts = shapely.point_on_surface(geoms)
        outside = sorted(bid[mine][~shapely.covers(cover, pts)].tolist())
        row["outside"] = outside
        if outside:
            row["violations"].append({"kind": "outside", "ids": outside})
        comm = str(g["community_id"][grid])
        xy = shapely.get_coordinates(pts)
        row["barrier_sides"] = _barrier_sides(geom, xy, ctx.lines.get(comm, []))
        if row["barrier_sides"] > 1:
            row["violations"].append({"kind": "barrier", "ids": [grid]})
        row["compactness"] = round(polsby_popper(geom), 3)
        if moves and previous_neighbours is not None:
            far = sorted(
                b
                for b, (frm, to) in moves.items()
                if to == grid
                and frm != grid
                and grid in previous_neighbours  # a new grid (a split) borders its source
                and grid not in previous_neighbours.get(frm, [])
            )
            if far:
                row["violations"].append({"kind": "not_neighbour", "ids": far})
        if row["head_outside"]:
            row["violations"].append({"kind": "head", "ids": [head]})
        out[grid] = row
    return out
