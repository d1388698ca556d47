"""Stored values that cannot be read as what their column says: shown, marked, never fatal.

A hand-edited or corrupted row may hold bytes that are not UTF-8, a BLOB where text
belongs, or text that is no date-time. Such a value must not hide the rest of the queue
(one bad row used to make every list fail), so it is read as the nearest thing that can
be shown, and marked, so the CLI's JSON can tell scripts which fields are damaged:

- invalid UTF-8: decoded with U+FFFD for each bad byte (`DamagedText`);
- a BLOB in a text column: "⟨3 bytes⟩" (`DamagedText`);
- a date-time that cannot be parsed: a `DamagedTime`, keeping the stored text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class DamagedText(str):
    """Text shown in place of a stored value that was not valid text; `problem` says why."""

    problem: str

    def __new__(cls, shown: str, problem: str) -> DamagedText:
        text = super().__new__(cls, shown)
        text.problem = problem
        return text


class DamagedTime(datetime):
    """A date-time column whose stored value cannot be read. It is a datetime (the epoch)
    so code that compares or subtracts keeps working, but everything that shows a time
    shows `stored` instead (see `shown_moment`)."""

    stored: str
    problem: str

    @classmethod
    def of(cls, value: object) -> DamagedTime:
        moment = cls(1970, 1, 1, tzinfo=UTC)
        shown = stored_text(value) if isinstance(value, bytes | bytearray) else str(value)
        moment.stored = shown
        moment.problem = "not a date-time"
        return moment


def text_from_bytes(raw: bytes) -> str:
    """The SQLite driver's text factory: UTF-8, and never an error (a bad byte becomes
    U+FFFD, and the value is marked)."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return DamagedText(raw.decode("utf-8", "replace"), "invalid UTF-8")


def stored_text(value: Any) -> Any:
    """A text column's value as read: text as is; a BLOB as "⟨3 bytes⟩", marked."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        size = len(bytes(value))
        return DamagedText(f"\u27e8{size:,} byte{'' if size == 1 else 's'}\u27e9", "BLOB, not text")
    return str(value)  # a number SQLite kept as one: its text is what was meant


def problem_of(value: object) -> str | None:
    """Why `value` is damaged, or None when it was read as stored."""
    if isinstance(value, DamagedText | DamagedTime):
        return value.problem
    return None


def shown_moment(moment: datetime, layout: str) -> str:
    """`moment` in `layout` (strftime); a damaged one as its stored text, marked "⚠"."""
    if isinstance(moment, DamagedTime):
        return f"\u26a0{moment.stored}"
    return moment.strftime(layout)
