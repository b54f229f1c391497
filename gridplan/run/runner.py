"""Where per-community tasks run: the :class:`Runner` protocol and its two implementations.

:func:`gridplan.run.pipeline.plan_stages` cuts a dataset into tasks (one per community:
partition and units; with a parallel runner also one per chunk of a facility category:
catchments) and hands them to the runner it is given:

- :class:`LocalRunner` runs them one after the other in this process (``gridplan run``);
- :class:`DaskRunner` submits them to a ``dask.distributed`` client, re-running a task after a
  worker error (``--workers N``, ``--scheduler ADDR``); :func:`dask_runner` opens one on a new
  local cluster, on a running scheduler or on a client of your own.

Either way the plan is the same: a task's result depends only on its arguments.

Example
-------
>>> from gridplan.run import dask_runner, plan_dataset                    # doctest: +SKIP
>>> with dask_runner(workers=2) as runner:                                # doctest: +SKIP
...     plan = plan_dataset(ds, runner=runner)                            # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from gridplan._errors import ConfigError, GridplanError

__all__ = ["DEFAULT_RETRIES", "DaskRunner", "LocalRunner", "Runner", "dask_runner"]

logger = logging.getLogger(__name__)


#: Times a task is re-run by Dask after a worker error before it counts as failed.
DEFAULT_RETRIES = 2

_INSTALL = (
    "Dask is not installed: `--workers`/`--scheduler` need it. Install the extra with "
    "`pip install 'gridplan[dask]'` (dask and distributed), or run without those options"
)


class Runner(Protocol):
    """Runs keyed tasks and yields their results (in any order).

    Attributes
    ----------
    mode
        ``"sequential"`` or ``"dask"`` (recorded in ``metadata["parallel"]``).
    workers
        Worker processes the tasks are spread over.
    parallel
        Whether tasks run concurrently: worth splitting work into more, smaller tasks
        (catchments per facility category).
    address
        The scheduler's address, ``None`` in this process.
    retries
        Times a task is re-run after a worker error (``0``: never).
    retried
        Task key -> times it was re-run, for every task run so far.
    failed
        Task key -> the error of every task that failed for good (its result is not yielded).
    """

    mode: str
    workers: int
    parallel: bool
    address: str | None
    retries: int
    retried: dict[str, int]
    failed: dict[str, str]

    def broadcast(self, obj: Any) -> Any:
        """``obj`` made available to every task (a large shared argument, sent once)."""
        ...

    def run(
        self, fn: Callable[..., Any], jobs: Mapping[str, tuple[Any, ...]]
    ) -> Iterator[tuple[str, Any]]:
        """``(key, fn(*args))`` for each ``key, args`` of ``jobs``, as they finish."""
        ...


class LocalRunner:
    """Runs tasks one after the other in this process; an exception stops the run."""

    mode = "sequential"
    workers = 1
    parallel = False
    address: str | None = None
    retries = 0

    def __init__(self) -> None:
        self.retried: dict[str, int] = {}
        self.failed: dict[str, str] = {}

    def broadcast(self, obj: Any) -> Any:
        return obj

    def run(
        self, fn: Callable[..., Any], jobs: Mapping[str, tuple[Any, ...]]
    ) -> Iterator[tuple[str, Any]]:
        for key, args in jobs.items():
            yield key, fn(*args)


class DaskRunner:
    """Runs tasks on a ``dask.distributed`` client, ``retries`` times each on a worker error.

    A task that still fails is listed in :attr:`failed` and its result left out; the caller
    decides what that means (nothing is dropped silently: the planners raise).
    """

    mode = "dask"
    parallel = True

    def __init__(self, client: Any, retries: int = DEFAULT_RETRIES) -> None:
        self.client = client
        self.retries = retries
        self.retried: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        info = client.scheduler_info()
        self.workers = len(info.get("workers", {}))
        self.address: str | None = str(
            getattr(client, "scheduler", None) and client.scheduler.address
        )

    def broadcast(self, obj: Any) -> Any:
        return self.client.scatter(obj, broadcast=True, hash=False)

    def run(
        self, fn: Callable[..., Any], jobs: Mapping[str, tuple[Any, ...]]
    ) -> Iterator[tuple[str, Any]]:
        from distributed import as_completed

        stamp = hashlib.sha1(f"{time.time_ns()}-{id(jobs)}".encode()).hexdigest()[:10]
        futures = {}
        for key, args in jobs.items():
            fut = self.client.submit(
                fn, *args, key=f"gridplan-{key}-{stamp}", retries=self.retries, pure=False
            )
            futures[fut] = key
        for fut in as_completed(list(futures)):
            key = futures[fut]
            left = self._retries_left(fut.key)
            if left is not None and left < self.retries:
                self.retried[key] = self.retries - left
            if fut.status == "error":
                exc = fut.exception()
                self.failed[key] = f"{type(exc).__name__}: {exc}"
                logger.error("%s failed after %d retries: %s", key, self.retries, exc)
                fut.release()
                continue
            result = fut.result()
            fut.release()
            yield key, result

    def _retries_left(self, key: str) -> int | None:
        def left(dask_scheduler: Any, key: str) -> int | None:
            ts = dask_scheduler.tasks.get(key)
            return None if ts is None else int(ts.retries)

        try:
            out = self.client.run_on_scheduler(left, key=key)
            return None if out is None else int(out)
        except Exception:  # the scheduler may already have forgotten the task
            return None


@contextlib.contextmanager
def dask_runner(
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    retries: int = DEFAULT_RETRIES,
) -> Iterator[DaskRunner]:
    """A :class:`DaskRunner` on ``client``, on the cluster at ``scheduler``, or on a new local
    cluster of ``workers`` single-threaded processes (``None``: one per core), closed on exit.

    Raises
    ------
    GridplanError
        Dask is not installed, or the scheduler cannot be reached.
    ConfigError
        ``workers`` below 1.
    """
    try:
        import distributed
    except ImportError:
        raise GridplanError(_INSTALL) from None
    if client is not None:
        yield DaskRunner(client, retries)
        return
    if scheduler is not None:
        try:
            cl = distributed.Client(scheduler, timeout="20s")
        except OSError as exc:
            msg = (
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                "`dask scheduler` or fix --scheduler"
            )
            raise GridplanError(msg) from None
        try:
            yield DaskRunner(cl, retries)
        finally:
            cl.close()
        return
    n = workers or os.cpu_count() or 1
    if n < 1:
        msg = f"--workers must be at least 1, not {n}"
        raise ConfigError(msg)
    with (
        distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as cl,
    ):
        yield DaskRunner(cl, retries)


def open_runner(
    stack: contextlib.ExitStack,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    retries: int = DEFAULT_RETRIES,
) -> Runner:
    """The runner the options ask for, entered on ``stack``: Dask when any of ``workers``,
    ``scheduler`` or ``client`` is given, else a :class:`LocalRunner`."""
    if client is None and workers is None and scheduler is None:
        return LocalRunner()
    return stack.enter_context(dask_runner(workers, scheduler, client, retries))
