"""Where a test's fresh database is: a SQLite file or a PostgreSQL database (the `db_target`
fixture, tests/conftest.py), and how to open it, name it to the CLI, or look inside it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homelab_approvals.storage import Database, open_database


@dataclass
class DbTarget:
    """Where a test's fresh database is: a SQLite file or a PostgreSQL URL."""

    backend: str
    path: Path | None = None
    url: str | None = None

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

    def execute(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Plain SQL on a connection of its own, committed (as another tool would write):
        rows in states the service cannot reach, or a look at what was stored."""
        from sqlalchemy import create_engine, text

        if self.path is not None:
            engine = create_engine(f"sqlite:///{self.path}")
        else:
            engine = create_engine(
                str(self.url).replace("postgresql://", "postgresql+psycopg://", 1)
            )
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()
