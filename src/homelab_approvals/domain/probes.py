"""The read-only probes a preview runs: a fixed whitelist per action type.

Like the commands themselves (domain/commands.py), a probe is worked out again from the
action type and the validated unit name every time, never read from a row."""

from dataclasses import dataclass
from enum import StrEnum

from homelab_approvals.domain.commands import APT_UPGRADE_OPTIONS
from homelab_approvals.domain.enums import PLAN_BOUND_TYPES, ActionType

#: The properties a unit probe asks for. LoadState tells an unknown unit from a stopped one.
UNIT_PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "NRestarts")
UNIT_SINCE = "ActiveEnterTimestamp"


class ProbeKind(StrEnum):
    APT_SIMULATION = "apt_simulation"
    UNATTENDED_DRY_RUN = "unattended_dry_run"
    UNIT_STATE = "unit_state"
    JOURNAL_USAGE = "journal_usage"


@dataclass(frozen=True, slots=True)
class Probe:
    kind: ProbeKind
    #: The command sent, as one argument after `--`, exactly as for an execution.
    command: str
    #: True: run under the same sudo rule as the action's real command (it needs root).
    privileged: bool = False
    #: True: may take minutes (unattended-upgrade downloads into apt's cache even in a
    #: dry run), so it gets its own, longer timeout.
    slow: bool = False
    #: True: a changed plan stops the run (apt). False: the preview only informs.
    binding: bool = False


def probe_for(action_type: ActionType | str, unit: str | None) -> Probe | None:
    """The probe for an action, or None (apt_update, or a type we do not know).
    `unit` must already be validated (domain/validation.unit_name)."""
    try:
        kind = ActionType(action_type)
    except ValueError:
        return None
    if kind is ActionType.APT_UPGRADE_ALL:
        # The simulation needs no root: it runs without sudo.
        command = f"apt-get -s dist-upgrade {APT_UPGRADE_OPTIONS}"
        return Probe(ProbeKind.APT_SIMULATION, command, binding=kind in PLAN_BOUND_TYPES)
    if kind is ActionType.APT_UPGRADE_SECURITY:
        return Probe(
            ProbeKind.UNATTENDED_DRY_RUN,
            "unattended-upgrade --dry-run -v",
            privileged=True,
            slow=True,
            binding=kind in PLAN_BOUND_TYPES,
        )
    if kind is ActionType.RESTART_SERVICE:
        if unit is None:
            return None
        properties = ",".join((*UNIT_PROPERTIES, UNIT_SINCE))
        return Probe(ProbeKind.UNIT_STATE, f"systemctl show {unit} -p {properties}")
    if kind is ActionType.CLEAR_LOGS:
        return Probe(ProbeKind.JOURNAL_USAGE, "journalctl --disk-usage")
    return None


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """What running a probe gave: its exit code (None when it never ran to an exit:
    timed out, or ssh could not be started), its whole output, and why it failed."""

    exit_code: int | None
    stdout: str
    stderr: str = ""
    #: ssh's or the transport's own words when the probe did not run to an exit.
    failure: str | None = None
