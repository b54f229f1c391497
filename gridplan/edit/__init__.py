"""``gridplan edit``: hand edits of a plan in the browser, with live checks, locks, undo and save.

:class:`EditSession` holds one planner's edits of one plan (library use and tests);
:func:`serve` puts a session behind a small local web server and its page.
"""

from gridplan.edit.checks import CheckContext, check_grids
from gridplan.edit.server import serve
from gridplan.edit.session import EditSession, HardRuleError, PlanLockError

__all__ = ["CheckContext", "EditSession", "HardRuleError", "PlanLockError", "check_grids", "serve"]
