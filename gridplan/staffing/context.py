"""Shared state and input preparation for :mod:`gridplan.staffing.assign` (private).

:class:`Ctx` holds the roster as arrays (sorted by person id), the grids, the distance
function and the posts given so far; the helpers normalise roster columns and compute
person-to-grid distances (straight line to the polygon, or along the walk network).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import ConfigError, DataError
from gridplan.settings import Config
from gridplan.staffing.common import SolveInfo

if TYPE_CHECKING:
    from gridplan.network.graph import WalkNetwork
    from gridplan.network.snapping import SnapResult

#: ``distance_fn(origins_xy, targets_xy)`` -> ``(n_origins, n_targets)`` metres (inf: no path).
DistanceFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

GRID_ROLES = frozenset({"grid_head", "grid_worker"})
TIER = 100_000  # cost step between preference tiers (larger than any distance in metres)
_ROLE_WORDS = {
    "grid_head": "grid head",
    "grid_worker_full": "full-time grid worker",
    "grid_worker_part": "part-time grid worker",
    "unit_head": "unit head",
    "building_head": "building head",
    "volunteer": "volunteer",
}


def _m(value: float) -> str:
    """Metres as the planner writes them: ``1 500``."""
    return f"{value:,.0f}".replace(",", " ")


def require(df: pd.DataFrame | None, layer: str, cols: tuple[str, ...]) -> None:
    if df is None:
        msg = f"assign_staff: the {layer} layer is missing; run the stage that makes it first"
        raise DataError(msg)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        msg = (
            f"{layer}: missing column(s) {', '.join(missing)} needed for staffing; "
            f"add them (see the dataset contract in the README)"
        )
        raise DataError(msg)


def split(value: Any) -> frozenset[str]:
    if not isinstance(value, str):
        return frozenset()
    return frozenset(s.strip().lower() for s in value.split(";") if s.strip())


def as_bool(series: pd.Series) -> np.ndarray:
    def one(v: Any) -> bool:
        if isinstance(v, str):
            return v.strip().lower() in {"1", "true", "yes", "y", "t", "是"}
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return False
        return bool(v)

    return np.array([one(v) for v in series], dtype=bool)


def _entrance(value: Any) -> str | None:
    """An entrance label comparable across tables (``2``, ``2.0`` and ``"2"`` agree)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int | float | np.integer | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def opt_num(series: pd.Series | None, n: int) -> np.ndarray:
    if series is None:
        return np.full(n, np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def as_distance_fn(
    network: DistanceFn | WalkNetwork | None, cfg: Config, limit: float
) -> DistanceFn | None:
    if network is None:
        return None
    if callable(network):
        return network
    for name in ("distance_fn", "distance_matrix", "distances"):
        fn = getattr(network, name, None)
        if callable(fn):
            return fn
    if hasattr(network, "csr") and hasattr(network, "edge_u"):  # gridplan.network.WalkNetwork
        return _walk_network_fn(network, cfg, limit)
    msg = (
        "assign_staff: network must be a function distance_fn(origins_xy, targets_xy) -> metres "
        f"or None, got {type(network).__name__}"
    )
    raise ConfigError(msg)


def _walk_network_fn(network: WalkNetwork, cfg: Config, limit: float) -> DistanceFn:
    """Adapt a :class:`gridplan.network.WalkNetwork` to a distance function."""
    from gridplan.network.distances import distance_matrix
    from gridplan.network.snapping import snap_points

    def fn(origins: np.ndarray, targets: np.ndarray) -> np.ndarray:
        def snap(xy: np.ndarray) -> SnapResult:
            pts = gpd.GeoSeries(shapely.points(xy), crs=network.crs)
            return snap_points(network, pts, config=cfg)

        return distance_matrix(network, snap(origins), snap(targets), limit=limit)

    return fn


@dataclass
class Ctx:
    """Everything the problems share: people, grids, posts held so far."""

    cfg: Config
    seed: int
    pid: np.ndarray  # person ids, sorted
    home: np.ndarray  # building id per person
    home_grid: np.ndarray  # grid index per person (-1 unknown)
    xy: np.ndarray  # (n, 2)
    party: np.ndarray
    roles: list[frozenset[str]]
    full_time: np.ndarray
    skills: list[frozenset[str]]
    capacity: np.ndarray  # float, nan when missing
    entrance: np.ndarray  # str or None
    floor: np.ndarray  # float, nan when missing
    grid_ids: np.ndarray
    grid_geom: np.ndarray
    grid_rep: np.ndarray  # (g, 2)
    grid_hh: np.ndarray
    distance_fn: DistanceFn | None
    held: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    vacancies: list[dict[str, str]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    #: role -> posts, filled, possible (matching bound) and the kinds of vacancy
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: role -> grids whose post the party share alone left empty
    share_vacant: dict[str, list[str]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "straight_line" if self.distance_fn is None else "network"

    def free(self, i: int) -> bool:
        return self.cfg.staffing.allow_multiple_roles or i not in self.held

    def give(
        self, i: int, role: str, target: str, dist: float, households: int, kind: str | None = None
    ) -> None:
        self.held.setdefault(i, []).append((role, target))
        self.rows.append(
            {
                "person_id": str(self.pid[i]),
                "role": role,
                "target_id": target,
                "distance_m": round(float(dist), 1),
                "distance_kind": kind or self.kind,
                "households": int(households),
            }
        )

    def holding(self, i: int) -> str:
        return "; ".join(f"{_ROLE_WORDS[r]} of {t}" for r, t in self.held.get(i, []))

    def grid_distances(self, people: np.ndarray, limit: float) -> tuple[np.ndarray, ...]:
        """Pairs (person, grid, metres) with the person at most ``limit`` from the grid."""
        if len(people) == 0 or len(self.grid_ids) == 0:
            e = np.zeros(0, dtype=np.int64)
            return e, e, np.zeros(0)
        pts = shapely.points(self.xy[people])
        tree = shapely.STRtree(self.grid_geom)
        pi, gi = tree.query(pts, predicate="dwithin", distance=limit)
        d = shapely.distance(pts[pi], self.grid_geom[gi]).astype(float)
        d[self.home_grid[people[pi]] == gi] = 0.0
        d = self._network(people[pi], gi, d)
        keep = np.isfinite(d) & (d <= limit)
        p, g, d = people[pi[keep]], gi[keep], d[keep]
        order = np.lexsort((g, p))
        return p[order], g[order], d[order]

    def _network(self, persons: np.ndarray, grids: np.ndarray, d: np.ndarray) -> np.ndarray:
        if self.distance_fn is None:
            return d
        out = d.copy()
        outside = d > 0
        if outside.any():
            uo, io = np.unique(persons[outside], return_inverse=True)
            ug, ig = np.unique(grids[outside], return_inverse=True)
            mat = np.asarray(self.distance_fn(self.xy[uo], self.grid_rep[ug]), dtype=float)
            if mat.shape != (len(uo), len(ug)):
                msg = (
                    f"network distance function returned shape {mat.shape}, expected "
                    f"{(len(uo), len(ug))} (origins x targets)"
                )
                raise DataError(msg)
            out[outside] = np.where(np.isnan(mat[io, ig]), np.inf, mat[io, ig])
        return out

    def to_grid(self, people: np.ndarray, g: int) -> np.ndarray:
        """Metres from each person to grid ``g`` (no limit), for explanations."""
        if len(people) == 0:
            return np.zeros(0)
        d = shapely.distance(shapely.points(self.xy[people]), self.grid_geom[g]).astype(float)
        d[self.home_grid[people] == g] = 0.0
        return self._network(people, np.full(len(people), g), d)

    def record(self, name: str, info: SolveInfo) -> None:
        self.metrics[name] = info.to_dict()
        if info.status not in ("OPTIMAL", "FEASIBLE"):
            self.flags.append(
                f"{name.replace('_', ' ')}: the solver found no plan within the time limit "
                f"(status {info.status}); raise [staffing] time_limit_s"
            )
        elif info.status == "FEASIBLE":
            gap = "an unknown gap" if info.gap is None else f"a gap of {100 * info.gap:.2f} %"
            self.flags.append(
                f"{name.replace('_', ' ')}: stopped at the time limit with {gap}; raise "
                "[staffing] time_limit_s for a proven optimum"
            )


def grid_targets(g: gpd.GeoDataFrame, bld: pd.DataFrame) -> np.ndarray:
    """The point a walk to a grid ends at: its building nearest the grid's inner point.

    A building lies by a street, where an inner point of the polygon may not (a park, a
    river bank), so the walk network reaches it.
    """
    if len(g) == 0:
        return np.zeros((0, 2))
    rep = shapely.get_coordinates(shapely.point_on_surface(np.asarray(g.geometry.values)))
    cx = shapely.get_coordinates(shapely.centroid(np.asarray(bld.geometry.values)))
    gid = bld["grid_id"].to_numpy(dtype=object)
    for t, grid in enumerate(g["grid_id"]):
        mine = np.flatnonzero(gid == grid)
        if len(mine):
            k = mine[np.argmin(((cx[mine] - rep[t]) ** 2).sum(axis=1))]
            rep[t] = cx[k]
    return rep


def people_table(
    people: pd.DataFrame, bld: pd.DataFrame, grid_index: dict[str, int], flags: list[str]
) -> pd.DataFrame:
    p = people.copy()
    p["person_id"] = p["person_id"].astype(str)
    p["building_id"] = p["building_id"].astype(str)
    dup = p["person_id"][p["person_id"].duplicated()].unique()
    if len(dup):
        msg = (
            f"people: person_id repeated ({', '.join(map(str, dup[:5]))}); "
            "give every person one row"
        )
        raise DataError(msg)
    unknown = ~p["building_id"].isin(bld.index)
    if unknown.any():
        ids = p.loc[unknown, "person_id"].tolist()
        flags.append(
            f"{len(ids)} people live in buildings missing from the buildings layer and were "
            f"left out ({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}); fix their "
            "building_id"
        )
        p = p[~unknown]
    p = p.sort_values("person_id", kind="stable").reset_index(drop=True)
    p["_grid"] = [grid_index.get(str(g), -1) for g in bld.loc[p["building_id"], "grid_id"]]
    return p


def _grid_neighbours(geom: np.ndarray) -> list[list[int]]:
    if len(geom) == 0:
        return []
    tree = shapely.STRtree(geom)
    a, b = tree.query(geom, predicate="dwithin", distance=1.0)
    out: list[list[int]] = [[] for _ in range(len(geom))]
    for i, j in sorted(zip(a.tolist(), b.tolist(), strict=True)):
        if i != j:
            out[i].append(j)
    return out
