"""Copying a whole queue into an empty database: servers, actions and the audit trail,
ids and times exactly as they are, whatever the two backends. Our tables only (those
`tables.py` maps); HomelabCmd's other columns and tables are its business."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, func, insert, select

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage.database import Database
from homelab_approvals.storage.tables import ActionEvent, RemediationAction, Server

#: Rows per INSERT batch (and per progress report).
BATCH = 1000
#: In the order they are copied: servers before the actions that name them.
TABLES: tuple[Table, ...] = (
    Server.__table__,  # type: ignore[assignment]
    RemediationAction.__table__,
    ActionEvent.__table__,
)

#: `progress(table, copied, total)`, after each batch.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Copied:
    servers: int
    actions: int
    events: int


def copy_database(source: Database, destination: Database, progress: Progress) -> Copied:
    """Copy everything into `destination`, which must hold no actions and no events
    (servers it already has are kept, and the source's servers of the same id skipped).
    One transaction on the destination: on any failure nothing is copied."""
    _refuse_non_empty(destination)
    copied: dict[str, int] = {}
    with destination.writing() as target:
        for table in TABLES:
            existing: set[object] = set()
            if table is Server.__table__:
                existing = set(target.execute(select(table.c.id)).scalars())
            with source.reading() as reader:
                total = reader.execute(select(func.count()).select_from(table)).scalar() or 0
                rows = reader.execute(select(*table.c).order_by(table.c.id)).mappings()
                done = 0
                progress(table.name, 0, total)
                batch: list[dict[str, object]] = []
                for row in rows:
                    done += 1
                    if row["id"] not in existing:
                        batch.append(dict(row))
                    if len(batch) >= BATCH:
                        target.execute(insert(table), batch)
                        batch = []
                        progress(table.name, done, total)
                if batch:
                    target.execute(insert(table), batch)
                progress(table.name, done, total)
            copied[table.name] = done
        # New ids follow on from the copied ones (a PostgreSQL sequence does not move by
        # itself when ids are given).
        destination.backend.ids_follow_on(target, [RemediationAction.__tablename__,
                                                   ActionEvent.__tablename__])  # fmt: skip
    return Copied(copied["servers"], copied["remediation_actions"], copied["action_events"])


def _refuse_non_empty(destination: Database) -> None:
    with destination.reading() as conn:
        actions = conn.execute(select(func.count()).select_from(RemediationAction)).scalar()
        events = conn.execute(select(func.count()).select_from(ActionEvent)).scalar()
    if actions or events:
        raise StorageError(
            f"the destination already holds {actions} actions and {events} events; copy-to "
            f"fills only an empty database, so nothing was copied: {destination.label}"
        )
