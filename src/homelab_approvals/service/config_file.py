"""Where the config file lives, and its bytes, read with bounds. No msgspec, no tomllib,
no platformdirs unless the default place is asked for: the CLI's fast decision
(cli/fast.py) reads these before it knows whether the file says anything at all.
The file's meaning is config.py's."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from homelab_approvals.domain.errors import ConfigError
from homelab_approvals.storage.paths import expand_user_path

APP_NAME = "homelab-approvals"
CONFIG_ENV = "HOMELAB_APPROVALS_CONFIG"
#: A config file is a few lines; anything bigger is a mistake (or /dev/zero).
MAX_CONFIG_BYTES = 1024 * 1024
#: What a TOML file holding nothing but these has: no keys at all (tomllib reads {}).
_BLANK = frozenset(b" \t\n")


def default_config_path() -> Path:
    from platformdirs import user_config_path  # a few ms: only when no path was given

    return user_config_path(APP_NAME, appauthor=False) / "config.toml"


def resolve_config_path(cli_value: str | None) -> Path:
    """--config wins, then $HOMELAB_APPROVALS_CONFIG, then the per-user config dir."""
    chosen = cli_value or os.environ.get(CONFIG_ENV) or None
    return expand_user_path(chosen) if chosen else default_config_path()


def is_blank(raw: bytes) -> bool:
    """True when `raw` is TOML with no key at all: empty, or spaces, tabs and newlines
    only. Such a file means exactly what a missing one means (the defaults)."""
    return _BLANK.issuperset(raw)


def read_bounded(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist. Only a regular file of at most
    MAX_CONFIG_BYTES is read: a FIFO, a device or /dev/zero must not hang or fill memory.
    O_NONBLOCK makes opening a FIFO with no writer return at once."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
    except ValueError as error:  # a NUL byte in the path
        raise ConfigError(f"not a valid config file path: {str(path)!r}") from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"config file is not a regular file: {path}")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"config file is larger than 1 MiB: {path}")
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:  # it grew while we looked
        raise ConfigError(f"config file is larger than 1 MiB: {path}")
    return raw
