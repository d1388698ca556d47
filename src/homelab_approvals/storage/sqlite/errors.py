"""SQLite's errors as the domain's, by the driver's extended result codes
(`sqlite_errorcode`, https://sqlite.org/rescode.html), not by message text. The primary
code is the low byte of the extended one."""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc

from homelab_approvals.domain.errors import ConstraintRefused, DatabaseBusy, StorageError
from homelab_approvals.storage.errors import generic

BUSY_MESSAGE = (
    "database is busy: another process held its write lock for longer than the "
    "busy timeout; nothing was changed, try again"
)

# Primary result codes (sqlite3.h).
SQLITE_ERROR = 1
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_CANTOPEN = 14
SQLITE_CONSTRAINT = 19
SQLITE_NOTADB = 26


def driver_error(error: BaseException) -> sqlite3.Error | None:
    """The sqlite3 error itself, raw or wrapped by SQLAlchemy."""
    if isinstance(error, exc.DBAPIError):
        error = error.orig  # type: ignore[assignment]
    return error if isinstance(error, sqlite3.Error) else None


def translate(error: BaseException, label: str) -> StorageError | None:
    driver = driver_error(error)
    if driver is None:
        return generic(error, label)
    text = str(driver)
    code = getattr(driver, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (SQLITE_BUSY, SQLITE_LOCKED):
        return DatabaseBusy(BUSY_MESSAGE)
    if primary == SQLITE_NOTADB:
        return StorageError(f"not a SQLite database: {label}")
    if primary == SQLITE_READONLY:
        return StorageError(f"database is read-only for this user: {label}")
    if primary == SQLITE_CANTOPEN:
        return StorageError(f"cannot open the database (missing, or no permission): {label}")
    if primary in (SQLITE_IOERR, SQLITE_CORRUPT):
        return StorageError(f"database is damaged or unreadable ({text}): {label}")
    if primary == SQLITE_CONSTRAINT:
        name = getattr(driver, "sqlite_errorname", "SQLITE_CONSTRAINT")
        return ConstraintRefused(f"the database refused the change ({text})", name)
    # SQLITE_ERROR has no finer code for a missing table: its message is all there is.
    if primary == SQLITE_ERROR and text.startswith("no such table"):
        return StorageError(f"database has no approvals tables ({text}): {label}")
    return StorageError(f"database error ({text}): {label}")
