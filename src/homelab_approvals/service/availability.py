"""Whether the console may offer decisions, and if not, why: one line for its banner.
No SQLAlchemy here: the console words it before the database is opened for real."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from homelab_approvals.service.policy import Policy

if TYPE_CHECKING:
    from homelab_approvals.storage import Database


def database_read_only_reason(db: Database) -> str | None:
    """Why an open database refuses writes, or None when it takes them."""
    if db.read_only:
        return db.read_only_reason or "the database is open read-only"
    return None


def decisions_off_reason(
    actor: str,
    policy: Policy,
    *,
    read_only_reason: str | None,
    snapshot: bool = False,
    config_path: Path | None = None,
) -> str | None:
    """The database's read-only reason first (a snapshot says so, or the operator would
    trust a frozen queue), then the approvers policy (naming the config file, if known)."""
    if read_only_reason:
        if snapshot:
            return read_only_reason + "; showing a snapshot, later changes will not appear"
        return read_only_reason
    if not policy.may_decide(actor):
        where = f" ({config_path})" if config_path is not None else ""
        return f"{actor} is not in the approvers list{where}"
    return None
