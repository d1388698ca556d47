"""Our preview tables and their SQL: dry-run previews, the plan each approval was bound to,
and the live output of running actions. HomelabCmd's tables are never touched.

Kept in one module, on Core tables, so the rest of the code reaches them only through the
functions below."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    insert,
    select,
)

from homelab_approvals.storage.preview_rows import PreviewRow as PreviewRow
from homelab_approvals.storage.tables import Base
from homelab_approvals.storage.types import UTCDateTime

#: What a stored preview's raw output is cut to (the whole output is parsed first).
OUTPUT_CAP = 10_000

# One row per preview taken; the newest per action is the current one, older ones are
# kept so the plan an approval was bound to can be compared with a later one.
previews = Table(
    "approval_previews",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    # No foreign key, as action_events: HomelabCmd's cascades must not reach our rows.
    Column("action_id", Integer, nullable=False),
    Column("taken_at", UTCDateTime, nullable=False),
    Column("probe_command", Text, nullable=False),
    # None when the probe never ran to an exit (timed out, ssh could not start).
    Column("exit_code", Integer),
    Column("output", Text),  # stdout, capped at OUTPUT_CAP characters
    Column("error", Text),  # why there is no plan: ssh's or the probe's own words, capped
    Column("plan", Text),  # the parsed plan as JSON; None when it could not be read
    Column("digest", String(64)),
    Index("ix_approval_previews_action", "action_id", "id"),
)

# The plan an approval was given for: one row per approval that saw a preview.
plan_bindings = Table(
    "approval_plan_bindings",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("action_id", Integer, nullable=False),
    Column("actor", String(50), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("preview_id", Integer, nullable=False),
    Index("ix_approval_plan_bindings_action", "action_id", "id"),
)

# Live output of a running action, written in small batches while it runs.
output_chunks = Table(
    "approval_output_chunks",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("action_id", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("stream", String(6), nullable=False),  # 'stdout' or 'stderr'
    Column("text", Text, nullable=False),
    Index("ix_approval_output_chunks_action", "action_id", "id"),
)


# An operator asked for a fresh preview (the console's key); the executor takes one for
# each action whose newest request is newer than its newest preview.
preview_requests = Table(
    "approval_preview_requests",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("action_id", Integer, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("requested_by", String(50), nullable=False),
    Index("ix_approval_preview_requests_action", "action_id", "id"),
)


@dataclass(frozen=True, slots=True)
class BindingRow:
    action_id: int
    actor: str
    at: datetime
    digest: str
    preview_id: int


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: int
    stream: str
    text: str


def _cap(text: str | None) -> str | None:
    return None if text is None else text[:OUTPUT_CAP]


def add_preview(
    conn: Connection,
    *,
    action_id: int,
    taken_at: datetime,
    probe_command: str,
    exit_code: int | None,
    output: str | None,
    error: str | None,
    plan: str | None,
    digest: str | None,
) -> int:
    """Store one preview; `output` and `error` are capped here, after parsing."""
    result = conn.execute(
        insert(previews).values(
            action_id=action_id,
            taken_at=taken_at,
            probe_command=probe_command,
            exit_code=exit_code,
            output=_cap(output),
            error=_cap(error),
            plan=plan,
            digest=digest,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


_COLUMNS = tuple(previews.c)
#: The newest preview of action `aid` (a decision's transaction reads it under its lock).
LATEST_PREVIEW = (
    select(*_COLUMNS)
    .where(previews.c.action_id == bindparam("aid"))
    .order_by(previews.c.id.desc())
    .limit(1)
)


def latest_preview(conn: Connection, action_id: int) -> PreviewRow | None:
    row = conn.execute(LATEST_PREVIEW, {"aid": action_id}).one_or_none()
    return None if row is None else PreviewRow(*row)


#: The newest preview of each of the actions `ids` (an expanding parameter).
LATEST_PREVIEWS = select(*_COLUMNS).where(
    previews.c.id.in_(
        select(func.max(previews.c.id))
        .where(previews.c.action_id.in_(bindparam("ids", expanding=True)))
        .group_by(previews.c.action_id)
    )
)
#: The preview `pid`.
PREVIEW_BY_ID = select(*_COLUMNS).where(previews.c.id == bindparam("pid"))


def latest_previews(conn: Connection, action_ids: Sequence[int]) -> dict[int, PreviewRow]:
    """The newest preview of each of `action_ids` (for a page of the table or a list)."""
    if not action_ids:
        return {}
    rows = conn.execute(LATEST_PREVIEWS, {"ids": list(action_ids)}).all()
    return {row.action_id: PreviewRow(*row) for row in rows}


def preview_by_id(conn: Connection, preview_id: int) -> PreviewRow | None:
    row = conn.execute(PREVIEW_BY_ID, {"pid": preview_id}).one_or_none()
    return None if row is None else PreviewRow(*row)


def preview_taken_since(conn: Connection, action_id: int, since: datetime) -> bool:
    stmt = select(previews.c.id).where(
        and_(previews.c.action_id == action_id, previews.c.taken_at >= since)
    )
    return conn.execute(stmt.limit(1)).first() is not None


#: Bind approval of action `aid` by `actor` at `at` to preview `pid` and its `digest`.
ADD_BINDING = insert(plan_bindings).values(
    action_id=bindparam("aid"),
    actor=bindparam("actor"),
    at=bindparam("at"),
    digest=bindparam("digest"),
    preview_id=bindparam("pid"),
)


#: An earlier approval (vote) of action `aid` bound to a plan other than `digest`.
OTHER_BINDING = (
    select(plan_bindings.c.digest, plan_bindings.c.actor)
    .where(
        plan_bindings.c.action_id == bindparam("aid"),
        plan_bindings.c.digest != bindparam("digest"),
    )
    .limit(1)
)


#: Every plan binding of action `aid`, oldest first.
BINDINGS = (
    select(
        plan_bindings.c.action_id,
        plan_bindings.c.actor,
        plan_bindings.c.at,
        plan_bindings.c.digest,
        plan_bindings.c.preview_id,
    )
    .where(plan_bindings.c.action_id == bindparam("aid"))
    .order_by(plan_bindings.c.id)
)


def bindings(conn: Connection, action_id: int) -> list[BindingRow]:
    """Every plan binding of an action, oldest first."""
    return [BindingRow(*row) for row in conn.execute(BINDINGS, {"aid": action_id})]


def add_chunks(
    conn: Connection, action_id: int, at: datetime, chunks: Iterable[tuple[str, str]]
) -> None:
    """Append (stream, text) chunks of live output, in one statement."""
    values = [
        {"action_id": action_id, "at": at, "stream": stream, "text": text}
        for stream, text in chunks
        if text
    ]
    if values:
        conn.execute(insert(output_chunks), values)


def chunks_after(conn: Connection, action_id: int, after_id: int = 0) -> list[ChunkRow]:
    stmt = (
        select(output_chunks.c.id, output_chunks.c.stream, output_chunks.c.text)
        .where(output_chunks.c.action_id == action_id, output_chunks.c.id > after_id)
        .order_by(output_chunks.c.id)
    )
    return [ChunkRow(*row) for row in conn.execute(stmt)]


def add_request(conn: Connection, action_id: int, at: datetime, actor: str) -> None:
    conn.execute(
        insert(preview_requests).values(action_id=action_id, requested_at=at, requested_by=actor)
    )


def latest_requests(conn: Connection, action_ids: Sequence[int]) -> dict[int, datetime]:
    """When a fresh preview of each of `action_ids` was last asked for."""
    if not action_ids:
        return {}
    stmt = (
        select(preview_requests.c.action_id, func.max(preview_requests.c.requested_at))
        .where(preview_requests.c.action_id.in_(list(action_ids)))
        .group_by(preview_requests.c.action_id)
    )
    return {row[0]: row[1] for row in conn.execute(stmt)}
