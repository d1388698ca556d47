"""Column types that keep HomelabCmd's storage format while giving aware UTC datetimes.

SQLite keeps date-times as text, so there the text form and its fast readers come from
datetimes.py. Column types are per dialect by SQLAlchemy's design: this is the one module
outside a backend's subpackage that names one."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from homelab_approvals.domain.damaged import DamagedTime, stored_text
from homelab_approvals.storage.datetimes import sqlite_text, utc_from_stored

__all__ = ["StoredLongText", "StoredText", "UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime stored as naive UTC, as HomelabCmd stores it on every database (SQLite's
    text form; `timestamp without time zone` on PostgreSQL), and returned as an aware
    UTC datetime. Naive on the way in, so no server's TimeZone setting can shift it."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            # One function instead of process_bind_param plus SQLAlchemy's formatter: a
            # decision binds a datetime twice, and that chain was a tenth of its Python
            # time (benchmarks/run.py). Same text, tests/test_storage_prepared.py checks.
            return sqlite_text
        return super().bind_processor(dialect)

    def result_processor(
        self, dialect: Dialect, coltype: Any
    ) -> Callable[[Any], datetime | None] | None:
        if dialect.name == "sqlite":
            # The one reader of SQLite's text form, shared with the console's first-window
            # read (which runs before SQLAlchemy is imported): both give identical values.
            return utc_from_stored
        # A hand-edited row may hold text that is no date-time at all: it is kept, marked,
        # instead of a bare ValueError escaping the fetch and hiding every other row.
        inner = super().result_processor(dialect, coltype)
        if inner is None:
            return None
        parse = inner

        def process(value: Any) -> datetime | None:
            try:
                return parse(value)
            except (ValueError, TypeError):
                return DamagedTime.of(value)  # shown as stored, never hiding other rows

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None or isinstance(value, DamagedTime):
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class StoredText(TypeDecorator[str]):
    """A text column (VARCHAR, as HomelabCmd declares it) that reads a BLOB stored in it
    as "⟨3 bytes⟩", marked damaged, instead of handing bytes to code that expects text.
    (Bytes that are not UTF-8 are the driver's text factory's business, see
    storage/sqlite/opening.py.)"""

    impl = String
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        return stored_text


class StoredLongText(StoredText):
    """`StoredText` for a TEXT column."""

    impl = Text
    cache_ok = True
