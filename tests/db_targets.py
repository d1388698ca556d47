"""Where a test's fresh database is: a SQLite file or a PostgreSQL database (the `db_target`
fixture, tests/conftest.py), and how to open it, name it to the CLI, or look inside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from homelab_approvals.storage import Database, open_database


@dataclass
class DbTarget:
    """Where a test's fresh database is: a SQLite file or a PostgreSQL URL."""

    backend: str
    path: Path | None = None
    url: str | None = None
    #: PostgreSQL's engine for `execute`, kept: a connection costs tens of ms there.
    _engine: Any = field(default=None, repr=False, compare=False)

    @property
    def location(self) -> str:
        """What `open_database` and the CLI take: a path, or a URL."""
        return str(self.path) if self.path is not None else str(self.url)

    @property
    def cli_args(self) -> list[str]:
        return (
            ["--db", str(self.path)] if self.path is not None else ["--database-url", str(self.url)]
        )

    def open(self, **options: Any) -> Database:
        if self.path is not None:
            return open_database(self.path, **options)
        return open_database(url=self.url, **options)

    def _engine_url(self) -> str:
        if self.path is not None:
            return f"sqlite:///{self.path}"
        return str(self.url).replace("postgresql://", "postgresql+psycopg://", 1)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """One committed transaction. On SQLite a new engine each time, so no connection
        of ours stays open on the file between calls."""
        from sqlalchemy import create_engine

        if self.path is not None:
            engine = create_engine(self._engine_url())
            try:
                with engine.begin() as conn:
                    yield conn
            finally:
                engine.dispose()
            return
        if self._engine is None:
            self._engine = create_engine(self._engine_url())
        with self._engine.begin() as conn:
            yield conn

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def execute(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Plain SQL on a connection of its own, committed (as another tool would write):
        rows in states the service cannot reach, or a look at what was stored."""
        from sqlalchemy import text

        with self._connection() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(row) for row in result] if result.returns_rows else []

    def snapshot(self) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Every action and event row: equal before and after proves a call changed
        nothing."""
        return (
            self.execute("SELECT * FROM remediation_actions ORDER BY id"),
            self.execute("SELECT * FROM action_events ORDER BY id"),
        )

    def dump(self) -> list[Any]:
        """Every table and row (on SQLite, every schema object too): equal dumps mean
        nothing changed, not even a table created."""
        if self.path is not None:
            import sqlite3

            conn = sqlite3.connect(self.path)
            try:
                return list(conn.iterdump())
            finally:
                conn.close()
        tables = [
            name
            for (name,) in self.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name"
            )
        ]
        return [(name, self.execute(f'SELECT * FROM "{name}" ORDER BY 1')) for name in tables]

    def rows(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        """`execute`'s rows as dicts, each stored time in HomelabCmd's SQLite text form
        ("2026-11-27 10:02:00.000000"), so one assertion checks what either backend
        stored. Only a naive time (`timestamp without time zone`, naive UTC as HomelabCmd
        keeps it) is rendered so: anything else stays as read, and fails the assertion."""
        from sqlalchemy import text

        with self._connection() as conn:
            result = conn.execute(text(statement), params)
            return [
                {key: _as_stored_text(value) for key, value in row.items()}
                for row in result.mappings()
            ]


def _as_stored_text(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
