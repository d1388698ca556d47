"""SQLite's side of the seam (storage/backend.py): BEGIN IMMEDIATE, decisions on held
connections, `PRAGMA data_version` as the change token, errors by result code, and the
audit trail's triggers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage import sql_files
from homelab_approvals.storage.backend import WriteTransaction
from homelab_approvals.storage.sqlite import errors
from homelab_approvals.storage.sqlite.prepared import HeldConnections
from homelab_approvals.storage.transaction import core_transaction

#: An execution option the engine's "begin" hook (opening.py) reads: BEGIN IMMEDIATE.
IMMEDIATE = "approvals_immediate"
#: The audit trail's triggers, by name (sql/triggers.sql).
TRIGGERS = sql_files.load(__package__, "triggers.sql")


class SQLiteBackend:
    name = "SQLite"

    def __init__(self, engine: Engine, label: str, *, precompiled: bool = True) -> None:
        #: False runs decisions the ordinary way (storage/transaction.py), as every other
        #: backend does: tests run the service both ways and compare.
        self.precompiled = precompiled
        self._engine = engine
        self._label = label
        self._lock = threading.Lock()
        self._held: HeldConnections | None = None
        self._watcher: Any = None  # a raw sqlite3 connection, opened on first use

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
        if not self.precompiled:
            return core_transaction(self, self._label)
        held = self._held
        if held is None:
            with self._lock:
                if self._held is None:
                    self._held = HeldConnections(self._engine, self._label)
                held = self._held
        return held.transaction()

    def change_token(self) -> object:
        """`PRAGMA data_version` on one held connection: a few µs, no locks. It moves when
        another connection commits (each decision uses a connection of its own)."""
        if self._watcher is None:
            with self._lock:
                if self._watcher is None:
                    self._watcher = self._engine.raw_connection()
        cursor = self._watcher.cursor()
        try:
            return cursor.execute("PRAGMA data_version").fetchone()[0]
        finally:
            cursor.close()

    def translate(self, error: BaseException, label: str) -> StorageError | None:
        return errors.translate(error, label)

    def lock_schema(self, conn: Connection) -> None:
        pass  # BEGIN IMMEDIATE holds the one write lock already

    def missing_schema_objects(self, conn: Connection) -> list[str]:
        present = set(
            conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
        )
        return [name for name in TRIGGERS if name not in present]

    def create_schema_objects(self, conn: Connection, names: list[str]) -> None:
        for name in names:
            conn.exec_driver_sql(TRIGGERS[name])

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        self._engine.dispose()
