"""Date-times stored as text: SQLAlchemy's SQLite form, naive UTC, as HomelabCmd writes
it ("2026-11-27 10:02:00.000000"). Written and read fast: a decision binds its moment
twice and reads it back once (see sqlite/prepared.py). Plain Python, so the console's
first-window read shares the reader without SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homelab_approvals.domain.damaged import DamagedTime

__all__ = ["remember_stored", "sqlite_text", "utc_from_stored"]


def sqlite_text(value: datetime | None) -> str | None:
    """An aware datetime in SQLAlchemy's SQLite text form, naive UTC, as HomelabCmd
    writes it: "2026-11-27 10:02:00.000000"."""
    global _last_text, _last_stored
    last = _last_text
    if value is last[0]:
        return last[1]  # a decision binds its moment twice: the action's and the event's
    if value is None:
        return None
    zone = value.tzinfo
    if zone is UTC:
        utc = value
    elif zone is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
    else:
        utc = value.astimezone(UTC)
    # isoformat(" ", "microseconds") without its "+00:00" took 13k instructions, 5% of
    # a decision (valgrind). "YYYY-MM-DD HH:MM:" changes once a minute, so it is kept
    # with the minute it names; the rest is a lookup and one int-to-str.
    minute = _minute
    if not minute[0] <= utc < minute[1]:
        minute = _minute_of(utc)
    text = minute[2] + _SECONDS[utc.second] + str(utc.microsecond + 1_000_000)[1:]
    _last_text = (value, text)  # datetimes are immutable: same object, same text
    # And a decision reads it back at once: remember_stored(text, utc), inlined (this
    # runs once per decision, where a frame shows).
    if type(utc) is datetime and not utc.fold:  # (its tzinfo is UTC, as remember_stored asks)
        _last_stored = (text, utc)
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
    if type(value) is str:
        # Naive UTC as stored ("2026-11-27 10:02:00.000000"): one parse, with the offset
        # added. Text with an offset of its own (or no date-time) fails here, and a bare
        # date reads as naive: both go the general way below.
        try:
            aware = datetime.fromisoformat(value + "+00:00")
        except ValueError:
            pass
        else:
            if aware.tzinfo is UTC:
                return aware
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
