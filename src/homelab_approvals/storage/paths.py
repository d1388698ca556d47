"""Where the database lives by default (platformdirs), and how the user overrides it.
The config file's place is the service's business (service/config.py)."""

import os
from pathlib import Path

APP_NAME = "homelab-approvals"
DB_ENV = "HOMELAB_APPROVALS_DB"


def default_db_path() -> Path:
    from platformdirs import user_data_path  # a few ms: only when no path was given

    return user_data_path(APP_NAME, appauthor=False) / "approvals.db"


def expand_user_path(value: str) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~nosuchuser/...": left as typed, so the error names it
        return Path(value)


def resolve_db_path(cli_value: str | None) -> Path:
    """--db wins, then $HOMELAB_APPROVALS_DB, then the per-user data dir."""
    chosen = cli_value or os.environ.get(DB_ENV) or None
    return expand_user_path(chosen) if chosen else default_db_path()
