"""SIGTERM, SIGHUP and SIGINT end the console cleanly: the terminal is given back (no alternate
screen left on), the exit status says which signal (128 + N), and the database is intact
with nothing half-decided, even when a decision is waiting on the database's lock.

Real processes: the console runs in tmux, as an operator would run it; the signal is
sent to its process id.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from sshd_harness import Terminal, kill_matching, tmux_server, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "approvals.db"
    db = open_database(path)
    try:
        service = ApprovalService(db)
        service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
        service.create_action("pi-4", "restart_service", "nginx", actor="automation")
    finally:
        db.close()
    yield path
    kill_matching("homelab_approvals", str(path))  # only if a test failed half-way


@pytest.fixture
def console(queue: Path) -> Iterator[Terminal]:
    with tmux_server() as socket_path:
        config = queue.with_name("config.toml")  # empty: not the user's own config
        config.write_text("")
        argv = [sys.executable, "-m", "homelab_approvals", "--db", str(queue)]
        argv += ["--config", str(config), "--operator", "alice"]
        term = Terminal(socket_path, "console", 100, 30).start(argv)
        term.wait_for("1 pending", timeout=30, what="the console")
        yield term


def sleeping_threads(pid: int) -> int:
    """Threads of `pid` in a timed sleep. In the console that is SQLite's busy handler
    waiting for a lock (its other threads wait on futexes, select or epoll)."""
    tasks = Path(f"/proc/{pid}/task")
    count = 0
    for task in tasks.iterdir():
        try:
            count += (task / "wchan").read_text() == "hrtimer_nanosleep"
        except OSError:
            continue
    return count


def state(path: Path) -> tuple[str, str, int]:
    with sqlite3.connect(path) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        status = conn.execute("SELECT status FROM remediation_actions").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM action_events").fetchone()[0]
    return integrity, status, events


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"]
)
def test_a_signal_ends_the_console_cleanly(
    console: Terminal, queue: Path, signum: signal.Signals
) -> None:
    before = state(queue)
    os.kill(console.process_named("python"), signum)
    assert console.wait_exit(timeout=10) == 128 + signum
    # Textual left the alternate screen, so the terminal is usable again.
    assert console.pane("#{alternate_on}") == "0", console.screen()
    assert "Traceback" not in console.screen()
    assert state(queue) == before
    assert before[0] == "ok"


def test_a_signal_while_a_decision_waits_for_the_lock_decides_nothing(
    console: Terminal, queue: Path
) -> None:
    """Another writer holds the lock; alice presses a; the session ends. The approval
    either happened whole or not at all, and since the lock was never released, not."""
    before = state(queue)
    blocker = sqlite3.connect(queue, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        console.send("a")
        pid = console.process_named("python")
        wait_until(
            lambda: sleeping_threads(pid) > 0,
            10,
            lambda: f"the decision never waited on the lock; screen:\n{console.screen()}",
        )
        os.kill(pid, signal.SIGTERM)
        status = console.wait_exit(timeout=15)
    finally:
        blocker.rollback()
        blocker.close()
    assert status == 128 + signal.SIGTERM
    assert state(queue) == before
    assert console.pane("#{alternate_on}") == "0", console.screen()


def _thread_waits(pid: int) -> list[str]:
    """What each thread of `pid` is blocked in (the kernel's wchan)."""
    waits = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            waits.append((task / "wchan").read_text())
        except OSError:
            continue
    return waits


def test_a_hang_up_ends_the_console_even_when_its_output_is_stuck(tmp_path: Path) -> None:
    """After a hang-up nobody reads the terminal any more: Textual's writer thread blocks
    on the full pty, its queue fills, and the event loop blocks on that queue. The exit
    must not need the event loop (it did: such a console lived on for hours, spinning)."""
    main_fd, terminal_fd = os.openpty()
    fcntl.ioctl(terminal_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "homelab_approvals", "--operator", "alice", "demo"],
        stdin=terminal_fd,
        stdout=terminal_fd,
        stderr=terminal_fd,
        env=env,
        start_new_session=True,
    )
    os.close(terminal_fd)
    try:
        seen = b""
        while b"Quit" not in seen:  # the footer is drawn: the console is up
            assert process.poll() is None, seen[-2000:]
            seen += os.read(main_fd, 65536)
        # From now on nothing reads the terminal. Moving the cursor repaints; each
        # repaint is one more queued write, until the event loop itself is stuck.
        keys = iter(b"jk" * 500)

        def stuck() -> bool:
            os.write(main_fd, bytes([next(keys)]))
            waits = _thread_waits(process.pid)
            return Path(f"/proc/{process.pid}/wchan").read_text().startswith("futex") and any(
                wait == "wait_woken"
                for wait in waits  # a write to the tty, blocked
            )

        wait_until(stuck, 60, lambda: f"the console never got stuck: {_thread_waits(process.pid)}")
        os.kill(process.pid, signal.SIGHUP)
        assert process.wait(timeout=30) == 128 + signal.SIGHUP
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)
