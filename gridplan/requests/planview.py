"""The requests as a plan shows them: the open-requests layer of its map and the requests
section of its report (``gridplan run DATASET --out DIR --requests LEDGER``).

A plan's files must be the same for the same inputs, byte for byte, so the figures are taken
as of the ledger's own last entry (the latest time any request was received or changed), not
the clock; each request's grid is read from the plan's buildings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from gridplan._errors import DataError
from gridplan.db import is_database_url, parse_database_url
from gridplan.requests.context import plan_context
from gridplan.requests.importing import ImportResult, import_requests
from gridplan.requests.reports import open_requests_layer, regrid, request_report
from gridplan.requests.store import Ledger, open_ledger, read_requests
from gridplan.requests.tracking import as_utc
from gridplan.settings import Config

__all__ = ["import_for_plan", "ledger_as_of", "plan_requests"]

_TIMES = ("requested_at", "updated_at", "dispatched_at", "accepted_at", "resolved_at", "closed_at")


def ledger_as_of(requests: pd.DataFrame) -> pd.Timestamp:
    """The ledger's last entry: the latest time a request was received or changed (UTC)."""
    stamps = [pd.to_datetime(requests[c], utc=True).max() for c in _TIMES if c in requests.columns]
    stamps = [s for s in stamps if pd.notna(s)]
    if not stamps:
        raise DataError("requests: the ledger holds no request; import some first")
    return max(stamps)


def _grid_of(layers: Mapping[str, Any]) -> dict[str, str]:
    b = layers.get("buildings")
    if b is None or "grid_id" not in b:
        return {}
    ok = b["grid_id"].notna()
    return dict(zip(b["building_id"][ok].astype(str), b["grid_id"][ok].astype(str), strict=True))


def plan_requests(
    ledger: str | Path | Ledger,
    layers: Mapping[str, Any],
    *,
    lang: str = "zh",
    now: Any = None,
    config: Config | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The open-requests layer (masked pop-ups) and the request report for a plan.

    Parameters
    ----------
    ledger
        The request ledger (a ``.gpkg`` path or a ``postgresql://`` URL).
    layers
        The plan's layers (buildings with grid_id; coverage for the link to coverage gaps).
    lang
        Language of the pop-ups.
    now
        As of when; default the ledger's last entry (:func:`ledger_as_of`).

    Returns
    -------
    tuple
        The layer for :func:`gridplan.output.maps.make.make_map` and the report
        (:func:`gridplan.requests.request_report`, with ``ledger``: its file name or masked
        URL).

    Raises
    ------
    DataError
        The ledger does not exist or holds no request.
    """
    led = open_ledger(ledger)
    df = read_requests(led)
    when = as_utc(now) if now is not None else ledger_as_of(df)
    grid_of = _grid_of(layers)
    layer = open_requests_layer(regrid(df, grid_of), lang=lang, now=when)
    cov = layers.get("coverage")
    rep = request_report(
        led,
        coverage=pd.DataFrame(cov) if cov is not None else None,
        now=when,
        config=config,
        grid_of=grid_of,
    )
    name = str(ledger) if isinstance(ledger, str | Path) else "ledger"
    rep["ledger"] = parse_database_url(name).masked if is_database_url(name) else Path(name).name
    rep["open"] = len(layer)
    return layer, rep


def import_for_plan(
    ledger: str | Path | Ledger,
    source: str | Path | pd.DataFrame,
    layers: Mapping[str, Any],
    *,
    config: Config | None = None,
) -> ImportResult:
    """Import a request export against a plan in memory (its buildings and grids): the demo's
    month of requests, written beside the plan before its files are (see
    :func:`gridplan.requests.import_requests`)."""
    ctx = plan_context(layers, config=config)
    return import_requests(ledger, source, ctx, config=config)
