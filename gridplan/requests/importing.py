"""Import requests as offices export them (CSV, XLSX, GeoJSON, GeoPackage) into the ledger.

Every record is checked before anything is written; all problems are raised at once, each
naming the file's row; then the records go in one transaction (nothing half-imported).
Location: ``building_id`` (its grid and unit follow from the plan), or ``lon``/``lat`` (WGS84,
or the geographic CRS given as ``crs``, e.g. CGCS2000 EPSG:4490), or ``x``/``y`` in ``crs``
(a projected CRS, e.g. EPSG:4545), or the file's own point geometry in any CRS.

Headers and values as offices write them: the column headers of
:data:`gridplan.settings.REQUEST_COLUMN_ALIASES` (工单编号, 诉求内容/诉求描述, 诉求类别,
来源渠道, 紧急程度, 受理时间, 经度, 纬度, 联系人, 联系电话, 楼栋编号, ...) and the Chinese
values of :data:`gridplan.settings.REQUEST_VALUE_ALIASES` (养老助老, 12345热线, 紧急, 求助, ...)
are read as gridplan's columns and codes. XLSX needs the ``excel`` extra (openpyxl).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa

from gridplan._errors import DataError
from gridplan.requests.context import PlanContext
from gridplan.requests.schema import EVENTS, REQUESTS
from gridplan.requests.sla import deadline, parse_time, utc_text
from gridplan.requests.store import Ledger, open_ledger
from gridplan.settings import (
    DEFAULT,
    REQUEST_CATEGORIES,
    REQUEST_CHANNELS,
    REQUEST_HANDLING,
    REQUEST_KINDS,
    REQUEST_URGENCIES,
    Config,
)

__all__ = ["ImportResult", "import_requests", "prepare_requests", "read_request_file"]

logger = logging.getLogger(__name__)

REQUIRED = ("request_id", "requested_at", "service_code", "description")
#: A point farther than this from every plan building is outside the plan (metres).
MAX_SNAP_M = 300.0


@dataclass
class ImportResult:
    """What an import wrote: request ids, and how many of each kind and grid."""

    request_ids: list[str]
    ledger: str

    def __len__(self) -> int:
        return len(self.request_ids)


def read_request_file(path: str | Path) -> pd.DataFrame:
    """A request export as a table (GeoDataFrame when the file has geometry)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.exists():
        raise DataError(f"requests: {p} does not exist")
    if suffix == ".csv":
        return pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if suffix in (".xlsx", ".xls"):
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            msg = (
                f"requests: {p.name}: reading XLSX needs openpyxl; install the excel extra "
                "(pip install 'gridplan[excel]') or save the sheet as CSV (UTF-8)"
            )
            raise DataError(msg) from None
        return pd.read_excel(p, dtype=str).fillna("")
    if suffix in (".geojson", ".json", ".gpkg"):
        return gpd.read_file(p, engine="pyogrio")
    msg = f"requests: {p.name}: unknown file type; give .csv, .xlsx, .geojson or .gpkg"
    raise DataError(msg)


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    t = str(v).strip()
    return t or None


def prepare_requests(
    raw: pd.DataFrame,
    ctx: PlanContext,
    *,
    source: str = "requests",
    timezone: str | None = None,
    crs: Any = None,
    existing: set[str] | None = None,
    config: Config | None = None,
) -> list[dict[str, Any]]:
    """Check every record and turn it into a ledger row (status ``received``).

    Parameters
    ----------
    raw
        The export (see the module docstring for its columns).
    ctx
        The plan's places (:func:`gridplan.requests.load_context`).
    source
        The file's name, for messages.
    timezone
        Zone of times written without an offset; ``None``: those are errors.
    crs
        CRS of ``x``/``y`` columns (``lon``/``lat`` are WGS84).
    existing
        Request ids already in the ledger (a repeat is an error).
    config
        Settings (``[requests]``: deadlines, default urgency per kind, slot hours).

    Raises
    ------
    DataError
        Every problem found, each naming the file's row (``problems`` lists them).
    """
    s = (config or DEFAULT).requests
    df = _normalise(raw, source)
    missing = [c for c in REQUIRED if c not in df.columns]
    has_place = "building_id" in df.columns or {"lon", "lat"} <= set(df.columns)
    has_place = has_place or {"x", "y"} <= set(df.columns) or isinstance(df, gpd.GeoDataFrame)
    if missing or not has_place:
        need = list(missing) + ([] if has_place else ["building_id or lon/lat"])
        msg = f"{source}: missing column(s) {', '.join(need)}; see `gridplan requests import -h`"
        raise DataError(msg)
    buildings = ctx.buildings.set_index("building_id")
    # places of records given by coordinates, in the plan's CRS
    pts = _points(df, crs, ctx.crs, source)
    tree_geoms = ctx.buildings.geometry.to_numpy()
    to_wgs = gpd.GeoSeries(ctx.buildings.geometry.to_numpy(), crs=ctx.crs).to_crs(4326)
    wgs_of = dict(zip(ctx.buildings["building_id"], to_wgs, strict=True))
    seen: dict[str, int] = {}
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(df.to_dict("records")):
        tabular = source.lower().endswith((".csv", ".xlsx", ".xls"))
        where = f"{source} row {i + 2}" if tabular else f"{source} feature {i + 1}"
        rid = _text(rec.get("request_id"))
        bad: list[str] = []
        if rid is None:
            bad.append("request_id is empty")
        elif rid in seen:
            bad.append(f"request_id {rid} repeats row {seen[rid]}")
        elif existing and rid in existing:
            bad.append(f"request_id {rid} is already in the ledger")
        if rid is not None:
            seen.setdefault(rid, i + 2)
        cat = _text(rec.get("service_code"))
        if cat not in REQUEST_CATEGORIES:
            bad.append(f"category {cat!r} is unknown; use one of {', '.join(REQUEST_CATEGORIES)}")
        kind = _text(rec.get("kind")) or "help"
        if kind not in REQUEST_KINDS:
            bad.append(f"kind {kind!r} is unknown; use one of {', '.join(REQUEST_KINDS)}")
        urgency = _text(rec.get("urgency")) or s.kind_urgency.get(kind, "general")
        if urgency not in REQUEST_URGENCIES:
            bad.append(f"urgency {urgency!r} is unknown; use one of {', '.join(REQUEST_URGENCIES)}")
        channel = _text(rec.get("channel")) or "service_centre"
        if channel not in REQUEST_CHANNELS:
            bad.append(f"channel {channel!r} is unknown; use one of {', '.join(REQUEST_CHANNELS)}")
        handling = _text(rec.get("handling")) or ("explain" if kind == "consult" else "self")
        if handling not in REQUEST_HANDLING:
            bad.append(
                f"handling {handling!r} is unknown; use one of {', '.join(REQUEST_HANDLING)}"
            )
        try:
            at = parse_time(rec.get("requested_at"), timezone=timezone, where="requested_at")
        except DataError as exc:
            bad.append(str(exc))
            at = None
        effort = pd.to_numeric(pd.Series([_text(rec.get("effort_h"))]), errors="coerce").iloc[0]
        if pd.notna(effort) and effort <= 0:
            bad.append(f"effort_h {effort} must be positive")
        bid = _text(rec.get("building_id"))
        lon = lat = None
        if bid is not None:
            if bid not in buildings.index:
                bad.append(f"building_id {bid} is in no building of the plan")
            else:
                g = wgs_of[bid]
                lon, lat = g.x, g.y
        elif pts is not None and pts[i] is not None:
            pt = pts[i]
            dist = gpd.GeoSeries(tree_geoms, crs=ctx.crs).distance(pt)
            j = int(np.argmin(dist.to_numpy())) if len(dist) else -1
            if j < 0 or dist.iloc[j] > MAX_SNAP_M:
                bad.append(
                    f"its place is more than {MAX_SNAP_M:.0f} m from every building of the plan"
                )
            else:
                bid = str(ctx.buildings["building_id"].iloc[j])
                w = gpd.GeoSeries([pt], crs=ctx.crs).to_crs(4326).iloc[0]
                lon, lat = w.x, w.y
        else:
            bad.append("no place: give building_id or lon/lat")
        if bad:
            problems.append(f"{where} ({rid or 'no id'}): " + "; ".join(bad))
            continue
        assert at is not None and rid is not None and cat is not None and bid is not None
        brow = buildings.loc[bid]
        skill = REQUEST_CATEGORIES[cat][0]
        rows.append(
            {
                "request_id": rid,
                "service_code": cat,
                "description": _text(rec.get("description")),
                "requested_at": utc_text(at),
                "updated_at": utc_text(at),
                "expected_at": utc_text(deadline(at, kind, urgency, s)),
                "status": "classified",
                "agency_responsible": s.escalation_levels[0],
                "address": _text(rec.get("address")),
                "lon": float(lon) if lon is not None else None,
                "lat": float(lat) if lat is not None else None,
                "channel": channel,
                "kind": kind,
                "handling": handling,
                "urgency": urgency,
                "skill": skill,
                "effort_h": float(effort) if pd.notna(effort) else s.slot_hours,
                "building_id": bid,
                "community_id": _text(brow.get("community_id")),
                "grid_id": _text(brow.get("grid_id")),
                "unit_id": _text(brow.get("unit_id")),
                "escalation_level": 0,
                "requester_name": _text(rec.get("requester_name")),
                "requester_phone": _text(rec.get("requester_phone")),
            }
        )
    if problems:
        head = f"{source}: {len(problems)} record(s) cannot be imported; nothing was imported"
        raise DataError(head + ":\n  " + "\n  ".join(problems[:50]), problems)
    return rows


def _normalise(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Headers and values as offices write them, read as gridplan's columns and codes."""
    from gridplan.settings import REQUEST_COLUMN_ALIASES, REQUEST_VALUE_ALIASES

    lookup = {c: c for c in REQUEST_COLUMN_ALIASES}
    for canonical, aliases in REQUEST_COLUMN_ALIASES.items():
        lookup.update({a.lower(): canonical for a in aliases})
    rename: dict[Any, str] = {}
    claimed: dict[str, list[str]] = {}
    for col in raw.columns:
        if isinstance(raw, gpd.GeoDataFrame) and col == raw.geometry.name:
            continue
        key = str(col).strip().lower()
        canonical = lookup.get(key, key)
        rename[col] = canonical
        claimed.setdefault(canonical, []).append(str(col))
    twice = {c: cols for c, cols in claimed.items() if len(cols) > 1}
    if twice:
        msg = f"{source}: several columns mean the same: " + "; ".join(
            f"{' and '.join(cols)} (both {c})" for c, cols in sorted(twice.items())
        )
        raise DataError(msg + "; keep one of each")
    df = raw.rename(columns=rename)
    for col, words in REQUEST_VALUE_ALIASES.items():
        if col in df.columns:
            df[col] = [
                words.get(v.strip(), v.strip()) if isinstance(v, str) else v for v in df[col]
            ]
    return df


def _points(df: pd.DataFrame, crs: Any, target: Any, source: str) -> list[Any] | None:
    if isinstance(df, gpd.GeoDataFrame) and df.geometry.notna().any():
        g = df.geometry
        if g.crs is None:
            raise DataError(f"{source}: the file's geometry has no CRS; declare it")
        return [
            p if p is not None and not p.is_empty else None
            for p in g.to_crs(target).representative_point()
        ]
    if {"lon", "lat"} <= set(df.columns) or {"x", "y"} <= set(df.columns):
        lonlat = "lon" in df.columns
        xc, yc, src = ("lon", "lat", crs or 4326) if lonlat else ("x", "y", crs)
        if lonlat and crs is not None:
            from pyproj import CRS

            if not CRS.from_user_input(crs).is_geographic:
                msg = (
                    f"{source}: lon/lat columns with the projected CRS {crs}; give x/y "
                    "columns for projected coordinates, or a geographic CRS (EPSG:4490)"
                )
                raise DataError(msg)
        if src is None:
            raise DataError(f"{source}: x/y columns need their CRS (--crs EPSG:4547)")
        x = pd.to_numeric(df[xc].replace("", np.nan), errors="coerce")
        y = pd.to_numeric(df[yc].replace("", np.nan), errors="coerce")
        pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=src).to_crs(target)
        return [
            None if (pd.isna(a) or pd.isna(b)) else p for a, b, p in zip(x, y, pts, strict=True)
        ]
    return None


def import_requests(
    ledger: str | Path | Ledger,
    source: str | Path | pd.DataFrame,
    ctx: PlanContext,
    *,
    timezone: str | None = None,
    crs: Any = None,
    actor: str = "import",
    config: Config | None = None,
) -> ImportResult:
    """Import a request export into the ledger (created when missing), all or nothing.

    Each request is written ``classified`` (its category gives the skill, its kind and urgency
    the deadline), with two events: received and classified.

    Raises
    ------
    DataError
        Any bad record (all are listed, each naming its row); the ledger is left unchanged.
    """
    led = open_ledger(ledger, create=True)
    raw = source if isinstance(source, pd.DataFrame) else read_request_file(source)
    name = "requests" if isinstance(source, pd.DataFrame) else Path(source).name
    with led.write() as conn:
        existing = {r for (r,) in conn.execute(sa.select(REQUESTS.c.request_id))}
        rows = prepare_requests(
            raw, ctx, source=name, timezone=timezone, crs=crs, existing=existing, config=config
        )
        for r in rows:
            r["geom"] = led.dialect.geometry(r["lon"], r["lat"])
        if rows:
            conn.execute(REQUESTS.insert(), rows)
            events = []
            for r in rows:
                events.append(
                    {
                        "request_id": r["request_id"],
                        "at": r["requested_at"],
                        "actor": actor,
                        "from_status": None,
                        "to_status": "received",
                        "person_id": None,
                        "note": f"via {r['channel']}",
                    }
                )
                events.append(
                    {
                        "request_id": r["request_id"],
                        "at": r["requested_at"],
                        "actor": actor,
                        "from_status": "received",
                        "to_status": "classified",
                        "person_id": None,
                        "note": (
                            f"{r['service_code']}, {r['kind']}, {r['urgency']}, "
                            f"due {r['expected_at']}"
                        ),
                    }
                )
            conn.execute(EVENTS.insert(), events)
    logger.info("imported %d request(s) into %s", len(rows), led)
    return ImportResult([r["request_id"] for r in rows], str(led))
