"""Which audit events are worth a notification, and how far each target has got.

Delivery is at least once: a sender reads the events after its target's cursor, sends
them, and moves the cursor past each one only after the target acknowledged it. The
cursor lives in the database (storage/notify_cursors.py), so nothing is lost while no
sender runs, and a rerun sends nothing twice that was acknowledged. Nothing here runs
inside a decision: the trail is read afterwards, by the sender alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select

from homelab_approvals.domain.cancelling import CANCELLED_EVENT_REASON
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.expiry import EXPIRY_ACTOR
from homelab_approvals.domain.notices import Notice, NoticeKind
from homelab_approvals.storage import Database
from homelab_approvals.storage.notify_cursors import advance_cursor, ensure_table, read_cursor
from homelab_approvals.storage.tables import ActionEvent as E
from homelab_approvals.storage.tables import RemediationAction as A
from homelab_approvals.storage.tables import Server as S

_FAILED = ActionStatus.FAILED.value
_IS_CREATION = and_(E.from_status.is_(None), E.to_status == ActionStatus.PENDING.value)
_IS_EXPIRY = and_(
    E.actor == EXPIRY_ACTOR,
    or_(E.to_status == ActionStatus.REJECTED.value, E.to_status == _FAILED),
)
# A cancel also ends in `failed`; its event says so in its reason.
_IS_FAILURE = and_(
    E.to_status == _FAILED,
    E.actor != EXPIRY_ACTOR,
    or_(E.reason.is_(None), E.reason != CANCELLED_EVENT_REASON),
)
_FEED = (
    select(
        E.id,
        E.at,
        E.actor,
        E.reason,
        E.to_status,
        E.action_id,
        A.server_id,
        func.coalesce(S.display_name, S.hostname, A.server_id),
        A.action_type,
        A.service_name,
        A.command,
        A.status,
        A.exit_code,
        A.stderr,
    )
    .select_from(E)
    .outerjoin(A, A.id == E.action_id)
    .outerjoin(S, S.id == A.server_id)
    .where(E.id > bindparam("after"), or_(_IS_CREATION, _IS_EXPIRY, _IS_FAILURE))
    .order_by(E.id)
    .limit(bindparam("limit"))
)


def _kind(actor: str, to_status: str) -> NoticeKind:
    if actor == EXPIRY_ACTOR:
        return NoticeKind.EXPIRED
    return NoticeKind.FAILED if to_status == _FAILED else NoticeKind.PENDING


class NotifyOps:
    """Mixed into ApprovalService."""

    db: Database
    clock: Callable[[], datetime]

    def notice_cursor(self, target: str) -> int:
        """The last event id `target` has had. A target seen for the first time starts
        at the end of the trail: it is told what happens from now on, not the history."""
        with self.db.writing() as conn:
            ensure_table(conn)
            cursor = read_cursor(conn, target)
            if cursor is None:
                cursor = conn.execute(select(func.coalesce(func.max(E.id), 0))).scalar() or 0
                advance_cursor(conn, target, cursor, self.clock())
        return cursor

    def notices_after(self, event_id: int, limit: int = 100) -> list[Notice]:
        """Events after `event_id` worth a notification, oldest first."""
        with self.db.reading() as conn:
            rows = conn.execute(_FEED, {"after": event_id, "limit": limit}).all()
        return [
            Notice._make((row[0], _kind(row[2], row[4]), row[1], row[2], row[3], *row[5:]))
            for row in rows
        ]

    def acknowledge(self, target: str, event_id: int) -> None:
        """`target` has had every notice up to `event_id`."""
        with self.db.writing() as conn:
            ensure_table(conn)
            advance_cursor(conn, target, event_id, self.clock())

    def latest_event_id(self) -> int:
        with self.db.reading() as conn:
            return conn.execute(select(func.coalesce(func.max(E.id), 0))).scalar() or 0
