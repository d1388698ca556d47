"""Who may decide. Loaded from config (see config.py); enforced by the service."""

from dataclasses import dataclass

from homelab_approvals.domain.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Policy:
    #: When set, only these actors may approve, reject or cancel.
    approvers: frozenset[str] | None = None
    #: When false, the creator of an action may not approve it (rejecting stays allowed).
    allow_self_approval: bool = True

    def may_decide(self, actor: str) -> bool:
        return self.approvers is None or actor in self.approvers

    def check_may_decide(self, actor: str) -> None:
        if not self.may_decide(actor):
            raise PermissionDenied(
                f"{actor!r} is not in the approvers list, so may not approve, reject or cancel"
            )
