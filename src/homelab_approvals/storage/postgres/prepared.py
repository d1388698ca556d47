"""A decision's statements on PostgreSQL with less Python per statement.

Why this exists (cProfile, and `benchmarks/run.py --only-pg`, 2 shared cores, the server
on the same host): a decision is BEGIN, the conditional UPDATE, the row read back, the
event INSERT and COMMIT, five round trips. Plain psycopg running that transaction spent
about 210-270 µs of the client's CPU on it; through `Connection.execute` the service spent
470-850 µs, and reached 0.41-0.69 of psycopg's rate. SQLAlchemy's share was about 100 µs
per statement (execution context, `construct_params`, result metadata that has psycopg
build a `Column` for each of the read-back's 21 columns, events) plus the Connection,
its begin and commit, and the pool's checkout and check-in with their events and reset.

So here each statement is compiled once by SQLAlchemy for the engine's own dialect: the
SQL text is the very text SQLAlchemy's ordinary execution sends (casts, IN lists,
`RETURNING` included), with the same bind and result type processors, run through
generated code. It runs on a psycopg connection of the engine's pool that is kept
checked out with its cursor, in psycopg's own transaction (BEGIN with the first
statement, COMMIT; READ COMMITTED as before). psycopg prepares a statement on the server
after a few executions, as it did under SQLAlchemy. Errors become the domain's by
SQLSTATE (errors.py), as on the ordinary path. That leaves the service about 60-100 µs of
CPU above plain psycopg per decision, its own rules and view included.

The statements stay SQLAlchemy Core expressions written by the service; only their
execution is short-circuited. `PostgresBackend(precompiled=False)` runs them the ordinary
way (storage/transaction.py); tests/test_postgres_prepared.py checks both agree, and that
each statement sends SQLAlchemy's SQL and parameters.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn

from sqlalchemy import Engine, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from homelab_approvals.domain.damaged import stored_text
from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.storage.backend import Row, WriteTransaction
from homelab_approvals.storage.postgres.errors import translate

_Process = Callable[[Any], Any]


class PreparedStatement:
    """A Core statement compiled once for a named-parameter dialect (psycopg's pyformat):
    its SQL with IN lists of constants already expanded, its constants already processed,
    and only the named `bindparam()` values looked up (and processed) per call.

    `parameters` and `values` are generated per statement, each one display (as
    `collections.namedtuple` generates code): a loop over the binds and processors cost
    twice as much."""

    __slots__ = ("keys", "parameters", "sql", "values")

    #: `parameters(values: Mapping[str, Any]) -> dict[str, Any]`: the driver's parameters.
    parameters: Callable[[Mapping[str, Any]], dict[str, Any]]
    #: `values(raw: Sequence[Any]) -> list[Any]`: a driver row, processed: the values
    #: SQLAlchemy would give, in column order.
    values: Callable[[Sequence[Any]], list[Any]]

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a Core statement: {statement!r}")
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positional:
            raise ValueError(f"{dialect.name} does not use named parameters")
        binds = {name: compiled.binds[name] for name in compiled.bind_names.values()}
        per_call = {name for name, bind in binds.items() if bind.required}
        for name in per_call:
            if binds[name].expanding or binds[name] in compiled.literal_execute_params:
                raise ValueError(
                    f"{name!r} changes the SQL per call: only IN (...) of constants can be "
                    "precompiled"
                )
        # SQLAlchemy's own expansion (IN lists, literal_execute), as its execution does it;
        # the per-call values are placeholders here, never rendered into the SQL.
        expanded = compiled.construct_expanded_state({binds[name].key: None for name in per_call})
        unescaped = {escaped: name for name, escaped in compiled.escaped_bind_names.items()}
        bound = _Generated("{", "}")
        for escaped, value in expanded.parameters.items():
            name = unescaped.get(escaped, escaped)
            bind = binds.get(name)
            if bind is not None:
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            else:  # one value of an expanded IN list: SQLAlchemy named it
                process = expanded.processors.get(escaped)
            key = bound.name(escaped)
            if name in per_call:
                # NULL stays None without calling a processor, as every type in our
                # schema (and SQLAlchemy's own) maps it.
                bound.add(f"values[{bound.name(str(binds[name].key))}]", process, key=key)
            else:
                constant = process(value) if process and value is not None else value
                bound.add(bound.name(constant), key=key)
        self.sql: str = expanded.statement
        self.parameters = bound.function("values")
        columns = list(getattr(statement, "exported_columns", ()))
        self.keys = tuple(str(column.key) for column in columns)
        read = _Generated("[", "]")
        for index, column in enumerate(columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is stored_text:  # text as is: no call for the common case
                read.add(
                    f"(_x if (_x := raw[{index}]).__class__ is str else {read.name(process)}(_x))"
                )
            else:
                read.add(f"raw[{index}]", process)
        self.values = read.function("raw")

    def row(self, raw: Sequence[Any]) -> Row:
        return dict(zip(self.keys, self.values(raw), strict=True))


class PreparedWrites:
    """Write transactions running prepared statements on connections checked out of the
    engine's pool and kept, each with its cursor and its transaction object, so a
    decision pays neither pool checkout nor check-in (their events, reset and locks cost
    a few per cent of a decision). Before each use a kept connection is looked at as the
    pool's checkout does (opening.py): one the server has closed is dropped and replaced.
    At most `keep` idle ones are kept; extra ones (more concurrent writers) go back."""

    _CACHE_LIMIT = 128  # statements are module-level constants; this only bounds misuse

    def __init__(self, engine: Engine, label: str, *, keep: int = 2) -> None:
        self._engine = engine
        self._label = label
        self._keep = keep
        # No lock: list.pop() and list.append() are atomic, and release() checks
        # `_closed` after appending, so close() never misses a connection.
        self._idle: list[_Transaction] = []
        self._closed = False
        #: Keyed by the statement object itself: Core statements hash and compare by
        #: identity, and the service builds its statements once, at import.
        self.cache: dict[Executable, PreparedStatement] = {}
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def transaction(self) -> _Transaction:
        """An idle kept connection's transaction, or one on a connection from the pool."""
        idle = self._idle
        while True:
            try:
                tx = idle.pop()
            except IndexError:
                break
            if closed_by_server(tx.driver):
                tx.close(healthy=False)
                continue
            return tx
        try:
            pooled = self._engine.raw_connection()
        except BaseException as error:
            self.raise_translated(error)
        try:
            return _Transaction(self, pooled)
        except BaseException as error:
            pooled.invalidate()
            self.raise_translated(error)

    def release(self, tx: _Transaction, *, healthy: bool = True) -> None:
        idle = self._idle
        if healthy and len(idle) < self._keep:  # may overshoot by a racing thread or two
            idle.append(tx)
            if self._closed:
                self._close_idle()  # close() ran meanwhile
            return
        tx.close(healthy=healthy)

    def prepared(self, statement: Executable) -> PreparedStatement:
        hit = self.cache.get(statement)
        if hit is not None:
            return hit
        prepared = PreparedStatement(statement, self._engine.dialect)
        if len(self.cache) >= self._CACHE_LIMIT:
            self.cache = {}  # a new dict: a thread reading the old one is not disturbed
        self.cache[statement] = prepared
        return prepared

    def raise_translated(self, error: BaseException) -> NoReturn:
        """Raise `error` as `Database.writing()` would: driver errors become the domain's
        errors with one clear line; everything else is raised unchanged."""
        mapped = None if isinstance(error, ApprovalsError) else translate(error, self._label)
        if mapped is None:
            raise error
        raise mapped from error

    def close(self) -> None:
        self._closed = True  # a transaction still running closes its connection itself
        self._close_idle()

    def _close_idle(self) -> None:
        while True:
            try:
                tx = self._idle.pop()
            except IndexError:
                return
            tx.close()


class _Transaction:
    """One transaction at a time on a kept connection's psycopg connection: psycopg's
    own (BEGIN with the first statement, COMMIT or ROLLBACK at the end). It is its own
    context manager and its own `WriteTransaction`."""

    __slots__ = ("_cursor", "_owner", "_pooled", "driver")

    def __init__(self, owner: PreparedWrites, pooled: PoolProxiedConnection) -> None:
        self._owner = owner
        self._pooled = pooled
        driver = pooled.driver_connection
        if driver is None:  # cannot be: a checked-out connection has one
            raise exc.DisconnectionError("the pooled connection has no driver connection")
        self.driver: Any = driver
        self._cursor = driver.cursor()

    def __enter__(self) -> WriteTransaction:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if error is None:
            try:
                self.driver.commit()
            except BaseException as failure:
                self._release_after_failure()
                self._owner.raise_translated(failure)
            self._owner.release(self)
            return
        self._release_after_failure()
        if isinstance(error, self._owner.dbapi_error | exc.SQLAlchemyError):
            self._owner.raise_translated(error)
        # Anything else (a refusal from the service, KeyboardInterrupt) propagates as is.

    # Each looks its statement up inline: a method call per statement shows at this rate.

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        owner = self._owner
        prepared = owner.cache.get(statement) or owner.prepared(statement)
        row = self._cursor.execute(prepared.sql, prepared.parameters(params)).fetchone()
        return None if row is None else prepared.row(row)

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        owner = self._owner
        prepared = owner.cache.get(statement) or owner.prepared(statement)
        row = self._cursor.execute(prepared.sql, prepared.parameters(params)).fetchone()
        return None if row is None else prepared.values(row)

    def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        owner = self._owner
        prepared = owner.cache.get(statement) or owner.prepared(statement)
        return int(self._cursor.execute(prepared.sql, prepared.parameters(params)).rowcount)

    def _release_after_failure(self) -> None:
        """Roll back and keep the connection; one that cannot even roll back (the server
        went away) is dropped, never reused."""
        healthy = False
        try:
            self.driver.rollback()
            healthy = not self.driver.closed
        except Exception:
            pass
        finally:
            self._owner.release(self, healthy=healthy)

    def close(self, *, healthy: bool = True) -> None:
        if healthy:
            self._cursor.close()
            self._pooled.close()  # back to the engine's pool
        else:
            self._pooled.invalidate()  # never reuse a connection in an unknown state


def closed_by_server(conn: Any) -> bool:
    """Whether an idle psycopg connection was closed: by us, or by the server (a restart,
    an idle timeout), whose end of the socket is then readable while we sent nothing. No
    round trip: a ping would cost a fifth of a decision."""
    if conn.closed:
        return True
    poller = select.poll()  # no descriptor of its own, unlike epoll: a few µs
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _Generated:
    """Builds `def f(argument): return [item, ...]` (or `{key: item, ...}`) for
    PreparedStatement. Only identifiers and integer indexes are written into the source;
    every value (a constant, a parameter's name, a processor) is passed in by name, never
    as text."""

    def __init__(self, opening: str, closing: str) -> None:
        self._brackets = opening, closing
        self._items: list[str] = []
        self._namespace: dict[str, Any] = {}

    def name(self, value: Any) -> str:
        """A name in the generated function's namespace for `value`."""
        name = f"_v{len(self._namespace)}"
        self._namespace[name] = value
        return name

    def add(
        self, expression: str, process: _Process | None = None, *, key: str | None = None
    ) -> None:
        """An item: `expression`, through `process` unless it is None; `key` (a name from
        `name()`) makes it a dict entry."""
        if process is not None:
            expression = f"(None if (_x := {expression}) is None else {self.name(process)}(_x))"
        self._items.append(expression if key is None else f"{key}: {expression}")

    def function(self, argument: str) -> Any:
        opening, closing = self._brackets
        body = f"{opening}{', '.join(self._items)}{closing}"
        source = f"def generated({argument}):\n    return {body}\n"
        exec(compile(source, "<prepared statement>", "exec"), self._namespace)
        return self._namespace["generated"]
