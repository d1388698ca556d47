"""Short write transactions from precompiled Core statements: the decision hot path.

Why this exists (profiled with pyinstrument and cProfile, see benchmarks/run.py): a
decision is one conditional UPDATE ... RETURNING plus one event INSERT. Through
`Connection.execute`, SQLAlchemy spent about 100-150 µs per statement on a 2-core machine
(execution context, `construct_params`, result metadata, events), plus a pool checkout,
reset-on-return and the BEGIN listener, while SQLite needs about 180 µs for the whole
transaction. So on SQLite the statements are compiled once with SQLAlchemy (same SQL, same
type processing) and run straight on a DBAPI cursor of a held, already-configured
connection. That took `approve` from 0.13 to about 0.3 of raw sqlite3's single-UPDATE
rate, and to about 0.75 of plain sqlite3 running the very same transaction. That is the
ceiling: the event row (a table and two indexes) makes each commit write about twice the
WAL frames of the single UPDATE.

The statements stay SQLAlchemy Core expressions written by the service; only their
execution is short-circuited here. Other databases use an ordinary connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Any, NoReturn, Protocol

from sqlalchemy import Connection, Engine, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from homelab_approvals.storage.errors import translated

Row = dict[str, Any]


class WriteTransaction(Protocol):
    """One write transaction (BEGIN IMMEDIATE on SQLite) running Core statements."""

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        """Run a statement that returns rows (SELECT, or DML with RETURNING); the first
        row as a plain dict keyed by column name, or None."""
        ...

    def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        """Run a statement for its effect."""
        ...


class PreparedStatement:
    """A Core statement compiled once for a positional dialect, with its bind and result
    type processors resolved up front. Constants in the expression are processed once;
    only the named `bindparam()` values are looked up and processed per call."""

    __slots__ = ("keys", "processors", "slots", "sql")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a Core statement: {statement!r}")
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not use positional parameters")
        self.sql = compiled.string
        # Per position: (name to look up, its processor) or (None, the processed constant).
        self.slots: tuple[tuple[str | None, Any], ...] = tuple(
            self._slot(compiled.binds[name], dialect) for name in compiled.positiontup
        )
        columns = list(getattr(statement, "exported_columns", ()))
        self.keys = tuple(str(column.key) for column in columns)
        processors = (
            (str(column.key), column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in columns
        )
        self.processors = tuple((key, p) for key, p in processors if p is not None)

    @staticmethod
    def _slot(bind: Any, dialect: Dialect) -> tuple[str | None, Any]:
        if bind.expanding:
            raise ValueError("IN (...) lists cannot be precompiled; use == with or_()")
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required:
            return bind.key, process
        value = bind.effective_value
        return None, process(value) if process is not None else value

    # NULL stays None without calling a processor, as every type in our schema (and
    # SQLAlchemy's own) maps it; most of an action's date-time columns are NULL, and each
    # processor call is several Python frames.

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, process in self.slots:
            if name is None:
                out.append(process)  # a constant, processed when compiled
            else:
                value = values[name]
                out.append(value if process is None or value is None else process(value))
        return out

    def row(self, raw: tuple[Any, ...]) -> Row:
        row = dict(zip(self.keys, raw, strict=True))
        for key, process in self.processors:
            value = row[key]
            if value is not None:
                row[key] = process(value)
        return row


class _CoreTransaction:
    """The portable implementation: an ordinary SQLAlchemy connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        row = self._conn.execute(statement, dict(params)).first()
        return None if row is None else dict(row._mapping)

    def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        self._conn.execute(statement, dict(params))


@contextmanager
def portable(writing: AbstractContextManager[Connection]) -> Iterator[WriteTransaction]:
    """A `WriteTransaction` over `Database.writing()`, for any database."""
    with writing as conn:
        yield _CoreTransaction(conn)


class _DriverTransaction:
    """The SQLite implementation: prepared statements on one DBAPI cursor."""

    __slots__ = ("_cursor", "_prepared")

    def __init__(self, cursor: Any, prepared: Callable[[Executable], PreparedStatement]) -> None:
        self._cursor = cursor
        self._prepared = prepared

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        prepared = self._prepared(statement)
        self._cursor.execute(prepared.sql, prepared.parameters(params))
        rows = self._cursor.fetchall()  # drained, so the statement is done before COMMIT
        return prepared.row(rows[0]) if rows else None

    def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        prepared = self._prepared(statement)
        self._cursor.execute(prepared.sql, prepared.parameters(params))


class _HeldTransaction:
    """BEGIN IMMEDIATE ... COMMIT on a held connection. A class rather than a generator
    context manager: this is entered once per decision."""

    __slots__ = ("_cursor", "_held", "_label", "_owner")

    def __init__(self, owner: HeldConnections, label: str) -> None:
        self._owner = owner
        self._label = label

    def __enter__(self) -> WriteTransaction:
        try:
            self._held = self._owner.checkout()
        except BaseException as error:
            self._raise_translated(error)
        cursor = None
        try:
            cursor = self._held.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            healthy = cursor is not None and _rollback(cursor)
            if cursor is not None:
                cursor.close()
            self._owner.release(self._held, healthy=healthy)
            self._raise_translated(error)
        self._cursor = cursor
        return _DriverTransaction(cursor, self._owner.prepared)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        cursor = self._cursor
        healthy = True
        try:
            if error is None:
                try:
                    cursor.execute("COMMIT")
                except BaseException as failure:
                    healthy = _rollback(cursor)
                    self._raise_translated(failure)
                return
            healthy = _rollback(cursor)
            if isinstance(error, self._owner.dbapi_error | exc.SQLAlchemyError):
                self._raise_translated(error)
            # Anything else (a refusal from the service, KeyboardInterrupt) propagates as is.
        finally:
            cursor.close()
            self._owner.release(self._held, healthy=healthy)

    def _raise_translated(self, error: BaseException) -> NoReturn:
        """Raise `error` as `Database.writing()` would: driver errors become StorageError
        or DatabaseBusy with one clear line; everything else is raised unchanged."""
        dbapi_error = self._owner.dbapi_error
        with translated(self._label):
            if isinstance(error, dbapi_error):
                raise exc.DBAPIError.instance(None, None, error, dbapi_error) from error
            raise error


class HeldConnections:
    """SQLite write connections kept checked out of the engine's pool, so a decision pays
    neither pool checkout nor reset-on-return. They come from `engine.raw_connection()`,
    so the engine's connect hooks (pragmas, transaction control) have run on them. At most
    `keep` idle ones are held; extra ones (more concurrent writers) go back to the pool."""

    _CACHE_LIMIT = 128  # statements are module-level constants; this only bounds misuse

    def __init__(self, engine: Engine, *, keep: int = 2) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: list[PoolProxiedConnection] = []
        self._closed = False
        self._lock = threading.Lock()
        self._statements: dict[int, tuple[Executable, PreparedStatement]] = {}
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def transaction(self, label: str) -> AbstractContextManager[WriteTransaction]:
        return _HeldTransaction(self, label)

    def prepared(self, statement: Executable) -> PreparedStatement:
        # Keyed by identity: the service builds its statements once, at import.
        hit = self._statements.get(id(statement))
        if hit is not None and hit[0] is statement:
            return hit[1]
        prepared = PreparedStatement(statement, self._engine.dialect)
        if len(self._statements) >= self._CACHE_LIMIT:
            self._statements.clear()
        self._statements[id(statement)] = (statement, prepared)
        return prepared

    def checkout(self) -> PoolProxiedConnection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._engine.raw_connection()

    def release(self, held: PoolProxiedConnection, *, healthy: bool) -> None:
        if not healthy:
            held.invalidate()  # never reuse a connection whose state is unknown
            return
        with self._lock:
            if not self._closed and len(self._idle) < self._keep:
                self._idle.append(held)
                return
        held.close()  # back to the engine's pool

    def close(self) -> None:
        with self._lock:
            self._closed = True  # a transaction still running returns its connection
            idle, self._idle = self._idle, []
        for held in idle:
            held.close()


def _rollback(cursor: Any) -> bool:
    """Roll back after a failure; False when even that failed (the connection is suspect)."""
    try:
        if cursor.connection.in_transaction:
            cursor.execute("ROLLBACK")
    except Exception:
        return False
    return True
