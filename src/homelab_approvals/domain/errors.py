"""Typed errors. Each carries a stable `code` that the CLI maps to an exit status."""

from typing import ClassVar


class ApprovalsError(Exception):
    """Base class: a refusal or failure with a machine-readable code and a human message."""

    code: ClassVar[str] = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ActionNotFound(ApprovalsError):
    code = "NOT_FOUND"


class InvalidTransition(ApprovalsError):
    """Someone (or something) moved the action first; the message says who and when."""

    code = "CONFLICT"


class ConcurrentChange(InvalidTransition):
    """Another transaction changed the same rows at the same moment and the database gave
    up on this one (PostgreSQL's serialization failure or deadlock): nothing changed."""


class PlanChanged(InvalidTransition):
    """The action's plan is not the one the approver was shown (domain/plans.py)."""


class ValidationError(ApprovalsError):
    code = "VALIDATION_ERROR"


class PermissionDenied(ApprovalsError):
    code = "FORBIDDEN"


class StorageError(ApprovalsError):
    """The database could not be opened, read or written (locked, corrupt, read-only...)."""

    code = "DATABASE_ERROR"


class DatabaseBusy(StorageError):
    code = "DATABASE_BUSY"


class DatabaseUnreachable(StorageError):
    """The database server cannot be reached (it stopped, restarted, or the network
    between us dropped): nothing was changed, and trying again later may work."""


class ConstraintRefused(StorageError):
    """The database refused a change by one of its constraints or triggers (a column we
    leave empty that another tool's schema requires, the audit trail's append-only
    guard). `constraint` is the backend's name for the kind, for logs."""

    def __init__(self, message: str, constraint: str | None = None) -> None:
        super().__init__(message)
        self.constraint = constraint


class ConfigError(ApprovalsError):
    code = "CONFIG_ERROR"


class DatabaseReplaced(StorageError):
    """The file an open database was read from is no longer the file at its path (moved
    over, or its -wal removed): what is written now would go where nobody reads it."""


class DeliveryError(ApprovalsError):
    """A notification target did not acknowledge a message (it is sent again later)."""

    code = "DELIVERY_FAILED"
