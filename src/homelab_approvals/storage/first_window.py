"""The console's first screen, read before SQLAlchemy is imported: what it is, and how
deep. Each backend that can read it fast does so in its own subpackage
(sqlite/first_window.py); backends.py picks one. No SQLAlchemy here."""

from __future__ import annotations

from dataclasses import dataclass

from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.views import ActionPage

#: A new view is first read this many rows deep (more than a tall terminal shows), drawn,
#: then filled up to the full window: the first screen comes sooner. The console's first
#: read and each new view's first read both use it.
FIRST_WINDOW = 100
#: What the console shows first: the queue, oldest first (its PENDING_QUERY).
FIRST_STATUSES = (ActionStatus.PENDING,)


@dataclass(frozen=True, slots=True)
class FirstWindow:
    """The first page of the console's default view, and what `open_database` would say
    about the database: its label, and why (if at all) it would be read-only."""

    label: str
    page: ActionPage
    read_only_reason: str | None
    snapshot: bool
