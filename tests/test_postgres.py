"""What only PostgreSQL has: the server enforces the audit trail, schema creation under
an advisory lock, the change feed by LISTEN/NOTIFY, reconnecting after the server went
away, roles without write grants, and errors that never show the password."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from homelab_approvals.cli.main import main
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.errors import ConstraintRefused, DatabaseUnreachable, StorageError
from homelab_approvals.domain.probes import ProbeRun, probe_for
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.executions import Claim, ExecutionService
from homelab_approvals.service.preview_settings import PlanCheck
from homelab_approvals.storage import Database, open_database
from homelab_approvals.storage.copying import TABLES as COPIED_TABLES
from homelab_approvals.storage.postgres.backend import LISTENER_NAME
from homelab_approvals.storage.postgres.errors import translate
from homelab_approvals.storage.version import SCHEMA_VERSION
from pg_support import PgServer, PrivateCluster

TRANSCRIPTS = Path(__file__).parent / "transcripts"
APT_PROBE = probe_for(ActionType.APT_UPGRADE_ALL, None)
assert APT_PROBE is not None


def transcript(name: str) -> str:
    return (TRANSCRIPTS / name).read_text()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    url = pg_server.fresh()
    yield url
    pg_server.drop_url(url)


@pytest.fixture
def pg_service(pg_url: str) -> Iterator[ApprovalService]:
    db = open_database(url=pg_url)
    service = ApprovalService(db)
    service.add_server("pi-4", "pi4.lan", paused=True)
    yield service
    db.close()


def wait_for(condition: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


# -- the audit trail, enforced by the server ---------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE action_events SET actor = 'mallory'", "DELETE FROM action_events",
     "TRUNCATE action_events"],
    ids=["update", "delete", "truncate"],
)  # fmt: skip
def test_the_server_refuses_rewriting_the_audit_trail(
    pg_service: ApprovalService, pg_url: str, statement: str
) -> None:
    pg_service.create_action("pi-4", "restart_service", "nginx", actor="bob")
    # Any client, not just ours: plain psycopg as the superuser.
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(statement)
    assert caught.value.sqlstate == "23001"  # restrict_violation
    assert "append-only" in str(caught.value)
    with pytest.raises(ConstraintRefused), pg_service.db.writing() as conn:
        conn.exec_driver_sql(statement)
    assert len(pg_service.list_events()) == 1


# -- schema ------------------------------------------------------------------------------------


def test_the_schema_is_created_with_its_version_and_triggers(pg_server: PgServer) -> None:
    url = pg_server.fresh(empty=True)
    open_database(url=url).close()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT id, version FROM approvals_schema").fetchall() == [
            (1, SCHEMA_VERSION)
        ]
        triggers = {
            row[0] for row in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        }
        columns = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'remediation_actions'"
            ).fetchall()
        )
    assert {"action_events_append_only", "action_events_no_truncate"} <= triggers
    assert {"remediation_actions_notify", "action_events_notify"} <= triggers
    # HomelabCmd's shape: naive UTC date-times, as its SQLAlchemy models declare them.
    assert columns["created_at"] == "timestamp without time zone"


def test_eight_openers_of_one_empty_database_all_succeed(pg_server: PgServer) -> None:
    url = pg_server.fresh(empty=True)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            barrier.wait(30)
            open_database(url=url).close()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM approvals_schema").fetchone() == (1,)
        names = conn.execute(
            "SELECT tgname, count(*) FROM pg_trigger WHERE NOT tgisinternal GROUP BY tgname"
        ).fetchall()
    assert names
    assert all(count == 1 for _, count in names)


def test_a_homelabcmd_database_gets_only_our_tables(pg_server: PgServer) -> None:
    url = pg_server.fresh(empty=True)
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE servers (id VARCHAR(100) PRIMARY KEY, hostname VARCHAR(255) NOT NULL,"
            " display_name VARCHAR(255), is_paused BOOLEAN NOT NULL, paused_at TIMESTAMP,"
            " machine_type VARCHAR(20) NOT NULL DEFAULT 'server')"
        )
        conn.execute(
            "INSERT INTO servers (id, hostname, is_paused) VALUES ('pi-4', 'pi4.lan', true)"
        )
    db = open_database(url=url)
    try:
        assert ApprovalService(db).get_server("pi-4").is_paused
    finally:
        db.close()
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'servers'"
        ).fetchone()
    assert columns == (6,)  # untouched: HomelabCmd's own columns stay as they were


# -- the change feed ---------------------------------------------------------------------------


def test_a_notification_moves_the_change_token(pg_service: ApprovalService, pg_url: str) -> None:
    db = pg_service.db
    before = db.change_token()
    assert db.change_token() == before  # nothing happened: nothing moves
    other = open_database(url=pg_url)  # another host's console, say
    try:
        ApprovalService(other).create_action("pi-4", "restart_service", "nginx", actor="bob")
    finally:
        other.close()
    wait_for(lambda: db.change_token() != before, "the notification never arrived")


def test_a_fresh_token_counts_every_commit_that_completed_before_it(
    pg_service: ApprovalService, pg_url: str
) -> None:
    """A notification reaches the listener a moment after its commit; a fresh token (one
    round trip) never misses one that completed before it was asked for. The console's
    live refresh relies on it to know a window it read is already stale."""
    db = pg_service.db
    before = db.change_token()
    other = open_database(url=pg_url)
    try:
        for unit in ("nginx", "sshd", "cron", "docker", "smbd"):
            ApprovalService(other).create_action("pi-4", "restart_service", unit, actor="bob")
            now = db.change_token(fresh=True)
            assert now != before
            before = now
    finally:
        other.close()
    assert db.change_token(fresh=True) == before  # nothing more happened: nothing moves


def test_live_output_and_previews_notify_too(pg_service: ApprovalService, pg_url: str) -> None:
    """A run's output, a preview and a request for one move the token at once, as any
    commit does on SQLite: `show --follow`, the console's detail and a waiting executor
    do not wait for the re-check."""
    action = pg_service.create_action("pi-4", "apt_upgrade_all", actor="bot")
    db = pg_service.db
    writes = [
        lambda other: other.add_output(action.id, [("stdout", "Unpacking zip ...\n")]),
        lambda other: other.request_preview(action.id, "alice"),
        lambda other: other.record_preview(
            action.id, APT_PROBE, ProbeRun(0, transcript("apt-get-s-remove-zip.txt"), "")
        ),
    ]
    other_db = open_database(url=pg_url)
    try:
        other = ApprovalService(other_db)
        for write in writes:
            before = db.change_token()
            write(other)
            wait_for(lambda before=before: db.change_token() != before, "no notification", 2.5)
    finally:
        other_db.close()


def test_a_database_made_before_the_output_triggers_gets_them_without_a_repair(
    pg_url: str,
) -> None:
    """Only the audit trail's protections count as tampered with when missing; the change
    feed's newer triggers are simply added to a database made before them."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION approvals_notify_action() CASCADE")  # and its triggers
    db = open_database(url=pg_url)
    try:
        assert db.audit_repairs == []
        assert ApprovalService(db).list_events() == []  # no "audit restored" event
    finally:
        db.close()
    with psycopg.connect(pg_url) as conn:
        triggers = {row[0] for row in conn.execute("SELECT tgname FROM pg_trigger")}
    assert {"approval_output_chunks_notify", "approval_previews_notify"} <= triggers


def test_a_change_made_without_notifications_is_found_by_the_recheck(
    pg_url: str, pg_server: PgServer
) -> None:
    """--no-listen (or a pooler that drops LISTEN): polling alone still sees changes,
    including one HomelabCmd makes without an event row."""
    db = open_database(url=pg_url, listen=False)
    try:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", paused=True)
        action = service.create_action("pi-4", "restart_service", "nginx", actor="bob")
        service.approve(action.id, "alice")
        before = db.change_token()
        with psycopg.connect(pg_url) as conn:  # the agent: executing, no event
            conn.execute("UPDATE remediation_actions SET status = 'executing' WHERE id = %s",
                         (action.id,))  # fmt: skip
        wait_for(lambda: db.change_token() != before, "polling never saw the change", 15)
    finally:
        db.close()


def test_a_lost_listener_reconnects_and_the_token_moves(
    pg_service: ApprovalService, pg_url: str
) -> None:
    """A missed notification: the listening connection is killed; the next check says so
    once, then reconnects and the token has moved (the console reads the window again)."""
    db = pg_service.db
    before = db.change_token()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (LISTENER_NAME,),
        )
    outcomes: list[object] = []
    failures: list[str] = []

    def recovered() -> bool:
        try:
            outcomes.append(db.change_token())
        except StorageError as error:
            failures.append(error.message)
            return False
        return outcomes[-1] != before

    wait_for(recovered, "the listener never came back")
    assert all("unreachable" in message for message in failures), failures


def test_heartbeats_claims_and_plan_bindings_notify_too(
    pg_service: ApprovalService, pg_url: str
) -> None:
    """An executor's heartbeat and claim, and the plan an approval was bound to: the
    console shows them ("no executor", a run's age), and on SQLite any commit moves the
    token. Here each notifies, so a fresh token moves at once."""
    action = pg_service.create_action("pi-4", "apt_upgrade_all", actor="bot")
    db = pg_service.db
    writes = [
        "INSERT INTO executor_heartbeats (name, lease_seconds, beat_at, started_at)"
        " VALUES ('runner', 30, now(), now())",
        "UPDATE executor_heartbeats SET beat_at = now()",
        "INSERT INTO executor_claims (action_id, executor, claimed_at)"
        " VALUES (%(id)s, 'runner', now())",
        "INSERT INTO approval_plan_bindings (action_id, actor, at, digest, preview_id)"
        " VALUES (%(id)s, 'alice', now(), 'abc', 1)",
    ]
    with psycopg.connect(pg_url, autocommit=True) as conn:  # another host, no events
        for write in writes:
            before = db.change_token(fresh=True)
            conn.execute(write, {"id": action.id})
            assert db.change_token(fresh=True) != before, write


def test_a_preview_is_found_by_polling_alone(pg_url: str) -> None:
    """--no-listen: the re-check's statistics count our other tables too."""
    setup = open_database(url=pg_url)
    service = ApprovalService(setup)
    service.add_server("pi-4", "pi4.lan", paused=True)
    action = service.create_action("pi-4", "apt_upgrade_all", actor="bot")
    setup.close()  # its sessions end: their statistics are in before the first look
    db = open_database(url=pg_url, listen=False)
    try:
        before = db.change_token()
        with psycopg.connect(pg_url) as conn:  # its statistics are in when it ends
            conn.execute(
                "INSERT INTO approval_previews (action_id, taken_at, probe_command)"
                " VALUES (%s, now(), 'apt-get -s dist-upgrade')",
                (action.id,),
            )
        wait_for(lambda: db.change_token() != before, "polling never saw the preview", 15)
    finally:
        db.close()


# -- the server goes away ----------------------------------------------------------------------


def test_errors_are_one_line_and_never_show_the_password(pg_server: PgServer) -> None:
    good = pg_server.fresh()
    secret = good.split(":")[2].split("@")[0]
    wrong = good.replace(secret, "not-the-password")
    missing = good.rsplit("/", 1)[0] + "/no_such_database"
    down = "postgresql://approvals:" + secret + "@127.0.0.1:1/postgres"
    for url, words in ((wrong, "refused the login"), (missing, "does not exist"),
                       (down, "unreachable")):  # fmt: skip
        with pytest.raises(StorageError) as caught:
            open_database(url=url)
        message = caught.value.message
        assert words in message
        assert "\n" not in message
        assert secret not in message
        assert "not-the-password" not in message


def test_a_decision_while_the_server_is_down_fails_cleanly_and_recovers(
    private_pg: PrivateCluster,
) -> None:
    """On a server of the test's own: the shared one serves everybody else's tests."""
    url = private_pg.server.fresh()
    db = open_database(url=url)
    try:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", paused=True)
        action = service.create_action("pi-4", "restart_service", "nginx", actor="bob")
        service.change_token()  # the listener is connected too
        private_pg.stop()  # every connection in the pool is now dead
        with pytest.raises(DatabaseUnreachable) as caught:
            service.approve(action.id, "alice")
        assert "\n" not in caught.value.message
        with pytest.raises(DatabaseUnreachable):
            service.change_token()
        private_pg.start()
        # A closed pooled connection is replaced at checkout (opening.py): a restart
        # costs nothing more than reconnecting.
        view = service.approve(action.id, "alice")
        assert view.status == "approved"
        assert [e.to_status for e in service.list_events(action_id=action.id)] == [
            "pending",
            "approved",
        ]
        wait_for(lambda: _token_ok(db), "the change feed never came back")
    finally:
        if not private_pg.running():
            private_pg.start()
        db.close()
        private_pg.server.drop_url(url)


def _token_ok(db: Database) -> bool:
    try:
        db.change_token()
    except StorageError:
        return False
    return True


# -- read-only ---------------------------------------------------------------------------------


def test_a_role_with_select_only_opens_read_only(pg_service: ApprovalService, pg_url: str,
                                                 pg_server: PgServer) -> None:  # fmt: skip
    action = pg_service.create_action("pi-4", "restart_service", "nginx", actor="bob")
    database = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS approvals_reader")
        conn.execute("CREATE ROLE approvals_reader LOGIN PASSWORD 'reader-secret'")
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO approvals_reader").format(
            sql.Identifier(database)))  # fmt: skip
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO approvals_reader")
    try:
        reader = open_database(
            url=pg_server.url_for(database, user="approvals_reader", password="reader-secret")
        )
        try:
            assert reader.read_only
            assert "approvals_reader may not change" in str(reader.read_only_reason)
            assert ApprovalService(reader).get_action(action.id).status == "pending"
            with pytest.raises(StorageError, match="read-only"):
                ApprovalService(reader).approve(action.id, "alice")
        finally:
            reader.close()
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM approvals_reader")
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM approvals_reader").format(
                sql.Identifier(database)))  # fmt: skip
            conn.execute("DROP ROLE approvals_reader")


def test_read_only_is_enforced_by_the_server(pg_service: ApprovalService, pg_url: str) -> None:
    action = pg_service.create_action("pi-4", "restart_service", "nginx", actor="bob")
    reader = open_database(url=pg_url, read_only=True)
    try:
        assert reader.read_only_reason == "--read-only was given"
        with pytest.raises(StorageError, match="read-only"), reader.reading() as conn:
            conn.exec_driver_sql("UPDATE remediation_actions SET status = 'approved'")
    finally:
        reader.close()
    assert pg_service.get_action(action.id).status == "pending"


# -- errors by SQLSTATE ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sqlstate", "kind", "words"),
    [
        ("40001", "CONFLICT", "at the same moment"),
        ("40P01", "CONFLICT", "at the same moment"),
        ("55P03", "DATABASE_BUSY", "busy"),
        ("57P01", "DATABASE_ERROR", "unreachable"),
        ("28P01", "DATABASE_ERROR", "refused the login"),
        ("3D000", "DATABASE_ERROR", "does not exist"),
        ("25006", "DATABASE_ERROR", "read-only"),
        ("23505", "DATABASE_ERROR", "refused the change"),
    ],
)
def test_errors_are_classified_by_sqlstate(
    pg_url: str, sqlstate: str, kind: str, words: str
) -> None:
    """The server raises each SQLSTATE for real (a DO block), and it is worded by code."""
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute(
            sql.SQL("DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = {}; END $$").format(
                sql.Literal(sqlstate)
            )
        )
    mapped = translate(caught.value, "postgresql://u:***@h/db")
    assert mapped is not None
    assert mapped.code == kind
    assert words in mapped.message


def test_a_value_psycopg_refuses_to_send_is_no_lost_connection(pg_url: str) -> None:
    """Refused on our side (a NUL in text), the connection is fine: not "unreachable"."""
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT %s::text", ("a\x00b",))
    mapped = translate(caught.value, "postgresql://u:***@h/db")
    assert mapped is not None
    assert mapped.code == "DATABASE_ERROR"
    assert "unreachable" not in mapped.message
    assert "NUL" in mapped.message


# -- copy-to -----------------------------------------------------------------------------------


def _history(db: Database) -> tuple[list[object], list[object], list[object]]:
    service = ApprovalService(db)
    return (
        [tuple(s) for s in service.list_servers()],
        [tuple(a)[:19] for a in service.list_actions().rows],
        [tuple(e) for e in service.list_events()],
    )


def _filled(service: ApprovalService) -> None:
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    service.add_server("nas", "nas.lan", "NAS")
    first = service.create_action("pi-4", "restart_service", "nginx", actor="bob")
    second = service.create_action("pi-4", "clear_logs", actor="bob")
    service.create_action("nas", "apt_update", actor="bob")  # auto-approved
    service.approve(first.id, "alice")
    service.reject(second.id, "alice", "not now")


def test_copy_to_postgresql_and_back_keeps_ids_times_and_events(
    tmp_path: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    source_path = tmp_path / "source.db"
    source = open_database(source_path)
    _filled(ApprovalService(source))
    expected = _history(source)
    source.close()

    target = pg_server.fresh()
    assert main(["--db", str(source_path), "copy-to", target]) == 0
    assert "copied 2 servers, 3 actions and 6 events" in capsys.readouterr().out
    copied = open_database(url=target)
    try:
        assert _history(copied) == expected
        # New ids follow on from the copied ones.
        service = ApprovalService(copied)
        fresh = service.create_action("pi-4", "apt_update", actor="bob")
        assert fresh.id == 4
        assert service.list_events()[-1].id == 7
    finally:
        copied.close()

    back = tmp_path / "back.db"
    assert main(["--database-url", target, "copy-to", f"sqlite:///{back}"]) == 0
    returned = open_database(back)
    try:
        servers, actions, events = _history(returned)
        assert (servers, actions[:3], events[:6]) == expected
    finally:
        returned.close()


def _state(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every row of each of our tables that copy-to copies, by primary key."""
    from sqlalchemy import inspect, select

    found = {}
    with db.reading() as conn:
        present = set(inspect(conn).get_table_names())
        for table in COPIED_TABLES:
            if table.name in present:
                stmt = select(*table.c).order_by(*table.primary_key.columns)
                found[table.name] = [tuple(row) for row in conn.execute(stmt)]
    return found


def _filled_with_state(db: Database) -> None:
    """A queue that has lived: a preview an approval was bound to, a newer one, a
    request for another, live output, a claim, a heartbeat and a notification cursor."""
    service = ApprovalService(db)
    _filled(service)
    upgrade = service.create_action("pi-4", "apt_upgrade_all", actor="bob")
    plan = ProbeRun(0, transcript("apt-get-s-remove-zip.txt"))
    service.request_preview(upgrade.id, "carol")
    shown = service.record_preview(upgrade.id, APT_PROBE, plan)
    service.approve(upgrade.id, "alice", plan=PlanCheck.expect(shown.digest))
    service.record_preview(upgrade.id, APT_PROBE, ProbeRun(1, "", "E: lock held\n"))
    executions = ExecutionService(db)
    executions.heartbeat("exec-1", 30.0, service.clock())
    assert executions.claim(upgrade.id, "exec-1") is not None
    service.add_output(upgrade.id, [("stdout", "Reading package lists...\n"), ("stderr", "W: x\n")])
    target = "ntfy:0123abcd"
    service.notice_cursor(target)
    service.acknowledge(target, service.latest_event_id())


def test_copy_to_keeps_previews_bindings_claims_output_and_cursors_both_ways(
    tmp_path: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    source_path = tmp_path / "source.db"
    source = open_database(source_path)
    _filled_with_state(source)
    expected = _state(source)
    source.close()
    assert all(expected[name] for name in expected), expected  # every table has rows
    assert set(expected) == {table.name for table in COPIED_TABLES}

    target = pg_server.fresh()
    assert main(["--db", str(source_path), "copy-to", target]) == 0
    out = capsys.readouterr().out
    others = sum(len(rows) for name, rows in expected.items()
                 if name not in ("servers", "remediation_actions", "action_events"))  # fmt: skip
    assert f"events (and {others} rows of previews, runs and notification cursors)" in out
    copied = open_database(url=target)
    try:
        assert _state(copied) == expected
        # The bound plan and the newest preview are the same rows as before.
        service = ApprovalService(copied)
        upgrade = 4
        bound = service.bound_preview(upgrade)
        assert bound is not None
        (binding,) = expected["approval_plan_bindings"]  # id, action, actor, at, digest, preview
        assert binding[5] == 1
        assert bound.digest == binding[4] == expected["approval_previews"][0][-1]
        # Every numbered table's new rows follow on from the copied ids.
        another = service.create_action("pi-4", "apt_upgrade_all", actor="bob")
        assert another.id == 5
        service.request_preview(another.id, "dave")
        service.record_preview(another.id, APT_PROBE, ProbeRun(1, "", "E: lock held\n"))
        service.add_output(upgrade, [("stdout", "done\n")])
        after = _state(copied)
        assert [row[0] for row in after["approval_preview_requests"]] == [1, 2]
        assert [row[0] for row in after["approval_previews"]] == [1, 2, 3]
        assert [row[0] for row in after["approval_output_chunks"]] == [1, 2, 3]
    finally:
        copied.close()

    back = tmp_path / "back.db"
    copied = open_database(url=target)
    try:
        forward = _state(copied)
    finally:
        copied.close()
    assert main(["--database-url", target, "copy-to", f"sqlite:///{back}"]) == 0
    returned = open_database(back)
    try:
        assert _state(returned) == forward
    finally:
        returned.close()


def test_copy_to_refuses_a_destination_with_previews_and_copies_nothing(
    tmp_path: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    source_path = tmp_path / "source.db"
    source = open_database(source_path)
    _filled(ApprovalService(source))
    source.close()
    target = pg_server.fresh()
    busy = open_database(url=target)
    try:
        with busy.writing() as conn:  # a stray row, of no action
            conn.exec_driver_sql(
                "INSERT INTO approval_preview_requests (action_id, requested_at, requested_by)"
                " VALUES (7, now(), 'carol')"
            )
        before = _state(busy)
        assert main(["--db", str(source_path), "copy-to", target]) == 1
        err = capsys.readouterr().err
        assert "already holds rows in approval_preview_requests" in err
        assert err.count("\n") == 1
        assert _state(busy) == before
    finally:
        busy.close()


def test_copy_to_refuses_a_destination_with_actions_and_copies_nothing(
    tmp_path: Path, pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    source_path = tmp_path / "source.db"
    source = open_database(source_path)
    _filled(ApprovalService(source))
    source.close()
    target = pg_server.fresh()
    busy = open_database(url=target)
    try:
        service = ApprovalService(busy)
        service.add_server("pi-4", "pi4.lan", paused=True)
        service.create_action("pi-4", "restart_service", "sshd", actor="carol")
        before = _history(busy)
        code = main(["--db", str(source_path), "copy-to", target])
        err = capsys.readouterr().err
        assert code == 1
        assert "already holds 1 actions and 1 events" in err
        assert err.count("\n") == 1
        assert _history(busy) == before
    finally:
        busy.close()


# -- the CLI on PostgreSQL ---------------------------------------------------------------------


def test_the_cli_says_one_line_and_exits_1_for_each_connection_failure(
    pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    good = pg_server.fresh()
    secret = good.split(":")[2].split("@")[0]
    for url in (
        good.replace(secret, "wrong"),
        good.rsplit("/", 1)[0] + "/missing_db",
        f"postgresql://approvals:{secret}@127.0.0.1:1/postgres",
    ):
        assert main(["--database-url", url, "list"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: DATABASE_ERROR: ")
        assert err.count("\n") == 1
        assert secret not in err


def test_the_cli_decides_on_postgresql(
    pg_server: PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = pg_server.fresh()
    db = open_database(url=url)
    try:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", paused=True)
        action = service.create_action("pi-4", "restart_service", "nginx", actor="bob")
    finally:
        db.close()
    base = ["--database-url", url, "--operator", "alice"]
    assert main([*base, "approve", str(action.id), "--json"]) == 0
    assert '"status":"approved"' in capsys.readouterr().out.replace(" ", "")
    assert main([*base, "approve", str(action.id)]) == 4  # CONFLICT
    assert "already approved by alice" in capsys.readouterr().err


# -- executor claims ---------------------------------------------------------------------------


def test_eight_executors_claim_one_action_exactly_once(pg_url: str) -> None:
    """The claim's conditional UPDATE under READ COMMITTED: the others wait for the
    winner's row lock, then find the action no longer approved. Nobody errors."""
    db = open_database(url=pg_url)
    try:
        service = ApprovalService(db)
        service.add_server("web", "web.lan")
        executors = [ExecutionService(open_database(url=pg_url)) for _ in range(8)]
        try:
            for _ in range(5):
                action = service.create_action("web", "clear_logs", actor="alice")  # approved
                barrier = threading.Barrier(8)
                outcomes: list[object] = []

                def claim(
                    ex: ExecutionService,
                    name: str,
                    aid: int = action.id,
                    barrier: threading.Barrier = barrier,
                    outcomes: list[object] = outcomes,
                ) -> None:
                    barrier.wait(30)
                    try:
                        outcomes.append(ex.claim(aid, name))
                    except BaseException as error:
                        outcomes.append(error)

                threads = [
                    threading.Thread(target=claim, args=(ex, f"exec-{i}"))
                    for i, ex in enumerate(executors)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(60)
                won = [o for o in outcomes if isinstance(o, Claim)]
                assert len(won) == 1, outcomes
                assert outcomes.count(None) == 7, outcomes
                assert service.get_action(action.id).status == "executing"
        finally:
            for ex in executors:
                ex.db.close()
    finally:
        db.close()
