"""Short write transactions from precompiled Core statements: the decision hot path.

Why this exists (profiled with pyinstrument and cProfile, see benchmarks/run.py): a
decision is one conditional UPDATE, reading the row back and one event INSERT. Through
`Connection.execute`, SQLAlchemy spent about 100-150 µs per statement on a 2-core machine
(execution context, `construct_params`, result metadata, events), plus a pool checkout,
reset-on-return and the BEGIN listener, while SQLite needs about 180 µs for the whole
transaction. So on SQLite the statements are compiled once with SQLAlchemy (same SQL, same
type processing) and run straight on a DBAPI cursor of a held, already-configured
connection. That took `approve` from 0.13 to about 0.3 of raw sqlite3's single-UPDATE
rate.

The rest was counted with valgrind (instructions per approve, benchmark database; the raw
single UPDATE is about 70k). Plain sqlite3 doing a decision's transaction needs about
167k: the UPDATE 70k, reading the 21-column row back by its primary key about 55k (SQLite's
RETURNING cost more: 75k for 19 columns), the event INSERT about 40k. The service needs
about 210k (280k before the changes listed here): its 43k on top are the date-times (the
clock, one bind, one parse: 16k), this module's transaction and statement plumbing (9k),
binding, converting and the view (10k), validation and the service's own frames (6k).
Hence: each held connection keeps its cursor and its transaction object, no lock on the
idle list, statements are looked up by identity inline, parameters and rows go through
generated code, and no processor runs for NULL. The event row's pages are the other half
of the gap to the single UPDATE: each commit writes about 5 WAL frames against its 3.

Later (issue 14, `approve_same_txn_ratio`: the service against plain sqlite3 running the
same transaction, 0.86 -> see the commit log): the row is read with the driver's own text
factory (ten Python calls a row, 16k instructions, went; text that is not UTF-8 is read
again the tolerant way), a text column's str skips `stored_text`, constants are written
into the SQL as literals (as sql/decisions.sql has them), and the service's hot path
lost a dozen frames. Plain sqlite3 doing the same transaction is about 180k instructions;
the service about 207k, from 237k.

The statements stay SQLAlchemy Core expressions written by the service; only their
execution is short-circuited here. Other backends run the same statement objects on an
ordinary connection (storage/transaction.py); tests/test_storage_prepared.py checks that
both give the same results.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, NoReturn

from sqlalchemy import Engine, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from homelab_approvals.domain.damaged import stored_text, text_from_bytes
from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.storage.backend import Row, WriteTransaction
from homelab_approvals.storage.sqlite.errors import translate


class PreparedStatement:
    """A Core statement compiled once for a positional dialect, with its bind and result
    type processors resolved up front. Constants in the expression are processed once;
    only the named `bindparam()` values are looked up and processed per call.

    `parameters` and `values` are generated per statement, each one list display (as
    `collections.namedtuple` and `dataclasses` generate code): a loop over the binds and
    processors cost twice as much, about 2% of a decision."""

    __slots__ = ("keys", "parameters", "sql", "values")

    #: `parameters(values: Mapping[str, Any]) -> list[Any]`: the driver's parameter list.
    parameters: Callable[[Mapping[str, Any]], list[Any]]
    #: `values(raw: Sequence[Any]) -> list[Any]`: a driver row, processed: the values
    #: SQLAlchemy would give, in column order.
    values: Callable[[Sequence[Any]], list[Any]]

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a Core statement: {statement!r}")
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler) or compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not use positional parameters")
        sql = compiled.string
        # Per position: a constant, processed now, or a named parameter looked up (and
        # processed) per call. NULL stays None without calling a processor, as every type
        # in our schema (and SQLAlchemy's own) maps it: most of an action's date-time
        # columns are NULL, and a processor call is a Python frame or several.
        bound = _Generated()
        literals = _literals(compiled, dialect)
        if literals is not None:
            sql, positions = literals
        else:
            positions = [(name, None) for name in compiled.positiontup]
        for name, literal in positions:
            if literal is not None:
                continue  # a constant, in the SQL itself
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.expanding:
                # `in_([...])` of constants: SQLAlchemy renders its list per call; here it
                # is rendered once, one placeholder per value, each value processed now.
                sql, constants = _expanded(sql, name, bind, dialect)
                for value in constants:
                    bound.add(bound.name(process(value) if process is not None else value))
                continue
            if bind.required:
                bound.add(f"values[{bound.name(bind.key)}]", process)
            else:
                value = bind.effective_value
                bound.add(bound.name(process(value) if process is not None else value))
        self.sql = sql
        self.parameters = bound.function("values")
        columns = list(getattr(statement, "exported_columns", ()))
        self.keys = tuple(str(column.key) for column in columns)
        read = _Generated()
        for index, column in enumerate(columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            read.add(f"raw[{index}]", process)
        self.values = read.function("raw")

    def row(self, raw: Sequence[Any]) -> Row:
        return dict(zip(self.keys, self.values(raw), strict=True))


class _HeldTransaction:
    """BEGIN IMMEDIATE ... COMMIT on one held connection, running prepared statements on
    its cursor. It is its own context manager and its own `WriteTransaction`, and it is
    kept with its connection for the next decision: every object and frame shows at this
    rate (see the module docstring)."""

    __slots__ = ("_connection", "_cursor", "_owner")

    def __init__(self, owner: HeldConnections, connection: PoolProxiedConnection) -> None:
        self._owner = owner
        self._connection = connection
        self._cursor = connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        # The driver's own text factory (C), not the pool's tolerant one: a decision's row
        # has ten text values, and a Python call each showed in the profile. Text that is
        # not UTF-8 makes the fetch fail, and it is read again the tolerant way (_lenient).
        self._cursor.connection.text_factory = str

    def __enter__(self) -> WriteTransaction:
        try:
            self._cursor.execute("BEGIN IMMEDIATE")
        except BaseException as error:
            self._release_after_failure()
            self._owner.raise_translated(error)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if error is None:
            try:
                self._cursor.execute("COMMIT")
            except BaseException as failure:
                self._release_after_failure()
                self._owner.raise_translated(failure)
            # `self._owner.release(self)`, inlined (same module): a frame per decision.
            owner = self._owner
            idle = owner._idle
            if len(idle) < owner._keep:
                idle.append(self)
                if owner._closed:
                    owner._close_idle()  # close() ran meanwhile
                return
            self.close()
            return
        self._release_after_failure()
        if isinstance(error, self._owner.dbapi_error | exc.SQLAlchemyError):
            self._owner.raise_translated(error)
        # Anything else (a refusal from the service, KeyboardInterrupt) propagates as is.

    # Each looks its statement up inline (`cache.get(...) or prepared(...)`): a method
    # call per statement showed in the profile.

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        owner = self._owner
        prepared = owner.cache.get(statement) or owner.prepared(statement)
        try:
            rows = self._cursor.execute(prepared.sql, prepared.parameters(params)).fetchall()
        except sqlite3.OperationalError as error:
            rows = self._lenient(prepared, params, error)
        # Drained (fetchall), so the statement is done before COMMIT.
        return prepared.row(rows[0]) if rows else None

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        owner = self._owner
        prepared = owner.cache.get(statement) or owner.prepared(statement)
        try:
            rows = self._cursor.execute(prepared.sql, prepared.parameters(params)).fetchall()
        except sqlite3.OperationalError as error:
            rows = self._lenient(prepared, params, error)
        return prepared.values(rows[0]) if rows else None

    def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        owner = self._owner
        prepared = owner.cache.get(statement) or owner.prepared(statement)
        count: int = self._cursor.execute(prepared.sql, prepared.parameters(params)).rowcount
        return count

    def _lenient(
        self, prepared: PreparedStatement, params: Mapping[str, Any], error: Exception
    ) -> list[Any]:
        """The rows again, read with the tolerant text factory, when the fetch failed
        because a text value is not UTF-8: what every other connection reads (a marked
        `DamagedText`). Any other error is raised as it is. Reading again is harmless: the
        statement only reads, under this transaction's lock."""
        if not _undecodable(error):
            raise error
        connection = self._cursor.connection
        connection.text_factory = text_from_bytes
        try:
            rows: list[Any] = self._cursor.execute(
                prepared.sql, prepared.parameters(params)
            ).fetchall()
        finally:
            connection.text_factory = str
        return rows

    def _release_after_failure(self) -> None:
        healthy = False
        try:
            healthy = _rollback(self._cursor)
        finally:
            self._owner.release(self, healthy=healthy)

    def close(self, *, healthy: bool = True) -> None:
        connection = self._cursor.connection
        self._cursor.close()
        if healthy:
            connection.text_factory = text_from_bytes  # as the pool's connections read
            self._connection.close()  # back to the engine's pool
        else:
            self._connection.invalidate()  # never reuse a connection in an unknown state


class HeldConnections:
    """SQLite write connections kept checked out of the engine's pool, each with its
    cursor and its transaction object, so a decision pays neither pool checkout nor
    reset-on-return nor a new cursor. They come from `engine.raw_connection()`, so the
    engine's connect hooks (pragmas, transaction control) have run on them. At most `keep`
    idle ones are held; extra ones (more concurrent writers) go back to the pool."""

    _CACHE_LIMIT = 128  # statements are module-level constants; this only bounds misuse

    def __init__(self, engine: Engine, label: str, *, keep: int = 2) -> None:
        self._engine = engine
        self._label = label
        self._keep = keep
        # No lock: list.pop() and list.append() are atomic, and release() checks
        # `_closed` after appending, so close() never misses a connection (a lock here
        # showed in the profile).
        self._idle: list[_HeldTransaction] = []
        self._closed = False
        #: Keyed by the statement object itself: Core statements hash and compare by
        #: identity, and the service builds its statements once, at import.
        self.cache: dict[Executable, PreparedStatement] = {}
        self.dbapi_error: type[Exception] = engine.dialect.loaded_dbapi.Error

    def transaction(self) -> AbstractContextManager[WriteTransaction]:
        """An idle held connection's transaction, or one on a new connection."""
        try:
            return self._idle.pop()
        except IndexError:
            pass
        try:
            connection = self._engine.raw_connection()
        except BaseException as error:
            self.raise_translated(error)
        try:
            return _HeldTransaction(self, connection)
        except BaseException as error:
            connection.invalidate()
            self.raise_translated(error)

    def release(self, tx: _HeldTransaction, *, healthy: bool = True) -> None:
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
        """Raise `error` as `Database.writing()` would: driver errors become StorageError
        or DatabaseBusy with one clear line; everything else is raised unchanged."""
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


def _expanded(sql: str, name: str, bind: Any, dialect: Dialect) -> tuple[str, list[Any]]:
    """`sql` with IN (...) of the expanding parameter `name` rendered as placeholders, and
    the list's values."""
    values = bind.effective_value
    if bind.required or not isinstance(values, list | tuple) or not values:
        raise ValueError("only IN (...) of a non-empty list of constants can be precompiled")
    if dialect.paramstyle != "qmark":
        raise ValueError(f"{dialect.name}'s parameter style {dialect.paramstyle} is not qmark")
    token = f"__[POSTCOMPILE_{name}]"
    if sql.count(token) != 1:
        raise ValueError(f"cannot find the list {name!r} in {sql!r}")
    return sql.replace(token, ", ".join("?" * len(values))), list(values)


def _literals(
    compiled: SQLCompiler, dialect: Dialect
) -> tuple[str, list[tuple[str, str | None]]] | None:
    """The SQL with its text and integer constants written in as literals, as
    scripts/render_fast_sql.py writes them for the CLI's decision (each constant bound
    instead was about half a percent of a decision), and per position its literal, or
    None where a parameter stays. None when that cannot be done surely: a "?" that is
    not a placeholder, or a list of constants (IN) that is not all text or integers."""
    names = compiled.positiontup or []
    plain = [name for name in names if not compiled.binds[name].expanding]
    pieces = compiled.string.split("?")
    if len(pieces) != len(plain) + 1:
        return None
    literal = {name: _literal(compiled.binds[name], dialect) for name in names}
    sql = pieces[0] + "".join(
        (literal[name] or "?") + after for name, after in zip(plain, pieces[1:], strict=True)
    )
    for name in names:
        if compiled.binds[name].expanding:
            token = f"__[POSTCOMPILE_{name}]"
            text = literal[name]
            if text is None or sql.count(token) != 1:
                return None
            sql = sql.replace(token, text)
    return sql, [(name, literal[name]) for name in names]


def _literal(bind: Any, dialect: Dialect) -> str | None:
    """A constant parameter (or IN list of them) as SQL text, when it is text or an
    integer that no bind processor changes; else None."""
    if bind.required:
        return None
    kind = bind.type.dialect_impl(dialect)
    process = kind.literal_processor(dialect)
    if process is None or kind.bind_processor(dialect) is not None:
        return None
    value = bind.effective_value
    values = value if bind.expanding else [value]
    if not isinstance(values, list | tuple) or not values:
        return None
    if not all(isinstance(v, str) or type(v) is int for v in values):  # (not bool)
        return None
    return ", ".join(str(process(v)) for v in values)


def _undecodable(error: Exception) -> bool:
    """The driver's own error for text that is not UTF-8 (sqlite3 raises it with no
    SQLite result code: SQLite itself did not fail)."""
    return getattr(error, "sqlite_errorcode", None) is None and str(error).startswith(
        "Could not decode to UTF-8"
    )


def _rollback(cursor: Any) -> bool:
    """Roll back after a failure; False when even that failed (the connection is suspect)."""
    try:
        if cursor.connection.in_transaction:
            cursor.execute("ROLLBACK")
    except Exception:
        return False
    return True


#: Result processors that return a str (or None) as it is: `StoredText`'s. A text column
#: nearly always holds text, and eight calls of `stored_text` per action row showed in the
#: profile, so the generated code passes a str by without the call.
_PASSES_TEXT: frozenset[Callable[[Any], Any]] = frozenset({stored_text})


class _Generated:
    """Builds `def f(argument): return [item, ...]` for PreparedStatement. Only
    identifiers and integer indexes are written into the source; every value (a constant,
    a parameter's name, a processor) is passed in by name, never as text."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._namespace: dict[str, Any] = {}

    def name(self, value: Any) -> str:
        """A name in the generated function's namespace for `value`."""
        name = f"_v{len(self._namespace)}"
        self._namespace[name] = value
        return name

    def add(self, expression: str, process: Callable[[Any], Any] | None = None) -> None:
        """`expression`, through `process` unless None (or a str, for a processor that
        returns text as it is: `_PASSES_TEXT`)."""
        if process is None:
            pass
        elif process in _PASSES_TEXT:
            # (Timed against a check of the row's values all at once in C: map(type, ...)
            # over an itemgetter's tuple cost more than this test per value.)
            text = self.name(str)
            expression = (
                f"(_x if (_x := {expression}).__class__ is {text} or _x is None"
                f" else {self.name(process)}(_x))"
            )
        else:
            expression = f"(None if (_x := {expression}) is None else {self.name(process)}(_x))"
        self._items.append(expression)

    def function(self, argument: str) -> Any:
        source = f"def generated({argument}):\n    return [{', '.join(self._items)}]\n"
        exec(compile(source, "<prepared statement>", "exec"), self._namespace)
        return self._namespace["generated"]
