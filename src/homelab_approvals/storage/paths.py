"""Where things live by default (platformdirs), and how the user overrides it."""

import os
from pathlib import Path

from platformdirs import user_config_path, user_data_path

APP_NAME = "homelab-approvals"
DB_ENV = "HOMELAB_APPROVALS_DB"
CONFIG_ENV = "HOMELAB_APPROVALS_CONFIG"


def default_db_path() -> Path:
    return user_data_path(APP_NAME, appauthor=False) / "approvals.db"


def default_config_path() -> Path:
    return user_config_path(APP_NAME, appauthor=False) / "config.toml"


def _expanded(value: str) -> Path:
    try:
        return Path(value).expanduser()
    except RuntimeError:  # "~nosuchuser/...": left as typed, so the error names it
        return Path(value)


def resolve_db_path(cli_value: str | None) -> Path:
    """--db wins, then $HOMELAB_APPROVALS_DB, then the per-user data dir."""
    chosen = cli_value or os.environ.get(DB_ENV) or None
    return _expanded(chosen) if chosen else default_db_path()


def resolve_config_path(cli_value: str | None) -> Path:
    chosen = cli_value or os.environ.get(CONFIG_ENV) or None
    return _expanded(chosen) if chosen else default_config_path()
