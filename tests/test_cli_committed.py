"""Issue 16: a committed change is reported as committed. When its result cannot be
written (a full disk, a closed stdout, a reader that left), the exit status is still the
database's outcome, so a script does not retry into CONFLICT. Real processes, real fds."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from homelab_approvals.service import ApprovalService

PYTHON = sys.executable
WARNING = "warning: the change was committed, but its result could not be printed"


def _status(db_path: Path, action_id: int) -> str:
    with sqlite3.connect(db_path) as conn:
        row = conn.execute("SELECT status FROM remediation_actions WHERE id = ?", (action_id,))
        status: str = row.fetchone()[0]
    conn.close()
    return status


@pytest.fixture
def pending(seeded: ApprovalService, db_path: Path) -> Path:
    for unit in ("a", "b", "c"):
        seeded.create_action("pi-4", "restart_service", unit, actor="bob")
    return db_path


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
def test_a_full_disk_on_stdout_keeps_exit_0(pending: Path, words: list[str], after: str) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run(["--db", str(pending), *words], full)
    assert code == 0
    assert err.splitlines() == [f"{WARNING} (No space left on device)"]
    assert _status(pending, 1) == after


def test_a_closed_stdout_keeps_exit_0(pending: Path) -> None:
    # stdout=None with close_fds does not close fd 1; a shell's '>&-' does.
    code = subprocess.run(
        [
            "sh",
            "-c",
            '"$0" -m homelab_approvals --db "$1" approve 2 >&- 2>"$2"',
            PYTHON,
            str(pending),
            str(pending.with_name("err")),
        ],
        timeout=60,
        check=False,
    ).returncode
    err = pending.with_name("err").read_text()
    assert code == 0
    assert err.splitlines() == [f"{WARNING} (stdout is closed)"]
    assert _status(pending, 2) == "approved"


def test_a_closed_stdout_and_stderr_still_exit_0(pending: Path) -> None:
    code = subprocess.run(
        [
            "sh",
            "-c",
            '"$0" -m homelab_approvals --db "$1" approve 2 >&- 2>&-',
            PYTHON,
            str(pending),
        ],
        timeout=60,
        check=False,
    ).returncode
    assert code == 0
    assert _status(pending, 2) == "approved"


def test_a_broken_pipe_is_quiet_and_exit_0(pending: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader left before we wrote
    try:
        code, err = _run(
            [
                "--db",
                str(pending),
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


def test_a_refused_change_still_exits_with_its_error(pending: Path) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run(["--db", str(pending), "approve", "99"], full)
    assert code == 3
    assert err.startswith("error: NOT_FOUND")
