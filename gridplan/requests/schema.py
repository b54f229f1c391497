"""The request ledger's tables and the status machine.

Two tables: ``requests`` (the Open311 GeoReport v2 core fields plus the fields of the
community's loop) and the append-only ``request_events`` (who moved which request from which
status to which, when, with a note); a third, ``request_points``, is the points ledger
(积分: earned per closed case, spent on redemptions). Times are UTC.

Statuses follow the loop 群众点单 → 社区派单 → 党员接单::

    received → classified → dispatched → accepted → in_progress → resolved → revisited → closed

with the side branches ``returned`` (the person hands the case back), ``escalated`` (its
deadline passed undone, or no one could take it), ``duplicate``, ``not_responsible`` and
``no_further_action``. Open311 sees ``open`` or ``closed``; the fine status is kept.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = [
    "ACTIVE",
    "CLOSED_STATUSES",
    "COLUMNS",
    "DISPATCHABLE",
    "EVENTS",
    "POINTS",
    "REQUESTS",
    "STATUSES",
    "TERMINAL",
    "TRANSITIONS",
    "open311_status",
]

STATUSES: tuple[str, ...] = (
    "received",
    "classified",
    "dispatched",
    "accepted",
    "in_progress",
    "resolved",
    "revisited",
    "closed",
    "returned",
    "escalated",
    "duplicate",
    "not_responsible",
    "no_further_action",
)

#: Statuses no change leaves.
TERMINAL: frozenset[str] = frozenset(
    {"closed", "duplicate", "not_responsible", "no_further_action"}
)

#: Statuses Open311 reports as ``closed`` (the case is done from the resident's side).
CLOSED_STATUSES: frozenset[str] = TERMINAL | {"resolved", "revisited"}

#: Statuses of a case someone still has to act on (deadlines run, escalation applies).
ACTIVE: frozenset[str] = frozenset(
    {"received", "classified", "dispatched", "accepted", "in_progress", "returned", "escalated"}
)

#: Statuses the dispatcher may assign (an escalated case nobody accepted yet included).
DISPATCHABLE: frozenset[str] = frozenset({"classified", "returned", "escalated"})

_SIDE = ("duplicate", "not_responsible", "no_further_action")

#: status -> the statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    "received": frozenset({"classified", "resolved", "escalated", *_SIDE}),
    "classified": frozenset({"dispatched", "resolved", "escalated", *_SIDE}),
    "dispatched": frozenset({"accepted", "returned", "escalated", "dispatched"}),
    "accepted": frozenset({"in_progress", "resolved", "returned", "escalated"}),
    "in_progress": frozenset({"resolved", "returned", "escalated"}),
    "returned": frozenset({"classified", "dispatched", "escalated", *_SIDE}),
    "escalated": frozenset(
        {"dispatched", "accepted", "in_progress", "resolved", "escalated", *_SIDE}
    ),
    "resolved": frozenset({"revisited", "in_progress"}),
    "revisited": frozenset({"closed", "in_progress"}),
    "closed": frozenset(),
    "duplicate": frozenset(),
    "not_responsible": frozenset(),
    "no_further_action": frozenset(),
}

#: Satisfaction recorded at the revisit (满意 / 基本满意 / 不满意).
SATISFACTION: tuple[str, ...] = ("satisfied", "basically_satisfied", "dissatisfied")


def open311_status(status: str) -> str:
    """The Open311 GeoReport v2 status (``open`` / ``closed``) of a fine status."""
    return "closed" if status in CLOSED_STATUSES else "open"


_T = sa.Text
_F = sa.Float
_I = sa.Integer

#: Columns of ``requests`` after the primary key and geometry: name -> SQL type.
COLUMNS: dict[str, Any] = {
    # Open311 core
    "request_id": _T,  # service_request_id
    "service_code": _T,  # the category
    "description": _T,
    "requested_at": _T,
    "updated_at": _T,
    "expected_at": _T,  # the deadline
    "closed_at": _T,
    "status": _T,
    "status_notes": _T,
    "agency_responsible": _T,
    "address": _T,
    "lon": _F,
    "lat": _F,
    # the community's loop
    "channel": _T,
    "kind": _T,
    "handling": _T,
    "urgency": _T,
    "skill": _T,
    "effort_h": _F,
    "building_id": _T,
    "community_id": _T,
    "grid_id": _T,
    "unit_id": _T,
    "assignee": _T,
    "dispatched_at": _T,
    "accepted_at": _T,
    "resolved_at": _T,
    "resolution": _T,
    "hours_spent": _F,
    "escalation_level": _I,
    "duplicate_of": _T,
    "satisfaction": _T,
    "revisit_due": _T,
    "revisited_at": _T,
    "points": _F,
    "requester_name": _T,  # personal: masked in every output
    "requester_phone": _T,  # personal: masked in every output
}

_META = sa.MetaData()

#: Times are ISO 8601 UTC text (``2024-05-01T08:30:00Z``) in both stores: GDAL reads them as
#: GeoPackage DATETIME, PostgreSQL sorts them as it sorts timestamps.
REQUESTS = sa.Table(
    "requests",
    _META,
    sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("geom", sa.LargeBinary),  # GeoPackage point (PostGIS: geometry(Point, 4326))
    *[sa.Column(name, typ) for name, typ in COLUMNS.items()],
)

EVENTS = sa.Table(
    "request_events",
    _META,
    sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", _T),
    sa.Column("at", _T),
    sa.Column("actor", _T),
    sa.Column("from_status", _T),
    sa.Column("to_status", _T),
    sa.Column("person_id", _T),
    sa.Column("note", _T),
)

POINTS = sa.Table(
    "request_points",
    _META,
    sa.Column("fid", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("person_id", _T),
    sa.Column("request_id", _T),
    sa.Column("at", _T),
    sa.Column("hours", _F),
    sa.Column("factor", _F),
    sa.Column("points", _F),
    sa.Column("note", _T),
)

METADATA = _META
