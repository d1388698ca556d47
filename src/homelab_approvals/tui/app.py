"""The Textual app, and how it is started: `console_app` (the CLI's `tui` command and the
benchmarks build it the same way), `run_app`, and `run_console` for a service at hand.

The first screen is drawn without SQLAlchemy when it can be: importing it and the ORM
models costs about as much as everything else on the way to the first rows, and an
operator on a Raspberry Pi notices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import App
from textual.driver import Driver
from textual.screen import Screen

from homelab_approvals.domain.timestamps import utcnow
from homelab_approvals.service.availability import decisions_off_reason
from homelab_approvals.service.listing import DEFAULT_WINDOW, ActionQuery
from homelab_approvals.service.policy import Policy
from homelab_approvals.storage.backends import read_first_window
from homelab_approvals.storage.first_window import FirstWindow
from homelab_approvals.tui.console import ConsoleScreen
from homelab_approvals.tui.keymap import KeysInForce
from homelab_approvals.tui.live import POLL_INTERVAL
from homelab_approvals.tui.opening import ServiceReady
from homelab_approvals.tui.rules import EXPIRY_SWEEP_SECONDS
from homelab_approvals.tui.signals import exit_on_signals
from homelab_approvals.tui.startup import DeferredStart
from homelab_approvals.tui.terminal import title_sequence, titled_driver
from homelab_approvals.tui.view_state import ViewState, is_default

if TYPE_CHECKING:
    from homelab_approvals.service import ApprovalService

STYLESHEETS = ("console.tcss", "modals.tcss")


def styles_dir() -> Path:
    """The stylesheets: inside the package when installed from a wheel (pyproject
    force-includes styles/ as homelab_approvals/styles), else the repository's styles/."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "styles", package.parent.parent / "styles"):
        if (candidate / STYLESHEETS[0]).is_file():
            return candidate
    raise FileNotFoundError(f"stylesheets not found next to {package}")


class ApprovalsApp(App[int]):
    """The approval console. All database work happens in thread workers.

    Give it a `service`, or a `deferred` start (see `console_app`): then it draws the
    first window it was given and opens the service in the background."""

    TITLE = "homelab-approvals"
    CSS_PATH: ClassVar[list[str | PurePath]] = [styles_dir() / name for name in STYLESHEETS]
    NOTIFICATION_TIMEOUT = 6

    def __init__(
        self,
        service: ApprovalService | None,
        actor: str,
        *,
        read_only_reason: str | None = None,
        clock: Callable[[], datetime] | None = None,
        poll_interval: float = POLL_INTERVAL,
        window: int = DEFAULT_WINDOW,
        deferred: DeferredStart | None = None,
        owns_database: bool = False,
        view: ActionQuery | None = None,
        view_state: ViewState | None = None,
        keymap: Mapping[str, str] | None = None,
        bell: bool = False,
        sweep_interval: float = EXPIRY_SWEEP_SECONDS,
    ) -> None:
        """`clock` (default: the service's) dates the "3m ago" column; tests freeze it.
        `window` is how many rows the table holds at most; SQL pages through the rest.
        `owns_database`: `close_database()` closes the service's database (always so for
        a deferred start, which opens it itself). `view`: the view to start with (else
        the pending queue); `view_state`: where `remember_view()` keeps it for next time.
        `keymap`: binding ids to keys, checked (`tui.keymap.check_keymap`). `bell`: ring
        the terminal bell when a new action starts waiting. `sweep_interval`: seconds
        between expiry sweeps."""
        self._title_driver: Driver | None = None
        #: The terminal title last asked for (written whenever a real terminal is there).
        self.terminal_title = ""
        super().__init__()
        self.keys = KeysInForce(keymap)
        if keymap:
            self.set_keymap(dict(keymap))  # Textual's own: footer and key handling follow
        self.bell_on_pending = bell
        #: Times the bell rang for a new pending action (for tests and the curious).
        self.pending_bells = 0
        self.sweep_interval = sweep_interval
        if (service is None) == (deferred is None):
            raise ValueError("give either a service or a deferred start")
        self.service = service
        self.deferred = deferred
        self.actor = actor
        if service is not None:
            self.read_only_reason = read_only_reason or decisions_off_reason(
                service.db, actor, service.policy
            )
            self.clock = clock or service.clock
        else:
            assert deferred is not None
            first = deferred.first
            self.read_only_reason = read_only_reason or decisions_off_reason(
                first, actor, deferred.policy
            )
            self.clock = clock or utcnow
        self.poll_interval = poll_interval
        self.window = window
        self.owns_database = owns_database or deferred is not None
        self.view = view
        self.view_state = view_state
        self.main_screen: ConsoleScreen | None = None

    def get_driver_class(self) -> type[Driver]:
        return titled_driver(super().get_driver_class(), self)

    def title_driver(self, driver: Driver | None) -> None:
        self._title_driver = driver
        if driver is not None and self.terminal_title:
            driver.write(title_sequence(self.terminal_title))

    def ring_for_pending(self) -> None:
        """A new action waits for a person: ring, if the config asks for it."""
        if self.bell_on_pending:
            self.pending_bells += 1
            self.bell()

    def set_terminal_title(self, title: str) -> None:
        """The terminal window's title (see tui/terminal.py); a no-op when unchanged."""
        if title == self.terminal_title:
            return
        self.terminal_title = title
        if self._title_driver is not None:
            self._title_driver.write(title_sequence(title))

    def get_default_screen(self) -> Screen[None]:
        self.main_screen = ConsoleScreen(
            self.service,
            self.actor,
            read_only_reason=self.read_only_reason,
            clock=self.clock,
            poll_interval=self.poll_interval,
            window=self.window,
            deferred=self.deferred,
            view=self.view,
            keys=self.keys,
        )
        return self.main_screen

    def on_mount(self) -> None:
        if not self.is_headless:  # a real terminal: not under run_test()
            exit_on_signals(self)

    @on(ServiceReady)
    def _service_ready(self, message: ServiceReady) -> None:
        # Bubbled up from the console screen, which has started using it.
        self.service = message.service

    @property
    def console_screen(self) -> ConsoleScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, ConsoleScreen)
        return screen

    def remember_view(self) -> None:
        """Keep the view shown last (pending or all, sort, filter) for the next start."""
        if self.view_state is not None and self.main_screen is not None:
            self.view_state.save(self.main_screen.view_query)

    def close_database(self) -> None:
        """Close the database, if this app opened it (or was given it to own)."""
        if self.owns_database and self.service is not None:
            self.service.db.close()


def console_app(
    db_path: Path,
    actor: str,
    *,
    policy: Policy | None = None,
    read_only: bool = False,
    group_shared: bool = False,
    config_path: Path | None = None,
    first_window: Callable[[], FirstWindow | None] | None = None,
    view: ActionQuery | None = None,
    view_state: ViewState | None = None,
    keymap: Mapping[str, str] | None = None,
    bell: bool = False,
) -> ApprovalsApp:
    """The console on the SQLite file at `db_path`, ready to run: how the CLI starts it
    (and the benchmarks, so they measure what users get).

    When the file is one of ours and up to date, its first window is read here without
    SQLAlchemy, and the app opens the database for real once that is drawn. Otherwise the
    database is opened here, as every other command opens it: its errors (StorageError
    and kin) are raised from here, before anything is drawn. `config_path` is named when
    the actor is not an approver. `first_window`: that read, started earlier by the
    caller (`read_in_background`), so that it overlaps the caller's imports. `view`, a
    remembered view other than the pending queue, is not what the first window holds:
    then the database is opened the ordinary way."""
    chosen = policy or Policy()

    def open_service() -> ApprovalService:
        from homelab_approvals.service import ApprovalService
        from homelab_approvals.storage import open_database

        db = open_database(db_path, read_only=read_only, group_shared=group_shared)
        return ApprovalService(db, chosen)

    if view is not None and not is_default(view):
        first = None
    elif first_window is not None:
        first = first_window()
    else:
        first = read_first_window(db_path, read_only=read_only)
    if first is None:
        service = open_service()
        reason = decisions_off_reason(service.db, actor, chosen, config_path=config_path)
        return ApprovalsApp(
            service,
            actor,
            read_only_reason=reason,
            owns_database=True,
            view=view,
            view_state=view_state,
            keymap=keymap,
            bell=bell,
        )
    reason = decisions_off_reason(first, actor, chosen, config_path=config_path)
    start = DeferredStart(first, chosen, open_service)
    return ApprovalsApp(
        None,
        actor,
        read_only_reason=reason,
        deferred=start,
        view=view,
        view_state=view_state,
        keymap=keymap,
        bell=bell,
    )


def run_app(app: ApprovalsApp) -> int:
    """Run the console until the operator quits; returns the process exit status."""
    try:
        app.run()
    finally:
        app.close_database()
        app.remember_view()
    return 0 if app.return_code is None else app.return_code


def run_console(
    service: ApprovalService,
    actor: str,
    *,
    read_only_reason: str | None = None,
    simulate: bool = False,
    view: ActionQuery | None = None,
    view_state: ViewState | None = None,
    keymap: Mapping[str, str] | None = None,
    bell: bool = False,
) -> int:
    """Run the console on `service` until the operator quits; returns the exit status.

    `simulate` (the demo) adds a pending action every few seconds from a background
    thread, so live refresh can be seen, and runs a simulated executor (no SSH), so an
    approval goes on to executing and then completed or failed. The database stays
    open: the caller owns it."""
    app = ApprovalsApp(
        service,
        actor,
        read_only_reason=read_only_reason,
        view=view,
        view_state=view_state,
        keymap=keymap,
        bell=bell,
    )
    simulator = executor = None
    if simulate:
        from homelab_approvals.service.demo import DemoSimulator
        from homelab_approvals.service.demo_executor import DemoExecutor

        simulator = DemoSimulator(service)
        simulator.start()
        executor = DemoExecutor(service)  # approvals run: executing, then a result
        executor.start()
    try:
        return run_app(app)
    finally:
        if simulator is not None:
            simulator.stop()
        if executor is not None:
            executor.stop()
