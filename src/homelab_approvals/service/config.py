"""The TOML config file: one typed model of the whole file, read with bounds.

A missing file means the defaults. Every mistake is one ConfigError naming the file and
the key (`executor.sudo`, say): unknown keys and wrong types are refused, never ignored,
so a typo cannot silently drop the approvers list. msgspec does the checking; it imports
in a few milliseconds, which matters for a CLI started once per decision on a Pi.

Where the file lives, and reading its bytes with bounds, is config_file.py's (light
enough for the CLI's fast decision, which loads this module only when the file says
something).
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import msgspec

from homelab_approvals.domain import validation
from homelab_approvals.domain.durations import Duration, parse_duration
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.errors import ConfigError, ValidationError
from homelab_approvals.service.config_file import (
    APP_NAME,
    CONFIG_ENV,
    MAX_CONFIG_BYTES,
    default_config_path,
    is_blank,
    read_bounded,
    resolve_config_path,
)
from homelab_approvals.service.policy import Expiry, Policy, TypeRule
from homelab_approvals.service.preview_settings import PreviewSettings

__all__ = [
    "APP_NAME",
    "CONFIG_ENV",
    "MAX_CONFIG_BYTES",
    "Config",
    "default_config_path",
    "load_config",
    "resolve_config_path",
]


class ActorName(str):
    """A person's name in the config: trimmed and checked like `--operator`."""


class DurationText(str):
    """A duration as written: `90s`, `30m`, `24h`, `7d`."""


# Every table of the file is a Struct declared with frozen=True, forbid_unknown_fields=True
# (keys it does not know are refused) and kw_only=True.


class ExecutorConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[executor]`: how approved actions are carried out over SSH."""

    #: An ssh_config file for `ssh -F`; without it ssh's own defaults apply.
    ssh_config: str | None = None
    #: Which commands get `sudo -n`: apt ones (as HomelabCmd does), all, or none.
    sudo: Literal["apt", "always", "never"] = "apt"


class ExpiryConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[expiry]`: without it (or a key of it) nothing expires."""

    #: A pending action older than this is rejected by "expiry".
    pending: DurationText | None = None
    #: An approved action not started within this fails, and is never run.
    approved: DurationText | None = None


class RuleConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[rules.TYPE]`: what deciding one action type takes."""

    #: Distinct people needed to approve it.
    approvals: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1
    #: Narrows `approvers` for this type.
    approvers: list[ActorName] | None = None

    def __post_init__(self) -> None:
        if self.approvers is not None and len(set(self.approvers)) < self.approvals:
            raise ValueError(
                f"needs {self.approvals} approvals but names only "
                f"{len(set(self.approvers))} approvers"
            )


NoticeName = Literal["pending", "failed", "expired"]
NOTICE_KINDS: tuple[NoticeName, ...] = ("pending", "failed", "expired")


class NotifyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[[notify]]`: one webhook target."""

    url: str
    format: Literal["ntfy", "slack", "json"]
    on: list[NoticeName] = msgspec.field(default_factory=lambda: list(NOTICE_KINDS))

    def __post_init__(self) -> None:
        # urllib would open file:// and ftp:// too: only a web address is a target.
        scheme, _, rest = self.url.partition("://")
        if scheme.lower() not in ("http", "https") or not rest.split("/", 1)[0]:
            raise ValueError("url must be an http:// or https:// address")


class PreviewConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[preview]`: dry-run previews of pending actions, and binding approvals to them."""

    #: Take previews at all (the executor daemon and `homelab-approvals preview`).
    enabled: bool = True
    #: A plan that grew since the approval stops the run; false: recorded and shown only.
    bind: bool = True
    #: Seconds after which a pending action's preview is taken again.
    max_age: Annotated[int, msgspec.Meta(ge=1)] = 900
    #: Seconds a probe may take; unattended-upgrade's dry run downloads, so it has its own.
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    security_timeout: Annotated[float, msgspec.Meta(gt=0)] = 300.0

    @property
    def settings(self) -> PreviewSettings:
        return PreviewSettings(
            enabled=self.enabled,
            bind=self.bind,
            max_age=timedelta(seconds=self.max_age),
            timeout=self.timeout,
            security_timeout=self.security_timeout,
        )


class Config(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The whole file. A new table is a Struct like ExecutorConfig, added here as a field
    with a default, so a file without it means what it meant before."""

    #: When set, only these people may approve, reject or cancel.
    approvers: list[ActorName] | None = None
    #: When false, nobody approves an action they created (rejecting is fine).
    allow_self_approval: bool = True
    executor: ExecutorConfig = msgspec.field(default_factory=ExecutorConfig)
    preview: PreviewConfig = msgspec.field(default_factory=PreviewConfig)
    expiry: ExpiryConfig = msgspec.field(default_factory=ExpiryConfig)
    #: Per action type; the keys are action types, anything else is refused.
    rules: dict[ActionType, RuleConfig] = msgspec.field(default_factory=dict)
    notify: list[NotifyConfig] = msgspec.field(default_factory=list)
    #: Ring the terminal bell in the console when a new action starts waiting.
    bell: bool = False
    #: `[keys]`: the console's binding ids to keys (`approve = "y"`). Which ids exist is
    #: the console's to say (tui/keymap.py checks them, and the keys, before it starts).
    keys: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        approvers = None if self.approvers is None else frozenset(self.approvers)
        rules = {
            kind.value: TypeRule(
                approvals=rule.approvals,
                approvers=None if rule.approvers is None else frozenset(rule.approvers),
            )
            for kind, rule in self.rules.items()
        }
        expiry = Expiry(
            pending=_duration(self.expiry.pending), approved=_duration(self.expiry.approved)
        )
        return Policy(
            approvers=approvers,
            allow_self_approval=self.allow_self_approval,
            rules=MappingProxyType(rules),
            expiry=expiry,
        )


def _duration(text: str | None) -> Duration | None:
    return None if text is None else parse_duration(text)


def load_config(path: Path) -> Config:
    """Read `path`; a missing file gives the defaults. Any mistake is a ConfigError."""
    raw = read_bounded(path)
    return Config() if raw is None else config_from_bytes(raw, path)


def config_from_bytes(raw: bytes, path: Path) -> Config:
    """The config the file at `path` holds, given its bytes (read_bounded's)."""
    if is_blank(raw):
        return Config()  # what tomllib and msgspec make of it, without their work
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from error
    except RecursionError as error:
        raise ConfigError(f"{path}: not valid TOML (nested too deeply)") from error
    return parse_config(data, path)


def load_policy(path: Path) -> Policy:
    return load_config(path).policy


def parse_config(data: dict[str, Any], path: Path) -> Config:
    try:
        return msgspec.convert(data, Config, dec_hook=_decode_custom)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{path}: {_explain(str(error))}") from error
    except RecursionError as error:
        raise ConfigError(f"{path}: nested too deeply") from error


def _decode_custom(kind: type, value: object) -> object:
    if kind is DurationText:
        if not isinstance(value, str):
            raise TypeError('must be a duration such as "24h"')
        try:
            return DurationText(parse_duration(value).text)
        except ValidationError as error:
            raise ValueError(error.message) from error
    if kind is ActorName:
        if not isinstance(value, str):
            raise TypeError('must be a list of names, e.g. ["alice"]')
        try:
            return ActorName(validation.actor(value))
        except ValidationError as error:
            raise ValueError(error.message) from error
    raise NotImplementedError(kind)


_AT = re.compile(r" - at (?:`key` in )?`\$(?P<path>[^`]*)`$")
_BOUND = re.compile(r"^Expected `int` (?P<bound>[<>]=? -?\d+)$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]*)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]*)`, got `(?P<got>[^`]*)`$")
_WANTS = {
    "array": "a list",
    "bool": "true or false",
    "int": "a whole number",
    "str": "a string",
    "object": "a table",
    "float": "a number",
}


def _explain(message: str) -> str:
    """msgspec's "Expected `bool`, got `str` - at `$.executor.sudo`" as one line a person
    reads: "'executor.sudo' must be true or false (got a string)"."""
    where = _AT.search(message)
    path = _dotted(where.group("path")) if where else ""
    problem = message[: where.start()] if where else message
    if unknown := _UNKNOWN.match(problem):
        key = ".".join(filter(None, [path, unknown.group("key")]))
        known = ", ".join(_known_keys(path)) or "none"
        return f"unknown key {key!r} (known keys here: {known})"
    if expected := _EXPECTED.match(problem):
        wants = " or ".join(_WANTS.get(w, w) for w in expected.group("want").split(" | "))
        wants = wants.replace(" or null", "")
        got = _WANTS.get(expected.group("got"), expected.group("got"))
        if path == "approvers":  # the one list a newcomer writes as a string
            wants = 'a list of names, e.g. ["alice"]'
        return f"{path!r} must be {wants} (got {got})"
    if bound := _BOUND.match(problem):
        return f"{path!r} must be a whole number {bound.group('bound')}"
    if problem.startswith("Invalid enum value") and " - at `key` in " in message:
        # A table keyed by action type ([rules.TYPE]) with a key that is none.
        choices = ", ".join(repr(kind.value) for kind in ActionType)
        key = problem[len("Invalid enum value ") :]
        return f"{path!r}: {key} is not an action type; choose one of {choices}"
    if problem.startswith("Invalid enum value"):
        choices = _choices(path)
        return f"{path!r}: {problem[len('Invalid enum value ') :]} is not one of {choices}"
    return f"{path!r}: {problem}"


def _dotted(msgspec_path: str) -> str:
    """`.notify[0].url` -> `notify.url`: list positions say nothing to the reader.
    msgspec writes a table key as `[...]`: [rules.TYPE], or [keys] (its keys are ids)."""
    keyed = msgspec_path.replace("[...]", ".ID" if msgspec_path.startswith(".keys") else ".TYPE")
    return re.sub(r"\[[^\]]*\]", "", keyed).lstrip(".")


def _field_type(path: str) -> Any:
    kind: Any = Config
    for part in filter(None, path.split(".")):
        if get_origin(kind) is dict:  # this part is one of its keys
            kind = get_args(kind)[-1]
        else:
            kind = get_type_hints(kind).get(part) if isinstance(kind, type) else None
        while get_origin(kind) not in (None, Literal, dict):
            kind = next(a for a in get_args(kind) if a is not type(None))
    return kind


def _known_keys(path: str) -> list[str]:
    kind = _field_type(path)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return sorted(kind.__struct_fields__)
    return []


def _choices(path: str) -> str:
    return ", ".join(repr(choice) for choice in get_args(_field_type(path)))
