"""What a command line's values mean: an action id, a count, a moment. Without argparse,
so the CLI's fast paths (cli/fast.py, cli/fast_reads.py) read them exactly as the parser
does (parser.py wraps each, with its words for a refusal). None: not such a value."""

from __future__ import annotations

from datetime import UTC, datetime

MAX_INT = 2**63 - 1  # SQLite integers are signed 64-bit


def _digits(text: str) -> int | None:
    # ASCII digits only: int() would also take "٤٢", "4_2", "+4" and " 4".
    return int(text) if text.isascii() and text.isdigit() else None


def action_id_of(text: str) -> int | None:
    """A positive 64-bit integer; `#42` (as the console shows ids) too."""
    value = _digits(text.removeprefix("#"))
    return value if value is not None and 1 <= value <= MAX_INT else None


def count_of(text: str) -> int | None:
    """A whole number from 0 (--limit, --offset)."""
    value = _digits(text)
    return value if value is not None and value <= MAX_INT else None


def since_of(text: str) -> datetime | None:
    """ISO 8601 with a UTC offset or Z, in UTC; None when it is no such time (or has no
    offset: an audit query must not depend on the local zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment.astimezone(UTC)
