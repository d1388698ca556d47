"""The console's eye on executors: every EXECUTOR_CHECK_POLLS polls (2 s by default), in
a thread worker, it marks runs whose executor died as outcome unknown (through the
service; a read-only console only looks) and asks whether one of our approved actions
waits with no executor alive. The top bar then says "no executor" in warning colour, and
the detail of such an action says how to start one. Heartbeats age without any write,
so this is a timer, not part of the change-driven refresh."""

from __future__ import annotations

import threading

from textual import on, work
from textual.message import Message
from textual.worker import get_current_worker

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.tui.console_part import ConsolePart
from homelab_approvals.tui.topbar import TopBar

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

    @work(thread=True, group="executors", exit_on_error=False, name="executor watch")
    def _watch_executors(self) -> None:
        # Imported here: it brings SQLAlchemy, which the first screen does without.
        from homelab_approvals.service.executions import ExecutionService

        worker = get_current_worker()
        service = self._opened_service()
        executions = ExecutionService(service.db, clock=service.clock)
        interval = self.feed.interval * EXECUTOR_CHECK_POLLS
        last: bool | None = None
        while not worker.is_cancelled:
            try:
                if not service.db.read_only and not self.read_only_reason:
                    executions.prune_stalled(self.actor)
                state = executions.waiting_without_executor()
            except ApprovalsError:
                # The live refresh reports database trouble; keep what we knew (at first:
                # nothing to warn about).
                state = False if last is None else last
            if state != last:
                last = state
                self.post_message(ExecutorState(state))
            if self._executors_stopped.wait(interval):
                return

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
            detail.show(detail.view, detail.events, self.now)
