"""Plans a province batch by batch of communities from disk, resuming an interrupted run.

:func:`plan_to_folder_batched` reads, plans and writes a batch of communities at a time and
resumes an interrupted run from the batches already written. The batches are tasks on a
:class:`~gridplan.run.runner.Runner` (in this process or on Dask workers); each batch is planned
community by community with :func:`gridplan.run.pipeline.plan_stages` in its own process, so a
batch's grids and units are those of an in-memory run. Coverage runs batch by batch too, on
the roads and facilities within reach of the batch (:func:`search_radius_m`), so a building's
minutes are those of a whole-dataset run; siting does not split into batches and is left out.

Example
-------
>>> from gridplan.run.batched import plan_to_folder_batched                # doctest: +SKIP
>>> plan_to_folder_batched("province.gpkg", "out", batch_size=16)      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from gridplan import _errors
from gridplan._atomic import atomic_output_dir
from gridplan._errors import DataError, GridplanError
from gridplan._progress import Progress, tell
from gridplan.output.planfile import (
    SKIP_REASONS,
    file_checksum,
    write_manifest,
    write_metadata_table,
    write_plan_gpkg,
)
from gridplan.run.batch_coverage import (
    batch_coverage,
    facility_owners,
    merge_coverage,
    search_radius_m,
    write_coverage_summary,
)
from gridplan.run.batch_metadata import (
    batch_figures,
    merge_dataset_blocks,
    merge_metrics,
    merge_sensitivity,
    merge_timings,
)
from gridplan.run.batch_read import (
    Box,
    _read,
    building_id_column,
    layer_files,
    read_batch,
    read_table,
    write_scratch,
)
from gridplan.run.community import _injected, injecting
from gridplan.run.metadata import dataset_block, plan_metadata
from gridplan.run.pipeline import plan_stages, resolve_stages
from gridplan.run.runner import DEFAULT_RETRIES, LocalRunner, Runner, open_runner
from gridplan.settings import DEFAULT, Config

__all__ = ["BATCHED_STAGES", "SITING_SKIPPED", "plan_to_folder_batched", "search_radius_m"]

logger = logging.getLogger(__name__)

#: Stages :func:`plan_to_folder_batched` runs (siting, map and report need the whole province).
BATCHED_STAGES: tuple[str, ...] = ("partition", "units", "assign", "coverage")

#: Why siting does not run batch by batch (in the plan's ``skipped`` metadata).
SITING_SKIPPED = SKIP_REASONS["batched_site"]


def _fingerprint(
    path: Path,
    cfg: Config,
    batch_size: int,
    offset: str | None,
    rosters: str = "",
    extra: Iterable[Path] = (),
) -> str:
    from gridplan import __version__

    h = hashlib.sha256()
    h.update(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    h.update(f"{__version__}|{batch_size}|{offset}|{path.resolve()}|{rosters}".encode())
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    files += [Path(p) for p in extra]
    for f in files:
        if f.is_file():
            st = f.stat()
            h.update(f"{f.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


class _Appender:
    """Appends batch GeoPackages into one, in batch order, one batch in memory at a time.

    A layer is created from the first batch where it has rows (so that its field types come
    from real values) and appended to afterwards (pyogrio ``append=True``); a layer that is
    empty in every batch is written empty at :meth:`finish`. Layers named in ``later`` are
    left out (the caller writes them: :func:`write_coverage_summary`).
    """

    def __init__(self, target: Path, *, later: tuple[str, ...] = ()) -> None:
        self.target = target
        self.later = later
        self.created: dict[str, list[str]] = {}
        self.empty: dict[str, Any] = {}
        self.rows: dict[str, int] = {}
        self.seconds = 0.0

    def add(self, src: Path) -> None:
        t0 = time.perf_counter()
        for name, _ in pyogrio.list_layers(src):
            name = str(name)
            if name == "metadata" or name in self.later:
                continue
            df = pyogrio.read_dataframe(src, layer=name)
            if not len(df):
                self.empty.setdefault(name, df)
                continue
            if name in self.created:
                df = df[[c for c in self.created[name] if c in df.columns]]
                pyogrio.write_dataframe(df, self.target, layer=name, driver="GPKG", append=True)
            else:
                pyogrio.write_dataframe(df, self.target, layer=name, driver="GPKG")
                self.created[name] = list(df.columns)
            self.rows[name] = self.rows.get(name, 0) + len(df)
        self.seconds += time.perf_counter() - t0

    def finish(self) -> dict[str, int]:
        for name, df in self.empty.items():
            if name not in self.created:
                pyogrio.write_dataframe(df, self.target, layer=name, driver="GPKG")
                self.rows[name] = 0
        return dict(self.rows)


def _batch_task(
    files: dict[str, tuple[Path, str | None]],
    comms: gpd.GeoDataFrame,
    batch: list[str],
    has_cid: bool,
    cfg: Config,
    order: list[str],
    offset: str | None,
    source: Path,
    gpkg: Path,
    inject: Mapping[str, str],
    coverage: Mapping[str, Any] | None = None,
    rosters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Read, prepare, plan and write one batch; return its summary (runs on a worker).

    ``coverage`` (``radius_m``, ``owned``: the ids of the facilities the batch owns, ``box``:
    their bounds) makes the batch compute coverage and catchments too (:func:`batch_coverage`).
    ``rosters`` (``lang``, ``reveal``) makes it write its roster sheets beside its GeoPackage
    (:func:`_rosters_path`), while it still holds its people.
    """
    from gridplan.io.load import load_dataset

    t0 = time.perf_counter()
    c0 = time.process_time()
    scratch = gpkg.parent / f"{gpkg.stem}-scratch"
    if scratch.exists():
        shutil.rmtree(scratch)
    if gpkg.exists():
        gpkg.unlink()
    _rosters_path(gpkg).unlink(missing_ok=True)
    try:
        raw = read_batch(files, comms, batch, has_cid, coverage=coverage, offset=offset)
        write_scratch(scratch, raw)
        del raw
        try:
            ds = load_dataset(scratch, offset=offset, config=cfg)
        except DataError as exc:
            msg = f"batch of communities {', '.join(batch)}: {exc}"
            raise DataError(msg) from None
        ds.source = source
        t_read = time.perf_counter() - t0
        grid_order = [s for s in order if s != "coverage"]
        with injecting(inject):
            plan = plan_stages(ds, cfg, grid_order, runner=LocalRunner())
        has_assignments = "assignments" in plan.layers
        if rosters is not None:
            from gridplan.output.rosters import roster_tables

            sheets = roster_tables(plan, lang=rosters["lang"], reveal=bool(rosters["reveal"]))
            tmp_sheets = _rosters_path(gpkg).with_suffix(".tmp")
            with tmp_sheets.open("wb") as fh:
                pickle.dump(sheets, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp_sheets, _rosters_path(gpkg))
        plan.layers.pop("people", None)
        figures: dict[str, Any] | None = None
        if coverage is not None:
            t_cov = time.perf_counter()
            cov_layers, figures = batch_coverage(
                ds, plan.buildings, list(coverage["owned"]), cfg, float(coverage["radius_m"])
            )
            plan.layers.update(cov_layers)
            plan.metadata["timings_s"]["coverage"] = round(time.perf_counter() - t_cov, 3)
        t1 = time.perf_counter()
        partial = gpkg.with_suffix(".part.gpkg")
        if partial.exists():
            partial.unlink()
        write_plan_gpkg(plan, partial)
        os.replace(partial, gpkg)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    flags = [f for stage in plan.metadata.get("flags", {}).values() for f in stage]
    return {
        "ids": batch,
        "communities": len(batch),
        "buildings": len(plan.buildings),
        "households": int(plan.buildings["households"].sum()),
        "grids": len(plan.grids),
        "units": len(plan.layer("units")),
        "flags": flags,
        "seconds": {
            "read_prepare": round(t_read, 3),
            **plan.metadata.get("timings_s", {}),
            "write": round(time.perf_counter() - t1, 3),
            "total": round(time.perf_counter() - t0, 3),
        },
        "cpu_s": round(time.process_time() - c0, 3),
        # the community tasks ran one after the other in this process: their seconds
        "community_cpu_s": round(
            sum(float(plan.metadata["timings_s"].get(s, 0.0)) for s in ("partition", "units")), 3
        ),
        "coverage": figures,
        "dataset": {k: v for k, v in dataset_block(ds).items() if k != "source"},
        "has_assignments": has_assignments,
        **batch_figures(plan, cfg),
    }


def _rosters_path(gpkg: Path) -> Path:
    """Where a batch keeps its roster sheets (a pickle of the tables, read back by the run that
    wrote the batch's folder) until the run merges them."""
    return gpkg.with_name(f"{gpkg.stem}.rosters.pkl")


def _input_checksums(files: Mapping[str, tuple[Path, str | None]]) -> dict[str, str]:
    """Layer name -> SHA-256 of the file it is read from (a GeoPackage's, for each of its
    layers): the batched run reads its inputs in pieces, never a layer whole."""
    by_file: dict[Path, str] = {}
    out: dict[str, str] = {}
    for name, (path, _) in sorted(files.items()):
        if path not in by_file:
            by_file[path] = file_checksum(path)
        out[name] = by_file[path]
    return out


def _layer_counts(
    files: Mapping[str, tuple[Path, str | None]], done: list[dict[str, Any]]
) -> dict[str, int]:
    """Rows per layer: those split by community summed over the batches, the others (read by
    box, so overlapping) as the file holds them."""
    out: dict[str, int] = {}
    for name, src in files.items():
        if name in ("buildings", "communities", "people", "vulnerable"):
            out[name] = sum(int(d.get("dataset", {}).get("layers", {}).get(name, 0)) for d in done)
            continue
        with contextlib.suppress(Exception):  # a CSV may not know its count
            n = int(pyogrio.read_info(src[0], layer=src[1])["features"])
            if n < 0 and src[0].suffix.lower() == ".csv":
                n = len(pd.read_csv(src[0], dtype=str, usecols=[0]))
            if n >= 0:
                out[name] = n
    return out


def _check_overrides(files: Mapping[str, tuple[Path, str | None]]) -> None:
    """A planner's corrections checked against the whole buildings layer before any batch.

    A batch reads only the override rows of its own buildings, so a row naming no building
    would never be seen; this reads the building ids (no geometry) and the overrides whole.

    Raises
    ------
    DataError
        Override rows whose building id is in no building, naming them.
    """
    from gridplan._text import format_ids

    if "overrides" not in files:
        return
    ov = read_table(files["overrides"], "overrides")
    if not len(ov):
        return
    col = building_id_column(ov.columns, "overrides")
    src = files["buildings"]
    info = pyogrio.read_info(src[0], layer=src[1])
    bcol = building_id_column(list(info["fields"]), "buildings")
    bids = pyogrio.read_dataframe(src[0], layer=src[1], columns=[bcol], read_geometry=False)
    known = set(bids[bcol].astype(str))
    ids = ov[col].dropna().astype(str)
    unknown = sorted(set(ids) - known)
    if unknown:
        msg = (
            f"overrides: building_id found in no building: {format_ids(unknown)}. Fix: correct "
            "the ids (they are the buildings layer's building_id) or delete those rows of the "
            "overrides"
        )
        raise DataError(msg)


def plan_to_folder_batched(
    dataset_path: str | Path,
    out: str | Path,
    *,
    config: Config | None = None,
    batch_size: int = 16,
    workers: int | None = None,
    scheduler: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    stages: Iterable[str] | None = None,
    offset: str | None = None,
    retries: int = DEFAULT_RETRIES,
    client: Any = None,
    lang: str = "zh",
    reveal_personal: bool = False,
    overrides: str | Path | None = None,
) -> Path:
    """Plan a large dataset batch by batch of communities, never holding all of it in memory.

    A batch is ``batch_size`` communities (in id order). Planning a batch is one task: read its
    buildings with a ``community_id IN (…)`` filter (buildings without a community id: by the
    batch's bounding box, kept when inside a batch community), the roads, barriers, facilities
    and sites by the batch's bounding box (+5 %), the landuse polygons and points of interest
    (use evidence) by the box of the batch's communities and buildings, the rosters and a
    planner's overrides by building id (so each building's use is decided from the same
    evidence as in a whole-dataset run); validate and
    prepare it as a dataset of its own (:func:`gridplan.io.load_dataset`); plan it community by
    community (the same grids as in memory: :func:`~gridplan.run.pipeline.plan_stages`);
    write its own GeoPackage. With ``workers``/``scheduler`` the batches run on Dask workers,
    one batch per worker at a time (so a worker holds one batch); the driver holds only the
    communities layer and the batches' summaries. As batches finish, their layers are appended into
    ``plan.gpkg`` in batch order, one batch at a time (pyogrio ``append=True``), while the
    workers plan the next batches; a ``metadata`` table ends it.

    Stages: partition, units, staffing (community by community, as in every run, so the same posts
    as a sequential run) and coverage. Coverage: the roads, barriers and facilities are read in the
    box of the batch's communities, buildings and owned facilities grown by :func:`search_radius_m`
    (the largest coverage search bound plus ``coverage.max_access_m``, as ground distance, with
    pyogrio's ``bbox`` filter), which holds every walk a search can take from a batch building, so
    the coverage rows (one per building, tier and category) are those of a whole-dataset run and
    partition cleanly. A road component reaching beyond that box is taken as part of the main
    network (snapping prefers the main component; see :func:`_merge_open_components`: the one
    approximation, which matters only for a building nearer a disconnected fragment reaching out of
    the box than the main network). Each facility belongs to one batch (the batch of the community
    containing it, else of the nearest community), which writes its row of ``facilities`` and its
    ``catchments``. The ``coverage_summary`` community and grid rows come from their batch; its
    ``all`` rows and the coverage metrics and flags are summed over the batches (households, then
    shares: a share is weighted by households, never an average of the batches' shares).

    Siting is left out (``metadata["skipped"]["site"]`` and a flag say so): choosing new
    sites is one optimisation over the whole area (a site serves households of several
    batches; the number of sites is shared), which does not split into batches. Map and report
    are skipped too; plan a city in memory for those.

    The folder holds the files a sequential run of the same stages writes
    (:func:`gridplan.run.pipeline.run_to_folder`): ``plan.gpkg``; with staffing, the rosters
    (``rosters.xlsx``, ``rosters/*.csv``: each batch makes its sheets while it holds its
    people, merged in the order of a whole-plan roster); ``manifest.json`` last. The
    ``metadata`` table has the keys of a sequential run's
    (:func:`gridplan.run.metadata.plan_metadata`), combined from the batches
    (:mod:`gridplan.run.batch_metadata`): ``checksums`` are of the
    input files (the run never reads a layer whole), ``timings_s`` are summed over batches.

    Resume: the work happens in ``.<out>.partial`` beside ``out``, whose ``progress.json`` lists
    the finished batches with their communities (a batch's GeoPackage is renamed into place
    only when complete). A run that fails keeps that folder; the same command run again (same
    dataset files, config, stages, batch size, language and ``reveal_personal``) plans only the
    batches not finished. The finished folder replaces ``out`` in one rename
    (:func:`gridplan._atomic.atomic_output_dir` with ``resumable``: ``out`` is untouched until
    then).

    Parameters
    ----------
    dataset_path
        A dataset folder (one file per layer) or GeoPackage with a ``communities`` layer. With
        ``scheduler``, the dataset and ``out`` must be on a file system the workers share.
    out
        The plan folder to write.
    config
        Settings; ``None`` for the defaults.
    batch_size
        Communities per batch (a worker's memory grows with it; a province community is
        ~500 buildings).
    workers, scheduler, client
        Run the batches on Dask (see :func:`~gridplan.run.parallel.plan_parallel`).
    overwrite
        Replace an existing ``out``.
    progress
        Called with a line per batch.
    stages
        Some of ``partition``, ``units``, ``assign``, ``coverage`` (those they need are
        added); ``None`` for all four. Coverage is skipped (and said so in the metadata) when
        the dataset has no roads or no facilities.
    offset
        ``"gcj02"`` or ``"bd09"`` for offset coordinates.
    retries
        Times a batch is re-run after a worker error (Dask only); listed in the metadata.
    lang
        ``"zh"`` or ``"en"``: the language of the rosters.
    reveal_personal
        Rosters with phones and ID numbers unmasked (personal data).
    overrides
        A planner's corrections file (``building_id,use,households``), read instead of the
        dataset's ``overrides`` layer (with a warning when it has one). Its building ids are
        checked against the whole buildings layer before any batch runs.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false.
    DataError
        A layer is missing, an override names no building, or a batch does not validate
        (naming the batch's communities).
    GridplanError
        Batches failed on the workers even after ``retries`` (the finished ones are kept for a
        resume).
    """
    cfg = config or DEFAULT
    if batch_size < 1:
        msg = f"batch_size must be at least 1, not {batch_size}"
        raise _errors.ConfigError(msg)
    src = Path(dataset_path)
    files = layer_files(src)
    out = Path(out)
    if overrides is not None:
        ov_path = Path(overrides)
        if not ov_path.is_file():
            msg = (
                f"overrides: {ov_path} does not exist. Fix: give a CSV with the columns "
                "building_id, use, households"
            )
            raise DataError(msg)
        if "overrides" in files:
            logger.warning(
                "overrides: the dataset's overrides layer is replaced by %s. "
                "Fix: keep the corrections in one place",
                ov_path.name,
            )
        files = {**files, "overrides": (ov_path, None)}
    # batches are communities: they always partition (coverage alone needs no grids elsewhere)
    order = resolve_stages(["partition", *(BATCHED_STAGES if stages is None else stages)])
    beyond = [s for s in order if s not in BATCHED_STAGES]
    if beyond:
        msg = (
            f"stage(s) {', '.join(beyond)} cannot run batch by batch; batched planning runs "
            f"{', '.join(BATCHED_STAGES)}: plan in memory for the others"
        )
        raise _errors.ConfigError(msg)
    comms = _read(files["communities"])
    comms["community_id"] = comms["community_id"].astype(str)
    comms = comms.sort_values("community_id", kind="stable").reset_index(drop=True)
    ids = comms["community_id"].tolist()
    batches = [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]
    info = pyogrio.read_info(files["buildings"][0], layer=files["buildings"][1])
    has_cid = "community_id" in list(info["fields"])
    n_buildings_in = int(info["features"])
    _check_overrides(files)
    want_rosters = "assign" in order
    roster_opts = {"lang": lang, "reveal": bool(reveal_personal)} if want_rosters else None
    fp = _fingerprint(
        src,
        cfg,
        batch_size,
        offset,
        json.dumps(roster_opts, sort_keys=True),
        extra=[files["overrides"][0]] if overrides is not None else (),
    )
    fp += "|" + ",".join(order)
    radius = search_radius_m(cfg)
    cov_skip: str | None = None
    owned: dict[int, list[str]] = {}
    owned_box: dict[int, Box] = {}
    n_facilities = 0
    if "coverage" in order:
        n_roads = (
            int(pyogrio.read_info(files["roads"][0], layer=files["roads"][1])["features"])
            if "roads" in files
            else 0
        )
        if n_roads and "facilities" in files:
            owned, owned_box, n_facilities = facility_owners(files["facilities"], comms, batch_size)
        if not n_roads or not n_facilities:
            cov_skip = SKIP_REASONS["no_roads_facilities"]
    with_cov = "coverage" in order and cov_skip is None

    with contextlib.ExitStack() as stack:
        work = stack.enter_context(
            atomic_output_dir(out, overwrite=overwrite, resumable=True)
        ).resolve()
        state_path = work / "progress.json"
        state: dict[str, Any] = {}
        if state_path.exists():
            with contextlib.suppress(ValueError):
                state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("fingerprint") != fp:
            if state:
                logger.warning("%s belongs to another run (inputs changed): starting over", work)
            for p in work.iterdir():
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink()
            state = {"fingerprint": fp, "batches": {}, "resumed": 0, "retried": {}}
        else:
            state["resumed"] = int(state.get("resumed", 0)) + 1
        (work / "batches").mkdir(exist_ok=True)

        def save_state() -> None:
            tmp_state = state_path.with_suffix(".json.tmp")
            tmp_state.write_text(json.dumps(state, indent=1, default=str), encoding="utf-8")
            os.replace(tmp_state, state_path)

        save_state()
        jobs: dict[str, tuple[Any, ...]] = {}
        tags: dict[str, str] = {}
        for bi, batch in enumerate(batches, start=1):
            tag = f"{bi:05d}"
            gpkg = work / "batches" / f"batch-{tag}.gpkg"
            if (
                tag in state["batches"]
                and gpkg.exists()
                and (not want_rosters or _rosters_path(gpkg).exists())
            ):
                if progress:
                    progress(f"batch {bi}/{len(batches)} already written: skipped")
                continue
            sub = comms[comms["community_id"].isin(batch)]
            key = f"batch-{tag}"
            tags[key] = tag
            cov_job = (
                {"radius_m": radius, "owned": owned.get(bi - 1, []), "box": owned_box.get(bi - 1)}
                if with_cov
                else None
            )
            jobs[key] = (
                files,
                sub,
                batch,
                has_cid,
                cfg,
                [s for s in order if with_cov or s != "coverage"],
                offset,
                src,
                gpkg,
                {c: m for c, m in _injected().items() if c in batch},
                cov_job,
                roster_opts,
            )
        runner: Runner = open_runner(
            stack, workers=workers, scheduler=scheduler, client=client, retries=retries
        )
        t_start = time.perf_counter()
        cpu0 = time.process_time()
        # plan.gpkg is rebuilt from the batch files on every run, in batch order, while the
        # workers plan the remaining batches (a crash mid-append costs nothing: it is redone)
        target = work / "plan.gpkg"
        if target.exists():
            target.unlink()
        appender = _Appender(target, later=("coverage_summary",) if with_cov else ())
        next_tag = [1]

        def append_ready() -> None:
            while next_tag[0] <= len(batches) and f"{next_tag[0]:05d}" in state["batches"]:
                appender.add(work / "batches" / f"batch-{next_tag[0]:05d}.gpkg")
                next_tag[0] += 1

        for done_now, (key, summary) in enumerate(runner.run(_batch_task, jobs), start=1):
            tag = tags[key]
            state["batches"][tag] = summary
            if key in runner.retried:
                state["retried"][f"{key} ({', '.join(summary['ids'])})"] = runner.retried[key]
            save_state()
            append_ready()
            tell(
                progress,
                f"batch {int(tag)}/{len(batches)} ({summary['ids'][0]}–{summary['ids'][-1]}) "
                f"planned: {summary['households']:,} households",
                done=done_now,
                total=len(jobs),
            )
        if runner.failed:
            lines = "; ".join(f"{k}: {why}" for k, why in sorted(runner.failed.items()))
            msg = (
                f"{len(runner.failed)} batch(es) failed on the workers even after {retries} "
                f"retries ({lines}); the {len(state['batches'])} finished batch(es) are kept in "
                f"{work}: run the same command again to resume"
            )
            raise GridplanError(msg)

        if progress:
            progress("appending the last batches to plan.gpkg …")
        append_ready()
        rows = appender.finish()
        done = [state["batches"][t] for t in sorted(state["batches"])]
        metrics: dict[str, Any] = {}
        all_flags: dict[str, list[str]] = {}
        cov_info: dict[str, Any] = {}
        if with_cov:
            parts = [d["coverage"] for d in done if d.get("coverage")]
            whole, metrics["coverage"], all_flags["coverage"] = merge_coverage(parts, cfg)
            files_in_order = [
                work / "batches" / f"batch-{i:05d}.gpkg" for i in range(1, len(batches) + 1)
            ]
            rows["coverage_summary"] = write_coverage_summary(target, whole, files_in_order)
            cov_info = {
                "search_radius_m": round(radius, 3),
                "facilities": n_facilities,
                "facilities_read": sum(int(p["facilities_read"]) for p in parts),
                "roads_read": sum(int(p["roads_read"]) for p in parts),
                "open_components": sum(int(p["open_components"]) for p in parts),
            }
        summary_all = {
            k: sum(int(d[k]) for d in done)
            for k in ("communities", "buildings", "households", "grids", "units")
        }
        flags = [f for d in done for f in d.get("flags", [])]
        if summary_all["buildings"] != n_buildings_in:
            flags.append(
                f"buildings: {n_buildings_in} in the dataset but {summary_all['buildings']} "
                "planned; the others lie outside every community polygon and have no "
                "community_id: give those buildings a community_id"
            )
        skipped = {
            "site": SITING_SKIPPED,
            "map": SKIP_REASONS["batched"],
            "report": SKIP_REASONS["batched"],
        }
        if "coverage" not in order:
            skipped["coverage"] = SKIP_REASONS["not_asked"]
        elif cov_skip:
            skipped["coverage"] = cov_skip
        flags.append(
            "siting (new facility sites) did not run: it optimises over the whole area and does "
            "not split into batches; run `gridplan site` on a city in memory for it"
        )
        for stage in ("assign",):
            reasons = [d.get("skipped", {}).get(stage) for d in done]
            if stage in order and reasons and all(reasons):
                skipped[stage] = str(reasons[0])
        stage_metrics, stage_flags, not_merged = merge_metrics(done, cfg)
        ds_block = merge_dataset_blocks(str(src), offset, done, _layer_counts(files, done))
        # the batches' dataset warnings (validation, calibration), each said once here
        for w in dict.fromkeys(ds_block.get("warnings", [])):
            logger.warning("%s", w)
        meta = plan_metadata(
            cfg,
            order,
            dataset=ds_block,
            checksums=_input_checksums(files),
            metrics={**stage_metrics, **metrics},
            flags={**stage_flags, **all_flags},
            timings_s=merge_timings(done),
            sensitivity=merge_sensitivity(done),
        )
        meta["flags"]["batched"] = flags
        meta["timings_s"]["append"] = round(appender.seconds, 3)
        meta["batched"] = {
            "batch_size": batch_size,
            "batches": len(batches),
            "resumed_runs": state.get("resumed", 0),
            "mode": runner.mode,
            "workers": int(runner.workers),
            "retried": state.get("retried", {}),
            "failed": {},
            "rows": rows,
            "seconds_this_run": round(time.perf_counter() - t_start, 3),
            "append_seconds": round(appender.seconds, 3),
            "cpu_s": {
                "batch_tasks": round(sum(float(d.get("cpu_s", 0.0)) for d in done), 3),
                "community_tasks": round(
                    sum(float(d.get("community_cpu_s", 0.0)) for d in done), 3
                ),
                "driver_this_run": round(time.process_time() - cpu0, 3),
            },
            "batch_seconds": {tag: d.get("seconds", {}) for tag, d in state["batches"].items()},
            "coverage": cov_info,
            "checksums": "SHA-256 of each layer's input file (of the whole GeoPackage for its "
            "layers): a batched run reads its layers in pieces, never one whole",
            "timings_s": "seconds summed over the batches (task time, not wall time)",
            "metrics_not_merged": not_merged,
            **summary_all,
        }
        meta["skipped"] = skipped
        write_metadata_table(meta, target)
        if want_rosters and any(d.get("has_assignments") for d in done):
            from gridplan.output.rosters import merge_roster_tables, write_roster_tables

            if progress:
                progress("writing the rosters …")
            t_rosters = time.perf_counter()
            parts_sheets = []
            for i in range(1, len(batches) + 1):
                with _rosters_path(work / "batches" / f"batch-{i:05d}.gpkg").open("rb") as fh:
                    parts_sheets.append(pickle.load(fh))  # written by this run's batches
            sheets = merge_roster_tables(parts_sheets, lang=lang)
            del parts_sheets
            write_roster_tables(
                sheets,
                work,
                reveal=reveal_personal,
                lang=lang,
                by_community=cfg.rosters.by_community,
                date=str(meta.get("created_at") or "")[:10] or None,
            )
            logger.info("rosters written in %.2f s", time.perf_counter() - t_rosters)
        shutil.rmtree(work / "batches", ignore_errors=True)
        state_path.unlink(missing_ok=True)
        write_manifest(work)
    return out
