"""Durations as the config file writes them: `90s`, `30m`, `24h`, `7d`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from homelab_approvals.domain.errors import ValidationError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_FORM = re.compile(r"([1-9][0-9]{0,5})([smhd])")


@dataclass(frozen=True, slots=True)
class Duration:
    #: As written ("24h"): what a reason or a message quotes back to the reader.
    text: str
    delta: timedelta

    def __str__(self) -> str:
        return self.text


def parse_duration(value: str) -> Duration:
    """`24h` -> Duration("24h", 24 hours). A whole number from 1 to 999999 and one unit."""
    match = _FORM.fullmatch(value.strip())
    if match is None:
        raise ValidationError(
            f"{value!r} is not a duration; write a whole number and s, m, h or d, e.g. 24h"
        )
    amount, unit = match.groups()
    return Duration(f"{amount}{unit}", timedelta(**{_UNITS[unit]: int(amount)}))


def in_words(delta: timedelta) -> str:
    """The rough size of a span for a person: "3h", "45m", "2d", "30s"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600}h"
    if seconds >= 120:
        return f"{seconds // 60}m"
    return f"{seconds}s"
