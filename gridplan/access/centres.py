"""Party-mass service centres (社区党群服务中心): one place for each community.

Each community needs a service centre within a five-minute walk (300 m, GB 50180-2018) of as
many of its residents as possible. The candidates are the existing facilities of
``communities.service_category`` (``service_station``) and the ``sites`` (any category). Inside
each community the candidate serving most residents wins: the best existing facility is kept
on a tie, and unless the best site serves more than ``communities.centre_keep_tolerance`` of
the community's residents more (a new centre costs a building). Both figures are given per
community (the best existing facility and the best site, residents served by each). A
community with neither inside is listed, status ``none``, with a proposal: the building or
the point of the walk network inside it that serves most of its residents (network points
one per ``siting.candidate_spacing_m`` cell, as siting generates them without a ``sites``
layer); where the network reaches none of them, the place with most residents within the
radius in a straight line, with a warning. Every row gives where its centre, or its
proposal, stands (lon, lat).

Residents served are counted on the walk network (:func:`gridplan.access.candidate_coverage`),
from each building's representative point.
"""

from __future__ import annotations

import logging
from typing import Any, TypeGuard

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan.access.siting import candidate_coverage, generate_candidates
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
    "best_candidate_source",
    "best_candidate_served",
    "lon",
    "lat",
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
        the residents it serves; best_candidate_id / best_candidate_source /
        best_candidate_served: the best site inside (for ``none``: the proposal, source
        ``building`` with its building_id or ``network`` with ``G<x>_<y>``, its cell) and the
        residents it would serve; lon / lat
        of the centre, else of the best candidate (empty when there is none).
    """
    cfg = config or DEFAULT
    radius = cfg.communities.service_radius_m
    tolerance = cfg.communities.centre_keep_tolerance
    cands = _candidates(facilities, sites, cfg.communities.service_category)
    b = buildings[buildings["residents"] > 0].sort_values("building_id", kind="stable")
    pts = gpd.GeoSeries(shapely.point_on_surface(b.geometry.to_numpy()), crs=b.crs)
    homes = snap_points(network, pts, config=cfg) if _routable(network) and len(b) else None
    served = _served(cands, pts, homes, network, radius, cfg)
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
        row["best_candidate_source"] = "" if site is None else cands["source"].iloc[site]
        at = pick if pick is not None else site
        row["_point"] = None if at is None else cands.geometry.iloc[at]
        row["share_served"] = round(row["residents_served"] / total, 4) if total else 0.0
        rows.append(row)
    lonely = [r["community_id"] for r in rows if r["status"] == "none"]
    if lonely:
        proposals = _proposals(network, poly_of, lonely, b, pts, homes, cfg)
        for r in rows:
            if r["community_id"] in proposals:
                pid, source, served_n, point = proposals[r["community_id"]]
                r |= {
                    "best_candidate_id": pid,
                    "best_candidate_source": source,
                    "best_candidate_served": served_n,
                    "_point": point,
                }
    out = pd.DataFrame(rows)
    lonlat = _lonlat([r["_point"] for r in rows], communities.crs)
    out["lon"], out["lat"] = lonlat[:, 0], lonlat[:, 1]
    return out.reindex(columns=_COLUMNS)


def _routable(network: WalkNetwork | None) -> TypeGuard[WalkNetwork]:
    return network is not None and network.n_nodes > 0


def _served(
    cands: gpd.GeoDataFrame,
    pts: gpd.GeoSeries,
    homes: Any,
    network: WalkNetwork | None,
    radius: float,
    cfg: Config,
) -> list[set[int]]:
    """Positions in ``pts`` within the walk of each candidate (straight line without a network)."""
    if not len(cands) or not len(pts):
        return [set() for _ in range(len(cands))]
    if network is not None and homes is not None:
        inc = candidate_coverage(
            network, snap_points(network, cands.geometry, config=cfg), homes, radius
        ).tocsc()
        return [set(inc[:, j].indices.tolist()) for j in range(len(cands))]
    log.info("no walk network: service centres judged by straight-line distance")
    tree = shapely.STRtree(pts.to_numpy())
    return [
        set(tree.query(p, predicate="dwithin", distance=radius).tolist())
        for p in cands.geometry.to_numpy()
    ]


def _proposals(
    network: WalkNetwork | None,
    poly_of: dict[str, Any],
    lonely: list[str],
    b: pd.DataFrame,
    pts: gpd.GeoSeries,
    homes: Any,
    cfg: Config,
) -> dict[str, tuple[str, str, int, Any]]:
    """For each community with no candidate inside, a proposed place: the point of the walk
    network (one per ``siting.candidate_spacing_m`` cell) or the building inside it that most
    of its residents reach within the walk; ties, and communities the network reaches none
    of, go by residents within the radius in a straight line (with a warning naming them).
    Returns community -> (id, source ``network`` / ``building``, residents served, point)."""
    radius = cfg.communities.service_radius_m
    comm_of = b["community_id"].astype(str).to_numpy()
    res = b["residents"].to_numpy(dtype=np.int64)
    mine = np.isin(comm_of, lonely)
    ids = list(b["building_id"].astype(str).to_numpy()[mine])
    geoms = list(pts.to_numpy()[mine])
    where = list(comm_of[mine])
    sources = ["building"] * len(ids)
    if _routable(network):
        gen = generate_candidates(network, spacing_m=cfg.siting.candidate_spacing_m)
        area = gpd.GeoDataFrame(
            {"community_id": lonely}, geometry=[poly_of[c] for c in lonely], crs=gen.crs
        )
        hit = gpd.sjoin(gen, area, predicate="within", how="inner")
        ids += list(hit["site_id"].astype(str))
        geoms += list(hit.geometry.to_numpy())
        where += list(hit["community_id"].astype(str))
        sources += ["network"] * len(hit)
    if not ids:
        return {}
    cand = gpd.GeoDataFrame({"candidate_id": ids}, geometry=geoms, crs=pts.crs)
    walk = _served(cand, pts, homes, network, radius, cfg)
    near = _served(cand, pts, None, None, radius, cfg) if homes is not None else walk
    best: dict[str, tuple[tuple[int, int, str], int]] = {}
    for j, cid in enumerate(where):
        w = int(sum(res[i] for i in walk[j] if comm_of[i] == cid))
        n = int(sum(res[i] for i in near[j] if comm_of[i] == cid))
        key = (-w, -n, sources[j] + ids[j])
        if cid not in best or key < best[cid][0]:
            best[cid] = (key, j)
    blind = sorted(c for c, (key, _j) in best.items() if key[0] == 0 and homes is not None)
    if blind:
        log.warning(
            "service centres: from no point inside %d communit(ies) (%s) does the walk network "
            "reach any of their residents within %.0f m; their proposals are the places with "
            "most residents within %.0f m in a straight line. Fix: add the minor streets and "
            "paths to the roads layer.",
            len(blind),
            ", ".join(blind[:10]) + (" …" if len(blind) > 10 else ""),
            radius,
            radius,
        )
    return {cid: (ids[j], sources[j], -key[0], geoms[j]) for cid, (key, j) in sorted(best.items())}


def _lonlat(points: list[Any], crs: Any) -> np.ndarray:
    """(lon, lat) rounded to 6 decimals, NaN for ``None``."""
    out = np.full((len(points), 2), np.nan)
    have = [i for i, p in enumerate(points) if p is not None]
    if have and crs is not None:
        geo = gpd.GeoSeries([points[i] for i in have], crs=crs).to_crs("EPSG:4326")
        out[have, 0] = np.round(geo.x.to_numpy(), 6)
        out[have, 1] = np.round(geo.y.to_numpy(), 6)
    return out
