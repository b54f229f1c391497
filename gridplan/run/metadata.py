"""The plan's metadata: one builder for every runner (sequential, Dask, batched).

:func:`plan_metadata` makes the ``metadata`` table of ``plan.gpkg`` with the same keys however
the plan was run: version, seed, creation time, parameters, stages, the dataset it was made from
(source, CRSs, offset, layer sizes, warnings), the checksums of the inputs, summary metrics,
flags and timings, and (when given) the household sensitivity and the stages skipped. A runner
adds its own block (``parallel``, ``batched``, ``replan``) beside them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gridplan import __version__
from gridplan.dataset import Dataset
from gridplan.output.planfile import DatasetBlock, PlanMetadata
from gridplan.settings import Config

__all__ = ["METADATA_KEYS", "data_date", "dataset_block", "now_utc", "plan_metadata"]

#: The keys every plan's metadata holds (a runner's own block aside; ``sensitivity`` only when
#: households were estimated).
METADATA_KEYS: tuple[str, ...] = (
    "gridplan_version",
    "seed",
    "created_at",
    "parameters",
    "stages",
    "dataset",
    "checksums",
    "metrics",
    "flags",
    "timings_s",
    "skipped",
)


def now_utc() -> datetime:
    """The time a plan is made: now, or ``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) when
    that variable is set, so that a rebuild on another day gives the same dated report."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def data_date(source: str | Path | None) -> str | None:
    """The date of a dataset on disk (UTC ``YYYY-MM-DD``): the newest modification time of its
    file, or of the files in its folder; ``None`` for a database or a dataset in memory."""
    if not source:
        return None
    path = Path(source)
    if not path.exists():
        return None
    files = [path] if path.is_file() else [p for p in path.iterdir() if p.is_file()]
    if not files:
        return None
    newest = max(p.stat().st_mtime for p in files)
    return datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d")


def dataset_block(dataset: Dataset) -> DatasetBlock:
    """The ``dataset`` block of the metadata for a dataset held in memory."""
    return {
        "source": str(dataset.source) if dataset.source else None,
        "data_date": data_date(dataset.source),
        "input_crs": dataset.input_crs.to_string() if dataset.input_crs else None,
        "working_crs": dataset.crs.to_string() if dataset.crs else None,
        "offset": dataset.offset,
        "layers": {k: len(v) for k, v in dataset.layers.items() if v is not None},
        "warnings": list(dataset.warnings),
    }


def plan_metadata(
    config: Config,
    stages: Sequence[str],
    *,
    dataset: Mapping[str, Any],
    checksums: Mapping[str, str],
    metrics: Mapping[str, Any] | None = None,
    flags: Mapping[str, list[str]] | None = None,
    timings_s: Mapping[str, float] | None = None,
    sensitivity: Mapping[str, Any] | None = None,
    skipped: Mapping[str, str] | None = None,
) -> PlanMetadata:
    """The metadata of a plan (see the module docstring), as a fresh JSON-serialisable dict.

    Parameters
    ----------
    config
        The settings of the run (``parameters`` and ``seed``).
    stages
        The stages run, in order.
    dataset
        The ``dataset`` block: ``source``, ``data_date`` (found from ``source`` when not
        given), ``input_crs``, ``working_crs``, ``offset``,
        ``layers`` (rows per layer), ``warnings`` (:func:`dataset_block` for a dataset in
        memory).
    checksums
        Input layer name -> SHA-256.
    metrics, flags, timings_s
        Filled in as the stages run when not given here.
    sensitivity
        The household sensitivity (:func:`gridplan.households.grid_household_sensitivity`);
        left out when ``None`` or empty.
    skipped
        Stage -> why it was skipped; left out when ``None`` (a runner sets it at the end).
    """
    meta: PlanMetadata = {
        "gridplan_version": __version__,
        "seed": config.seed,
        "created_at": now_utc().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "parameters": config.to_dict(),
        "stages": list(stages),
        "dataset": {
            "source": dataset.get("source"),
            "data_date": dataset.get("data_date") or data_date(dataset.get("source")),
            "input_crs": dataset.get("input_crs"),
            "working_crs": dataset.get("working_crs"),
            "offset": dataset.get("offset"),
            "layers": dict(dataset.get("layers") or {}),
            "warnings": list(dataset.get("warnings") or []),
        },
        "checksums": dict(checksums),
        "metrics": dict(metrics or {}),
        "flags": {k: list(v) for k, v in (flags or {}).items()},
        "timings_s": dict(timings_s or {}),
    }
    if sensitivity:
        meta["sensitivity"] = dict(sensitivity)
    if skipped is not None:
        meta["skipped"] = dict(skipped)
    return meta
