"""Whether the console may offer decisions, and if not, why: one line for its banner,
built here only. No SQLAlchemy here: the console words it from the first window, before
the database is opened for real."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from homelab_approvals.service.policy import Policy


class OpenedSource(Protocol):
    """What was opened, as far as writing goes: an open `Database`, or the console's
    first window (storage/first_window.py), which says what opening would say."""

    @property
    def read_only_reason(self) -> str | None: ...

    @property
    def snapshot(self) -> bool: ...


def decisions_off_reason(
    source: OpenedSource,
    actor: str,
    policy: Policy,
    *,
    config_path: Path | None = None,
) -> str | None:
    """The database's read-only reason first (a snapshot says so, or the operator would
    trust a frozen queue), then the approvers policy (naming the config file, if known)."""
    if source.read_only_reason:
        if source.snapshot:
            return source.read_only_reason + "; showing a snapshot, later changes will not appear"
        return source.read_only_reason
    if not policy.may_decide(actor):
        where = f" ({config_path})" if config_path is not None else ""
        return f"{actor} is not in the approvers list{where}"
    return None
