"""The CLI as real processes: entry points, what a startup imports, signals, closed pipes,
and a user who may read the database but not write it. Never a traceback."""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import re
import selectors
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from homelab_approvals import __version__
from homelab_approvals.service import ApprovalService

PYTHON = sys.executable
SCRIPT = Path(PYTHON).with_name("homelab-approvals")


def run(
    argv: Sequence[str], env: dict[str, str], *, user: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    command = [PYTHON, "-m", "homelab_approvals", *argv]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *command]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The process environment: hermetic config and data dirs, no inherited overrides."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HOMELAB_APPROVALS_DB", "HOMELAB_APPROVALS_CONFIG")
    }
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
    clean["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    clean["XDG_STATE_HOME"] = str(tmp_path / "xdg-state")
    return clean


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {code}: ")


def test_python_m_version(env: dict[str, str]) -> None:
    result = run(["--version"], env)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"homelab-approvals {__version__}\n",
        "",
    )


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed next to python")
def test_console_script(env: dict[str, str], db_path: Path) -> None:
    result = subprocess.run(
        [str(SCRIPT), "--db", str(db_path), "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")


def test_startup_imports_stay_light(env: dict[str, str], db_path: Path) -> None:
    """`list` must not load Textual or Rich, and --version not even SQLAlchemy: startup
    time matters on a Raspberry Pi."""
    probe = (
        "import sys\n"
        "from homelab_approvals.cli.main import main\n"
        "heavy = ('textual', 'rich', 'sqlalchemy')\n"
        "main(['--version'])\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        f"main(['--db', {str(db_path)!r}, 'list', '--json'])\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", probe], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"homelab-approvals {__version__}",
        "[]",
        "[]",
        "['sqlalchemy']",
    ]


def test_failures_in_a_real_process_are_one_line(
    env: dict[str, str], seeded: ApprovalService, db_path: Path, tmp_path: Path
) -> None:
    usage = run(["--db", str(db_path), "approve", "not-a-number"], env)
    assert usage.returncode == 2
    assert_one_error_line(usage, "USAGE")

    missing = run(["--db", str(db_path), "show", "42"], env)
    assert missing.returncode == 3
    assert_one_error_line(missing, "NOT_FOUND")

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 512)
    before = junk.read_bytes()
    corrupt = run(["--db", str(junk), "list"], env)
    assert corrupt.returncode == 1
    assert corrupt.stderr == f"error: DATABASE_ERROR: not a SQLite database: {junk}\n"
    assert junk.read_bytes() == before

    # A value nothing expects (a timestamp that is not one) is shown, marked (issue 16).
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO remediation_actions (server_id, action_type, status, command,"
            " created_at, created_by) VALUES ('nas', 'clear_logs', 'pending', 'x', 'soon', 'x')"
        )
    conn.close()
    damaged = run(["--db", str(db_path), "list"], env)
    assert (damaged.returncode, damaged.stderr) == (0, "")
    assert "\u26a0soon" in damaged.stdout

    # A table nothing expects (a column gone) is still one line, exit 1.
    with sqlite3.connect(db_path) as conn:
        conn.execute("ALTER TABLE remediation_actions DROP COLUMN stderr")
    conn.close()
    unexpected = run(["--db", str(db_path), "list"], env)
    assert unexpected.returncode == 1
    assert "Traceback" not in unexpected.stderr
    assert len(unexpected.stderr.splitlines()) == 1


def _many_events(db_path: Path, service: ApprovalService, count: int) -> None:
    """Enough audit rows that an export overfills a pipe (the trail is append-only, so
    rows can be added directly)."""
    service.create_action("nas", "clear_logs", actor="seed")
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO action_events (action_id, from_status, to_status, actor, at, reason)"
            " VALUES (1, 'pending', 'approved', 'seed', '2026-11-27 10:00:00.000000', ?)",
            [(f"row {i} " + "x" * 60,) for i in range(count)],
        )
    conn.close()


def _bytes_waiting(fd: int) -> int:
    waiting = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, waiting)
    return waiting[0]


def _blocked_writing_stdout(pid: int) -> bool:
    """/proc/PID/syscall reads "1 0x1 ..." while the process is inside write(1, ...)."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().startswith("1 0x1 ")
    except OSError:
        pytest.skip("/proc/PID/syscall is not readable here")


@pytest.mark.skipif(sys.platform != "linux", reason="watches /proc to know the CLI is blocked")
def test_ctrl_c_exits_130_with_one_line(
    env: dict[str, str], seeded: ApprovalService, db_path: Path
) -> None:
    _many_events(db_path, seeded, 3000)
    process = subprocess.Popen(
        [PYTHON, "-m", "homelab_approvals", "--db", str(db_path), "events", "--csv"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + 30
    # Wait until the CLI is blocked mid-export: the pipe holds data and the process sits
    # in write(1, ...) because nobody reads it.
    while not (_bytes_waiting(fd) and _blocked_writing_stdout(process.pid)):
        assert process.poll() is None, "the export finished before it could be interrupted"
        assert time.monotonic() < deadline, "the export never blocked on the pipe"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr == "error: INTERRUPTED: interrupted\n"


def test_a_reader_that_leaves_early_is_not_an_error_message(
    env: dict[str, str], seeded: ApprovalService, db_path: Path
) -> None:
    _many_events(db_path, seeded, 3000)
    process = subprocess.Popen(
        [PYTHON, "-m", "homelab_approvals", "--db", str(db_path), "events", "--csv"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    assert process.stdout.read(100)  # like `| head -c 100`: read a little, then leave
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=30)
    assert process.returncode == 1
    assert stderr == b""  # no traceback, no "Exception ignored ... BrokenPipeError"


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A folder outside pytest's private (0700) tmp tree, so another user can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="homelab-approvals-test-"))
    os.chmod(folder, 0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


@pytest.mark.slow
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to run a step as another user",
)
def test_a_user_who_cannot_write_reads_but_cannot_decide(
    env: dict[str, str], world_readable_dir: Path
) -> None:
    """Root owns the database (0644, folder 0755); `nobody` may read it, not write it."""
    env = env | {"XDG_CONFIG_HOME": str(world_readable_dir / "config")}
    db_path = world_readable_dir / "approvals.db"
    seed = ["--db", str(db_path)]
    added = run([*seed, "server", "add", "pi-4", "--hostname", "pi.lan", "--paused"], env)
    assert added.returncode == 0, added.stderr
    created = run([*seed, "create", "--server", "pi-4", "--type", "clear_logs"], env)
    assert created.returncode == 0, created.stderr
    # Fold the WAL back in so a read-only reader needs no -wal or -shm of its own.
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    os.chmod(db_path, 0o644)
    before = db_path.read_bytes()

    listed = run([*seed, "list", "--json"], env, user="nobody")
    assert listed.returncode == 0, listed.stderr
    assert '"status": "pending"' in listed.stdout

    refused = run([*seed, "--operator", "nobody", "approve", "1"], env, user="nobody")
    assert refused.returncode == 1
    assert_one_error_line(refused, "DATABASE_ERROR")
    assert "read-only" in refused.stderr
    assert db_path.read_bytes() == before


class PtyProcess:
    """The CLI on a real 80x24 pseudo-terminal, as an operator's SSH session gives it."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.main_fd, tty_fd = os.openpty()
        fcntl.ioctl(tty_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.process = subprocess.Popen(
            [PYTHON, "-m", "homelab_approvals", *argv],
            stdin=tty_fd,
            stdout=tty_fd,
            stderr=tty_fd,
            env=env | {"TERM": "xterm-256color"},
            start_new_session=True,  # its own controlling terminal: the pty
        )
        os.close(tty_fd)
        self.received = b""

    def wait_for(self, marker: bytes, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.received:
            assert time.monotonic() < deadline, f"{marker!r} never appeared"
            assert self.process.poll() is None, self.received.decode(errors="replace")
            self._read(0.2)

    def send(self, keys: bytes) -> None:
        os.write(self.main_fd, keys)

    def wait_exit(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            assert time.monotonic() < deadline, "the console did not exit"
            self._read(0.2)  # keep draining, or a full pty would block it
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.main_fd)

    def _read(self, timeout: float) -> None:
        ready = _readable(self.main_fd, timeout)
        if ready:
            with contextlib.suppress(OSError):  # EIO: the other side has closed
                self.received += os.read(self.main_fd, 65536)


@pytest.mark.slow
def test_the_console_opens_on_a_terminal_and_quits(
    env: dict[str, str], seeded: ApprovalService, db_path: Path
) -> None:
    seeded.create_action("pi-4", "restart_service", "nginx", actor="homelabcmd")
    console = PtyProcess(["--db", str(db_path), "--operator", "alice"], env)
    try:
        console.wait_for(b"Quit")  # the footer is drawn: the console is up
        console.send(b"q")
        assert console.wait_exit() == 0
    finally:
        console.close()
    assert b"Traceback" not in console.received


@pytest.mark.slow
def test_demo_builds_a_fresh_temporary_database_and_keeps_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    demo = PtyProcess(["--operator", "alice", "demo"], env | {"TMPDIR": str(tmp_path)})
    try:
        demo.wait_for(b"Quit")
        demo.send(b"q")
        assert demo.wait_exit() == 0
    finally:
        demo.close()
    announced = re.search(rb"demo database: (\S+)", demo.received)
    assert announced is not None
    path = Path(announced.group(1).decode())
    assert path.name == "approvals-demo.db"
    assert path.parent.parent == tmp_path  # in a fresh folder of its own
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM servers").fetchone()[0] > 0
    conn.close()


def test_an_argument_that_is_not_utf8_is_shown_as_typed(env: dict[str, str], db_path: Path) -> None:
    """`show $'\\xff'` (a Latin-1 terminal, a stray byte): one line naming the byte, not
    Python's stand-in for it ('\\udcff'), and no database is created."""
    result = subprocess.run(
        [PYTHON, "-m", "homelab_approvals", "--db", str(db_path), "show", b"\xff"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr == (
        b"error: USAGE: argument ID: an action id must be a positive integer, got '\\xff'"
        b" (see 'homelab-approvals show --help')\n"
    )
    assert not db_path.exists()


def test_list_fits_an_80_column_terminal(
    env: dict[str, str], seeded: ApprovalService, db_path: Path
) -> None:
    for unit in ("nginx", "sshd", "unbound", "pihole-FTL"):
        seeded.create_action("pi-4", "restart_service", unit, actor="homelabcmd")
    seeded.approve(1, "alice")
    seeded.reject(2, "alice", "not now")
    seeded.cancel(3, "alice")
    seeded.create_action("nas", "apt_update", actor="cron")  # approved automatically
    listing = PtyProcess(["--db", str(db_path), "list", "--limit", "1"], env)
    try:
        assert listing.wait_exit() == 0
    finally:
        listing.close()
    lines = listing.received.decode().splitlines()
    # The counts of all statuses would make the footer 83 characters: they get a line.
    assert lines[-2:] == [
        "rows 1-1 of 5 matching",
        "(all statuses: pending 1, approved 2, rejected 1, failed 1)",
    ]
    assert all(len(line) <= 80 for line in lines)


def _readable(fd: int, timeout: float) -> bool:
    """Whether `fd` has output within `timeout`. A selector, not select.select(): a long
    test run may have more than 1024 descriptors open, which select() cannot watch."""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        return bool(selector.select(timeout))


def _bells(output: bytes) -> int:
    """BEL characters that ring: not those ending an OSC (Textual's pointer shape)."""
    return re.sub(rb"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)", b"", output).count(b"\x07")


@pytest.mark.slow
def test_the_console_titles_the_terminal_and_rings_for_a_new_pending_action(
    env: dict[str, str], seeded: ApprovalService, db_path: Path, tmp_path: Path
) -> None:
    """On a real terminal: OSC 2 with the queue ("homelab-approvals · 1 pending"), the
    title pushed and popped on xterm's title stack, and BEL when a new action waits."""
    seeded.create_action("pi-4", "restart_service", "nginx", actor="homelabcmd")
    config = tmp_path / "config.toml"
    config.write_text("bell = true\n", encoding="utf-8")
    argv = ["--db", str(db_path), "--config", str(config), "--operator", "alice"]
    console = PtyProcess(argv, env)
    try:
        console.wait_for("\x1b]2;homelab-approvals · 1 pending\x1b\\".encode())
        assert b"\x1b[22;2t" in console.received
        assert _bells(console.received) == 0
        seeded.create_action("pi-4", "clear_logs", actor="homelabcmd")
        console.wait_for("\x1b]2;homelab-approvals · 2 pending\x1b\\".encode())
        deadline = time.monotonic() + 30
        while _bells(console.received) == 0:
            assert time.monotonic() < deadline, "the bell never rang"
            console._read(0.2)
        assert _bells(console.received) == 1
        console.send(b"q")
        assert console.wait_exit() == 0
    finally:
        console.close()
    assert b"\x1b[23;2t" in console.received
    assert b"Traceback" not in console.received
