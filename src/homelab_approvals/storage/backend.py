"""The seam between the layers above and each database backend.

Everything that differs by backend is behind `Backend`: how a write transaction begins,
how a decision's statements run, the change token live refresh waits on, how driver
errors become the domain's errors, and the backend's own schema objects (triggers).
One object per open database (it holds the engine). Opening, and the console's fast
first-window read, are each backend's module functions, picked in backends.py, the one
module that chooses between backends.

A backend lives in its own subpackage (storage/sqlite/ today), with its SQL in its sql/
folder; nothing outside it names its dialect.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.sql.expression import Executable

    from homelab_approvals.domain.errors import ApprovalsError

Row = dict[str, Any]


class WriteTransaction(Protocol):
    """One write transaction running Core statements: a decision's statements, as the
    service writes them, whichever backend runs them."""

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        """Run a statement that returns rows (SELECT, or DML with RETURNING); the first
        row as a plain dict keyed by column name, or None."""
        ...

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        """Like `first`, but the row's values in the statement's column order: what a
        hot path builds a view from positionally, without a dict in between."""
        ...

    def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        """Run a statement for its effect; the number of rows it changed (the driver's
        rowcount: for a conditional UPDATE, whether it matched)."""
        ...


class Backend(Protocol):
    """What one open database does its own way. `Database` (database.py) is the same for
    every backend and calls these."""

    #: Shown in messages ("not a SQLite database") and in `homelab-approvals --version`.
    name: str

    def begin_write(self) -> AbstractContextManager[Connection]:
        """A connection in a transaction that holds the right to write from its start
        (SQLite: BEGIN IMMEDIATE), so concurrent writers queue instead of failing."""
        ...

    def write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """`begin_write()` for the decision hot path, running Core statements."""
        ...

    def change_token(self, *, fresh: bool = False) -> object:
        """A value that changes whenever anyone commits. Cheap to call often. `fresh`:
        every commit that completed before the call is counted for certain, even one
        whose news is still on its way (PostgreSQL: a round trip to the server first);
        without it such a commit may show a moment later (SQLite's always shows)."""
        ...

    def change_signal(self) -> int | None:
        """A file descriptor that becomes readable when `change_token()` may have moved
        (PostgreSQL's listening socket), so a watcher can wake at once instead of at its
        next poll; None when there is none (SQLite, or not listening)."""
        ...

    def translate(self, error: BaseException, label: str) -> ApprovalsError | None:
        """A driver error as the domain's error, one clear line; None if `error` is not
        a database error (it then propagates as is)."""
        ...

    def lock_schema(self, conn: Connection) -> None:
        """Within `begin_write()`'s transaction: keep other processes from creating the
        schema at the same time (SQLite's write lock already does)."""
        ...

    def schema_objects_to_create(
        self, conn: Connection, *, complete: bool
    ) -> tuple[list[str], list[str]]:
        """Our backend-specific schema objects (the audit trail's triggers) to create or
        restore, by name, and how those someone tampered with were found ("... was
        changed"; "... was removed" when the schema was `complete` before)."""
        ...

    def create_schema_objects(self, conn: Connection, names: list[str]) -> None:
        """(Re)create those objects, inside `begin_write()`'s transaction."""
        ...

    def ids_follow_on(self, conn: Connection, tables: list[str]) -> None:
        """After rows were written with their ids (copy-to): new rows of these tables get
        ids after the highest one."""
        ...

    def close(self) -> None:
        """Release what the backend holds (held connections, watchers) and the engine."""
        ...
