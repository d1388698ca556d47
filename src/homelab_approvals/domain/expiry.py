"""What an expiry leaves in HomelabCmd's columns, written by the service's sweeper."""

#: The actor of an expiry: `rejected_by` of a stale pending action, and its events' actor.
EXPIRY_ACTOR = "expiry"
#: A stale approval becomes `failed` with these, exactly as a cancel does with its own.
EXPIRED_EXIT_CODE = -1
EXPIRED_STDERR = "approval expired before it ran"


def pending_reason(limit: str) -> str:
    return f"expired: pending for more than {limit}"


def approved_reason(limit: str) -> str:
    return f"expired: approved but not started within {limit}"
