"""The whitelist of shell commands. Nothing but a validated unit name reaches a command."""

from homelab_approvals.domain.enums import ActionType

#: The `-o` options of the real upgrade, shared with its dry-run probe (domain/probes.py),
#: so the simulation resolves exactly as the run will.
APT_UPGRADE_OPTIONS = (
    '-o Dpkg::Options::="--force-confdef" -o Dpkg::Options::="--force-confold"'
    " -o APT::Sandbox::User=root"
)

_FIXED_COMMANDS: dict[ActionType, str] = {
    ActionType.CLEAR_LOGS: "journalctl --vacuum-time=7d",
    ActionType.APT_UPDATE: (
        "DEBIAN_FRONTEND=noninteractive apt-get update -q -o APT::Sandbox::User=root"
    ),
    ActionType.APT_UPGRADE_ALL: (
        f"DEBIAN_FRONTEND=noninteractive apt-get dist-upgrade -q -y {APT_UPGRADE_OPTIONS}"
    ),
    # unattended-upgrade applies only the security origins configured on the host,
    # and keeps existing config files, so it is the safe fixed choice here.
    ActionType.APT_UPGRADE_SECURITY: ("DEBIAN_FRONTEND=noninteractive unattended-upgrade -v"),
}


def command_for(action_type: ActionType, unit: str | None) -> str:
    """The exact command for an action. `unit` must already be validated."""
    if action_type is ActionType.RESTART_SERVICE:
        if unit is None:
            raise ValueError("restart_service needs a unit")
        return f"systemctl restart {unit}"
    return _FIXED_COMMANDS[action_type]
