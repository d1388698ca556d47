"""SQLite's side of the seam (storage/backend.py): BEGIN IMMEDIATE, decisions on held
connections, `PRAGMA data_version` as the change token, errors by result code, and the
audit trail's triggers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.pool import ConnectionPoolEntry

from homelab_approvals.domain.errors import ApprovalsError, DatabaseReplaced, StorageError
from homelab_approvals.storage.backend import WriteTransaction
from homelab_approvals.storage.sqlite import errors
from homelab_approvals.storage.sqlite.audit_triggers import EXPECTED as _EXPECTED
from homelab_approvals.storage.sqlite.audit_triggers import TRIGGERS, normalised
from homelab_approvals.storage.sqlite.prepared import HeldConnections
from homelab_approvals.storage.transaction import core_transaction

#: An execution option the engine's "begin" hook (opening.py) reads: BEGIN IMMEDIATE.
IMMEDIATE = "approvals_immediate"


#: The change token of a closed database: it never moves again.
_CLOSED = object()


class SQLiteBackend:
    name = "SQLite"

    def __init__(
        self, engine: Engine, label: str, *, path: Path | None = None, precompiled: bool = True
    ) -> None:
        #: False runs decisions the ordinary way (storage/transaction.py), as every other
        #: backend does: tests run the service both ways and compare.
        self.precompiled = precompiled
        self._engine = engine
        self._label = label
        self._lock = threading.Lock()
        self._held: HeldConnections | None = None
        self._watcher: Any = None  # a raw sqlite3 connection, opened on first use
        # Held while the watcher is used or closed: close() runs on another thread than
        # the live refresh's change check (a replaced file is reopened, a test ends), and
        # closing a sqlite3 connection in the middle of its query crashes the process.
        self._watch_lock = threading.Lock()
        #: The file (not for `sqlite://` in memory), and what it was when watching began.
        self._path = path
        self._identity: _FileIdentity | None = None
        self._closed = False
        event.listen(engine, "checkin", self._close_if_closed)

    @contextmanager
    def begin_write(self) -> Iterator[Connection]:
        # Takes the write lock up front, so concurrent writers queue on busy_timeout
        # instead of failing on lock upgrade.
        with (
            self._engine.connect().execution_options(**{IMMEDIATE: True}) as conn,
            conn.begin(),
        ):
            yield conn

    def write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """The statements run precompiled on a held connection (prepared.py has the
        profile that justifies it)."""
        held = self._held
        if held is not None and self._identity is None:
            return held.transaction()  # the hot path, one call shorter
        if self._identity is not None:
            return self._checked(self._transaction())
        return self._transaction()

    def _transaction(self) -> AbstractContextManager[WriteTransaction]:
        if not self.precompiled:
            return core_transaction(self, self._label)
        held = self._held
        if held is None:
            with self._lock:
                if self._closed:
                    raise StorageError(f"the database is closed: {self._label}")
                if self._held is None:
                    self._held = HeldConnections(self._engine, self._label)
                held = self._held
        return held.transaction()

    def change_token(self, *, fresh: bool = False) -> object:
        """`PRAGMA data_version` on one held connection: a few µs, no locks. It moves when
        another connection commits (each decision uses a connection of its own), as soon
        as the commit is done: always fresh."""
        with self._watch_lock:
            if self._closed:
                # Never a new connection to a closed database (a live refresh may ask once
                # more before it is handed the reopened one): it would keep a replaced
                # file's lost -wal index alive, so the file could not be opened again.
                return _CLOSED
            if self._watcher is None:
                self._watcher = self._engine.raw_connection()
                if self._path is not None:
                    # From now on a connection is held open, so a WAL database keeps
                    # its -wal: the file is watched for being replaced under us.
                    self._identity = _FileIdentity.of(self._path)
            cursor = self._watcher.cursor()
            try:
                token = cursor.execute("PRAGMA data_version").fetchone()[0]
            finally:
                cursor.close()
        self.check_file()
        return token

    def change_signal(self) -> int | None:
        return None  # data_version is only seen by asking: the console polls it

    @contextmanager
    def _checked(
        self, transaction: AbstractContextManager[WriteTransaction]
    ) -> Iterator[WriteTransaction]:
        """A write transaction checking the file before it and again after its commit,
        so a decision that went to a replaced file is an error, never reported as done."""
        self.check_file()
        with transaction as tx:
            yield tx
        self.check_file(committed=True)

    def check_file(self, *, committed: bool = False) -> None:
        """Raise DatabaseReplaced when the file at our path is not the one we opened
        (another inode) or its -wal, there when watching began, is gone."""
        identity = self._identity
        if identity is None or self._path is None:
            return
        problem = identity.problem(self._path)
        if problem is None:
            return
        after = (
            "; the change just made went to the old file, which nobody reads now"
            if committed
            else ""
        )
        raise DatabaseReplaced(f"the database file was replaced ({problem}){after}: {self._label}")

    def translate(self, error: BaseException, label: str) -> ApprovalsError | None:
        return errors.translate(error, label)

    def lock_schema(self, conn: Connection) -> None:
        pass  # BEGIN IMMEDIATE holds the one write lock already

    def schema_objects_to_create(
        self, conn: Connection, *, complete: bool
    ) -> tuple[list[str], list[str]]:
        stored: dict[str, str | None] = dict(
            conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
        )
        create: list[str] = []
        altered: list[str] = []
        for name, expected in _EXPECTED.items():
            if name not in stored:
                create.append(name)
                if complete:
                    altered.append(f"{name} was removed")
            elif normalised(stored[name]) != expected:
                create.append(name)
                altered.append(f"{name} was changed")
        return create, altered

    def create_schema_objects(self, conn: Connection, names: list[str]) -> None:
        for name in names:
            conn.exec_driver_sql(f'DROP TRIGGER IF EXISTS "{name}"')
            conn.exec_driver_sql(TRIGGERS[name])

    def ids_follow_on(self, conn: Connection, tables: list[str]) -> None:
        pass  # an INTEGER PRIMARY KEY takes the highest id plus one by itself

    def _close_if_closed(self, _dbapi_connection: object, entry: ConnectionPoolEntry) -> None:
        # A read still running when close() disposed the pool brings its connection
        # back afterwards, to a pool nobody empties: close it. Left open, it keeps a
        # lost -wal's index alive, and the file cannot be opened again ("disk I/O
        # error") until the garbage collector finds that pool.
        if self._closed:
            entry.invalidate()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._held is not None:
                self._held.close()
                self._held = None
        with self._watch_lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
        self._engine.dispose()


@dataclass(frozen=True)
class _FileIdentity:
    device: int
    inode: int
    wal: bool  # the -wal existed

    @classmethod
    def of(cls, path: Path) -> _FileIdentity | None:
        try:
            info = path.stat()
        except OSError:
            return None
        return cls(info.st_dev, info.st_ino, _wal_of(path).exists())

    def problem(self, path: Path) -> str | None:
        try:
            info = path.stat()
        except FileNotFoundError:
            return "it was removed"
        except OSError:
            return None  # cannot tell; the next read says what is wrong
        if (info.st_dev, info.st_ino) != (self.device, self.inode):
            return "another file is at its path"
        if self.wal and not _wal_of(path).exists():
            return "its -wal file was removed"
        return None


def _wal_of(path: Path) -> Path:
    return path.with_name(path.name + "-wal")
