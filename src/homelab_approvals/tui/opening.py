"""How the console gets its service: given at once, or opened after the first paint by a
deferred start (tui/startup.py). Until the deferred open is done, a worker thread that
needs the service waits for it here, and a failure to open turns the decision keys off
and says why; it never crashes the console."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from homelab_approvals.domain.errors import ApprovalsError, StorageError
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionPage
from homelab_approvals.storage.first_window import FIRST_WINDOW
from homelab_approvals.tui.collector import resume_collector
from homelab_approvals.tui.console_part import ConsolePart
from homelab_approvals.tui.live import ActionsFetched
from homelab_approvals.tui.toast import toast

if TYPE_CHECKING:
    from homelab_approvals.service import ApprovalService
    from homelab_approvals.tui.startup import DeferredStart

#: How long a decision made during a deferred start waits for the database to open.
OPEN_WAIT = 30.0


#: Seconds between attempts to reopen a replaced file (about 3 s in all); None: the last.
_REOPEN_RETRIES: tuple[float | None, ...] = (0.05, 0.1, 0.2, 0.4, 0.8, 1.5, None)


class ServiceReady(Message):
    """The database is open: decisions, history and live refresh can start."""

    def __init__(self, service: ApprovalService) -> None:
        super().__init__()
        self.service = service


class ServiceFailed(Message):
    """The database could not be opened after the first screen was drawn."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class ServiceReopened(Message):
    """The database file, replaced under the console, is open again."""

    def __init__(self, service: ApprovalService) -> None:
        super().__init__()
        self.service = service


class ReopenFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class OpeningMixin(ConsolePart):
    """The service of ConsoleScreen (console.py), which mixes this in."""

    def __init__(self) -> None:
        super().__init__()
        self.service: ApprovalService | None = None
        self.deferred: DeferredStart | None = None
        self._opened = threading.Event()  # set once `service` is (see _opened_service)
        self._open_error: str | None = None

    def _use_service(self, service: ApprovalService | None, deferred: DeferredStart | None) -> str:
        """Start with `service`, or with a `deferred` start; returns the database's label."""
        self.service = service
        self.deferred = deferred
        if service is not None:
            self._opened.set()
            return service.db.label
        if deferred is not None:
            return deferred.first.label
        raise ValueError("give either a service or a deferred start")

    def _opened_service(self) -> ApprovalService:
        """The service, for a worker thread. A decision made while a deferred start is
        still opening the database (its first few hundred ms) waits for it here, in its
        own thread, rather than being refused or lost."""
        if self.service is None:
            self._opened.wait(OPEN_WAIT)
        service = self.service
        if service is None:
            raise StorageError(self._open_error or "the database is not open yet; try again")
        return service

    def _show_first_window(self, page: ActionPage) -> None:
        """A deferred start's first rows, applied as the live feed's first rows of the
        view would be: when the window holds more, the feed fills it up once it runs."""
        request = self.feed.current
        limit = request.query.limit
        rows = page.rows[:limit]
        partial = len(rows) == FIRST_WINDOW < limit
        fetched = ActionsFetched(request, replace(page, rows=rows), self.clock(), partial=partial)
        self._apply(fetched)

    @work(thread=True, group="open", exit_on_error=False, name="open database")
    def _open_service(self) -> None:
        deferred = self.deferred
        assert deferred is not None
        worker = get_current_worker()
        try:
            service = deferred.open_service()
        except ApprovalsError as error:
            self.post_message(ServiceFailed(error.message))
            return
        if worker.is_cancelled or not self.post_message(ServiceReady(service)):
            service.db.close()  # the console has gone meanwhile

    @on(ServiceReady)
    def _service_ready(self, message: ServiceReady) -> None:
        service = message.service
        self.service = service
        self.feed.service = service
        self._opened.set()  # decisions made meanwhile go ahead
        # The file may have turned read-only since the first window was read.
        reason = service.db.read_only_reason
        if reason and not self.read_only_reason:
            self.read_only_reason = reason
            self.mount(self._read_only_banner(), before="#refresh-error")
        self._show_audit_repairs(service.db.audit_repairs)
        self._watch_database()
        self._watch_executors()
        self._update_keys()
        self._sync_detail()  # the history, which waited for the service
        resume_collector()  # SQLAlchemy is in: freeze the startup's objects (collector.py)

    @on(ServiceFailed)
    def _service_failed(self, message: ServiceFailed) -> None:
        self._open_error = f"cannot open the database: {message.message}"
        self._opened.set()  # decisions made meanwhile fail with that
        self._update_keys()
        self._show_refresh_error(
            f"cannot open the database: decisions are off and the list is not refreshed. "
            f"{message.message}"
        )
        toast(self, message.message, title="Database", severity="error")
        resume_collector()

    # -- the file replaced under the console (issue 16) --------------------------------------

    def _file_replaced(self, message: str) -> None:
        """The database file was moved over or lost its -wal: stop deciding (what is
        written would go where nobody reads it), say so, and reopen the file."""
        first = self._open_error is None
        self._open_error = "the database file was replaced: decisions are off until it is reopened"
        self._update_keys()
        banner = self.query_one("#file-banner", Static)
        banner.update(visible(f"{message} · decisions are off until it is reopened"))
        banner.display = True
        if first:
            toast(self, message, title="Database replaced", severity="error")
        self._reopen()

    @work(thread=True, group="reopen", exclusive=True, exit_on_error=False, name="reopen")
    def _reopen(self) -> None:
        service = self.service
        if service is None:
            return
        # Let go of the old file first: our connections keep its lost -wal's index
        # alive, and SQLite reads that as damage until the last of them is closed.
        # (The executor check, executor_watch.py, finishes first and then waits.)
        with self.executor_check_lock:
            service.db.close()
        # A read another worker had begun on the old file may still hold a connection
        # for a moment; until it lets go, SQLite reports the lost -wal as "disk I/O
        # error". So try again a few times, a little apart, before giving up.
        worker = get_current_worker()
        for delay in _REOPEN_RETRIES:
            try:
                fresh = service.reopened()
                break
            except ApprovalsError as error:
                if delay is None or worker.is_cancelled:
                    self.post_message(ReopenFailed(error.message))
                    return
                threading.Event().wait(delay)
        if not self.post_message(ServiceReopened(fresh)):
            fresh.db.close()

    @on(ReopenFailed)
    def _reopen_failed(self, message: ReopenFailed) -> None:
        banner = self.query_one("#file-banner", Static)
        banner.update(
            visible(
                f"the database file was replaced and cannot be reopened: {message.message} · "
                "decisions are off; quit and start again"
            )
        )

    @on(ServiceReopened)
    def _service_reopened(self, message: ServiceReopened) -> None:
        old = self.service
        self.service = message.service
        self.feed.service = message.service
        self._open_error = None
        self.query_one("#file-banner").display = False
        self._show_audit_repairs(message.service.db.audit_repairs)
        self._update_keys()
        self.feed.poke()
        toast(self, f"reopened {message.service.db.label}", title="Database")
        if old is not None:
            old.db.close()
