"""Bring our tables up to date: create what is missing, never alter what exists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, inspect, select, text, update

from homelab_approvals.domain.enums import AUDIT_RESTORED
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.models import ActionEvent, Base, SchemaVersion
from homelab_approvals.domain.timestamps import utcnow
from homelab_approvals.storage.execution_tables import event_has_command
from homelab_approvals.storage.previews import previews as _registers_preview_tables
from homelab_approvals.storage.version import SCHEMA_VERSION

if TYPE_CHECKING:
    from homelab_approvals.storage.database import Database

__all__ = [
    "AUDIT_RESTORED",
    "SCHEMA_VERSION",
    "ensure_schema",
    "missing_foreign_key_parents",
]

# Importing storage/previews.py adds its tables to Base.metadata, so they are made here.
assert _registers_preview_tables.metadata is Base.metadata

# The audit trail is append-only in the database itself: even a hand-typed sqlite3
# session cannot rewrite or erase history. REPLACE (INSERT OR REPLACE, or an UPSERT's
# conflict path) deletes the old row without firing DELETE triggers unless
# recursive_triggers is on, so an INSERT that reuses an existing id is refused as well.
_SQLITE_TRIGGERS = {
    "action_events_no_replace": (
        "CREATE TRIGGER IF NOT EXISTS action_events_no_replace BEFORE INSERT ON action_events "
        "WHEN EXISTS (SELECT 1 FROM action_events WHERE id = NEW.id) "
        "BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END"
    ),
    "action_events_no_update": (
        "CREATE TRIGGER IF NOT EXISTS action_events_no_update BEFORE UPDATE ON action_events "
        "BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END"
    ),
    "action_events_no_delete": (
        "CREATE TRIGGER IF NOT EXISTS action_events_no_delete BEFORE DELETE ON action_events "
        "BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END"
    ),
}


#: Who the event a repair of the audit protection leaves in the trail is by (issue 16).
AUDIT_ACTOR = "homelab-approvals"


def _normalised(sql: str | None) -> str:
    """A trigger's SQL as compared: white space collapsed, and SQLite drops the
    IF NOT EXISTS it was created with from what it stores."""
    words = " ".join((sql or "").split())
    return words.replace("CREATE TRIGGER IF NOT EXISTS ", "CREATE TRIGGER ", 1)


_EXPECTED = {name: _normalised(sql) for name, sql in _SQLITE_TRIGGERS.items()}


@dataclass
class _State:
    """What `ensure_schema` found: what is missing, which protections were tampered with,
    and the stored version."""

    tables: list[str] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)  # to (re)create
    altered: list[str] = field(default_factory=list)  # among them: changed or removed
    columns: list[str] = field(default_factory=list)  # of action_events, added since
    version: int | None = None


def _missing(conn: Connection, label: str) -> _State:
    inspector = inspect(conn)
    present_tables = set(inspector.get_table_names())
    state = _State(tables=[name for name in Base.metadata.tables if name not in present_tables])
    _refuse_foreign(conn, present_tables, label)
    if _EVENTS in present_tables and not event_has_command(conn):
        state.columns.append("command")  # version 3
    if SchemaVersion.__tablename__ in present_tables:
        state.version = conn.execute(
            select(SchemaVersion.version).where(SchemaVersion.id == 1)
        ).scalar()
    if conn.dialect.name == "sqlite":
        stored: dict[str, str | None] = dict(
            conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
        )
        # A database this version completed had every trigger: one gone was removed.
        complete = state.version == SCHEMA_VERSION and not state.tables
        for name, expected in _EXPECTED.items():
            if name not in stored:
                state.triggers.append(name)
                if complete:
                    state.altered.append(f"{name} was removed")
            elif _normalised(stored[name]) != expected:
                state.triggers.append(name)
                state.altered.append(f"{name} was changed")
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


def missing_foreign_key_parents(conn: Connection) -> list[str]:
    """SQLite: tables that the tables we write to reference but that do not exist."""
    if conn.dialect.name != "sqlite":
        return []
    ours = ", ".join(f"'{name}'" for name in Base.metadata.tables)
    # SQLite table names are case-insensitive, hence lower().
    rows = conn.exec_driver_sql(
        'SELECT DISTINCT fk."table" '
        "FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS fk "
        f"WHERE m.type = 'table' AND m.name IN ({ours}) "
        'AND lower(fk."table") NOT IN '
        "(SELECT lower(name) FROM sqlite_master WHERE type = 'table')"
    ).scalars()
    return sorted(rows)


def _refuse_newer(version: int | None, label: str) -> None:
    if version is not None and version > SCHEMA_VERSION:
        raise StorageError(
            f"database schema version {version} is newer than this homelab-approvals "
            f"understands ({SCHEMA_VERSION}); upgrade homelab-approvals: {label}"
        )


def ensure_schema(db: Database) -> list[str]:
    """Create what is missing; repair audit triggers whose definition differs from ours.
    Returns what was repaired (empty when nothing had been tampered with); each repair is
    also recorded in the audit trail."""
    with db.reading() as conn:
        state = _missing(conn, db.label)
    _refuse_newer(state.version, db.label)
    if (
        not state.tables
        and not state.triggers
        and not state.columns
        and state.version == SCHEMA_VERSION
    ):
        return []
    if db.read_only:
        return []  # reads of what exists still work; writes are refused anyway
    with db.writing() as conn:
        # Re-check under the write lock: another process may have just done it.
        state = _missing(conn, db.label)
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
        for name in state.triggers:
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{name}"')
            conn.execute(text(_SQLITE_TRIGGERS[name]))
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
