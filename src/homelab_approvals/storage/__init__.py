"""Storage layer: engines, pragmas, schema and paths. The only home of dialect-specific SQL.

The names below are loaded on first use (PEP 562): they bring in SQLAlchemy, which the
console's first screen does without (see first_window.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from homelab_approvals.storage.database import Database, open_database
    from homelab_approvals.storage.prepared import WriteTransaction

__all__ = ["Database", "WriteTransaction", "open_database"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from homelab_approvals.storage.database import Database, open_database
        from homelab_approvals.storage.prepared import WriteTransaction

        loaded = {
            "Database": Database,
            "WriteTransaction": WriteTransaction,
            "open_database": open_database,
        }
        globals().update(loaded)  # later lookups skip this function
        return loaded[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
