"""Live output in a real terminal: the console runs in tmux at 80x24 while another process
writes a running action's output, as the executor does; the detail pane follows it. On
SQLite and PostgreSQL (`backends`)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import homelab_approvals
from db_targets import DbTarget
from homelab_approvals.service import ApprovalService
from sshd_harness import Terminal, kill_matching, tmux_server

SOURCE = Path(homelab_approvals.__file__).resolve().parent.parent

pytestmark = pytest.mark.backends


@pytest.fixture
def running(service: ApprovalService, db_target: DbTarget) -> Iterator[DbTarget]:
    """One action, executing."""
    service.add_server("nas", "nas.lan", "NAS")
    service.create_action("nas", "apt_upgrade_all", actor="automation")
    db_target.execute("UPDATE remediation_actions SET status = 'executing'")
    yield db_target
    kill_matching("homelab_approvals", db_target.location)  # only if a test failed half-way


def test_the_console_follows_output_in_tmux(running: DbTarget, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    with tmux_server() as socket_path:
        config = tmp_path / "config.toml"
        config.write_text("")
        # The view it remembers stays in the test's folder (a recycled PostgreSQL database
        # has an earlier test's URL): never the user's state, never another test's view.
        state = f"XDG_STATE_HOME={tmp_path / 'state'}"
        argv = ["env", f"PYTHONPATH={SOURCE}", state, sys.executable, "-m", "homelab_approvals"]
        argv += [*running.cli_args, "--config", str(config), "--operator", "alice"]
        term = Terminal(socket_path, "console", 80, 24).start(argv)
        term.wait_for("0 pending", timeout=30, what="the console")
        term.send("p")  # all actions: the executing one
        term.wait_for("Status    executing", timeout=20, what="the running action's detail")
        executor = ApprovalService(running.open())
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
