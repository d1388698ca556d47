"""approve / reject / cancel with many ids, and '-' for ids on stdin, through the real CLI
process (stdin, stdout, stderr and the exit status as a script sees them). Real SQLite
files and PostgreSQL databases (`backends`)."""

from __future__ import annotations

import io
import itertools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.cli.errors import (
    EXIT_CONFLICT,
    EXIT_ERROR,
    EXIT_FORBIDDEN,
    EXIT_INVALID,
    EXIT_NOT_FOUND,
)
from homelab_approvals.cli.main import main
from homelab_approvals.cli.many import worst
from homelab_approvals.service import ApprovalService

pytestmark = pytest.mark.backends


def run(
    target: DbTarget, env: dict[str, str], *argv: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "homelab_approvals", *target.cli_args, *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOMELAB_APPROVALS_DB", "HOMELAB_APPROVALS_CONFIG")
    }
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    return clean


@pytest.fixture
def queue(service: ApprovalService) -> list[int]:
    """Four pending actions on pi-4 (#1-#4, created by automation); #2 rejected by bob."""
    service.add_server("pi-4", "pi4.lan", paused=True)
    ids = [
        service.create_action("pi-4", "restart_service", unit, actor="automation").id
        for unit in ("nginx", "sshd", "cron", "smbd")
    ]
    service.reject(ids[1], "bob", "flapping")
    return ids


def statuses(target: DbTarget) -> dict[int, str]:
    return dict(target.execute("SELECT id, status FROM remediation_actions"))  # type: ignore[arg-type]


def test_mixed_outcomes_one_line_each_and_the_rest_still_decided(
    db_target: DbTarget, env: dict[str, str], queue: list[int]
) -> None:
    result = run(db_target, env, "--operator", "alice", "approve", "1", "#2", "999", "3")
    assert result.returncode == EXIT_CONFLICT  # conflict (4) outranks not found (3)
    assert result.stdout.splitlines() == [
        "approved #1 restart nginx on pi4.lan",
        "approved #3 restart cron on pi4.lan",
    ]
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("error: CONFLICT: cannot approve action 2: already rejected by bob")
    assert errors[1] == "error: NOT_FOUND: action 999 not found"
    assert statuses(db_target) == {1: "approved", 2: "rejected", 3: "approved", 4: "pending"}


def test_json_is_a_list_of_per_id_results_in_the_single_shapes(
    db_target: DbTarget, env: dict[str, str], queue: list[int]
) -> None:
    result = run(db_target, env, "--operator", "carol", "cancel", "1", "2", "999", "--json")
    assert result.returncode == EXIT_CONFLICT
    cancelled, conflict, missing = json.loads(result.stdout)
    single = json.loads(run(db_target, env, "show", "1", "--json").stdout)
    assert cancelled == single  # the same object `cancel 1 --json` alone prints
    assert (cancelled["status"], cancelled["exit_code"]) == ("failed", -1)
    assert conflict["id"] == 2
    assert conflict["error"]["code"] == "CONFLICT"
    assert missing == {"id": 999, "error": {"code": "NOT_FOUND", "message": "action 999 not found"}}
    assert len(result.stderr.splitlines()) == 2  # each error also as its one stderr line


def test_one_id_prints_exactly_what_it_always_did(
    db_target: DbTarget, env: dict[str, str], queue: list[int]
) -> None:
    approved = run(db_target, env, "--operator", "alice", "approve", "1", "--json")
    assert approved.returncode == 0
    assert json.loads(approved.stdout)["approved_by"] == "alice"  # an object, not a list
    refused = run(db_target, env, "approve", "2", "--json")
    assert refused.returncode == EXIT_CONFLICT
    assert list(json.loads(refused.stdout)) == ["error"]
    said = run(db_target, env, "reject", "3", "--reason", "later")
    assert (said.returncode, said.stdout) == (0, "rejected #3 restart cron on pi4.lan: later\n")


def test_stdin_takes_the_json_array_list_prints(
    db_target: DbTarget, env: dict[str, str], queue: list[int]
) -> None:
    listed = run(db_target, env, "list", "--status", "pending", "--json")
    result = run(
        db_target, env, "--operator", "alice", "reject", "-", "--reason", "not now", "--json",
        stdin=listed.stdout,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    decided = json.loads(result.stdout)
    assert [(a["id"], a["status"], a["rejection_reason"]) for a in decided] == [
        (1, "rejected", "not now"),
        (3, "rejected", "not now"),
        (4, "rejected", "not now"),
    ]


def test_stdin_takes_one_id_per_line(
    db_target: DbTarget, env: dict[str, str], queue: list[int]
) -> None:
    result = run(db_target, env, "approve", "-", "--json", stdin="#4\n\n  1 \n")
    assert result.returncode == 0, result.stderr
    assert [a["id"] for a in json.loads(result.stdout)] == [4, 1]  # a list even for '-'
    one = run(db_target, env, "cancel", "-", "--json", stdin="3\n")
    assert [a["id"] for a in json.loads(one.stdout)] == [3]


@pytest.mark.parametrize(
    ("stdin", "says"),
    [
        pytest.param("1\nabc\n", "stdin line 2: an action id must be a positive", id="bad-line"),
        pytest.param('[1, {"id": true}]', "stdin item 1: expected an action", id="bad-item"),
        pytest.param('{"error": {"code": "X"}}', "(the command before failed)", id="error-obj"),
        pytest.param("[1, 2", "not valid JSON", id="broken-json"),
    ],
)
def test_bad_stdin_changes_nothing(
    db_target: DbTarget, env: dict[str, str], queue: list[int], stdin: str, says: str
) -> None:
    before = statuses(db_target)
    result = run(db_target, env, "approve", "-", "--json", stdin=stdin)
    assert result.returncode == EXIT_INVALID
    assert says in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert json.loads(result.stdout)["error"]["code"] == "USAGE"
    assert statuses(db_target) == before


def test_empty_stdin_decides_nothing_and_succeeds(
    db_target: DbTarget, env: dict[str, str], queue: list[int]
) -> None:
    # `list --status pending --json | approve -` with nothing pending is not an error.
    result = run(db_target, env, "approve", "-", "--json", stdin="[]\n")
    assert (result.returncode, json.loads(result.stdout)) == (0, [])
    assert "nothing to do" in result.stderr


def test_forbidden_outranks_conflict_and_not_found(
    db_target: DbTarget, env: dict[str, str], service: ApprovalService, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("allow_self_approval = false\n")
    service.add_server("pi-4", "pi4.lan", paused=True)
    own = service.create_action("pi-4", "clear_logs", actor="alice").id
    other = service.create_action("pi-4", "apt_update", actor="automation").id
    taken = service.create_action("pi-4", "apt_upgrade_all", actor="automation").id
    service.approve(taken, "bob")
    pre = ["--operator", "alice", "--config", str(config)]
    result = run(db_target, env, *pre, "approve", str(taken), "998", str(own), str(other))
    assert result.returncode == EXIT_FORBIDDEN
    assert statuses(db_target)[other] == "approved"  # the refusals stopped nothing
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()] == [
        "CONFLICT",
        "NOT_FOUND",
        "FORBIDDEN",
    ]


def test_a_whole_call_refusal_is_one_error_object(
    db_target: DbTarget, env: dict[str, str], queue: list[int], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('approvers = ["alice"]\n')
    result = run(
        db_target, env, "--operator", "mallory", "--config", str(config),
        "approve", "1", "3", "--json",
    )  # fmt: skip
    assert result.returncode == EXIT_FORBIDDEN
    assert list(json.loads(result.stdout)) == ["error"]  # nothing was tried: no per-id list
    assert statuses(db_target)[1] == "pending"


@pytest.mark.sqlite_only("SQLite's write lock against its busy timeout")
def test_a_database_failure_outranks_everything(
    db_path: Path,
    db_target: DbTarget,
    queue: list[int],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In process, to wait 50 ms for the lock instead of the default 5 s.
    monkeypatch.setattr("homelab_approvals.storage.sqlite.opening.BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"999\n2\n1\n3\n")))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(db_path.parent / "xdg-config"))
    capsys.readouterr()
    # Another process holds the write lock past the busy timeout: the first id fails, and
    # the batch stops there (each further id would wait out the same timeout).
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        code = main(["--db", str(db_path), "approve", "-", "--json"])
    finally:
        blocker.rollback()
        blocker.close()
    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_ERROR
    assert [item["id"] for item in out] == [999, 2, 1, 3]
    assert {item["error"]["code"] for item in out} == {"DATABASE_BUSY"}
    assert "action 3 not attempted: the database failed on action 999" in out[3]["error"]["message"]
    assert statuses(db_target)[1] == "pending"


@pytest.mark.parametrize(
    "codes", list(itertools.permutations([EXIT_INVALID, EXIT_NOT_FOUND, EXIT_CONFLICT]))
)
def test_the_most_severe_code_wins_whatever_the_order(codes: tuple[int, ...]) -> None:
    assert worst(codes) == EXIT_CONFLICT
    assert worst((*codes, EXIT_FORBIDDEN)) == EXIT_FORBIDDEN
    assert worst((EXIT_ERROR, *codes, EXIT_FORBIDDEN)) == EXIT_ERROR
    assert worst(codes[:1]) == codes[0]
    assert worst(()) == 0


def test_a_vote_short_of_its_quorum_says_so_in_the_batch(
    db_target: DbTarget, env: dict[str, str], service: ApprovalService, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[rules.clear_logs]\napprovals = 2\n")
    service.add_server("pi-4", "pi4.lan", paused=True)
    two = service.create_action("pi-4", "clear_logs", actor="automation").id
    one = service.create_action("pi-4", "apt_update", actor="automation").id
    pre = ["--operator", "alice", "--config", str(config)]
    said = run(db_target, env, *pre, "approve", str(two), str(one))
    assert said.returncode == 0, said.stderr
    assert said.stdout.splitlines() == [
        "#1 clear logs on pi4.lan: 1 of 2 approvals; waiting for another approver",
        "approved #2 apt update on pi4.lan",
    ]
    shown = run(db_target, env, *pre, "--operator", "bob", "approve", "-", "--json", stdin="1\n")
    (item,) = json.loads(shown.stdout)
    assert (item["status"], item["approvals_required"], len(item["approvals"])) == (
        "approved",
        2,
        2,
    )
