"""Faults from issue 5, with real processes: a writer holding the lock past the busy
timeout, processes killed mid-stream, users who may read but not write, and files that
are not databases. Each must leave the database exactly as it was, with one clear line.

Where a fault has a meaning on PostgreSQL (a writer holding a row lock, writers killed
mid-decision, a newer schema, --read-only) the test runs on both (`backends`); the rest is
about SQLite files, their folders and their owners. PostgreSQL's own connection faults
(server down, wrong password, missing database, a SELECT-only role) are in
test_postgres.py.
"""

from __future__ import annotations

import itertools
import json
import os
import pwd
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from db_targets import DbTarget
from homelab_approvals.domain.errors import DatabaseBusy
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage.schema import SCHEMA_VERSION
from pg_support import PgServer

PYTHON = sys.executable

pytestmark = pytest.mark.backends


# -- helpers -----------------------------------------------------------------------------------


def cli(
    argv: Sequence[str], env: dict[str, str], *, user: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    command = [PYTHON, "-m", "homelab_approvals", *argv]
    return subprocess.run(
        as_user(user, command), env=env, capture_output=True, text=True, timeout=timeout
    )


# Runs several CLI commands in one process (as another user, if asked): each is the real
# `main(argv)` with its own stdout/stderr, so a test pays Python's start-up once.
CLI_BATCH = """
import contextlib, io, json, sys
from homelab_approvals.cli.main import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""


def cli_batch(
    argvs: Sequence[Sequence[str]], env: dict[str, str], *, user: str | None = None
) -> list[subprocess.CompletedProcess[str]]:
    command = [PYTHON, "-c", CLI_BATCH, json.dumps([list(a) for a in argvs])]
    done = subprocess.run(
        as_user(user, command), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return [
        subprocess.CompletedProcess(list(argv), code, out, err)
        for argv, (code, out, err) in zip(argvs, json.loads(done.stdout), strict=True)
    ]


def as_user(user: str | None, command: list[str]) -> list[str]:
    if user is None:
        return command
    group = "nogroup" if user == "nobody" else user
    return ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups", *command]


def one_error_line(result: subprocess.CompletedProcess[str], code: str) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {code}: "), lines[0]
    return lines[0]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder other users can reach (pytest's own tmp tree is private to us)."""
    folder = Path(tempfile.mkdtemp(prefix="homelab-approvals-faults-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def env(shared_dir: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOMELAB_APPROVALS_DB", "HOMELAB_APPROVALS_CONFIG")
    }
    # Config and data dirs every user may look into (and find nothing).
    clean["HOME"] = str(shared_dir)
    clean["XDG_CONFIG_HOME"] = str(shared_dir / "config")
    clean["XDG_DATA_HOME"] = str(shared_dir / "data")
    return clean


def _target(where: Path | DbTarget) -> DbTarget:
    return where if isinstance(where, DbTarget) else DbTarget("sqlite", path=where)


def seed(where: Path | DbTarget, *, pending: int = 2) -> None:
    db = _target(where).open()
    try:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
        for n in range(pending):
            service.create_action("pi-4", "restart_service", f"unit{n}", actor="bob")
    finally:
        db.close()


def rows(where: Path | DbTarget) -> tuple[list[Any], list[Any], list[Any]]:
    target = _target(where)
    if target.path is None:
        return (
            target.execute("SELECT * FROM servers ORDER BY id"),
            target.execute("SELECT * FROM remediation_actions ORDER BY id"),
            target.execute("SELECT * FROM action_events ORDER BY id"),
        )
    conn = sqlite3.connect(f"file:{target.path}?mode=ro", uri=True)  # leaves no -wal behind
    try:
        return (
            conn.execute("SELECT * FROM servers ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM remediation_actions ORDER BY id").fetchall(),
            conn.execute("SELECT * FROM action_events ORDER BY id").fetchall(),
        )
    finally:
        conn.close()


def listing(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file in the folder: owner, mode and content."""
    out = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_file():
            info = entry.stat()
            out[entry.name] = (info.st_uid, info.st_mode, entry.read_bytes())
    return out


def assert_consistent(place: Path | DbTarget) -> None:
    """The database is sound and no action is half-decided."""
    target = _target(place)
    if target.path is not None:
        conn = sqlite3.connect(target.path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall()[0][0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            conn.close()
    events: dict[int, list[dict[str, Any]]] = {}
    for event in target.rows("SELECT * FROM action_events ORDER BY id"):
        events.setdefault(event["action_id"], []).append(event)
    actions = target.rows("SELECT * FROM remediation_actions")
    assert set(events) <= {a["id"] for a in actions}, "events for an action that is not there"
    for action in actions:
        trail = events.get(action["id"], [])
        where = f"action {action['id']} ({action['status']}): {[list(e.values()) for e in trail]}"
        assert trail, where
        assert (trail[0]["from_status"], trail[0]["to_status"]) == (None, "pending"), where
        for before, after in itertools.pairwise(trail):
            assert after["from_status"] == before["to_status"], where
        assert trail[-1]["to_status"] == action["status"], where
        status = action["status"]
        decided = (action["approved_at"], action["approved_by"])
        rejected = (action["rejected_at"], action["rejected_by"], action["rejection_reason"])
        if status == "pending":
            assert decided == (None, None), where
            assert rejected == (None, None, None), where
            assert action["completed_at"] is None, where
        elif status == "approved":
            assert None not in decided, where
            assert rejected == (None, None, None), where
        elif status == "rejected":
            assert None not in rejected, where
            assert trail[-1]["reason"] == action["rejection_reason"], where
            assert decided == (None, None), where
        elif status == "failed":
            assert action["exit_code"] == -1, where
            assert action["stderr"] == "Action cancelled by user", where
            assert action["completed_at"] is not None, where
        else:
            raise AssertionError(where)


# -- a writer holds the lock past the busy timeout ---------------------------------------------

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
# Half of someone else's change, never committed.
conn.execute("UPDATE remediation_actions SET status = 'approved', approved_by = 'holder'")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""

# PostgreSQL's counterpart: a transaction left open holding the rows it updated (a stuck
# writer, a psql session idle in transaction).
HOLD_LOCK_PG = """
import psycopg, sys
conn = psycopg.connect(sys.argv[1])
# Half of someone else's change, never committed.
conn.execute("UPDATE remediation_actions SET status = 'approved', approved_by = 'holder'")
print("locked", flush=True)
sys.stdin.read()
conn.rollback()
"""


@pytest.mark.slow
def test_a_writer_holding_the_lock_gives_busy_and_nothing_half_written(
    db_target: DbTarget, env: dict[str, str]
) -> None:
    seed(db_target)
    before = rows(db_target)
    db = db_target.open()
    service = ApprovalService(db)
    script = HOLD_LOCK if db_target.path is not None else HOLD_LOCK_PG
    holder = subprocess.Popen(
        [PYTHON, "-c", script, db_target.location],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        # The CLI waits for the lock in its own process while this one does too.
        approving = subprocess.Popen(
            [PYTHON, "-m", "homelab_approvals", *db_target.cli_args, "approve", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Readers are not blocked by a writer (WAL; PostgreSQL's MVCC).
        listed = cli([*db_target.cli_args, "list", "--json"], env)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.count('"status": "pending"') == 2

        with pytest.raises(DatabaseBusy) as caught:
            service.reject(2, "alice", "not now")

        out, err = approving.communicate(timeout=60)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        db.close()

    assert caught.value.code == "DATABASE_BUSY"
    assert "busy" in caught.value.message
    assert "\n" not in caught.value.message
    assert approving.returncode == 1
    line = one_error_line(
        subprocess.CompletedProcess(approving.args, approving.returncode, out, err),
        "DATABASE_BUSY",
    )
    assert "busy" in line
    assert out == ""
    assert rows(db_target) == before
    assert_consistent(db_target)
    # Once the lock is gone, the operator simply retries.
    retried = cli([*db_target.cli_args, "approve", "1"], env)
    assert retried.returncode == 0, retried.stderr


# -- processes killed at any point -------------------------------------------------------------

# The writers take SIGHUP and SIGTERM as a process started from a terminal does, even when
# the test run itself ignores them (under nohup, say, SIGHUP is inherited as ignored).
DECISION_STREAM = """
import signal
import sys
from pathlib import Path
signal.signal(signal.SIGHUP, signal.SIG_DFL)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
print("started", flush=True)
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
where, tag = sys.argv[1], sys.argv[2]
db = open_database(url=where) if where.startswith("postgresql") else open_database(Path(where))
service = ApprovalService(db)
print("open", flush=True)
n = 0
while True:
    action = service.create_action("pi-4", "restart_service", f"{tag}-{n}", actor="bot")
    step = n % 4
    if step == 0:
        service.approve(action.id, "alice")
    elif step == 1:
        service.reject(action.id, "alice", f"reason {tag} {n}")
    elif step == 2:
        service.cancel(action.id, "carol")
    else:
        service.approve(action.id, "alice")
        service.cancel(action.id, "carol")
    print(n, flush=True)
    n += 1
"""

KILL_ROUNDS = 6


@pytest.mark.slow
def test_killing_writers_at_any_point_leaves_nothing_half_decided(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    rng = random.Random(20261127)
    if backend == "sqlite":
        target = DbTarget(backend, path=tmp_path / "stream" / "approvals.db")
    else:  # an empty database: the first round may be killed while creating the schema
        server = request.getfixturevalue("pg_server")
        target = DbTarget(backend, url=server.fresh(empty=True))
        request.addfinalizer(lambda: server.drop_url(str(target.url)))
    signals = [signal.SIGKILL, signal.SIGKILL, signal.SIGHUP, signal.SIGTERM]
    for round_number in range(KILL_ROUNDS):
        if round_number == 1:
            # The first round may have been killed before the database existed.
            db = target.open()
            try:
                if not ApprovalService(db).list_servers():
                    ApprovalService(db).add_server("pi-4", "pi4.lan", paused=True)
            finally:
                db.close()
        writers = [
            subprocess.Popen(
                [PYTHON, "-c", DECISION_STREAM, target.location, f"r{round_number}w{w}"],
                stdout=subprocess.PIPE if w == 0 else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(2)
        ]
        watched = writers[0]
        assert watched.stdout is not None
        # Round 0 kills around the very first open of a database that does not exist yet;
        # later rounds after a random number of completed steps.
        kill_at = "open" if round_number == 0 else str(rng.randrange(0, 40))
        for line in watched.stdout:
            if line.strip() == kill_at or (round_number == 0 and line.strip() == "started"):
                break
        sig = signals[round_number % len(signals)]
        for writer in writers:
            writer.send_signal(sig)
        for writer in writers:
            writer.wait(timeout=30)
            stderr = writer.stderr.read() if writer.stderr else ""
            # Died of the signal, not of an error of its own.
            assert writer.returncode == -sig, (round_number, writer.returncode, stderr)
        if _has_tables(target):
            assert_consistent(target)

    assert_consistent(target)
    # The survivors' database is fully usable.
    db = target.open()
    try:
        service = ApprovalService(db)
        action = service.create_action("pi-4", "restart_service", "after-the-storm", actor="bob")
        assert service.approve(action.id, "alice").status == "approved"
        assert len(service.list_actions().rows) > KILL_ROUNDS
    finally:
        db.close()
    assert_consistent(target)


def _has_tables(target: DbTarget) -> bool:
    """Whether the writers got as far as creating the schema."""
    if target.path is not None:
        return target.path.exists() and target.path.stat().st_size > 0
    return target.execute("SELECT to_regclass('action_events') IS NOT NULL")[0][0] is True


# -- not a database, and a newer schema, through the CLI ---------------------------------------


def test_cli_random_bytes_is_one_line_exit_1_and_untouched(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = tmp_path / "approvals.db"
    path.write_bytes(os.urandom(16384))
    before = listing(tmp_path)
    real = cli(["--db", str(path), "list"], env)
    batched = cli_batch(
        [["--db", str(path), *argv] for argv in (["approve", "1"], ["--read-only", "servers"])],
        env,
    )
    for result in (real, *batched):
        assert result.returncode == 1
        line = one_error_line(result, "DATABASE_ERROR")
        assert line == f"error: DATABASE_ERROR: not a SQLite database: {path}"
        assert result.stdout == ""
    assert listing(tmp_path) == before


def everything(target: DbTarget, folder: Path) -> object:
    """All a command could change: the database's rows and schema, and on SQLite every
    file beside it too (owner, mode, bytes)."""
    return (target.dump(), listing(folder)) if target.path is not None else target.dump()


def test_cli_newer_schema_is_refused_and_nothing_changes(
    tmp_path: Path, db_target: DbTarget, env: dict[str, str]
) -> None:
    seed(db_target)
    db_target.execute("UPDATE approvals_schema SET version = :v", v=SCHEMA_VERSION + 7)
    before = everything(db_target, tmp_path)
    argvs = [
        [*db_target.cli_args, *a] for a in (["list"], ["approve", "1"], ["--read-only", "events"])
    ]
    for result in cli_batch(argvs, env):
        assert result.returncode == 1
        line = one_error_line(result, "DATABASE_ERROR")
        assert f"version {SCHEMA_VERSION + 7} is newer" in line
    assert everything(db_target, tmp_path) == before


def test_cli_creates_a_missing_folder_private(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "not" / "yet" / "approvals.db"
    result = cli(["--db", str(path), "servers"], env)
    assert result.returncode == 0, result.stderr
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_cli_read_only_by_choice_leaves_no_files_behind(
    tmp_path: Path, db_target: DbTarget, env: dict[str, str]
) -> None:
    seed(db_target)
    before = everything(db_target, tmp_path)
    listed, refused = cli_batch(
        [
            [*db_target.cli_args, "--read-only", "list"],
            [*db_target.cli_args, "--read-only", "approve", "1"],
        ],
        env,
    )
    assert listed.returncode == 0, listed.stderr
    assert refused.returncode == 1
    assert "read-only" in one_error_line(refused, "DATABASE_ERROR")
    assert everything(db_target, tmp_path) == before


# -- a user who may read but not write ---------------------------------------------------------


def _can_run_as(user: str) -> str | None:
    """Why we cannot run this interpreter as `user`, or None when we can."""
    if os.geteuid() != 0:
        return "needs root to run a step as another user"
    if shutil.which("setpriv") is None:
        return "needs setpriv (util-linux)"
    probe = subprocess.run(
        as_user(user, [PYTHON, "-c", "import homelab_approvals.cli.main"]),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"{user} cannot run {PYTHON} with this project: {probe.stderr.strip()[-200:]}"
    return None


@pytest.fixture(scope="module")
def nobody() -> str:
    why = _can_run_as("nobody")
    if why is not None:
        pytest.skip(why)
    return "nobody"


DECISIONS = [
    ["approve", "1"],
    ["reject", "1", "--reason", "no"],
    ["cancel", "1"],
    ["create", "--server", "pi-4", "--type", "clear_logs"],
    ["server", "pause", "pi-4"],
    ["server", "add", "pi-5", "--hostname", "pi5.lan"],
]


def _reads_work_decisions_fail(
    where: Path | list[str], env: dict[str, str], user: str | None, *, expect: str
) -> None:
    db = [*(["--db", str(where)] if isinstance(where, Path) else where), "--operator", "alice"]
    reads = [[*db, "list", "--json"], [*db, "show", "1"], [*db, "events", "--json"]]
    results = cli_batch([*reads, *([*db, *argv] for argv in DECISIONS)], env, user=user)
    listed, shown, events, *decisions = results
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count('"status": "pending"') == 2
    assert shown.returncode == 0, shown.stderr
    assert events.returncode == 0, events.stderr
    assert events.stdout.count('"to_status"') == 2
    for result in decisions:
        assert result.returncode in (1, 5), (result.args, result.stderr)
        line = one_error_line(result, "DATABASE_ERROR")
        assert expect in line, line
        assert result.stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize("journal", ["wal-closed", "wal-open-elsewhere", "rollback-journal"])
def test_a_reader_who_cannot_write_the_file_or_folder(
    nobody: str, shared_dir: Path, env: dict[str, str], journal: str
) -> None:
    """Root owns the database (0644) and its folder (0755)."""
    folder = shared_dir / "db"
    path = folder / "approvals.db"
    seed(path)
    if journal == "rollback-journal":  # as HomelabCmd's own database may be
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.close()
    path.chmod(0o644)
    folder.chmod(0o755)
    keeper = None
    if journal == "wal-open-elsewhere":
        # A writer has it open, so -wal and -shm exist (0644, like the file).
        keeper = sqlite3.connect(path)
        keeper.execute("SELECT count(*) FROM servers").fetchone()
        assert path.with_name("approvals.db-shm").exists()
    before_rows = rows(path)
    before_files = listing(folder)
    try:
        _reads_work_decisions_fail(path, env, nobody, expect="read-only")
        if keeper is not None:
            # The reader shares the writer's -shm: it sees what was committed a moment ago.
            keeper.execute("UPDATE servers SET display_name = 'fresh'")
            keeper.commit()
            fresh = cli(["--db", str(path), "servers", "--json"], env, user=nobody)
            assert '"fresh"' in fresh.stdout, fresh.stderr
            keeper.execute("UPDATE servers SET display_name = 'PI-4'")
            keeper.commit()
    finally:
        if keeper is not None:
            keeper.close()
    assert rows(path) == before_rows
    if keeper is None:
        assert listing(folder) == before_files
    # Whatever the journal, the reader created no file of its own.
    reader_uid = pwd.getpwnam(nobody).pw_uid
    assert [p.name for p in folder.iterdir() if p.stat().st_uid == reader_uid] == []


def test_a_postgresql_role_that_may_only_read(
    pg_server: PgServer, env: dict[str, str], request: pytest.FixtureRequest
) -> None:
    """PostgreSQL's reader who cannot write: a role granted SELECT alone. Every read
    works; every change is refused in one line, before anything is tried."""
    url = pg_server.fresh()
    request.addfinalizer(lambda: pg_server.drop_url(url))
    target = DbTarget("postgresql", url=url)
    seed(target)
    role = f"approvals_reader_{os.getpid()}"
    database = str(make_url(url).database)
    target.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader-secret'")
    try:
        target.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
        target.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        before = rows(target)
        reader = pg_server.url_for(database, user=role, password="reader-secret")
        _reads_work_decisions_fail(
            ["--database-url", reader], env, None, expect=f"the role {role} may not change"
        )
        assert rows(target) == before
        assert_consistent(target)
    finally:
        target.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}")
        target.execute(f'REVOKE ALL ON DATABASE "{database}" FROM {role}')
        target.execute(f"DROP ROLE {role}")


@pytest.mark.slow
def test_a_writable_file_in_a_folder_the_user_cannot_write(
    nobody: str, shared_dir: Path, env: dict[str, str]
) -> None:
    folder = shared_dir / "db"
    path = folder / "approvals.db"
    seed(path)
    path.chmod(0o666)
    folder.chmod(0o755)
    before = listing(folder)
    _reads_work_decisions_fail(path, env, nobody, expect="folder is not writable")
    assert listing(folder) == before


@pytest.mark.slow
def test_a_reader_never_leaves_files_that_lock_out_the_owner(
    nobody: str, shared_dir: Path, env: dict[str, str]
) -> None:
    """In a shared folder (1777) a reader could create -wal/-shm files it owns; the
    owner's next write would then fail. The reader must create nothing."""
    owner = "daemon"
    if _can_run_as(owner) is not None:
        pytest.skip(f"cannot run as {owner}")
    folder = shared_dir / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    path = folder / "approvals.db"
    db = ["--db", str(path)]
    create = [*db, "create", "--server", "pi-4", "--type", "restart_service", "--service"]
    made = cli_batch(
        [[*db, "server", "add", "pi-4", "--hostname", "pi.lan", "--paused"],
         [*create, "a"], [*create, "b"]],
        env, user=owner,
    )  # fmt: skip
    assert [r.returncode for r in made] == [0, 0, 0], [r.stderr for r in made]
    path.chmod(0o644)
    before = listing(folder)

    _reads_work_decisions_fail(path, env, nobody, expect="read-only")

    assert listing(folder) == before
    approved = cli(["--db", str(path), "approve", "1"], env, user=owner)
    assert approved.returncode == 0, approved.stderr
    assert_consistent(path)


@pytest.mark.slow
def test_unreadable_or_uncreatable_databases_are_one_line(
    nobody: str, shared_dir: Path, env: dict[str, str]
) -> None:
    private = shared_dir / "private.db"
    seed(private)
    private.chmod(0o600)
    locked_away = shared_dir / "locked"
    locked_away.mkdir(mode=0o700)
    unreadable, uncreatable, unreachable = cli_batch(
        [
            ["--db", str(private), "list"],
            ["--db", str(shared_dir / "new.db"), "servers"],
            ["--db", str(locked_away / "x.db"), "list"],
        ],
        env,
        user=nobody,
    )
    assert unreadable.returncode == 1
    assert "cannot open the database" in one_error_line(unreadable, "DATABASE_ERROR")
    assert uncreatable.returncode == 1
    assert "cannot create the database (Permission denied)" in one_error_line(
        uncreatable, "DATABASE_ERROR"
    )
    assert not (shared_dir / "new.db").exists()
    assert unreachable.returncode == 1
    assert "Permission denied" in one_error_line(unreachable, "DATABASE_ERROR")
