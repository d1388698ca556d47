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
from homelab_approvals.cli.errors import (
    EXIT_CONFLICT,
    EXIT_ERROR,
    EXIT_FORBIDDEN,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_OUTPUT,
    exit_code_for,
)
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


def _run_closed_stdout(argv: list[str], tmp_path: Path, stdin: bytes = b"") -> tuple[int, str]:
    """The CLI with fd 1 closed: stdout=None with close_fds does not close it, a shell's
    '>&-' does. Its exit status and stderr."""
    code = subprocess.run(
        ["sh", "-c", '"$0" -m homelab_approvals "$@" >&- 2>"$ERR"', PYTHON, *argv],
        input=stdin,
        env={**os.environ, "ERR": str(tmp_path / "err")},
        timeout=60,
        check=False,
    ).returncode
    return code, (tmp_path / "err").read_text()


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
    code, err = _run_closed_stdout([*pending.cli_args, "approve", "2"], tmp_path)
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


# -- several ids: each committed change is still reported as committed ---------------------

BATCHES = [
    (["approve", "1", "2"], "approved", 0),
    (["approve", "1", "2", "--json"], "approved", 0),
    (["reject", "1", "2", "--reason", "no"], "rejected", 0),
    (["cancel", "1", "2"], "failed", 0),
    # One refusal: its error, and the batch's status is the refusal's, as with a stdout.
    (["approve", "1", "2", "99"], "approved", 3),
]


def _unprinted(aid: int, why: str) -> str:
    return (
        f"warning: action {aid}: the change was committed, but its result could not be "
        f"printed ({why})"
    )


@pytest.mark.parametrize(("words", "after", "status"), BATCHES)
def test_a_batch_on_a_full_disk_names_each_committed_change(
    pending: DbTarget, words: list[str], after: str, status: int
) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run([*pending.cli_args, *words], full)
    assert code == status
    warnings = [_unprinted(1, "No space left on device"), _unprinted(2, "No space left on device")]
    refusals = ["error: NOT_FOUND: action 99 not found"] if "99" in words else []
    assert err.splitlines() == refusals + warnings
    assert (_status(pending, 1), _status(pending, 2), _status(pending, 3)) == (
        after,
        after,
        "pending",
    )


def test_a_batch_from_stdin_with_a_closed_stdout_keeps_exit_0(
    pending: DbTarget, tmp_path: Path
) -> None:
    code, err = _run_closed_stdout([*pending.cli_args, "approve", "-"], tmp_path, b"2\n3\n")
    assert code == 0
    assert err.splitlines() == [
        _unprinted(2, "stdout is closed"),
        _unprinted(3, "stdout is closed"),
    ]
    assert (_status(pending, 2), _status(pending, 3)) == ("approved", "approved")


# -- other commands that commit: expire, copy-to ---------------------------------------------


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_expire_on_a_full_disk_keeps_exit_0(
    pending: DbTarget, tmp_path: Path, as_json: bool
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[expiry]\npending = "24h"\n', encoding="utf-8")
    pending.execute(
        "UPDATE remediation_actions SET created_at = '2000-01-01 00:00:00' WHERE id = 2"
    )
    with open("/dev/full", "wb") as full:
        words = ["--config", str(config), "expire", *(["--json"] if as_json else [])]
        code, err = _run([*pending.cli_args, *words], full)
    assert code == EXIT_OK
    assert err.splitlines() == [f"{WARNING} (No space left on device)"]
    assert (_status(pending, 1), _status(pending, 2)) == ("pending", "rejected")


def test_expire_with_nothing_expired_on_a_full_disk_is_an_output_error(
    pending: DbTarget, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[expiry]\npending = "24h"\n', encoding="utf-8")
    with open("/dev/full", "wb") as full:
        code, err = _run([*pending.cli_args, "--config", str(config), "expire"], full)
    assert code == EXIT_OUTPUT  # nothing changed: the failed write is the whole story
    assert err.splitlines() == ["error: OUTPUT: cannot write to stdout: No space left on device"]


def test_copy_to_on_a_full_disk_keeps_exit_0(pending: DbTarget, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    with open("/dev/full", "wb") as full:
        code, err = _run([*pending.cli_args, "copy-to", f"sqlite:///{copy}"], full)
    assert code == EXIT_OK
    assert err.splitlines() == [f"{WARNING} (No space left on device)"]
    copied = DbTarget("sqlite", path=copy)
    assert [row["id"] for row in copied.rows("SELECT id FROM remediation_actions")] == [1, 2, 3]


# -- read commands: one clear line and their own status, never "a bug" ----------------------

READS = [
    ["list"],
    ["list", "--json"],
    ["show", "1"],
    ["show", "1", "--json"],
    ["events"],
    ["events", "--csv"],
    ["servers"],
    ["servers", "--json"],
]


@pytest.mark.parametrize("words", READS)
def test_a_read_command_on_a_full_disk_says_so_in_one_line(
    pending: DbTarget, words: list[str]
) -> None:
    with open("/dev/full", "wb") as full:
        code, err = _run([*pending.cli_args, *words], full)
    assert code == EXIT_OUTPUT
    assert err.splitlines() == ["error: OUTPUT: cannot write to stdout: No space left on device"]


@pytest.mark.parametrize("words", READS)
def test_a_read_command_with_a_closed_stdout_says_so_in_one_line(
    pending: DbTarget, words: list[str], tmp_path: Path
) -> None:
    code, err = _run_closed_stdout([*pending.cli_args, *words], tmp_path)
    assert code == EXIT_OUTPUT
    assert err.splitlines() == ["error: OUTPUT: cannot write to stdout: stdout is closed"]


def test_the_output_status_is_its_own() -> None:
    others = {EXIT_OK, EXIT_ERROR, EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_FORBIDDEN}
    assert EXIT_OUTPUT not in others | {EXIT_INTERRUPTED}
    assert exit_code_for("OUTPUT") == EXIT_OUTPUT
