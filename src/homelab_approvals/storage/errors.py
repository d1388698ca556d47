"""Turn driver errors into the project's typed errors, with one clear line each."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc

from homelab_approvals.domain.errors import ApprovalsError, DatabaseBusy, StorageError

BUSY_MESSAGE = (
    "database is busy: another process held its write lock for longer than the "
    "busy timeout; nothing was changed, try again"
)


def describe(error: exc.StatementError, label: str) -> StorageError:
    text = str(error.orig) if error.orig is not None else str(error)
    lowered = text.lower()
    if "database is locked" in lowered or "database is busy" in lowered:
        return DatabaseBusy(BUSY_MESSAGE)
    if "file is not a database" in lowered or "not a database" in lowered:
        return StorageError(f"not a SQLite database: {label}")
    if "readonly database" in lowered or "read-only" in lowered:
        return StorageError(f"database is read-only for this user: {label}")
    if "unable to open database file" in lowered:
        return StorageError(f"cannot open the database (missing, or no permission): {label}")
    if "disk i/o error" in lowered or "database disk image is malformed" in lowered:
        return StorageError(f"database is damaged or unreadable ({text}): {label}")
    if "no such table" in lowered:
        return StorageError(f"database has no approvals tables ({text}): {label}")
    if isinstance(error, exc.IntegrityError):
        return StorageError(f"the database refused the change ({text})")
    return StorageError(f"database error ({text}): {label}")


@contextmanager
def translated(label: str) -> Iterator[None]:
    """Re-raise SQLAlchemy/driver errors as StorageError; let our own errors through."""
    try:
        yield
    except ApprovalsError:
        raise
    except exc.DBAPIError as error:
        raise describe(error, label) from error
    except sqlite3.Error as error:
        # From a raw SQLite connection (decisions' held connections, the change watcher):
        # the driver's own error, wrapped as SQLAlchemy would, then worded the same way.
        raise describe(exc.DBAPIError.instance(None, None, error, sqlite3.Error), label) from error
    except exc.SQLAlchemyError as error:
        raise StorageError(f"database error ({error}): {label}") from error
