"""Issue 16: a committed change is reported as committed. When its result cannot be
written (a full disk, a closed stdout, a reader that left), the exit status is still the
database's outcome, so a script does not retry into CONFLICT. Real processes, real fds, on
SQLite and PostgreSQL (`backends`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.service import ApprovalService

pytestmark = pytest.mark.backends

PYTHON = sys.executable
WARNING = "warning: the change was committed, but its result could not be printed"


def _status(target: DbTarget, action_id: int) -> str:
    [(status,)] = target.execute(
        "SELECT status FROM remediation_actions WHERE id = :id", id=action_id
    )
    return str(status)


@pytest.fixture
def pending(seeded: ApprovalService, db_target: DbTarget) -> DbTarget:
    for unit in ("a", "b", "c"):
        seeded.create_action("pi-4", "restart_service", unit, actor="bob")
    return db_target


def _run(argv: list[str], stdout: object, stderr: object = subprocess.PIPE) -> tuple[int, str]:
    result = subprocess.run(
        [PYTHON, "-m", "homelab_approvals", *argv],
        stdout=stdout,  # type: ignore[arg-type]
        stderr=stderr,  # type: ignore[arg-type]
        timeout=60,
        check=False,
    )
    err = result.stderr.decode() if isinstance(result.stderr, bytes) else ""
    assert "Traceback" not in err
    return result.returncode, err


COMMANDS = [
    (["approve", "1"], "approved"),
    (["approve", "1", "--json"], "approved"),
    (["reject", "1", "--reason", "no"], "rejected"),
    (["cancel", "1"], "failed"),
]


@pytest.mark.parametrize(("words", "after"), COMMANDS)
def test_a_full_disk_on_stdout_keeps_exit_0(
    pending: DbTarget, words: list[str], after: str
) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run([*pending.cli_args, *words], full)
    assert code == 0
    assert err.splitlines() == [f"{WARNING} (No space left on device)"]
    assert _status(pending, 1) == after


def test_a_closed_stdout_keeps_exit_0(pending: DbTarget, tmp_path: Path) -> None:
    # stdout=None with close_fds does not close fd 1; a shell's '>&-' does.
    code = subprocess.run(
        [
            "sh",
            "-c",
            '"$0" -m homelab_approvals "$1" "$2" approve 2 >&- 2>"$3"',
            PYTHON,
            *pending.cli_args,
            str(tmp_path / "err"),
        ],
        timeout=60,
        check=False,
    ).returncode
    err = (tmp_path / "err").read_text()
    assert code == 0
    assert err.splitlines() == [f"{WARNING} (stdout is closed)"]
    assert _status(pending, 2) == "approved"


def test_a_closed_stdout_and_stderr_still_exit_0(pending: DbTarget) -> None:
    code = subprocess.run(
        [
            "sh",
            "-c",
            '"$0" -m homelab_approvals "$1" "$2" approve 2 >&- 2>&-',
            PYTHON,
            *pending.cli_args,
        ],
        timeout=60,
        check=False,
    ).returncode
    assert code == 0
    assert _status(pending, 2) == "approved"


def test_a_broken_pipe_is_quiet_and_exit_0(pending: DbTarget) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader left before we wrote
    try:
        code, err = _run(
            [
                *pending.cli_args,
                "create",
                "--server",
                "pi-4",
                "--type",
                "restart_service",
                "--service",
                "z",
                "--json",
            ],
            write,
        )
    finally:
        os.close(write)
    assert (code, err) == (0, "")
    assert _status(pending, 4) == "pending"


def test_a_refused_change_still_exits_with_its_error(pending: DbTarget) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run([*pending.cli_args, "approve", "99"], full)
    assert code == 3
    assert err.startswith("error: NOT_FOUND")
