"""Working in place on a HomelabCmd database.

Built from HomelabCmd's exact DDL (tests/data/homelabcmd-schema.sql, a copy of
../shared/reference/homelabcmd-schema.sql), with rows as its backend writes them. Real
HomelabCmd databases also have an `alerts` table (remediation_actions.alert_id points at
it); both shapes are tested, because with foreign_keys=ON a missing parent table makes
SQLite refuse every INSERT into remediation_actions.

The same on PostgreSQL: HomelabCmd's two tables (and its `alerts`, which its foreign key
needs there) created as its SQLAlchemy models create them on that server, with its rows;
we add only ours. What is about SQLite's file, pragmas or foreign-key switch stays there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.errors import InvalidTransition, StorageError
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.storage import Database, open_database

DDL = (Path(__file__).parent / "data" / "homelabcmd-schema.sql").read_text(encoding="utf-8")
NOW = datetime(2026, 11, 27, 10, 2, 0, tzinfo=UTC)

SERVER_COLUMNS = (
    "id, hostname, display_name, machine_type, sudo_mode, status, is_paused, paused_at, "
    "is_inactive, drift_detection_enabled, created_at, updated_at"
)
SERVERS = [
    ("pi-4", "pi4.lan", "PI-4", "server", "passwordless", "unknown", 1,
     "2026-11-27 05:02:08.394214", 0, 1, "2026-11-01 08:00:00.000000",
     "2026-11-27 05:02:08.394214"),
    ("nas", "nas.lan", None, "server", "passwordless", "online", 0, None, 0, 1,
     "2026-11-01 08:00:00.000000", "2026-11-01 08:00:00.000000"),
]  # fmt: skip
ACTION_COLUMNS = (
    "id, server_id, action_type, status, service_name, command, created_at, created_by, "
    "alert_id, approved_at, approved_by, rejected_at, rejected_by, rejection_reason, "
    "executed_at, completed_at, exit_code, stdout, stderr"
)
ACTIONS = [
    (1, "pi-4", "restart_service", "pending", "nginx", "systemctl restart nginx",
     "2026-11-27 05:02:08.485256", "dashboard", None, None, None, None, None, None,
     None, None, None, None, None),
    (2, "pi-4", "apt_update", "pending", None,
     "DEBIAN_FRONTEND=noninteractive apt-get update -q -o APT::Sandbox::User=root",
     "2026-11-27 05:03:00.000001", "dashboard", None, None, None, None, None, None,
     None, None, None, None, None),
    (3, "pi-4", "clear_logs", "pending", None, "journalctl --vacuum-time=7d",
     "2026-11-27 05:04:00", "dashboard", None, None, None, None, None, None,
     None, None, None, None, None),  # whole seconds: no fraction at all
    (4, "nas", "restart_service", "rejected", "smbd", "systemctl restart smbd",
     "2026-11-26 21:00:00.000000", "dashboard", None, None, None,
     "2026-11-26 21:05:00.123456", "dashboard", "Recovered on its own",
     None, None, None, None, None),
    (5, "nas", "restart_service", "completed", "smbd", "systemctl restart smbd",
     "2026-11-26 20:00:00.000000", "dashboard", None, "2026-11-26 20:00:00.000000", "auto",
     None, None, None, "2026-11-26 20:00:05.000000", "2026-11-26 20:00:09.000000", 0,
     "", ""),
]  # fmt: skip


BOOLEAN_COLUMNS = (6, 8, 9)  # is_paused, is_inactive, drift_detection_enabled
# HomelabCmd's models on PostgreSQL: SQLAlchemy's DateTime is `timestamp without time zone`
# and an Integer primary key is SERIAL.
PG_DDL = DDL.replace("DATETIME", "TIMESTAMP WITHOUT TIME ZONE").replace(
    "CREATE TABLE remediation_actions (\n\tid INTEGER NOT NULL",
    "CREATE TABLE remediation_actions (\n\tid SERIAL NOT NULL",
)
assert "id SERIAL" in PG_DDL


def build_pg(url: str) -> None:
    """HomelabCmd's database on PostgreSQL, rows as its backend writes them."""
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE alerts (id SERIAL NOT NULL, PRIMARY KEY (id))")
        conn.execute("INSERT INTO alerts (id) VALUES (7)")
        conn.execute(PG_DDL)
        with conn.cursor() as cursor:
            servers = [
                [bool(v) if i in BOOLEAN_COLUMNS else v for i, v in enumerate(row)]
                for row in SERVERS
            ]
            cursor.executemany(
                f"INSERT INTO servers ({SERVER_COLUMNS}) VALUES ({', '.join(['%s'] * 12)})",
                servers,
            )
            rows = [list(r) for r in ACTIONS]
            rows[0][8] = 7
            cursor.executemany(
                f"INSERT INTO remediation_actions ({ACTION_COLUMNS})"
                f" VALUES ({', '.join(['%s'] * 19)})",
                rows,
            )
        # HomelabCmd's own inserts move the sequence; these rows were given their ids.
        conn.execute("SELECT setval(pg_get_serial_sequence('remediation_actions', 'id'), 5)")


def build(path: Path, *, with_alerts: bool) -> None:
    conn = sqlite3.connect(path)
    try:
        if with_alerts:
            conn.execute("CREATE TABLE alerts (id INTEGER NOT NULL, PRIMARY KEY (id))")
            conn.execute("INSERT INTO alerts (id) VALUES (7)")
        conn.executescript(DDL)
        conn.executemany(
            f"INSERT INTO servers ({SERVER_COLUMNS}) VALUES ({', '.join('?' * 12)})", SERVERS
        )
        rows = [list(r) for r in ACTIONS]
        if with_alerts:
            rows[0][8] = 7  # HomelabCmd proposes actions from alerts
        conn.executemany(
            f"INSERT INTO remediation_actions ({ACTION_COLUMNS}) VALUES ({', '.join('?' * 19)})",
            rows,
        )
        conn.commit()
    finally:
        conn.close()


def their_schema(place: DbTarget) -> list[tuple[Any, ...]]:
    if place.path is None:
        return (
            place.execute(
                "SELECT table_name, column_name, data_type, is_nullable, column_default"
                " FROM information_schema.columns"
                " WHERE table_name IN ('servers', 'remediation_actions', 'alerts')"
                " ORDER BY table_name, ordinal_position"
            )
            + place.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes"
                " WHERE tablename IN ('servers', 'remediation_actions', 'alerts')"
                " ORDER BY indexname"
            )
            + place.execute(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
                " FROM pg_constraint WHERE conrelid::regclass::text"
                " IN ('servers', 'remediation_actions', 'alerts') ORDER BY conname"
            )
        )
    path = place.path
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE tbl_name IN ('servers', 'remediation_actions', 'alerts') ORDER BY type, name"
        ).fetchall()
    finally:
        conn.close()


def query(place: DbTarget, sql: str) -> list[tuple[Any, ...]]:
    """Rows as tuples, stored times in HomelabCmd's SQLite text form (DbTarget.rows)."""
    return [tuple(row.values()) for row in place.rows(sql)]


def sqlite_checks(place: DbTarget) -> None:
    """SQLite's own soundness checks; PostgreSQL's server keeps its own."""
    if place.path is not None:
        assert query(place, "PRAGMA integrity_check") == [("ok",)]
        assert query(place, "PRAGMA foreign_key_check(remediation_actions)") == []


# A HomelabCmd database: on SQLite with and without its `alerts` table, on PostgreSQL
# (where its foreign key needs that table). Overrides conftest's `backend`.
@pytest.fixture(params=["sqlite-no-alerts-table", "sqlite-with-alerts-table", "postgresql"])
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(shape: str) -> str:
    return shape.split("-")[0]


@pytest.fixture
def homelab(
    shape: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[DbTarget]:
    if backend == "sqlite":
        path = tmp_path / "data" / "homelab.db"
        path.parent.mkdir()
        build(path, with_alerts=shape == "sqlite-with-alerts-table")
        yield DbTarget(backend, path=path)
        return
    server = request.getfixturevalue("pg_server")
    url = server.fresh(empty=True)
    build_pg(url)
    yield DbTarget(backend, url=url)
    server.drop_url(url)


@pytest.fixture
def opened(homelab: DbTarget) -> Iterator[tuple[Database, ApprovalService]]:
    db = homelab.open()
    yield db, ApprovalService(db, clock=lambda: NOW)
    db.close()


def test_list_reads_homelabcmd_rows(opened: tuple[Database, ApprovalService]) -> None:
    _, service = opened
    page = service.list_actions()
    assert [a.id for a in page.rows] == [5, 4, 1, 2, 3]  # oldest first
    assert page.counts == {"pending": 3, "rejected": 1, "completed": 1}
    assert page.pending == 3
    first = service.get_action(1)
    assert first.created_at == datetime(2026, 11, 27, 5, 2, 8, 485256, tzinfo=UTC)
    assert first.server_label == "PI-4"
    assert first.server_paused is True
    assert service.get_action(3).created_at == datetime(2026, 11, 27, 5, 4, tzinfo=UTC)
    rejected = service.get_action(4)
    assert rejected.rejected_at == datetime(2026, 11, 26, 21, 5, 0, 123456, tzinfo=UTC)
    assert rejected.server_label == "nas.lan"  # no display_name: the hostname
    for action in page.rows:
        for moment in (action.created_at, action.approved_at, action.completed_at):
            assert moment is None or moment.tzinfo is UTC
    pending = service.list_actions(ActionQuery(statuses=(ActionStatus.PENDING,), search="nginx"))
    assert [a.id for a in pending.rows] == [1]


def test_servers_read_from_homelabcmd(opened: tuple[Database, ApprovalService]) -> None:
    _, service = opened
    servers = {s.id: s for s in service.list_servers()}
    assert servers["pi-4"].is_paused is True
    assert servers["pi-4"].paused_at == datetime(2026, 11, 27, 5, 2, 8, 394214, tzinfo=UTC)
    assert servers["nas"].is_paused is False
    assert servers["nas"].paused_at is None


def test_decisions_work_in_place(
    homelab: DbTarget, opened: tuple[Database, ApprovalService]
) -> None:
    _, service = opened
    schema_before = their_schema(homelab)

    approved = service.approve(1, "alice")
    rejected = service.reject(2, "alice", "  not during the day  ")
    cancelled = service.cancel(3, "alice")

    assert (approved.status, approved.approved_by, approved.approved_at) == (
        "approved",
        "alice",
        NOW,
    )
    assert rejected.rejection_reason == "not during the day"
    assert (cancelled.status, cancelled.exit_code, cancelled.stderr) == (
        "failed",
        -1,
        "Action cancelled by user",
    )
    # Stored in HomelabCmd's own format, so HomelabCmd reads it back.
    assert query(
        homelab,
        "SELECT id, status, approved_at, approved_by, rejected_at, rejected_by, "
        "rejection_reason, completed_at, exit_code, stderr FROM remediation_actions "
        "WHERE id IN (1, 2, 3) ORDER BY id",
    ) == [
        (1, "approved", "2026-11-27 10:02:00.000000", "alice", None, None, None, None, None,
         None),
        (2, "rejected", None, None, "2026-11-27 10:02:00.000000", "alice",
         "not during the day", None, None, None),
        (3, "failed", None, None, None, None, None, "2026-11-27 10:02:00.000000", -1,
         "Action cancelled by user"),
    ]  # fmt: skip
    assert query(
        homelab, "SELECT action_id, from_status, to_status, actor, at, reason FROM action_events"
    ) == [
        (1, "pending", "approved", "alice", "2026-11-27 10:02:00.000000", None),
        (2, "pending", "rejected", "alice", "2026-11-27 10:02:00.000000", "not during the day"),
        (3, "pending", "failed", "alice", "2026-11-27 10:02:00.000000", "cancelled"),
    ]
    assert their_schema(homelab) == schema_before
    sqlite_checks(homelab)


def test_conflicts_name_homelabcmds_decider(opened: tuple[Database, ApprovalService]) -> None:
    _, service = opened
    with pytest.raises(InvalidTransition) as caught:
        service.approve(4, "alice")
    assert caught.value.message == (
        "cannot approve action 4: already rejected by dashboard at 2026-11-26 21:05 UTC"
    )
    with pytest.raises(InvalidTransition, match=r"already completed \(approved by auto"):
        service.cancel(5, "alice")


def test_new_actions_and_maintenance_mode_work_in_place(
    homelab: DbTarget, opened: tuple[Database, ApprovalService]
) -> None:
    _, service = opened
    created = service.create_action("pi-4", "restart_service", "sshd", actor="alice")
    assert created.status == "pending"
    with pytest.raises(InvalidTransition, match="already pending"):
        service.create_action("pi-4", "restart_service", "nginx", actor="alice")
    service.set_paused("nas", True)
    assert service.create_action("nas", "clear_logs", actor="alice").status == "pending"
    service.set_paused("nas", False)
    assert service.create_action("nas", "apt_update", actor="alice").status == "approved"
    assert query(homelab, "SELECT is_paused, paused_at FROM servers WHERE id = 'nas'") == [
        (0, None)
    ]
    sqlite_checks(homelab)


def test_adding_a_server_fails_with_a_clear_message(
    homelab: DbTarget, opened: tuple[Database, ApprovalService]
) -> None:
    _, service = opened
    before = query(homelab, "SELECT * FROM servers ORDER BY id")
    with pytest.raises(StorageError) as caught:
        service.add_server("pi-5", "pi5.lan")
    message = caught.value.message
    assert "cannot add servers to this database" in message
    assert "HomelabCmd" in message
    # The server's own reason, in its own words: SQLite's "NOT NULL constraint failed",
    # PostgreSQL's "violates not-null constraint"; both name the column.
    assert ("NOT NULL" if homelab.path is not None else "violates not-null constraint") in message
    assert "machine_type" in message
    assert "\n" not in message
    assert "Traceback" not in message
    assert query(homelab, "SELECT * FROM servers ORDER BY id") == before


def test_their_schema_is_unchanged_and_ours_is_added(homelab: DbTarget) -> None:
    before = their_schema(homelab)
    db = homelab.open()
    try:
        service = ApprovalService(db, clock=lambda: NOW)
        service.approve(1, "alice")
        service.create_action("pi-4", "restart_service", "sshd", actor="alice")
    finally:
        db.close()
    assert their_schema(homelab) == before
    if homelab.path is None:
        tables = {
            name
            for (name,) in homelab.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        assert {"action_events", "approvals_schema"} <= tables
        triggers = {
            name
            for (name,) in homelab.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
                " AND tgrelid = 'action_events'::regclass"
            )
        }
        assert {"action_events_append_only", "action_events_no_truncate"} <= triggers
        return
    ours = {
        (kind, name)
        for kind, name in query(
            homelab,
            "SELECT type, name FROM sqlite_master "
            "WHERE tbl_name NOT IN ('servers', 'remediation_actions', 'alerts')",
        )
    }
    assert ("table", "action_events") in ours
    assert ("table", "approvals_schema") in ours
    assert ("trigger", "action_events_no_update") in ours
    assert ("trigger", "action_events_no_delete") in ours
    # Their journal mode is theirs to choose: we do not switch it to WAL.
    assert query(homelab, "PRAGMA journal_mode") == [("delete",)]


def test_foreign_keys_stay_on_when_every_parent_table_exists(tmp_path: Path) -> None:
    path = tmp_path / "homelab.db"
    build(path, with_alerts=True)
    db = open_database(path)
    try:
        assert db.foreign_keys_off_reason is None
        with db.reading() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.close()


def test_foreign_keys_to_a_missing_table_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "homelab.db"
    build(path, with_alerts=False)
    db = open_database(path)
    try:
        assert db.foreign_keys_off_reason is not None
        assert "alerts" in db.foreign_keys_off_reason
        # The key the service relies on is still enforced, by the service.
        with pytest.raises(Exception, match="not found"):
            ApprovalService(db).create_action("ghost", "clear_logs", actor="alice")
    finally:
        db.close()


def test_homelabcmd_database_opened_read_only(homelab: DbTarget) -> None:
    before = homelab.dump()
    file_before = homelab.path.read_bytes() if homelab.path is not None else None
    db = homelab.open(read_only=True)
    try:
        service = ApprovalService(db)
        assert service.list_actions().total == 5
        with pytest.raises(StorageError, match="read-only"):
            service.approve(1, "alice")
        # Our tables do not exist yet and may not be created: reading them says so.
        with pytest.raises(StorageError, match="no approvals tables"):
            service.list_events()
    finally:
        db.close()
    assert homelab.dump() == before
    if homelab.path is not None:
        assert homelab.path.read_bytes() == file_before
        assert not homelab.path.with_name("homelab.db-journal").exists()
