"""The CLI's approval of one action, without SQLAlchemy, when the rules allow it.

A CLI approval spent most of its time importing SQLAlchemy. For the cases where the
service's approval is exactly one conditional UPDATE, the row read back and the event
row, that transaction runs on the storage backend's fast path (storage.backends) with the
service's own statements, rendered. Everything else returns None before anything is
changed, and the caller goes through `ApprovalService.approve` as always:

- a config with [rules] (votes, per-type approvers: their checks run under the lock);
- an actor the service would refuse (its error is worded there), or an invalid id;
- an UPDATE that matched nothing (not found, already decided, own action): the service
  works out why under its own lock and says it in its words;
- an action whose probe binds the approval to a plan (apt): bind_plan's checks and
  binding run in the service's transaction;
- a backend without a fast path, or anything unusual about the file (storage decides).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from homelab_approvals.domain import validation
from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.domain.timestamps import utcnow
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.policy import Policy
from homelab_approvals.service.probe_choice import probe_of
from homelab_approvals.storage.backends import approve_fast


def approve_file(
    path: Path,
    action_id: int,
    actor: str,
    policy: Policy,
    clock: Callable[[], datetime] = utcnow,
) -> ActionView | None:
    """Approve `action_id` in the database file at `path` as `ApprovalService.approve`
    would with the CLI's plan check (bind the current plan), and return the row as it
    left it; or None, with nothing changed: then ask the service."""
    if policy.rules:
        return None
    try:
        clean = validation.actor(actor)
        aid = validation.action_id(action_id)
    except ValidationError:
        return None
    if not policy.may_decide(clean):
        return None
    return approve_fast(
        path,
        aid=aid,
        actor=clean,
        at=clock(),
        allow_self_approval=policy.allow_self_approval,
        keep=_binds_no_plan,
    )


def _binds_no_plan(action: ActionView) -> bool:
    """An approval whose probe binds a plan (bind_plan) takes the service's path."""
    probe = probe_of(action)
    return probe is None or not probe.binding
