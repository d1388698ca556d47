"""Short write transactions from precompiled Core statements: the decision hot path.

Why this exists (profiled with pyinstrument and cProfile, see benchmarks/run.py): a
decision is one conditional UPDATE ... RETURNING plus one event INSERT. Through
`Connection.execute`, SQLAlchemy spent about 100-150 µs per statement on a 2-core machine
(execution context, `construct_params`, result metadata, events), plus a pool checkout,
reset-on-return and the BEGIN listener, while SQLite needs about 180 µs for the whole
transaction. So on SQLite the statements are compiled once with SQLAlchemy (same SQL, same
type processing) and run straight on a DBAPI cursor of a held, already-configured
connection. That took `approve` from 0.13 to about 0.3 of raw sqlite3's single-UPDATE
rate.

What is left was counted with valgrind (instructions per approve, benchmark database): plain
sqlite3 doing the same transaction needs about 200k, of which RETURNING alone is about
75k (34k fixed, ~2-3k per column); the service about 280k. Of its 80k on top, a frozen
`ActionView` costs 30k (a frozen dataclass sets each of its 21 fields through
`object.__setattr__`), this module's transaction and statement plumbing about 20k, and
date-times (one bind, two reads), validation and the service's own code the rest. Hence:
each held connection keeps its cursor, a transaction is one small object, rows come back
as lists in column order (no dict), and no processor runs for NULL. The event row's pages
are the other half of the gap to the single UPDATE: each commit writes about 5 WAL frames
against its 3.

The statements stay SQLAlchemy Core expressions written by the service; only their
execution is short-circuited here. Other databases use an ordinary connection.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
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

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        """Like `first`, but the row's values in the statement's column order: what a
        hot path builds a view from positionally, without a dict in between."""
        ...

    def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        """Run a statement for its effect."""
        ...


class PreparedStatement:
    """A Core statement compiled once for a positional dialect, with its bind and result
    type processors resolved up front. Constants in the expression are processed once;
    only the named `bindparam()` values are looked up and processed per call."""

    __slots__ = ("_binds", "_results", "_template", "keys", "sql")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a Core statement: {statement!r}")
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not use positional parameters")
        self.sql = compiled.string
        # The parameter list with every constant already processed in place, and per
        # named parameter: (its position, its name, its processor or None).
        template: list[Any] = []
        binds: list[tuple[int, str, Any]] = []
        for position, name in enumerate(compiled.positiontup):
            bind = compiled.binds[name]
            if bind.expanding:
                raise ValueError("IN (...) lists cannot be precompiled; use == with or_()")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required:
                binds.append((position, bind.key, process))
                template.append(None)
            else:
                value = bind.effective_value
                template.append(process(value) if process is not None else value)
        self._template = tuple(template)
        self._binds = tuple(binds)
        columns = list(getattr(statement, "exported_columns", ()))
        self.keys = tuple(str(column.key) for column in columns)
        processors = (
            (index, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for index, column in enumerate(columns)
        )
        self._results = tuple((index, p) for index, p in processors if p is not None)

    # NULL stays None without calling a processor, as every type in our schema (and
    # SQLAlchemy's own) maps it; most of an action's date-time columns are NULL, and each
    # processor call is several Python frames.

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        out = list(self._template)
        for position, name, process in self._binds:
            value = values[name]
            out[position] = value if process is None or value is None else process(value)
        return out

    def values(self, raw: Sequence[Any]) -> list[Any]:
        """A driver row, processed: the values SQLAlchemy would give, in column order."""
        out = list(raw)
        for index, process in self._results:
            value = out[index]
            if value is not None:
                out[index] = process(value)
        return out

    def row(self, raw: Sequence[Any]) -> Row:
        return dict(zip(self.keys, self.values(raw), strict=True))


class _CoreTransaction:
    """The portable implementation: an ordinary SQLAlchemy connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        row = self._conn.execute(statement, dict(params)).first()
        return None if row is None else dict(row._mapping)

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        row = self._conn.execute(statement, dict(params)).first()
        return None if row is None else list(row)

    def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        self._conn.execute(statement, dict(params))


@contextmanager
def portable(writing: AbstractContextManager[Connection]) -> Iterator[WriteTransaction]:
    """A `WriteTransaction` over `Database.writing()`, for any database."""
    with writing as conn:
        yield _CoreTransaction(conn)


class _HeldTransaction:
    """BEGIN IMMEDIATE ... COMMIT on a held connection, running prepared statements on
    that connection's cursor. One small object per decision: it is its own context
    manager and its own `WriteTransaction`, since every object and frame shows at this
    rate (see the module docstring)."""

    __slots__ = ("_cursor", "_held", "_label", "_owner")

    def __init__(self, owner: HeldConnections, label: str) -> None:
        self._owner = owner
        self._label = label

    def __enter__(self) -> WriteTransaction:
        try:
            held, cursor = self._owner.checkout()
        except BaseException as error:
            self._raise_translated(error)
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            self._owner.release(held, cursor, healthy=_rollback(cursor))
            self._raise_translated(error)
        self._held = held
        self._cursor = cursor
        return self

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
            self._owner.release(self._held, cursor, healthy=healthy)

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        prepared = self._owner.prepared(statement)
        rows = self._cursor.execute(prepared.sql, prepared.parameters(params)).fetchall()
        # Drained (fetchall), so the statement is done before COMMIT.
        return prepared.row(rows[0]) if rows else None

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        prepared = self._owner.prepared(statement)
        rows = self._cursor.execute(prepared.sql, prepared.parameters(params)).fetchall()
        return prepared.values(rows[0]) if rows else None

    def run(self, statement: Executable, params: Mapping[str, Any]) -> None:
        prepared = self._owner.prepared(statement)
        self._cursor.execute(prepared.sql, prepared.parameters(params))

    def _raise_translated(self, error: BaseException) -> NoReturn:
        """Raise `error` as `Database.writing()` would: driver errors become StorageError
        or DatabaseBusy with one clear line; everything else is raised unchanged."""
        dbapi_error = self._owner.dbapi_error
        with translated(self._label):
            if isinstance(error, dbapi_error):
                raise exc.DBAPIError.instance(None, None, error, dbapi_error) from error
            raise error


class HeldConnections:
    """SQLite write connections kept checked out of the engine's pool, each with its
    cursor, so a decision pays neither pool checkout nor reset-on-return nor a new cursor.
    They come from `engine.raw_connection()`, so the engine's connect hooks (pragmas,
    transaction control) have run on them. At most `keep` idle ones are held; extra ones
    (more concurrent writers) go back to the pool."""

    _CACHE_LIMIT = 128  # statements are module-level constants; this only bounds misuse

    def __init__(self, engine: Engine, *, keep: int = 2) -> None:
        self._engine = engine
        self._keep = keep
        self._idle: list[tuple[PoolProxiedConnection, Any]] = []
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

    def checkout(self) -> tuple[PoolProxiedConnection, Any]:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        held = self._engine.raw_connection()
        try:
            return held, held.dbapi_connection.cursor()  # type: ignore[union-attr]
        except BaseException:
            held.invalidate()
            raise

    def release(self, held: PoolProxiedConnection, cursor: Any, *, healthy: bool) -> None:
        if healthy:
            with self._lock:
                if not self._closed and len(self._idle) < self._keep:
                    self._idle.append((held, cursor))
                    return
        cursor.close()
        if not healthy:
            held.invalidate()  # never reuse a connection whose state is unknown
            return
        held.close()  # back to the engine's pool

    def close(self) -> None:
        with self._lock:
            self._closed = True  # a transaction still running returns its connection
            idle, self._idle = self._idle, []
        for held, cursor in idle:
            cursor.close()
            held.close()


def _rollback(cursor: Any) -> bool:
    """Roll back after a failure; False when even that failed (the connection is suspect)."""
    try:
        if cursor.connection.in_transaction:
            cursor.execute("ROLLBACK")
    except Exception:
        return False
    return True
