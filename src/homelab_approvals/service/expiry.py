"""Expiry: a pending action older than `expiry.pending` is rejected by "expiry"; an
approval not started within `expiry.approved` fails and is never run.

Each expiry is one conditional UPDATE plus its event, in its own transaction, so it is
atomic against a decision or an executor's claim landing at the same moment: whichever
commits first wins, and the other finds the row moved on. The sweep itself (finding the
candidates) is an ordinary read; the UPDATE re-checks everything it relies on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.sql.expression import Executable

from homelab_approvals.domain.damaged import DamagedTime
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.expiry import (
    EXPIRED_EXIT_CODE,
    EXPIRED_STDERR,
    EXPIRY_ACTOR,
    approved_reason,
    pending_reason,
)
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.policy import Policy
from homelab_approvals.service.queries import ROW_QUERY, to_view
from homelab_approvals.storage import Database
from homelab_approvals.storage.tables import ActionEvent as E
from homelab_approvals.storage.tables import RemediationAction as A

_PENDING = ActionStatus.PENDING.value
_APPROVED = ActionStatus.APPROVED.value
#: At most this many actions per sweep; the next sweep takes the rest.
SWEEP_LIMIT = 1000

_EXPIRE_PENDING = (
    update(A)
    .where(A.id == bindparam("aid"), A.status == _PENDING, A.created_at < bindparam("cutoff"))
    .values(
        status=ActionStatus.REJECTED.value,
        rejected_at=bindparam("at"),
        rejected_by=EXPIRY_ACTOR,
        rejection_reason=bindparam("reason"),
    )
)
_EXPIRE_APPROVED = (
    update(A)
    .where(A.id == bindparam("aid"), A.status == _APPROVED, A.approved_at < bindparam("cutoff"))
    .values(
        status=ActionStatus.FAILED.value,
        completed_at=bindparam("at"),
        exit_code=EXPIRED_EXIT_CODE,
        stderr=EXPIRED_STDERR,
    )
)
_EVENT = insert(E).values(
    action_id=bindparam("aid"),
    from_status=bindparam("from_status"),
    to_status=bindparam("to_status"),
    actor=EXPIRY_ACTOR,
    at=bindparam("at"),
    reason=bindparam("reason"),
)
_ONE_ACTION = ROW_QUERY.where(A.id == bindparam("aid"))


def _stale(status: str) -> Executable:
    column = A.created_at if status == _PENDING else A.approved_at
    return (
        select(A.id, column)
        .where(A.status == status, column < bindparam("cutoff"))
        .order_by(A.id)
        .limit(SWEEP_LIMIT)
    )


_STALE_PENDING = _stale(_PENDING)
_STALE_APPROVED = _stale(_APPROVED)


class ExpiryOps:
    """Mixed into ApprovalService."""

    db: Database
    policy: Policy
    clock: Callable[[], datetime]

    def expire(self) -> list[ActionView]:
        """Expire every stale action (at most SWEEP_LIMIT of each kind); the actions
        this call expired, as they now are. Without `[expiry]` nothing happens."""
        expiry = self.policy.expiry
        now = self.clock()
        done: list[ActionView] = []
        if expiry.pending is not None:
            reason = pending_reason(expiry.pending.text)
            cutoff = now - expiry.pending.delta
            for aid in self._candidates(_STALE_PENDING, cutoff):
                view = self._expire_one(_EXPIRE_PENDING, aid, cutoff, reason, _PENDING)
                if view is not None:
                    done.append(view)
        if expiry.approved is not None:
            reason = approved_reason(expiry.approved.text)
            cutoff = now - expiry.approved.delta
            for aid in self._candidates(_STALE_APPROVED, cutoff):
                view = self._expire_one(_EXPIRE_APPROVED, aid, cutoff, reason, _APPROVED)
                if view is not None:
                    done.append(view)
        return done

    def expires_at(self, action: ActionView) -> datetime | None:
        """When this action expires if nothing happens to it first, or None."""
        return self.policy.expires_at(action)

    def _candidates(self, stmt: Executable, cutoff: datetime) -> list[int]:
        """Stale actions' ids. A stored time that is no date-time (a hand-edited row)
        says nothing about the action's age: such an action is never expired."""
        with self.db.reading() as conn:
            rows = conn.execute(stmt, {"cutoff": cutoff}).all()
        return [aid for aid, moment in rows if not isinstance(moment, DamagedTime)]

    def _expire_one(
        self, stmt: Executable, aid: int, cutoff: datetime, reason: str, from_status: str
    ) -> ActionView | None:
        """One conditional UPDATE plus its event; None when a decision or a claim got
        there first (the UPDATE re-checks the status and the age)."""
        params: dict[str, object] = {
            "aid": aid,
            "cutoff": cutoff,
            "at": self.clock(),
            "reason": reason,
            "from_status": from_status,
        }
        with self.db.write_transaction() as tx:
            if not tx.run(stmt, params):
                return None
            row = tx.first_values(_ONE_ACTION, params)
            if row is None:  # cannot be: this transaction just changed it
                return None
            view = to_view(row)
            params["to_status"] = view.status
            tx.run(_EVENT, params)
        return view
