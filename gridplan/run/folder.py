"""One call from a dataset to a plan folder, however it runs: :func:`plan_to_folder`.

What ``gridplan run`` (and each stage command) calls. The options choose the mode:

- nothing: in this process, community after community (:class:`~gridplan.run.runner.LocalRunner`);
- ``workers`` / ``scheduler`` / ``client``: communities and catchments on Dask
  (:func:`~gridplan.run.runner.dask_runner`); the same plan;
- ``batch_size``: a province, ``batch_size`` communities at a time from disk, resumable
  (:func:`~gridplan.run.batched.plan_to_folder_batched`; on Dask too with the options above).

Example
-------
>>> from gridplan.run import plan_to_folder                           # doctest: +SKIP
>>> done = plan_to_folder("data/town", "my-plan", workers=2)          # doctest: +SKIP
>>> done.plan.grids[["grid_id", "households"]]                        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridplan._atomic import check_output_dir
from gridplan._errors import ConfigError
from gridplan._progress import Progress
from gridplan.dataset import Dataset
from gridplan.db import is_database_url, parse_database_url, shown
from gridplan.output.planfile import Plan
from gridplan.run.pipeline import (
    plan_stages,
    resolve_stages,
    run_to_folder,
    subset_communities,
)
from gridplan.run.runner import DEFAULT_RETRIES, open_runner
from gridplan.settings import DEFAULT, Config

__all__ = ["PlanRun", "plan_to_folder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanRun:
    """What :func:`plan_to_folder` did.

    Attributes
    ----------
    out
        The plan folder written, or the masked URL of the plan schema.
    mode
        ``"sequential"``, ``"dask"`` or ``"batched"``.
    plan
        The plan in memory; ``None`` for a batched run (it never holds the whole plan: read
        the folder with :func:`gridplan.output.planfile.read_plan`).
    """

    out: Path | str
    mode: str
    plan: Plan | None = None
    #: The folder of map, report and rosters when the plan went into a database.
    files: Path | None = None


def plan_to_folder(
    dataset: Dataset | str | Path,
    out: str | Path,
    *,
    config: Config | None = None,
    stages: Iterable[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    batch_size: int | None = None,
    retries: int = DEFAULT_RETRIES,
    offset: str | None = None,
    communities: Iterable[str] | None = None,
    overwrite: bool = False,
    lang: str = "zh",
    reveal_personal: bool = False,
    basemap: str = "osm",
    tianditu_key: str | None = None,
    progress: Progress | None = None,
    overrides: str | Path | None = None,
    files: str | Path | None = None,
    requests: str | Path | None = None,
    request_file: str | Path | None = None,
) -> PlanRun:
    """Plan ``dataset`` and write the plan folder ``out``: sequential, on Dask, or batched.

    Parameters
    ----------
    dataset
        A dataset path (read with :func:`gridplan.io.load_dataset`) or a loaded
        :class:`~gridplan.dataset.Dataset`; a batched run needs a path.
    out
        The plan folder (written atomically: a failed run leaves nothing half-written), or a
        PostgreSQL URL ``postgresql://…?schema=NAME``: the plan's layers become the tables of
        that schema, written in one transaction (:mod:`gridplan.output.postgis`).
    config
        Settings; ``None`` for the defaults.
    stages
        Stages to run (those they need are added); ``None`` for all (batched: partition,
        units, staffing and coverage).
    workers, scheduler, client
        Run on Dask: a local cluster of ``workers`` processes, the cluster at ``scheduler``
        (``tcp://host:8786``), or an existing ``distributed.Client``
        (:func:`~gridplan.run.runner.dask_runner`). None of them: in this process.
    batch_size
        Plan ``batch_size`` communities at a time from disk, resuming an interrupted run
        (:func:`~gridplan.run.batched.plan_to_folder_batched`); no siting, map or report.
    retries
        Times a Dask task is re-run after a worker error.
    offset
        ``"gcj02"`` or ``"bd09"`` when the dataset's coordinates carry that offset (a path).
    communities
        Plan only these community ids (:func:`~gridplan.run.pipeline.subset_communities`);
        not with ``batch_size``.
    overwrite
        Replace an existing ``out`` (else :class:`~gridplan._errors.OutputExistsError`, before
        any work).
    lang, reveal_personal, basemap, tianditu_key
        As for :func:`~gridplan.run.pipeline.run_to_folder`.
    progress
        Called with a short line per step (reading, each stage, each community or batch).
    overrides
        A planner's corrections file (``building_id,use,households``) read with the dataset
        path (:func:`gridplan.io.load_dataset`; a batched run reads it by building id per batch);
        not with a dataset in memory.

    files
        With a database ``out``: the folder for the map, report and rosters (files, not
        tables); ``None`` writes the tables only.
    requests, request_file
        A request ledger whose open requests go on the map and whose figures go in the
        report, or an export to import into the plan's own ``requests.gpkg`` first (as for
        :func:`~gridplan.run.pipeline.run_to_folder`); not with ``batch_size``.

    Returns
    -------
    PlanRun
        The folder, the mode, and the plan (not for a batched run).

    Raises
    ------
    OutputExistsError
        ``out`` exists and ``overwrite`` is false; nothing is changed.
    ConfigError
        ``batch_size`` with ``communities`` or with a dataset already in memory.
    DataError, InfeasibleError, GridplanError
        As the planners raise them.
    """
    files_dir = None if files is None else Path(files)
    if is_database_url(out):
        from gridplan.output.postgis import check_plan_schema

        check_plan_schema(parse_database_url(str(out)), overwrite=overwrite)  # before any work
        if files_dir is not None:
            check_output_dir(files_dir, overwrite=overwrite)
        if batch_size is not None:
            msg = (
                "--batch-size writes a plan folder batch by batch; give a folder as --out "
                "(a plan schema is written in one transaction from a plan in memory)"
            )
            raise ConfigError(msg)
    else:
        if files_dir is not None:
            msg = "--files goes with a database --out (postgresql://…); a folder holds the files"
            raise ConfigError(msg)
        out = Path(out)
        check_output_dir(out, overwrite=overwrite)  # fail before any work
    cfg = config or DEFAULT
    if overrides is not None and isinstance(dataset, Dataset):
        msg = (
            "overrides: an overrides file is read with a dataset path; for a dataset in memory "
            "put an overrides layer in the dataset"
        )
        raise ConfigError(msg)
    if batch_size is not None and (requests is not None or request_file is not None):
        raise ConfigError("--requests goes with a plan in memory (no map or report in batches)")
    if batch_size is not None:
        return _batched(
            dataset,
            Path(out),
            cfg,
            stages=stages,
            workers=workers,
            scheduler=scheduler,
            client=client,
            batch_size=batch_size,
            retries=retries,
            offset=offset,
            communities=communities,
            overwrite=overwrite,
            lang=lang,
            reveal_personal=reveal_personal,
            progress=progress,
            overrides=overrides,
        )
    ds = _dataset(dataset, cfg, offset, communities, progress, overrides)
    stage_list = None if stages is None else list(stages)
    with contextlib.ExitStack() as stack:
        runner = open_runner(
            stack, workers=workers, scheduler=scheduler, client=client, retries=retries
        )
        plan = plan_stages(
            ds,
            cfg,
            resolve_stages(stage_list),
            progress,
            runner=runner,
        )
    written = run_to_folder(
        plan,
        out,
        stages=stage_list,
        overwrite=overwrite,
        lang=lang,
        reveal_personal=reveal_personal,
        basemap=basemap,
        tianditu_key=tianditu_key,
        progress=progress,
        files=files_dir,
        requests=requests,
        request_file=request_file,
    )
    return PlanRun(out=written, mode=runner.mode, plan=plan, files=files_dir)


def _dataset(
    dataset: Dataset | str | Path,
    cfg: Config,
    offset: str | None,
    communities: Iterable[str] | None,
    progress: Progress | None,
    overrides: str | Path | None = None,
) -> Dataset:
    """``dataset`` loaded (a path; its warnings logged), restricted to ``communities``."""
    if isinstance(dataset, Dataset):
        ds = dataset
    else:
        from gridplan.io.load import load_dataset

        if progress:
            progress(f"reading {shown(dataset)} …")
        ds = load_dataset(dataset, offset=offset, config=cfg, overrides=overrides)
        for w in ds.warnings:
            logger.warning("%s", w)
    ids = list(communities or [])
    return subset_communities(ds, ids) if ids else ds


def _batched(
    dataset: Dataset | str | Path,
    out: Path,
    cfg: Config,
    *,
    communities: Iterable[str] | None,
    **kw: Any,
) -> PlanRun:
    from gridplan.run.batched import plan_to_folder_batched

    if isinstance(dataset, Dataset):
        msg = (
            "batch_size: a batched run reads the dataset from disk batch by batch; give its "
            "path, not a dataset already in memory"
        )
        raise ConfigError(msg)
    if communities:
        msg = "communities and batch_size do not go together: a batched run plans every community"
        raise ConfigError(msg)
    plan_to_folder_batched(dataset, out, config=cfg, **kw)
    return PlanRun(out=out, mode="batched")
