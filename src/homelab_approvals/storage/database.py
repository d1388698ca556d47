"""An open database, the same for every backend: what the service holds. What differs by
backend is behind `self.backend` (backend.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage.backend import Backend, WriteTransaction
from homelab_approvals.storage.errors import translated


@dataclass
class Database:
    """An open database. Thread-safe: each `reading()`/`writing()` checks out its own
    pooled connection."""

    engine: Engine
    label: str
    backend: Backend
    read_only: bool = False
    read_only_reason: str | None = None
    created: bool = False
    #: True when reading a fixed snapshot (a SQLite file opened immutable): changes made
    #: after opening show only after reopening.
    snapshot: bool = False
    #: Set when foreign keys are off for this database (SQLite), and why.
    foreign_keys_off_reason: str | None = None
    #: The audit triggers found changed or removed on open, and restored (issue 16): the
    #: CLI and the console say so; the trail itself records it.
    audit_repairs: list[str] = field(default_factory=list)
    #: The largest id its id columns hold: SQLite's 64-bit integer, PostgreSQL's 32-bit
    #: `integer` (HomelabCmd's type there). No row has a larger id, so a larger one is
    #: simply not found (on PostgreSQL, binding it would be an "out of range" error).
    largest_id: int = 2**63 - 1
    #: How to open this database afresh (after its file was replaced under it), if it can.
    reopen: Callable[[], Database] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.read_only and not self.read_only_reason:
            self.read_only_reason = "the database is open read-only"

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        with translated(self.backend, self.label), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One transaction that holds the right to write from its start, so concurrent
        writers queue (on SQLite's busy_timeout) instead of failing on lock upgrade."""
        self._refuse_if_read_only()
        with translated(self.backend, self.label), self.backend.begin_write() as conn:
            yield conn

    def write_transaction(self) -> AbstractContextManager[WriteTransaction]:
        """`writing()` for the decision hot path: the same one transaction, running Core
        statements the backend's fastest way (its errors already translated)."""
        if self.read_only:  # (tested here first: a call less on the decision hot path)
            self._refuse_if_read_only()
        return self.backend.write_transaction()

    def change_token(self, *, fresh: bool = False) -> object:
        """A value that changes whenever anyone commits. Cheap to call often. `fresh`:
        see Backend.change_token."""
        with translated(self.backend, self.label):
            return self.backend.change_token(fresh=fresh)

    def change_signal(self) -> int | None:
        """A descriptor that turns readable when the change token may have moved (see
        Backend.change_signal), or None: then only polling sees changes."""
        return self.backend.change_signal()

    def reopened(self) -> Database:
        """This database opened afresh: after the file was replaced under it
        (DatabaseReplaced). Never creates a file that has gone."""
        if self.reopen is None:
            raise StorageError(f"cannot reopen the database: {self.label}")
        return self.reopen()

    def close(self) -> None:
        self.backend.close()

    def _refuse_if_read_only(self) -> None:
        if self.read_only:
            why = self.read_only_reason
            raise StorageError(f"database is open read-only ({why}): {self.label}")
