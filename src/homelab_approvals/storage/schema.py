"""Bring our tables up to date: create what is missing, never alter what exists. The same
for every backend; each adds its own objects (the audit trail's triggers) through its
`Backend`."""

from __future__ import annotations

from sqlalchemy import Connection, insert, inspect, select, update

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage.backend import Backend
from homelab_approvals.storage.database import Database
from homelab_approvals.storage.tables import Base, SchemaVersion
from homelab_approvals.storage.version import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "ensure_schema"]


def _missing(conn: Connection, backend: Backend) -> tuple[list[str], list[str], int | None]:
    """(missing tables, missing backend objects, stored version)."""
    tables = set(inspect(conn).get_table_names())
    missing_tables = [name for name in Base.metadata.tables if name not in tables]
    missing_objects = backend.missing_schema_objects(conn)
    version = None
    if SchemaVersion.__tablename__ in tables:
        version = conn.execute(select(SchemaVersion.version).where(SchemaVersion.id == 1)).scalar()
    return missing_tables, missing_objects, version


def _refuse_newer(version: int | None, label: str) -> None:
    if version is not None and version > SCHEMA_VERSION:
        raise StorageError(
            f"database schema version {version} is newer than this homelab-approvals "
            f"understands ({SCHEMA_VERSION}); upgrade homelab-approvals: {label}"
        )


def ensure_schema(db: Database) -> None:
    with db.reading() as conn:
        tables, objects, version = _missing(conn, db.backend)
    _refuse_newer(version, db.label)
    if not tables and not objects and version == SCHEMA_VERSION:
        return
    if db.read_only:
        return  # reads of what exists still work; writes are refused anyway
    with db.writing() as conn:
        # Re-check under the write lock: another process may have just done it.
        db.backend.lock_schema(conn)
        tables, objects, version = _missing(conn, db.backend)
        _refuse_newer(version, db.label)
        if tables:
            Base.metadata.create_all(
                conn, tables=[Base.metadata.tables[name] for name in tables], checkfirst=True
            )
        db.backend.create_schema_objects(conn, objects)
        if version is None:
            conn.execute(insert(SchemaVersion).values(id=1, version=SCHEMA_VERSION))
        elif version < SCHEMA_VERSION:
            conn.execute(
                update(SchemaVersion).where(SchemaVersion.id == 1).values(version=SCHEMA_VERSION)
            )
