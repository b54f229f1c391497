"""A dispatch run on the ledger: lock, escalate what is overdue, solve, write, all in one
transaction (two runs at once never assign one request twice; a crash leaves the ledger as
it was)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from gridplan.requests.context import PlanContext, roster
from gridplan.requests.dispatch import DispatchResult, candidate_pairs, dispatch_requests
from gridplan.requests.schema import DISPATCHABLE, EVENTS, REQUESTS
from gridplan.requests.sla import utc_text
from gridplan.requests.store import Ledger, open_ledger, requests_frame
from gridplan.requests.tracking import as_utc, escalate_overdue
from gridplan.settings import DEFAULT, Config

__all__ = ["dispatch_ledger"]

logger = logging.getLogger(__name__)

#: Statuses in which a case counts against its assignee's capacity.
_HELD = ("dispatched", "accepted", "in_progress", "escalated")


def dispatch_ledger(
    ledger: str | Ledger,
    ctx: PlanContext,
    *,
    now: Any = None,
    method: str = "flow",
    reoptimise: bool = False,
    actor: str = "dispatcher",
    config: Config | None = None,
) -> DispatchResult:
    """Dispatch the ledger's open requests to the plan's roster (社区派单).

    In one write transaction: overdue cases are escalated; the dispatchable requests
    (classified, returned, escalated and not accepted; with ``reoptimise`` also dispatched
    ones nobody accepted yet, warm-started from their current assignee) are locked; each
    person's open cases and hours count against their capacity; :func:`dispatch_requests`
    decides; the assignments and, for each request it could not place, the reason and the
    escalation are written with their events. Accepted cases are never moved.

    Parameters
    ----------
    ledger
        The ledger.
    ctx
        The plan, roster and walk network (:func:`gridplan.requests.load_context` with a
        dataset).
    now
        Time of the run (default now).
    method
        ``"flow"`` or ``"cpsat"`` (see :func:`dispatch_requests`).
    reoptimise
        Also re-decide dispatched cases nobody has accepted.
    actor
        Recorded in the events.
    config
        Settings (``[requests]``).

    Returns
    -------
    DispatchResult
        As :func:`dispatch_requests`; ``info["escalated_overdue"]`` lists the cases escalated
        for a passed deadline.
    """
    cfg = config or DEFAULT
    s = cfg.requests
    led = open_ledger(ledger)
    when = as_utc(now)
    stamp = utc_text(when)
    people = roster(ctx, cfg)
    with led.write() as conn:
        led.dialect.one_dispatcher(conn)
        overdue = escalate_overdue(led, now=when, conn=conn, config=cfg)
        take = set(DISPATCHABLE) | ({"dispatched"} if reoptimise else set())
        sel = (
            sa.select(*[c for c in REQUESTS.c if c.name not in ("fid", "geom")])
            .where(REQUESTS.c.status.in_(sorted(take)))
            .where(REQUESTS.c.accepted_at.is_(None))
            .where(REQUESTS.c.requested_at <= stamp)
            .order_by(REQUESTS.c.request_id)
        )
        batch = requests_frame(conn.execute(led.dialect.lock(sel)).mappings().all())
        held = pd.DataFrame(
            conn.execute(
                sa.select(REQUESTS.c.request_id, REQUESTS.c.assignee, REQUESTS.c.effort_h)
                .where(REQUESTS.c.status.in_(_HELD))
                .where(REQUESTS.c.assignee.is_not(None))
            ).all(),
            columns=["request_id", "assignee", "effort_h"],
        )
        held = held[~held["request_id"].isin(batch["request_id"])]
        open_cases = held.groupby("assignee").size()
        queue = held.groupby("assignee")["effort_h"].sum()
        ppl = people.copy()
        ppl["open_cases"] = ppl["person_id"].map(open_cases).fillna(0).astype(int)
        ppl["queue_h"] = ppl["person_id"].map(queue).fillna(0.0)
        ppl["cases_free"] = (ppl["max_open_cases"] - ppl["open_cases"]).clip(lower=0)
        hint = {
            str(r): str(a)
            for r, a in zip(batch["request_id"], batch["assignee"], strict=True)
            if isinstance(a, str)
        }
        b_xy = _request_xy(batch, ctx)
        raw = candidate_pairs(
            b_xy,
            ppl[["x", "y"]].to_numpy(dtype=float),
            max_distance_m=s.max_distance_m,
            network=ctx.network,
            crs=ctx.crs,
        )
        pairs = pd.DataFrame(
            {
                "request_id": batch["request_id"].to_numpy()[raw["r"].to_numpy(dtype=int)],
                "person_id": ppl["person_id"].to_numpy()[raw["p"].to_numpy(dtype=int)],
                "distance_m": raw["distance_m"].to_numpy(dtype=float),
            }
        )
        result = dispatch_requests(
            batch, ppl, pairs, now=when, method=method, hint=hint, settings=s
        )
        _write(conn, batch, result, stamp, actor, s.escalation_levels)
    result.info["escalated_overdue"] = overdue
    result.info["distances"] = "network" if ctx.network is not None else "straight_line"
    logger.info(
        "dispatch: %d placed, %d unplaced (%s, %s)",
        result.info["placed"],
        result.info["unplaced"],
        result.info["method"],
        result.info["status"],
    )
    return result


def _request_xy(batch: pd.DataFrame, ctx: PlanContext) -> np.ndarray:
    """Each request at its building's point (the plan's metric CRS)."""
    pts = ctx.buildings.set_index("building_id").geometry
    xy = np.full((len(batch), 2), np.nan)
    for i, b in enumerate(batch["building_id"].astype(str)):
        if b in pts.index:
            g = pts.loc[b]
            xy[i] = (g.x, g.y)
    missing = np.isnan(xy[:, 0])
    if missing.any():
        import geopandas as gpd

        w = gpd.GeoSeries(
            gpd.points_from_xy(batch["lon"][missing], batch["lat"][missing]), crs=4326
        ).to_crs(ctx.crs)
        xy[missing] = np.column_stack([w.x, w.y])
    return xy


def _write(
    conn: sa.Connection,
    batch: pd.DataFrame,
    result: DispatchResult,
    stamp: str | None,
    actor: str,
    levels: tuple[str, ...],
) -> None:
    status = dict(zip(batch["request_id"], batch["status"], strict=True))
    current = dict(zip(batch["request_id"], batch["assignee"], strict=True))
    level = dict(zip(batch["request_id"], batch["escalation_level"], strict=True))
    events: list[dict[str, Any]] = []
    a = result.assignments
    unit = a["partner_unit"] if "partner_unit" in a else pd.Series(None, index=a.index)
    for rid, pid, d, partner in zip(
        a["request_id"], a["person_id"], a["distance_m"], unit, strict=True
    ):
        if status[rid] == "dispatched" and current[rid] == pid:
            continue  # unchanged
        values: dict[str, Any] = {
            "status": "dispatched",
            "assignee": pid,
            "dispatched_at": stamp,
            "updated_at": stamp,
            # a partner unit (双报到单位) is the agency responsible; a person works at the
            # request's level
            "agency_responsible": partner
            if isinstance(partner, str)
            else levels[min(int(level[rid] or 0), len(levels) - 1)],
        }
        conn.execute(REQUESTS.update().where(REQUESTS.c.request_id == rid).values(**values))
        note = (
            f"partner unit {partner}, {d:.0f} m" if isinstance(partner, str) else f"{d:.0f} m walk"
        )
        events.append(
            {
                "request_id": rid,
                "at": stamp,
                "actor": actor,
                "from_status": status[rid],
                "to_status": "dispatched",
                "person_id": pid,
                "note": note,
            }
        )
    for rid, reason in zip(result.unplaced["request_id"], result.unplaced["reason"], strict=True):
        values = {"status_notes": reason, "updated_at": stamp}
        if status[rid] != "escalated":
            lv = min(int(level[rid] or 0) + 1, len(levels) - 1)
            values.update(
                status="escalated",
                escalation_level=lv,
                agency_responsible=levels[lv],
                assignee=None,
                dispatched_at=None,
            )
            events.append(
                {
                    "request_id": rid,
                    "at": stamp,
                    "actor": actor,
                    "from_status": status[rid],
                    "to_status": "escalated",
                    "person_id": None,
                    "note": reason,
                }
            )
        conn.execute(REQUESTS.update().where(REQUESTS.c.request_id == rid).values(**values))
    if events:
        conn.execute(EVENTS.insert(), events)
