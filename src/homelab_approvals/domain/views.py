"""Immutable snapshots the service hands out: safe to pass between threads.

The row views (ActionView, ServerView, EventView, Approval) live in rows.py, which the
CLI's fast decision imports without the dataclasses module; they are re-exported here."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homelab_approvals.domain.damaged import DamagedTime
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.rows import ActionView, Approval, EventView, ServerView

__all__ = [
    "ActionPage",
    "ActionView",
    "Approval",
    "ApprovalTally",
    "EventView",
    "ServerView",
    "to_json",
]


@dataclass(frozen=True, slots=True)
class ApprovalTally:
    """How many approvals an action needs, and whose it has (oldest first)."""

    required: int
    approvals: tuple[Approval, ...] = ()

    @property
    def count(self) -> int:
        return len(self.approvals)

    def has_approved(self, actor: str) -> bool:
        return any(approval.actor == actor for approval in self.approvals)


@dataclass(frozen=True, slots=True)
class ActionPage:
    """One window of a filtered, sorted list, with the true totals behind it."""

    rows: tuple[ActionView, ...]
    total: int  # rows matching the whole query (all pages)
    counts: dict[str, int] = field(default_factory=dict)  # by status, ignoring the status filter
    #: Two-person approval: who has voted for each pending row that has votes (oldest
    #: first). Read only when some type needs several approvals.
    votes: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return self.counts.get(ActionStatus.PENDING.value, 0)

    @property
    def grand_total(self) -> int:
        return sum(self.counts.values())


def to_json(value: Any) -> Any:
    """JSON-ready form of a view: datetimes as ISO 8601 with offset."""
    if isinstance(value, DamagedTime):
        return value.stored  # what is stored, exact; the row's "damaged" key says so
    if isinstance(value, datetime):
        return value.isoformat()
    return value
