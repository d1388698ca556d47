"""The console's eye on executors: every EXECUTOR_CHECK_POLLS polls (2 s by default), in
a thread worker, it marks runs whose executor died as outcome unknown (through the
service; a read-only console only looks) and asks whether one of our approved actions
waits with no executor alive. The top bar then says "no executor" in warning colour, and
the detail of such an action says how to start one. Heartbeats age without any write,
so this is a timer, not part of the change-driven refresh."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.worker import get_current_worker

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.tui.console_part import ConsolePart
from homelab_approvals.tui.topbar import TopBar

if TYPE_CHECKING:
    from homelab_approvals.service.executions import ExecutionService

#: Executors are checked once per this many live-refresh polls.
EXECUTOR_CHECK_POLLS = 20


class ExecutorState(Message):
    def __init__(self, no_executor: bool) -> None:
        super().__init__()
        self.no_executor = no_executor


class ExecutorWatchMixin(ConsolePart):
    """Part of ConsoleScreen (console.py), which mixes this in."""

    def __init__(self) -> None:
        super().__init__()
        self.no_executor = False
        #: The first check has been shown (for `settled`: tests and screenshots wait on it).
        self.executors_known = False
        self._executors_stopped = threading.Event()
        #: Held while a check runs; the reopen of a replaced file takes it before closing.
        self.executor_check_lock = threading.Lock()

    @work(thread=True, group="executors", exit_on_error=False, name="executor watch")
    def _watch_executors(self) -> None:
        # Imported here: it brings SQLAlchemy, which the first screen does without.
        from homelab_approvals.service.executions import ExecutionService

        worker = get_current_worker()
        interval = self.feed.interval * EXECUTOR_CHECK_POLLS
        executions: ExecutionService | None = None
        last: bool | None = None
        while not worker.is_cancelled:
            with self.executor_check_lock:  # the reopen of a replaced file waits for it
                service = self._opened_service()
                # Not while the file is being replaced or failed to open: a connection
                # of ours would keep the old file's lost -wal index alive (opening.py).
                if self._open_error is None:
                    if executions is None or executions.db is not service.db:
                        executions = ExecutionService(service.db, clock=service.clock)
                    state = self._check(executions, last)
                    if state != last:
                        last = state
                        self.post_message(ExecutorState(state))
            if self._executors_stopped.wait(interval):
                return

    def _check(self, executions: ExecutionService, last: bool | None) -> bool:
        """Settle dead executors' runs (unless read-only); whether our approved actions
        wait with no executor alive."""
        try:
            if not executions.db.read_only and not self.read_only_reason:
                executions.prune_stalled(self.actor)
            return executions.waiting_without_executor()
        except ApprovalsError:
            # The live refresh reports database trouble; keep what we knew (at first:
            # nothing to warn about).
            return False if last is None else last

    def _stop_watching_executors(self) -> None:
        self._executors_stopped.set()

    @on(ExecutorState)
    def _executor_state(self, message: ExecutorState) -> None:
        self.no_executor = message.no_executor
        self.executors_known = True
        self.query_one(TopBar).no_executor = message.no_executor
        detail = self.detail
        detail.no_executor = message.no_executor
        if detail.view is not None:  # the same action, told again with or without the hint
            detail.show(detail.view, detail.events, self.now, extras=detail.extras)
