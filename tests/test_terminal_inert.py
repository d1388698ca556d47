"""Issue 16, what the terminal receives: rows whose text is not UTF-8 and carries OSC
sequences (set the window title, write the clipboard) reach a real console in tmux; the
pane's title is never set by them, and every row is listed."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from sshd_harness import Terminal, kill_matching, tmux_server, wait_until
from tui_support import raw

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

OSC_TITLE = b"\x1b]2;PWNED\x07"
OSC_CLIPBOARD = b"\x1b]52;c;ZXZpbA==\x07"


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "approvals.db"
    service = ApprovalService(open_database(path))
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    service.create_action("pi-4", "restart_service", "nginx", actor="automation")
    service.create_action("pi-4", "restart_service", "sshd", actor="automation")
    service.db.close()
    yield path
    kill_matching("homelab_approvals", str(path))


def _poison(path: Path, action_id: int) -> None:
    conn = raw(path)
    conn.execute(
        "UPDATE remediation_actions SET service_name = CAST(? AS TEXT), command = ? WHERE id = ?",
        (b"\xff" + OSC_TITLE + b"\xc3\x28", b"\xfe" + OSC_CLIPBOARD, action_id),
    )
    conn.close()


def test_no_row_sets_the_terminal_title(queue: Path) -> None:
    _poison(queue, 1)  # there before the console starts (its first window)
    with tmux_server() as socket_path:
        config = queue.with_name("config.toml")
        config.write_text("")
        argv = [sys.executable, "-m", "homelab_approvals", "--db", str(queue)]
        argv += ["--config", str(config), "--operator", "alice"]
        term = Terminal(socket_path, "console", 100, 30).start(argv)
        term.wait_for("2 pending", timeout=30, what="the console")
        _poison(queue, 2)  # and one a live refresh reads
        wait_until(
            lambda: term.screen().count("\u241b]2;PWNED\u2407") == 2, 30, lambda: term.screen()
        )
        term.send("r")  # the reason modal shows the command (a BLOB)
        term.wait_for("Reject #", timeout=30, what="the reason modal")
        term.send("Escape")
        screen = term.screen(escapes=True)
        assert "PWNED" not in term.pane("#{pane_title}")
        assert "\x1b]2;" not in screen
        assert "\x1b]52;" not in screen
        assert "cannot refresh" not in term.screen()
        term.send("q")
