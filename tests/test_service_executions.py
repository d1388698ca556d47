"""The execution verbs without SSH: what may be claimed, claiming once, finishing, the
whitelist, heartbeats and dead executors, output limits, and the schema they need."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.domain import execution
from homelab_approvals.domain.commands import command_for
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.execution import (
    OUTPUT_LIMIT,
    SudoMode,
    kept_output,
    remote_command,
    whitelisted,
)
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.executions import ExecutionService
from homelab_approvals.storage import open_database
from homelab_approvals.storage.version import SCHEMA_VERSION

START = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(db_target: DbTarget, clock: Clock) -> Iterator[ApprovalService]:
    service = ApprovalService(db_target.open(), clock=clock)
    service.add_server("web", "web.lan")
    service.add_server("quiet", "quiet.lan", paused=True)
    yield service
    service.db.close()


@pytest.fixture
def ex(svc: ApprovalService, clock: Clock) -> ExecutionService:
    return ExecutionService(svc.db, clock=clock)


def sql(db_path: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


# -- what may be claimed -----------------------------------------------------------------------


def test_only_actions_we_approved_are_claimable(
    svc: ApprovalService, ex: ExecutionService, db_path: Path
) -> None:
    auto = svc.create_action("web", "clear_logs", actor="alice")  # auto-approved by our create
    decided = svc.create_action("quiet", "restart_service", "nginx", actor="alice")
    waiting = svc.create_action("quiet", "apt_update", actor="alice")
    svc.approve(decided.id, "bob")
    # Approved by HomelabCmd's own API: no event of ours. HomelabCmd runs it itself.
    sql(
        db_path,
        "INSERT INTO remediation_actions (server_id, action_type, status, command, "
        "created_at, created_by, approved_at, approved_by) VALUES ('web', 'apt_update', "
        "'approved', 'apt-get update', '2026-11-27 09:00:00.000000', 'dashboard', "
        "'2026-11-27 09:00:00.000000', 'dashboard')",
    )
    assert ex.claimable() == [auto.id, decided.id]
    assert waiting.id not in ex.claimable()


def test_a_claim_happens_once_with_its_event_and_claim_row(
    svc: ApprovalService, ex: ExecutionService, db_path: Path, clock: Clock
) -> None:
    action = svc.create_action("web", "restart_service", "nginx", actor="alice")
    clock.now = START + timedelta(seconds=5)

    claim = ex.claim(action.id, "exec-a")

    assert claim is not None
    assert claim.refusal is None
    assert (claim.destination, claim.login) == ("web.lan", None)
    assert claim.action.status == "executing"
    assert claim.action.executed_at == clock.now
    assert ex.claim(action.id, "exec-b") is None  # never twice
    assert sql(db_path, "SELECT action_id, executor FROM executor_claims") == [
        (action.id, "exec-a")
    ]
    last = sql(
        db_path,
        "SELECT from_status, to_status, actor, at FROM action_events WHERE action_id = ? "
        "ORDER BY id DESC LIMIT 1",
        action.id,
    )
    assert last == [("approved", "executing", "exec-a", "2026-11-27 10:00:05.000000")]


def test_finish_records_results_only_for_the_claiming_executor(
    svc: ApprovalService, ex: ExecutionService
) -> None:
    action = svc.create_action("web", "clear_logs", actor="alice")
    assert ex.claim(action.id, "exec-a") is not None
    assert ex.finish(action.id, "exec-b", 0, "x", None) is None
    done = ex.finish(action.id, "exec-a", 0, "Vacuuming done", None)
    assert done is not None
    assert (done.status, done.exit_code, done.stdout, done.stderr) == (
        "completed",
        0,
        "Vacuuming done",
        None,
    )
    assert ex.finish(action.id, "exec-a", 1, None, "again") is None  # once only


def test_an_approval_records_the_command_it_approved(
    svc: ApprovalService, ex: ExecutionService, db_path: Path
) -> None:
    auto = svc.create_action("web", "clear_logs", actor="alice")
    decided = svc.create_action("quiet", "restart_service", "nginx", actor="alice")
    svc.approve(decided.id, "bob")
    approvals = sql(
        db_path,
        "SELECT action_id, command FROM action_events WHERE to_status = 'approved' ORDER BY id",
    )
    assert approvals == [
        (auto.id, "journalctl --vacuum-time=7d"),
        (decided.id, "systemctl restart nginx"),
    ]
    events = svc.list_events(action_id=decided.id)
    assert events[-1].command == "systemctl restart nginx"
    assert events[0].command is None  # creation records none


def test_a_missing_server_is_refused_in_homelabcmd_s_words(
    svc: ApprovalService, ex: ExecutionService, db_path: Path
) -> None:
    action = svc.create_action("web", "clear_logs", actor="alice")
    sql(db_path, "PRAGMA foreign_keys = OFF")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute("UPDATE remediation_actions SET server_id = 'gone' WHERE id = ?", (action.id,))
    conn.close()
    claim = ex.claim(action.id, "exec-a")
    assert claim is not None
    assert claim.refusal == "Server gone not found"


# -- the whitelist -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action_type", "unit", "command", "ok"),
    [
        ("restart_service", "nginx", "systemctl restart nginx", True),
        ("restart_service", "nginx", "systemctl restart nginx ", False),
        ("restart_service", "nginx", "systemctl restart sshd", False),
        ("restart_service", "-nginx", "systemctl restart -nginx", False),
        ("restart_service", "a;b", "systemctl restart a;b", False),
        ("clear_logs", None, "journalctl --vacuum-time=7d", True),
        ("clear_logs", None, "journalctl --vacuum-time=0", False),
        ("apt_upgrade_security", None, "apt-get install -y openssl libssl3", True),
        ("apt_upgrade_security", None, "apt-get install -y g++-12 libc6.1", True),
        (
            "apt_upgrade_security",
            None,
            "DEBIAN_FRONTEND=noninteractive apt-get install -y openssl",
            True,
        ),
        ("apt_upgrade_security", None, "apt-get install -y openssl; reboot", False),
        ("apt_upgrade_security", None, "apt-get install -y ../evil.deb", False),
        ("apt_upgrade_security", None, "apt-get install -y Openssl", False),
        ("apt_upgrade_security", None, "apt-get install -y", False),
        ("apt_update", None, "apt-get install -y openssl", False),
        ("made_up", None, "true", False),
    ],
)
def test_whitelist(action_type: str, unit: str | None, command: str, ok: bool) -> None:
    assert whitelisted(action_type, unit, command) is ok


def test_sudo_modes() -> None:
    apt = "DEBIAN_FRONTEND=noninteractive apt-get update -q"
    assert remote_command(apt, SudoMode.APT) == f"sudo -n {apt}"
    assert remote_command("systemctl restart nginx", SudoMode.APT) == "systemctl restart nginx"
    assert remote_command("systemctl restart nginx", SudoMode.ALWAYS).startswith("sudo -n ")
    assert remote_command(apt, SudoMode.NEVER) == apt
    # The security upgrade needs root as much as apt-get does.
    security = command_for(ActionType.APT_UPGRADE_SECURITY, None)
    assert remote_command(security, SudoMode.APT) == f"sudo -n {security}"


def test_output_limits() -> None:
    assert kept_output(b"") is None
    assert kept_output(b"\xffok") == "\ufffdok"  # decoded with replacement
    cut = kept_output(b"a" * 30_000 + b"END")
    assert cut is not None
    assert len(cut) <= OUTPUT_LIMIT
    assert cut.startswith("[output cut: only the last ")
    assert cut.endswith("aEND")
    exact = kept_output(b"b" * OUTPUT_LIMIT)
    assert exact == "b" * OUTPUT_LIMIT


# -- heartbeats and dead executors -------------------------------------------------------------


@pytest.mark.backends
def test_heartbeats_decide_whether_an_executor_is_live(
    svc: ApprovalService, ex: ExecutionService, clock: Clock
) -> None:
    assert not ex.waiting_without_executor()  # nothing waits
    svc.create_action("web", "clear_logs", actor="alice")
    assert ex.waiting_without_executor()
    ex.heartbeat("exec-a", 30, START)
    assert ex.executor_live()
    assert not ex.waiting_without_executor()
    clock.now = START + timedelta(seconds=31)
    assert not ex.executor_live()
    assert ex.waiting_without_executor()
    ex.heartbeat("exec-a", 30, START)
    ex.retire("exec-a")
    assert not ex.executor_live()


@pytest.mark.backends
def test_a_claim_past_its_executor_s_lease_ends_outcome_unknown(
    svc: ApprovalService, ex: ExecutionService, clock: Clock
) -> None:
    action = svc.create_action("web", "apt_upgrade_all", actor="alice")
    ex.heartbeat("exec-a", 60, START)
    assert ex.claim(action.id, "exec-a") is not None
    clock.now = START + timedelta(seconds=59)
    assert ex.prune_stalled("console") == []
    clock.now = START + timedelta(seconds=61)

    marked = ex.prune_stalled("console")

    assert [a.id for a in marked] == [action.id]
    assert marked[0].status == "failed"
    assert marked[0].exit_code == -1
    assert marked[0].stderr == "outcome unknown: executor exec-a stopped during the run"
    assert ex.claimable() == []  # never run again
    assert ex.finish(action.id, "exec-a", 0, None, None) is None
    assert ex.prune_stalled("console") == []


def test_executing_rows_we_did_not_claim_are_left_alone(
    svc: ApprovalService, ex: ExecutionService, clock: Clock, db_path: Path
) -> None:
    action = svc.create_action("web", "clear_logs", actor="alice")
    sql(db_path, "UPDATE remediation_actions SET status = 'executing' WHERE id = ?", action.id)
    clock.now = START + timedelta(days=1)
    assert ex.prune_stalled("console") == []


def test_a_restarted_executor_settles_claims_made_before_it_started(
    svc: ApprovalService, ex: ExecutionService, clock: Clock
) -> None:
    action = svc.create_action("web", "clear_logs", actor="alice")
    ex.heartbeat("same", 60, START)
    assert ex.claim(action.id, "same") is not None
    restart = START + timedelta(seconds=2)
    clock.now = restart
    marked = ex.prune_stalled("same", restarted=("same", restart))
    assert [a.id for a in marked] == [action.id]


def test_a_read_only_database_refuses_an_executor(db_path: Path) -> None:
    open_database(db_path).close()
    db = open_database(db_path, read_only=True)
    try:
        with pytest.raises(Exception, match="read-only"):
            ExecutionService(db).check_writable()
    finally:
        db.close()


# -- the schema ---------------------------------------------------------------------------------


def _before_the_executor(path: Path) -> None:
    """What a database made before the executor looks like."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TABLE executor_claims")
        conn.execute("DROP TABLE executor_heartbeats")
        conn.execute("ALTER TABLE action_events DROP COLUMN command")
        conn.execute("UPDATE approvals_schema SET version = ?", (SCHEMA_VERSION - 1,))
    conn.close()


def test_a_database_from_before_the_executor_is_brought_up_to_date(db_path: Path) -> None:
    service = ApprovalService(open_database(db_path))
    service.add_server("web", "web.lan")
    service.create_action("web", "clear_logs", actor="alice")
    service.db.close()
    _before_the_executor(db_path)

    reopened = ApprovalService(open_database(db_path))
    try:
        assert [e.command for e in reopened.list_events()] == [None, None]
        again = reopened.create_action("web", "apt_update", actor="alice")
        assert reopened.list_events(action_id=again.id)[-1].command == again.command
    finally:
        reopened.db.close()
    assert sql(db_path, "SELECT version FROM approvals_schema") == [(SCHEMA_VERSION,)]
    tables = {name for (name,) in sql(db_path, "SELECT name FROM sqlite_master")}
    assert {"executor_claims", "executor_heartbeats"} <= tables


def test_a_database_from_before_the_executor_opened_read_only_still_lists_events(
    db_path: Path,
) -> None:
    service = ApprovalService(open_database(db_path))
    service.add_server("web", "web.lan")
    service.create_action("web", "clear_logs", actor="alice")
    service.db.close()
    _before_the_executor(db_path)

    reader = ApprovalService(open_database(db_path, read_only=True))
    try:
        events = reader.list_events()
        assert [e.to_status for e in events] == ["pending", "approved"]
        assert all(e.command is None for e in events)
    finally:
        reader.db.close()
    assert sql(db_path, "SELECT version FROM approvals_schema") == [(SCHEMA_VERSION - 1,)]


def test_limits_match_homelabcmd() -> None:
    assert execution.DEFAULT_TIMEOUT_S == 300
    assert OUTPUT_LIMIT == 10_000
