"""PostgreSQL's errors as the domain's, by SQLSTATE
(https://www.postgresql.org/docs/current/errcodes-appendix.html). A connection that fails
before the server has said anything has no SQLSTATE: libpq's message is all there is.

Never `repr()` a psycopg error: it holds the connection, password included. Messages here
are the server's own text plus the URL with its password hidden (`label`)."""

from __future__ import annotations

from sqlalchemy import exc

from homelab_approvals.domain.errors import (
    ApprovalsError,
    ConcurrentChange,
    ConstraintRefused,
    DatabaseBusy,
    DatabaseUnreachable,
    StorageError,
)
from homelab_approvals.storage.errors import generic

UNREACHABLE = "database unreachable"


def driver_error(error: BaseException) -> BaseException | None:
    """The psycopg error itself, raw or wrapped by SQLAlchemy."""
    import psycopg

    if isinstance(error, exc.DBAPIError):
        error = error.orig  # type: ignore[assignment]
    return error if isinstance(error, psycopg.Error) else None


def _first_line(error: BaseException) -> str:
    primary = getattr(getattr(error, "diag", None), "message_primary", None)
    text = primary or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def translate(error: BaseException, label: str) -> ApprovalsError | None:
    import psycopg

    driver = driver_error(error)
    if driver is None:
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return DatabaseUnreachable(f"{UNREACHABLE} (the connection was lost): {label}")
        return generic(error, label)
    state: str = getattr(driver, "sqlstate", None) or ""
    text = _first_line(driver)
    if not state and isinstance(driver, psycopg.OperationalError | psycopg.InterfaceError):
        return _connection_failure(text, label)
    if not state:  # refused by psycopg itself before sending (a value it cannot send)
        return StorageError(f"database error ({text}): {label}")
    if state in ("40001", "40P01"):  # serialization_failure, deadlock_detected
        return ConcurrentChange(
            "another decision changed this action at the same moment; nothing was changed, "
            "look again and retry"
        )
    if state in ("55P03", "57014"):  # lock_not_available, query_canceled (lock_timeout)
        return DatabaseBusy(
            "database is busy: another transaction held a lock for too long; nothing was "
            "changed, try again"
        )
    if state.startswith("08") or state in ("57P01", "57P02", "57P03"):  # connection, shutdown
        return DatabaseUnreachable(f"{UNREACHABLE} ({text}): {label}")
    if state.startswith("28"):  # invalid_authorization_specification, invalid_password
        return StorageError(f"the database refused the login ({text}): {label}")
    if state == "3D000":  # invalid_catalog_name
        return StorageError(f"database does not exist ({text}): {label}")
    if state in ("25006", "42501"):  # read_only_sql_transaction, insufficient_privilege
        return StorageError(f"database is read-only for this role ({text}): {label}")
    if state == "42P01":  # undefined_table
        return StorageError(f"database has no approvals tables ({text}): {label}")
    if state.startswith("23"):  # integrity_constraint_violation and its kinds
        return ConstraintRefused(f"the database refused the change ({text})", state)
    return StorageError(f"database error ({text}): {label}")


def _connection_failure(text: str, label: str) -> StorageError:
    """libpq's words for a connection that never started."""
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return StorageError(f"the database refused the login (wrong password?): {label}")
    if "database" in lowered and "does not exist" in lowered:
        return StorageError(f"database does not exist: {label}")
    if "role" in lowered and "does not exist" in lowered:
        return StorageError(f"the database refused the login (no such role): {label}")
    return DatabaseUnreachable(f"{UNREACHABLE} ({_without_prefix(text)}): {label}")


def _without_prefix(text: str) -> str:
    # 'connection failed: connection to server at "h", port p failed: Connection refused'
    return text.rsplit("failed: ", 1)[-1].strip() or text
