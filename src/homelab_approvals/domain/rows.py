"""The row views the service hands out: immutable, safe to pass between threads.

They are named tuples, not frozen dataclasses: a frozen dataclass sets each field through
`object.__setattr__`, which for ActionView's 21 fields was about a tenth of an approve and
most of building a 1,000-row window (valgrind, see storage/sqlite/prepared.py). A named
tuple is built, compared and hashed by C code, and reads the same (`view.status`). Their
field names, in order, are the JSON keys of the CLI (`._fields`). This module imports no
dataclasses (inspect, ast...): the CLI's fast decision builds its ActionView from here.
views.py re-exports them beside the page types."""

from datetime import datetime
from typing import NamedTuple

from homelab_approvals.domain.cancelling import CANCELLED_EXIT_CODE, CANCELLED_STDERR
from homelab_approvals.domain.enums import ActionStatus


class ServerView(NamedTuple):
    id: str
    hostname: str
    display_name: str | None
    is_paused: bool
    paused_at: datetime | None

    @property
    def label(self) -> str:
        return self.display_name or self.hostname


class ActionView(NamedTuple):
    id: int
    server_id: str
    action_type: str
    status: str
    service_name: str | None
    command: str
    created_at: datetime
    created_by: str
    alert_id: int | None
    approved_at: datetime | None
    approved_by: str | None
    rejected_at: datetime | None
    rejected_by: str | None
    rejection_reason: str | None
    executed_at: datetime | None
    completed_at: datetime | None
    exit_code: int | None
    stdout: str | None
    stderr: str | None
    # From the servers join, when the query made one.
    server_label: str | None = None
    server_paused: bool | None = None

    @property
    def summary(self) -> str:
        """ "restart nginx", "clear logs", "apt update"... for titles and toasts."""
        if self.action_type == "restart_service" and self.service_name:
            return f"restart {self.service_name}"
        return self.action_type.replace("_", " ")

    @property
    def decided_by(self) -> str | None:
        return self.rejected_by or self.approved_by

    @property
    def is_cancelled(self) -> bool:
        """Cancelled by an operator: what a cancel leaves in HomelabCmd's columns (status
        failed, with its exit code and stderr), not a run that failed."""
        return (
            self.status == ActionStatus.FAILED
            and self.exit_code == CANCELLED_EXIT_CODE
            and self.stderr == CANCELLED_STDERR
        )

    def is_status(self, *statuses: ActionStatus) -> bool:
        return self.status in statuses


class EventView(NamedTuple):
    id: int
    action_id: int
    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    reason: str | None
    command: str | None = None  # on an approval: the command approved


class Approval(NamedTuple):
    """One person's approval of an action: a vote, or the approval that completed it."""

    actor: str
    at: datetime
