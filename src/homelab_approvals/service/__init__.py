"""Service layer: every rule lives here, once. The CLI and the console are thin callers.

`ApprovalService` is loaded on first use (PEP 562): it brings in SQLAlchemy, which the
console's first screen does without (see storage/first_window.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homelab_approvals.service.listing import ActionQuery
from homelab_approvals.service.policy import Policy

if TYPE_CHECKING:
    from homelab_approvals.service.approvals import ApprovalService

__all__ = ["ActionQuery", "ApprovalService", "Policy"]


def __getattr__(name: str) -> Any:
    if name == "ApprovalService":
        from homelab_approvals.service.approvals import ApprovalService

        globals()[name] = ApprovalService  # later lookups skip this function
        return ApprovalService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
