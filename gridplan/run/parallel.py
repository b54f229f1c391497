"""Plans on a Dask cluster: :func:`plan_parallel`, and :func:`plan_by_community`, its plan.

Both are :func:`gridplan.run.pipeline.plan_dataset` on a :class:`~gridplan.run.runner.Runner`: each
community's partition and units are one task (:mod:`gridplan.run.community`), the catchments a task
per facility category on Dask; staffing (community by community, each from its own residents),
coverage and siting run on the driver, on the merged layers. The plan does not depend on the runner.
To choose sequential, Dask or batched from options, as ``gridplan run`` does, call
:func:`gridplan.run.folder.plan_to_folder`.

Example
-------
>>> from gridplan.io import load_dataset                               # doctest: +SKIP
>>> from gridplan.run.parallel import plan_parallel                    # doctest: +SKIP
>>> plan = plan_parallel(load_dataset("data/town"), workers=2)        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gridplan._progress import Progress
from gridplan.dataset import Dataset
from gridplan.output.planfile import Plan
from gridplan.run.pipeline import plan_dataset, plan_stages, resolve_stages
from gridplan.run.runner import DEFAULT_RETRIES, LocalRunner, dask_runner
from gridplan.settings import DEFAULT, Config

__all__ = ["plan_by_community", "plan_parallel"]


def plan_by_community(
    dataset: Dataset,
    *,
    config: Config | None = None,
    stages: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> Plan:
    """The sequential plan, community by community in this process: what
    :func:`gridplan.run.pipeline.plan_dataset` does with its default runner.

    The same plan as :func:`plan_parallel` gives on any number of workers (each community's
    grids depend only on its own buildings and id).

    Parameters
    ----------
    dataset
        A prepared dataset (:func:`gridplan.io.load_dataset`).
    config
        Settings; ``None`` for the defaults.
    stages
        Stages to run (those they need are added); ``None`` for all.
    progress
        Called with a short line per stage and per community planned.

    Returns
    -------
    Plan
        As :func:`gridplan.run.pipeline.plan_dataset` returns it.
    """
    return plan_dataset(
        dataset, config=config, stages=stages, progress=progress, runner=LocalRunner()
    )


def plan_parallel(
    dataset: Dataset,
    *,
    config: Config | None = None,
    stages: Iterable[str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    retries: int = DEFAULT_RETRIES,
    client: Any = None,
) -> Plan:
    """Plan on Dask: communities (partition, units) and catchments in parallel.

    The plan is identical to :func:`plan_by_community` (every layer; timings aside).

    Parameters
    ----------
    dataset
        A prepared dataset.
    config
        Settings; ``None`` for the defaults.
    stages
        Stages to run; ``None`` for all.
    workers
        Start a local cluster of this many single-threaded worker processes (``None`` and no
        ``scheduler``: one per core).
    scheduler
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``); its workers
        need gridplan installed. Wins over ``workers``.
    progress
        Called with a line per stage and per community planned (in completion order).
    retries
        Times a community is re-run after a worker error (a lost worker, memory); a community
        re-run is listed in ``metadata["parallel"]["retried"]``. Data and planning errors are
        not retried: they would fail again.
    client
        An existing ``distributed.Client`` to use (wins over ``workers`` and ``scheduler``).

    Returns
    -------
    Plan
        The plan, ``metadata["parallel"]`` saying how it ran, retried and failed communities.

    Raises
    ------
    GridplanError
        Dask is not installed, the scheduler cannot be reached, or communities failed on the
        workers even after ``retries`` (they are listed; nothing is dropped silently).
    DataError, InfeasibleError
        As the sequential run, naming the communities.
    """
    cfg = config or DEFAULT
    order = resolve_stages(stages)
    with dask_runner(workers, scheduler, client, retries) as runner:
        return plan_stages(dataset, cfg, order, progress, runner=runner)
