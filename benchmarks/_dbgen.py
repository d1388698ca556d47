"""Build benchmark databases fast: our schema via `open_database`, rows via plain sqlite3.

Rows go in with `executemany` in one transaction (100,000 actions in about a second);
datetimes use SQLAlchemy's SQLite text form, as HomelabCmd and the service store them.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from homelab_approvals.storage import open_database

SERVERS = 20
_START = datetime(2026, 1, 1, tzinfo=UTC)
_DECIDED = ("approved", "rejected", "completed", "failed")


def _stamp(moment: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC).
    return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, *, total: int, pending: int) -> Path:
    """A database at `path` with `total` actions, of which `pending` are pending.

    Pending actions are the newest ids (see `pending_ids`), spread over `SERVERS` paused
    servers; the rest are in the four decided states.
    """
    if pending > total:
        raise ValueError("pending must not exceed total")
    open_database(path).close()  # schema, triggers, WAL, file mode: exactly as the app does
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # generator only; the file is scratch
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO servers (id, hostname, display_name, is_paused) VALUES (?, ?, ?, ?)",
            [(f"srv-{n:02d}", f"srv-{n:02d}.lan", f"Server {n}", 1) for n in range(SERVERS)],
        )
        conn.executemany(
            "INSERT INTO remediation_actions (id, server_id, action_type, status, service_name,"
            " command, created_at, created_by, approved_at, approved_by)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (_action(n, decided=n <= total - pending) for n in range(1, total + 1)),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return path


def _action(n: int, *, decided: bool) -> tuple[object, ...]:
    created = _START + timedelta(seconds=n)
    unit = f"svc-{n % 97}"
    status = _DECIDED[n % len(_DECIDED)] if decided else "pending"
    approved = status in ("approved", "completed")
    return (
        n,
        f"srv-{n % SERVERS:02d}",
        "restart_service",
        status,
        unit,
        f"systemctl restart {unit}",
        _stamp(created),
        "benchmark",
        _stamp(created + timedelta(seconds=1)) if approved else None,
        "bench-approver" if approved else None,
    )


def pending_ids(total: int, pending: int) -> range:
    """The ids `build()` left pending: the newest `pending`, oldest first."""
    return range(total - pending + 1, total + 1)
