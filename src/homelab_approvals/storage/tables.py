"""Tables, as SQLAlchemy 2 typed ORM mappings.

`servers` and `remediation_actions` are HomelabCmd's: same names, types and storage,
so its database opens in place. HomelabCmd's `servers` has more columns; we map only
the ones we use. `action_events` and `approvals_schema` are ours.
"""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.storage.types import StoredLongText, StoredText, UTCDateTime


class Base(DeclarativeBase):
    pass


class Server(Base):
    __tablename__ = "servers"

    id: Mapped[str] = mapped_column(StoredText(100), primary_key=True)
    hostname: Mapped[str] = mapped_column(StoredText(255), nullable=False)
    display_name: Mapped[str | None] = mapped_column(StoredText(255))
    is_paused: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RemediationAction(Base):
    __tablename__ = "remediation_actions"
    __table_args__ = (
        Index("idx_remediation_actions_status", "status"),
        Index("idx_remediation_actions_server_status", "server_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server_id: Mapped[str] = mapped_column(
        StoredText(100), ForeignKey("servers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    action_type: Mapped[str] = mapped_column(StoredText(50), nullable=False)
    status: Mapped[str] = mapped_column(
        StoredText(20), nullable=False, default=ActionStatus.PENDING.value
    )
    service_name: Mapped[str | None] = mapped_column(StoredText(255))
    command: Mapped[str] = mapped_column(StoredLongText, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(StoredText(50), nullable=False)
    # HomelabCmd points this at its `alerts` table, which our own databases do not have.
    alert_id: Mapped[int | None] = mapped_column(Integer)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(StoredText(50))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by: Mapped[str | None] = mapped_column(StoredText(50))
    rejection_reason: Mapped[str | None] = mapped_column(StoredLongText)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    stdout: Mapped[str | None] = mapped_column(StoredLongText)
    stderr: Mapped[str | None] = mapped_column(StoredLongText)


class ActionEvent(Base):
    """One row per transition, written in the transition's own transaction. Append-only.

    Indexed by action only: every event insert also writes each index, and a decision's
    commit is dominated by the pages it writes. Databases made before this kept an index
    on `at` (ix_action_events_at); it is harmless, and SQLite's planner never chose it
    for the one query filtering on `at` (`events --since`, ordered by id)."""

    __tablename__ = "action_events"
    __table_args__ = (Index("ix_action_events_action_id", "action_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: the audit trail must outlive HomelabCmd's ON DELETE CASCADE cleanups.
    action_id: Mapped[int] = mapped_column(Integer, nullable=False)
    from_status: Mapped[str | None] = mapped_column(StoredText(20))
    to_status: Mapped[str] = mapped_column(StoredText(20), nullable=False)
    actor: Mapped[str] = mapped_column(StoredText(50), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str | None] = mapped_column(StoredLongText)
    # On an approval: the command text that was approved. An executor runs an action
    # only if its command still equals this (schema version 3 on).
    command: Mapped[str | None] = mapped_column(StoredLongText)


class SchemaVersion(Base):
    """The version of *our* tables this database was last brought up to."""

    __tablename__ = "approvals_schema"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)


OUR_TABLES = (ActionEvent.__table__, SchemaVersion.__table__)
