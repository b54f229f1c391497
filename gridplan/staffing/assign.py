"""Staffing with OR-Tools: grid heads, grid workers, unit heads, building heads and volunteers.

:func:`assign_staff` fills every post a plan needs from the ``people`` roster, community by
community: a community's posts go to the people who live in it (the grids' ``community_id``;
a person belongs to the community of their home), as its party committee and residents'
committee appoint them (grid heads are community cadres, grid workers salaried
community workers). So a community's staffing never depends on its neighbours, and a
sequential, a Dask and a batched run give the same posts. Each community fills its hierarchy
in order, most important post first, so that a person is taken by a lower
post only when no higher one needs them; each problem is solved by OR-Tools with a time limit
(the models are in :mod:`gridplan.staffing`):

1. **grid heads** (网格长): one per grid from people with the ``grid_head`` role (party members
   only when ``staffing.grid_head_party_only``), living within ``staffing.max_head_distance_m``
   of the grid (0 inside it); most grids headed (the maximum matching), then residents of the
   grid first, then the shortest total distance;
2. **grid workers** (网格员): every grid at least one; full-time workers cover adjacent grids up
   to their capacity, the heaviest load as light as possible; part-time workers fill the rest.
   A grid's extra part-time workers who also offered ``unit_head`` are held back until the
   unit and building heads are chosen, and return to their grid when no unit needs them;
3. **unit heads** (联户长): one per unit, a resident of one of the unit's buildings (of the unit's
   own entrance and floors where both the roster and ``unit_members`` say which);
   ``unit_head`` volunteers first, then party members, then other residents;
4. **building heads** (楼栋长): one per building of at least
   ``staffing.building_head_min_households`` households, a resident of it; a unit head may also
   be the building head when ``staffing.unit_head_may_be_building_head`` (then the two posts
   never compete for a person; otherwise building heads are chosen before unit heads);
5. **volunteers**: matched by skill (``staffing.skill_needs``) to grids with vulnerable
   households, within capacity and ``staffing.max_volunteer_distance_m``, most needs met.

For each role the metrics (``posts``) give the posts filled against the most possible: the
maximum matching of the role's eligibility graph ignoring every other role, computed
independently by SciPy (:mod:`gridplan.staffing.bounds`; an upper bound for grid workers). A
vacancy's reason blames a more important post only when that bound confirms it.

A person holds one post unless ``staffing.allow_multiple_roles``; people who declared a grid
role are kept for it (they head a unit or building only when they also declared ``unit_head``
or several roles are allowed). Grid heads and workers together include at least
``staffing.min_party_share`` party members, each person counted once (a grid head who also
works as a grid worker is one person); the stages keep it by leaving posts empty rather than
taking a non-member, and the grids that costs are named in the vacancies, a flag and a
warning. Every post left empty is listed in ``vacancies`` with the reason in the planner's
words.

Distances are straight-line metres from the home building to the grid polygon (0 inside it)
unless a walk network is given (``network=``, a :class:`gridplan.network.WalkNetwork` or any
``distance_fn(origins_xy, targets_xy)``): then metres along the network to the grid's building
nearest its inner point, still 0 for residents. Unit and building heads are residents, so their
distance is always the straight line to the unit.

The models (:mod:`gridplan.staffing`): unit, building and grid heads are assignment
problems solved exactly as min-cost max-flows (CP-SAT when a party share must be kept and the
flow misses it); full-time workers choose one cluster of adjacent grids each, the heaviest load
proven by bisection on a linear relaxation and CP-SAT, warm-started by an exact one-grid-each
flow (the flow alone when no worker's capacity fits two grids); part-time workers and
volunteers are min-cost max-flows.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan._errors import DataError
from gridplan.settings import DEFAULT, Config
from gridplan.staffing.bounds import (
    HIGHER_POST,
    OTHER,
    OUT_OF_REACH,
    SAME_ROLE,
    check_matching_posts,
    worker_bound,
)
from gridplan.staffing.common import _PERMILLE, summarise
from gridplan.staffing.context import (
    GRID_ROLES,
    TIER,
    Ctx,
    DistanceFn,
    _entrance,
    _grid_neighbours,
    _m,
    as_bool,
    as_distance_fn,
    grid_targets,
    opt_num,
    people_table,
    require,
    split,
)
from gridplan.staffing.flows import solve_matching, solve_part_time, solve_volunteers
from gridplan.staffing.full_time import solve_full_time
from gridplan.staffing.merge import merge_staffing_metrics

if TYPE_CHECKING:
    from gridplan.network.graph import WalkNetwork

__all__ = ["POST_ROLES", "ROLES", "DistanceFn", "StaffingResult", "assign_staff"]

log = logging.getLogger(__name__)

#: Values of ``assignments.role``, in roster order.
ROLES: tuple[str, ...] = (
    "grid_head",
    "grid_worker_full",
    "grid_worker_part",
    "unit_head",
    "building_head",
    "volunteer",
)


#: Roles of ``metrics["posts"]`` (filled against the most possible), most important first;
#: ``grid_worker`` counts grids with at least one worker.
POST_ROLES: tuple[str, ...] = ("grid_head", "grid_worker", "building_head", "unit_head")


@dataclass(frozen=True)
class StaffingResult:
    """Posts filled and left empty by :func:`assign_staff`.

    Attributes
    ----------
    assignments
        person_id, role (one of :data:`ROLES`), target_id (grid, unit or building id),
        distance_m, distance_kind (``network`` or ``straight_line``), households (households of
        the post; for volunteers, the vulnerable households they serve).
    grids
        Copy of the grids with head_id, n_workers, n_full_time, worker_ids and volunteer_ids
        (``;``-lists, empty when none).
    units
        Copy of the units with head_id.
    vacancies
        role, target_id, reason (a sentence naming the post, the nearest candidate and the fix),
        reason_code and reason_params (JSON): the same reason for a reader in any language
        (:func:`gridplan.i18n.vacancy_reason`).
    metrics
        Per problem (``unit_heads``, ``building_heads``, ``grid_heads``, ``grid_workers``,
        ``volunteers``): solver, status, objective, bound, gap, time_s, n_targets, n_filled,
        n_vacant, stages; plus party shares and distances; ``posts``: per role of
        :data:`POST_ROLES`, posts, filled, possible (matching bound) and vacant posts by cause
        (``vacant_higher_post``, ``vacant_same_role``, ``vacant_out_of_reach``,
        ``vacant_other``).
    flags
        Sentences for the report.
    """

    assignments: pd.DataFrame
    grids: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    vacancies: pd.DataFrame
    metrics: dict[str, Any]
    flags: list[str] = field(default_factory=list)


def assign_staff(
    people: pd.DataFrame,
    *,
    grids: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    unit_members: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    vulnerable: pd.DataFrame | None = None,
    network: DistanceFn | WalkNetwork | None = None,
    config: Config | None = None,
    seed: int | None = None,
    max_worker_distance_m: float | None = None,
    volunteer_capacity_households: int | None = None,
) -> StaffingResult:
    """Staff a plan: unit heads, building heads, grid heads, grid workers and volunteers.

    Parameters
    ----------
    people
        The roster (dataset contract): person_id, building_id; optional party_member, roles,
        full_time, skills, capacity_households, phone, and (extensions) entrance and floor of
        the home, used to match a unit head to the unit's own entrance and floors.
    grids
        grid_id, households, geometry (metric CRS).
    units
        unit_id, grid_id, households, geometry (may be empty).
    unit_members
        unit_id, building_id, households; optional entrance, floor_from, floor_to.
    buildings
        building_id, grid_id, households, geometry.
    vulnerable
        building_id, households, kind; ``None`` when there is none.
    network
        ``distance_fn(origins_xy, targets_xy)`` returning walk metres (``inf``: no path), or
        a :class:`gridplan.network.WalkNetwork`; ``None`` uses straight-line distance.
    config
        Settings (``[staffing]``); ``None`` means :data:`gridplan.settings.DEFAULT`.
    seed
        Solver seed; ``None`` uses ``config.seed``.
    max_worker_distance_m
        Farthest a grid worker lives from a grid they serve; ``None`` uses
        ``staffing.max_worker_distance_m``.
    volunteer_capacity_households
        Vulnerable households a volunteer serves when the roster gives no capacity; ``None``
        uses ``staffing.volunteer_capacity_households``.

    Returns
    -------
    StaffingResult
        Assignments, grids and units with their staff, vacancies with reasons, solver metrics.

    Raises
    ------
    DataError
        A layer or column is missing, or person ids repeat.
    """
    cfg = config or DEFAULT
    st = cfg.staffing
    seed = cfg.seed if seed is None else int(seed)
    if max_worker_distance_m is None:
        max_worker_distance_m = st.max_worker_distance_m
    if volunteer_capacity_households is None:
        volunteer_capacity_households = st.volunteer_capacity_households
    require(people, "people", ("person_id", "building_id"))
    require(grids, "grids", ("grid_id", "households", "geometry"))
    require(buildings, "buildings", ("building_id", "grid_id", "households", "geometry"))
    require(units, "units", ("unit_id", "grid_id", "households"))
    require(unit_members, "unit_members", ("unit_id", "building_id"))
    if vulnerable is not None:
        require(vulnerable, "vulnerable", ("building_id", "households"))
    if grids.crs is not None and grids.crs.is_geographic:
        msg = "grids: geometry is in degrees; staffing needs a prepared (metric) dataset"
        raise DataError(msg)

    g = grids.assign(grid_id=grids["grid_id"].astype(str)).sort_values("grid_id")
    bld = buildings.assign(building_id=buildings["building_id"].astype(str))
    bld = bld.drop_duplicates("building_id").set_index("building_id")
    bld["grid_id"] = bld["grid_id"].astype(str)
    flags: list[str] = []
    p = people_table(people, bld, {gid: i for i, gid in enumerate(g["grid_id"])}, flags)
    distance_fn = as_distance_fn(
        network,
        cfg,
        max(st.max_head_distance_m, st.max_volunteer_distance_m, max_worker_distance_m),
    )
    u = units.assign(unit_id=units["unit_id"].astype(str), grid_id=units["grid_id"].astype(str))
    mem = unit_members.assign(unit_id=unit_members["unit_id"].astype(str))
    vul = None
    if vulnerable is not None:
        vul = vulnerable.assign(building_id=vulnerable["building_id"].astype(str))
    done: list[Ctx] = []
    communities = community_grids(g, bld, p)
    for cid, grid_ids, person_rows in communities:
        gc = g[g["grid_id"].isin(grid_ids)]
        bc = bld[bld["grid_id"].isin(grid_ids)]
        uc = u[u["grid_id"].isin(grid_ids)]
        ctx = _staff_community(
            p.iloc[person_rows].reset_index(drop=True),
            gc,
            uc,
            mem[mem["unit_id"].isin(uc["unit_id"])],
            bc,
            None if vul is None else vul[vul["building_id"].isin(bc.index)],
            cfg=cfg,
            seed=seed,
            distance_fn=distance_fn,
            max_worker_distance_m=float(max_worker_distance_m),
            volunteer_capacity_households=int(volunteer_capacity_households),
        )
        if cid is not None and len(communities) > 1:
            ctx.flags[:] = [f"community {cid}: {f}" for f in ctx.flags]
        done.append(ctx)
    return _result(
        done, g, units, flags, cfg, "straight_line" if distance_fn is None else "network"
    )


def community_grids(
    g: pd.DataFrame, bld: pd.DataFrame, p: pd.DataFrame
) -> list[tuple[str | None, list[str], np.ndarray]]:
    """The communities staffed one by one: ``(community_id, grid ids, rows of p)``.

    A person belongs to the community of the grid of their home (of the home building's
    ``community_id`` when that grid is not planned); grids without ``community_id`` make one
    community (``None``).
    """
    if "community_id" not in g.columns or len(g) == 0:
        return [(None, g["grid_id"].tolist(), np.arange(len(p)))]
    comm_of_grid = dict(zip(g["grid_id"], g["community_id"].astype(str), strict=True))
    home_grid = bld["grid_id"].reindex(p["building_id"]).to_numpy(dtype=object)
    home_comm = np.array([comm_of_grid.get(str(x)) for x in home_grid], dtype=object)
    if "community_id" in bld.columns:
        fallback = bld["community_id"].reindex(p["building_id"]).to_numpy(dtype=object)
        missing = pd.isna(home_comm)
        home_comm[missing] = [None if pd.isna(c) else str(c) for c in fallback[missing]]
    out = []
    for cid in sorted(set(comm_of_grid.values())):
        grid_ids = sorted(k for k, v in comm_of_grid.items() if v == cid)
        out.append((cid, grid_ids, np.flatnonzero(home_comm == cid)))
    return out


def _staff_community(
    p: pd.DataFrame,
    g: gpd.GeoDataFrame,
    units: pd.DataFrame,
    unit_members: pd.DataFrame,
    bld: pd.DataFrame,
    vulnerable: pd.DataFrame | None,
    *,
    cfg: Config,
    seed: int,
    distance_fn: DistanceFn | None,
    max_worker_distance_m: float,
    volunteer_capacity_households: int,
) -> Ctx:
    """Fill the posts of one community's grids from the people who live in it (the whole
    hierarchy of the module docstring); the filled context."""
    st = cfg.staffing
    n = len(p)
    centres = shapely.centroid(np.asarray(bld.loc[p["building_id"], "geometry"].values))
    xy = shapely.get_coordinates(centres) if n else np.zeros((0, 2))
    grid_index = {gid: i for i, gid in enumerate(g["grid_id"])}
    home_grid = [grid_index.get(str(x), -1) for x in bld.loc[p["building_id"], "grid_id"]]
    entrance = (
        np.array([_entrance(v) for v in p["entrance"]], dtype=object)
        if "entrance" in p
        else np.full(n, None, dtype=object)
    )
    ctx = Ctx(
        cfg=cfg,
        seed=seed,
        pid=p["person_id"].to_numpy(dtype=object),
        home=p["building_id"].to_numpy(dtype=object),
        home_grid=np.asarray(home_grid, dtype=np.int64),
        xy=xy,
        party=as_bool(p["party_member"]) if "party_member" in p else np.zeros(n, bool),
        roles=[split(v) for v in p.get("roles", pd.Series([None] * n))],
        full_time=as_bool(p["full_time"]) if "full_time" in p else np.zeros(n, bool),
        skills=[split(v) for v in p.get("skills", pd.Series([None] * n))],
        capacity=opt_num(p.get("capacity_households"), n),
        entrance=entrance,
        floor=opt_num(p.get("floor"), n),
        grid_ids=g["grid_id"].to_numpy(dtype=object),
        grid_geom=np.asarray(g.geometry.values),
        grid_rep=grid_targets(g, bld),
        grid_hh=pd.to_numeric(g["households"]).fillna(0).to_numpy(dtype=np.int64),
        distance_fn=distance_fn,
    )
    # the hierarchy, most important post first: a person is taken by a lower post only when
    # no higher one needs them (see the module docstring)
    heads_party, heads_total = _grid_heads(ctx)
    spare = _grid_workers(ctx, heads_party, heads_total, max_worker_distance_m)
    if st.unit_head_may_be_building_head:
        # a unit head may also head the building: the two posts never compete for a person
        _unit_heads(ctx, units, unit_members, bld)
        _building_heads(ctx, bld)
    else:
        _building_heads(ctx, bld)
        _unit_heads(ctx, units, unit_members, bld)
    _restore_spare_workers(ctx, spare)
    _check_party_share(ctx)
    _volunteers(ctx, vulnerable, bld, volunteer_capacity_households)
    return ctx


def _tier_resident(ctx: Ctx, i: int, *, doubling: bool, ignore_held: bool = False) -> int | None:
    """Preference tier of person ``i`` for a resident post (unit or building head).

    ``unit_head`` volunteers first, then party members and other residents who signed up for
    nothing else; people who signed up for other posts are kept for them unless they also
    offered ``unit_head`` (last) or several posts are allowed. ``ignore_held``: as if no one
    held a post yet (the eligibility behind the matching bound).
    """
    roles = ctx.roles[i]
    multi = ctx.cfg.staffing.allow_multiple_roles
    if i in ctx.held and not multi and not ignore_held:
        return 3 if doubling else None
    if "unit_head" in roles:
        return 4 if roles & GRID_ROLES else 0
    if roles:
        return 5 if multi else None
    return 1 if ctx.party[i] else 2


def _unit_heads(ctx: Ctx, units: pd.DataFrame, members: pd.DataFrame, bld: pd.DataFrame) -> None:
    u = units.assign(unit_id=units["unit_id"].astype(str)).sort_values("unit_id")
    uid = u["unit_id"].to_numpy(dtype=object)
    uindex = {x: i for i, x in enumerate(uid)}
    mem = members.assign(
        unit_id=members["unit_id"].astype(str), building_id=members["building_id"].astype(str)
    )
    mem = mem[mem["unit_id"].isin(uindex)].reset_index(drop=True)
    by_building: dict[str, list[int]] = {}
    for i, b in enumerate(ctx.home):
        by_building.setdefault(str(b), []).append(i)
    # every (member row, resident) pair, then the entrance and floor filters, vectorised
    row_of, person_of = [], []
    for k, b in enumerate(mem["building_id"].tolist()):
        for i in by_building.get(b, []):
            row_of.append(k)
            person_of.append(i)
    rk = np.asarray(row_of, dtype=np.int64)
    pi = np.asarray(person_of, dtype=np.int64)
    ent = (
        np.array([_entrance(v) for v in mem["entrance"]], dtype=object)
        if ("entrance" in mem)
        else np.full(len(mem), None, dtype=object)
    )
    f0 = opt_num(mem.get("floor_from"), len(mem))
    f1 = opt_num(mem.get("floor_to"), len(mem))
    ok = np.ones(len(rk), dtype=bool)
    if len(rk):
        pe, ue = ctx.entrance[pi], ent[rk]
        known = np.array(
            [a is not None and b is not None for a, b in zip(pe, ue, strict=True)], dtype=bool
        )
        ok &= ~known | (pe == ue)
        fl = ctx.floor[pi]
        banded = ~np.isnan(fl) & ~np.isnan(f0[rk])
        ok &= ~banded | ((f0[rk] <= fl) & (fl <= f1[rk]))
    ti = np.array([uindex[x] for x in mem["unit_id"]], dtype=np.int64)[rk[ok]] if len(rk) else rk
    pi = pi[ok]
    pairs = np.unique(np.stack([ti, pi], axis=1), axis=0) if len(pi) else np.zeros((0, 2), int)
    inside: dict[int, list[int]] = {}  # unit -> roster people living in it
    for t, i in pairs.tolist():
        inside.setdefault(t, []).append(i)
    tiers = np.array(
        [
            -1 if (x := _tier_resident(ctx, i, doubling=False)) is None else x
            for i in range(len(ctx.pid))
        ],
        dtype=np.int64,
    )
    able = np.array(
        [
            _tier_resident(ctx, i, doubling=False, ignore_held=True) is not None
            for i in range(len(ctx.pid))
        ],
        dtype=bool,
    )
    every = pairs[able[pairs[:, 1]]] if len(pairs) else pairs  # ignoring posts held
    pairs = pairs[tiers[pairs[:, 1]] >= 0] if len(pairs) else pairs
    pt, pp = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    # distance to the unit (0 inside) is reported; the cost prefers the resident nearest the
    # unit's centre, so a unit of several houses is headed from its middle
    has_geom = "geometry" in u and len(u) and len(pt)
    dist = np.zeros(len(pt))
    central = np.zeros(len(pt))
    if has_geom:
        ugeom = np.asarray(u.geometry.values)
        homes = shapely.points(ctx.xy[pp])
        valid = ~shapely.is_missing(ugeom[pt]) & ~shapely.is_empty(ugeom[pt])
        dist[valid] = shapely.distance(homes[valid], ugeom[pt][valid])
        central[valid] = shapely.distance(homes[valid], shapely.centroid(ugeom[pt][valid]))
    cost = tiers[pp] * TIER + np.round(central).astype(np.int64)
    match, info = solve_matching(
        "unit_heads",
        len(uid),
        len(ctx.pid),
        pt,
        pp,
        cost,
        time_limit=ctx.cfg.staffing.time_limit_s,
        seed=ctx.seed,
    )
    ctx.record("unit_heads", info)
    check = check_matching_posts(
        "unit_heads",
        len(uid),
        len(ctx.pid),
        every[:, 0].astype(np.int64),
        every[:, 1].astype(np.int64),
        match,
        tiers >= 0,
    )
    ctx.posts["unit_head"] = check.counts()
    dist_of = {(int(a), int(b)): float(d) for a, b, d in zip(pt, pp, dist, strict=True)}
    hh = pd.to_numeric(u["households"]).fillna(0).to_numpy(dtype=np.int64)
    for t, i in enumerate(match.tolist()):
        if i >= 0:
            ctx.give(i, "unit_head", str(uid[t]), dist_of[(t, i)], int(hh[t]), "straight_line")
    vacant = [t for t in range(len(uid)) if match[t] < 0]
    if vacant:
        rows_of: dict[str, list[dict[Any, Any]]] = {}
        for rec in mem.to_dict("records"):
            rows_of.setdefault(rec["unit_id"], []).append(rec)
        for t in vacant:
            text, code, params = _why_unit(
                ctx,
                str(uid[t]),
                rows_of.get(uid[t], []),
                by_building,
                inside.get(t, []),
                check.kind.get(t, ""),
                check.blamed.get(t),
            )
            ctx.vacancies.append(vacancy("unit_head", str(uid[t]), text, code, params))


def vacancy(
    role: str, target: str, reason: str, code: str, params: dict[str, Any]
) -> dict[str, str]:
    """One row of ``vacancies``: the English ``reason`` and, for a reader in any language,
    ``reason_code`` with its parameters as JSON (``reason_params``; rendered through the label
    table by :func:`gridplan.i18n.vacancy_reason`)."""
    return {
        "role": role,
        "target_id": target,
        "reason": reason,
        "reason_code": code,
        "reason_params": json.dumps(params, ensure_ascii=False, sort_keys=True),
    }


def _posts_of(ctx: Ctx, i: int) -> list[list[str]]:
    """The posts person ``i`` holds, as ``[role, target]`` pairs."""
    return [[str(r), str(tgt)] for r, tgt in ctx.held.get(i, [])]


def _why_unit(
    ctx: Ctx,
    unit: str,
    rows: list[dict[Any, Any]],
    by_building: dict[str, list[int]],
    residents: list[int],
    kind: str = "",
    blamed: int | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """Why a unit has no head: the English sentence, the reason code and its parameters."""
    if not rows:
        return (
            f"unit {unit}: no resident volunteer (unit_members lists no building for it)",
            "no_members",
            {},
        )
    places = []
    in_buildings: list[int] = []
    for r in rows:
        ent = _entrance(r.get("entrance"))
        f0, f1 = r.get("floor_from"), r.get("floor_to")
        floors = ""
        if f0 is not None and f1 is not None and not pd.isna(f0) and not pd.isna(f1):
            floors = f" floors {int(f0)}-{int(f1)}"
        places.append(f"{r['building_id']}" + ("" if ent is None else f" entrance {ent}") + floors)
        in_buildings += by_building.get(str(r["building_id"]), [])
    where = ", ".join(dict.fromkeys(places))
    buildings = list(dict.fromkeys(str(r["building_id"]) for r in rows))
    if not in_buildings:
        return (
            f"unit {unit}: no resident volunteer (no one on the roster lives in {where})",
            "no_resident",
            {"buildings": buildings},
        )
    if not residents:
        ids = [str(ctx.pid[i]) for i in sorted(set(in_buildings))[:3]]
        return (
            f"unit {unit}: no resident volunteer in its own entrance and floors ({where}); "
            f"the roster's residents of the building ({', '.join(ids)}) live in other "
            "entrances or floors; recruit one here",
            "wrong_entrance",
            {"buildings": buildings, "people": ids},
        )
    hint = (
        ""
        if ctx.cfg.staffing.allow_multiple_roles
        else (" or allow [staffing] allow_multiple_roles")
    )
    if kind == HIGHER_POST and blamed is not None:
        # true by the bound: the unit heads can be rearranged to head this unit too, but only
        # by taking someone who holds a more important post
        return (
            f"unit {unit}: no resident volunteer free; it could be headed if "
            f"{ctx.pid[blamed]} ({ctx.holding(blamed)}) were free, but that is a more "
            f"important post; recruit another resident{hint}",
            "higher_post",
            {"person": str(ctx.pid[blamed]), "posts": _posts_of(ctx, blamed)},
        )
    # same role: the residents able to head it are all needed as unit heads (or kept for the
    # posts they signed up for); people holding a more important post are not blamed here
    busy = [i for i in residents if any(r == "unit_head" for r, _ in ctx.held.get(i, []))]
    reserved = [
        i
        for i in residents
        if i not in busy
        and "unit_head" not in ctx.roles[i]
        and ctx.roles[i]
        and not ctx.cfg.staffing.allow_multiple_roles
    ]
    parts = [f"{ctx.pid[i]} is already {ctx.holding(i)}" for i in busy[:3]]
    parts += [f"{ctx.pid[i]} signed up for other posts" for i in reserved[: max(0, 3 - len(parts))]]
    if not parts:
        parts = [f"its {len(residents)} residents on the roster are needed for other units"]
    named = [str(ctx.pid[i]) for i in [*busy, *reserved][:3]]
    if not named:
        named = [str(ctx.pid[i]) for i in residents[:3]]
    return (
        f"unit {unit}: no resident volunteer free ({'; '.join(parts)}); recruit another "
        f"resident{hint}",
        "residents_busy",
        {"people": named, "n": len(residents)},
    )


def _building_heads(ctx: Ctx, bld: pd.DataFrame) -> None:
    st = ctx.cfg.staffing
    hh = pd.to_numeric(bld["households"]).fillna(0)
    big = sorted(str(b) for b in hh.index[hh >= st.building_head_min_households])
    bindex = {b: i for i, b in enumerate(big)}
    pt, pp, pc = [], [], []
    et, ep = [], []  # eligible ignoring posts held: the bound's graph
    for i, b in enumerate(ctx.home):
        t = bindex.get(str(b))
        if t is None:
            continue
        if _tier_resident(ctx, i, doubling=False, ignore_held=True) is not None:
            et.append(t)
            ep.append(i)
        doubling = st.unit_head_may_be_building_head and all(
            r == "unit_head" for r, _ in ctx.held.get(i, [])
        )
        tier = _tier_resident(ctx, i, doubling=doubling)
        if tier is not None:
            pt.append(t)
            pp.append(i)
            pc.append(tier)
    home_of: dict[str, list[int]] = {}
    for j, h in enumerate(ctx.home):
        home_of.setdefault(str(h), []).append(j)
    match, info = solve_matching(
        "building_heads",
        len(big),
        len(ctx.pid),
        np.array(pt, dtype=np.int64),
        np.array(pp, dtype=np.int64),
        np.array(pc, dtype=np.int64),
        time_limit=st.time_limit_s,
        seed=ctx.seed,
    )
    ctx.record("building_heads", info)
    free = np.zeros(len(ctx.pid), dtype=bool)
    free[np.asarray(pp, dtype=np.int64)] = True
    check = check_matching_posts(
        "building_heads",
        len(big),
        len(ctx.pid),
        np.array(et, dtype=np.int64),
        np.array(ep, dtype=np.int64),
        match,
        free,
    )
    ctx.posts["building_head"] = check.counts()
    for t, i in enumerate(match.tolist()):
        b = big[t]
        if i >= 0:
            ctx.give(i, "building_head", b, 0.0, int(hh[b]), "straight_line")
    for t, i in enumerate(match.tolist()):
        b = big[t]
        if i >= 0:
            continue
        residents = home_of.get(b, [])
        blamed = check.blamed.get(t)
        params: dict[str, Any] = {"households": int(hh[b])}
        if not residents:
            why = "no one on the roster lives there; recruit a resident"
            code = "building_no_resident"
        elif check.kind.get(t) == HIGHER_POST and blamed is not None:
            code = "higher_post"
            params.update(person=str(ctx.pid[blamed]), posts=_posts_of(ctx, blamed))
            why = (
                f"it could be headed if {ctx.pid[blamed]} ({ctx.holding(blamed)}) were free, "
                "but that is a more important post; recruit another resident"
            )
        else:
            # no resident was ever eligible: they signed up only for other posts
            who = "; ".join(
                f"{ctx.pid[j]} is " + (ctx.holding(j) or "kept for the post they signed up for")
                for j in residents[:3]
            )
            why = (
                f"its residents on the roster signed up only for other posts ({who}); recruit "
                "a resident who will head it"
            )
            code = "building_reserved"
            params["people"] = [str(ctx.pid[j]) for j in residents[:3]]
        text = f"building {b} ({int(hh[b])} households) has no building head: {why}"
        ctx.vacancies.append(vacancy("building_head", b, text, code, params))


def _grid_heads(ctx: Ctx) -> tuple[int, int]:
    st = ctx.cfg.staffing
    limit = float(st.max_head_distance_m)
    eligible = np.array(
        [
            "grid_head" in ctx.roles[i] and (ctx.party[i] or not st.grid_head_party_only)
            for i in range(len(ctx.pid))
        ],
        dtype=bool,
    )
    cand = np.array([i for i in np.flatnonzero(eligible) if ctx.free(int(i))], dtype=np.int64)
    pp, gg, dd = ctx.grid_distances(cand, limit)
    resident = ctx.home_grid[pp] == gg
    cost = np.round(dd).astype(np.int64) + np.where(resident, 0, int(limit) + 1)
    match, info = solve_matching(
        "grid_heads",
        len(ctx.grid_ids),
        len(ctx.pid),
        gg,
        pp,
        cost,
        person_party=ctx.party,
        min_party_share=st.min_party_share,
        time_limit=st.time_limit_s,
        seed=ctx.seed,
    )
    ctx.record("grid_heads", info)
    # the bound: every eligible person, whatever they hold (grid heads come first, so with one
    # post per person this is the same graph; a party share can still leave posts empty)
    ap, ag, _ = ctx.grid_distances(np.flatnonzero(eligible).astype(np.int64), limit)
    free = np.zeros(len(ctx.pid), dtype=bool)
    free[cand] = True
    check = check_matching_posts("grid_heads", len(ctx.grid_ids), len(ctx.pid), ag, ap, match, free)
    ctx.posts["grid_head"] = check.counts()
    if check.filled < check.possible and st.min_party_share <= 0:
        log.warning(
            "grid heads: %d filled but %d possible without a party share; vacant: %s",
            check.filled,
            check.possible,
            ", ".join(str(ctx.grid_ids[t]) for t in check.kind),
        )
    dist = {(int(a), int(b)): float(c) for a, b, c in zip(gg, pp, dd, strict=True)}
    for t, i in enumerate(match.tolist()):
        if i >= 0:
            ctx.give(i, "grid_head", str(ctx.grid_ids[t]), dist[(t, i)], int(ctx.grid_hh[t]))
    chosen = match[match >= 0]
    for t in np.flatnonzero(match < 0).tolist():
        left_out = _left_out_by_share(ctx, "grid_head", t, pp[gg == t], set(chosen.tolist()))
        text, code, params = _why_grid(
            ctx,
            t,
            "grid_head",
            np.flatnonzero(eligible),
            limit,
            share=st.min_party_share,
            higher=check.kind.get(t) == HIGHER_POST,
            left_out=left_out,
        )
        ctx.vacancies.append(vacancy("grid_head", str(ctx.grid_ids[t]), text, code, params))
    return int(ctx.party[chosen].sum()), len(chosen)


def _left_out_by_share(
    ctx: Ctx, role: str, t: int, candidates: np.ndarray, placed: set[int]
) -> list[int]:
    """The people in reach of grid ``t``'s vacant post whom only the party share kept out.

    Free candidates (``candidates``: eligible, within reach, free for the post) who are not
    party members and were given no post of the role (``placed``): without a party share the
    stage, which fills the most posts it can, would have taken one. A grid with any is
    recorded in ``ctx.share_vacant`` for the flag and warning of :func:`_check_party_share`.
    """
    if ctx.cfg.staffing.min_party_share <= 0:
        return []
    out = sorted(
        {int(i) for i in np.asarray(candidates).tolist() if not ctx.party[i] and i not in placed}
    )
    if out:
        ctx.share_vacant.setdefault(role, []).append(str(ctx.grid_ids[t]))
    return out


def _why_grid(
    ctx: Ctx,
    t: int,
    role: str,
    eligible: np.ndarray,
    limit: float,
    *,
    share: float = 0.0,
    higher: bool = False,
    left_out: list[int] | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """Why a grid has no grid head (worker): the English sentence, reason code, parameters."""
    gid = ctx.grid_ids[t]
    walk = ctx.distance_fn is not None
    words = "grid head" if role == "grid_head" else "grid worker"
    unit = "m" if ctx.distance_fn is None else "m on foot"
    if left_out:
        # the party share, not the roster, left the post empty: say so and name who
        who = ", ".join(str(ctx.pid[i]) for i in left_out[:3])
        more = f" and {len(left_out) - 3} more" if len(left_out) > 3 else ""
        one = len(left_out) == 1
        they = "not a party member," if one else "not party members,"
        was = "was" if one else "were"
        return (
            f"grid {gid} has no {words}: the party share (party members at least "
            f"{share:.0%} of grid heads and workers) cannot be kept with another non-member, "
            f"so {who}{more} ({they} within {_m(limit)} {unit}) {was} left out; recruit a "
            "party member near it or lower [staffing] min_party_share",
            "party_share",
            {
                "share": round(100 * share),
                "people": [str(ctx.pid[i]) for i in left_out[:3]],
                "n": len(left_out),
                "limit": round(limit),
            },
        )
    if len(eligible) == 0:
        extra = (
            " who is a party member"
            if (role == "grid_head" and ctx.cfg.staffing.grid_head_party_only)
            else ""
        )
        return (
            f"grid {gid} has no eligible {words}: no one on the roster has the {role} "
            f"role{extra}; add {role} people to the roster",
            "no_eligible",
            {"party": bool(extra)},
        )
    d = ctx.to_grid(eligible, t)
    order = np.lexsort((ctx.pid[eligible].astype(str), d))
    near = [int(eligible[k]) for k in order if d[k] <= limit]
    if not near:
        k = order[0]
        setting = "max_head_distance_m" if role == "grid_head" else "max_worker_distance_m"
        tail = (
            f"the nearest is {ctx.pid[eligible[k]]} at {_m(d[k])} {unit}"
            if np.isfinite(d[k])
            else "none can reach it on the walk network"
        )
        nearest: dict[str, Any] = (
            {"person": str(ctx.pid[eligible[k]]), "distance": round(float(d[k]))}
            if np.isfinite(d[k])
            else {}
        )
        return (
            f"grid {gid} has no eligible {words} within {_m(limit)} {unit}; {tail}; recruit "
            f"nearer or raise [staffing] {setting}",
            "out_of_reach" if nearest else "unreachable",
            {"limit": round(limit), "walk": walk, **nearest},
        )
    dist = dict(zip(eligible.tolist(), d.tolist(), strict=True))
    parts = []
    st = ctx.cfg.staffing
    for i in near[:3]:
        # people the party share left out are named by ``left_out`` above; here, someone
        # in reach who holds nothing could not take this post for another reason
        room = st.households_per_full_time_worker if np.isnan(ctx.capacity[i]) else ctx.capacity[i]
        if ctx.holding(i):
            held = ctx.holding(i)
        elif role == "grid_worker" and ctx.full_time[i] and room < ctx.grid_hh[t]:
            held = (
                f"a full-time worker with room for {int(room)} households "
                f"(the grid has {int(ctx.grid_hh[t])})"
            )
        elif role == "grid_worker" and "unit_head" in ctx.roles[i]:
            held = "held back for a unit head post"
        else:
            held = "needed elsewhere"
        parts.append(f"{ctx.pid[i]} at {_m(dist[i])} m is {held}")
    taken = "hold a more important post" if higher else "are taken"
    return (
        f"grid {gid} has no {words}: all {len(near)} eligible within {_m(limit)} {unit} "
        f"{taken} ({'; '.join(parts)}); recruit another {words} near it",
        "all_higher" if higher else "all_taken",
        {"n": len(near), "limit": round(limit), "people": [str(ctx.pid[i]) for i in near[:3]]},
    )


def _grid_workers(
    ctx: Ctx, heads_party: int, heads_total: int, limit: float
) -> list[tuple[int, int, float]]:
    """Full-time then part-time grid workers; returns the spare part-time workers held back.

    A grid's worker post is its first worker; further part-time workers are extra hands. An
    extra part-time worker who also offered ``unit_head`` is held back (not given the post yet)
    so the unit and building heads may take them; :func:`_restore_spare_workers` places those
    no unit or building took. With a party share only non-members are held back (their
    leaving can only raise the share).
    """
    st = ctx.cfg.staffing
    is_worker = np.array(["grid_worker" in r for r in ctx.roles], dtype=bool)
    free = np.array([ctx.free(i) for i in range(len(ctx.pid))], dtype=bool)
    full = np.flatnonzero(is_worker & ctx.full_time & free)
    part = np.flatnonzero(is_worker & ~ctx.full_time & free)
    fp, fg, fd = ctx.grid_distances(full, limit)
    cap = np.where(np.isnan(ctx.capacity), st.households_per_full_time_worker, ctx.capacity)
    cap = cap.astype(np.int64)
    ok = ctx.grid_hh[fg] <= cap[fp]
    fp, fg, fd = fp[ok], fg[ok], fd[ok]
    pp, pg, pd_ = ctx.grid_distances(part, limit)
    neighbours = _grid_neighbours(ctx.grid_geom)
    orphan = np.ones(len(ctx.grid_ids), dtype=bool)
    orphan[pg] = False
    # the grid heads are counted once in the party share: one who also works full-time (with
    # allow_multiple_roles) adds no one to it
    heads = np.array(
        [any(role == "grid_head" for role, _ in ctx.held.get(i, [])) for i in range(len(ctx.pid))],
        dtype=bool,
    )
    full_out, stages = solve_full_time(
        grid_households=ctx.grid_hh,
        grid_neighbours=neighbours,
        pairs=(fp, fg, np.round(fd)),
        capacity=cap,
        party=ctx.party,
        orphan=orphan,
        heads_party=heads_party,
        heads_total=heads_total,
        min_party_share=st.min_party_share,
        counted=heads,
        time_limit=st.time_limit_s,
        seed=ctx.seed,
    )
    open_grids = np.ones(len(ctx.grid_ids), dtype=bool)
    for _, t in full_out:
        open_grids[t] = False
    # people already among the heads and full-time workers, each counted once for the party
    # share (with allow_multiple_roles one person may be both)
    counted = {w for w, _ in full_out} | {
        i for i, held in ctx.held.items() if any(role == "grid_head" for role, _ in held)
    }
    part_out, part_stages = solve_part_time(
        n_grids=len(ctx.grid_ids),
        pairs=(pp, pg, np.round(pd_)),
        party=ctx.party,
        open_grids=open_grids,
        party_so_far=sum(bool(ctx.party[w]) for w in counted),
        total_so_far=len(counted),
        counted=np.isin(np.arange(len(ctx.pid)), sorted(counted)),
        min_party_share=st.min_party_share,
        distance_limit=limit,
    )
    n_covered = len({t for _, t in full_out} | {t for _, t in part_out})
    info = summarise(
        "grid_workers", "cp_sat+min_cost_flow", stages + part_stages, len(ctx.grid_ids), n_covered
    )
    ctx.record("grid_workers", info)
    fdist = {(int(a), int(b)): float(c) for a, b, c in zip(fp, fg, fd, strict=True)}
    pdist = {(int(a), int(b)): float(c) for a, b, c in zip(pp, pg, pd_, strict=True)}
    loads: dict[int, int] = {}
    for w, t in full_out:
        ctx.give(w, "grid_worker_full", str(ctx.grid_ids[t]), fdist[(w, t)], int(ctx.grid_hh[t]))
        loads[w] = loads.get(w, 0) + int(ctx.grid_hh[t])
    spare = _spare_part_time(ctx, full_out, part_out, pdist)
    held_back = {(w, t) for w, t, _ in spare}
    for w, t in part_out:
        if (w, t) not in held_back:
            ctx.give(
                w, "grid_worker_part", str(ctx.grid_ids[t]), pdist[(w, t)], int(ctx.grid_hh[t])
            )
    if loads:
        ratios = [loads[w] / max(int(cap[w]), 1) for w in loads]
        ctx.metrics["grid_workers"]["heaviest_load_households"] = max(loads.values())
        ctx.metrics["grid_workers"]["heaviest_load_share_of_capacity"] = round(max(ratios), 4)
        ctx.metrics["grid_workers"]["grids_per_full_time_worker"] = round(
            len(full_out) / len(loads), 3
        )
    covered = {t for _, t in full_out} | {t for _, t in part_out}
    eligible = np.flatnonzero(is_worker)
    kind = _worker_posts(ctx, is_worker, free, cap, limit, covered)
    placed = {w for w, _ in full_out} | {w for w, _ in part_out}
    in_reach = np.concatenate([fp, pp]), np.concatenate([fg, pg])
    for t in range(len(ctx.grid_ids)):
        if t not in covered:
            left_out = _left_out_by_share(
                ctx, "grid_worker", t, in_reach[0][in_reach[1] == t], placed
            )
            if left_out and kind.get(t) == SAME_ROLE:
                kind[t] = OTHER
            text, code, params = _why_grid(
                ctx,
                t,
                "grid_worker",
                eligible,
                limit,
                share=st.min_party_share,
                higher=kind.get(t) == HIGHER_POST,
                left_out=left_out,
            )
            ctx.vacancies.append(vacancy("grid_worker", str(ctx.grid_ids[t]), text, code, params))
    kinds = list(kind.values())
    ctx.posts["grid_worker"]["vacant_same_role"] = kinds.count(SAME_ROLE)
    ctx.posts["grid_worker"]["vacant_other"] = kinds.count(OTHER)
    return spare


def _worker_posts(
    ctx: Ctx,
    is_worker: np.ndarray,
    free: np.ndarray,
    cap: np.ndarray,
    limit: float,
    covered: set[int],
) -> dict[int, str]:
    """Grids with a worker against the most possible, and the kind of each uncovered grid.

    The bound is an upper one (a max flow in which a full-time worker takes as many reachable
    grids as their capacity fits, adjacency ignored), on every eligible worker whatever they
    hold. An uncovered grid is blamed on a higher post only when every worker in its reach
    holds a more important post (is a grid head).
    """
    full = np.flatnonzero(is_worker & ctx.full_time)
    part = np.flatnonzero(is_worker & ~ctx.full_time)
    fp, fg, _ = ctx.grid_distances(full, limit)
    ok = ctx.grid_hh[fg] <= cap[fp]
    fp, fg = fp[ok], fg[ok]
    pp, pg, _ = ctx.grid_distances(part, limit)
    each = np.ones(len(ctx.pid), dtype=np.int64)
    for w in np.unique(fp).tolist():
        sizes = np.sort(ctx.grid_hh[fg[fp == w]])
        each[w] = max(1, int(np.sum(np.cumsum(sizes) <= cap[w])))
    aw, ag = np.concatenate([fp, pp]), np.concatenate([fg, pg])
    n = len(ctx.grid_ids)
    possible = worker_bound(n, (aw, ag), each)
    kind: dict[int, str] = {}
    for t in range(n):
        if t in covered:
            continue
        who = aw[ag == t]
        if len(who) == 0:
            kind[t] = OUT_OF_REACH
        elif not free[who].any():
            kind[t] = HIGHER_POST
        else:
            kind[t] = SAME_ROLE
    kinds = list(kind.values())
    ctx.posts["grid_worker"] = {
        "posts": n,
        "filled": len(covered),
        "possible": possible,
        "bound": "upper",
        "vacant": n - len(covered),
        "vacant_higher_post": kinds.count(HIGHER_POST),
        "vacant_same_role": kinds.count(SAME_ROLE),
        "vacant_out_of_reach": kinds.count(OUT_OF_REACH),
        "vacant_other": 0,
    }
    if len(covered) > possible:
        log.warning(
            "grid workers: %d grids covered but the bound is %d; the bound is wrong",
            len(covered),
            possible,
        )
    return kind


def _spare_part_time(
    ctx: Ctx,
    full_out: list[tuple[int, int]],
    part_out: list[tuple[int, int]],
    pdist: dict[tuple[int, int], float],
) -> list[tuple[int, int, float]]:
    """Extra part-time workers who also offered ``unit_head``: (worker, grid, metres)."""
    st = ctx.cfg.staffing
    if st.allow_multiple_roles:
        return []
    with_full = {t for _, t in full_out}
    by_grid: dict[int, list[int]] = {}
    for w, t in part_out:
        by_grid.setdefault(t, []).append(w)
    spare: list[tuple[int, int, float]] = []
    for t, ws in sorted(by_grid.items()):
        offer = [
            w
            for w in ws
            if "unit_head" in ctx.roles[w] and not (st.min_party_share > 0 and ctx.party[w])
        ]
        offer.sort(key=lambda w: (pdist[(w, t)], str(ctx.pid[w])))
        if t not in with_full and len(offer) == len(ws):
            offer = offer[1:]  # the nearest keeps the grid's worker post
        spare += [(w, t, pdist[(w, t)]) for w in offer]
    return spare


def _restore_spare_workers(ctx: Ctx, spare: list[tuple[int, int, float]]) -> None:
    """Place the spare part-time workers no unit or building head post took."""
    back = 0
    for w, t, d in spare:
        if ctx.free(w):
            ctx.give(w, "grid_worker_part", str(ctx.grid_ids[t]), d, int(ctx.grid_hh[t]))
            back += 1
    if spare:
        log.info(
            "staffing: %d spare part-time workers offered to units, %d back to their grids",
            len(spare),
            back,
        )


def _check_party_share(ctx: Ctx) -> None:
    """Say where the party share left grid posts empty, and check it holds (once a person).

    Every stage keeps the share by leaving posts empty rather than taking a non-member, so
    the share always holds; the posts it cost are named in a flag and a warning. Should the
    heads and workers chosen still fall short (a model bug), a flag and a warning name the
    grids of the non-members instead of reporting the plan as if it kept the share.
    """
    share = ctx.cfg.staffing.min_party_share
    if share <= 0:
        return
    for role, words in (("grid_head", "grid heads"), ("grid_worker", "grid workers")):
        grids = sorted(set(ctx.share_vacant.get(role, [])))
        if grids:
            names = ", ".join(grids[:5]) + (", ..." if len(grids) > 5 else "")
            log.warning(
                "staffing: the party share of %s left %d grids without %s: %s",
                f"{share:.0%}",
                len(grids),
                words,
                ", ".join(grids),
            )
            ctx.flags.append(
                f"{len(grids)} grids have no {words[:-1]} only to keep party members at least "
                f"{share:.0%} of grid heads and workers ({names}); non-members in reach were "
                "left out: recruit party members there or lower [staffing] min_party_share"
            )
    grid_roles = ("grid_head", "grid_worker_full", "grid_worker_part")
    people = sorted(i for i, held in ctx.held.items() if any(r in grid_roles for r, _ in held))
    if not people:
        return
    n_party = int(ctx.party[people].sum())
    if _PERMILLE * n_party >= round(share * _PERMILLE) * len(people):
        return
    grids = sorted(
        {t for i in people if not ctx.party[i] for r, t in ctx.held[i] if r in grid_roles}
    )
    log.warning(
        "staffing: party members are %d of the %d grid heads and workers, under the minimum "
        "share %s; grids with non-members: %s",
        n_party,
        len(people),
        f"{share:.0%}",
        ", ".join(grids),
    )
    ctx.flags.append(
        f"party share NOT kept: party members are {n_party} of the {len(people)} grid heads "
        f"and workers, under [staffing] min_party_share {share:.0%}; grids with non-members: "
        f"{', '.join(grids[:5])}{', ...' if len(grids) > 5 else ''}"
    )


def _volunteers(
    ctx: Ctx, vulnerable: pd.DataFrame | None, bld: pd.DataFrame, default_cap: int
) -> None:
    st = ctx.cfg.staffing
    kinds = sorted(st.skill_needs)
    n_grids = len(ctx.grid_ids)
    needs = np.zeros((n_grids, len(kinds)), dtype=np.int64)
    if vulnerable is not None and len(vulnerable):
        v = vulnerable.assign(building_id=vulnerable["building_id"].astype(str))
        if "kind" not in v:
            v = v.assign(kind="elderly_alone")
            ctx.flags.append("vulnerable: no kind column; every household read as elderly_alone")
        grid_of = bld["grid_id"].reindex(v["building_id"]).to_numpy(dtype=object)
        unknown_kinds = sorted(set(v["kind"].astype(str)) - set(kinds))
        if unknown_kinds:
            ctx.flags.append(
                f"vulnerable kinds {', '.join(unknown_kinds)} have no skills in [staffing] "
                "skill_needs and get no volunteer; add them to the table"
            )
        gindex = {str(x): i for i, x in enumerate(ctx.grid_ids)}
        for gid, kind, h in zip(grid_of, v["kind"].astype(str), v["households"], strict=True):
            t = gindex.get(str(gid))
            if t is not None and kind in kinds and not pd.isna(h):
                needs[t, kinds.index(kind)] += int(h)
    vols = np.array(
        [
            i
            for i in range(len(ctx.pid))
            if "volunteer" in ctx.roles[i]
            and ctx.free(i)
            and any(ctx.skills[i] & set(st.skill_needs[k]) for k in kinds)
        ],
        dtype=np.int64,
    )
    ok = np.array(
        [[bool(ctx.skills[i] & set(st.skill_needs[k])) for k in kinds] for i in vols], dtype=bool
    ).reshape(len(vols), len(kinds))
    vp, vg, vd = ctx.grid_distances(vols, float(st.max_volunteer_distance_m))
    lv = np.searchsorted(vols, vp)  # volunteer's position in ``vols`` (sorted)
    if len(lv):
        useful = (ok[lv] & (needs[vg] > 0)).any(axis=1)
        lv, vg, vd = lv[useful], vg[useful], vd[useful]
    cap = np.array(
        [default_cap if np.isnan(ctx.capacity[i]) else int(ctx.capacity[i]) for i in vols],
        dtype=np.int64,
    )
    out, info = solve_volunteers(
        needs=needs,
        kind_skills_ok=ok,
        pairs=(lv, vg, np.round(vd)),
        capacity=cap,
    )
    ctx.record("volunteers", info)
    dist = {(int(a), int(b)): float(c) for a, b, c in zip(lv, vg, vd, strict=True)}
    served = np.zeros_like(needs)
    per_post: dict[tuple[int, int], int] = {}
    for j, t, k, h in out:
        served[t, k] += h
        per_post[(j, t)] = per_post.get((j, t), 0) + h
    for (j, t), h in sorted(per_post.items()):
        ctx.give(int(vols[j]), "volunteer", str(ctx.grid_ids[t]), dist[(j, t)], h)
    ctx.metrics["volunteers"]["households_in_need"] = int(needs.sum())
    ctx.metrics["volunteers"]["households_served"] = int(served.sum())
    limit = float(st.max_volunteer_distance_m)
    for t, k in zip(*np.nonzero(served < needs), strict=True):
        kind = kinds[k]
        skills = st.skill_needs[kind]
        gid = ctx.grid_ids[t]
        head = (
            f"grid {gid}: {int(needs[t, k] - served[t, k])} of {int(needs[t, k])} {kind} "
            f"households have no volunteer ({' or '.join(skills)})"
        )
        able = np.array(
            [
                i
                for i in range(len(ctx.pid))
                if "volunteer" in ctx.roles[i] and ctx.skills[i] & set(skills)
            ],
            dtype=np.int64,
        )
        params: dict[str, Any] = {
            "kind": kind,
            "missing": int(needs[t, k] - served[t, k]),
            "needed": int(needs[t, k]),
            "skills": list(skills),
            "limit": round(limit),
        }
        if len(able) == 0:
            why = "; the roster has no volunteer with these skills"
            code = "volunteer_no_skill"
        else:
            d = ctx.to_grid(able, int(t))
            near = int(np.sum(d <= limit))
            if near == 0:
                j = int(np.lexsort((ctx.pid[able].astype(str), d))[0])
                why = f" within {_m(limit)} m; the nearest is {ctx.pid[able[j]]} at {_m(d[j])} m"
                code = "volunteer_out_of_reach"
                params.update(person=str(ctx.pid[able[j]]), distance=round(float(d[j])))
            else:
                why = f"; the {near} such volunteers within {_m(limit)} m are fully used"
                code = "volunteer_full"
                params["n"] = near
        ctx.vacancies.append(vacancy("volunteer", str(gid), head + why, code, params))


def _result(
    done: list[Ctx],
    g: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    flags: list[str],
    cfg: Config,
    kind: str,
) -> StaffingResult:
    """The staffing of every community of ``done`` as one result: the posts, the grids and
    units with their staff, the vacancies, merged metrics and the flags (``flags`` first)."""
    cols = ["person_id", "role", "target_id", "distance_m", "distance_kind", "households"]
    a = pd.DataFrame([r for ctx in done for r in ctx.rows], columns=cols)
    a["_r"] = a["role"].map({r: i for i, r in enumerate(ROLES)})
    a = a.sort_values(["_r", "target_id", "person_id"], kind="stable").drop(columns="_r")
    a = a.reset_index(drop=True).astype({"distance_m": "float64", "households": "int64"})
    grids = g.copy()
    by_grid = a.groupby("target_id")
    heads = a[a["role"] == "grid_head"].set_index("target_id")["person_id"]
    grids["head_id"] = grids["grid_id"].map(heads).astype(object)
    workers = a[a["role"].isin(["grid_worker_full", "grid_worker_part"])]
    wl = workers.groupby("target_id")["person_id"].agg(lambda s: ";".join(sorted(s)))
    grids["worker_ids"] = [wl.get(x, "") for x in grids["grid_id"]]
    grids["n_workers"] = grids["grid_id"].map(workers.groupby("target_id").size()).fillna(0)
    grids["n_workers"] = grids["n_workers"].astype("int64")
    full = workers[workers["role"] == "grid_worker_full"].groupby("target_id").size()
    grids["n_full_time"] = grids["grid_id"].map(full).fillna(0).astype("int64")
    vl = (
        a[a["role"] == "volunteer"]
        .groupby("target_id")["person_id"]
        .agg(lambda s: ";".join(sorted(s)))
    )
    grids["volunteer_ids"] = [vl.get(x, "") for x in grids["grid_id"]]
    del by_grid
    u = units.copy()
    uh = a[a["role"] == "unit_head"].set_index("target_id")["person_id"]
    u["head_id"] = u["unit_id"].astype(str).map(uh).astype(object)
    vac = pd.DataFrame(
        [v for ctx in done for v in ctx.vacancies],
        columns=["role", "target_id", "reason", "reason_code", "reason_params"],
    )
    order = {
        r: i
        for i, r in enumerate(
            ["grid_head", "grid_worker", "unit_head", "building_head", "volunteer"]
        )
    }
    vac = vac.sort_values(
        ["role", "target_id"], key=lambda s: s.map(order) if s.name == "role" else s, kind="stable"
    ).reset_index(drop=True)
    not_merged: list[str] = []
    parts = [dict(ctx.metrics, posts=ctx.posts) for ctx in done]
    m = merge_staffing_metrics(parts, not_merged) if parts else {"posts": {}}
    if not_merged:
        m["not_merged"] = sorted(set(not_merged))
    m["distance_kind"] = kind
    pid_party = {pid: party for ctx in done for pid, party in zip(ctx.pid, ctx.party, strict=True)}
    for name, roles in (
        ("grid_heads", ["grid_head"]),
        ("grid_workers", ["grid_worker_full", "grid_worker_part"]),
        ("heads_and_workers", ["grid_head", "grid_worker_full", "grid_worker_part"]),
    ):
        ids = a.loc[a["role"].isin(roles), "person_id"].unique()
        share = float(np.mean([pid_party[i] for i in ids])) if len(ids) else 0.0
        m[f"party_share_{name}"] = round(share, 4)
    m["min_party_share"] = cfg.staffing.min_party_share
    m["distance_by_role"] = {
        r: {
            "n": len(s),
            "total_m": round(float(s.sum()), 1),
            "mean_m": round(float(s.mean()), 1) if len(s) else 0.0,
        }
        for r, s in a.groupby("role")["distance_m"]
    }
    posts = m.get("posts", {})
    m["posts"] = {r: dict(posts[r]) for r in POST_ROLES if r in posts}
    m["n_assignments"] = len(a)
    m["n_people_with_posts"] = int(a["person_id"].nunique())
    m["n_vacancies"] = len(vac)
    flags = [*flags, *(f for ctx in done for f in ctx.flags)]
    if kind == "straight_line":
        flags.append("staffing distances are straight-line (no walk network given)")
    for role, words in (
        ("grid_head", "grids have no grid head"),
        ("grid_worker", "grids have no grid worker"),
        ("unit_head", "units have no unit head"),
        ("building_head", "buildings have no building head"),
        ("volunteer", "vulnerable needs (grid and kind) lack volunteers"),
    ):
        nv = int((vac["role"] == role).sum())
        if nv:
            vids = [str(x) for x in vac.loc[vac["role"] == role, "target_id"]]
            flags.append(
                f"{nv} {words} ({', '.join(vids[:5])}{', ...' if nv > 5 else ''}); "
                "see the vacancies for each reason"
            )
    for role, words in (
        ("grid_worker", "grids have no grid worker"),
        ("building_head", "buildings have no building head"),
        ("unit_head", "units have no unit head"),
    ):
        n_higher = int(m["posts"].get(role, {}).get("vacant_higher_post", 0))
        if n_higher:
            flags.append(
                f"{n_higher} {words} only because the people who could take the post hold a "
                "more important one"
            )
    log.info("staffing: %d posts filled, %d vacancies", len(a), len(vac))
    return StaffingResult(
        assignments=a, grids=grids, units=u, vacancies=vac, metrics=m, flags=flags
    )
