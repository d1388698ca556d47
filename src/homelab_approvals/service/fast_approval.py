"""The CLI's decision on one action without SQLAlchemy, when the rules allow it.

A CLI decision spent most of its time importing SQLAlchemy. For the cases where the
service's decision is exactly one conditional UPDATE, the row read back and the event
row, that transaction runs on the storage backend's fast path (storage.backends) with the
service's own statements, rendered, and the event row `decision_event` words, as the
service's does. Everything else returns None before anything is changed, and the caller
goes through `ApprovalService.approve|reject|cancel` as always:

- a config with [rules] (votes, per-type approvers: their checks run under the lock);
- an actor the service would refuse (its error is worded there), an invalid id or reason;
- an UPDATE that matched nothing (not found, already decided, own action): the service
  works out why under its own lock and says it in its words;
- an approval whose probe binds it to a plan (apt): bind_plan's checks and binding run in
  the service's transaction;
- a backend without a fast path, or anything unusual about the file (storage decides).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from homelab_approvals.domain import validation
from homelab_approvals.domain.cancelling import CANCELLED_EVENT_REASON
from homelab_approvals.domain.enums import PLAN_BOUND_TYPES
from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.domain.timestamps import utcnow
from homelab_approvals.service.decision_events import event_origin
from homelab_approvals.storage.backends import decide_fast, read_shown_fast

if TYPE_CHECKING:
    from homelab_approvals.domain.views import ActionView
    from homelab_approvals.service.policy import Policy
    from homelab_approvals.storage.decided import Decided

VERBS = ("approve", "reject", "cancel")


def decide_file(
    path: Path,
    verb: str,
    action_id: int,
    actor: str,
    policy: Policy | None,
    reason: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    *,
    with_show: bool = False,
) -> Decided | None:
    """Decide `action_id` in the database file at `path` as `ApprovalService.approve`
    (with the CLI's plan check: bind the current plan), `.reject` (with `reason`) or
    `.cancel` would, and return the row as it left it (and with `with_show`, what
    `show --json` adds: its approvals and newest preview); or None, with nothing
    changed: then ask the service. `policy` None: no config file, so `Policy()`'s
    defaults."""
    if verb not in VERBS or (policy is not None and policy.rules):
        return None
    try:
        clean = validation.actor(actor)
        aid = validation.action_id(action_id)
        if verb == "reject":
            reason = validation.rejection_reason(reason)
        elif verb == "cancel":
            reason = CANCELLED_EVENT_REASON
        else:
            reason = None
    except ValidationError:
        return None
    if policy is not None and not policy.may_decide(clean):
        return None
    not_own = policy is not None and not policy.allow_self_approval
    return decide_fast(
        path,
        statement="approve_not_own" if verb == "approve" and not_own else verb,
        aid=aid,
        actor=clean,
        at=clock(),
        reason=reason,
        event=lambda view: event_origin(verb, view),
        keep=_binds_no_plan if verb == "approve" else _any,
        with_show=with_show,
    )


def show_file(path: Path, action_id: int) -> Decided | None:
    """What `show ID --json` shows of the database file at `path` (the action, its
    approvals, its newest preview), read without SQLAlchemy; or None: ask the service."""
    try:
        aid = validation.action_id(action_id)
    except ValidationError:
        return None
    return read_shown_fast(path, aid)


def _binds_no_plan(action: ActionView) -> bool:
    """An approval whose probe binds a plan (bind_plan) takes the service's path."""
    return action.action_type not in PLAN_BOUND_TYPES


def _any(action: ActionView) -> bool:
    return True
