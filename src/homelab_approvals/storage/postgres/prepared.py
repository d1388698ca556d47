"""A decision's statements on PostgreSQL with less Python per statement.

Why this exists (cProfile and `benchmarks/run.py --only-pg`, 2-core machine, server on the
same host): a decision is BEGIN, the conditional UPDATE, the row read back, the event
INSERT and COMMIT, five round trips. Plain psycopg runs it in about 440 µs, 210 µs of
them the client's CPU; through `Connection.execute` the service took about 730 µs, 470 µs
of CPU. SQLAlchemy's share was about 100 µs per statement (execution context,
`construct_params`, result metadata that asks psycopg to build a `Column` per column of
the 21-column row, events) and about 40 µs per transaction (Connection, begin, commit).

So here each statement is compiled once by SQLAlchemy, for the engine's own dialect: the
SQL text is the very text SQLAlchemy's ordinary execution sends (casts, IN lists,
`RETURNING` included), and the bind and result type processors are the same ones. It runs
on the driver connection of a connection checked out of the engine's pool (its checkout
hook still drops a connection the server closed), in psycopg's own transaction: BEGIN
with the first statement, COMMIT at the end, READ COMMITTED as before. psycopg prepares a
statement on the server after a few executions, as it did for SQLAlchemy. Errors become
the domain's by SQLSTATE (errors.py) as on the ordinary path.

The statements stay SQLAlchemy Core expressions written by the service; only their
execution is short-circuited. `PostgresBackend(precompiled=False)` runs them the ordinary
way (storage/transaction.py), and tests/test_postgres_prepared.py checks both agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn

from sqlalchemy import Engine, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.storage.backend import Row, WriteTransaction
from homelab_approvals.storage.postgres.errors import translate

_Process = Callable[[Any], Any]


class PreparedStatement:
    """A Core statement compiled once for a named-parameter dialect (psycopg's pyformat):
    its SQL with IN lists of constants already expanded, its constants already processed,
    and only the named `bindparam()` values looked up (and processed) per call."""

    __slots__ = ("_constants", "_lookups", "_processed", "keys", "sql")

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
        constants: dict[str, Any] = {}
        lookups: list[tuple[str, str, _Process | None]] = []
        for escaped, value in expanded.parameters.items():
            name = unescaped.get(escaped, escaped)
            bind = binds.get(name)
            if bind is not None:
                process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            else:  # one value of an expanded IN list: SQLAlchemy named it
                process = expanded.processors.get(escaped)
            if name in per_call:
                lookups.append((escaped, str(binds[name].key), process))
            else:
                constants[escaped] = process(value) if process and value is not None else value
        self.sql: str = expanded.statement
        self._constants = constants
        self._lookups = tuple(lookups)
        columns = list(getattr(statement, "exported_columns", ()))
        self.keys = tuple(str(column.key) for column in columns)
        self._processed = tuple(
            (index, process)
            for index, column in enumerate(columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
            is not None
        )

    def parameters(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The driver's parameters: the constants, and `values`' named ones processed. A
        NULL stays None without calling a processor, as every type in our schema maps it."""
        bound = self._constants.copy()
        for name, key, process in self._lookups:
            value = values[key]
            bound[name] = value if process is None or value is None else process(value)
        return bound

    def values(self, raw: Sequence[Any]) -> list[Any]:
        """A driver row, processed: the values SQLAlchemy would give, in column order."""
        row = list(raw)
        for index, process in self._processed:
            value = row[index]
            if value is not None:
                row[index] = process(value)
        return row

    def row(self, raw: Sequence[Any]) -> Row:
        return dict(zip(self.keys, self.values(raw), strict=True))


class PreparedWrites:
    """Write transactions running prepared statements: one per decision, each on its own
    connection from the engine's pool."""

    _CACHE_LIMIT = 128  # statements are module-level constants; this only bounds misuse

    def __init__(self, engine: Engine, label: str) -> None:
        self._engine = engine
        self._label = label
        #: Keyed by the statement object itself: Core statements hash and compare by
        #: identity, and the service builds its statements once, at import.
        self.cache: dict[Executable, PreparedStatement] = {}
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def connection(self) -> PoolProxiedConnection:
        try:
            return self._engine.raw_connection()
        except BaseException as error:
            self.raise_translated(error)

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


class _Transaction:
    """One transaction on a pooled connection's psycopg connection: its own context
    manager and its own `WriteTransaction`."""

    __slots__ = ("_cursor", "_owner", "_pooled")

    def __init__(self, owner: PreparedWrites) -> None:
        self._owner = owner
        self._pooled: PoolProxiedConnection | None = None
        self._cursor: Any = None

    def __enter__(self) -> WriteTransaction:
        pooled = self._owner.connection()
        try:
            self._cursor = pooled.driver_connection.cursor()  # type: ignore[union-attr]
        except BaseException as error:
            pooled.invalidate()
            self._owner.raise_translated(error)
        self._pooled = pooled
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        pooled = self._pooled
        assert pooled is not None
        if error is None:
            try:
                pooled.driver_connection.commit()  # type: ignore[union-attr]
            except BaseException as failure:
                self._release_after_failure(pooled)
                self._owner.raise_translated(failure)
            self._cursor.close()
            pooled.close()  # back to the pool
            return
        self._release_after_failure(pooled)
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

    def _release_after_failure(self, pooled: PoolProxiedConnection) -> None:
        """Roll back and return the connection to the pool; a connection that cannot even
        roll back (the server went away) is dropped, never reused."""
        try:
            self._cursor.close()
            pooled.driver_connection.rollback()  # type: ignore[union-attr]
        except Exception:
            pooled.invalidate()
        else:
            pooled.close()
