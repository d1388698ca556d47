"""What an executor may send, and how a run's outcome is worded. Pure rules, no I/O.

The whitelist is re-derived at run time from the action's type and its validated unit
name (domain/commands.py), so a row edited by hand is never sent."""

from __future__ import annotations

import re
from enum import StrEnum

from homelab_approvals.domain import validation
from homelab_approvals.domain.commands import command_for
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.errors import ValidationError

#: stdout and stderr are each stored as at most this many characters (HomelabCmd's limit).
OUTPUT_LIMIT = 10_000
#: What HomelabCmd stores as exit_code when no exit status exists (an exception, a cancel).
NO_EXIT_CODE = -1
DEFAULT_TIMEOUT_S = 300.0  # HomelabCmd's figure
DEFAULT_LEASE_S = 60.0
DEFAULT_CONCURRENCY = 4

NOT_WHITELISTED = "not run: the command does not match the whitelist for its action type"
CHANGED_AFTER_APPROVAL = "not run: the command changed after it was approved"

# HomelabCmd's apt_upgrade_security form: `apt-get install -y pkg1 pkg2 ...` (its own
# builder), optionally with DEBIAN_FRONTEND and -q. Package names as Debian policy §5.6.1
# defines them: lowercase letters, digits, '+', '-', '.', at least two characters,
# starting with a letter or digit.
_DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_APT_INSTALL = re.compile(
    r"(?:DEBIAN_FRONTEND=noninteractive )?apt-get install(?: -y| -q| --only-upgrade)*"
    r"((?: \S+)+)"
)
# HomelabCmd's own rule (apt-get or apt), plus unattended-upgrade: our security upgrade
# runs it, and like apt it needs root.
_APT_WORDS = re.compile(r"\bapt-get\b|\bapt\b|\bunattended-upgrade\b")


class SudoMode(StrEnum):
    """Which commands get `sudo -n` in front (config key executor.sudo)."""

    APT = "apt"  # as HomelabCmd: only apt commands
    ALWAYS = "always"
    NEVER = "never"


def whitelisted(action_type: str, service_name: str | None, command: str) -> bool:
    """Does `command` equal what `action_type` (with its unit) stands for?"""
    try:
        kind = ActionType(action_type)
    except ValueError:
        return False
    if kind is ActionType.RESTART_SERVICE:
        try:
            unit = validation.unit_name(service_name)
        except ValidationError:
            return False
        return command == command_for(kind, unit)
    if command == command_for(kind, None):
        return True
    return kind is ActionType.APT_UPGRADE_SECURITY and _is_apt_install(command)


def _is_apt_install(command: str) -> bool:
    match = _APT_INSTALL.fullmatch(command)
    if match is None:
        return False
    packages = match.group(1).split()
    return all(_DEBIAN_PACKAGE.fullmatch(name) for name in packages)


def refusal(
    action_type: str, service_name: str | None, command: str, approved_command: str | None
) -> str | None:
    """Why this command must not be sent, or None when it may. `approved_command` is what
    the approval event recorded (None for approvals recorded before it was kept)."""
    if not whitelisted(action_type, service_name, command):
        return NOT_WHITELISTED
    if approved_command is not None and approved_command != command:
        return CHANGED_AFTER_APPROVAL
    return None


def remote_command(command: str, sudo: SudoMode) -> str:
    """The text sent to the server: `sudo -n` (never a password prompt) when the mode
    says so. HomelabCmd prefixes sudo when the command mentions apt-get or apt; the
    "apt" mode also covers unattended-upgrade, the security upgrade's command."""
    if sudo is SudoMode.ALWAYS or (sudo is SudoMode.APT and _APT_WORDS.search(command)):
        return f"sudo -n {command}"
    return command


def kept_output(raw: bytes, total_bytes: int | None = None) -> str | None:
    """Output as stored: decoded with replacement, empty as NULL, at most OUTPUT_LIMIT
    characters. `raw` is the end of the output, `total_bytes` how much there was in all.
    When cut, the end is kept (apt and systemctl say what went wrong last) and the first
    line says so."""
    total = len(raw) if total_bytes is None else total_bytes
    text = raw.decode("utf-8", "replace")
    if not text and not total:
        return None
    if len(text) <= OUTPUT_LIMIT and total == len(raw):
        return text
    note = ""
    for _ in range(2):  # the note's own length decides how much fits beside it
        keep = min(OUTPUT_LIMIT - len(note), len(text))
        note = f"[output cut: only the last {keep:,} characters of {total:,} bytes are kept]\n"
    return note + text[len(text) - keep :]


def timed_out(seconds: float) -> str:
    return f"timed out after {seconds:g} s"


def outcome_unknown(executor: str) -> str:
    return f"outcome unknown: executor {executor} stopped during the run"


# A destination or login from the database is passed to ssh as one argument after `--`,
# so it cannot become an option; these keep it to what a host name or account can be.
_DESTINATION = re.compile(r"[A-Za-z0-9_.:%\[\]][A-Za-z0-9_.:%\[\]-]*")
_LOGIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def route_refusal(destination: str | None, login: str | None) -> str | None:
    """Why ssh must not be asked to go there, or None."""
    if not destination:
        return "not run: the server has no host name to connect to"
    if len(destination) > 255 or not _DESTINATION.fullmatch(destination):
        return f"not run: {destination!r} is not a host name or address"
    if login is not None and (len(login) > 255 or not _LOGIN.fullmatch(login)):
        return f"not run: {login!r} is not an account name (ssh_username)"
    return None
