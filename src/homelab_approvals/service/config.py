"""The TOML config file: who may decide. A missing file means the defaults."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from homelab_approvals.domain import validation
from homelab_approvals.domain.errors import ConfigError, ValidationError
from homelab_approvals.service.policy import Policy

_KEYS = {"approvers", "allow_self_approval"}


def load_policy(path: Path) -> Policy:
    """Read `path`; a missing file gives the default Policy. Any mistake is a ConfigError
    naming the key and the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Policy()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
    except ValueError as error:  # a NUL byte in the path
        raise ConfigError(f"not a valid config file path: {str(path)!r}") from error
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from error
    return parse_policy(data, path)


def parse_policy(data: dict[str, Any], path: Path) -> Policy:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        known = ", ".join(sorted(_KEYS))
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known keys: {known})")
    approvers: frozenset[str] | None = None
    if "approvers" in data:
        value = data["approvers"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{path}: 'approvers' must be a list of names, e.g. [\"alice\"]")
        try:
            approvers = frozenset(validation.actor(v) for v in value)
        except ValidationError as error:
            raise ConfigError(f"{path}: 'approvers': {error.message}") from error
    allow_self = data.get("allow_self_approval", True)
    if not isinstance(allow_self, bool):
        raise ConfigError(f"{path}: 'allow_self_approval' must be true or false")
    return Policy(approvers=approvers, allow_self_approval=allow_self)
