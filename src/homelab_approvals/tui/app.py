"""The Textual app and `run_console`, the one entry point the CLI calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path, PurePath
from typing import ClassVar

from textual.app import App
from textual.screen import Screen

from homelab_approvals.service import ApprovalService
from homelab_approvals.service.queries import DEFAULT_WINDOW
from homelab_approvals.tui.console import ConsoleScreen
from homelab_approvals.tui.live import POLL_INTERVAL
from homelab_approvals.tui.signals import exit_on_signals

STYLESHEETS = ("console.tcss", "modals.tcss")


def styles_dir() -> Path:
    """The stylesheets: inside the package when installed from a wheel (pyproject
    force-includes styles/ as homelab_approvals/styles), else the repository's styles/."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "styles", package.parent.parent / "styles"):
        if (candidate / STYLESHEETS[0]).is_file():
            return candidate
    raise FileNotFoundError(f"stylesheets not found next to {package}")


def decisions_off_reason(service: ApprovalService, actor: str, given: str | None) -> str | None:
    """Why decisions are off, if they are: the caller's reason, the database's, or the
    approvers policy (the service's rule, asked rather than re-encoded)."""
    if given:
        return given
    if service.db.read_only:
        return service.db.read_only_reason or "the database is open read-only"
    if not service.may_decide(actor):
        return f"{actor} is not in the approvers list"
    return None


class ApprovalsApp(App[int]):
    """The approval console. All database work happens in thread workers."""

    TITLE = "homelab-approvals"
    CSS_PATH: ClassVar[list[str | PurePath]] = [styles_dir() / name for name in STYLESHEETS]
    NOTIFICATION_TIMEOUT = 6

    def __init__(
        self,
        service: ApprovalService,
        actor: str,
        *,
        read_only_reason: str | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = POLL_INTERVAL,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        """`clock` (default: the service's) dates the "3m ago" column; tests freeze it.
        `window` is how many rows the table holds at most; SQL pages through the rest."""
        super().__init__()
        self.service = service
        self.actor = actor
        self.read_only_reason = decisions_off_reason(service, actor, read_only_reason)
        self.clock = clock or service.clock
        self.poll_interval = poll_interval
        self.window = window

    def get_default_screen(self) -> Screen[None]:
        return ConsoleScreen(
            self.service,
            self.actor,
            read_only_reason=self.read_only_reason,
            clock=self.clock,
            poll_interval=self.poll_interval,
            window=self.window,
        )

    def on_mount(self) -> None:
        if not self.is_headless:  # a real terminal: not under run_test()
            exit_on_signals(self)

    @property
    def console_screen(self) -> ConsoleScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, ConsoleScreen)
        return screen


def run_console(
    service: ApprovalService,
    actor: str,
    *,
    read_only_reason: str | None = None,
    simulate: bool = False,
) -> int:
    """Run the console until the operator quits; returns the process exit status.

    `simulate` (the demo) adds a pending action every few seconds from a background
    thread, so live refresh can be seen. The database stays open: the caller owns it."""
    app = ApprovalsApp(service, actor, read_only_reason=read_only_reason)
    simulator = None
    if simulate:
        from homelab_approvals.service.demo import DemoSimulator

        simulator = DemoSimulator(service)
        simulator.start()
    try:
        app.run()
    finally:
        if simulator is not None:
            simulator.stop()
    return 0 if app.return_code is None else app.return_code
