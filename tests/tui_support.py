"""Helpers for the console tests: a real demo database, a real app under Pilot, and
waiting on state (bounded polling of a condition), never on fixed sleeps."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from typing import Any

from textual.geometry import Region
from textual.notifications import SeverityLevel
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input

from db_targets import DbTarget
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.demo import build_demo
from homelab_approvals.storage import Database, open_database
from homelab_approvals.tui.app import ApprovalsApp
from homelab_approvals.tui.console import ConsoleScreen
from homelab_approvals.tui.reject import RejectScreen

NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
SIZE = (80, 24)
#: Tests poll quickly so they finish quickly; the product polls every 0.1 s.
FAST_POLL = 0.02


def run_async(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test in a fresh event loop (no pytest async plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return wrapper


def frozen_clock() -> datetime:
    return NOW


_TEMPLATE: dict[str, bytes] = {}


def fill_demo(db: Database) -> None:
    """The deterministic demo (seed 0, frozen clock), built into `db` through the service."""
    build_demo(ApprovalService(db, clock=frozen_clock), now=NOW)


def fill_demo_at(url: str) -> None:
    """The demo, built into the PostgreSQL database at `url`, every connection closed
    after."""
    db = open_database(url=url)
    try:
        fill_demo(db)
    finally:
        db.close()


def demo_file(path: Path) -> None:
    """The demo in a new SQLite file at `path`. Built once per test session, then copied:
    building it each time is slow."""
    if "demo" not in _TEMPLATE:
        template = path.with_name("demo-template.db")
        builder = open_database(template)
        fill_demo(builder)
        builder.close()  # the last connection out checkpoints the WAL into the file
        _TEMPLATE["demo"] = template.read_bytes()
    path.write_bytes(_TEMPLATE["demo"])
    path.chmod(0o600)


def demo_service(path: Path, *, read_only: bool = False) -> ApprovalService:
    """The demo in a real SQLite file of its own (made unless it exists)."""
    if not path.exists():
        demo_file(path)
    return ApprovalService(open_database(path, read_only=read_only), clock=frozen_clock)


def open_service(target: DbTarget, **options: Any) -> ApprovalService:
    """The service, on its own connections, on a test's database of either backend."""
    return ApprovalService(target.open(**options), clock=frozen_clock)


@contextmanager
def other_connection(
    where: DbTarget | Path, actor_clock: Callable[[], datetime] = frozen_clock
) -> Iterator[ApprovalService]:
    """Another process's view of the database: its own engine and connections (on
    PostgreSQL, its own sessions on the server)."""
    db = where.open() if isinstance(where, DbTarget) else open_database(where)
    try:
        yield ApprovalService(db, clock=actor_clock)
    finally:
        db.close()


def raw(path: Path) -> sqlite3.Connection:
    """Plain sqlite3, as HomelabCmd or a hand-typed session would write: for what only
    SQLite can hold or do (bytes that are not UTF-8, a BLOB in a TEXT column, a lock on
    the whole file). Anything else goes through `DbTarget.execute`, on either backend."""
    return sqlite3.connect(path, isolation_level=None, timeout=10)


def screen(app: ApprovalsApp) -> ConsoleScreen:
    return app.console_screen


def settled(app: ApprovalsApp) -> bool:
    return screen(app).settled


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str = "", timeout: float = 10.0
) -> None:
    deadline = monotonic() + timeout
    while not condition():
        if monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.01)
    await pilot.pause()  # let pending layout and paint catch up with the state


async def wait_settled(pilot: Pilot[Any], app: ApprovalsApp) -> None:
    await wait_until(pilot, lambda: settled(app), "the console to settle")


async def wait_refresh(pilot: Pilot[Any], app: ApprovalsApp, after: int) -> None:
    """Until a refresh newer than `after` (a `refreshes` count) is on screen."""
    console = screen(app)
    await wait_until(pilot, lambda: console.refreshes > after and settled(app), "a refresh")


@asynccontextmanager
async def running(
    service: ApprovalService,
    actor: str = "alice",
    *,
    size: tuple[int, int] = SIZE,
    **options: Any,
) -> AsyncIterator[tuple[ApprovalsApp, Pilot[Any]]]:
    options.setdefault("poll_interval", FAST_POLL)
    app = RecordingApp(service, actor, clock=frozen_clock, **options)
    async with app.run_test(size=size) as pilot:
        await wait_settled(pilot, app)
        yield app, pilot


def rows(app: ApprovalsApp) -> list[int]:
    return screen(app).table.action_ids


def highlighted(app: ApprovalsApp) -> ActionView | None:
    return screen(app).table.highlighted_view


def highlighted_id(app: ApprovalsApp) -> int | None:
    return screen(app).table.highlighted_id


def detail_shows(app: ApprovalsApp, action_id: int) -> bool:
    """The detail pane shows `action_id`, history included."""
    detail = screen(app).detail
    return detail.view is not None and detail.view.id == action_id and detail.events is not None


async def open_reject(pilot: Pilot[Any], app: ApprovalsApp) -> RejectScreen:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen), "the reason modal")
    modal = app.screen
    assert isinstance(modal, RejectScreen)
    return modal


class RecordingApp(ApprovalsApp):
    """The console, keeping each toast it asked Textual to show: Textual's own list of
    notifications is private (it may change in any release), `notify` is public."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: (severity, title, message, markup) of each toast, oldest first.
        self.toasts_shown: list[tuple[str, str, str, bool]] = []

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.toasts_shown.append((severity, title, message, markup))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


def toasts(app: ApprovalsApp) -> list[tuple[str, str, str]]:
    """(severity, title, message) of every notification shown so far."""
    assert isinstance(app, RecordingApp), "toasts() needs the app from running()/RecordingApp"
    return [(severity, title, message) for severity, title, message, _ in app.toasts_shown]


def text_of(widget: Widget) -> str:
    """What a widget shows, as plain text, one line per row: its whole box, padding and
    border included. (A crop of the content size would start at the box's corner and
    cut the last cells of a line that fills the width.)"""
    width, height = widget.outer_size
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height)))


def no_blink(app: ApprovalsApp) -> None:
    """A blinking cursor would make screenshots flaky."""
    for field in app.screen.query(Input):
        field.cursor_blink = False
