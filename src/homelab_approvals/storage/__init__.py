"""Storage layer: engines, pragmas, schema and paths. The only home of dialect-specific SQL."""

from homelab_approvals.storage.database import Database, open_database

__all__ = ["Database", "open_database"]
