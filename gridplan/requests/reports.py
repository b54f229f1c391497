"""Reports on the ledger: the three rates (三率) per grid, unit and category, roll-ups by day,
week, month and quarter (日收集、周汇总、月研判、季通报), the open requests for the map, the link
from request categories to coverage gaps, and the Open311 export.

Rates: **response** = requests someone accepted (or resolved at once) ÷ requests received;
**resolution** = requests resolved ÷ received; **satisfaction** = satisfied or basically
satisfied ÷ revisited with a rating. Duplicates and requests outside the community's remit
are left out of the denominators. Personal data (requester names and phones) is masked.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gridplan.i18n import category_label, labels_in
from gridplan.privacy import mask_phone
from gridplan.requests.schema import ACTIVE, open311_status
from gridplan.requests.store import Ledger, open_ledger, read_requests
from gridplan.requests.tracking import as_utc
from gridplan.settings import DEFAULT, REQUEST_CATEGORIES, Config

__all__ = [
    "coverage_gaps",
    "open311",
    "open_requests_layer",
    "regrid",
    "request_report",
    "three_rates",
    "write_request_report",
]

_OUT = ("duplicate", "not_responsible")
_PERIODS = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q"}


def _cat(code: Any, lang: str) -> str:
    """A request category in words (the code when unknown)."""
    return labels_in("requests", lang).get(f"category.{code}", str(code))


def _mask_name(name: Any) -> str:
    text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    return text[:1] + "*" * max(len(text) - 1, 1) if text else ""


def three_rates(requests: pd.DataFrame, by: str | None = None, *, now: Any = None) -> pd.DataFrame:
    """Received, response, resolution and satisfaction rates, median hours to close, overdue.

    Parameters
    ----------
    requests
        Ledger rows (:func:`gridplan.requests.read_requests`).
    by
        Group by this column (``grid_id``, ``unit_id``, ``service_code``); ``None``: one row.
    now
        Time of the report (overdue counts active requests past their deadline then).

    Returns
    -------
    pandas.DataFrame
        received, responded, resolved, rated, satisfied, response_rate, resolution_rate,
        satisfaction_rate, median_hours_to_close, overdue (and the ``by`` column).
    """
    when = as_utc(now)
    df = requests[~requests["status"].isin(_OUT)].copy()
    df["_key"] = df[by].fillna("—").astype(str) if by else "all"
    df["_responded"] = df["accepted_at"].notna() | df["resolved_at"].notna()
    df["_resolved"] = df["resolved_at"].notna()
    df["_rated"] = df["satisfaction"].notna()
    df["_satisfied"] = df["satisfaction"].isin(["satisfied", "basically_satisfied"])
    exp = pd.to_datetime(df["expected_at"], utc=True)
    df["_overdue"] = df["status"].isin(sorted(ACTIVE)) & (exp < when)
    close = pd.to_datetime(df["closed_at"], utc=True) - pd.to_datetime(df["requested_at"], utc=True)
    df["_close_h"] = close.dt.total_seconds() / 3600.0
    g = df.groupby("_key", sort=True)
    out = pd.DataFrame(
        {
            "received": g.size(),
            "responded": g["_responded"].sum(),
            "resolved": g["_resolved"].sum(),
            "rated": g["_rated"].sum(),
            "satisfied": g["_satisfied"].sum(),
            "median_hours_to_close": g["_close_h"].median().round(1),
            "overdue": g["_overdue"].sum(),
        }
    )
    out["response_rate"] = (out["responded"] / out["received"]).round(3)
    out["resolution_rate"] = (out["resolved"] / out["received"]).round(3)
    out["satisfaction_rate"] = (out["satisfied"] / out["rated"].where(out["rated"] > 0)).round(3)
    out.index.name = by or "scope"
    return out.reset_index()


def rollup(requests: pd.DataFrame, period: str, *, timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """Requests received, resolved and closed per local day, week, month or quarter."""
    if period not in _PERIODS:
        raise ValueError(f"period {period!r}: use one of {', '.join(_PERIODS)}")
    out = {}
    for col, name in (
        ("requested_at", "received"),
        ("resolved_at", "resolved"),
        ("closed_at", "closed"),
    ):
        t = pd.to_datetime(requests[col], utc=True).dropna().dt.tz_convert(timezone)
        out[name] = t.dt.tz_localize(None).dt.to_period(_PERIODS[period]).value_counts()
    df = pd.DataFrame(out).fillna(0).astype(int).sort_index()
    df.index = df.index.astype(str)
    df.index.name = period
    return df.reset_index()


def open311(requests: pd.DataFrame) -> list[dict[str, Any]]:
    """The requests as Open311 GeoReport v2 ``service_requests`` (status open/closed; the fine
    status kept as ``status_notes`` prefix and ``gridplan_status``), personal data left out."""
    out = []
    for r in requests.to_dict("records"):
        out.append(
            {
                "service_request_id": r["request_id"],
                "status": open311_status(str(r["status"])),
                "status_notes": r.get("status_notes") or r["status"],
                "service_code": r["service_code"],
                "service_name": _cat(r["service_code"], "en"),
                "description": r.get("description"),
                "agency_responsible": r.get("agency_responsible"),
                "requested_datetime": r.get("requested_at"),
                "updated_datetime": r.get("updated_at"),
                "expected_datetime": r.get("expected_at"),
                "address": r.get("address"),
                "lat": r.get("lat"),
                "long": r.get("lon"),
                "gridplan_status": r["status"],
            }
        )
    return out


def regrid(requests: pd.DataFrame, grid_of: dict[str, str]) -> pd.DataFrame:
    """The requests with each grid read from ``grid_of`` (building_id -> grid_id) where the
    building is known there (a plan's grids), else as the ledger has it."""
    out = requests.copy()
    mapped = out["building_id"].astype(str).map(grid_of)
    out["grid_id"] = mapped.where(mapped.notna(), out["grid_id"])
    return out


def _partner_rows(requests: pd.DataFrame) -> pd.Series:
    """Rows handled by a partner unit (双报到单位): the dispatcher writes the unit, "name (id)",
    as the agency responsible, and the unit's id as the assignee."""
    agency = requests.get("agency_responsible", pd.Series(None, index=requests.index))
    who = requests.get("assignee", pd.Series(None, index=requests.index))
    return pd.Series(
        [
            isinstance(a, str) and isinstance(p, str) and a.endswith(f"({p})")
            for a, p in zip(agency, who, strict=True)
        ],
        index=requests.index,
        dtype=bool,
    )


def open_requests_layer(
    requests: pd.DataFrame, *, lang: str = "zh", now: Any = None
) -> gpd.GeoDataFrame:
    """Active requests as points for the map (EPSG:4326), with a masked pop-up text.

    Columns: request_id, grid_id, service_code, status, expected_at, overdue (bool, against
    ``now``, default the present), popup (HTML; the requester's name and phone masked; a
    partner unit named), geometry. Requests received after ``now`` are left out when ``now``
    is given.
    """
    lab = labels_in("requests", lang)
    df = requests[requests["status"].isin(sorted(ACTIVE))].copy()
    when = as_utc(now)
    if now is not None:
        df = df[pd.to_datetime(df["requested_at"], utc=True) <= when]
    overdue = pd.to_datetime(df["expected_at"], utc=True) < when
    partner = _partner_rows(df)
    pops = []
    for r, by_unit in zip(df.to_dict("records"), partner, strict=True):
        who = f"{lab['partner']} {r['agency_responsible']}" if by_unit else r.get("assignee") or "—"
        e = html.escape
        due = pd.Timestamp(r["expected_at"]) if r.get("expected_at") else None
        due_text = (
            due.tz_convert(DEFAULT.requests.timezone).strftime("%Y-%m-%d %H:%M")
            if due is not None and due.tzinfo is not None
            else "—"
        )
        pops.append(
            f"<b>{e(str(r['request_id']))}</b> {e(_cat(r['service_code'], lang))}<br>"
            f"{lab['status']}: {e(lab.get('status.' + str(r['status']), str(r['status'])))}<br>"
            f"{lab['grid']}: {e(str(r.get('grid_id') or '—'))}<br>"
            f"{lab['due']}: {e(due_text)}<br>"
            f"{lab['assignee']}: {e(str(who))}<br>"
            f"{lab['requester']}: {e(_mask_name(r.get('requester_name')))} "
            f"{e(str(mask_phone(r.get('requester_phone'))))}"
        )
    return gpd.GeoDataFrame(
        {
            "request_id": df["request_id"].to_numpy(),
            "grid_id": df["grid_id"].to_numpy(),
            "service_code": df["service_code"].to_numpy(),
            "status": df["status"].to_numpy(),
            "expected_at": df["expected_at"].to_numpy(),
            "overdue": overdue.to_numpy(dtype=bool),
            "popup": pops,
        },
        geometry=gpd.points_from_xy(df["lon"], df["lat"]),
        crs=4326,
    )


def coverage_gaps(requests: pd.DataFrame, coverage: pd.DataFrame | None) -> pd.DataFrame:
    """Requests per category from buildings that lack the facility the category points to.

    A category is linked to facility categories in
    :data:`gridplan.settings.REQUEST_CATEGORIES` (elderly care → elderly day care and care
    homes, medical → health station and centre, ...): a request counts as in a gap when its
    building is not covered, at its tier, for any of them.

    Returns
    -------
    pandas.DataFrame
        service_code, facilities, requests, in_gap, gap_share (sorted by in_gap).
    """
    rows = []
    cov = None
    if coverage is not None and len(coverage) and "covered" in coverage:
        cov = coverage.assign(covered=coverage["covered"].astype(bool))
    for cat, (_skill, facs) in REQUEST_CATEGORIES.items():
        if not facs:
            continue
        sel = requests[requests["service_code"] == cat]
        if sel.empty:
            continue
        if cov is None:
            in_gap = np.nan
        else:
            c = cov[cov["category"].isin(facs)]
            ok = set(c.loc[c["covered"], "building_id"].astype(str))
            known = set(c["building_id"].astype(str))
            b = sel["building_id"].astype(str)
            in_gap = int((b.isin(known) & ~b.isin(ok)).sum())
        rows.append(
            {
                "service_code": cat,
                "facilities": ";".join(facs),
                "requests": len(sel),
                "in_gap": in_gap,
                "gap_share": round(in_gap / len(sel), 3) if cov is not None else np.nan,
            }
        )
    out = pd.DataFrame(
        rows, columns=["service_code", "facilities", "requests", "in_gap", "gap_share"]
    )
    return out.sort_values(["in_gap", "service_code"], ascending=[False, True]).reset_index(
        drop=True
    )


def request_report(
    ledger: str | Ledger,
    *,
    coverage: pd.DataFrame | None = None,
    now: Any = None,
    config: Config | None = None,
    grid_of: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every figure of the request report, JSON-serialisable.

    ``grid_of`` (building_id -> grid_id) re-reads each request's grid from a plan's buildings
    (a plan's own report: its grids, whichever plan the ledger was imported against).

    Keys: ``summary`` (the three rates overall), ``by_grid``, ``by_unit``, ``by_category``,
    ``by_partner`` (the partner units, 双报到单位, by name, as the agency responsible),
    ``rollups`` (day, week, month, quarter), ``coverage_gaps``, ``overdue`` (ids), ``statuses``
    (count per fine status), ``open311`` (open/closed counts).
    """
    s = (config or DEFAULT).requests
    when = as_utc(now)
    df = read_requests(open_ledger(ledger))
    df = df[pd.to_datetime(df["requested_at"], utc=True) <= when]  # received by then
    if grid_of is not None:
        df = regrid(df, grid_of)

    def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return json.loads(frame.to_json(orient="records", force_ascii=False))

    exp = pd.to_datetime(df["expected_at"], utc=True)
    overdue = df[df["status"].isin(sorted(ACTIVE)) & (exp < when)]["request_id"].tolist()
    return {
        "generated_at": when.isoformat(),
        "summary": records(three_rates(df, now=when))[0] if len(df) else {},
        "by_grid": records(three_rates(df, "grid_id", now=when)),
        "by_unit": records(three_rates(df, "unit_id", now=when)),
        "by_category": records(three_rates(df, "service_code", now=when)),
        "by_partner": records(
            three_rates(df[_partner_rows(df)], "agency_responsible", now=when)
            if _partner_rows(df).any()
            else pd.DataFrame()
        ),
        "rollups": {p: records(rollup(df, p, timezone=s.timezone)) for p in _PERIODS},
        "coverage_gaps": records(coverage_gaps(df, coverage)),
        "overdue": overdue,
        "statuses": {str(k): int(v) for k, v in df["status"].value_counts().sort_index().items()},
        "open311": {
            str(k): int(v)
            for k, v in df["status"].map(open311_status).value_counts().sort_index().items()
        },
    }


def _pct(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * float(v):.1f} %"


def render_request_report(rep: dict[str, Any], *, lang: str = "zh") -> str:
    """The request report as Markdown, in ``lang``."""
    lab = labels_in("requests", lang)
    lines = [f"# {lab['title']}", "", f"{lab['generated']}: {rep['generated_at']}", ""]
    sm = rep.get("summary") or {}
    if sm:
        lines += [
            f"- {lab['received']}: {sm['received']}",
            f"- {lab['response_rate']}: {_pct(sm['response_rate'])}",
            f"- {lab['resolution_rate']}: {_pct(sm['resolution_rate'])}",
            f"- {lab['satisfaction_rate']}: {_pct(sm['satisfaction_rate'])}",
            f"- {lab['median_hours_to_close']}: {sm['median_hours_to_close']}",
            f"- {lab['overdue']}: {sm['overdue']}",
            "",
        ]
    cols = [
        "received",
        "response_rate",
        "resolution_rate",
        "satisfaction_rate",
        "median_hours_to_close",
        "overdue",
    ]
    for key, col, name in (
        ("by_grid", "grid_id", "grid"),
        ("by_category", "service_code", "category"),
        ("by_partner", "agency_responsible", "partner"),
    ):
        if not rep.get(key):
            continue
        lines += [
            f"## {lab[key]}",
            "",
            "| " + " | ".join([lab[name]] + [lab[c] for c in cols]) + " |",
        ]
        lines.append("|" + "---|" * (len(cols) + 1))
        for r in rep[key]:
            first = _cat(r[col], lang) if col == "service_code" else r[col]
            vals = [
                _pct(r[c]) if c.endswith("_rate") else ("—" if r[c] is None else r[c]) for c in cols
            ]
            lines.append("| " + " | ".join(str(v) for v in [first, *vals]) + " |")
        lines.append("")
    lines += [f"## {lab['rollups']}", ""]
    for period in ("week", "month", "quarter"):
        lines.append(
            f"**{lab['period.' + period]}**: "
            + "; ".join(
                f"{r[period]}: {r['received']}/{r['resolved']}/{r['closed']}"
                for r in rep["rollups"][period]
            )
        )
        lines.append("")
    lines += [f"## {lab['coverage_gaps']}", "", lab["coverage_gaps_intro"], ""]
    for r in rep["coverage_gaps"]:
        facs = (
            "、".join(category_label(f, lang) for f in str(r["facilities"]).split(";"))
            if lang == "zh"
            else ", ".join(category_label(f, lang) for f in str(r["facilities"]).split(";"))
        )
        lines.append(f"- {_cat(r['service_code'], lang)}: {r['in_gap']} / {r['requests']} ({facs})")
    lines.append("")
    if rep["overdue"]:
        lines += [f"## {lab['overdue']}", "", ", ".join(rep["overdue"][:100]), ""]
    return "\n".join(lines)


def write_request_report(
    ledger: str | Ledger,
    folder: str | Path,
    *,
    coverage: pd.DataFrame | None = None,
    lang: str = "zh",
    now: Any = None,
    config: Config | None = None,
) -> list[Path]:
    """Write ``requests_report.md``, ``requests_report.json`` and ``open_requests.geojson``
    (masked) into ``folder``; returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rep = request_report(ledger, coverage=coverage, now=now, config=config)
    md = out / "requests_report.md"
    md.write_text(render_request_report(rep, lang=lang), encoding="utf-8")
    js = out / "requests_report.json"
    js.write_text(json.dumps(rep, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    layer = open_requests_layer(read_requests(open_ledger(ledger)), lang=lang, now=now)
    geo = out / "open_requests.geojson"
    if geo.exists():
        geo.unlink()
    layer.to_file(geo, driver="GeoJSON", engine="pyogrio")
    return [md, js, geo]
