"""The deferred start: the console draws a first window read without SQLAlchemy (see
storage/first_window.py), then opens the database for real in a thread worker (a few
hundred ms). A decision made meanwhile waits for it in its own worker, so an operator who
acts on the first screen loses nothing; a failure to open becomes a message (and greys
the decision keys out), not a crash.

Nothing here imports SQLAlchemy: that happens in `open_service`, in the worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from homelab_approvals.service.policy import Policy
from homelab_approvals.storage.first_window import FirstWindow

if TYPE_CHECKING:
    from homelab_approvals.service import ApprovalService


@dataclass(frozen=True)
class DeferredStart:
    """What the console needs to draw before the database is really open: the first
    window (with the database's label and read-only reason), the approvers policy, and
    how to open the service (called in a thread worker, after the first paint; it raises
    ApprovalsError when the database cannot be opened)."""

    first: FirstWindow
    policy: Policy
    open_service: Callable[[], ApprovalService]
