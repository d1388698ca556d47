"""Bring our tables up to date: create what is missing, never alter what exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, inspect, select, text, update

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.models import ActionEvent, Base, SchemaVersion
from homelab_approvals.storage.execution_tables import event_has_command
from homelab_approvals.storage.version import SCHEMA_VERSION

if TYPE_CHECKING:
    from homelab_approvals.storage.database import Database

__all__ = ["SCHEMA_VERSION", "ensure_schema", "missing_foreign_key_parents"]

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


def _missing(conn: Connection) -> tuple[list[str], list[str], int | None]:
    """(missing tables, missing triggers, stored version). A table that exists but lacks
    a column added since (version 2: action_events.command) counts as missing too;
    `_add_columns` completes it."""
    tables = set(inspect(conn).get_table_names())
    missing_tables = [name for name in Base.metadata.tables if name not in tables]
    if _EVENTS in tables and not event_has_command(conn):
        missing_tables.append(_EVENTS)
    missing_triggers: list[str] = []
    if conn.dialect.name == "sqlite":
        present = set(
            conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
        )
        missing_triggers = [name for name in _SQLITE_TRIGGERS if name not in present]
    version = None
    if SchemaVersion.__tablename__ in tables:
        version = conn.execute(select(SchemaVersion.version).where(SchemaVersion.id == 1)).scalar()
    return missing_tables, missing_triggers, version


_EVENTS = ActionEvent.__tablename__


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


def ensure_schema(db: Database) -> None:
    with db.reading() as conn:
        tables, triggers, version = _missing(conn)
    _refuse_newer(version, db.label)
    if not tables and not triggers and version == SCHEMA_VERSION:
        return
    if db.read_only:
        return  # reads of what exists still work; writes are refused anyway
    with db.writing() as conn:
        # Re-check under the write lock: another process may have just done it.
        tables, triggers, version = _missing(conn)
        _refuse_newer(version, db.label)
        if tables:
            Base.metadata.create_all(
                conn, tables=[Base.metadata.tables[name] for name in tables], checkfirst=True
            )
            if _EVENTS in tables and not event_has_command(conn):
                # Portable DDL: SQLite and PostgreSQL add a nullable column in place.
                conn.execute(text(f"ALTER TABLE {_EVENTS} ADD COLUMN command TEXT"))
        for name in triggers:
            conn.execute(text(_SQLITE_TRIGGERS[name]))
        if version is None:
            conn.execute(insert(SchemaVersion).values(id=1, version=SCHEMA_VERSION))
        elif version < SCHEMA_VERSION:
            conn.execute(
                update(SchemaVersion).where(SchemaVersion.id == 1).values(version=SCHEMA_VERSION)
            )
