"""The whole pipeline: dataset → grids → units → staffing, coverage, siting → plan folder.

Data flows one way: no stage reaches back into an earlier one. Each stage is a
library function of its own module; this module only decides which stages run, in which order,
and assembles their results into a :class:`~gridplan.output.planfile.Plan`.

Example
-------
>>> from gridplan import load_dataset, plan_dataset          # doctest: +SKIP
>>> plan = plan_dataset(load_dataset("data/town"))           # doctest: +SKIP
>>> plan.grids[["grid_id", "households"]].head()             # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridplan import __version__
from gridplan._atomic import atomic_output_dir
from gridplan._errors import ConfigError, DataError
from gridplan._progress import Progress
from gridplan.dataset import Dataset
from gridplan.db import is_database_url, parse_database_url
from gridplan.land import water_polygons
from gridplan.output.planfile import (
    SKIP_REASONS,
    Plan,
    PlanMetadata,
    read_plan,
    write_manifest,
    write_plan_gpkg,
)
from gridplan.run.community import GridStage, catchments_on, plan_communities
from gridplan.run.metadata import dataset_block, plan_metadata
from gridplan.run.runner import LocalRunner, Runner
from gridplan.settings import DEFAULT, Config

__all__ = [
    "STAGES",
    "bundled_town",
    "grids_from_plan",
    "plan_coverage",
    "plan_dataset",
    "plan_parameters",
    "replan_config",
    "replan_dataset",
    "resolve_stages",
    "run_to_folder",
    "subset_communities",
]

logger = logging.getLogger(__name__)

#: Every stage, in the order they run.
STAGES: tuple[str, ...] = ("partition", "units", "assign", "coverage", "site", "map", "report")

#: What each stage needs before it (a stage command runs the stages it needs).
NEEDS: dict[str, tuple[str, ...]] = {
    "partition": (),
    "units": ("partition",),
    "assign": ("partition", "units"),
    # coverage needs no grids; per-grid summaries come from a partition or an existing plan's
    # grids (:func:`plan_coverage`)
    "coverage": (),
    "site": ("partition", "coverage"),
    "map": ("partition", "units", "assign", "coverage", "site"),
    "report": ("partition", "units", "assign", "coverage", "site"),
}


def resolve_stages(requested: Iterable[str] | None) -> list[str]:
    """The stages to run for ``requested`` (``None``: all), with everything they need, in order.

    Raises
    ------
    ConfigError
        An unknown stage name.
    """
    if requested is None:
        return list(STAGES)
    wanted: set[str] = set()
    for stage in requested:
        if stage not in NEEDS:
            msg = f"unknown stage {stage!r}; stages are {', '.join(STAGES)}"
            raise ConfigError(msg)
        wanted.add(stage)
        wanted.update(NEEDS[stage])
    return [s for s in STAGES if s in wanted]


def subset_communities(dataset: Dataset, community_ids: Sequence[str]) -> Dataset:
    """A copy of ``dataset`` restricted to the given communities (``--communities``).

    Buildings, people living in them and vulnerable rows are filtered by community; roads,
    facilities and sites are kept whole so that coverage near a community edge stays right.

    Raises
    ------
    DataError
        An id that is not in the ``communities`` layer.
    """
    comms = dataset.layers["communities"]
    known = set(comms["community_id"])
    missing = [c for c in community_ids if c not in known]
    if missing:
        msg = (
            f"communities: unknown id(s) {', '.join(missing)} in --communities; "
            f"the dataset has {', '.join(sorted(known))}"
        )
        raise DataError(msg)
    keep = set(community_ids)
    layers = dict(dataset.layers)
    layers["communities"] = comms[comms["community_id"].isin(keep)].copy()
    b = layers["buildings"]
    layers["buildings"] = b[b["community_id"].isin(keep)].copy()
    kept_buildings = set(layers["buildings"]["building_id"])
    for name in ("people", "vulnerable"):
        df = layers.get(name)
        if df is not None:
            layers[name] = df[df["building_id"].isin(kept_buildings)].copy()
    return replace(dataset, layers=layers, warnings=list(dataset.warnings))


@dataclass
class StageTimer:
    progress: Progress | None
    times: dict[str, float]

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        if self.progress:
            self.progress(f"{name} …")
        t0 = time.perf_counter()
        result = fn()
        self.times[name] = round(time.perf_counter() - t0, 3)
        logger.info("stage %s done in %.2f s", name, self.times[name])
        return result


def _has(dataset: Dataset, name: str) -> bool:
    df = dataset.layer(name)
    return df is not None and len(df) > 0


def plan_dataset(
    dataset: Dataset,
    *,
    config: Config | None = None,
    stages: Iterable[str] | None = None,
    catchments: bool | None = None,
    progress: Progress | None = None,
    runner: Runner | None = None,
) -> Plan:
    """Run the planning stages on a prepared dataset and return the plan in memory.

    Stages whose input layers are missing are skipped with a note in the metadata
    (staffing needs ``people``; coverage needs ``roads`` and ``facilities``). Coverage alone
    (``stages=["coverage"]``) does not partition: the plan has no grids and its coverage
    summary no grid rows (:func:`plan_coverage` adds them from a partition or an old plan).

    Parameters
    ----------
    dataset
        A prepared dataset (:func:`gridplan.io.load_dataset`).
    config
        Settings; ``None`` for the defaults.
    stages
        Stages to run (those they need are added); ``None`` for all.
    catchments
        Compute the facility catchment polygons (layer ``catchments``, drawn on the map);
        ``None``: only when the map is among the stages.
    progress
        Called with a short line as each stage starts (and as each community is planned).
    runner
        Where the per-community tasks (partition and units) and the catchments run
        (:class:`~gridplan.run.runner.Runner`); ``None``: one after the other in this process
        (:class:`~gridplan.run.runner.LocalRunner`). The plan does not depend on it.

    Returns
    -------
    Plan
        Layers in the dataset's metric CRS; ``output_crs`` is the input's CRS; on a parallel
        runner, ``metadata["parallel"]`` says how the communities ran.
    """
    return plan_stages(
        dataset,
        config or DEFAULT,
        resolve_stages(stages),
        progress,
        runner=runner,
        catchments=catchments,
    )


def plan_stages(
    dataset: Dataset,
    cfg: Config,
    order: list[str],
    progress: Progress | None = None,
    *,
    runner: Runner | None = None,
    grid_stage: GridStage | None = None,
    catchments: bool | None = None,
) -> Plan:
    """Every stage of ``order``: grids and units, then staffing, coverage and siting, shared by
    a fresh plan (in this process or on Dask), a re-plan and a batch of a batched run.

    Grids and units: ``grid_stage`` when given (a re-plan, grids taken from an earlier plan), else,
    when ``order`` partitions, one task per community on ``runner``
    (:func:`~gridplan.run.community.plan_communities`; ``None``: a
    :class:`~gridplan.run.runner.LocalRunner`), else none (coverage alone: the plan's
    ``buildings`` are the dataset's and it has no ``grids`` layer). The catchments run on
    ``runner`` too. ``catchments`` ``None``: catchment polygons only when the map is among the
    stages (nothing else reads them); the ``water`` layer (the dataset's water barriers, drawn
    as water) likewise. A re-drawn dataset's ``communities_old`` (``gridplan communities``)
    goes into the plan as it is.
    """
    runner = runner if runner is not None else LocalRunner()
    meta = plan_metadata(cfg, order, dataset=dataset_block(dataset), checksums=dataset.checksums)
    timer = StageTimer(progress, meta["timings_s"])
    skipped: dict[str, str] = {}
    layers: dict[str, pd.DataFrame] = {"communities": dataset.layers["communities"]}
    roads = dataset.layer("roads")
    barriers = dataset.layer("barriers")
    want_catchments = "map" in order if catchments is None else catchments
    water = water_polygons(barriers) if "map" in order else None
    if water is not None:  # cut out of the communities: the map draws it as water
        layers["water"] = water
    old = dataset.layer("communities_old")
    if old is not None and len(old):  # a re-drawn dataset: the map shows the old lines too
        layers["communities_old"] = old

    gs = grid_stage
    if gs is None and "partition" in order:
        gs = plan_communities(
            dataset,
            cfg,
            runner,
            units="units" in order,
            progress=progress,
        )
    grids: gpd.GeoDataFrame | None = None
    units = members = None
    if gs is None:
        planned = dataset.layers["buildings"]
    else:
        meta["timings_s"].update(gs.timings)
        meta["metrics"].update(gs.metrics)
        meta["flags"].update(gs.flags)
        meta.update(gs.metadata)
        layers.update(gs.layers)
        grids = gs.grids
        planned = gs.buildings
        from gridplan.households import calibration_summary, calibration_warnings

        stale = calibration_warnings(
            calibration_summary(planned, dataset.layers["communities"], config=cfg), config=cfg
        )
        if stale:  # calibration must not hide change (issue 15)
            meta["flags"]["households"] = stale
        if planned["households_estimated"].any():
            from gridplan.households import grid_household_sensitivity

            meta["sensitivity"] = timer.run(
                "sensitivity", lambda: grid_household_sensitivity(planned, config=cfg, grids=grids)
            )
        # the plan lists the parts of split buildings only (a whole building's one part is
        # its row in ``buildings``); the in-memory table keeps every building for the counts
        bp = gs.building_parts
        split = bp[bp["building_id"].duplicated(keep=False)] if len(bp) else bp
        if len(split):
            layers["building_parts"] = split.reset_index(drop=True)
        units, members = gs.units, gs.unit_members
        if units is not None and members is not None:
            layers["units"] = units
            layers["unit_members"] = members
            n_units = units.groupby("grid_id").size()
            grids["n_units"] = grids["grid_id"].map(n_units).fillna(0).astype("int64")

    network = None
    need_network = ("coverage" in order or "assign" in order) and _has(dataset, "roads")
    if need_network:
        from gridplan.network.graph import build_walk_network

        network = timer.run(
            "network", lambda: build_walk_network(roads, barriers=barriers, config=cfg)
        )

    if "assign" in order:
        if not _has(dataset, "people"):
            skipped["assign"] = SKIP_REASONS["no_people"]
        elif grids is None or units is None or members is None:
            skipped["assign"] = SKIP_REASONS["no_units"]
        else:
            from gridplan.staffing.assign import assign_staff

            staff = timer.run(
                "assign",
                lambda: assign_staff(
                    dataset.layers["people"],
                    grids=grids,
                    units=units,
                    unit_members=members,
                    buildings=planned,
                    vulnerable=dataset.layer("vulnerable"),
                    network=network,
                    config=cfg,
                    seed=cfg.seed,
                ),
            )
            grids = staff.grids
            layers["units"] = staff.units
            layers["assignments"] = staff.assignments
            layers["vacancies"] = staff.vacancies
            meta["metrics"]["staffing"] = staff.metrics
            meta["flags"]["staffing"] = list(staff.flags)

    cov = None
    if "coverage" in order:
        if network is None or not _has(dataset, "facilities"):
            skipped["coverage"] = SKIP_REASONS["no_roads_facilities"]
        else:
            from gridplan.access.coverage import compute_coverage

            facilities = dataset.layers["facilities"]
            cov = timer.run(
                "coverage", lambda: compute_coverage(planned, facilities, network, config=cfg)
            )
            layers["coverage"] = cov.coverage
            layers["coverage_summary"] = cov.summary
            layers["facilities"] = facilities
            meta["metrics"]["coverage"] = cov.metrics
            meta["flags"]["coverage"] = list(cov.flags)
            if want_catchments:
                layers["catchments"] = timer.run(
                    "catchments",
                    lambda: catchments_on(runner, facilities, network, cfg),
                )

    if "site" in order:
        if cov is None or network is None:
            skipped["site"] = SKIP_REASONS["no_coverage"]
        else:
            from gridplan.access.siting import site_facilities

            site = timer.run(
                "site",
                lambda: site_facilities(
                    planned,
                    cov.coverage,
                    network,
                    sites=dataset.layer("sites"),
                    facilities=dataset.layer("facilities"),
                    config=cfg,
                ),
            )
            layers["sites"] = site.sites
            meta["metrics"]["siting"] = site.metrics
            meta["flags"]["siting"] = list(getattr(site, "flags", []))

    if grids is not None:
        if "n_units" not in grids.columns:
            grids["n_units"] = 0
        if "head_id" not in grids.columns:
            grids["head_id"] = None
        layers["grids"] = grids
    layers["buildings"] = planned
    if _has(dataset, "people"):
        layers["people"] = dataset.layers["people"]
    meta["skipped"] = skipped
    for stage, why in skipped.items():
        logger.warning("stage %s skipped: %s", stage, why)
    for name, df in layers.items():  # geometry last, as in every GIS table
        geom = getattr(df, "_geometry_column_name", None)
        if geom in df.columns and list(df.columns)[-1] != geom:
            layers[name] = df[[c for c in df.columns if c != geom] + [geom]]
    return Plan(layers=layers, metadata=meta, crs=dataset.crs, output_crs=dataset.input_crs)


def plan_coverage(
    dataset: Dataset,
    *,
    config: Config | None = None,
    per_grid: bool = False,
    grids: Plan | str | Path | None = None,
    catchments: bool = False,
    progress: Progress | None = None,
) -> Plan:
    """The 15-minute life circle of a dataset: walking minutes from every household to every
    facility category, without planning grids unless per-grid figures are wanted.

    What ``gridplan coverage`` runs. By default nothing is partitioned: the coverage summary
    holds the whole dataset and each community. For per-grid rows too, either partition
    (``per_grid=True``, as ``gridplan run`` would) or take the grids of a plan made before
    (``grids``: a plan read with :func:`gridplan.output.planfile.read_plan`; each building keeps the
    grid it has there, nothing is re-planned).

    Parameters
    ----------
    dataset
        A prepared dataset (:func:`gridplan.io.load_dataset`) with ``roads`` and
        ``facilities``.
    config
        Settings; ``None`` for the defaults.
    per_grid
        Partition the dataset first, for per-grid summaries (ignored when ``grids`` is given).
    grids
        A plan folder (or a plan in memory) whose grids to summarise by, instead of
        partitioning: its ``grids`` layer and its ``buildings``' ``grid_id``. Buildings of the
        dataset the plan does not know are counted in no grid (flagged).
    catchments
        Also compute the facility catchment polygons (layer ``catchments``, for a map).
    progress
        Called with a short line as each stage starts.

    Returns
    -------
    Plan
        Layers ``coverage``, ``coverage_summary``, ``facilities``, ``buildings``,
        ``communities`` (and ``grids`` when per grid); ``metadata["stages"]`` says whether it
        partitioned, ``metadata["grids_from"]`` where grids were taken from.

    Raises
    ------
    DataError
        ``grids`` is not a plan folder, or holds no grids (a coverage-only plan).

    Example
    -------
    >>> from gridplan import load_dataset                              # doctest: +SKIP
    >>> plan = plan_coverage(load_dataset("data/town"))                 # doctest: +SKIP
    >>> plan.metadata["metrics"]["coverage"]["complete_share"]          # doctest: +SKIP
    {'5min': 0.41, '10min': 0.77, '15min': 0.83}
    """
    cfg = config or DEFAULT
    if grids is not None:
        source = grids

        def take() -> GridStage:
            if isinstance(source, Plan):
                return grids_from_plan(source, dataset)
            old = read_plan(source, layers=("grids", "buildings", "building_parts"))
            gs = grids_from_plan(old, dataset)
            gs.metadata["grids_from"]["plan"] = str(source)
            return gs

        timings: dict[str, float] = {}
        taken: GridStage = StageTimer(progress, timings).run("grids_from_plan", take)
        taken.timings.update(timings)
        return plan_stages(
            dataset, cfg, ["coverage"], progress, grid_stage=taken, catchments=catchments
        )
    return plan_dataset(
        dataset,
        config=cfg,
        stages=["partition", "coverage"] if per_grid else ["coverage"],
        catchments=catchments,
        progress=progress,
    )


def grids_from_plan(plan: Plan, dataset: Dataset) -> GridStage:
    """The grids of an existing ``plan`` applied to ``dataset``'s buildings, for summaries by
    grid without partitioning again: the plan's ``grids`` (and ``building_parts``) in the
    dataset's CRS, and each building's ``grid_id`` as the plan has it.

    Raises
    ------
    DataError
        The plan has no grids, or its buildings no ``building_id`` / ``grid_id``.
    """
    grids = plan.layers.get("grids")
    old_b = plan.layers.get("buildings")
    if grids is None or len(grids) == 0:
        msg = (
            "plan: it has no grids (a coverage-only plan?); give a plan folder written by "
            "`gridplan run` or `gridplan partition`, or partition with --per-grid"
        )
        raise DataError(msg)
    if old_b is None or not {"building_id", "grid_id"} <= set(old_b.columns):
        msg = "plan: its buildings layer lacks building_id or grid_id; re-run `gridplan partition`"
        raise DataError(msg)
    grids = gpd.GeoDataFrame(grids)
    if dataset.crs is not None and grids.crs is not None and not grids.crs.equals(dataset.crs):
        grids = grids.to_crs(dataset.crs)
    grid_of = pd.Series(
        old_b["grid_id"].to_numpy(), index=old_b["building_id"].astype(str).to_numpy()
    )
    grid_of = grid_of[~grid_of.index.duplicated()]
    buildings = dataset.layers["buildings"].copy()
    buildings["grid_id"] = buildings["building_id"].astype(str).map(grid_of)
    flags: list[str] = []
    hh = pd.to_numeric(buildings["households"], errors="coerce").fillna(0)
    unknown = buildings.loc[buildings["grid_id"].isna() & (hh > 0), "building_id"].astype(str)
    if len(unknown):
        shown = ", ".join(unknown.iloc[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        flags.append(
            f"{len(unknown)} residential buildings ({shown}) are not in the plan the grids come "
            "from; their households are counted in no grid; re-plan (`gridplan replan`) to "
            "give them one"
        )
    old_sum = plan.metadata.get("checksums", {}).get("buildings")
    new_sum = dataset.checksums.get("buildings")
    if old_sum and new_sum and old_sum != new_sum:
        flags.append(
            "the dataset's buildings differ from those the grids were planned on (checksums); "
            "the grids are used as they are"
        )
    for f in flags:
        logger.warning("%s", f)
    parts = plan.layers.get("building_parts")
    return GridStage(
        grids=grids,
        buildings=buildings,
        building_parts=pd.DataFrame(parts) if parts is not None else pd.DataFrame(),
        flags={"grids_from_plan": flags},
        metadata={
            "grids_from": {
                "plan": None,
                "plan_created_at": plan.metadata.get("created_at"),
                "grids": len(grids),
                "buildings_without_grid": len(unknown),
            }
        },
    )


def replan_dataset(
    old: Plan,
    dataset: Dataset,
    *,
    config: Config | None = None,
    progress: Progress | None = None,
    edits: pd.DataFrame | None = None,
    locks: Sequence[str] = (),
    reoptimise: bool = True,
) -> Plan:
    """Re-plan ``dataset`` after a change, keeping as much of ``old`` as the bounds allow.

    Grids still within bounds keep their buildings and codes; the fewest households move; the
    units of untouched grids are kept as they were. The plan's metadata gains ``replan``:
    changed and kept grids and the households moved (also the ``moved`` layer), and
    ``parameters_changed`` / ``parameters_not_in_old_plan``: how ``config`` differs from the
    parameters the old plan was made with.

    Parameters
    ----------
    old
        The old plan (:func:`gridplan.output.planfile.read_plan`).
    dataset
        The changed dataset.
    config
        Settings; ``None`` for the old plan's own parameters (:func:`replan_config`). Settings
        that differ from the old plan's are logged as a warning: they move households that
        would otherwise stay.
    progress
        Called with a short line as each stage starts.
    edits
        A planner's hand edits (building_id, grid_id[, reason, by]:
        :func:`gridplan.partition.apply_edits`): the grids they touch are redrawn around their
        new buildings, and the plan gains the ``edits`` log layer.
    locks
        Grids kept exactly as in ``old`` (even out of bounds); edits may not touch them.
    reoptimise
        With ``edits``: then re-plan the grids out of bounds, fewest households moved, locks
        kept (``False``: the edits alone, violations flagged).
    """
    from gridplan.partition.edits import apply_edits
    from gridplan.partition.replan import ReplanResult, replan_grids
    from gridplan.settings import parameter_changes
    from gridplan.units.form import UnitsResult, form_units

    old_params = plan_parameters(old.metadata)
    cfg = config if config is not None else replan_config(old)
    changed_params, not_recorded = parameter_changes(old_params, cfg)
    if changed_params:
        logger.warning(
            "the re-plan's parameters differ from the old plan's: %s; households move that "
            "would stay with the old plan's parameters (re-plan without --config, or with the "
            "old plan's settings, to keep the change minimal)",
            "; ".join(f"{c['key']} {c['old']!r} → {c['new']!r}" for c in changed_params),
        )
    crs = dataset.crs
    old_grids = old.grids.to_crs(crs)
    old_buildings = old.buildings.to_crs(crs)

    edit_log: pd.DataFrame | None = None

    def partition() -> ReplanResult:
        nonlocal edit_log
        if edits is None:
            return replan_grids(
                old_buildings,
                old_grids,
                dataset.layers["buildings"],
                dataset.layers["communities"],
                roads=dataset.layer("roads"),
                barriers=dataset.layer("barriers"),
                config=cfg,
                seed=cfg.seed,
                locks=locks,
            )
        done = apply_edits(
            old_grids,
            old_buildings,
            edits,
            current=dataset.layers["buildings"],
            communities=dataset.layers["communities"],
            roads=dataset.layer("roads"),
            barriers=dataset.layer("barriers"),
            locks=locks,
            reoptimise=reoptimise,
            config=cfg,
            seed=cfg.seed,
        )
        edit_log = done.edits
        res = done.result
        return ReplanResult(
            grids=res.grids,
            buildings=res.buildings,
            metrics=res.metrics,
            flags=res.flags,
            building_parts=res.building_parts,
            changed_grids=done.changed,
            moved=done.moved,
            kept=sorted(set(old_grids["grid_id"].astype(str)) - set(done.changed)),
        )

    previous = None
    if "units" in old.layers and len(old.units):
        previous = UnitsResult(
            units=old.units.to_crs(crs),
            unit_members=old.unit_members,
            metrics={},
            flags=[],
        )
    timings: dict[str, float] = {}
    timer = StageTimer(progress, timings)
    part: ReplanResult = timer.run("partition", partition)
    stage = GridStage(
        grids=part.grids.copy(),
        buildings=part.buildings,
        building_parts=part.building_parts,
        metrics={"partition": part.metrics},
        flags={"partition": list(part.flags)},
        metadata={
            "replan": {
                "changed_grids": list(part.changed_grids),
                "kept_grids": list(part.kept),
                "households_moved": int(part.moved["households"].sum()) if len(part.moved) else 0,
                "buildings_moved": len(part.moved),
                "parameters_changed": changed_params,
                "parameters_not_in_old_plan": not_recorded,
                "locked_grids": sorted(str(x) for x in locks),
            }
        },
        layers={"moved": part.moved},
    )
    if edit_log is not None:
        stage.layers["edits"] = edit_log
        stage.metadata["replan"]["edits"] = len(edit_log)
        stage.metadata["replan"]["reoptimised"] = bool(reoptimise)
    res = timer.run(
        "units",
        lambda: form_units(
            part.buildings,
            roads=dataset.layer("roads"),
            config=cfg,
            seed=cfg.seed,
            previous=previous,
            keep_grids=list(part.kept),
            building_parts=part.building_parts,
        ),
    )
    stage.units, stage.unit_members = res.units, res.unit_members
    stage.metrics["units"] = res.metrics
    stage.flags["units"] = list(res.flags)
    stage.timings.update(timings)
    return plan_stages(dataset, cfg, list(STAGES), progress, grid_stage=stage)


def plan_parameters(metadata: PlanMetadata) -> dict[str, Any]:
    """The parameters a plan was made with, from its metadata (``parameters``, and ``seed``
    when the parameters lack it); ``{}`` when the metadata records none."""
    params = metadata.get("parameters")
    out = dict(params) if isinstance(params, dict) else {}
    if "seed" not in out and "seed" in metadata:
        out["seed"] = metadata["seed"]
    return out


def replan_config(
    old: Plan, source: str | Path | dict[str, Any] | None = None, **overrides: Any
) -> Config:
    """The settings of a re-plan of ``old``: the old plan's parameters (seed included), with
    ``source`` (a ``plan.toml``) and ``overrides`` on top of them, key by key.

    Parameters the old plan does not record take the documented defaults, with a warning
    (:func:`gridplan.settings.load_config_over`).

    Raises
    ------
    ConfigError
        A bad ``source`` or override, or bounds that are inconsistent once merged.
    """
    from gridplan.settings import load_config_over

    return load_config_over(plan_parameters(old.metadata), source, **overrides)


def bundled_town() -> Path:
    """Path of the bundled sample town (``data/town`` of the source tree).

    When gridplan is installed without its source tree, the town is generated once (it is
    deterministic) into the user's cache folder.
    """
    here = Path(__file__).resolve().parents[2] / "data" / "town"
    if (here / "buildings.geojson").exists():
        return here
    from gridplan.sample.generate import write_sample

    cache = Path.home() / ".cache" / "gridplan" / f"town-{__version__}"
    if not (cache / "buildings.geojson").exists():
        write_sample(cache, "town", seed=0, overwrite=True)
    return cache


def _public_layers(plan: Plan) -> Plan:
    """The plan as written: the people roster itself never goes into ``plan.gpkg``."""
    layers = {k: v for k, v in plan.layers.items() if k != "people"}
    return Plan(layers=layers, metadata=plan.metadata, crs=plan.crs, output_crs=plan.output_crs)


def run_to_folder(
    plan: Plan,
    out: str | Path,
    *,
    stages: Iterable[str] | None = None,
    overwrite: bool = False,
    lang: str = "zh",
    reveal_personal: bool = False,
    basemap: str = "osm",
    tianditu_key: str | None = None,
    progress: Progress | None = None,
    files: str | Path | None = None,
    requests: str | Path | None = None,
    request_file: str | Path | None = None,
) -> Path | str:
    """Write a plan folder atomically: ``plan.gpkg``, report, rosters and (when asked) the map,
    then ``manifest.json`` (:func:`~gridplan.output.planfile.write_manifest`).

    With ``requests`` (a request ledger) the map gains the open-requests layer and the report
    a requests section, as of the ledger's last entry
    (:func:`gridplan.requests.planview.plan_requests`). With ``request_file`` (an office's
    export, e.g. the sample month) instead, it is first imported against this plan into
    ``requests.gpkg`` in the plan folder, which is then the ledger shown (the demo).

    ``out`` may be a PostgreSQL URL (``postgresql://…?schema=NAME``): the plan's layers then go
    into that schema in one transaction (:func:`~gridplan.output.postgis.write_plan_postgis`)
    and the report, rosters and map into the folder ``files`` (none when ``None``); the folder
    is swapped in only once the tables are committed, so a failure changes neither.

    Returns
    -------
    Path or str
        The folder written, or the masked URL of the plan schema.

    Raises
    ------
    OutputExistsError
        ``out`` (or ``files``) exists and ``overwrite`` is false; nothing is changed.
    """
    order = resolve_stages(stages)
    public = _public_layers(plan)
    where = parse_database_url(str(out)) if is_database_url(out) else None
    if where is not None and files is None:
        from gridplan.output.postgis import write_plan_postgis

        if progress:
            progress(f"writing the plan into {where.masked} …")
        return write_plan_postgis(public, where, overwrite=overwrite)
    folder = Path(files) if where is not None and files is not None else Path(out)
    with atomic_output_dir(folder, overwrite=overwrite) as tmp:
        if where is None:
            if progress:
                progress("writing plan.gpkg …")
            write_plan_gpkg(public, tmp / "plan.gpkg")
        req_layer, req_report = _plan_requests(plan, tmp, requests, request_file, lang, progress)
        if "report" in order:
            from gridplan.output.report.write import write_report

            if progress:
                progress("writing report …")
            write_report(plan, tmp, lang="zh" if lang == "zh" else "en", requests=req_report)
        if "assign" in order and "assignments" in plan.layers:
            from gridplan.output.rosters import write_rosters

            write_rosters(plan, tmp, lang=lang, reveal=reveal_personal)
        if "map" in order:
            from gridplan.output.maps.make import write_map

            if progress:
                progress("writing map.html …")
            write_map(
                plan,
                tmp / "map.html",
                lang=lang,
                basemap=basemap,
                tianditu_key=tianditu_key,
                requests=req_layer,
            )
        write_manifest(tmp)
        if where is not None:
            from gridplan.output.postgis import write_plan_postgis

            if progress:
                progress(f"writing the plan into {where.masked} …")
            return write_plan_postgis(public, where, overwrite=overwrite)
    return folder


def _plan_requests(
    plan: Plan,
    tmp: Path,
    requests: str | Path | None,
    request_file: str | Path | None,
    lang: str,
    progress: Progress | None,
) -> tuple[Any, Any]:
    """The open-requests layer and the requests report for the plan's map and report (both
    ``None`` without a ledger); with ``request_file``, imported into ``requests.gpkg`` first."""
    if requests is None and request_file is None:
        return None, None
    from gridplan.requests.planview import import_for_plan, plan_requests

    if request_file is not None:
        if requests is not None:
            raise ConfigError("give a request ledger or a request file to import, not both")
        requests = tmp / "requests.gpkg"
        if progress:
            progress(f"importing {Path(request_file).name} into requests.gpkg …")
        import_for_plan(requests, request_file, plan.layers)
    if progress:
        progress("reading the request ledger …")
    assert requests is not None  # one of the two was given
    return plan_requests(requests, plan.layers, lang=lang)
