"""Who may decide, and how many must agree. Loaded from config (see config.py); enforced
by the service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from homelab_approvals.domain.damaged import DamagedTime
from homelab_approvals.domain.durations import Duration
from homelab_approvals.domain.errors import PermissionDenied
from homelab_approvals.domain.views import ActionView


@dataclass(frozen=True, slots=True)
class TypeRule:
    """`[rules.TYPE]`: what deciding one action type takes."""

    #: Distinct people whose approvals it takes (the last one moves it to approved).
    approvals: int = 1
    #: When set, only these may approve or reject this type (narrowing `approvers`).
    approvers: frozenset[str] | None = None

    def permits(self, actor: str) -> bool:
        return self.approvers is None or actor in self.approvers


@dataclass(frozen=True, slots=True)
class Expiry:
    """`[expiry]`: how long an action may wait. None: it waits for ever."""

    pending: Duration | None = None
    approved: Duration | None = None


_NO_RULE = TypeRule()
_NO_RULES: Mapping[str, TypeRule] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Policy:
    #: When set, only these actors may approve, reject or cancel.
    approvers: frozenset[str] | None = None
    #: When false, the creator of an action may not approve it (rejecting stays allowed).
    allow_self_approval: bool = True
    #: Per action type; a type without one needs one approval from anyone permitted.
    rules: Mapping[str, TypeRule] = field(default_factory=lambda: _NO_RULES)
    expiry: Expiry = field(default_factory=Expiry)

    def may_decide(self, actor: str) -> bool:
        return self.approvers is None or actor in self.approvers

    def check_may_decide(self, actor: str) -> None:
        if not self.may_decide(actor):
            raise PermissionDenied(
                f"{actor!r} is not in the approvers list, so may not approve, reject or cancel"
            )

    def rule(self, action_type: str) -> TypeRule:
        return self.rules.get(action_type, _NO_RULE)

    def approvals_required(self, action_type: str) -> int:
        return self.rule(action_type).approvals

    def may_decide_type(self, actor: str, action_type: str) -> bool:
        """May `actor` approve or reject an action of this type (both lists agree)?"""
        return self.may_decide(actor) and self.rule(action_type).permits(actor)

    def type_refusal(self, actor: str, action_type: str) -> str | None:
        """Why `actor` may not decide this type under its rule, or None."""
        rule = self.rule(action_type)
        if rule.permits(actor):
            return None
        names = ", ".join(sorted(rule.approvers or ()))
        return (
            f"{actor!r} may not approve or reject {action_type} actions "
            f"(rules.{action_type}.approvers: {names})"
        )

    @property
    def expires(self) -> bool:
        return self.expiry.pending is not None or self.expiry.approved is not None

    def expires_at(self, action: ActionView) -> datetime | None:
        """When this action expires if nothing happens to it first, or None (also when
        its stored time is no date-time: then the sweeper leaves it alone too)."""
        expiry = self.expiry
        since: datetime | None
        if action.status == "pending" and expiry.pending is not None:
            since, limit = action.created_at, expiry.pending
        elif action.status == "approved" and expiry.approved is not None:
            since, limit = action.approved_at, expiry.approved
        else:
            return None
        if since is None or isinstance(since, DamagedTime):
            return None
        return since + limit.delta

    @property
    def voting_types(self) -> frozenset[str]:
        """Types whose approval takes more than one person."""
        return frozenset(t for t, rule in self.rules.items() if rule.approvals > 1)

    @property
    def narrowed_types(self) -> frozenset[str]:
        """Types with their own approvers list."""
        return frozenset(t for t, rule in self.rules.items() if rule.approvers is not None)
