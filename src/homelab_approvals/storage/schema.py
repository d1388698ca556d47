"""Bring our tables up to date: create what is missing, never alter what exists, and
restore the audit trail's protections (triggers) when someone changed or removed them.
The same for every backend; each names, checks and creates its own schema objects
through its `Backend`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, insert, inspect, select, text, update

from homelab_approvals.domain.enums import AUDIT_RESTORED
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.timestamps import utcnow
from homelab_approvals.storage.backend import Backend
from homelab_approvals.storage.database import Database
from homelab_approvals.storage.execution_tables import event_has_command
from homelab_approvals.storage.previews import previews as _registers_preview_tables
from homelab_approvals.storage.tables import ActionEvent, Base, SchemaVersion
from homelab_approvals.storage.version import SCHEMA_VERSION

__all__ = ["AUDIT_ACTOR", "AUDIT_RESTORED", "SCHEMA_VERSION", "ensure_schema"]

# Importing storage/previews.py adds its tables to Base.metadata, so they are made here.
assert _registers_preview_tables.metadata is Base.metadata

#: Who the event a repair of the audit protection leaves in the trail is by (issue 16).
AUDIT_ACTOR = "homelab-approvals"


@dataclass
class _State:
    """What `ensure_schema` found: what is missing, which protections were tampered with,
    and the stored version."""

    tables: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)  # the backend's, to (re)create
    altered: list[str] = field(default_factory=list)  # among them: changed or removed
    columns: list[str] = field(default_factory=list)  # of action_events, added since
    version: int | None = None


def _missing(conn: Connection, backend: Backend, label: str) -> _State:
    present_tables = set(inspect(conn).get_table_names())
    state = _State(tables=[name for name in Base.metadata.tables if name not in present_tables])
    _refuse_foreign(conn, present_tables, label)
    if _EVENTS in present_tables and not event_has_command(conn):
        state.columns.append("command")  # version 3
    if SchemaVersion.__tablename__ in present_tables:
        state.version = conn.execute(
            select(SchemaVersion.version).where(SchemaVersion.id == 1)
        ).scalar()
    # A database this version completed had every object: one gone was removed.
    complete = state.version == SCHEMA_VERSION and not state.tables
    state.objects, state.altered = backend.schema_objects_to_create(conn, complete=complete)
    return state


_EVENTS = ActionEvent.__tablename__
#: Columns later versions added to a table of ours: their absence marks an older
#: homelab-approvals database (brought up to date), not another program's table.
_ADDED_COLUMNS = {_EVENTS: {"command"}}


def _refuse_foreign(conn: Connection, present: set[str], label: str) -> None:
    """A table of one of our names but another shape (say, another program's
    remediation_actions) is refused before anything is written."""
    for name, table in Base.metadata.tables.items():
        if name not in present:
            continue
        have = {column["name"].lower() for column in inspect(conn).get_columns(name)}
        have |= _ADDED_COLUMNS.get(name, set())  # an older version of ours: added on opening
        lacking = [column.name for column in table.columns if column.name.lower() not in have]
        if lacking:
            named = ", ".join(lacking[:3]) + (
                f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
            )
            raise StorageError(
                f"not a homelab-approvals or HomelabCmd database: its table {name} has no "
                f"{named} column{'s' if len(lacking) > 1 else ''}; nothing was changed: {label}"
            )


def _refuse_newer(version: int | None, label: str) -> None:
    if version is not None and version > SCHEMA_VERSION:
        raise StorageError(
            f"database schema version {version} is newer than this homelab-approvals "
            f"understands ({SCHEMA_VERSION}); upgrade homelab-approvals: {label}"
        )


def ensure_schema(db: Database) -> list[str]:
    """Create what is missing; repair audit protections whose definition differs from
    ours. Returns what was repaired (empty when nothing had been tampered with); each
    repair is also recorded in the audit trail."""
    with db.reading() as conn:
        state = _missing(conn, db.backend, db.label)
    _refuse_newer(state.version, db.label)
    if (
        not state.tables
        and not state.objects
        and not state.columns
        and state.version == SCHEMA_VERSION
    ):
        return []
    if db.read_only:
        return []  # reads of what exists still work; writes are refused anyway
    with db.writing() as conn:
        # Re-check under the write lock: another process may have just done it.
        db.backend.lock_schema(conn)
        state = _missing(conn, db.backend, db.label)
        _refuse_newer(state.version, db.label)
        if state.tables:
            Base.metadata.create_all(
                conn,
                tables=[Base.metadata.tables[name] for name in state.tables],
                checkfirst=True,
            )
        for column in state.columns:
            # Portable DDL: SQLite and PostgreSQL add a nullable column in place.
            conn.execute(text(f"ALTER TABLE {_EVENTS} ADD COLUMN {column} TEXT"))
        db.backend.create_schema_objects(conn, state.objects)
        if state.version is None:
            conn.execute(insert(SchemaVersion).values(id=1, version=SCHEMA_VERSION))
        elif state.version < SCHEMA_VERSION:
            conn.execute(
                update(SchemaVersion).where(SchemaVersion.id == 1).values(version=SCHEMA_VERSION)
            )
        if state.altered:
            conn.execute(
                insert(ActionEvent).values(
                    action_id=0,
                    from_status="audit",
                    to_status="restored",
                    actor=AUDIT_ACTOR,
                    at=utcnow(),
                    reason=f"{AUDIT_RESTORED}: {'; '.join(state.altered)}",
                )
            )
    return state.altered
