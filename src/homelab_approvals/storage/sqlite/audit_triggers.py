"""The audit trail's triggers (sql/triggers.sql) and how a stored one is compared with
ours. No SQLAlchemy: the CLI's fast decision (fast_decision.py) checks them too."""

from __future__ import annotations

from homelab_approvals.storage import sql_files

#: The audit trail's triggers, by name (sql/triggers.sql).
TRIGGERS = sql_files.load(__package__, "triggers.sql")


def normalised(sql: str | None) -> str:
    """A trigger's SQL as compared: white space collapsed, and SQLite drops the
    IF NOT EXISTS it was created with from what it stores."""
    words = " ".join((sql or "").split())
    return words.replace("CREATE TRIGGER IF NOT EXISTS ", "CREATE TRIGGER ", 1)


#: What an untouched trigger's stored SQL normalises to, by name.
EXPECTED = {name: normalised(sql) for name, sql in TRIGGERS.items()}
