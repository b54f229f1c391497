"""Following a request up: status changes with the rules enforced, escalation of overdue
cases, overdue and due-soon lists, points (积分) earned and redeemed.

Rules: a change must be one :data:`TRANSITIONS` allows; ``resolved`` needs a resolution and
sets the revisit due; ``revisited`` needs the resident's satisfaction; ``closed`` only after a
revisit and with a resolution (and awards the person's points: hours × difficulty factor);
``duplicate`` names an existing request; ``accepted`` is by the person it was dispatched to.
Every change appends an event; a refused change changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import pandas as pd
import sqlalchemy as sa

from gridplan._errors import DataError
from gridplan.requests.schema import (
    ACTIVE,
    EVENTS,
    POINTS,
    REQUESTS,
    SATISFACTION,
    TRANSITIONS,
)
from gridplan.requests.sla import deadline, parse_time, utc_text
from gridplan.requests.store import Ledger, open_ledger, read_points, read_requests
from gridplan.settings import DEFAULT, Config, RequestSettings

__all__ = [
    "as_utc",
    "due_lists",
    "escalate_overdue",
    "points_totals",
    "redeem_points",
    "update_request",
]

logger = logging.getLogger(__name__)


def as_utc(at: Any) -> pd.Timestamp:
    if at is None:
        return pd.Timestamp.now(tz="UTC").floor("s")
    if isinstance(at, pd.Timestamp) and at.tzinfo is not None:
        return at.tz_convert("UTC")
    return parse_time(at, where="--at")


def _event(
    conn: sa.Connection,
    rid: str,
    at: str,
    actor: str,
    old: str | None,
    new: str,
    person: str | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        EVENTS.insert(),
        [
            {
                "request_id": rid,
                "at": at,
                "actor": actor,
                "from_status": old,
                "to_status": new,
                "person_id": person,
                "note": note,
            }
        ],
    )


def update_request(
    ledger: str | Ledger,
    request_id: str,
    status: str,
    *,
    actor: str = "community",
    person_id: str | None = None,
    note: str | None = None,
    resolution: str | None = None,
    satisfaction: str | None = None,
    hours: float | None = None,
    duplicate_of: str | None = None,
    at: Any = None,
    people: Collection[str] | None = None,
    config: Config | None = None,
) -> dict[str, Any]:
    """Move one request to ``status``, with the rules enforced.

    Parameters
    ----------
    ledger
        The ledger (path, URL or open :class:`Ledger`).
    request_id
        The request.
    status
        The new status (:data:`gridplan.requests.STATUSES`).
    actor
        Who makes the change (recorded in the event).
    person_id
        The person dispatched to (``dispatched``), accepting (``accepted``, default: the
        assignee).
    note, resolution, satisfaction, hours, duplicate_of
        What the change records: the resolution (``resolved``), the resident's satisfaction
        at the revisit (satisfied, basically_satisfied, dissatisfied), hours spent, the
        original of a duplicate.
    at
        When (with its time zone); default now.
    people
        Known person ids; a ``person_id`` not among them is an error (``None``: unchecked).
    config
        Settings (``[requests]``).

    Returns
    -------
    dict
        The request's row after the change.

    Raises
    ------
    DataError
        Unknown request or person, a change the rules refuse, a missing resolution,
        satisfaction or original; the ledger is left unchanged.
    """
    s = (config or DEFAULT).requests
    led = open_ledger(ledger)
    when = as_utc(at)
    stamp = utc_text(when)
    with led.write() as conn:
        one = sa.select(REQUESTS).where(REQUESTS.c.request_id == str(request_id))
        row = conn.execute(led.dialect.lock_wait(one)).mappings().first()
        if row is None:
            raise DataError(f"requests: no request {request_id} in {led}; check the id")
        old = str(row["status"])
        where = f"request {request_id}"
        if status not in TRANSITIONS:
            raise DataError(
                f"{where}: unknown status {status!r}; use one of {', '.join(TRANSITIONS)}"
            )
        if status not in TRANSITIONS[old]:
            allowed = ", ".join(sorted(TRANSITIONS[old])) or "none: the case is finished"
            raise DataError(f"{where}: cannot go from {old} to {status}; allowed: {allowed}")
        if person_id is not None and people is not None and person_id not in people:
            raise DataError(f"{where}: person {person_id} is not in the roster; check the id")
        values: dict[str, Any] = {"status": status, "updated_at": stamp}
        who = person_id
        if status == "dispatched":
            if person_id is None:
                raise DataError(f"{where}: dispatching needs the person (--person)")
            values.update(assignee=person_id, dispatched_at=stamp, accepted_at=None)
        elif status == "accepted":
            who = person_id or row["assignee"]
            if who is None:
                raise DataError(f"{where}: nobody was dispatched; dispatch it first")
            if row["assignee"] is not None and who != row["assignee"]:
                raise DataError(f"{where}: it is dispatched to {row['assignee']}, not {who}")
            values.update(assignee=who, accepted_at=stamp)
        elif status == "returned":
            values.update(assignee=None, accepted_at=None, dispatched_at=None)
        elif status == "resolved":
            if resolution is None or not resolution.strip():
                raise DataError(f"{where}: a resolution is needed to resolve it (--resolution)")
            due = when + pd.Timedelta(hours=s.revisit_after_h)
            values.update(
                resolution=resolution.strip(), resolved_at=stamp, revisit_due=utc_text(due)
            )
            if hours is not None:
                if hours <= 0:
                    raise DataError(f"{where}: hours must be positive, got {hours}")
                values["hours_spent"] = float(hours)
        elif status == "revisited":
            if satisfaction not in SATISFACTION:
                raise DataError(
                    f"{where}: the revisit needs the satisfaction ({', '.join(SATISFACTION)})"
                )
            values.update(satisfaction=satisfaction, revisited_at=stamp)
        elif status == "closed":
            if not (row["resolution"] or "").strip():
                raise DataError(f"{where}: no resolution recorded; it cannot be closed")
            values["closed_at"] = stamp
        elif status == "in_progress" and old in ("resolved", "revisited"):
            values.update(resolved_at=None, revisit_due=None)  # reopened
        elif status == "duplicate":
            if not duplicate_of or duplicate_of == request_id:
                raise DataError(f"{where}: name the original (--duplicate-of)")
            found = conn.execute(
                sa.select(REQUESTS.c.request_id).where(REQUESTS.c.request_id == duplicate_of)
            ).first()
            if found is None:
                raise DataError(f"{where}: duplicate_of {duplicate_of} is not in the ledger")
            values["duplicate_of"] = duplicate_of
        elif status == "escalated":
            values.update(_escalation(row, when, s))
        if note:
            values["status_notes"] = note
        conn.execute(
            REQUESTS.update().where(REQUESTS.c.request_id == str(request_id)).values(**values)
        )
        if status == "closed":
            _award(conn, dict(row), stamp, s)
        _event(conn, str(request_id), stamp or "", actor, old, status, who, note or resolution)
        out = (
            conn.execute(sa.select(REQUESTS).where(REQUESTS.c.request_id == str(request_id)))
            .mappings()
            .first()
        )
    logger.info("request %s: %s -> %s", request_id, old, status)
    return {k: v for k, v in dict(out or {}).items() if k != "geom"}


def _escalation(row: Any, when: pd.Timestamp, s: RequestSettings) -> dict[str, Any]:
    """One level up, a fresh deadline from now; an unaccepted case loses its assignee."""
    level = min(int(row["escalation_level"] or 0) + 1, len(s.escalation_levels) - 1)
    new = deadline(when, row["kind"], row["urgency"] or "general", s)
    out: dict[str, Any] = {
        "escalation_level": level,
        "agency_responsible": s.escalation_levels[level],
        "expected_at": utc_text(new),
    }
    if row["accepted_at"] is None:
        out.update(assignee=None, dispatched_at=None)
    return out


def _award(conn: sa.Connection, row: dict[str, Any], stamp: str | None, s: RequestSettings) -> None:
    person = row["assignee"]
    if person is None:
        return
    hours = row["hours_spent"] if row["hours_spent"] is not None else row["effort_h"]
    hours = float(hours if hours is not None else s.slot_hours)
    factor = float(s.difficulty.get(str(row["urgency"]), 1.0))
    pts = round(hours * factor * s.points_per_hour, 2)
    conn.execute(
        POINTS.insert(),
        [
            {
                "person_id": person,
                "request_id": row["request_id"],
                "at": stamp,
                "hours": hours,
                "factor": factor,
                "points": pts,
                "note": f"closed {row['service_code']}",
            }
        ],
    )
    conn.execute(
        REQUESTS.update().where(REQUESTS.c.request_id == row["request_id"]).values(points=pts)
    )


def escalate_overdue(
    ledger: str | Ledger,
    *,
    now: Any = None,
    conn: sa.Connection | None = None,
    config: Config | None = None,
) -> list[str]:
    """Escalate every active request whose deadline passed: one level up, a fresh deadline.

    Returns
    -------
    list of str
        The request ids escalated.
    """
    s = (config or DEFAULT).requests
    led = open_ledger(ledger)
    when = as_utc(now)
    stamp = utc_text(when)

    def run(c: sa.Connection) -> list[str]:
        due = (
            sa.select(REQUESTS)
            .where(REQUESTS.c.status.in_(sorted(ACTIVE)))
            .where(REQUESTS.c.expected_at < stamp)
            .order_by(REQUESTS.c.request_id)
        )
        # a case another transaction holds is left to it (its deadline is seen next time)
        rows = c.execute(led.dialect.lock(due)).mappings().all()
        out = []
        for row in rows:
            values = _escalation(row, when, s)
            values.update(status="escalated", updated_at=stamp)
            c.execute(REQUESTS.update().where(REQUESTS.c.fid == row["fid"]).values(**values))
            note = f"deadline {row['expected_at']} passed; to the {values['agency_responsible']}"
            _event(
                c,
                row["request_id"],
                stamp or "",
                "deadline",
                row["status"],
                "escalated",
                row["assignee"],
                note,
            )
            out.append(str(row["request_id"]))
        return out

    if conn is not None:
        return run(conn)
    with led.write() as c:
        return run(c)


def due_lists(
    ledger: str | Ledger, *, now: Any = None, config: Config | None = None
) -> dict[str, pd.DataFrame]:
    """Active requests past their deadline (``overdue``), due within ``due_soon_h``
    (``due_soon``), and resolved requests whose revisit is due (``revisit_due``)."""
    s = (config or DEFAULT).requests
    when = as_utc(now)
    df = read_requests(open_ledger(ledger))
    exp = pd.to_datetime(df["expected_at"], utc=True)
    active = df["status"].isin(sorted(ACTIVE))
    soon = when + pd.Timedelta(hours=s.due_soon_h)
    rev = pd.to_datetime(df["revisit_due"], utc=True)
    return {
        "overdue": df[active & (exp < when)],
        "due_soon": df[active & (exp >= when) & (exp <= soon)],
        "revisit_due": df[(df["status"] == "resolved") & (rev <= when)],
    }


def points_totals(ledger: str | Ledger) -> pd.DataFrame:
    """Per person: hours served, cases, points earned, redeemed and the balance."""
    pts = read_points(open_ledger(ledger))
    if pts.empty:
        return pd.DataFrame(
            columns=["person_id", "cases", "hours", "earned", "redeemed", "balance"]
        )
    earn = pts[pts["points"] > 0]
    spend = pts[pts["points"] < 0]
    out = pd.DataFrame(
        {
            "cases": earn.groupby("person_id")["request_id"].count(),
            "hours": earn.groupby("person_id")["hours"].sum(),
            "earned": earn.groupby("person_id")["points"].sum(),
            "redeemed": -spend.groupby("person_id")["points"].sum(),
        }
    ).fillna(0)
    out["balance"] = out["earned"] - out["redeemed"]
    return (
        out.reset_index()
        .rename(columns={"index": "person_id"})
        .sort_values("person_id")
        .reset_index(drop=True)
    )


def redeem_points(
    ledger: str | Ledger, person_id: str, points: float, *, note: str = "", at: Any = None
) -> float:
    """Spend a person's points (积分超市); returns the balance left.

    Raises
    ------
    DataError
        The person has earned no points (unknown person), or too few.
    """
    if points <= 0:
        raise DataError(f"points: redeem a positive number, got {points}")
    led = open_ledger(ledger)
    stamp = utc_text(as_utc(at))
    with led.write() as conn:
        rows = conn.execute(sa.select(POINTS.c.points).where(POINTS.c.person_id == person_id)).all()
        if not rows:
            raise DataError(f"points: person {person_id} has no points in {led}; check the id")
        balance = sum(float(r[0]) for r in rows)
        if points > balance + 1e-9:
            raise DataError(
                f"points: person {person_id} has {balance:g} points, fewer than {points:g}"
            )
        conn.execute(
            POINTS.insert(),
            [
                {
                    "person_id": person_id,
                    "request_id": None,
                    "at": stamp,
                    "hours": 0.0,
                    "factor": 0.0,
                    "points": -float(points),
                    "note": note or "redeemed",
                }
            ],
        )
    return balance - points
