"""End to end over a real OpenSSH server: per-key forced commands, the real `ssh -tt`
client in tmux, keys typed with send-keys, screens read with capture-pane.

See tests/sshd_harness.py for how sshd is run. These tests need root (as in CI); they
skip elsewhere with the reason, and fail instead of skipping when $CI is set. The consoles
run on SQLite and on PostgreSQL (`backends`): there one sees the other's decision by
notification.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import homelab_approvals
from db_targets import DbTarget
from homelab_approvals.service import ApprovalService
from sshd_harness import (
    SshServer,
    Terminal,
    authorized_line,
    kill_matching,
    processes_matching,
    tmux_server,
    unavailable_reason,
    wait_until,
)

pytestmark = [pytest.mark.ssh, pytest.mark.slow, pytest.mark.backends]

PROBE = """\
import os, sys
print("ARGV", " ".join(sys.argv[1:]))
print("TTY", os.isatty(0) and os.isatty(1))
for name in ("TERM", "NO_COLOR", "SSH_ORIGINAL_COMMAND"):
    print(name, repr(os.environ.get(name)))
print("ready>", flush=True)
sys.stdin.readline()  # not input(): GNU readline may reset the tty and drop typed keys
"""


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the OpenSSH end-to-end test must run in CI: {reason}")
        pytest.skip(reason)
    server = SshServer.start(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def tmux() -> Iterator[Path]:
    with tmux_server() as socket_path:
        yield socket_path


def test_forced_command_runs_whatever_the_client_asks(
    sshd: SshServer, tmux: Path, tmp_path: Path
) -> None:
    """sshd runs the key's forced command with a pty and the client's TERM; the command
    the client asked for is only an environment variable nobody reads."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    forced = shlex.join([sys.executable, str(probe), "--operator", "alice"])
    sshd.authorize([authorized_line(sshd.keys["alice"], forced)])
    client = sshd.ssh_command(
        "alice",
        *("homelab-approvals", "--operator", "mallory", "approve", "1"),
        term="linux",
        options=["SetEnv=NO_COLOR=1"],
    )
    term = Terminal(tmux, "probe").start(client)
    screen = term.wait_for("ready>", what="the probe's prompt")
    assert "ARGV --operator alice" in screen
    assert "TTY True" in screen
    assert "TERM 'linux'" in screen
    assert "NO_COLOR '1'" in screen
    assert "SSH_ORIGINAL_COMMAND 'homelab-approvals --operator mallory approve 1'" in screen
    term.send("Enter")
    assert term.wait_exit() == 0


# -- the console over SSH ------------------------------------------------------------------

OPERATORS = ("alice", "bob")


class Queue:
    """A real database with pending actions, and the config naming who may decide."""

    def __init__(self, target: DbTarget, root: Path, *services: str) -> None:
        self.target = target
        self.config = root / "config.toml"
        self.config.write_text(f"approvers = {list(OPERATORS)!r}\n".replace("'", '"'))
        # The consoles' remembered views, the test's own: a PostgreSQL database is
        # recycled under the same name (pg_support.py), so a view one test left would
        # come back in the next one (and the account's own state stays untouched).
        self.state = root / "state"
        db = target.open()
        try:
            service = ApprovalService(db)
            service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
            self.ids = [
                service.create_action("pi-4", "restart_service", unit, actor="automation").id
                for unit in services
            ]
        finally:
            db.close()

    def forced_command(self, operator: str) -> str:
        # The code under test, not whatever checkout the venv has installed (sshd starts
        # the command with a clean environment).
        source = Path(homelab_approvals.__file__).resolve().parent.parent
        return shlex.join(
            [
                "env",
                f"PYTHONPATH={source}",
                f"XDG_STATE_HOME={self.state}",
                sys.executable,
                "-m",
                "homelab_approvals",
                *self.target.cli_args,
                "--config",
                str(self.config),
                "--operator",
                operator,
            ]
        )

    def row(self, action_id: int) -> dict[str, Any]:
        (row,) = self.target.rows("SELECT * FROM remediation_actions WHERE id = :id", id=action_id)
        return row

    def integrity(self) -> str:
        """SQLite's own soundness check of the file; PostgreSQL's server keeps its own."""
        if self.target.path is None:
            return "ok"
        return str(self.target.execute("PRAGMA integrity_check")[0][0])

    def consoles(self, operator: str) -> list[int]:
        return processes_matching(
            "homelab_approvals", self.target.location, f"--operator {operator}"
        )


MakeQueue = Callable[..., Queue]


@pytest.fixture
def queue(tmp_path: Path, sshd: SshServer, db_target: DbTarget) -> Iterator[MakeQueue]:
    """Builds the test's database and points alice's and bob's keys at it."""
    made: list[Queue] = []

    def make(*services: str) -> Queue:
        q = Queue(db_target, tmp_path, *services)
        sshd.authorize(
            [authorized_line(sshd.keys[name], q.forced_command(name)) for name in OPERATORS]
        )
        made.append(q)
        return q

    yield make
    for q in made:  # a failed test must not leave consoles behind
        kill_matching("homelab_approvals", q.target.location)


def connect(
    sshd: SshServer,
    tmux: Path,
    operator: str,
    *remote: str,
    term: str = "xterm-256color",
    options: tuple[str, ...] = (),
    size: tuple[int, int] = (100, 30),
) -> Terminal:
    client = sshd.ssh_command(operator, *remote, term=term, options=options)
    return Terminal(tmux, operator, *size).start(client)


def wait_ready(sshd: SshServer, term: Terminal, operator: str, pending: int) -> str:
    """The console is up for `operator`, showing the queue and the first action. When it
    does not come up, the failure shows the screen and the end of sshd's log."""

    def ready(screen: str) -> bool:
        return (
            f"│ {operator} │" in screen
            and f"{pending} pending" in screen
            and ("─#" in screen or pending == 0)
        )

    try:
        return term.wait_for(ready, timeout=30, what=f"{operator}'s console, {pending} pending")
    except AssertionError as error:
        raise AssertionError(f"{error}\nsshd log, last lines:\n{sshd.log_text()[-3000:]}") from None


def toast(screen: str, title: str) -> str:
    """The text of the toast titled `title`: the screen from the title's column on,
    down to the toast's end, joined into one line."""
    lines = screen.splitlines()
    for index, line in enumerate(lines):
        if title in line:
            column = line.index(title)
            body = [part[column:].strip() for part in lines[index : index + 6]]
            return " ".join(part for part in body if part)
    return ""


def test_each_key_decides_as_its_operator_whatever_the_client_asks(
    sshd: SshServer, tmux: Path, queue: MakeQueue
) -> None:
    q = queue("nginx", "sshd")
    first, second = q.ids
    # alice's client asks to run a command as mallory; sshd runs alice's console instead.
    alice = connect(
        sshd, tmux, "alice", "homelab-approvals", "--operator", "mallory", "approve", "1"
    )
    bob = connect(sshd, tmux, "bob")
    screen = wait_ready(sshd, alice, "alice", 2)
    assert "mallory" not in screen
    wait_ready(sshd, bob, "bob", 2)
    assert q.row(first)["status"] == "pending", "the smuggled `approve 1` must not have run"

    alice.send("a")  # the cursor starts on the oldest: #1
    wait_until(
        lambda: q.row(first)["status"] == "approved", 20, lambda: f"alice:\n{alice.screen()}"
    )
    # bob's console sees #1 leave his queue; his cursor moves on to #2, and his decision
    # keys wait a moment (a key meant for #1 must not decide #2), as the pane says.
    bob.wait_for(lambda s: "1 pending" in s and f"─#{second} ·" in s, what="#1 gone on bob's")
    bob.wait_for(lambda s: "in a moment" not in s, what="bob's keys back")
    bob.send("r")
    bob.wait_for(f"Reject #{second}", what="the reason modal")
    bob.type("flapping, not broken")
    bob.send("Enter")
    wait_until(lambda: q.row(second)["status"] == "rejected", 20, lambda: f"bob:\n{bob.screen()}")
    approved, rejected = q.row(first), q.row(second)
    assert (approved["approved_by"], approved["rejected_by"]) == ("alice", None)
    assert (rejected["rejected_by"], rejected["approved_by"]) == ("bob", None)
    assert rejected["rejection_reason"] == "flapping, not broken"

    for term in (alice, bob):
        term.wait_for("0 pending")
        term.send("q")
        assert term.wait_exit() == 0, term.screen()


def test_two_operators_deciding_at_once_one_wins_the_other_is_told(
    sshd: SshServer, tmux: Path, queue: MakeQueue
) -> None:
    q = queue("nginx")
    (action,) = q.ids
    alice, bob = connect(sshd, tmux, "alice"), connect(sshd, tmux, "bob")
    wait_ready(sshd, alice, "alice", 1)
    wait_ready(sshd, bob, "bob", 1)
    bob.send("r")
    bob.wait_for(f"Reject #{action}", what="the reason modal")
    bob.type("not now")
    bob.wait_for("not now")
    # Nearly the same moment: two tmux commands back to back.
    alice.send("a")
    bob.send("Enter")
    wait_until(lambda: q.row(action)["status"] != "pending", 20, lambda: "nobody decided")
    row = q.row(action)
    winner = row["approved_by"] or row["rejected_by"]
    assert winner in OPERATORS
    assert row["status"] == ("approved" if winner == "alice" else "rejected")
    loser = bob if winner == "alice" else alice
    title = "Someone else decided first"
    screen = loser.wait_for(title, what="the conflict toast")
    assert f"by {winner}" in toast(screen, title), screen
    assert q.integrity() == "ok"


def test_resize_redraws_without_a_crash(sshd: SshServer, tmux: Path, queue: MakeQueue) -> None:
    q = queue("nginx", "sshd", "cron")
    alice = connect(sshd, tmux, "alice")
    wait_ready(sshd, alice, "alice", 3)

    def fits(width: int, height: int) -> Callable[[str], bool]:
        """Laid out again for this size: the top bar's counts end at its right edge, and
        the footer is on the last line."""

        def check(screen: str) -> bool:
            lines = screen.splitlines()
            top = lines[0].rstrip() if lines else ""
            return (
                len(lines) == height
                and top.endswith("3 pending · 3 total")
                and len(top) >= width - 2
                and "Approve" in lines[-1]
            )

        return check

    alice.resize(80, 24)
    alice.wait_for(fits(80, 24), what="the console redrawn at 80x24")
    alice.resize(100, 30)
    screen = alice.wait_for(fits(100, 30), what="the console redrawn at 100x30")
    assert alice.exit_status() is None, screen
    alice.send("?")
    alice.wait_for("─ Keys ─", what="the help screen after resizing")
    alice.send("Escape")
    # Wait: a key within ESCDELAY (100 ms) of Escape would arrive as alt+key.
    alice.wait_for(lambda s: "─ Keys ─" not in s, what="the help screen closed")
    alice.send("q")
    assert alice.wait_exit() == 0
    assert q.row(q.ids[0])["status"] == "pending"


def test_a_dropped_connection_decides_nothing_and_leaves_no_process(
    sshd: SshServer, tmux: Path, queue: MakeQueue
) -> None:
    q = queue("nginx")
    (action,) = q.ids
    bob = connect(sshd, tmux, "bob")
    wait_ready(sshd, bob, "bob", 1)
    assert q.consoles("bob"), "the console should be running"
    bob.send("r")
    bob.wait_for(f"Reject #{action}", what="the reason modal")
    bob.type("half a rea")
    bob.wait_for("half a rea")
    os.kill(bob.process_named("ssh"), signal.SIGKILL)
    wait_until(
        lambda: not q.consoles("bob"),
        10,
        lambda: f"console still running: {q.consoles('bob')}",
    )
    row = q.row(action)
    assert (row["status"], row["rejected_by"], row["rejection_reason"]) == ("pending", None, None)
    assert q.integrity() == "ok"


_SGR = re.compile(r"\x1b\[([0-9;]*)m")
# Greys of the 256-colour palette: the 6x6x6 cube's diagonal and the 24-step ramp.
_GREY_256 = {0, 7, 8, 15, 16, 59, 102, 145, 188, 231, *range(232, 256)}
_GREY_16 = {0, 7, 8, 15}  # black, white and their bright forms


def hues(screen_with_escapes: str) -> set[str]:
    """The colours on screen that are not a shade of grey (NO_COLOR makes Textual draw
    in greys only, so bold and reverse video still show what is selected)."""
    found: set[str] = set()
    for match in _SGR.finditer(screen_with_escapes):
        params = [int(p) if p else 0 for p in match.group(1).split(";")]
        i = 0
        while i < len(params):
            code = params[i]
            if code in (38, 48) and params[i + 1 : i + 2] == [5]:
                if params[i + 2] not in _GREY_256:
                    found.add(f"{code};5;{params[i + 2]}")
                i += 3
            elif code in (38, 48) and params[i + 1 : i + 2] == [2]:
                r, g, b = params[i + 2 : i + 5]
                if not r == g == b:
                    found.add(f"{code};2;{r};{g};{b}")
                i += 5
            else:
                base = {30: 0, 40: 0, 90: 8, 100: 8}
                for start, offset in base.items():
                    if start <= code <= start + 7 and code - start + offset not in _GREY_16:
                        found.add(str(code))
                i += 1
    return found


TERMINALS = {
    # tmux session name: (TERM, NO_COLOR set)
    "xterm": ("xterm-256color", False),
    "screen": ("screen-256color", False),
    "linux": ("linux", False),
    "nocolor": ("xterm-256color", True),
}


def test_terminal_types_and_no_color(sshd: SshServer, tmux: Path, queue: MakeQueue) -> None:
    """The Pi's console (linux), tmux/screen, xterm, and NO_COLOR=1 (sent with SetEnv,
    accepted by sshd's AcceptEnv), all at once: four sessions of alice, at 80x24."""
    q = queue("nginx")
    terms = {}
    for name, (term, no_color) in TERMINALS.items():
        client = sshd.ssh_command(
            "alice", term=term, options=("SetEnv=NO_COLOR=1",) if no_color else ()
        )
        terms[name] = Terminal(tmux, name, 80, 24).start(client)
    for name, (term, no_color) in TERMINALS.items():
        console = terms[name]
        wait_ready(sshd, console, "alice", 1)
        colours = hues(console.screen(escapes=True))
        if no_color:
            assert not colours, f"{term}, NO_COLOR=1, yet colours: {sorted(colours)}"
        else:
            assert colours, f"{term}: no colour at all; the status column should have one"
        console.send("q")
    for name, console in terms.items():
        assert console.wait_exit() == 0, f"{name}:\n{console.screen()}"
    assert q.row(q.ids[0])["status"] == "pending"
