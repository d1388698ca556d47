"""`notify_cursors`: how far each notification target has been acknowledged, as the id of
the last audit event it was sent (or had no need of).

Self-contained: its own MetaData, created on first use by a notification sender, so a
database that never sends notifications (a HomelabCmd one, say) never gets the table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert, select, update

from homelab_approvals.storage.types import UTCDateTime

metadata = MetaData()

notify_cursors = Table(
    "notify_cursors",
    metadata,
    # A digest of the target's format and URL, never the URL itself: a webhook URL is a
    # secret (Slack's carries its token), and the database is readable by every operator.
    Column("target", String(100), primary_key=True),
    Column("event_id", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


def ensure_table(conn: Connection) -> None:
    metadata.create_all(conn, checkfirst=True)


def read_cursor(conn: Connection, target: str) -> int | None:
    stmt = select(notify_cursors.c.event_id).where(notify_cursors.c.target == target)
    return conn.execute(stmt).scalar()


def advance_cursor(conn: Connection, target: str, event_id: int, at: datetime) -> None:
    """Move the target's cursor to `event_id`; never backwards (a slower sender that
    acknowledges an older event after a faster one must not resend what it passed)."""
    moved = conn.execute(
        update(notify_cursors)
        .where(notify_cursors.c.target == target, notify_cursors.c.event_id < event_id)
        .values(event_id=event_id, updated_at=at)
    ).rowcount
    if moved:
        return
    exists = conn.execute(
        select(notify_cursors.c.event_id).where(notify_cursors.c.target == target)
    ).scalar()
    if exists is None:
        conn.execute(insert(notify_cursors).values(target=target, event_id=event_id, updated_at=at))
