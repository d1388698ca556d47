"""PostgreSQL's side of the seam (storage/backend.py): transactions under READ COMMITTED
(a decision's conditional UPDATE waits for a concurrent one on the same row, then finds
it no longer pending), the change feed by LISTEN/NOTIFY (listener.py), errors by SQLSTATE,
and the schema's PL/pgSQL triggers under an advisory lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.storage import sql_files
from homelab_approvals.storage.backend import WriteTransaction
from homelab_approvals.storage.postgres import errors
from homelab_approvals.storage.postgres.listener import ChangeListener
from homelab_approvals.storage.postgres.prepared import PreparedWrites
from homelab_approvals.storage.transaction import core_transaction

#: Our functions and triggers, by name, in creation order (sql/schema.sql).
SCHEMA_OBJECTS = sql_files.load(__package__, "schema.sql")
QUERIES = sql_files.load(__package__, "queries.sql")
#: The audit trail's protections: one missing from a database this version completed was
#: removed, and its repair is recorded. The change feed's triggers are only recreated (a
#: database made before one of them was added lacks it, and nothing was tampered with).
AUDIT_OBJECTS = frozenset(
    {"approvals_refuse_change", "action_events_append_only", "action_events_no_truncate"}
)
#: The listening connection's application_name, as pg_stat_activity shows it.
LISTENER_NAME = "homelab-approvals listener"


class PostgresBackend:
    name = "PostgreSQL"

    def __init__(
        self, engine: Engine, label: str, *, listen: bool = True, precompiled: bool = True
    ) -> None:
        #: False runs decisions the ordinary way (storage/transaction.py): tests run the
        #: service both ways and compare.
        self.precompiled = precompiled
        self._engine = engine
        self._label = label
        self._prepared = PreparedWrites(engine, label)
        self.listener = ChangeListener(self._listen_connection, listen=listen)

    def _listen_connection(self) -> Any:
        """A connection of its own, outside the pool (LISTEN belongs to one session),
        made with the engine's own connection arguments."""
        import psycopg

        args, kwargs = self._engine.dialect.create_connect_args(self._engine.url)
        named = {**kwargs, "application_name": LISTENER_NAME, "autocommit": True}
        return psycopg.connect(*args, **named)

    @contextmanager
    def begin_write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """The statements run precompiled on kept psycopg connections of the engine's pool
        (prepared.py has the profile that justifies it)."""
        if not self.precompiled:
            return core_transaction(self, self._label)
        return self._prepared.transaction()

    def change_token(self, *, fresh: bool = False) -> object:
        return self.listener.token(fresh=fresh)

    def change_signal(self) -> int | None:
        return self.listener.signal()

    def translate(self, error: BaseException, label: str) -> ApprovalsError | None:
        return errors.translate(error, label)

    def lock_schema(self, conn: Connection) -> None:
        # Openers take turns creating the schema: waiting for one another is expected,
        # not a stuck writer, so the session's lock_timeout (opening.py) is lifted here.
        conn.exec_driver_sql("SET LOCAL lock_timeout = 0")
        conn.exec_driver_sql(QUERIES["lock_schema"])

    def schema_objects_to_create(
        self, conn: Connection, *, complete: bool
    ) -> tuple[list[str], list[str]]:
        present = set(conn.exec_driver_sql(QUERIES["existing_objects"]).scalars())
        create = [name for name in SCHEMA_OBJECTS if name not in present]
        removed = [name for name in create if name in AUDIT_OBJECTS] if complete else []
        return create, [f"{name} was removed" for name in removed]

    def create_schema_objects(self, conn: Connection, names: list[str]) -> None:
        for name in names:
            conn.exec_driver_sql(SCHEMA_OBJECTS[name])

    def ids_follow_on(self, conn: Connection, tables: list[str]) -> None:
        for table in tables:
            quoted = conn.dialect.identifier_preparer.quote(table)
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{quoted}', 'id'), "
                f"coalesce(max(id), 0) + 1, false) FROM {quoted}"
            )

    def close(self) -> None:
        self.listener.close()
        self._prepared.close()
        self._engine.dispose()
