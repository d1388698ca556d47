"""The console's first screen from a SQLite file, without SQLAlchemy.

Importing SQLAlchemy and the ORM models takes longer than everything else the first
screen needs together. So for the common case (a SQLite file of ours, brought up to date,
and the console's default view) the first window of rows is read here with the standard
library's sqlite3, exactly as `ApprovalService.list_actions` would return it; the console
draws it, then opens the database for real in the background.

Anything unusual (no file, an empty or foreign file, an older or newer schema, any SQLite
error) gives None, and the caller takes the ordinary
path, whose errors are the ones users know. The SQL is SQLAlchemy's own rendering of the
service's statements, kept as text; tests/test_first_window.py fails if they drift apart.
"""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from homelab_approvals.domain.damaged import text_from_bytes
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.views import ActionPage, ActionView
from homelab_approvals.storage.first_window import FIRST_STATUSES, FirstWindow
from homelab_approvals.storage.sqlite.readonly import (
    read_only_uri_params,
    sqlite_uri,
    unwritable_reason,
)
from homelab_approvals.storage.sqlite.rows import TABLES, TRIGGERS, converters
from homelab_approvals.storage.version import SCHEMA_VERSION

#: `rows_statement(PENDING_QUERY.with_(limit=FIRST_WINDOW))`, rendered for SQLite.
ROWS_SQL = (
    "SELECT remediation_actions.id, remediation_actions.server_id, "
    "remediation_actions.action_type, remediation_actions.status, "
    "remediation_actions.service_name, remediation_actions.command, "
    "remediation_actions.created_at, remediation_actions.created_by, "
    "remediation_actions.alert_id, remediation_actions.approved_at, "
    "remediation_actions.approved_by, remediation_actions.rejected_at, "
    "remediation_actions.rejected_by, remediation_actions.rejection_reason, "
    "remediation_actions.executed_at, remediation_actions.completed_at, "
    "remediation_actions.exit_code, remediation_actions.stdout, remediation_actions.stderr, "
    "coalesce(servers.display_name, servers.hostname, remediation_actions.server_id) "
    "AS server_label, servers.is_paused AS server_paused \n"
    "FROM remediation_actions LEFT OUTER JOIN servers "
    "ON servers.id = remediation_actions.server_id \n"
    "WHERE remediation_actions.status IN ('pending') "
    "ORDER BY remediation_actions.created_at, remediation_actions.id\n"
    " LIMIT 100 OFFSET 0"
)
#: `counts_statement(PENDING_QUERY)`, rendered for SQLite.
COUNTS_SQL = (
    "SELECT remediation_actions.status, count(*) AS count_1 \n"
    "FROM remediation_actions \n"
    "WHERE 1 = 1 GROUP BY remediation_actions.status"
)
#: A writer holding the lock longer than this sends the console down the ordinary path.
_BUSY_TIMEOUT_MS = 1000


def read_first_window(path: Path, *, read_only: bool = False) -> FirstWindow | None:
    """The first window of the pending queue of the SQLite file at `path`, or None when
    anything is unusual (the caller then opens the database the ordinary way)."""
    try:
        path = path.expanduser().absolute()
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
            return None  # not a database, or one nobody has written yet
        label = str(path)
        reason = "--read-only was given" if read_only else None
        snapshot = False
        unwritable = unwritable_reason(path)
        if unwritable is None:
            params = {"mode": "rw"}  # never creates the file
        else:
            params, snapshot = read_only_uri_params(path, label)
            reason = reason or unwritable
        conn = sqlite3.connect(sqlite_uri(path, params), uri=True, isolation_level=None)
        conn.text_factory = text_from_bytes  # as the ordinary path's connections
        try:
            page = _read(conn)
        finally:
            conn.close()
    except (OSError, ValueError, RuntimeError, sqlite3.Error, StorageError):
        return None
    if page is None:
        return None
    return FirstWindow(label, page, reason, snapshot)


def _read(conn: sqlite3.Connection) -> ActionPage | None:
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA query_only = ON")  # this reader never writes
    conn.execute("BEGIN")  # one snapshot for the schema check, the rows and the counts
    try:
        names = conn.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger')"
        ).fetchall()
        tables = {name for kind, name in names if kind == "table"}
        triggers = {name for kind, name in names if kind == "trigger"}
        if not tables >= TABLES or not triggers >= TRIGGERS:
            return None
        version = conn.execute("SELECT version FROM approvals_schema WHERE id = 1").fetchone()
        if version is None or version[0] != SCHEMA_VERSION:
            return None  # ensure_schema has work to do, or refuses a newer schema
        cursor = conn.execute(ROWS_SQL)
        columns = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
        counts: dict[str, int] = dict(conn.execute(COUNTS_SQL).fetchall())
    finally:
        conn.execute("COMMIT")
    convert = converters(columns)
    views = tuple(
        ActionView._make([f(v) for f, v in zip(convert, row, strict=True)]) for row in rows
    )
    wanted = {status.value for status in FIRST_STATUSES}
    total = sum(n for status, n in counts.items() if status in wanted)
    return ActionPage(views, total, counts)
