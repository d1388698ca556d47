"""Opening a database: engine, per-connection pragmas, transactions, change detection."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.models import ActionEvent, RemediationAction
from homelab_approvals.storage.errors import translated
from homelab_approvals.storage.schema import ensure_schema

BUSY_TIMEOUT_MS = 5000
_IMMEDIATE = "approvals_immediate"


@dataclass
class Database:
    """An open database. Thread-safe: each `reading()`/`writing()` checks out its own
    pooled connection."""

    engine: Engine
    label: str
    read_only: bool = False
    read_only_reason: str | None = None
    created: bool = False
    _watcher: ChangeWatcher | None = field(default=None, repr=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with translated(self.label), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction that takes the write lock up front (BEGIN IMMEDIATE on SQLite),
        so concurrent writers queue on busy_timeout instead of failing on lock upgrade."""
        if self.read_only:
            why = self.read_only_reason
            raise StorageError(f"database is open read-only ({why}): {self.label}")
        with (
            translated(self.label),
            self.engine.connect().execution_options(**{_IMMEDIATE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    def change_token(self) -> object:
        """A value that changes whenever another connection commits. Cheap to call often."""
        if self._watcher is None:
            self._watcher = ChangeWatcher(self)
        with translated(self.label):
            return self._watcher.token()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self.engine.dispose()


class ChangeWatcher:
    """SQLite: `PRAGMA data_version` on one held connection (a few µs, no locks).
    Other databases: a cheap aggregate that moves with every insert or transition."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._raw: Any = db.engine.raw_connection() if db.is_sqlite else None

    def token(self) -> object:
        if self._raw is not None:
            cursor = self._raw.cursor()
            try:
                return cursor.execute("PRAGMA data_version").fetchone()[0]
            finally:
                cursor.close()
        with self._db.engine.connect() as conn:
            actions = conn.execute(
                select(func.max(RemediationAction.id), func.count(RemediationAction.id))
            ).one()
            events = conn.execute(select(func.max(ActionEvent.id))).scalar()
            return (tuple(actions), events)

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def _install_sqlite_hooks(engine: Engine, *, new_file: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE is possible.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
            if new_file:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _unwritable_reason(path: Path) -> str | None:
    if not os.access(path, os.W_OK):
        return "the file is not writable by this user"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return "its folder is not writable by this user"
    return None


def _create_file(path: Path, *, group_shared: bool) -> None:
    """Create the folder and an empty database file with owner-only (or group) access.
    SQLite gives the -wal and -shm files the same mode as the database file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o770 if group_shared else 0o700)
    mode = 0o660 if group_shared else 0o600
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    os.close(fd)
    os.chmod(path, mode)  # the umask must not widen or narrow what we asked for


def open_database(
    path: Path | None = None,
    *,
    url: str | None = None,
    read_only: bool = False,
    group_shared: bool = False,
    create: bool = True,
) -> Database:
    """Open (creating if needed) a database by file path or SQLAlchemy URL, bring our
    tables up to date without touching anyone else's, and return it."""
    if (path is None) == (url is None):
        raise ValueError("give exactly one of path or url")
    if url is not None:
        return _open_url(url, read_only=read_only)
    assert path is not None
    path = path.expanduser().absolute()
    label = str(path)
    new_file = False
    reason = "--read-only was given" if read_only else None
    if not path.exists():
        if read_only or not create:
            raise StorageError(f"database does not exist: {label}")
        try:
            _create_file(path, group_shared=group_shared)
        except FileExistsError:
            pass  # another process won the race; open theirs
        except OSError as error:
            raise StorageError(f"cannot create the database ({error.strerror}): {label}") from error
        else:
            new_file = True
    elif not stat.S_ISREG(path.stat().st_mode):
        raise StorageError(f"not a SQLite database: {label}")
    if reason is None:
        reason = _unwritable_reason(path)
    if reason is not None:
        engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    else:
        engine = create_engine(f"sqlite:///{path}")
    _install_sqlite_hooks(engine, new_file=new_file)
    db = Database(
        engine,
        label,
        read_only=reason is not None,
        read_only_reason=reason,
        created=new_file,
    )
    try:
        ensure_schema(db)
    except BaseException:
        engine.dispose()
        raise
    return db


def _open_url(url: str, *, read_only: bool) -> Database:
    try:
        parsed = make_url(url)
    except Exception as error:
        raise StorageError(f"not a valid database URL: {url}") from error
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return open_database(Path(parsed.database), read_only=read_only)
    with translated(parsed.render_as_string(hide_password=True)):
        engine = create_engine(parsed)
    if engine.dialect.name == "sqlite":
        _install_sqlite_hooks(engine, new_file=False)
    reason = "--read-only was given" if read_only else None
    db = Database(engine, parsed.render_as_string(hide_password=True), read_only, reason)
    ensure_schema(db)
    return db
