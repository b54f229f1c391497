"""Catchments: the streets a household can walk to a facility from within each tier's minutes.

One isochrone polygon per facility and tier, for the map: the part of the walk network reached
from the facility within the tier's minutes (partial edges cut at the exact distance), buffered
so that buildings along the reached streets fall inside.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import ops

from gridplan.coverage import _check_facilities, _subset, _tier_pairs, profile_speed, tier_label
from gridplan.network import SnapResult, WalkNetwork, node_distances, snap_points
from gridplan.settings import DEFAULT, Config

__all__ = ["catchments"]

log = logging.getLogger(__name__)


def catchments(
    facilities: gpd.GeoDataFrame,
    network: WalkNetwork,
    *,
    config: Config | None = None,
    profile: str = "standard",
    buffer_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons per facility and tier, for the map.

    Each polygon is the walk network reached from the facility within the tier's minutes
    (partial edges cut at the exact distance), buffered by ``buffer_m`` so that buildings along
    the reached streets fall inside. A facility gets one polygon per tier listing its category.

    Parameters
    ----------
    facilities
        Prepared ``facilities`` layer.
    network
        The walk network.
    config
        Settings (``coverage`` tiers, speeds, ``max_access_m``).
    profile
        ``"standard"`` or ``"elderly"``.
    buffer_m
        Half-width of the street corridor, metres (default ``coverage.catchment_buffer_m``).

    Returns
    -------
    geopandas.GeoDataFrame
        facility_id, category, tier, minutes, geometry (empty for unreachable facilities).
    """
    cfg = config or DEFAULT
    if buffer_m is None:
        buffer_m = cfg.coverage.catchment_buffer_m
    speed = profile_speed(profile, cfg)
    fac = _check_facilities(facilities)
    snap = snap_points(network, fac.geometry, config=cfg)
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    pairs = _tier_pairs(cfg)
    for i, (fid, cat) in enumerate(zip(fac["facility_id"], fac["category"], strict=True)):
        tiers = [t for t, c in pairs if c == cat]
        for t in tiers:
            budget = t * speed
            poly = _isochrone(network, snap, i, budget, buffer_m) if snap.reachable[i] else None
            rows.append({"facility_id": fid, "category": cat, "tier": tier_label(t), "minutes": t})
            geoms.append(poly)
    return gpd.GeoDataFrame(
        pd.DataFrame(rows, columns=["facility_id", "category", "tier", "minutes"]),
        geometry=gpd.GeoSeries(geoms, crs=network.crs),
        crs=network.crs,
    )


def _isochrone(
    network: WalkNetwork, snap: SnapResult, i: int, budget: float, buffer_m: float
) -> Any:
    one = _subset(snap, np.arange(len(snap.edge)) == i)
    nd = node_distances(network, one, limit=budget)
    du, dv = nd[network.edge_u], nd[network.edge_v]
    length = network.edge_length
    reach_u = np.clip(budget - du, 0, None)
    reach_v = np.clip(budget - dv, 0, None)
    full = reach_u + reach_v >= length
    full &= np.isfinite(du) | np.isfinite(dv)
    parts: list[Any] = list(network.edge_geometry[full])
    for e in np.flatnonzero(~full & (np.isfinite(du) | np.isfinite(dv))):
        g = network.edge_geometry[e]
        if reach_u[e] > 0:
            parts.append(ops.substring(g, 0.0, float(reach_u[e])))
        if reach_v[e] > 0:
            parts.append(ops.substring(g, float(length[e] - reach_v[e]), float(length[e])))
    # the facility's own edge, walked both ways from its joining point
    own = int(snap.edge[i])
    left = budget - float(snap.access_m[i])
    if left > 0:
        a = float(snap.along_m[i])
        parts.append(
            ops.substring(
                network.edge_geometry[own], max(a - left, 0.0), min(a + left, length[own])
            )
        )
    parts = [p for p in parts if not p.is_empty]
    if not parts:
        return shapely.buffer(shapely.points(network.xy[network.edge_u[own]]), buffer_m)
    lines = np.array([p for p in parts if p.geom_type == "LineString"], dtype=object)
    # buffering each piece and uniting is far faster than buffering the multi-line at once
    poly = shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=2))
    return shapely.simplify(poly, buffer_m / 8)
