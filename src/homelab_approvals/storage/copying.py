"""Copying a whole queue into an empty database: servers, actions and the audit trail, and
the state of ours that refers to them (previews and the plans approvals were bound to,
live output, executor claims and heartbeats, notification cursors), ids and times
exactly as they are, whatever the two backends. Our tables only (those `tables.py` and
its neighbours map); HomelabCmd's other columns and tables are its business. The schema
version is the destination's own: both ends are at the current one once opened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Table, func, insert, inspect, select

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage.database import Database
from homelab_approvals.storage.execution_tables import executor_claims, executor_heartbeats
from homelab_approvals.storage.notify_cursors import ensure_table, notify_cursors
from homelab_approvals.storage.previews import (
    output_chunks,
    plan_bindings,
    preview_requests,
    previews,
)
from homelab_approvals.storage.tables import ActionEvent, RemediationAction, Server

#: Rows per INSERT batch (and per progress report).
BATCH = 1000
_SERVERS: Table = Server.__table__  # type: ignore[assignment]
_ACTIONS: Table = RemediationAction.__table__  # type: ignore[assignment]
_EVENTS: Table = ActionEvent.__table__  # type: ignore[assignment]
#: In the order they are copied: servers before the actions that name them. Events keep
#: their ids, so the plan bindings' preview ids and the notification cursors' event ids
#: still point at the same rows.
TABLES: tuple[Table, ...] = (
    _SERVERS,
    _ACTIONS,
    _EVENTS,
    previews,
    plan_bindings,
    preview_requests,
    output_chunks,
    executor_claims,
    executor_heartbeats,
    notify_cursors,
)
#: Tables whose integer `id` a sequence hands out (PostgreSQL's does not move by itself
#: when ids are given).
_NUMBERED = tuple(t.name for t in TABLES if "id" in t.c and t is not _SERVERS)

#: `progress(table, copied, total)`, after each batch.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Copied:
    servers: int
    actions: int
    events: int
    #: Rows of each of our other tables (previews, claims, cursors...).
    others: dict[str, int] = field(default_factory=dict)

    @property
    def other_rows(self) -> int:
        return sum(self.others.values())


def copy_database(source: Database, destination: Database, progress: Progress) -> Copied:
    """Copy everything into `destination`, which must hold no actions, no events and
    nothing in our other tables (servers it already has are kept, and the source's
    servers of the same id skipped). One transaction on the destination: on any failure
    nothing is copied."""
    with source.reading() as reader:
        present = set(inspect(reader).get_table_names())
    # The queue's own three always (without them it is no queue: that error says so);
    # the others when the source has them.
    tables = [t for t in TABLES if t.name in present or t in TABLES[:3]]
    _refuse_non_empty(destination)
    copied: dict[str, int] = {}
    with destination.writing() as target:
        if notify_cursors in tables:
            ensure_table(target)
        for table in tables:
            copied[table.name] = _copy_table(source, target, table, progress)
        destination.backend.ids_follow_on(target, list(_NUMBERED))
    return Copied(
        copied.pop(_SERVERS.name),
        copied.pop(_ACTIONS.name),
        copied.pop(_EVENTS.name),
        copied,
    )


def _copy_table(source: Database, target: Connection, table: Table, progress: Progress) -> int:
    existing: set[object] = set()
    if table is _SERVERS:
        existing = set(target.execute(select(table.c.id)).scalars())
    key = list(table.primary_key.columns)
    with source.reading() as reader:
        total = reader.execute(select(func.count()).select_from(table)).scalar() or 0
        rows = reader.execute(select(*table.c).order_by(*key)).mappings()
        done = 0
        progress(table.name, 0, total)
        batch: list[dict[str, object]] = []
        for row in rows:
            done += 1
            if table is not _SERVERS or row["id"] not in existing:
                batch.append(dict(row))
            if len(batch) >= BATCH:
                target.execute(insert(table), batch)
                batch = []
                progress(table.name, done, total)
        if batch:
            target.execute(insert(table), batch)
        progress(table.name, done, total)
    return done


def _refuse_non_empty(destination: Database) -> None:
    with destination.reading() as conn:
        actions = conn.execute(select(func.count()).select_from(_ACTIONS)).scalar()
        events = conn.execute(select(func.count()).select_from(_EVENTS)).scalar()
        present = set(inspect(conn).get_table_names())
        holding = [
            table.name
            for table in TABLES[3:]
            if table.name in present
            and conn.execute(select(func.count()).select_from(table)).scalar()
        ]
    if actions or events:
        raise StorageError(
            f"the destination already holds {actions} actions and {events} events; copy-to "
            f"fills only an empty database, so nothing was copied: {destination.label}"
        )
    if holding:
        raise StorageError(
            f"the destination already holds rows in {', '.join(holding)}; copy-to fills "
            f"only an empty database, so nothing was copied: {destination.label}"
        )
