"""The deferred start: the console draws a first window read without SQLAlchemy, then
opens the database in the background. A decision made meanwhile waits for it, a failure
to open is a message (and greys the decisions out), and the CLI's way in (`console_app`)
takes the ordinary path for anything unusual, so its errors stay one clear line.

The deferred start is SQLite's: the first window is read with sqlite3, from a file. On
PostgreSQL the console opens the ordinary way (the issue: no fast path there unless a
profile asks for one), so these tests run on SQLite, and one says so on PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import selectors
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from db_targets import DbTarget
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.storage import open_database
from homelab_approvals.storage.backends import read_first_window
from homelab_approvals.storage.first_window import FirstWindow
from homelab_approvals.storage.version import SCHEMA_VERSION
from homelab_approvals.tui.app import ApprovalsApp, console_app
from homelab_approvals.tui.formatting import action_title
from homelab_approvals.tui.startup import DeferredStart
from homelab_approvals.tui.topbar import TopBar
from tui_support import (
    FAST_POLL,
    SIZE,
    RecordingApp,
    demo_service,
    frozen_clock,
    highlighted,
    rows,
    run_async,
    screen,
    text_of,
    toasts,
    wait_settled,
    wait_until,
)

DECISION_KEYS = ("approve", "reject", "cancel_action", "approve_marked", "reject_marked")


@pytest.fixture
def demo_path(tmp_path: Path) -> Path:
    path = tmp_path / "demo.db"
    demo_service(path).db.close()
    return path


def first_window_of(path: Path) -> FirstWindow:
    first = read_first_window(path)
    assert first is not None
    return first


def deferred_app(path: Path, open_service: Callable[[], ApprovalService]) -> ApprovalsApp:
    start = DeferredStart(first_window_of(path), Policy(), open_service)
    return RecordingApp(None, "alice", deferred=start, clock=frozen_clock, poll_interval=FAST_POLL)


def gated(path: Path, gate: threading.Event, **options: Any) -> Callable[[], ApprovalService]:
    """Opens the real database, but only once the test opens the gate."""

    def open_service() -> ApprovalService:
        assert gate.wait(30), "the test never let the database open"
        return ApprovalService(open_database(path, **options), clock=frozen_clock)

    return open_service


def status_of(path: Path, action_id: int) -> str:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(
            "SELECT status FROM remediation_actions WHERE id = ?", (action_id,)
        ).fetchone()
    finally:
        conn.close()
    return str(row[0])


def keys_state(app: ApprovalsApp) -> dict[str, bool | None]:
    return {key: screen(app).check_action(key, ()) for key in DECISION_KEYS}


@run_async
async def test_the_first_window_shows_before_the_database_opens(demo_path: Path) -> None:
    gate = threading.Event()
    app = deferred_app(demo_path, gated(demo_path, gate))
    first = app.deferred.first if app.deferred else None
    assert first is not None
    try:
        async with app.run_test(size=SIZE) as pilot:
            wanted = [view.id for view in first.page.rows]
            await wait_until(pilot, lambda: rows(app) == wanted, "the first window")
            console = screen(app)
            assert console.service is None
            assert app.service is None
            topbar = console.query_one(TopBar)
            assert (topbar.pending, topbar.total) == (first.page.pending, first.page.grand_total)
            assert console.detail.events is None  # the history waits for the database
            # The keys are offered at once: an operator who approves what they see
            # before the database is open has the approval carried out once it is.
            assert keys_state(app)["approve"] is True
            view = highlighted(app)
            assert view is not None
            assert view.status == "pending"
            await pilot.press("a")
            await pilot.pause(0.1)
            assert status_of(demo_path, view.id) == "pending"  # waiting, not lost

            gate.set()
            await wait_until(
                pilot, lambda: status_of(demo_path, view.id) == "approved", "the approval"
            )
            await wait_until(pilot, lambda: ("information", "Approved", action_title(view))
                             in toasts(app), "the approval's toast")  # fmt: skip
            await wait_settled(pilot, app)  # history read, full window, live refresh on
            assert app.service is not None
            assert console.service is app.service
            assert view.id not in rows(app)
    finally:
        gate.set()
        app.close_database()


@pytest.mark.parametrize(
    ("failure", "shown"),
    [
        (StorageError("database is damaged or unreadable (disk I/O error): x.db"), "damaged"),
        (RuntimeError("boom"), "unexpected RuntimeError: boom"),
    ],
    ids=["storage-error", "a-bug"],
)
@run_async
async def test_a_failed_open_is_a_message_and_the_console_carries_on(
    demo_path: Path, failure: Exception, shown: str
) -> None:
    gate = threading.Event()

    def open_service() -> ApprovalService:
        assert gate.wait(30)
        raise failure

    app = deferred_app(demo_path, open_service)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: bool(rows(app)), "the first window")
            await pilot.press("a")  # made while the database is being opened
            gate.set()
            banner = screen(app).query_one("#refresh-error", Static)
            await wait_until(pilot, lambda: banner.display, "the failure to be shown")
            assert shown in text_of(banner)
            assert "decisions are off" in text_of(banner)
            assert set(keys_state(app).values()) == {None}  # greyed out from now on
            assert len(rows(app)) == len(first_window_of(demo_path).page.rows)  # still shown
            # The waiting decision is told why it was not made.
            await wait_until(
                pilot,
                lambda: any(
                    title == "Database" and message.startswith("cannot open the database: ")
                    and shown in message
                    for _, title, message in toasts(app)
                ),
                "the decision's failure",
            )  # fmt: skip
            await pilot.press("down", "a")  # still answers keys; decides nothing
            assert app.is_running
    finally:
        gate.set()
    assert app.return_code in (None, 0)


@run_async
async def test_a_database_that_turned_read_only_meanwhile_says_so(demo_path: Path) -> None:
    gate = threading.Event()
    gate.set()
    app = deferred_app(demo_path, gated(demo_path, gate, read_only=True))
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_settled(pilot, app)
            banner = screen(app).query_one("#banner", Static)
            assert "READ-ONLY · --read-only was given" in text_of(banner)
            assert set(keys_state(app).values()) == {None}
    finally:
        app.close_database()


def test_an_app_needs_a_service_or_a_deferred_start() -> None:
    with pytest.raises(ValueError, match="either a service or a deferred start"):
        ApprovalsApp(None, "alice")


# -- console_app: how the CLI starts the console -----------------------------------------------


def test_console_app_defers_for_a_database_of_ours(demo_path: Path, tmp_path: Path) -> None:
    app = console_app(demo_path, "alice")
    assert app.deferred is not None
    assert app.service is None
    assert app.read_only_reason is None
    config = tmp_path / "config.toml"
    others = console_app(
        demo_path, "mallory", policy=Policy(frozenset({"alice"})), config_path=config
    )
    assert others.read_only_reason == f"mallory is not in the approvers list ({config})"
    read_only = console_app(demo_path, "alice", read_only=True)
    assert read_only.read_only_reason == "--read-only was given"
    assert read_only.deferred is not None


def test_console_app_opens_anything_unusual_the_ordinary_way(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    app = console_app(fresh, "alice")  # created, as the console always has
    try:
        assert app.deferred is None
        assert app.service is not None
        assert app.owns_database
        assert fresh.exists()
    finally:
        app.close_database()
    with sqlite3.connect(fresh) as conn:
        conn.execute("UPDATE approvals_schema SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(StorageError, match="newer than this homelab-approvals understands"):
        console_app(fresh, "alice")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(StorageError, match="not a SQLite database"):
        console_app(junk, "alice")


_FIRST_SCREEN = """
import asyncio, json, sys
from pathlib import Path

from homelab_approvals.cli import commands, session  # the CLI's console path, loaded
from homelab_approvals.tui.app import console_app
from homelab_approvals.tui.table import ActionTable

imported = sorted(m for m in ("sqlalchemy",) if m in sys.modules)
shows = []
original = ActionTable.show


def show(table, rows, *args, **kwargs):
    shows.append(["sqlalchemy" in sys.modules, len(rows)])
    return original(table, rows, *args, **kwargs)


ActionTable.show = show


async def main():
    app = console_app(Path(sys.argv[1]), "alice")
    async with app.run_test(size=(80, 24)) as pilot:
        while app.service is None or not app.console_screen.settled:
            await pilot.pause(0.02)
    app.close_database()
    print(json.dumps({"imported": imported, "deferred": app.deferred is not None,
                      "shows": shows, "loaded": "sqlalchemy" in sys.modules}))


asyncio.run(main())
"""


@pytest.mark.slow
def test_the_first_screen_is_drawn_before_sqlalchemy_is_imported(demo_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_SCREEN, str(demo_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["imported"] == []
    assert result["deferred"] is True
    first_show = result["shows"][0]
    assert first_show[0] is False
    assert first_show[1] > 0
    assert result["loaded"] is True  # then the real service, in the background


_CLI_ON_A_TERMINAL = """
import json, sys
from homelab_approvals.tui.table import ActionTable

original = ActionTable.show


def show(table, rows, *args, **kwargs):
    if not hasattr(show, "seen"):
        show.seen = ["sqlalchemy" in sys.modules, len(rows)]
        with open(sys.argv[1], "w") as out:
            json.dump(show.seen, out)
    return original(table, rows, *args, **kwargs)


ActionTable.show = show
from homelab_approvals.cli.main import main

raise SystemExit(main([*sys.argv[2:], "--operator", "alice"]))
"""


@pytest.mark.slow
def test_the_cli_console_draws_its_first_rows_before_loading_sqlalchemy(
    demo_path: Path, tmp_path: Path
) -> None:
    """The real way in: `homelab-approvals --db PATH` on an 80x24 pseudo-terminal."""
    sqlalchemy_loaded, rows = console_on_a_terminal(["--db", str(demo_path)], tmp_path)
    assert not sqlalchemy_loaded
    assert rows > 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_cli_console_on_a_database_url_opens_the_ordinary_way(
    demo_target: DbTarget, tmp_path: Path
) -> None:
    """`homelab-approvals --database-url URL`: the database is opened first (SQLAlchemy),
    then the queue drawn, on an 80x24 pseudo-terminal."""
    sqlalchemy_loaded, rows = console_on_a_terminal(demo_target.cli_args, tmp_path)
    assert sqlalchemy_loaded
    assert rows > 0


def console_on_a_terminal(where: list[str], tmp_path: Path) -> tuple[bool, int]:
    """The CLI's console on the database `where` names, until it has drawn its first
    rows and quit on `q`: whether SQLAlchemy was loaded when they were drawn, and how
    many there were."""
    record = tmp_path / "first-show.json"
    main_fd, tty_fd = os.openpty()
    fcntl.ioctl(tty_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-c", _CLI_ON_A_TERMINAL, str(record), *where],
        stdin=tty_fd,
        stdout=tty_fd,
        stderr=tty_fd,
        # A view state of the test's own: one left for a recycled database name (or in
        # the account's own state) would change what is drawn first.
        env=os.environ | {"TERM": "xterm-256color", "XDG_STATE_HOME": str(tmp_path / "state")},
        start_new_session=True,
    )
    os.close(tty_fd)
    received = b""

    def pump(until: Callable[[], bool], what: str) -> None:
        nonlocal received
        deadline = time.monotonic() + 30
        while not until():
            assert time.monotonic() < deadline, f"{what}: {received[-500:]!r}"
            ready = _readable(main_fd, 0.1)
            if ready:
                with contextlib.suppress(OSError):  # EIO: the console has gone
                    received += os.read(main_fd, 65536)

    try:
        pump(lambda: b"Quit" in received and record.exists(), "the console never came up")
        os.write(main_fd, b"q")
        pump(lambda: process.poll() is not None, "the console did not quit")
        assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main_fd)
    assert b"Traceback" not in received
    sqlalchemy_loaded, rows = json.loads(record.read_text())
    return bool(sqlalchemy_loaded), int(rows)


def _readable(fd: int, timeout: float) -> bool:
    """Whether `fd` has output within `timeout`. A selector, not select.select(): a long
    test run may have more than 1024 descriptors open, which select() cannot watch."""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        return bool(selector.select(timeout))
