"""Storage layer: the one home of SQL, tables and everything that differs by database.

backend.py is the seam (what each backend does its own way), database.py the open
database every layer above holds, backends.py the one module that picks a backend, and
each backend lives in its own subpackage (sqlite/). See ARCHITECTURE.md.

The names below are loaded on first use (PEP 562): they bring in SQLAlchemy, which the
console's first screen does without (see first_window.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from homelab_approvals.storage.backend import WriteTransaction
    from homelab_approvals.storage.backends import open_database
    from homelab_approvals.storage.database import Database

__all__ = ["Database", "WriteTransaction", "open_database"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from homelab_approvals.storage.backend import WriteTransaction
        from homelab_approvals.storage.backends import open_database
        from homelab_approvals.storage.database import Database

        loaded = {
            "Database": Database,
            "WriteTransaction": WriteTransaction,
            "open_database": open_database,
        }
        globals().update(loaded)  # later lookups skip this function
        return loaded[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
