"""Previews against a real OpenSSH server: the probes answered with real transcripts, ssh's
own failures, the plan checked again right before an apt action runs (grown: not run;
shrunk: run), the daemon previewing pending actions, and live output while a command runs.

The remote end (tests/sshd_harness.py) records every command it is sent, so a test can
tell that a refused run sent nothing. On SQLite and PostgreSQL (`backends`)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.preview_settings import PlanCheck
from sshd_harness import CHATTY_LINES, RemoteEnd, running_remote, wait_until

pytestmark = [pytest.mark.ssh, pytest.mark.slow, pytest.mark.backends]

APT_PROBE = "apt-get -s dist-upgrade"


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteEnd]:
    with running_remote(tmp_path_factory.mktemp, "preview") as end:
        yield end


@pytest.fixture
def fresh(remote: RemoteEnd) -> RemoteEnd:
    remote.record.unlink(missing_ok=True)
    remote.serve_plan("apt-get-s-dist-upgrade-kernel-removal.txt")
    return remote


@pytest.fixture
def svc(service: ApprovalService) -> ApprovalService:
    for host in ("exec-host", "exec-wrong-key", "exec-refused"):
        service.add_server(host, host, paused=True)  # actions wait for a decision
    return service


def cli(db: DbTarget, remote: RemoteEnd, *argv: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "homelab_approvals",
            *db.cli_args,
            *argv,
            "--ssh-config",
            str(remote.ssh_config),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def sent(remote: RemoteEnd) -> list[str]:
    return [command for _, command in remote.commands()]


def test_each_probe_over_ssh(svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget) -> None:
    apt = svc.create_action("exec-host", "apt_upgrade_all", actor="bot")
    security = svc.create_action("exec-host", "apt_upgrade_security", actor="bot")
    unit = svc.create_action("exec-host", "restart_service", "nginx", actor="bot")
    logs = svc.create_action("exec-host", "clear_logs", actor="bot")
    update = svc.create_action("exec-host", "apt_update", actor="bot")
    ids = [str(a.id) for a in (apt, security, unit, logs, update)]
    result = cli(db_target, fresh, "preview", *ids)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    summary = "upgrade 8, install 13 (new kernel), remove 1, 97 kept back (plan "
    assert f"#{apt.id} apt upgrade all on exec-host: {summary}" in text
    assert "upgrade 105" in text  # unattended-upgrade's packages (the real transcript)
    assert "failed (exit-code) since 2026-12-04 09:12 UTC, restarted 3 times" in text
    assert "journals take up 3.9G" in text
    assert f"#{update.id} apt update on exec-host: no preview for this action" in text
    security_preview = svc.get_preview(security.id)
    assert security_preview is not None
    assert security_preview.plan is not None
    assert "upgrade openssl" in security_preview.lines
    # The whitelist, exactly: the apt simulation with the real command's options and no
    # sudo; the security dry run under sudo; the unit's properties; nothing for apt_update.
    commands = sorted(sent(fresh))
    assert commands == sorted(
        [
            'apt-get -s dist-upgrade -o Dpkg::Options::="--force-confdef" '
            '-o Dpkg::Options::="--force-confold" -o APT::Sandbox::User=root',
            # Root, like the real security upgrade under the default sudo rule.
            "sudo -n unattended-upgrade --dry-run -v",
            "systemctl show nginx "
            "-p LoadState,ActiveState,SubState,Result,NRestarts,ActiveEnterTimestamp",
            "journalctl --disk-usage",
        ]
    )


def test_a_probe_that_fails_says_why_and_blocks_nothing(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget
) -> None:
    refused = svc.create_action("exec-refused", "apt_upgrade_all", actor="bot")
    wrong = svc.create_action("exec-wrong-key", "apt_upgrade_all", actor="bot")
    result = cli(db_target, fresh, "preview", str(refused.id), str(wrong.id))
    assert result.returncode == 0, result.stderr
    assert "Connection refused" in result.stdout
    assert "Host key verification failed" in result.stdout
    assert sent(fresh) == []
    # Deciding is not held up: the CLI binds nothing (no plan) and approves.
    svc.approve(refused.id, "alice", plan=PlanCheck.bind_current())
    assert svc.get_action(refused.id).status == "approved"


def approved_with_plan(svc: ApprovalService, db: DbTarget, remote: RemoteEnd) -> int:
    action = svc.create_action("exec-host", "apt_upgrade_all", actor="bot")
    assert cli(db, remote, "preview", str(action.id)).returncode == 0
    svc.approve(action.id, "alice", plan=PlanCheck.bind_current())
    assert svc.bound_preview(action.id) is not None
    return action.id


def test_a_plan_that_grew_is_not_run(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget
) -> None:
    fresh.serve_plan("apt-get-s-remove-zip.txt")
    aid = approved_with_plan(svc, db_target, fresh)
    fresh.serve_plan("apt-get-s-dist-upgrade-kernel-removal.txt")  # grew meanwhile
    result = cli(db_target, fresh, "executor", "--once")
    assert result.returncode == 0, result.stderr
    action = svc.get_action(aid)
    assert action.status == "failed"
    assert action.stderr is not None
    assert action.stderr.startswith("plan changed since approval:\n")
    assert "  added: install linux-image-6.1.0-50-amd64 6.1.176-1" in action.stderr
    assert "  added: upgrade systemd 252.39-1~deb12u2" in action.stderr
    # Only the two probes reached the server, never the upgrade.
    assert all(command.startswith(APT_PROBE) for command in sent(fresh)), sent(fresh)
    events = [(e.from_status, e.to_status, e.reason) for e in svc.list_events(aid)]
    assert events[-1] == ("executing", "failed", "plan changed since approval")


def test_a_plan_that_shrank_runs(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget
) -> None:
    aid = approved_with_plan(svc, db_target, fresh)  # the kernel and the removal
    fresh.serve_plan("apt-get-s-remove-zip.txt")  # some were upgraded meanwhile
    result = cli(db_target, fresh, "executor", "--once")
    assert result.returncode == 0, result.stderr
    action = svc.get_action(aid)
    assert action.status == "completed", action.stderr
    commands = sent(fresh)
    assert commands[-1].startswith("sudo -n DEBIAN_FRONTEND=noninteractive apt-get dist-upgrade")
    assert "plan checked in" in result.stderr


def test_the_daemon_previews_pending_actions(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget, tmp_path: Path
) -> None:
    log = tmp_path / "executor.log"
    with log.open("w") as sink:
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "homelab_approvals",
                *db_target.cli_args,
                "executor",
                "--ssh-config",
                str(fresh.ssh_config),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        try:
            created = time.monotonic()
            action = svc.create_action("exec-host", "apt_upgrade_all", actor="bot")
            wait_until(lambda: svc.get_preview(action.id) is not None, 30, log.read_text)
            took = time.monotonic() - created
            preview = svc.get_preview(action.id)
            assert preview is not None
            assert preview.summary.startswith("upgrade 8, install 13 (new kernel), remove 1")
            print(f"create -> preview recorded: {took:.2f} s")
        finally:
            daemon.terminate()
            daemon.wait(30)
    assert "Traceback" not in log.read_text()


def test_live_output_while_a_chatty_command_runs(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget
) -> None:
    service = svc.create_action("exec-host", "restart_service", "chatty-web", actor="bot")
    svc.approve(service.id, "alice")
    executor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "homelab_approvals",
            *db_target.cli_args,
            "executor",
            "--once",
            "--ssh-config",
            str(fresh.ssh_config),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Some output is in the database while the command still runs.
        def partial() -> bool:
            chunks, _ = svc.output_since(service.id)
            return bool(chunks) and svc.get_action(service.id).status == "executing"

        wait_until(partial, 30, lambda: "no live output while running")
    finally:
        _, err = executor.communicate(timeout=60)
    assert "Traceback" not in err
    done = svc.get_action(service.id)
    assert done.status == "completed"
    chunks, _ = svc.output_since(service.id)
    streamed = "".join(c.text for c in chunks)
    assert streamed == done.stdout
    assert streamed.count("Unpacking package-") == CHATTY_LINES
    ((writes,),) = db_target.execute(
        "SELECT count(DISTINCT at) FROM approval_output_chunks WHERE action_id = :id",
        id=service.id,
    )
    assert writes < CHATTY_LINES / 2  # batched: not one write per line


def test_with_bind_false_a_grown_plan_is_logged_and_runs(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[preview]\nbind = false\n")
    fresh.serve_plan("apt-get-s-remove-zip.txt")
    aid = approved_with_plan(svc, db_target, fresh)
    fresh.serve_plan("apt-get-s-dist-upgrade-kernel-removal.txt")
    result = cli(db_target, fresh, "--config", str(config), "executor", "--once")
    assert result.returncode == 0, result.stderr
    assert svc.get_action(aid).status == "completed"
    assert "plan changed since approval:" in result.stderr
    assert "(preview.bind is false: run anyway)" in result.stderr


def test_preview_without_once_keeps_taking_them_until_interrupted(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget
) -> None:
    looping = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "homelab_approvals",
            *db_target.cli_args,
            "preview",
            "--ssh-config",
            str(fresh.ssh_config),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        action = svc.create_action("exec-host", "clear_logs", actor="bot")
        wait_until(lambda: svc.get_preview(action.id) is not None, 30, lambda: "no preview")
        looping.send_signal(signal.SIGINT)
        out, err = looping.communicate(timeout=30)
    finally:
        looping.kill()
    assert looping.returncode == 130, err
    assert "Traceback" not in err
    assert f"#{action.id} clear logs on exec-host: journals take up 3.9G" in out


def test_hostile_probe_output_stays_inert(
    svc: ApprovalService, fresh: RemoteEnd, db_target: DbTarget
) -> None:
    action = svc.create_action("exec-host", "restart_service", "evil-unit", actor="bot")
    assert cli(db_target, fresh, "preview", str(action.id)).returncode == 0
    preview = svc.get_preview(action.id)
    assert preview is not None
    assert preview.plan is not None
    shown = subprocess.run(
        [sys.executable, "-m", "homelab_approvals", *db_target.cli_args, "show", str(action.id)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "ActiveState=␛[2Jfailed" in shown.stdout
    assert "SubState=[@click=app.quit]x" in shown.stdout
    assert "\x1b" not in shown.stdout
