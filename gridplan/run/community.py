"""Grids and units community by community, on whichever :class:`~gridplan.run.runner.Runner`.

Each community is planned on its own:

- **Partition and units** run per community (:func:`plan_community`): a task gets the
  community's polygon, its buildings and the roads and barriers whose geometry touches the
  community's bounding box (nothing farther can change its grids or units), and returns its
  grids, buildings with grid ids, building parts, units and unit members
  (:class:`CommunityPlan`). :func:`plan_communities` runs those tasks and merges them into the
  :class:`GridStage` that :func:`gridplan.run.pipeline.plan_stages` goes on with.
- **Catchments** (isochrones: the most expensive part of the coverage stage) are computed per
  facility category on a parallel runner (:func:`catchments_on`); every facility's isochrone
  depends only on the facility and the network, so the rows are the same, put back in the
  sequential order.

Why the results do not depend on the runner: :func:`gridplan.partition.partition_grids` seeds
each community's search from the plan seed and the community's id
(:func:`gridplan.partition.community_seed`), never from its position, and units are formed grid
by grid; so a community planned alone on a worker gets exactly the grids and units it gets in
one process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridplan import _errors
from gridplan._errors import DataError, GridplanError
from gridplan._progress import Progress, tell
from gridplan.dataset import Dataset
from gridplan.output.planfile import PlanExtras
from gridplan.partition.result import size_summary
from gridplan.run.runner import Runner
from gridplan.settings import DEFAULT, Config

if TYPE_CHECKING:
    from gridplan.network.graph import WalkNetwork

__all__ = [
    "CommunityPlan",
    "GridStage",
    "catchments_on",
    "plan_communities",
    "plan_community",
    "polsby_popper",
]

logger = logging.getLogger(__name__)

#: Facilities per catchment task on a parallel runner (a category with more is split).
_CATCHMENT_CHUNK = 48


@dataclass
class GridStage:
    """What the grid and unit stages produced, however they ran (per community on a runner,
    as a re-plan, or taken from an earlier plan)."""

    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    building_parts: pd.DataFrame
    units: gpd.GeoDataFrame | None = None
    unit_members: pd.DataFrame | None = None
    #: stage name ("partition", "units") -> metrics / flags
    metrics: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    #: extra metadata blocks ("replan", "parallel", "grids_from") and layers ("moved")
    metadata: PlanExtras = field(default_factory=lambda: PlanExtras())
    layers: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: seconds of the stages that made it (into the plan's ``timings_s``)
    timings: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- one community


@dataclass(frozen=True)
class CommunityPlan:
    """Grids and units of one community (the unit of parallel work).

    Attributes
    ----------
    community_id
        The community.
    grids
        Its grids (the rows :func:`gridplan.partition.partition_grids` gives).
    buildings
        Its buildings with ``grid_id``.
    building_parts
        Building parts over grids.
    units, unit_members
        Its ten-household units; ``None`` when units were not asked for.
    partition_metrics, units_metrics
        The stage metrics of this community alone.
    partition_flags, units_flags
        The stage flags of this community.
    seconds
        Wall time of the task's stages and its CPU time: ``{"partition": s, "units": s,
        "cpu": s}``.
    error
        ``(error class name, message)`` when the community could not be planned for a data or
        planning reason (deterministic, so never retried); ``None`` when planned.
    """

    community_id: str
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    building_parts: pd.DataFrame
    units: gpd.GeoDataFrame | None
    unit_members: pd.DataFrame | None
    partition_metrics: dict[str, Any]
    units_metrics: dict[str, Any]
    partition_flags: list[str]
    units_flags: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    error: tuple[str, str] | None = None


def plan_community(
    buildings: gpd.GeoDataFrame,
    community: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    config: Config | None = None,
    units: bool = True,
) -> CommunityPlan:
    """Grids and (optionally) units of one community.

    Parameters
    ----------
    buildings
        The community's prepared buildings (metric CRS).
    community
        A one-row communities frame.
    roads, barriers
        Roads and barriers near the community (all of them is fine, only slower).
    config
        Settings; ``None`` for the defaults. The partition seed is ``config.seed``.
    units
        Also form the ten-household units.

    Returns
    -------
    CommunityPlan
        Its layers, metrics and flags. A :class:`~gridplan._errors.GridplanError` is not raised
        but returned in ``error`` (so that a worker reports it rather than retrying it).
    """
    from gridplan.partition.grids import partition_grids

    cfg = config or DEFAULT
    cid = str(community["community_id"].iloc[0])
    seconds: dict[str, float] = {}
    c0 = time.process_time()
    try:
        t0 = time.perf_counter()
        part = partition_grids(
            buildings, community, roads=roads, barriers=barriers, config=cfg, seed=cfg.seed
        )
        seconds["partition"] = round(time.perf_counter() - t0, 3)
        u = um = None
        umetrics: dict[str, Any] = {}
        uflags: list[str] = []
        if units:
            from gridplan.units.form import form_units

            t1 = time.perf_counter()
            ures = form_units(
                part.buildings,
                roads=roads,
                config=cfg,
                seed=cfg.seed,
                building_parts=part.building_parts,
            )
            seconds["units"] = round(time.perf_counter() - t1, 3)
            u, um, umetrics, uflags = ures.units, ures.unit_members, ures.metrics, ures.flags
        seconds["cpu"] = round(time.process_time() - c0, 3)
    except GridplanError as exc:
        empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=buildings.crs))
        return CommunityPlan(
            cid,
            empty,
            empty,
            pd.DataFrame(),
            None,
            None,
            {},
            {},
            [],
            [],
            seconds,
            error=(type(exc).__name__, str(exc)),
        )
    return CommunityPlan(
        community_id=cid,
        grids=part.grids,
        buildings=part.buildings,
        building_parts=part.building_parts,
        units=u,
        unit_members=um,
        partition_metrics=part.metrics,
        units_metrics=umetrics,
        partition_flags=list(part.flags),
        units_flags=list(uflags),
        seconds=seconds,
    )


def _community_task(
    buildings: gpd.GeoDataFrame,
    community: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    barriers: gpd.GeoDataFrame | None,
    cfg: Config,
    units: bool,
    fail_marker: str | None,
) -> CommunityPlan:
    """The task shipped to a worker; ``fail_marker`` injects one transient failure (tests)."""
    if fail_marker is not None and not os.path.exists(fail_marker):
        Path(fail_marker).write_text("failed once\n", encoding="utf-8")
        msg = f"injected transient failure of community {community['community_id'].iloc[0]}"
        raise RuntimeError(msg)
    return plan_community(
        buildings, community, roads=roads, barriers=barriers, config=cfg, units=units
    )


def _near(frame: gpd.GeoDataFrame | None, bounds: Sequence[float]) -> gpd.GeoDataFrame | None:
    """Rows of ``frame`` whose geometry touches the box ``bounds`` grown by a metre."""
    if frame is None or not len(frame):
        return frame
    minx, miny, maxx, maxy = bounds
    box = shapely.box(minx - 1.0, miny - 1.0, maxx + 1.0, maxy + 1.0)
    idx = np.sort(frame.sindex.query(box, predicate="intersects"))
    return frame.iloc[idx]


#: Test hook, not an option: a JSON object community id -> marker file in this environment
#: variable makes that community's first task fail with a transient error while the marker
#: does not exist (it is created), to test retries and resume. Read where the jobs are built,
#: so Dask workers and batches see it too.
INJECT_FAILURE_ENV = "GRIDPLAN_TEST_INJECT_FAILURE"


def _injected() -> dict[str, str]:
    raw = os.environ.get(INJECT_FAILURE_ENV)
    return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else {}


@contextlib.contextmanager
def injecting(markers: Mapping[str, str]) -> Iterator[None]:
    """The test hook set in this process for the duration (a batch on a Dask worker started
    before the test set it gets the driver's markers this way)."""
    before = os.environ.get(INJECT_FAILURE_ENV)
    if markers:
        os.environ[INJECT_FAILURE_ENV] = json.dumps(dict(markers))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(INJECT_FAILURE_ENV, None)
        else:
            os.environ[INJECT_FAILURE_ENV] = before


def _community_jobs(dataset: Dataset, cfg: Config, units: bool) -> dict[str, tuple[Any, ...]]:
    """One argument tuple per community (sorted ids) for :func:`_community_task`."""
    inject = _injected()
    b = dataset.layers["buildings"]
    comms = dataset.layers["communities"]
    comms = comms.assign(community_id=comms["community_id"].astype(str))
    comms = comms.sort_values("community_id", kind="stable")
    b_comm = b["community_id"].astype(str)
    bad = sorted(set(b_comm) - set(comms["community_id"]))
    if bad:
        msg = (
            f"buildings: community_id {', '.join(bad[:10])} not in the communities layer; add "
            "those communities or fix the buildings' community_id"
        )
        raise DataError(msg)
    roads, barriers = dataset.layer("roads"), dataset.layer("barriers")
    groups = {str(k): v for k, v in b.groupby(b_comm.to_numpy(), sort=True).indices.items()}
    jobs: dict[str, tuple[Any, ...]] = {}
    for i in range(len(comms)):
        one = comms.iloc[[i]]
        cid = str(one["community_id"].iloc[0])
        sub = b.iloc[groups.get(cid, np.zeros(0, dtype=np.int64))]
        bounds = list(one.total_bounds)
        if len(sub):
            sb = sub.total_bounds
            bounds = [
                min(bounds[0], sb[0]),
                min(bounds[1], sb[1]),
                max(bounds[2], sb[2]),
                max(bounds[3], sb[3]),
            ]
        marker = inject.get(cid)
        jobs[cid] = (sub, one, _near(roads, bounds), _near(barriers, bounds), cfg, units, marker)
    return jobs


# --------------------------------------------------------------------------- merging


def _error_class(name: str) -> type[GridplanError]:
    cls = getattr(_errors, name, GridplanError)
    return cls if isinstance(cls, type) and issubclass(cls, GridplanError) else GridplanError


#: Communities whose errors a failed run lists (one after the other, each on its own lines).
MAX_COMMUNITY_ERRORS = 5


def _collect(
    runner: Runner,
    jobs: Mapping[str, tuple[Any, ...]],
    progress: Progress | None,
) -> dict[str, CommunityPlan]:
    """Run the community tasks; report progress; raise once for every community that failed."""
    done: dict[str, CommunityPlan] = {}
    errors: list[tuple[str, str, str]] = []
    n = len(jobs)
    for i, (cid, res) in enumerate(runner.run(_community_task, jobs), start=1):
        if res.error is not None:
            errors.append((cid, *res.error))
        else:
            done[cid] = res
        note = " (after a retry)" if cid in runner.retried else ""
        tell(progress, f"community {cid} planned{note}", done=i, total=n)
    if runner.failed:
        lines = "; ".join(f"{c}: {why}" for c, why in sorted(runner.failed.items()))
        msg = (
            f"communities {', '.join(sorted(runner.failed))} failed on the workers even after "
            f"{runner.retries} retries ({lines}); nothing was written. Check the "
            "workers' memory and logs, then run again"
        )
        raise GridplanError(msg)
    if errors:
        cls = _error_class(errors[0][1])
        shown = sorted(errors)[:MAX_COMMUNITY_ERRORS]
        msg = "\n".join(f"community {c}: {m}" for c, _, m in shown)
        if len(errors) > len(shown):
            msg += f"\n… and {len(errors) - len(shown)} more communities failed the same way"
        raise cls(msg)
    return {cid: done[cid] for cid in sorted(done)}


def polsby_popper(geoms: np.ndarray) -> np.ndarray:
    """Polsby-Popper compactness (4πA/P²) of each polygon; 0 for an empty one."""
    area = shapely.area(geoms)
    perim = shapely.length(geoms)
    return np.where(perim > 0, 4 * np.pi * area / np.maximum(perim, 1e-12) ** 2, 0.0)


def _partition_metrics(
    grids: gpd.GeoDataFrame, parts: Sequence[CommunityPlan], cfg: Config
) -> dict[str, Any]:
    """The overall partition metrics from the per-community ones and the merged grids."""
    g = cfg.grids
    h = grids["households"].to_numpy(dtype=float)
    target = g.target_households
    geoms = np.asarray(grids.geometry.array, dtype=object)
    pp = polsby_popper(geoms) if len(grids) else np.zeros(0)
    per = {
        p.community_id: p.partition_metrics.get("communities", {}).get(p.community_id, {})
        for p in parts
    }

    def total(key: str) -> int:
        return int(sum(int(m.get(key, 0)) for m in per.values()))

    n = len(h)
    out = {
        "grids": n,
        "households": int(h.sum()),
        "households_min": int(h.min()) if n else 0,
        "households_max": int(h.max()) if n else 0,
        "households_mean": round(float(h.mean()), 2) if n else 0.0,
        "households_std": round(float(h.std()), 2) if n else 0.0,
        "max_deviation": round(float(np.abs(h - target).max() / target), 4) if n else 0.0,
        "share_within_10pct": round(float((np.abs(h - target) <= 0.1 * target).mean()), 4)
        if n
        else 1.0,
        "share_within_bounds": round(
            float(((h >= g.min_households) & (h <= g.max_households)).mean()), 4
        )
        if n
        else 1.0,
        "polsby_popper_mean": round(float(pp.mean()), 4) if n else 0.0,
        "polsby_popper_min": round(float(pp.min()), 4) if n else 0.0,
        "cut_edges": total("cut_edges"),
        "adjacency_edges": total("adjacency_edges"),
        "faces": total("faces"),
        "faces_merged": total("faces_merged"),
        "contiguity_ok": all(bool(m.get("contiguity_ok", True)) for m in per.values()),
        "time_s": round(sum(float(m.get("time_s", 0.0)) for m in per.values()), 3),
        "communities": per,
        "target_households": target,
        "bounds": [g.min_households, g.max_households],
        "flags": sum(len(p.partition_flags) for p in parts),
        "grids_out_of_bounds": sum(
            int(p.partition_metrics.get("grids_out_of_bounds", 0)) for p in parts
        ),
    }
    out.update(size_summary(per))
    return out


def _units_metrics(
    units: gpd.GeoDataFrame,
    members: pd.DataFrame,
    buildings: gpd.GeoDataFrame,
    parts: Sequence[CommunityPlan],
    cfg: Config,
) -> dict[str, Any]:
    """Overall unit metrics, recomputed from the merged layers (counts summed), so that they
    equal those of a whole-dataset run."""
    from gridplan.units.form import building_points, size_metrics, spread_metrics

    lo, hi, target = (
        cfg.units.min_households,
        cfg.units.max_households,
        cfg.units.target_households,
    )
    ms = [p.units_metrics for p in parts if p.units_metrics]

    def total(key: str) -> int:
        return int(sum(int(m.get(key, 0)) for m in ms))

    return {
        "n_grids": total("n_grids"),
        **size_metrics(units, lo=lo, hi=hi)[0],
        **spread_metrics(members, building_points(buildings)),
        "split_buildings": total("split_buildings"),
        "split_evenly_buildings": total("split_evenly_buildings"),
        "split_no_entrances": total("split_no_entrances"),
        "split_no_floors": total("split_no_floors"),
        "kept_grids": 0,
        "bounds": [lo, target, hi],
        "seed": int(cfg.seed),
        "time_s": round(sum(float(m.get("time_s", 0.0)) for m in ms), 3),
    }


def _concat(frames: list[Any], crs: Any = None) -> Any:
    frames = [f for f in frames if f is not None]
    if not frames:
        return None
    nonempty = [f for f in frames if len(f)] or frames[:1]
    out = pd.concat(nonempty, ignore_index=False)
    if isinstance(nonempty[0], gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=nonempty[0].geometry.name, crs=crs)
    return out


def _merge(dataset: Dataset, parts: dict[str, CommunityPlan], cfg: Config) -> GridStage:
    """Stitch the communities' layers together in the order a whole-dataset run gives."""
    crs = dataset.crs
    plans = list(parts.values())
    grids = _concat([p.grids for p in plans], crs)
    grids = grids.sort_values("grid_id", kind="stable").reset_index(drop=True)
    src = dataset.layers["buildings"]
    bld = _concat([p.buildings for p in plans], crs)
    bld = bld.loc[src.index[src.index.isin(bld.index)]]
    bp = pd.concat(
        [p.building_parts for p in plans if len(p.building_parts)] or [plans[0].building_parts],
        ignore_index=True,
    )
    if len(bp):
        bp = bp.sort_values(["building_id", "grid_id"], kind="stable").reset_index(drop=True)
    stage = GridStage(
        grids=grids,
        buildings=bld,
        building_parts=bp,
        metrics={"partition": _partition_metrics(grids, plans, cfg)},
        flags={"partition": [f for p in plans for f in p.partition_flags]},
    )
    if plans and plans[0].units is not None:
        units = _concat([p.units for p in plans], crs)
        units = units.sort_values("unit_id", kind="stable").reset_index(drop=True)
        members = pd.concat([p.unit_members for p in plans], ignore_index=True)
        members = members.sort_values(
            ["unit_id", "building_id", "entrance", "floor_from"],
            kind="stable",
            na_position="first",
        ).reset_index(drop=True)
        stage.units, stage.unit_members = units, members
        stage.metrics["units"] = _units_metrics(units, members, bld, plans, cfg)
        stage.flags["units"] = [f for p in plans for f in p.units_flags]
    return stage


def plan_communities(
    dataset: Dataset,
    cfg: Config,
    runner: Runner,
    *,
    units: bool = True,
    progress: Progress | None = None,
) -> GridStage:
    """Grids (and units) of every community of ``dataset``, one task per community on
    ``runner``, merged in the order of a whole-dataset run; on a parallel runner
    ``metadata["parallel"]`` says how they ran (workers, retried and failed communities, task
    seconds).

    Raises
    ------
    GridplanError
        Communities failed on the workers even after the runner's retries.
    DataError, InfeasibleError
        A community could not be planned (every such community is named).
    """
    if progress:
        progress(f"partition{' and units' if units else ''} per community …")
    t0 = time.perf_counter()
    jobs = _community_jobs(dataset, cfg, units)
    parts = _collect(runner, jobs, progress)
    stage = _merge(dataset, parts, cfg)
    stage.grids = stage.grids.copy()
    stage.timings["communities"] = round(time.perf_counter() - t0, 3)
    stage.timings["partition"] = round(
        sum(p.seconds.get("partition", 0.0) for p in parts.values()), 3
    )
    if units:
        stage.timings["units"] = round(sum(p.seconds.get("units", 0.0) for p in parts.values()), 3)
    for cid, n in sorted(runner.retried.items()):
        logger.warning("community %s was retried %d time(s) after a worker error", cid, n)
    if not runner.parallel:  # a plan made in this process says nothing more (as ever)
        return stage
    stage.metadata["parallel"] = {
        "mode": runner.mode,
        "workers": int(runner.workers),
        "scheduler": runner.address,
        "communities": len(parts),
        "retried": dict(sorted(runner.retried.items())),
        "failed": dict(sorted(runner.failed.items())),
        "task_seconds": {cid: p.seconds for cid, p in parts.items()},
        "task_cpu_s": round(sum(p.seconds.get("cpu", 0.0) for p in parts.values()), 3),
        "note": "timings_s partition/units are summed over communities (CPU seconds); "
        "communities is the wall time of that phase",
    }
    return stage


# --------------------------------------------------------------------------- catchments


def _catchment_task(
    facilities: gpd.GeoDataFrame, network: WalkNetwork, cfg: Config
) -> gpd.GeoDataFrame:
    from gridplan.access.isochrones import catchments

    return catchments(facilities, network, config=cfg)


def catchments_on(
    runner: Runner, facilities: gpd.GeoDataFrame, network: WalkNetwork, cfg: Config
) -> gpd.GeoDataFrame:
    """The facilities' catchment polygons on ``runner``: in one call in this process, or per
    facility category (big categories in chunks) on a parallel runner, in the same order.

    Raises
    ------
    GridplanError
        Catchment tasks failed on the workers even after the runner's retries.
    """
    if not runner.parallel:
        return _catchment_task(facilities, network, cfg)
    # prepared facilities already carry str ids and categories: no casts, so the dtypes of
    # the rows are those of the sequential run
    fac = facilities.sort_values("facility_id", kind="stable")
    net = runner.broadcast(network)
    jobs: dict[str, tuple[Any, ...]] = {}
    for cat, grp in fac.groupby("category", sort=True):
        for start in range(0, len(grp), _CATCHMENT_CHUNK):
            jobs[f"catchments-{cat}-{start // _CATCHMENT_CHUNK}"] = (
                grp.iloc[start : start + _CATCHMENT_CHUNK],
                net,
                cfg,
            )
    if not jobs:
        return _catchment_task(fac, network, cfg)
    frames = dict(runner.run(_catchment_task, jobs))
    if runner.failed:
        msg = f"catchments failed on the workers: {runner.failed}; run again"
        raise GridplanError(msg)
    # empty frames (object columns) would turn the string columns into object: leave them out
    parts = [frames[k] for k in jobs if len(frames[k])] or [frames[next(iter(jobs))]]
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values("facility_id", kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=network.crs)
