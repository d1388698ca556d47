"""Issue 16: the audit triggers are checked by their definitions on open, and repaired
visibly; nothing is written to a database whose tables are not ours or HomelabCmd's."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from homelab_approvals.domain.enums import AUDIT_RESTORED
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.storage import open_database
from homelab_approvals.storage.sqlite.backend import TRIGGERS as _SQLITE_TRIGGERS

TAMPERINGS = {
    "another body": (
        "DROP TRIGGER action_events_no_update; "
        "CREATE TRIGGER action_events_no_update BEFORE UPDATE ON action_events BEGIN SELECT 1; END"
    ),
    "another table": (
        "DROP TRIGGER action_events_no_delete; "
        "CREATE TRIGGER action_events_no_delete BEFORE DELETE ON servers "
        "BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END"
    ),
    "a condition": (
        "DROP TRIGGER action_events_no_update; "
        "CREATE TRIGGER action_events_no_update BEFORE UPDATE ON action_events WHEN 0 "
        "BEGIN SELECT RAISE(ABORT, 'action_events is append-only'); END"
    ),
    "removed": "DROP TRIGGER action_events_no_replace",
}


def _tamper(path: Path, script: str) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.close()


def _events(path: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT action_id, from_status, to_status, actor, reason FROM action_events"
    )
    found = rows.fetchall()
    conn.close()
    return found


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_a_tampered_trigger_is_restored_and_recorded(db_path: Path, how: str) -> None:
    open_database(db_path).close()
    _tamper(db_path, TAMPERINGS[how])
    db = open_database(db_path)
    try:
        assert len(db.audit_repairs) == 1
    finally:
        db.close()
    [event] = _events(db_path)
    assert event[:4] == (0, "audit", "restored", "homelab-approvals")
    assert str(event[4]).startswith(AUDIT_RESTORED)
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE action_events SET reason = 'x'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM action_events")
    conn.close()
    # Restored once: the next open finds nothing to say.
    db = open_database(db_path)
    assert db.audit_repairs == []
    db.close()


def test_white_space_alone_is_no_tampering(db_path: Path) -> None:
    open_database(db_path).close()
    sql = _SQLITE_TRIGGERS["action_events_no_update"].replace(" ", "\n    ")
    _tamper(db_path, f"DROP TRIGGER action_events_no_update; {sql}")
    db = open_database(db_path)
    assert db.audit_repairs == []
    db.close()
    assert _events(db_path) == []


def test_a_new_database_and_a_homelabcmd_one_are_no_tampering(db_path: Path) -> None:
    db = open_database(db_path)
    assert db.audit_repairs == []
    db.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "create",
    [
        "CREATE TABLE remediation_actions (id INTEGER PRIMARY KEY, foo TEXT)",
        "CREATE TABLE servers (id TEXT PRIMARY KEY, name TEXT)",
        "CREATE TABLE action_events (id INTEGER PRIMARY KEY, what TEXT)",
    ],
)
def test_a_foreign_table_is_refused_and_the_file_left_as_it_was(db_path: Path, create: str) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute(create)
    conn.commit()
    conn.close()
    before = _digest(db_path)
    with pytest.raises(StorageError, match="not a homelab-approvals or HomelabCmd database") as e:
        open_database(db_path)
    assert "\n" not in e.value.message
    assert _digest(db_path) == before
    conn = sqlite3.connect(db_path)
    tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()
    assert len(tables) == 1
