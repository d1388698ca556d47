"""Service layer: every rule lives here, once. The CLI and the console are thin callers.

Its names are loaded on first use (PEP 562): `ApprovalService` brings in SQLAlchemy, which
the console's first screen does without (see storage/first_window.py), and the CLI's fast
decision (cli/fast.py) imports single modules of this package without the rest."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from homelab_approvals.service.approvals import ApprovalService
    from homelab_approvals.service.listing import ActionQuery
    from homelab_approvals.service.policy import Policy

__all__ = ["ActionQuery", "ApprovalService", "Policy"]
_HOMES = {
    "ActionQuery": "homelab_approvals.service.listing",
    "ApprovalService": "homelab_approvals.service.approvals",
    "Policy": "homelab_approvals.service.policy",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value
