"""The resident request loop (群众点单 → 社区派单 → 党员接单): a ledger of requests, deadlines,
an optimised dispatcher, follow-up, points and reports.

Example
-------
>>> from gridplan.requests import load_context, import_requests, dispatch_ledger
>>> ctx = load_context("demo-plan", "data/town")                      # doctest: +SKIP
>>> import_requests("requests.gpkg", "data/town/requests.csv", ctx)   # doctest: +SKIP
>>> dispatch_ledger("requests.gpkg", ctx).info                        # doctest: +SKIP
"""

from __future__ import annotations

from gridplan.requests.context import PlanContext, load_context, partner_units, plan_context, roster
from gridplan.requests.dispatch import (
    DispatchResult,
    candidate_pairs,
    dispatch_requests,
    greedy_dispatch,
)
from gridplan.requests.importing import (
    ImportResult,
    import_requests,
    prepare_requests,
    read_request_file,
)
from gridplan.requests.reports import (
    coverage_gaps,
    open311,
    open_requests_layer,
    request_report,
    three_rates,
    write_request_report,
)
from gridplan.requests.run import dispatch_ledger
from gridplan.requests.schema import STATUSES, TRANSITIONS, open311_status
from gridplan.requests.sla import deadline, parse_time
from gridplan.requests.store import (
    Ledger,
    create_ledger,
    open_ledger,
    read_events,
    read_points,
    read_requests,
)
from gridplan.requests.tracking import (
    due_lists,
    escalate_overdue,
    points_totals,
    redeem_points,
    update_request,
)

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "DispatchResult",
    "ImportResult",
    "Ledger",
    "PlanContext",
    "candidate_pairs",
    "coverage_gaps",
    "create_ledger",
    "deadline",
    "dispatch_ledger",
    "dispatch_requests",
    "due_lists",
    "escalate_overdue",
    "greedy_dispatch",
    "import_requests",
    "load_context",
    "open311",
    "open311_status",
    "open_ledger",
    "open_requests_layer",
    "parse_time",
    "partner_units",
    "plan_context",
    "points_totals",
    "prepare_requests",
    "read_events",
    "read_points",
    "read_request_file",
    "read_requests",
    "redeem_points",
    "request_report",
    "roster",
    "three_rates",
    "update_request",
    "write_request_report",
]
