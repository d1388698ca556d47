"""Column types that keep HomelabCmd's storage format while giving aware UTC datetimes."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from homelab_approvals.domain.damaged import DamagedTime, stored_text
from homelab_approvals.domain.timestamps import remember_stored, utc_from_stored, utcnow

__all__ = ["StoredLongText", "StoredText", "UTCDateTime", "utcnow"]


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime stored as naive UTC (SQLAlchemy's SQLite text form, as HomelabCmd writes it)
    and returned as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        utc = value.astimezone(UTC)
        # SQLite keeps no offset: store the naive UTC wall time, as HomelabCmd does.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            # One function instead of process_bind_param plus SQLAlchemy's formatter: a
            # decision binds a datetime twice, and that chain was a tenth of its Python
            # time (benchmarks/run.py). Same text, tests/test_storage_prepared.py checks.
            return _sqlite_text
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
    storage/database.py.)"""

    impl = String
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        return stored_text


class StoredLongText(StoredText):
    """`StoredText` for a TEXT column."""

    impl = Text
    cache_ok = True


def _sqlite_text(value: datetime | None) -> str | None:
    """An aware datetime in SQLAlchemy's SQLite text form, naive UTC, as HomelabCmd
    writes it: "2026-11-27 10:02:00.000000"."""
    global _last_text
    if value is None:
        return None
    last = _last_text
    if value is last[0]:
        return last[1]  # a decision binds its moment twice: the action's and the event's
    if value.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    # isoformat(" ", "microseconds") without its "+00:00" took 13k instructions, 5% of
    # a decision (valgrind). "YYYY-MM-DD HH:MM:" changes once a minute, so it is kept
    # with the minute it names; the rest is a lookup and one int-to-str.
    minute = _minute
    if not minute[0] <= utc < minute[1]:
        minute = _minute_of(utc)
    text = minute[2] + _SECONDS[utc.second] + str(utc.microsecond + 1_000_000)[1:]
    _last_text = (value, text)  # datetimes are immutable: same object, same text
    remember_stored(text, utc)  # and a decision reads it back at once (utc_from_stored)
    return text


def _minute_of(utc: datetime) -> tuple[datetime, datetime, str]:
    """(start, end, "YYYY-MM-DD HH:MM:") of the minute `utc` falls in, kept for the next
    call (one tuple: threads see a consistent triple)."""
    global _minute
    start = utc.replace(second=0, microsecond=0)
    end = start + _ONE_MINUTE if start < _LAST_MINUTE else _END_OF_TIME
    _minute = (start, end, start.isoformat(" ")[:17])
    return _minute


_last_text: tuple[datetime | None, str | None] = (None, None)
_SECONDS = tuple(f"{second:02d}." for second in range(60))
_ONE_MINUTE = timedelta(minutes=1)
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
_LAST_MINUTE = _END_OF_TIME.replace(second=0, microsecond=0)
_minute = (_LAST_MINUTE, _LAST_MINUTE, "")  # an empty range: the first call fills it
