"""The vocabularies shared with HomelabCmd, stored as their string values."""

from enum import StrEnum


class ActionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"


class ActionType(StrEnum):
    RESTART_SERVICE = "restart_service"
    CLEAR_LOGS = "clear_logs"
    APT_UPDATE = "apt_update"
    APT_UPGRADE_ALL = "apt_upgrade_all"
    APT_UPGRADE_SECURITY = "apt_upgrade_security"


class SortOrder(StrEnum):
    """How a list of actions is ordered; the console's `s` key cycles these."""

    OLDEST = "oldest"
    NEWEST = "newest"
    SERVER = "server"
    ACTION = "action"

    def next(self) -> "SortOrder":
        members = list(SortOrder)
        return members[(members.index(self) + 1) % len(members)]


#: Types whose approval is bound to the plan its preview showed: their probe is binding
#: (domain/probes.py), so a grown plan stops the run.
PLAN_BOUND_TYPES = frozenset({ActionType.APT_UPGRADE_ALL, ActionType.APT_UPGRADE_SECURITY})
#: Statuses from which a decision (approve/reject) may be taken.
DECIDABLE = frozenset({ActionStatus.PENDING})
#: Statuses from which an action may be cancelled (as HomelabCmd's cancel endpoint).
CANCELLABLE = frozenset({ActionStatus.PENDING, ActionStatus.APPROVED})


#: What the CLI, the console and the audit trail say when the audit triggers were found
#: changed or removed on open, and restored (storage/schema.py).
AUDIT_RESTORED = "audit protection was altered and has been restored"
