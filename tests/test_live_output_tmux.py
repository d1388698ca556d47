"""Live output in a real terminal: the console runs in tmux at 80x24 while another process
writes a running action's output, as the executor does; the detail pane follows it."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import homelab_approvals
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from sshd_harness import Terminal, kill_matching, tmux_server

SOURCE = Path(homelab_approvals.__file__).resolve().parent.parent


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Path]:
    """One action, executing."""
    path = tmp_path / "approvals.db"
    db = open_database(path)
    try:
        service = ApprovalService(db)
        service.add_server("nas", "nas.lan", "NAS")
        service.create_action("nas", "apt_upgrade_all", actor="automation")
    finally:
        db.close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE remediation_actions SET status = 'executing'")
    yield path
    kill_matching("homelab_approvals", str(path))  # only if a test failed half-way


def test_the_console_follows_output_in_tmux(running: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    with tmux_server() as socket_path:
        config = running.with_name("config.toml")
        config.write_text("")
        argv = ["env", f"PYTHONPATH={SOURCE}", sys.executable, "-m", "homelab_approvals"]
        argv += ["--db", str(running), "--config", str(config), "--operator", "alice"]
        term = Terminal(socket_path, "console", 80, 24).start(argv)
        term.wait_for("0 pending", timeout=30, what="the console")
        term.send("p")  # all actions: the executing one
        term.wait_for("Status    executing", timeout=20, what="the running action's detail")
        executor = ApprovalService(open_database(running))
        try:
            for n in range(8):
                executor.add_output(1, [("stdout", f"Unpacking package-{n:02d} ...\n")])
                term.wait_for(f"package-{n:02d}", timeout=10, what=f"line {n}")
            executor.add_output(1, [("stderr", "W: \x1b]0;PWNED\x07 kept back\n")])
            term.wait_for("kept back", timeout=10, what="stderr")
        finally:
            executor.db.close()
        screen = term.screen()
        assert "␛]0;PWNED␇ kept back" in screen
        assert "PWNED" not in term.pane("#{pane_title}")
        term.send("q")
        assert term.wait_exit() == 0
