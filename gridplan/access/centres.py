"""Party-mass service centres (社区党群服务中心): one place for each community.

Each community needs a service centre within a five-minute walk (300 m, GB 50180-2018) of as
many of its residents as possible. The candidates are the existing facilities of
``communities.service_category`` (``service_station``) and the ``sites`` (any category). Inside
each community the candidate serving most residents wins: the best existing facility is kept
on a tie, and unless the best site serves more than ``communities.centre_keep_tolerance`` of
the community's residents more (a new centre costs a building). Both figures are given per
community (the best existing facility and the best site, residents served by each). A
community with neither inside is listed with the best candidate anywhere (most of its
residents within the walk), status ``none``.

Residents served are counted on the walk network (:func:`gridplan.access.candidate_coverage`),
from each building's representative point.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.access.siting import candidate_coverage
from gridplan.network import WalkNetwork, snap_points
from gridplan.settings import DEFAULT, Config

__all__ = ["place_service_centres"]

log = logging.getLogger(__name__)

_COLUMNS = [
    "community_id",
    "status",
    "centre_id",
    "source",
    "residents",
    "residents_served",
    "share_served",
    "existing_id",
    "existing_served",
    "best_candidate_id",
    "best_candidate_served",
]


def _candidates(
    facilities: gpd.GeoDataFrame | None, sites: gpd.GeoDataFrame | None, category: str
) -> gpd.GeoDataFrame:
    """Existing facilities of ``category`` and sites, as points: candidate_id, source."""
    frames = []
    if facilities is not None and len(facilities):
        f = facilities[facilities["category"].astype(str) == category]
        frames.append(
            gpd.GeoDataFrame(
                {"candidate_id": f["facility_id"].astype(str).to_numpy(), "source": "facility"},
                geometry=shapely.point_on_surface(f.geometry.to_numpy()),
                crs=facilities.crs,
            )
        )
    if sites is not None and len(sites):
        frames.append(
            gpd.GeoDataFrame(
                {"candidate_id": sites["site_id"].astype(str).to_numpy(), "source": "site"},
                geometry=shapely.point_on_surface(sites.geometry.to_numpy()),
                crs=sites.crs,
            )
        )
    if not frames:
        return gpd.GeoDataFrame({"candidate_id": [], "source": []}, geometry=[], crs=None)
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=frames[0].crs)


def place_service_centres(
    communities: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    facilities: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    network: WalkNetwork | None = None,
    config: Config | None = None,
) -> pd.DataFrame:
    """A party-mass service centre for each community, and the residents it serves.

    Parameters
    ----------
    communities
        community_id, geometry (metric CRS).
    buildings
        building_id, community_id, residents, geometry.
    facilities, sites
        The dataset's layers (facility_id, category; site_id).
    network
        The walk network; without one, straight-line distance is used (and said in the log).
    config
        ``communities.service_radius_m`` and ``communities.service_category``.

    Returns
    -------
    pandas.DataFrame
        One row per community: status (``existing``, ``site`` or ``none``), centre_id and its
        source (``facility`` / ``site``), residents, residents_served (within the walk),
        share_served; existing_id / existing_served: the best existing facility inside and
        the residents it serves; best_candidate_id / best_candidate_served: the best site
        inside (for ``none``: the best candidate anywhere) and the residents it would serve.
    """
    cfg = config or DEFAULT
    radius = cfg.communities.service_radius_m
    tolerance = cfg.communities.centre_keep_tolerance
    cands = _candidates(facilities, sites, cfg.communities.service_category)
    b = buildings[buildings["residents"] > 0].sort_values("building_id", kind="stable")
    pts = gpd.GeoSeries(shapely.point_on_surface(b.geometry.to_numpy()), crs=b.crs)
    if len(cands) and len(b):
        if network is not None and network.n_nodes > 0:
            inc = candidate_coverage(
                network,
                snap_points(network, cands.geometry, config=cfg),
                snap_points(network, pts, config=cfg),
                radius,
            ).tocsc()
            served = [set(inc[:, j].indices.tolist()) for j in range(len(cands))]
        else:
            log.info("no walk network: service centres judged by straight-line distance")
            tree = shapely.STRtree(pts.to_numpy())
            served = [
                set(tree.query(p, predicate="dwithin", distance=radius).tolist())
                for p in cands.geometry.to_numpy()
            ]
    else:
        served = [set() for _ in range(len(cands))]
    comm_of = b["community_id"].astype(str).to_numpy()
    res = b["residents"].to_numpy(dtype=np.int64)
    poly_of = dict(zip(communities["community_id"].astype(str), communities.geometry, strict=True))
    rows = []
    for cid in sorted(poly_of):
        mine = np.flatnonzero(comm_of == cid)
        mine_set = set(mine.tolist())
        total = int(res[mine].sum())

        def score(j: int, mine_set: set[int] = mine_set) -> int:
            return int(sum(res[i] for i in served[j] & mine_set))

        inside = [j for j in range(len(cands)) if poly_of[cid].covers(cands.geometry.iloc[j])]

        def best(source: str, inside: list[int] = inside, score=score) -> int | None:
            pool = [j for j in inside if cands["source"].iloc[j] == source]
            if not pool:
                return None
            return min(pool, key=lambda j: (-score(j), cands["candidate_id"].iloc[j]))

        fac, site = best("facility"), best("site")
        row = {
            "community_id": cid,
            "residents": total,
            "existing_id": "" if fac is None else cands["candidate_id"].iloc[fac],
            "existing_served": 0 if fac is None else score(fac),
            "best_candidate_id": "" if site is None else cands["candidate_id"].iloc[site],
            "best_candidate_served": 0 if site is None else score(site),
        }
        pick = fac
        if site is not None and (fac is None or score(site) > score(fac) + tolerance * total):
            pick = site
        if pick is not None:
            row |= {
                "status": "existing" if pick == fac else "site",
                "centre_id": cands["candidate_id"].iloc[pick],
                "source": cands["source"].iloc[pick],
                "residents_served": score(pick),
            }
        else:
            row |= {"status": "none", "centre_id": "", "source": "", "residents_served": 0}
            if len(cands):
                j = min(range(len(cands)), key=lambda j: (-score(j), cands["candidate_id"].iloc[j]))
                row["best_candidate_id"] = cands["candidate_id"].iloc[j]
                row["best_candidate_served"] = score(j)
        row["share_served"] = round(row["residents_served"] / total, 4) if total else 0.0
        rows.append(row)
    return pd.DataFrame(rows, columns=_COLUMNS)
