"""What a notification is about: one audit event worth telling people of."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

#: How many of a failed run's last stderr lines a notification carries.
STDERR_TAIL_LINES = 5


class NoticeKind(StrEnum):
    PENDING = "pending"  # a new action waits for a person
    FAILED = "failed"  # an execution failed
    EXPIRED = "expired"  # the expiry sweeper rejected or failed an action


class Notice(NamedTuple):
    event_id: int
    kind: NoticeKind
    at: datetime
    #: Who caused it: the creator of a pending action, the executor, "expiry".
    actor: str
    reason: str | None
    action_id: int
    server_id: str | None
    server_label: str | None
    action_type: str | None
    service_name: str | None
    command: str | None
    status: str | None
    exit_code: int | None
    stderr: str | None

    @property
    def message_id(self) -> str:
        """Stable across retries and reruns, so a receiver can drop repeats."""
        return f"homelab-approvals-event-{self.event_id}"

    @property
    def summary(self) -> str:
        if self.action_type == "restart_service" and self.service_name:
            return f"restart {self.service_name}"
        return (self.action_type or "action").replace("_", " ")

    @property
    def server(self) -> str:
        return self.server_label or self.server_id or "an unknown server"

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> list[str]:
        return (self.stderr or "").splitlines()[-lines:]
