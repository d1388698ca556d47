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
    """A `WriteTransaction` over one connection already in its transaction.

    Each statement gets only the parameters it names, as on the precompiled path: given
    to an UPDATE or INSERT, a parameter named like a column it does not set (a shared
    `command`, say) would make SQLAlchemy set that column too."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def first(self, statement: Executable, params: Mapping[str, Any]) -> Row | None:
        row = self._conn.execute(statement, _named(statement, params)).first()
        return None if row is None else dict(row._mapping)

    def first_values(self, statement: Executable, params: Mapping[str, Any]) -> list[Any] | None:
        row = self._conn.execute(statement, _named(statement, params)).first()
        return None if row is None else list(row)

    def run(self, statement: Executable, params: Mapping[str, Any]) -> int:
        return self._conn.execute(statement, _named(statement, params)).rowcount


#: Statement -> the names of its parameters. Statements hash by identity and the service
#: builds them once, at import; the limit only bounds misuse.
_NAMES: dict[Executable, frozenset[str]] = {}
_NAMES_LIMIT = 256


def _named(statement: Executable, params: Mapping[str, Any]) -> dict[str, Any]:
    names = _NAMES.get(statement)
    if names is None:
        compiled = statement.compile()  # type: ignore[attr-defined]
        names = frozenset(bind.key for bind in compiled.binds.values() if bind.required)
        if len(_NAMES) >= _NAMES_LIMIT:
            _NAMES.clear()
        _NAMES[statement] = names
    return {key: value for key, value in params.items() if key in names}


@contextmanager
def core_transaction(backend: Backend, label: str) -> Iterator[WriteTransaction]:
    """A `WriteTransaction` in the backend's `begin_write()`, its errors translated."""
    with translated(backend, label), backend.begin_write() as conn:
        yield CoreTransaction(conn)
