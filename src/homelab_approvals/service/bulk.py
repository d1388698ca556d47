"""Deciding many actions at once: each its own atomic transition, reported one by one.

The rule, written once for every caller: who may decide and the reason are checked before
anything changes; then each action is approved, rejected or cancelled in its own
transaction, so
an action someone else decided first is a conflict for that action only and never stops
the rest. Only a storage failure (database busy, read-only, gone) stops the batch, since
every further attempt would wait out the same busy timeout; what was not attempted is
listed, so the caller can offer to retry exactly those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from homelab_approvals.domain import validation
from homelab_approvals.domain.errors import (
    ActionNotFound,
    ApprovalsError,
    InvalidTransition,
    PermissionDenied,
    StorageError,
)
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.preview_settings import PlanCheck


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What happened to each action of a bulk decision, in the order they were tried."""

    decision: Decision
    #: Decided by this call, as they now are.
    succeeded: tuple[ActionView, ...] = ()
    #: Someone else decided first, or the action is gone: id -> who and when.
    conflicts: dict[int, str] = field(default_factory=dict)
    #: The policy refused this one action (e.g. approving your own with self-approval off).
    refused: dict[int, str] = field(default_factory=dict)
    #: The storage error that stopped the batch, if one did.
    error: str | None = None
    #: Not decided because of `error`: the action it happened on, and every one after it.
    not_attempted: tuple[int, ...] = ()
    #: Every action, in the order tried: its view as decided, or the error that refused it
    #: (an action not attempted carries a StorageError saying where the batch stopped).
    outcomes: dict[int, ActionView | ApprovalsError] = field(default_factory=dict)

    @property
    def succeeded_ids(self) -> tuple[int, ...]:
        return tuple(view.id for view in self.succeeded)

    @property
    def votes(self) -> tuple[int, ...]:
        """Approvals recorded as a vote: the action still waits for more approvers."""
        return tuple(view.id for view in self.succeeded if view.status == "pending")

    @property
    def settled_ids(self) -> frozenset[int]:
        """Actions there is no point trying again: decided now, or decided by others."""
        return frozenset(self.succeeded_ids) | self.conflicts.keys() | self.refused.keys()

    @property
    def complete(self) -> bool:
        """Every action was decided by this call."""
        return not (self.conflicts or self.refused or self.not_attempted)


class BulkOps:
    """Mixed into ApprovalService: uses its single-action transitions, nothing else."""

    approve: Callable[..., ActionView]
    reject: Callable[[int, str, str | None], ActionView]
    cancel: Callable[[int, str], ActionView]
    _decider: Callable[[str], str]

    def decide_many(
        self,
        action_ids: Iterable[int],
        actor: str,
        decision: Decision | str,
        reason: str | None = None,
    ) -> BulkResult:
        """Approve, reject or cancel each of `action_ids`, in order, each in its own
        transaction. An id given twice is decided once.

        Raises before changing anything when the actor may not decide at all
        (PermissionDenied) or the ids or the rejection reason are invalid
        (ValidationError). Per-action outcomes are in the result."""
        verb = Decision(decision)
        who = self._decider(actor)
        why = validation.rejection_reason(reason) if verb is Decision.REJECT else None
        ids = list(dict.fromkeys(validation.action_id(aid) for aid in action_ids))
        succeeded: list[ActionView] = []
        conflicts: dict[int, str] = {}
        refused: dict[int, str] = {}
        outcomes: dict[int, ActionView | ApprovalsError] = {}
        for index, aid in enumerate(ids):
            try:
                if verb is Decision.APPROVE:
                    # Each bound to its plan of now (the batch was confirmed by id).
                    view = self.approve(aid, who, plan=PlanCheck.bind_current())
                elif verb is Decision.REJECT:
                    view = self.reject(aid, who, why)
                else:
                    view = self.cancel(aid, who)
            except (InvalidTransition, ActionNotFound) as conflict:
                conflicts[aid] = conflict.message
                outcomes[aid] = conflict
            except PermissionDenied as refusal:
                refused[aid] = refusal.message
                outcomes[aid] = refusal
            except StorageError as failure:
                outcomes[aid] = failure
                for later in ids[index + 1 :]:
                    outcomes[later] = type(failure)(
                        f"action {later} not attempted: the database failed on action {aid} "
                        f"({failure.message})"
                    )
                return BulkResult(
                    verb,
                    tuple(succeeded),
                    conflicts,
                    refused,
                    failure.message,
                    tuple(ids[index:]),
                    outcomes,
                )
            else:
                succeeded.append(view)
                outcomes[aid] = view
        return BulkResult(verb, tuple(succeeded), conflicts, refused, outcomes=outcomes)
