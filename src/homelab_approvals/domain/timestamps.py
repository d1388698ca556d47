"""Datetimes as the database stores them, without SQLAlchemy: read by `UTCDateTime` and by
the console's first-window reader alike (storage/first_window.py), so both give the same
aware UTC values."""

from datetime import UTC, datetime

from homelab_approvals.domain.damaged import DamagedTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_from_stored(value: object) -> datetime | None:
    """A stored date-time (SQLAlchemy's SQLite text form, naive UTC as HomelabCmd writes
    it, or ISO 8601 with an offset) as an aware UTC datetime.

    A hand-edited row may hold text that is no date-time at all (or a BLOB, or bytes
    that are not UTF-8): that is a `DamagedTime` keeping what was stored, shown as such,
    never an error that would hide every other row."""
    if value is None:
        return None
    last_text, last_moment = _last_stored
    if value == last_text:
        return last_moment  # a decision reads back the moment it has just written
    try:
        moment = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return DamagedTime.of(value)
    if moment.tzinfo is None:
        # Naive UTC, as stored. Parsing again with the offset costs a quarter of
        # replace(tzinfo=UTC), which parses keyword arguments; this runs for every
        # date-time of every row read. (Python 3.11 reads a bare date plus an offset
        # as naive, hence the check.)
        aware = datetime.fromisoformat(value + "+00:00")  # type: ignore[operator]
        return aware if aware.tzinfo is UTC else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def remember_stored(text: str, moment: datetime) -> None:
    """Note that `moment` was just stored as `text`, so reading that text back gives
    `moment` without parsing it. Only exact UTC datetimes qualify: for those, parsing
    the text gives an equal datetime of the same type, fold and tzinfo."""
    global _last_stored
    if type(moment) is datetime and moment.tzinfo is UTC and not moment.fold:
        _last_stored = (text, moment)  # one tuple: threads see a consistent pair


_last_stored: tuple[str | None, datetime | None] = (None, None)
