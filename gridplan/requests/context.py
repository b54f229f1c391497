"""What the request loop needs from a plan and its dataset: places, grids, units, roster, walk
network, in one metric CRS."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from gridplan._errors import DataError
from gridplan.settings import DEFAULT, Config

__all__ = ["PlanContext", "load_context", "partner_units", "plan_context", "roster"]

logger = logging.getLogger(__name__)

_GRID_ROLES = ("grid_head", "grid_worker", "grid_worker_full", "grid_worker_part")


@dataclass
class PlanContext:
    """A plan's places and people for the request loop (metric CRS).

    Attributes
    ----------
    buildings
        building_id, grid_id, community_id, unit_id (the unit holding most of its households),
        geometry (a point on each building).
    grids
        grid_id, community_id, geometry.
    people
        The dataset's roster (``None`` when not loaded): person_id, building_id, roles,
        skills, party_member, full_time, optional hours_per_day and max_open_cases, phone.
    assignments
        The plan's assignments (person_id, role, target_id).
    coverage
        The plan's coverage layer (building_id, tier, category, covered), or ``None``.
    network
        The walk network, or ``None`` (straight-line distances then, said in the log).
    partners
        The dataset's ``partner_units`` (双报到单位; ``None`` when it has none): partner_id,
        name, categories (``;``-list of request categories they take), optional hours_per_day,
        max_open_cases, contact_phone, and x, y (their place, metric: their point, or their
        building's).
    """

    buildings: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    people: pd.DataFrame | None
    assignments: pd.DataFrame
    coverage: pd.DataFrame | None
    network: Any
    crs: Any
    partners: pd.DataFrame | None = None


def _layer(gpkg: Path, name: str, listed: set[str]) -> Any:
    if name not in listed:
        return None
    return pyogrio.read_dataframe(gpkg, layer=name)


def load_context(
    plan: str | Path,
    dataset: str | Path | None = None,
    *,
    config: Config | None = None,
    offset: str | None = None,
) -> PlanContext:
    """Read a plan folder (and its dataset, for the roster and roads).

    Parameters
    ----------
    plan
        A folder written by ``gridplan run`` (its ``plan.gpkg``).
    dataset
        The dataset the plan was made from: its ``people`` roster and ``roads`` (walk network).
        ``None``: places only (enough to import requests and report on them).
    config
        Settings (walk network options).
    offset
        ``gcj02`` / ``bd09`` when the dataset's coordinates carry that offset.

    Raises
    ------
    DataError
        The plan lacks ``buildings`` or ``grids``, or the dataset lacks ``people``.
    """
    folder = Path(plan)
    gpkg = folder / "plan.gpkg" if folder.is_dir() else folder
    if not gpkg.exists():
        msg = f"plan: {gpkg} does not exist; give the folder written by `gridplan run`"
        raise DataError(msg)
    listed = {str(n) for n in pyogrio.list_layers(gpkg)[:, 0]}
    layers = {
        n: _layer(gpkg, n, listed)
        for n in ("buildings", "grids", "unit_members", "assignments", "coverage")
    }
    return plan_context(
        {n: v for n, v in layers.items() if v is not None},
        dataset,
        config=config,
        offset=offset,
        where=f"plan {folder}",
    )


def plan_context(
    layers: Mapping[str, Any],
    dataset: str | Path | None = None,
    *,
    config: Config | None = None,
    offset: str | None = None,
    where: str = "plan",
) -> PlanContext:
    """:func:`load_context` on a plan's layers in memory (``plan.layers``: buildings, grids,
    and unit_members, assignments, coverage when present)."""
    missing = [n for n in ("buildings", "grids") if layers.get(n) is None]
    if missing:
        msg = f"{where}: no {' or '.join(missing)} layer; run `gridplan run` to make one"
        raise DataError(msg)
    buildings = layers["buildings"]
    grids = layers["grids"]
    crs = buildings.estimate_utm_crs() if buildings.crs.is_geographic else buildings.crs
    buildings = buildings.to_crs(crs)
    grids = grids.to_crs(crs)
    members = layers.get("unit_members")
    unit_of: dict[str, str] = {}
    if members is not None and len(members):
        m = pd.DataFrame(members).sort_values(
            ["building_id", "households", "unit_id"], ascending=[True, False, True]
        )
        unit_of = dict(zip(m["building_id"].astype(str), m["unit_id"].astype(str), strict=False))
        unit_of = {
            b: u
            for b, u in m.drop_duplicates("building_id")[["building_id", "unit_id"]]
            .astype(str)
            .itertuples(index=False)
        }
    b = gpd.GeoDataFrame(
        {
            "building_id": buildings["building_id"].astype(str),
            "grid_id": buildings.get("grid_id", pd.Series(None, index=buildings.index)),
            "community_id": buildings.get("community_id", pd.Series(None, index=buildings.index)),
        },
        geometry=buildings.geometry.representative_point(),
        crs=crs,
    )
    b["unit_id"] = b["building_id"].map(unit_of)
    assignments = layers.get("assignments")
    assignments = (
        pd.DataFrame(assignments)
        if assignments is not None
        else pd.DataFrame({"person_id": [], "role": [], "target_id": []})
    )
    coverage = layers.get("coverage")
    coverage = pd.DataFrame(coverage) if coverage is not None else None
    people = None
    network = None
    partners = None
    if dataset is not None:
        from gridplan.io import load_dataset
        from gridplan.network import build_walk_network

        cfg = config or DEFAULT
        ds = load_dataset(dataset, offset=offset, config=cfg)
        if "people" not in ds.layers:
            msg = f"dataset {dataset}: no people layer; the dispatcher needs the roster"
            raise DataError(msg)
        people = pd.DataFrame(ds.layers["people"]).copy()
        if "partner_units" in ds.layers and len(ds.layers["partner_units"]):
            partners = partner_units(ds.layers["partner_units"], b, crs, str(dataset))
        roads: Any = ds.layers.get("roads")
        if roads is not None and len(roads):
            network = build_walk_network(roads.to_crs(crs), barriers=_barriers(ds, crs), config=cfg)
        else:
            logger.warning("dataset %s has no roads: distances are straight lines", dataset)
    return PlanContext(
        b,
        grids[["grid_id", "community_id", "geometry"]]
        if "community_id" in grids
        else grids[["grid_id", "geometry"]],
        people,
        assignments,
        coverage,
        network,
        crs,
        partners,
    )


def partner_units(
    layer: pd.DataFrame, buildings: gpd.GeoDataFrame, crs: Any, where: str = "dataset"
) -> pd.DataFrame:
    """The dataset's ``partner_units`` layer checked and placed (metric x, y).

    Each unit needs an id, at least one category gridplan knows
    (:data:`gridplan.settings.REQUEST_CATEGORIES`) and a place: a point geometry, or a
    ``building_id`` of the plan.

    Raises
    ------
    DataError
        Naming the units and the fix: a missing or repeated id, an unknown category, no place.
    """
    from gridplan.settings import REQUEST_CATEGORIES

    df = pd.DataFrame(layer).copy()
    if "partner_id" not in df:
        raise DataError(f"{where}: partner_units has no partner_id column; add one (e.g. PU01)")
    df["partner_id"] = df["partner_id"].astype(str)
    problems = []
    dup = sorted(set(df.loc[df["partner_id"].duplicated(), "partner_id"]))
    if dup:
        problems.append(f"ids repeated: {', '.join(dup)} (give each unit its own id)")
    cats = [
        [c.strip() for c in str(v).split(";") if c.strip()] if isinstance(v, str) else []
        for v in df.get("categories", pd.Series(None, index=df.index))
    ]
    bad = [
        f"{pid} ({', '.join(c for c in cs if c not in REQUEST_CATEGORIES) or 'none given'})"
        for pid, cs in zip(df["partner_id"], cats, strict=True)
        if not cs or any(c not in REQUEST_CATEGORIES for c in cs)
    ]
    if bad:
        problems.append(
            f"categories unknown or missing: {', '.join(bad)} (use ;-separated request "
            f"categories: {', '.join(REQUEST_CATEGORIES)})"
        )
    xy = np.full((len(df), 2), np.nan)
    if isinstance(layer, gpd.GeoDataFrame) and layer.geometry.notna().any():
        g = layer.geometry.to_crs(crs).representative_point()
        ok = g.notna() & ~g.is_empty
        xy[ok.to_numpy()] = np.column_stack([g[ok].x, g[ok].y])
    pts = buildings.set_index("building_id").geometry
    for i, b in enumerate(df.get("building_id", pd.Series(None, index=df.index))):
        if np.isnan(xy[i, 0]) and isinstance(b, str) and b in pts.index:
            xy[i] = (pts.loc[b].x, pts.loc[b].y)
    lost = df["partner_id"][np.isnan(xy[:, 0])].tolist()
    if lost:
        problems.append(
            f"no place for {', '.join(lost)} (give a point geometry or lon/lat, or a "
            "building_id of the plan)"
        )
    if problems:
        raise DataError(f"{where}: partner_units: " + "; ".join(problems))
    df["categories"] = [";".join(cs) for cs in cats]
    df["x"], df["y"] = xy[:, 0], xy[:, 1]
    keep = ["partner_id", "name", "categories", "hours_per_day", "max_open_cases"]
    keep += ["contact_phone", "x", "y"]
    for c in keep:
        if c not in df:
            df[c] = None
    return pd.DataFrame(df[keep]).sort_values("partner_id").reset_index(drop=True)


def _barriers(ds: Any, crs: Any) -> gpd.GeoDataFrame | None:
    barriers = ds.layers.get("barriers")
    return barriers.to_crs(crs) if barriers is not None and len(barriers) else None


def roster(ctx: PlanContext, config: Config | None = None) -> pd.DataFrame:
    """The people who may take requests, with their grids, capacity and home point.

    Eligible: grid heads and grid workers (of any grid), volunteers and party members; unit
    heads only when they are also volunteers or party members; and the partner units
    (双报到单位, ``ctx.partners``), each for the request categories it takes (kind
    ``partner``, its id as person_id, capacity from the layer or ``role_capacity
    ["partner_unit"]``).

    Returns
    -------
    pandas.DataFrame
        person_id, kind (``person`` / ``partner``), name (partners only), skills (frozenset),
        categories (frozenset: a partner's categories; empty for people, who go by skill),
        grid_ids (frozenset, lower case), party_member, hours_per_day, max_open_cases, x, y
        (home or the unit's place, metric), sorted by person_id.
    """
    s = (config or DEFAULT).requests
    if ctx.people is None:
        raise DataError("dispatch: the dataset's people roster was not loaded; give --dataset")
    p = ctx.people.copy()
    p["person_id"] = p["person_id"].astype(str)

    def words(v: Any) -> frozenset[str]:
        return (
            frozenset(x.strip().lower() for x in v.split(";") if x.strip())
            if isinstance(v, str)
            else frozenset()
        )

    def truth(v: Any) -> bool:
        if isinstance(v, str):
            return v.strip().lower() in {"1", "true", "yes", "y", "t", "是"}
        return bool(v) if v is not None and not (isinstance(v, float) and np.isnan(v)) else False

    roles = [words(v) for v in p.get("roles", pd.Series(None, index=p.index))]
    party = [truth(v) for v in p.get("party_member", pd.Series(False, index=p.index))]
    full = [truth(v) for v in p.get("full_time", pd.Series(False, index=p.index))]
    a = ctx.assignments
    grid_rows = a[a["role"].astype(str).isin(_GRID_ROLES)] if len(a) else a
    grids_of: dict[str, set[str]] = {}
    for pid, g in zip(grid_rows.get("person_id", []), grid_rows.get("target_id", []), strict=False):
        grids_of.setdefault(str(pid), set()).add(str(g).lower())
    homes = ctx.buildings.set_index("building_id").geometry
    rows = []
    for i, pid in enumerate(p["person_id"]):
        r = roles[i]
        eligible = bool(r & {"grid_head", "grid_worker", "volunteer"}) or party[i]
        if not eligible:
            continue
        home = str(p["building_id"].iloc[i])
        if home not in homes.index:
            continue  # lives outside the plan's buildings: cannot be placed
        keys = (["grid_worker_full"] if full[i] and "grid_worker" in r else []) + sorted(r)
        hours, cases = next((s.role_capacity[k] for k in keys if k in s.role_capacity), (2.0, 2))
        hv = pd.to_numeric(
            pd.Series([p.get("hours_per_day", pd.Series(None, index=p.index)).iloc[i]]),
            errors="coerce",
        ).iloc[0]
        cv = pd.to_numeric(
            pd.Series([p.get("max_open_cases", pd.Series(None, index=p.index)).iloc[i]]),
            errors="coerce",
        ).iloc[0]
        pt = homes.loc[home]
        rows.append(
            {
                "person_id": pid,
                "kind": "person",
                "name": None,
                "skills": words(p["skills"].iloc[i]) if "skills" in p else frozenset(),
                "categories": frozenset(),
                "grid_ids": frozenset(grids_of.get(pid, set())),
                "party_member": party[i],
                "hours_per_day": float(hv) if pd.notna(hv) else hours,
                "max_open_cases": int(cv) if pd.notna(cv) else cases,
                "x": pt.x,
                "y": pt.y,
            }
        )
    known = {r["person_id"] for r in rows}
    part = ctx.partners if ctx.partners is not None else pd.DataFrame()
    hours, cases = s.role_capacity.get("partner_unit", (8.0, 4))
    for u in part.to_dict("records"):
        if u["partner_id"] in known:
            msg = f"partner unit {u['partner_id']}: the id is also a person's; give it another"
            raise DataError(msg)
        hv = pd.to_numeric(pd.Series([u.get("hours_per_day")]), errors="coerce").iloc[0]
        cv = pd.to_numeric(pd.Series([u.get("max_open_cases")]), errors="coerce").iloc[0]
        rows.append(
            {
                "person_id": u["partner_id"],
                "kind": "partner",
                "name": u.get("name") if isinstance(u.get("name"), str) else u["partner_id"],
                "skills": frozenset(),
                "categories": frozenset(words(u["categories"])),
                "grid_ids": frozenset(),
                "party_member": False,
                "hours_per_day": float(hv) if pd.notna(hv) else hours,
                "max_open_cases": int(cv) if pd.notna(cv) else cases,
                "x": float(u["x"]),
                "y": float(u["y"]),
            }
        )
    return pd.DataFrame(rows).sort_values("person_id").reset_index(drop=True)
