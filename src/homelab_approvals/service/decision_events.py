"""What a decision's event row says besides its actor, time and reason: the status it
came from, and the command an approval approved. One rule for the service's transition
(approvals.py) and the CLI's fast decision (fast_approval.py). Light: no SQLAlchemy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homelab_approvals.domain.enums import ActionStatus

if TYPE_CHECKING:
    from homelab_approvals.domain.views import ActionView

_PENDING = ActionStatus.PENDING.value
_APPROVED = ActionStatus.APPROVED.value


def event_origin(verb: str, view: ActionView) -> tuple[str, str | None]:
    """(from_status, command) of the event for `verb` ("approve", "reject", "cancel"),
    given the row as the decision's UPDATE left it."""
    # A cancelled action that had been approved keeps its approved_at, which is how a
    # cancel knows where it came from.
    from_status = _APPROVED if verb == "cancel" and view.approved_at else _PENDING
    # An approval records the command it approved: the executor runs nothing else.
    return from_status, view.command if verb == "approve" else None
