"""Input rules, written once. Each returns the normalised value or raises ValidationError."""

import re

from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.domain.text import has_control_chars

REASON_MAX = 1000
ACTOR_MAX = 50  # remediation_actions.approved_by / rejected_by / created_by are String(50)
UNIT_MAX = 255
SERVER_ID_MAX = 100
HOSTNAME_MAX = 255
DISPLAY_NAME_MAX = 255
SEARCH_MAX = 200

# systemd unit names: ASCII letters, digits and ":_.@-". A leading "-" would be read
# by systemctl as an option, so it is refused too.
_UNIT_NAME = re.compile(r"[A-Za-z0-9:_.@][A-Za-z0-9:_.@-]*")
_SERVER_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
_HOSTNAME = re.compile(r"[A-Za-z0-9_.:-]+")


# Lone surrogates: what Python makes of bytes that are not UTF-8 in argv or the
# environment (surrogateescape). No database can store them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _printable(value: str, what: str, *, max_len: int, allow_empty: bool = False) -> str:
    # Printable ASCII (most names) has neither control characters nor surrogates: two
    # C-level checks instead of two regex scans, on every decision.
    if not (value.isascii() and value.isprintable()):
        if has_control_chars(value):
            raise ValidationError(f"{what} must not contain control characters")
        if _SURROGATE.search(value):
            raise ValidationError(f"{what} must be valid UTF-8 text")
    trimmed = value.strip()
    if not trimmed and not allow_empty:
        raise ValidationError(f"{what} is required")
    if len(trimmed) > max_len:
        raise ValidationError(f"{what} must be at most {max_len} characters")
    return trimmed


def rejection_reason(value: str | None) -> str:
    """Trimmed, 1-1000 characters, no control characters."""
    if value is None:
        raise ValidationError("a rejection reason is required")
    return _printable(value, "the rejection reason", max_len=REASON_MAX)


def actor(value: str | None) -> str:
    if value is None:
        raise ValidationError("an operator name is required")
    return _printable(value, "the operator name", max_len=ACTOR_MAX)


def unit_name(value: str | None) -> str:
    if value is None or not value:
        raise ValidationError("restart_service needs a service name (--service)")
    if len(value) > UNIT_MAX or not _UNIT_NAME.fullmatch(value):
        raise ValidationError(
            "the service name must be a systemd unit name: letters, digits and ':_.@-', "
            f"not starting with '-', at most {UNIT_MAX} characters"
        )
    return value


def server_id(value: str) -> str:
    if len(value) > SERVER_ID_MAX or not _SERVER_ID.fullmatch(value):
        raise ValidationError(
            "the server id must be a slug: lowercase letters, digits and '-', "
            f"at most {SERVER_ID_MAX} characters"
        )
    return value


def server_ref(value: str) -> str:
    """A server id used to look a server up. HomelabCmd's ids need not be our slugs, so
    only what no database could hold is refused."""
    if _SURROGATE.search(value):
        raise ValidationError("the server id must be valid UTF-8 text")
    return value


def hostname(value: str) -> str:
    if len(value) > HOSTNAME_MAX or not _HOSTNAME.fullmatch(value):
        raise ValidationError(
            f"the hostname must be letters, digits and '_.:-', at most {HOSTNAME_MAX} characters"
        )
    return value


def display_name(value: str | None) -> str | None:
    if value is None:
        return None
    trimmed = _printable(value, "the display name", max_len=DISPLAY_NAME_MAX, allow_empty=True)
    return trimmed or None


def search_text(value: str | None) -> str | None:
    """Free-text filter: trimmed; empty means no filter."""
    if value is None:
        return None
    trimmed = _printable(value, "the search text", max_len=SEARCH_MAX, allow_empty=True)
    return trimmed or None


def action_id(value: int) -> int:
    # SQLite integers are signed 64-bit; anything outside cannot name a row.
    if not 1 <= value <= 2**63 - 1:
        raise ValidationError(f"an action id must be a positive integer, got {value}")
    return value


_DIGEST = re.compile(r"[0-9a-f]{64}")


def plan_digest(value: str) -> str:
    """A preview's digest as `show` prints it: 64 lowercase hex digits (SHA-256)."""
    clean = value.strip().lower()
    if not _DIGEST.fullmatch(clean):
        raise ValidationError(
            "a preview digest is 64 hex digits, as 'show ID --json' prints it under preview.digest"
        )
    return clean
