"""Opening databases: folders, file modes, pragmas, odd paths, the append-only audit trail,
schema versions, read-only opens and hostile bytes. Real files, inspected with plain sqlite3."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from homelab_approvals.domain.damaged import DamagedTime, problem_of
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import Database, open_database
from homelab_approvals.storage.paths import DB_ENV, resolve_db_path
from homelab_approvals.storage.schema import SCHEMA_VERSION


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@contextmanager
def opened(path: Path, **kwargs: bool) -> Iterator[Database]:
    db = open_database(path, **kwargs)
    try:
        yield db
    finally:
        db.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def write_something(db: Database) -> None:
    ApprovalService(db).add_server("pi-4", "pi4.lan", paused=True)


def pragma(db: Database, name: str) -> object:
    with db.reading() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# -- creation, folders and modes ---------------------------------------------------------------


def test_missing_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "c" / "approvals.db"
    with opened(path) as db:
        assert db.created
    assert path.is_file()
    assert mode(path.parent) == 0o700


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o000])
def test_new_database_and_its_wal_and_shm_are_owner_only(tmp_path: Path, mask: int) -> None:
    path = tmp_path / "data" / "approvals.db"
    with umask(mask), opened(path) as db:
        write_something(db)
        wal, shm = sidecars(path)
        assert wal.exists()
        assert shm.exists()
        assert {mode(path), mode(wal), mode(shm)} == {0o600}
    assert mode(path.parent) == 0o700


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_group_shared_database_is_group_writable(tmp_path: Path, mask: int) -> None:
    path = tmp_path / "shared" / "approvals.db"
    with umask(mask), opened(path, group_shared=True) as db:
        write_something(db)
        wal, shm = sidecars(path)
        assert {mode(path), mode(wal), mode(shm)} == {0o660}
    # The group must be able to create -wal and -shm in the folder too.
    assert mode(path.parent) == 0o770


def test_an_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with opened(folder / "approvals.db"):
        pass
    assert mode(folder) == 0o755
    assert mode(folder / "approvals.db") == 0o600


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "approvals.db"
    with opened(path):
        pass
    path.chmod(0o640)
    with opened(path) as db:
        write_something(db)
    assert mode(path) == 0o640


def test_default_location_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV, raising=False)
    default = resolve_db_path(None)
    assert default.name == "approvals.db"
    assert "homelab-approvals" in default.parts
    monkeypatch.setenv(DB_ENV, str(tmp_path / "env.db"))
    assert resolve_db_path(None) == tmp_path / "env.db"
    assert resolve_db_path(str(tmp_path / "cli.db")) == tmp_path / "cli.db"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_db_path("~/x.db") == tmp_path / "x.db"


def test_a_home_folder_that_does_not_exist_is_a_clear_error() -> None:
    with pytest.raises(StorageError, match="home folder"):
        open_database(resolve_db_path("~no-such-user-here/approvals.db"))


@pytest.mark.parametrize(
    "name", ["with space.db", "q?mode=ro.db", "hash#x.db", "pct%20.db", "ünï🙂.db", "x.db?"]
)
def test_odd_file_names_open_exactly_that_file(tmp_path: Path, name: str) -> None:
    """SQLAlchemy URLs and SQLite URIs give '?', '#' and '%' meanings; a path must not."""
    path = tmp_path / name
    with opened(path) as db:
        write_something(db)
        assert not db.read_only
    with opened(path, read_only=True) as db:
        assert [s.id for s in ApprovalService(db).list_servers()] == ["pi-4"]
    leftovers = {p.name for p in tmp_path.iterdir()} - {name, f"{name}-wal", f"{name}-shm"}
    assert leftovers == set()


# -- pragmas and journal mode ------------------------------------------------------------------


def test_pragmas_on_every_connection(db_path: Path) -> None:
    with opened(db_path) as db:
        assert pragma(db, "foreign_keys") == 1
        busy_timeout = pragma(db, "busy_timeout")
        assert isinstance(busy_timeout, int)
        assert busy_timeout >= 5000
        assert pragma(db, "synchronous") == 1  # NORMAL
        assert pragma(db, "journal_mode") == "wal"
        # A second, concurrent connection gets them too.
        with db.reading() as first, db.reading() as second:
            assert first.connection.dbapi_connection is not second.connection.dbapi_connection
            assert second.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert second.exec_driver_sql("PRAGMA busy_timeout").scalar() == busy_timeout


def test_someone_elses_journal_mode_is_left_alone(db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    with opened(db_path) as db:
        write_something(db)
        assert pragma(db, "journal_mode") == "delete"
        assert not db.created


def test_an_empty_file_becomes_a_new_wal_database(db_path: Path) -> None:
    """What a creator killed between creating the file and writing the schema leaves."""
    db_path.touch()
    with opened(db_path) as db:
        assert pragma(db, "journal_mode") == "wal"
        write_something(db)


# -- not a database ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        os.urandom(4096),
        b"SQLite format 3\x00" + os.urandom(4080),  # the right magic, garbage after it
        b"hello, I am a text file\n",
        b"\x00" * 100,
    ],
    ids=["random", "magic-then-garbage", "text", "zeros"],
)
@pytest.mark.parametrize("read_only", [False, True])
def test_not_a_database_is_one_clear_line_and_the_file_is_untouched(
    tmp_path: Path, content: bytes, read_only: bool
) -> None:
    path = tmp_path / "approvals.db"
    path.write_bytes(content)
    before = files_in(tmp_path)

    with pytest.raises(StorageError) as caught:
        open_database(path, read_only=read_only)

    message = caught.value.message
    assert "\n" not in message
    assert str(path) in message
    assert message == f"not a SQLite database: {path}" or "damaged" in message
    assert files_in(tmp_path) == before


def test_random_bytes_say_exactly_not_a_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "approvals.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StorageError) as caught:
        open_database(path)
    assert caught.value.message == f"not a SQLite database: {path}"
    assert caught.value.code == "DATABASE_ERROR"


def test_a_folder_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="the database path is a folder") as refused:
        open_database(tmp_path)
    assert refused.value.message.endswith(f"(name a file, e.g. {tmp_path}/approvals.db)")
    assert list(tmp_path.iterdir()) == []


def test_missing_database_with_read_only_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "approvals.db"
    with pytest.raises(StorageError, match="does not exist"):
        open_database(path, read_only=True)
    assert not path.parent.exists()


def test_a_path_through_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot"):
        open_database(tmp_path / "file" / "approvals.db")


# -- urls --------------------------------------------------------------------------------------


def test_sqlite_url_is_a_file_like_db(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "u.db"
    with opened_url(f"sqlite:///{path}") as db:
        write_something(db)
        assert pragma(db, "journal_mode") == "wal"
    assert mode(path) == 0o600
    with opened_url(f"sqlite:///{path}?mode=ro") as db:
        assert db.read_only


@contextmanager
def opened_url(url: str) -> Iterator[Database]:
    db = open_database(url=url)
    try:
        yield db
    finally:
        db.close()


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("not a url", "not a valid database URL"),
        ("nosuchdialect://x/y", "database error"),
        ("postgresql+nosuchdriver://u:secret@localhost/db", "database error"),
        ("sqlite:///a%00b.db", "not a valid database path"),
    ],
)
def test_bad_urls_are_one_line_and_hide_passwords(url: str, hint: str) -> None:
    with pytest.raises(StorageError) as caught:
        open_database(url=url)
    assert hint in caught.value.message
    assert "secret" not in caught.value.message
    assert "\n" not in caught.value.message


def test_a_missing_driver_is_a_storage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "psycopg2", None)  # as if it were not installed
    with pytest.raises(StorageError, match="no database driver") as caught:
        open_database(url="postgresql+psycopg2://u:secret@localhost/db")
    assert "secret" not in caught.value.message


# -- schema versions ---------------------------------------------------------------------------


def test_schema_version_is_recorded(db_path: Path) -> None:
    with opened(db_path):
        pass
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT id, version FROM approvals_schema").fetchall() == [
            (1, SCHEMA_VERSION)
        ]


@pytest.mark.parametrize("read_only", [False, True])
def test_a_newer_schema_is_refused_and_nothing_changes(db_path: Path, read_only: bool) -> None:
    with opened(db_path) as db:
        write_something(db)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE approvals_schema SET version = ?", (SCHEMA_VERSION + 1,))
        # Drop a trigger too: a refused open must not "repair" anything either.
        conn.execute("DROP TRIGGER action_events_no_delete")
    conn.close()
    before = files_in(db_path.parent)

    with pytest.raises(StorageError) as caught:
        open_database(db_path, read_only=read_only)

    message = caught.value.message
    assert f"version {SCHEMA_VERSION + 1} is newer" in message
    assert "upgrade homelab-approvals" in message
    assert str(db_path) in message
    assert files_in(db_path.parent) == before


def test_an_older_schema_is_brought_up_to_date(db_path: Path) -> None:
    with opened(db_path):
        pass
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE approvals_schema SET version = 0")
    conn.close()
    with opened(db_path):
        pass
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT version FROM approvals_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]


def test_missing_tables_of_ours_are_created_and_existing_rows_kept(db_path: Path) -> None:
    with opened(db_path) as db:
        ApprovalService(db).add_server("pi-4", "pi4.lan", paused=True)
        ApprovalService(db).create_action("pi-4", "clear_logs", actor="bob")
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TABLE action_events")
        conn.execute("DROP TABLE approvals_schema")
    conn.close()
    with opened(db_path) as db:
        service = ApprovalService(db)
        assert service.get_action(1).status == "pending"
        assert service.list_events() == []
        service.approve(1, "alice")
        assert [e.to_status for e in service.list_events()] == ["approved"]


# -- the audit trail is append-only in the database itself -------------------------------------


def audit(db_path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT * FROM action_events ORDER BY id").fetchall()


@pytest.fixture
def with_history(db_path: Path) -> Path:
    with opened(db_path) as db:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", paused=True)
        action = service.create_action("pi-4", "restart_service", "nginx", actor="bob")
        service.reject(action.id, "alice", "not now")
    return db_path


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE action_events SET actor = 'mallory'",
        "UPDATE action_events SET reason = NULL WHERE id = 2",
        "DELETE FROM action_events",
        "DELETE FROM action_events WHERE id = 1",
        "INSERT OR REPLACE INTO action_events (id, action_id, to_status, actor, at) "
        "VALUES (1, 1, 'approved', 'mallory', '2026-01-01 00:00:00.000000')",
        "REPLACE INTO action_events (id, action_id, to_status, actor, at) "
        "VALUES (2, 1, 'approved', 'mallory', '2026-01-01 00:00:00.000000')",
    ],
)
def test_history_cannot_be_rewritten_from_a_plain_sqlite3_session(
    with_history: Path, sql: str
) -> None:
    before = audit(with_history)
    conn = sqlite3.connect(with_history)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
        conn.rollback()
    finally:
        conn.close()
    assert audit(with_history) == before


def test_appending_stays_possible(with_history: Path) -> None:
    with sqlite3.connect(with_history) as conn:
        conn.execute(
            "INSERT INTO action_events (action_id, from_status, to_status, actor, at) "
            "VALUES (1, 'rejected', 'rejected', 'note', '2026-11-27 10:00:00.000000')"
        )
    conn.close()
    assert len(audit(with_history)) == 3


def event_indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'action_events'"
        ).fetchall()
    conn.close()
    return {name for (name,) in rows}


def test_events_are_indexed_by_action_only_and_an_older_time_index_is_left_alone(
    with_history: Path,
) -> None:
    # Every index is one more page written by each decision's commit.
    assert event_indexes(with_history) == {"ix_action_events_action_id"}
    # Databases made by earlier versions have an index on `at`: never touched, and
    # decisions and `events --since` work the same with it.
    with sqlite3.connect(with_history) as conn:
        conn.execute("CREATE INDEX ix_action_events_at ON action_events (at)")
    conn.close()
    later = datetime(2030, 1, 1, tzinfo=UTC)  # after with_history's events
    with opened(with_history) as db:
        service = ApprovalService(db, clock=lambda: later)
        action = service.create_action("pi-4", "clear_logs", actor="bob")
        service.approve(action.id, "alice")
        recent = service.list_events(since=later)
    assert [(e.action_id, e.to_status) for e in recent] == [
        (action.id, "pending"),
        (action.id, "approved"),
    ]
    assert event_indexes(with_history) == {"ix_action_events_action_id", "ix_action_events_at"}


def test_missing_triggers_are_put_back_on_open(with_history: Path) -> None:
    with sqlite3.connect(with_history) as conn:
        conn.execute("DROP TRIGGER action_events_no_update")
        conn.execute("DROP TRIGGER action_events_no_delete")
        conn.execute("DROP TRIGGER action_events_no_replace")
    conn.close()

    with opened(with_history):
        pass

    conn = sqlite3.connect(with_history)
    try:
        names = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        assert names == {
            "action_events_no_update",
            "action_events_no_delete",
            "action_events_no_replace",
        }
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM action_events")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE action_events SET actor = 'x'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(
                "REPLACE INTO action_events (id, action_id, to_status, actor, at) "
                "VALUES (1, 1, 'approved', 'x', '2026-01-01 00:00:00.000000')"
            )
    finally:
        conn.close()


def test_opening_read_only_does_not_add_triggers(with_history: Path) -> None:
    with sqlite3.connect(with_history) as conn:
        conn.execute("DROP TRIGGER action_events_no_delete")
    conn.close()
    before = files_in(with_history.parent)
    with opened(with_history, read_only=True) as db:
        assert len(ApprovalService(db).list_events()) == 2
    after = files_in(with_history.parent)
    assert after[with_history.name] == before[with_history.name]


def test_every_transition_leaves_exactly_one_event(db_path: Path) -> None:
    with opened(db_path) as db:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", paused=True)
        service.add_server("nas", "nas.lan")
        a = service.create_action("pi-4", "restart_service", "a", actor="bob")
        b = service.create_action("pi-4", "restart_service", "b", actor="bob")
        c = service.create_action("pi-4", "restart_service", "c", actor="bob")
        d = service.create_action("nas", "clear_logs", actor="cron")
        service.approve(a.id, "alice")
        service.reject(b.id, "alice", "no")
        service.cancel(c.id, "carol")
        service.cancel(d.id, "carol")
        service.cancel(a.id, "carol")
        trail = [(e.action_id, e.from_status, e.to_status, e.actor) for e in service.list_events()]
    assert trail == [
        (a.id, None, "pending", "bob"),
        (b.id, None, "pending", "bob"),
        (c.id, None, "pending", "bob"),
        (d.id, None, "pending", "cron"),
        (d.id, "pending", "approved", "auto"),
        (a.id, "pending", "approved", "alice"),
        (b.id, "pending", "rejected", "alice"),
        (c.id, "pending", "failed", "carol"),
        (d.id, "approved", "failed", "carol"),
        (a.id, "approved", "failed", "carol"),
    ]


# -- read-only opens ---------------------------------------------------------------------------


def test_read_only_open_reads_and_refuses_writes(with_history: Path) -> None:
    before = files_in(with_history.parent)[with_history.name]
    with opened(with_history, read_only=True) as db:
        assert db.read_only
        assert db.read_only_reason == "--read-only was given"
        service = ApprovalService(db)
        assert service.get_action(1).status == "rejected"
        for call in (
            lambda: service.approve(1, "alice"),
            lambda: service.cancel(1, "alice"),
            lambda: service.create_action("pi-4", "clear_logs", actor="bob"),
            lambda: service.add_server("x", "x.lan"),
            lambda: service.set_paused("pi-4", False),
        ):
            with pytest.raises(StorageError, match="read-only") as caught:
                call()
            assert "\n" not in caught.value.message
    assert files_in(with_history.parent)[with_history.name] == before


# -- hostile data in existing rows -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("garbage", "garbage"),
        ("2026-13-45 99:99:99", "2026-13-45 99:99:99"),
        (12345, "12345"),
        (b"\x00\xff", "\u27e82 bytes\u27e9"),
    ],
)
def test_an_unreadable_timestamp_is_shown_as_stored_and_blocks_nothing(
    with_history: Path, value: object, stored: str
) -> None:
    """Issue 16: a time that cannot be read is kept as its stored text, marked, and the
    action can still be decided (its status is valid)."""
    with sqlite3.connect(with_history) as conn:
        conn.execute(
            "INSERT INTO remediation_actions (server_id, action_type, status, command, "
            "created_at, created_by) VALUES ('pi-4', 'clear_logs', 'pending', "
            "'journalctl --vacuum-time=7d', ?, 'hand')",
            (value,),
        )
    conn.close()
    with opened(with_history) as db:
        service = ApprovalService(db)
        action = service.get_action(2)
        assert isinstance(action.created_at, DamagedTime)
        assert action.created_at.stored == stored
        assert problem_of(action.created_at) == "not a date-time"
        decided = service.approve(2, "alice")
        assert decided.status == "approved"
        assert isinstance(decided.created_at, DamagedTime)
        # Other rows still read fine.
        assert service.get_action(1).status == "rejected"


def test_change_token_moves_when_another_connection_commits(with_history: Path) -> None:
    with opened(with_history) as db:
        first = db.change_token()
        assert db.change_token() == first
        with sqlite3.connect(with_history) as conn:
            conn.execute("UPDATE servers SET is_paused = 0")
        conn.close()
        assert db.change_token() != first


@pytest.mark.skipif(
    os.geteuid() == 0, reason="root writes anything; test_faults.py covers this as nobody"
)
def test_unwritable_file_and_folder_open_read_only_and_create_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    path = folder / "approvals.db"
    with opened(path) as db:
        write_something(db)
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        before = files_in(folder)
        with opened(path) as db:
            assert db.read_only
            assert db.snapshot  # no -shm to share, and none may be created
            assert [s.id for s in ApprovalService(db).list_servers()] == ["pi-4"]
            with pytest.raises(StorageError, match="read-only"):
                ApprovalService(db).set_paused("pi-4", False)
        assert files_in(folder) == before
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)


@pytest.mark.parametrize(("group_shared", "mode"), [(False, 0o600), (True, 0o660)])
def test_a_pre_existing_empty_file_gets_a_new_databases_mode(
    tmp_path: Path, group_shared: bool, mode: int
) -> None:
    """Issue 16: an empty 0666 file given as --db used to stay 0666 as a full database."""
    path = tmp_path / "empty.db"
    path.touch()
    os.chmod(path, 0o666)
    open_database(path, group_shared=group_shared).close()
    assert stat.S_IMODE(path.stat().st_mode) == mode
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM approvals_schema").fetchone() == (1,)
    conn.close()


def test_an_empty_file_opened_read_only_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    os.chmod(path, 0o644)
    with contextlib.suppress(StorageError):
        open_database(path, read_only=True).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def _open_files(path: Path) -> list[str]:
    """This process's open files that are the database or its -wal/-shm."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(str(path)):
                found.append(target)
    return found


def test_a_closed_database_opens_no_connection_again(db_path: Path) -> None:
    """A live refresh may ask a closed database for its change token once more (the
    console is being handed a reopened one); a connection opened then would keep a
    replaced file's lost -wal index alive, so the file could not be opened again."""
    db = open_database(db_path)
    service = ApprovalService(db)
    service.add_server("pi-4", "pi4.lan", paused=True)
    service.create_action("pi-4", "restart_service", "nginx", actor="bob")
    before = service.change_token()
    with db.reading() as conn:  # a read still running when the database is closed
        db.close()
        conn.exec_driver_sql("SELECT count(*) FROM remediation_actions").fetchall()
    assert _open_files(db_path) == []  # that read's connection was closed on its return
    assert service.change_token() != before  # "closed" is a token of its own
    assert service.change_token() == service.change_token()
    with pytest.raises(StorageError, match="the database is closed"):
        service.approve(1, "alice")
    assert _open_files(db_path) == []
