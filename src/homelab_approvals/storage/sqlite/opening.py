"""Opening a SQLite database: the file (created owner-only), the engine and the pragmas
each connection gets, the schema, and read-only access that leaves no files behind."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from homelab_approvals.domain.damaged import text_from_bytes
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage import sql_files
from homelab_approvals.storage.database import Database
from homelab_approvals.storage.schema import ensure_schema
from homelab_approvals.storage.sqlite.backend import IMMEDIATE, SQLiteBackend
from homelab_approvals.storage.sqlite.readonly import read_only_uri_params, unwritable_reason
from homelab_approvals.storage.tables import Base

BUSY_TIMEOUT_MS = 5000
_QUERIES = sql_files.load(__package__, "schema.sql")


@dataclass
class _Pragmas:
    """What each new SQLite connection is set up with; `foreign_keys` may be turned off
    after the schema has been looked at (see `_check_foreign_key_parents`)."""

    new_file: bool = False
    query_only: bool = False
    foreign_keys: bool = True


def _install_sqlite_hooks(engine: Engine, *, new_file: bool, query_only: bool = False) -> _Pragmas:
    pragmas = _Pragmas(new_file=new_file, query_only=query_only)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is possible.
        dbapi_conn.isolation_level = None
        # Bytes that are not UTF-8 in a text column: shown with stand-ins and marked,
        # instead of an error that would hide every other row of the query.
        dbapi_conn.text_factory = text_from_bytes
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if pragmas.foreign_keys else 'OFF'}")
            cursor.execute("PRAGMA synchronous = NORMAL")
            if pragmas.new_file:
                cursor.execute("PRAGMA journal_mode = WAL")
            if pragmas.query_only:
                cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return pragmas


def _check_foreign_key_parents(db: Database, pragmas: _Pragmas) -> None:
    """A HomelabCmd database copied without its `alerts` table still declares
    remediation_actions.alert_id REFERENCES alerts. With foreign_keys=ON, SQLite then
    refuses every INSERT into remediation_actions ("no such table: main.alerts"), even
    with alert_id NULL. In that one case this database's connections run with
    foreign_keys=OFF: the only key we rely on, server_id -> servers, is checked by the
    service under the same write lock, and we never delete rows. Updates are unaffected
    either way (SQLite checks a key only when its columns change)."""
    with db.reading() as conn:
        missing = _missing_foreign_key_parents(conn)
    if missing:
        pragmas.foreign_keys = False
        db.engine.dispose()  # pooled connections still have foreign_keys=ON
        db.foreign_keys_off_reason = "foreign keys point at missing tables: " + ", ".join(missing)


def _missing_foreign_key_parents(conn: Connection) -> list[str]:
    """Tables that the tables we write to reference but that do not exist."""
    ours = ", ".join(f"'{name}'" for name in Base.metadata.tables)  # our own names only
    sql = _QUERIES["missing_foreign_key_parents"].replace(":our_tables", ours)
    return sorted(conn.exec_driver_sql(sql).scalars())


def _create_file(path: Path, *, group_shared: bool) -> None:
    """Create the folder and an empty database file with owner-only (or group) access.
    SQLite gives the -wal and -shm files the same mode as the database file."""
    folder_mode = 0o770 if group_shared else 0o700
    folder_is_new = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True, mode=folder_mode)
    if folder_is_new:
        # mkdir's mode is narrowed by the umask; a shared folder must really let the
        # group create the -wal and -shm files. A folder that already existed is the
        # user's business, not ours.
        os.chmod(path.parent, folder_mode)
    mode = 0o660 if group_shared else 0o600
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.close(fd)
    os.chmod(path, mode)  # the umask must not widen or narrow what we asked for


def _restrict_empty_file(path: Path, *, group_shared: bool) -> None:
    """An empty file we are about to turn into a database gets a new database's mode
    (0600, or 0660 shared), whatever it was made with: an empty 0666 file given as --db
    must not become a world-writable audit trail. Someone else's file is left as it is
    (only its owner may change its mode)."""
    try:
        os.chmod(path, 0o660 if group_shared else 0o600)
    except PermissionError:
        pass
    except OSError as error:
        raise StorageError(f"cannot open the database ({error.strerror}): {path}") from error


def _sqlite_url(path: Path, **uri_params: str) -> URL:
    """A URL SQLAlchemy will not re-parse: a path may hold '?', '#', '%' or spaces."""
    if not uri_params:
        return URL.create("sqlite", database=str(path))
    # SQLite URI filenames: percent-encode the path, then the parameters follow '?'.
    return URL.create(
        "sqlite", database=f"file:{quote(str(path))}", query={**uri_params, "uri": "true"}
    )


def _open_read_only_engine(path: Path, label: str) -> tuple[Engine, bool]:
    """An engine for a database this user may not write, and whether what it reads is a
    fixed snapshot (see `read_only_uri_params`: such a reader must never leave files)."""
    params, snapshot = read_only_uri_params(path, label)
    return create_engine(_sqlite_url(path, **params)), snapshot


def open_file(
    path: Path, *, read_only: bool = False, group_shared: bool = False, create: bool = True
) -> Database:
    """Open (creating if needed) the SQLite file at `path`, bring our tables up to date
    without touching anyone else's, and return it."""
    try:
        path = path.expanduser().absolute()
    except RuntimeError as error:  # "~nosuchuser/approvals.db"
        raise StorageError(f"cannot find the home folder in the database path: {path}") from error
    label = str(path)
    reason = "--read-only was given" if read_only else None
    try:
        info: os.stat_result | None = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as error:  # e.g. a folder on the way that this user may not enter
        raise StorageError(f"cannot open the database ({error.strerror}): {label}") from error
    except ValueError as error:  # a NUL byte, e.g. from a %00 in --database-url
        raise StorageError(f"not a valid database path: {label!r}") from error
    if info is None:
        if read_only or not create:
            raise StorageError(f"database does not exist: {label}")
        try:
            _create_file(path, group_shared=group_shared)
        except FileExistsError:
            pass  # another process won the race; open theirs
        except OSError as error:
            raise StorageError(f"cannot create the database ({error.strerror}): {label}") from error
    elif stat.S_ISDIR(info.st_mode):  # likely meant: a database in this folder
        raise StorageError(
            f"the database path is a folder: {label} (name a file, e.g. {path / 'approvals.db'})"
        )
    elif not stat.S_ISREG(info.st_mode):
        raise StorageError(f"not a SQLite database: {label}")
    # An empty file is a database nobody has written yet (ours, just created, or one
    # whose creator was killed before the schema landed): it gets WAL like a new one.
    try:
        new_file = path.stat().st_size == 0
    except OSError as error:
        raise StorageError(f"cannot open the database ({error.strerror}): {label}") from error
    unwritable = unwritable_reason(path)
    if new_file and unwritable is None and not read_only:
        _restrict_empty_file(path, group_shared=group_shared)
    snapshot = False
    if unwritable is not None:
        engine, snapshot = _open_read_only_engine(path, label)
        reason = reason or unwritable
        new_file = False
    else:
        # Read-only by choice on a file we could write: open it normally, with SQLite's
        # query_only guard. A mode=ro reader could not remove the -wal and -shm files
        # on close, so even looking would leave files behind.
        engine = create_engine(_sqlite_url(path))
    pragmas = _install_sqlite_hooks(
        engine, new_file=new_file and reason is None, query_only=read_only
    )
    db = Database(
        engine,
        label,
        SQLiteBackend(engine, label, path=path),
        read_only=reason is not None,
        read_only_reason=reason,
        created=new_file,
        snapshot=snapshot,
        reopen=lambda: open_file(path, read_only=read_only, create=False),
    )
    return _prepared(db, pragmas)


def open_memory(url: URL, label: str, *, read_only: bool) -> Database:
    """A database that lives in this process only (`sqlite://`): for trying things out."""
    engine = create_engine(url)
    pragmas = _install_sqlite_hooks(engine, new_file=False, query_only=read_only)
    reason = "--read-only was given" if read_only else None
    db = Database(engine, label, SQLiteBackend(engine, label), read_only, reason)
    return _prepared(db, pragmas)


def _prepared(db: Database, pragmas: _Pragmas) -> Database:
    try:
        db.audit_repairs = ensure_schema(db)
        _check_foreign_key_parents(db, pragmas)
    except BaseException:
        db.close()
        raise
    return db
