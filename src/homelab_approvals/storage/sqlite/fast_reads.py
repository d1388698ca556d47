"""What the CLI's read commands (`list`, `show`, `events`, `servers`) read from a SQLite
file, without SQLAlchemy.

Importing SQLAlchemy took those commands most of half a second; the reads take
milliseconds. So here they run with the standard library's sqlite3, in one read
transaction that changes nothing: the service's own statements, which
scripts/render_fast_sql.py rendered into sql/reads.sql (every shape of a listing, named as
service/listing.py names it; tests fail when it drifts), each row converted as the
statement's column types convert it (rows.py).

Anything unusual gives None (nothing is changed; the file is opened without creating it),
and the caller takes the ordinary path, whose answers and errors are the ones users know:
no file, an empty, foreign or unwritable one (the ordinary read-only opening has its own
rules), a schema that is not exactly ours and current, a shape the file lacks, no such
action, any SQLite error.
"""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from homelab_approvals.domain.damaged import text_from_bytes
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.rows import ActionView, EventView
from homelab_approvals.storage import sql_files
from homelab_approvals.storage.datetimes import sqlite_text
from homelab_approvals.storage.decided import Decided, ShownPage
from homelab_approvals.storage.preview_rows import PreviewRow
from homelab_approvals.storage.sqlite.fast_decision import (
    BUSY_TIMEOUT_MS,
    SQL,
    read_with_show,
    schema_is_current,
)
from homelab_approvals.storage.sqlite.readonly import sqlite_uri, unwritable_reason
from homelab_approvals.storage.sqlite.rows import (
    BINDING_CONVERTERS,
    COUNT_CONVERTERS,
    EVENT_CONVERTERS,
    PREVIEW_CONVERTERS,
    SERVER_CONVERTERS,
    action_view,
    convert,
)

_FILE = "reads.sql"
_FAILURES = (OSError, ValueError, RuntimeError, KeyError, sqlite3.Error, StorageError)


class _NotOurs(Exception):
    """The file is not a current database of ours: the ordinary path opens it."""


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection to the SQLite file at `path` in one read transaction (one snapshot
    for the schema check and every read), never writing; _NotOurs or a driver error when
    the ordinary path must open it."""
    path = path.expanduser().absolute()
    info = path.stat()
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0 or unwritable_reason(path):
        raise _NotOurs  # the ordinary path's read-only opening has its own rules
    conn = sqlite3.connect(sqlite_uri(path, {"mode": "rw"}), uri=True, isolation_level=None)
    try:
        conn.text_factory = text_from_bytes  # as the ordinary path's connections
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA query_only = ON")  # this reader never writes
        conn.execute("BEGIN")
        try:
            if not schema_is_current(conn):
                raise _NotOurs
            yield conn
        finally:
            conn.execute("COMMIT")
    finally:
        conn.close()


def _run(conn: sqlite3.Connection, sql: str, values: dict[str, object]) -> sqlite3.Cursor:
    """`sql` with `values` bound as SQLAlchemy binds them on SQLite: a list expanded to
    one parameter per value (its __[POSTCOMPILE_name] marker), a datetime as its stored
    text (UTCDateTime's bind processor)."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list):
            if not value:
                raise ValueError(f"empty list for {name}")  # SQLAlchemy renders it otherwise
            names = [f"{name}_{i}" for i in range(len(value))]
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join(":" + n for n in names))
            params.update(zip(names, value, strict=True))
        elif isinstance(value, datetime):
            params[name] = sqlite_text(value)
        else:
            params[name] = value
    return conn.execute(sql, params)


def read_list(
    path: Path, rows: str, counts: str, values: dict[str, object], *, with_previews: bool
) -> tuple[tuple[ActionView, ...], dict[str, int], dict[int, PreviewRow]] | None:
    """A listing: the rows of statement `rows` and the per-status counts of `counts`
    (names in sql/reads.sql), bound with `values`; with `with_previews`, the newest
    preview of each row too. None: ask the service."""
    try:
        rows_sql, counts_sql, previews_sql = sql_files.pick(
            __package__, _FILE, (rows, counts, "latest_previews")
        )
        tally: dict[str, int]
        with reading(path) as conn:
            cursor = _run(conn, rows_sql, values)
            columns = [column[0] for column in cursor.description]
            views = tuple(action_view(columns, row) for row in cursor.fetchall())
            found = _run(conn, counts_sql, values).fetchall()  # unused names are ignored
            tally = dict(convert(row, COUNT_CONVERTERS) for row in found)
            previews: dict[int, PreviewRow] = {}
            if with_previews and views:
                ids: dict[str, object] = {"ids": [view.id for view in views]}
                for row in _run(conn, previews_sql, ids):
                    preview = PreviewRow(*convert(row, PREVIEW_CONVERTERS))
                    previews[preview.action_id] = preview
        return views, tally, previews
    except (_NotOurs, *_FAILURES):
        return None


def read_shown(path: Path, aid: int) -> Decided | None:
    """What `show ID --json` reads (the row, its approvals, its newest preview); None
    when there is no such action (the ordinary path then says so in its words)."""
    try:
        with reading(path) as conn:
            view = _one_action(conn, aid)
            return None if view is None else read_with_show(conn, view)
    except (_NotOurs, *_FAILURES):
        return None


def read_page(path: Path, aid: int, events: str) -> ShownPage | None:
    """What `show ID` reads: `read_shown`'s, the preview its last approval was bound to,
    and its events (statement `events`)."""
    try:
        bindings_sql, by_id_sql, events_sql = sql_files.pick(
            __package__, _FILE, ("bindings", "preview_by_id", events)
        )
        with reading(path) as conn:
            view = _one_action(conn, aid)
            if view is None:
                return None
            shown = read_with_show(conn, view)
            bindings = _run(conn, bindings_sql, {"aid": aid}).fetchall()
            bound = None
            if bindings:
                pid = convert(bindings[-1], BINDING_CONVERTERS)[-1]
                row = _run(conn, by_id_sql, {"pid": pid}).fetchone()
                bound = None if row is None else PreviewRow(*convert(row, PREVIEW_CONVERTERS))
            trail = _events(conn, events_sql, {"aid": aid})
        return ShownPage(shown, bound, trail)
    except (_NotOurs, *_FAILURES):
        return None


def read_events(path: Path, name: str, values: dict[str, object]) -> list[EventView] | None:
    """The audit trail by statement `name`, bound with `values`."""
    try:
        (sql,) = sql_files.pick(__package__, _FILE, (name,))
        with reading(path) as conn:
            return list(_events(conn, sql, values))
    except (_NotOurs, *_FAILURES):
        return None


def read_servers(path: Path) -> list[list[Any]] | None:
    """Every server row (the service's columns, converted as their types read them)."""
    try:
        (sql,) = sql_files.pick(__package__, _FILE, ("servers",))
        with reading(path) as conn:
            return [convert(row, SERVER_CONVERTERS) for row in conn.execute(sql)]
    except (_NotOurs, *_FAILURES):
        return None


def _one_action(conn: sqlite3.Connection, aid: int) -> ActionView | None:
    cursor = conn.execute(SQL["one_action"], {"aid": aid})
    columns = [column[0] for column in cursor.description]
    row = cursor.fetchone()
    return None if row is None else action_view(columns, row)


def _events(conn: sqlite3.Connection, sql: str, values: dict[str, object]) -> tuple[EventView, ...]:
    return tuple(EventView._make(convert(row, EVENT_CONVERTERS)) for row in _run(conn, sql, values))
