"""Driver errors become the domain's errors, one clear line each: the part every backend
shares. Each backend's `translate` reads its own codes (SQLite's extended result codes,
PostgreSQL's SQLSTATE)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import exc

from homelab_approvals.domain.errors import ApprovalsError, StorageError

if TYPE_CHECKING:
    from homelab_approvals.storage.backend import Backend


def generic(error: BaseException, label: str) -> StorageError | None:
    """What no backend knows better: SQLAlchemy's own errors (no driver error inside)."""
    if isinstance(error, exc.SQLAlchemyError):
        return StorageError(f"database error ({error}): {label}")
    return None


@contextmanager
def translated(backend: Backend, label: str) -> Iterator[None]:
    """Re-raise driver and SQLAlchemy errors as StorageError; let our own errors (and
    anything that is not a database error) through."""
    try:
        yield
    except ApprovalsError:
        raise
    except Exception as error:
        mapped = backend.translate(error, label)
        if mapped is None:
            raise
        raise mapped from error
