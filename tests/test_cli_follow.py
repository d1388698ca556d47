"""`show ID --follow`, as a real process: the output of a run appears as another process
writes it, made inert, and the command ends with the action (exit 0 completed, 1 failed).
On SQLite and PostgreSQL (`backends`): there the output arrives by notification."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

import homelab_approvals
from db_targets import DbTarget
from homelab_approvals.service import ApprovalService

SOURCE = Path(homelab_approvals.__file__).resolve().parent.parent

pytestmark = pytest.mark.backends


@pytest.fixture
def running_action(service: ApprovalService, db_target: DbTarget) -> ApprovalService:
    """Action 1, executing (as a claim leaves it)."""
    service.add_server("nas", "nas.lan")
    service.create_action("nas", "apt_upgrade_all", actor="bot")  # auto-approved
    db_target.execute("UPDATE remediation_actions SET status = 'executing' WHERE id = 1")
    return service


class Follower:
    def __init__(self, cli_args: list[str], *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(SOURCE)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "homelab_approvals", *cli_args, "show", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self.out = b""
        self.err = b""

    def read_until(self, wanted: bytes, timeout: float = 20.0) -> None:
        """Read what the process printed until `wanted` is among it (or fail)."""
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        while wanted not in self.out + self.err:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {wanted!r} in {self.out!r} / {self.err!r}")
            # A selector, not select.select(): a long test run may hold more than 1024
            # descriptors, which select() cannot watch.
            with selectors.DefaultSelector() as selector:
                selector.register(self.process.stdout, selectors.EVENT_READ)
                selector.register(self.process.stderr, selectors.EVENT_READ)
                ready = [key.fileobj for key, _ in selector.select(left)]
            for stream in ready:
                data = os.read(stream.fileno(), 65536)  # type: ignore[union-attr]
                if stream is self.process.stdout:
                    self.out += data
                else:
                    self.err += data

    def finish(self) -> int:
        out, err = self.process.communicate(timeout=20)
        self.out += out
        self.err += err
        return self.process.returncode


def finish(db_target: DbTarget, status: str, exit_code: int) -> None:
    db_target.execute(
        "UPDATE remediation_actions SET status = :status, exit_code = :code WHERE id = 1",
        status=status,
        code=exit_code,
    )


def test_follow_prints_output_as_it_comes_and_ends_with_the_action(
    running_action: ApprovalService, db_target: DbTarget
) -> None:
    follower = Follower(db_target.cli_args, "1", "--follow")
    try:
        follower.read_until(b"#1 apt upgrade all on nas.lan: executing\n")
        running_action.add_output(1, [("stdout", "Reading package lists...\n")])
        follower.read_until(b"Reading package lists...\n")
        running_action.add_output(1, [("stderr", "W: \x1b[31mred\x1b[0m\n"), ("stdout", "Get:1 ")])
        follower.read_until("W: ␛[31mred␛[0m\n".encode())
        running_action.add_output(1, [("stdout", "http://deb.debian.org\n")])
        follower.read_until(b"Get:1 http://deb.debian.org\n")
        finish(db_target, "completed", 0)
        assert follower.finish() == 0
    finally:
        follower.process.kill()
    assert follower.out.decode().endswith("#1 completed (exit 0)\n")
    assert b"\x1b" not in follower.out + follower.err


def test_follow_of_a_failed_run_exits_1(
    running_action: ApprovalService, db_target: DbTarget
) -> None:
    follower = Follower(db_target.cli_args, "1", "--follow")
    try:
        follower.read_until(b": executing\n")
        running_action.add_output(1, [("stderr", "E: Could not get lock\n")])
        follower.read_until(b"E: Could not get lock\n")
        finish(db_target, "failed", 100)
        assert follower.finish() == 1
    finally:
        follower.process.kill()
    assert follower.out.decode().endswith("#1 failed (exit 100)\n")


def test_follow_of_a_finished_action_prints_its_stored_output(
    running_action: ApprovalService, db_target: DbTarget
) -> None:
    db_target.execute(
        "UPDATE remediation_actions SET status = 'failed', exit_code = -1, "
        "stderr = 'plan changed since approval:' WHERE id = 1"
    )
    follower = Follower(db_target.cli_args, "1", "--follow")
    assert follower.finish() == 1
    assert follower.err == b"plan changed since approval:\n"
    assert follower.out.endswith(b"#1 failed (exit -1)\n")


def test_follow_and_json_do_not_go_together(db_path: Path) -> None:
    follower = Follower(["--db", str(db_path)], "1", "--follow", "--json")
    assert follower.finish() == 2
    assert b"not allowed with argument" in follower.err
