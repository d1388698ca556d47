"""Opening a PostgreSQL database by URL: the engine (psycopg 3), whether this role may
write, and our schema."""

from __future__ import annotations

from typing import Any

from sqlalchemy import URL, create_engine, event, exc

from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage.database import Database
from homelab_approvals.storage.errors import translated
from homelab_approvals.storage.postgres.backend import QUERIES, PostgresBackend
from homelab_approvals.storage.postgres.prepared import closed_by_server
from homelab_approvals.storage.schema import ensure_schema

#: Seconds to wait for a server that does not answer, so a dead host is one clear line
#: rather than a hang.
CONNECT_TIMEOUT = 5
#: How long a statement waits for a lock another transaction holds (a stuck writer, an
#: idle-in-transaction session) before giving up with DATABASE_BUSY, nothing changed: as
#: SQLite's busy timeout. Without it a decision on a locked row waited for ever.
LOCK_TIMEOUT_MS = 5000


def open_url(url: URL, label: str, *, read_only: bool, listen: bool = True) -> Database:
    """`url` is postgresql:// or postgresql+psycopg://; both mean psycopg 3."""
    url = url.set(drivername="postgresql+psycopg")
    options: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT,
        "application_name": "homelab-approvals",
        "options": f"-c lock_timeout={LOCK_TIMEOUT_MS}",
    }
    if read_only:
        # The server refuses every write in these sessions, whatever the client does.
        options["options"] += " -c default_transaction_read_only=on"
    try:
        engine = create_engine(url, connect_args=options)
    except ImportError as error:  # psycopg is not installed
        raise StorageError(
            f"no database driver for postgresql is installed ({error}); install "
            f"'homelab-approvals[postgres]': {label}"
        ) from error
    event.listen(engine, "checkout", _drop_if_closed)
    backend = PostgresBackend(engine, label, listen=listen)
    reason = "--read-only was given" if read_only else None
    try:
        if reason is None:
            with translated(backend, label), engine.connect() as conn:
                may_write = conn.exec_driver_sql(QUERIES["may_write"]).scalar()
            if may_write is False:
                user = url.username or "this role"
                reason = f"the role {user} may not change actions or add events"
        db = Database(
            engine,
            label,
            backend,
            read_only=reason is not None,
            read_only_reason=reason,
            largest_id=2**31 - 1,  # HomelabCmd's `integer` ids
            reopen=lambda: open_url(url, label, read_only=read_only, listen=listen),
        )
        db.audit_repairs = ensure_schema(db)
    except BaseException:
        backend.close()
        raise
    return db


def _drop_if_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, an idle timeout) is replaced
    before use, at no round trip (pool_pre_ping would cost one per transaction)."""
    if closed_by_server(dbapi_conn):
        raise exc.DisconnectionError("the server closed the connection")
