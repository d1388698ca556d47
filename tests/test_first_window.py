"""The console's first window, read without SQLAlchemy (storage/sqlite/first_window.py): its SQL
is the service's own, its rows are exactly what `list_actions` returns, and anything
unusual sends the console down the ordinary path (None)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Boolean
from sqlalchemy.dialects import sqlite

from homelab_approvals.domain.damaged import problem_of, stored_text
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.queries import ROW_QUERY, counts_statement, rows_statement
from homelab_approvals.storage import open_database
from homelab_approvals.storage.backends import read_first_window, read_in_background
from homelab_approvals.storage.first_window import FIRST_WINDOW, FirstWindow
from homelab_approvals.storage.sqlite import backend as sqlite_backend
from homelab_approvals.storage.sqlite.first_window import COUNTS_SQL, ROWS_SQL
from homelab_approvals.storage.sqlite.rows import (
    BOOLEAN_COLUMNS,
    DATETIME_COLUMNS,
    INTEGER_COLUMNS,
    TABLES,
    TRIGGERS,
)
from homelab_approvals.storage.tables import Base
from homelab_approvals.storage.types import StoredText, UTCDateTime
from homelab_approvals.storage.version import SCHEMA_VERSION
from homelab_approvals.tui.console import PENDING_QUERY

FIRST_QUERY = PENDING_QUERY.with_(limit=FIRST_WINDOW)


def rendered(statement: Any) -> str:
    return str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


# -- one source of truth ---------------------------------------------------------------------


def test_the_sql_is_the_services_own() -> None:
    """If this fails, the service's listing changed: paste the rendered SQL (shown in the
    assertion) into storage/sqlite/first_window.py."""
    assert rendered(rows_statement(FIRST_QUERY)) == ROWS_SQL
    assert rendered(counts_statement(FIRST_QUERY)) == COUNTS_SQL


def test_the_columns_it_converts_are_those_sqlalchemy_converts() -> None:
    dialect = sqlite.dialect()
    for column in ROW_QUERY.selected_columns:
        if isinstance(column.type, UTCDateTime):
            assert column.name in DATETIME_COLUMNS
        elif isinstance(column.type, Boolean):
            assert column.name in BOOLEAN_COLUMNS
        elif isinstance(column.type, StoredText):  # text, a BLOB read as "⟨n bytes⟩"
            assert column.type.dialect_impl(dialect).result_processor(dialect, None) is (
                stored_text
            )
            assert column.name not in DATETIME_COLUMNS | BOOLEAN_COLUMNS | INTEGER_COLUMNS
        else:  # handed over as the driver gives it
            assert column.type.dialect_impl(dialect).result_processor(dialect, None) is None
            assert column.name in INTEGER_COLUMNS
    named = {column.name for column in ROW_QUERY.selected_columns}
    assert named >= DATETIME_COLUMNS | BOOLEAN_COLUMNS


def test_it_checks_the_schema_ensure_schema_maintains() -> None:
    assert set(Base.metadata.tables) == TABLES
    assert set(sqlite_backend.TRIGGERS) == TRIGGERS


# -- the same page as the service ------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> Iterator[bytes]:
    """An empty database of ours, as `open_database` makes it (WAL, schema, triggers)."""
    folder = Path(tempfile.mkdtemp(prefix="first-window-"))
    try:
        path = folder / "template.db"
        open_database(path).close()
        yield path.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_STATUSES = ["pending", "pending", "pending", "approved", "rejected", "completed", "failed"]
_STAMPS = [
    "2026-01-01 10:00:00.000000",
    "2026-01-01 10:00:00",
    "2026-01-01 10:00:00.500000",
    "2026-01-01T09:00:00+02:00",
    "2026-01-01 11:30:00.000001",
    "2025-12-31 23:59:59.999999",
]
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_SERVERS = ["s0", "s1", "s2", "s3"]

servers = st.lists(
    st.tuples(st.sampled_from(_SERVERS), _TEXT, st.none() | _TEXT, st.booleans()),
    max_size=4,
    unique_by=lambda server: server[0],
)
actions = st.lists(
    st.tuples(
        st.sampled_from([*_SERVERS, "gone"]),  # "gone": no such server (the join is empty)
        st.sampled_from(_STATUSES),
        st.none() | _TEXT,  # service_name
        _TEXT,  # command
        st.sampled_from(_STAMPS),  # created_at: ties, and several text forms
        st.none() | st.sampled_from(_STAMPS),  # approved_at
        st.none() | st.integers(-1, 255),  # exit_code
        st.none() | _TEXT,  # stderr
    ),
    max_size=FIRST_WINDOW + 30,
)


def _fill(path: Path, template: bytes, server_rows: list[Any], action_rows: list[Any]) -> None:
    path.write_bytes(template)
    conn = sqlite3.connect(path, isolation_level=None)  # as HomelabCmd would write
    try:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO servers (id, hostname, display_name, is_paused) VALUES (?, ?, ?, ?)",
            server_rows,
        )
        conn.executemany(
            "INSERT INTO remediation_actions (server_id, action_type, status, service_name,"
            " command, created_at, created_by, approved_at, exit_code, stderr)"
            " VALUES (?, 'restart_service', ?, ?, ?, ?, 'homelabcmd', ?, ?, ?)",
            action_rows,
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(server_rows=servers, action_rows=actions)
def test_the_first_window_is_what_the_service_lists(
    tmp_path: Path, template: bytes, server_rows: list[Any], action_rows: list[Any]
) -> None:
    path = tmp_path / "approvals.db"
    _fill(path, template, server_rows, action_rows)
    first = read_first_window(path)
    db = open_database(path)
    try:
        expected = ApprovalService(db).list_actions(FIRST_QUERY)
    finally:
        db.close()
    assert first is not None
    assert first.page == expected
    assert repr(first.page) == repr(expected)  # the very same aware UTC datetimes
    assert (first.label, first.read_only_reason, first.snapshot) == (str(path), None, False)


def test_read_only_is_said_as_open_database_says_it(
    tmp_path: Path, template: bytes, db_path: Path
) -> None:
    _fill(db_path, template, [("s0", "pi.lan", None, True)], [("s0", "pending", None, "x",
          _STAMPS[0], None, None, None)])  # fmt: skip
    first = read_first_window(db_path, read_only=True)
    db = open_database(db_path, read_only=True)
    try:
        assert first is not None
        assert (first.read_only_reason, first.snapshot) == (db.read_only_reason, db.snapshot)
        assert first.label == db.label
    finally:
        db.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("created_at", "yesterday"),
        ("created_at", b"\x01\x02"),
        ("command", b"\xff\xfe\x1b]0;x\x07"),  # a BLOB
        ("command", "BAD"),  # replaced below by invalid UTF-8 stored as text
        ("service_name", "BAD"),
        ("created_by", "BAD"),
    ],
)
def test_a_damaged_value_reads_as_the_ordinary_path_reads_it(
    db_path: Path, template: bytes, column: str, value: object
) -> None:
    """Issue 16: the first window and SQLAlchemy show a damaged row alike, never fail."""
    _fill(db_path, template, [], [("s0", "pending", None, "x", _STAMPS[0], None, None, None)])
    with sqlite3.connect(db_path) as conn:
        if value == "BAD":
            conn.execute(
                f"UPDATE remediation_actions SET {column} = CAST(? AS TEXT)", (b"a\xc3\x28\xff",)
            )
        else:
            conn.execute(f"UPDATE remediation_actions SET {column} = ?", (value,))
    conn.close()
    first = read_first_window(db_path)
    assert first is not None
    db = open_database(db_path)
    try:
        page = ApprovalService(db).list_actions(FIRST_QUERY)
    finally:
        db.close()
    assert [problem_of(v) for v in first.page.rows[0]] == [problem_of(v) for v in page.rows[0]]
    assert any(problem_of(v) for v in page.rows[0])
    if column != "created_at":  # a damaged time compares as the epoch; its text is kept
        assert first.page.rows == page.rows


def test_the_read_can_overlap_other_work(db_path: Path, template: bytes) -> None:
    _fill(db_path, template, [], [("s0", "pending", None, "x", _STAMPS[0], None, None, None)])
    wait = read_in_background(db_path)
    first = wait()
    assert isinstance(first, FirstWindow)
    assert [view.command for view in first.page.rows] == ["x"]
    assert read_in_background(db_path.with_name("missing.db"))() is None


# -- anything unusual: None, and the ordinary path says what is wrong --------------------------


def _older(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE approvals_schema SET version = ?", (SCHEMA_VERSION - 1,))
    conn.close()


def _newer(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE approvals_schema SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()


def _no_version_row(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM approvals_schema")
    conn.close()


def _no_trigger(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER action_events_no_delete")
    conn.close()


def _homelabcmd_only(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        for name in ("action_events", "approvals_schema"):
            conn.execute(f"DROP TABLE {name}")
    conn.close()


def _junk(path: Path) -> None:
    path.write_bytes(b"\x00garbage" * 512)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize(
    "spoil",
    [_older, _newer, _no_version_row, _no_trigger, _homelabcmd_only, _junk, _empty, _folder],
)
def test_anything_unusual_gives_none(db_path: Path, template: bytes, spoil: Any) -> None:
    db_path.write_bytes(template)
    spoil(db_path)
    before = sorted(p.name for p in db_path.parent.iterdir())
    assert read_first_window(db_path) is None
    assert sorted(p.name for p in db_path.parent.iterdir()) == before  # nothing created


def test_a_missing_file_gives_none_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "approvals.db"
    assert read_first_window(path) is None
    assert not path.parent.exists()
    assert read_first_window(Path("bad\x00name.db")) is None


# -- a user who may read but not write ---------------------------------------------------------

_AS_NOBODY = """
import json, sys
from pathlib import Path
from homelab_approvals.storage import open_database
from homelab_approvals.storage.backends import read_first_window
path = Path(sys.argv[1])
first = read_first_window(path)
try:
    db = open_database(path)
except Exception as error:
    opened = repr(error)
else:
    opened = [db.read_only_reason, db.snapshot]
    db.close()
print(json.dumps([None if first is None else [first.read_only_reason, first.snapshot,
                  len(first.page.rows)], opened]))
"""


def _nobody_can_run() -> str | None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root and setpriv to run as nobody"
    return None


def _as_nobody(path: Path) -> Any:
    command = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    done = subprocess.run(
        [*command, sys.executable, "-c", _AS_NOBODY, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.skipif(_nobody_can_run() is not None, reason="needs root and setpriv")
@pytest.mark.parametrize("journal", ["wal-closed", "wal-open-elsewhere", "rollback", "wal-crashed"])
def test_a_reader_who_cannot_write_reads_as_open_database_would(
    template: bytes, journal: str
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="first-window-ro-"))
    keeper = None
    try:
        folder.chmod(0o755)
        path = folder / "approvals.db"
        _fill(path, template, [("s0", "pi.lan", None, True)], [("s0", "pending", None, "x",
              _STAMPS[0], None, None, None)])  # fmt: skip
        if journal == "rollback":
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA journal_mode = DELETE")
            conn.close()
        if journal in ("wal-open-elsewhere", "wal-crashed"):
            keeper = sqlite3.connect(path, isolation_level=None)
            keeper.execute("PRAGMA wal_autocheckpoint = 0")
            keeper.execute("UPDATE servers SET hostname = 'later.lan'")  # left in the -wal
        if journal == "wal-crashed":
            # A copy of the files as a crash leaves them: committed changes in the -wal,
            # and no -shm.
            crashed = folder / "crashed.db"
            shutil.copy(path, crashed)
            shutil.copy(path.with_name("approvals.db-wal"), folder / "crashed.db-wal")
            assert keeper is not None
            keeper.close()
            keeper = None
            path = crashed
        for item in folder.iterdir():
            item.chmod(0o644)
        before = sorted(p.name for p in folder.iterdir())
        first, opened = _as_nobody(path)
        assert sorted(p.name for p in folder.iterdir()) == before
        if journal == "wal-crashed":
            assert first is None  # and the ordinary path refuses it, in one line
            assert "write-ahead log" in opened
            return
        reason, snapshot = opened
        assert first == [reason, snapshot, 1]
        assert reason == "the file is not writable by this user"
        assert snapshot is (journal == "wal-closed")
    finally:
        if keeper is not None:
            keeper.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_full_first_window_is_cut_and_ordered_as_the_service_does(
    db_path: Path, template: bytes
) -> None:
    """More pending actions than the window holds, many sharing a timestamp: the id
    breaks the ties, and the counts cover every action."""
    rows = [
        ("s0", status, None, f"cmd {n}", _STAMPS[n % 3], None, None, None)
        for n, status in enumerate(["pending"] * (FIRST_WINDOW + 50) + ["approved"] * 7)
    ]
    _fill(db_path, template, [("s0", "pi.lan", "Pi", False)], rows)
    first = read_first_window(db_path)
    db = open_database(db_path)
    try:
        expected = ApprovalService(db).list_actions(FIRST_QUERY)
    finally:
        db.close()
    assert first is not None
    assert len(first.page.rows) == FIRST_WINDOW
    assert (first.page.total, first.page.counts) == (FIRST_WINDOW + 50, {
        "pending": FIRST_WINDOW + 50, "approved": 7})  # fmt: skip
    assert first.page == expected
