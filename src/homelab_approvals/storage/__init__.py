"""Storage layer: engines, pragmas, schema and paths. The only home of dialect-specific SQL."""

from homelab_approvals.storage.database import Database, open_database
from homelab_approvals.storage.prepared import WriteTransaction

__all__ = ["Database", "WriteTransaction", "open_database"]
