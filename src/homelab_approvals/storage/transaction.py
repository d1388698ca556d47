"""A decision's statements on an ordinary SQLAlchemy connection: the way every backend
without a faster one of its own runs a `WriteTransaction` (SQLite precompiles them on a
held connection instead, sqlite/prepared.py; tests check both give the same results)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.expression import Executable

from homelab_approvals.storage.backend import Backend, Row, WriteTransaction
from homelab_approvals.storage.errors import translated


class CoreTransaction:
    """A `WriteTransaction` over one connection already in its transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        row = self._conn.execute(statement, dict(params)).first()
        return None if row is None else dict(row._mapping)

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        row = self._conn.execute(statement, dict(params)).first()
        return None if row is None else list(row)

    def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        return self._conn.execute(statement, dict(params)).rowcount


@contextmanager
def core_transaction(backend: Backend, label: str) -> Iterator[WriteTransaction]:
    """A `WriteTransaction` in the backend's `begin_write()`, its errors translated."""
    with translated(backend, label), backend.begin_write() as conn:
        yield CoreTransaction(conn)
