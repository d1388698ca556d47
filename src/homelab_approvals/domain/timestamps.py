"""Moments: the one clock, and the one way a moment is shown to people."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_text(moment: datetime, *, seconds: bool = False, zone: bool = True) -> str:
    """ "2026-11-27 10:02 UTC": how the CLI, the console and the service's messages show
    a moment to people. `zone=False` where a column heading already says UTC."""
    shown = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{shown} UTC" if zone else shown
