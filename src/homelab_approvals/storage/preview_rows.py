"""A stored preview as read: plain Python, no SQLAlchemy, so the CLI's fast decision
(storage/sqlite/fast_decision.py) hands one back too. previews.py holds the tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PreviewRow:
    id: int
    action_id: int
    taken_at: datetime
    probe_command: str
    exit_code: int | None
    output: str | None
    error: str | None
    plan: str | None
    digest: str | None
