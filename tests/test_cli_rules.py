"""Votes, per-type approvers, expiry and notifications through the CLI, in process and,
for a sender killed mid-delivery, as real processes. On SQLite and PostgreSQL
(`backends`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.cli.main import main
from homelab_approvals.service import ApprovalService
from notify_receiver import Receiver

pytestmark = pytest.mark.backends

RULES = """\
approvers = ["alice", "bob", "carol"]
allow_self_approval = false

[rules.apt_upgrade_all]
approvals = 2

[rules.apt_update]
approvers = ["alice"]
"""


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HOMELAB_APPROVALS_DB", raising=False)
    monkeypatch.delenv("HOMELAB_APPROVALS_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


class Cli:
    def __init__(self, target: DbTarget, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.target, self.config, self.capsys = target, config, capsys

    def __call__(self, *argv: str, operator: str = "alice") -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(
            [
                *self.target.cli_args,
                "--config",
                str(self.config),
                "--operator",
                operator,
                *list(argv),
            ]
        )
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(RULES, encoding="utf-8")
    return path


@pytest.fixture
def cli(db_target: DbTarget, config: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    database = db_target.open()
    try:
        service = ApprovalService(database)
        service.add_server("pi-4", "pi4.lan", paused=True)
        service.create_action("pi-4", "apt_upgrade_all", actor="robot")  # 1
        service.create_action("pi-4", "apt_update", actor="robot")  # 2
    finally:
        database.close()
    return Cli(db_target, config, capsys)


def test_a_vote_short_of_the_quorum_exits_0_and_says_so(cli: Cli) -> None:
    code, out, err = cli("approve", "1", operator="alice")
    assert (code, err) == (0, "")
    assert out == "#1 apt upgrade all on pi4.lan: 1 of 2 approvals; waiting for another approver\n"
    code, out, err = cli("approve", "1", operator="alice")
    assert code == 4
    assert err == "error: CONFLICT: already approved by you: 1 of 2\n"
    code, out, _ = cli("approve", "1", operator="bob")
    assert (code, out) == (0, "approved #1 apt upgrade all on pi4.lan\n")


def test_show_json_lists_approvals(cli: Cli) -> None:
    cli("approve", "1", operator="carol")
    _code, out, _ = cli("show", "1", "--json")
    shown = json.loads(out)
    assert shown["status"] == "pending"
    assert shown["approvals_required"] == 2
    assert [a["actor"] for a in shown["approvals"]] == ["carol"]
    assert shown["approvals"][0]["at"].endswith("+00:00")
    _, human, _ = cli("show", "1")
    assert "approvals   1 of 2: carol (" in human
    _, out, _ = cli("show", "2", "--json")
    assert (json.loads(out)["approvals_required"], json.loads(out)["approvals"]) == (1, [])


def test_approve_json_of_a_vote(cli: Cli) -> None:
    code, out, _ = cli("approve", "1", "--json", operator="bob")
    assert code == 0
    body = json.loads(out)
    assert (body["status"], body["approvals_required"]) == ("pending", 2)
    assert [a["actor"] for a in body["approvals"]] == ["bob"]


def test_per_type_approvers_forbid_that_type_only(cli: Cli) -> None:
    code, _, err = cli("approve", "2", operator="bob")
    assert code == 5
    assert err.startswith("error: FORBIDDEN: 'bob' may not approve or reject apt_update")
    code, _, err = cli("reject", "2", "--reason", "no", operator="bob")
    assert code == 5
    assert cli("approve", "1", operator="bob")[0] == 0
    assert cli("approve", "2", operator="alice")[0] == 0


def test_bad_rules_are_config_errors(cli: Cli, config: Path) -> None:
    config.write_text("[rules.apt_upgrade]\napprovals = 2\n", encoding="utf-8")
    code, _, err = cli("list")
    assert code == 2
    assert f"error: CONFIG_ERROR: {config}: 'rules': 'apt_upgrade' is not an action type" in err


def test_expire_prints_what_it_expired(cli: Cli, config: Path, db_target: DbTarget) -> None:
    code, out, _ = cli("expire")
    assert (code, out) == (0, f"nothing expires: the config has no [expiry] table ({config})\n")
    config.write_text(RULES + '\n[expiry]\npending = "24h"\napproved = "2h"\n', encoding="utf-8")
    assert cli("expire") == (0, "nothing to expire\n", "")
    old = (datetime.now(UTC) - timedelta(hours=25)).replace(tzinfo=None).isoformat(" ")
    db_target.execute("UPDATE remediation_actions SET created_at = :old WHERE id = 2", old=old)
    code, out, _ = cli("expire")
    assert code == 0
    assert out == (
        "expired #2 apt update on pi4.lan, now rejected: expired: pending for more than 24h\n"
    )
    assert cli("expire")[1] == "nothing to expire\n"


def test_notify_once_sends_then_sends_nothing_twice(cli: Cli, config: Path) -> None:
    receiver = Receiver()
    try:
        config.write_text(
            RULES + f'\n[[notify]]\nurl = "{receiver.url()}"\nformat = "json"\n',
            encoding="utf-8",
        )
        assert cli("notify", "--once")[:2] == (0, "sent 0 notifications\n")  # starts now
        cli("reject", "1", "--reason", "no")
        database = cli.target.open()
        try:
            ApprovalService(database).create_action("pi-4", "clear_logs", actor="robot")
        finally:
            database.close()
        assert cli("notify", "--once")[:2] == (0, "sent 1 notification\n")
        assert cli("notify", "--once")[:2] == (0, "sent 0 notifications\n")
        [got] = receiver.received
        assert got.json()["event"] == "pending"
        receiver.status = 500
        database = cli.target.open()
        try:
            ApprovalService(database).create_action("pi-4", "apt_upgrade_security", actor="r")
        finally:
            database.close()
        code, _out, err = cli("notify", "--once")
        assert code == 1
        assert err == (
            f"error: DELIVERY_FAILED: json target http://127.0.0.1:{receiver.port}: "
            "HTTP 500; it is sent again next time\n"
        )
    finally:
        receiver.stop()


def test_notify_without_targets(cli: Cli, config: Path) -> None:
    code, _, err = cli("notify", "--once")
    assert code == 2
    assert err == f"error: CONFIG_ERROR: no [[notify]] targets in the config ({config})\n"


# -- a real sender process, killed between sending and hearing back -------------------------


@pytest.fixture
def held_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


def test_a_sender_killed_before_the_acknowledgement_resends_with_the_same_id(
    tmp_path: Path, held_receiver: Receiver, db_target: DbTarget
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[notify]]\nurl = "{held_receiver.url()}"\nformat = "json"\n', encoding="utf-8"
    )
    database = db_target.open()
    try:
        service = ApprovalService(database)
        service.add_server("pi-4", "pi4.lan", paused=True)
    finally:
        database.close()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "x"), "XDG_DATA_HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "homelab_approvals", *db_target.cli_args]
    argv += ["--config", str(config), "notify"]
    started = subprocess.run([*argv, "--once"], env=env, capture_output=True, check=False)
    assert started.returncode == 0, started.stderr  # the target's cursor: from now on
    database = db_target.open()
    try:
        ApprovalService(database).create_action("pi-4", "apt_update", actor="robot")
    finally:
        database.close()
    held_receiver.hold.clear()  # the receiver takes the message but does not answer
    sender = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        [first] = held_receiver.wait_for(1)
        sender.send_signal(signal.SIGKILL)  # between the send and its acknowledgement
        sender.wait(30)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    held_receiver.hold.set()
    again = subprocess.run([*argv, "--once"], env=env, capture_output=True, text=True, check=False)
    assert (again.returncode, again.stdout) == (0, "sent 1 notification\n"), again.stderr
    ids = [r.message_id for r in held_receiver.received]
    assert ids == [first.message_id, first.message_id]
    rerun = subprocess.run([*argv, "--once"], env=env, capture_output=True, text=True, check=False)
    assert rerun.stdout == "sent 0 notifications\n"
    assert len(held_receiver.received) == 2


def test_the_executor_once_sends_notifications_after_its_runs(
    tmp_path: Path, held_receiver: Receiver, db_target: DbTarget
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[notify]]\nurl = "{held_receiver.url()}"\nformat = "json"\n', encoding="utf-8"
    )
    database = db_target.open()
    try:
        ApprovalService(database).add_server("pi-4", "pi4.lan", paused=True)
    finally:
        database.close()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "x"), "XDG_DATA_HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "homelab_approvals", *db_target.cli_args]
    argv += ["--config", str(config), "executor", "--once", "--name", "executor@test"]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr  # the target starts from now
    database = db_target.open()
    try:
        ApprovalService(database).create_action("pi-4", "apt_update", actor="robot")
    finally:
        database.close()
    again = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    [got] = held_receiver.received
    assert got.json()["event"] == "pending"
