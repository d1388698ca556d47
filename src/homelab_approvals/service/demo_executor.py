"""The demo's executor: the whole loop without SSH. It claims our approved actions
through the execution verbs (service/executions.py), exactly as a real executor does,
"runs" each for a second or three, and finishes it with the output a real run prints,
so a new user sees approve -> executing -> completed (or failed) in the demo console."""

from __future__ import annotations

import contextlib
import random
import threading
import time

from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.approvals import ApprovalService
from homelab_approvals.service.demo import demo_run_output
from homelab_approvals.service.executions import ExecutionService

NAME = "demo-executor"


class DemoExecutor:
    """Runs in a background thread between `start()` and `stop()`."""

    def __init__(
        self,
        service: ApprovalService,
        *,
        seed: int | None = None,
        run_seconds: tuple[float, float] = (1.5, 4.0),
        poll: float = 0.2,
        lease: float = 15.0,
    ) -> None:
        self.executions = ExecutionService(service.db, clock=service.clock)
        self.run_seconds = run_seconds
        self.poll = poll
        self.lease = lease
        self.finished = 0
        self._rng = random.Random(seed)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: dict[int, tuple[float, ActionView]] = {}  # id -> (done at, action)

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._loop, name="demo-executor", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        started = self.executions.clock()
        next_beat = 0.0
        token: object = None
        while True:  # the first heartbeat at once: the console must not say "no executor"
            try:
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.lease / 3
                    self.executions.heartbeat(NAME, self.lease, started)
                fresh = self.executions.db.change_token()
                if fresh != token:
                    token = fresh
                    self._claim()
                self._finish_due()
            except ApprovalsError:
                pass  # a busy database: the next tick tries again
            if self._stopping.wait(self.poll):
                break
        with contextlib.suppress(ApprovalsError):
            self.executions.retire(NAME)

    def _claim(self) -> None:
        for action_id in self.executions.claimable():
            claim = self.executions.claim(action_id, NAME)
            if claim is not None:
                due = time.monotonic() + self._rng.uniform(*self.run_seconds)
                self._running[action_id] = (due, claim.action)

    def _finish_due(self) -> None:
        now = time.monotonic()
        for action_id, (due, action) in list(self._running.items()):
            if due > now:
                continue
            fails = action.action_type == ActionType.RESTART_SERVICE and self._rng.random() < 0.25
            exit_code, stdout, stderr = demo_run_output(action, failed=fails)
            self.executions.finish(action_id, NAME, exit_code, stdout, stderr)
            del self._running[action_id]
            self.finished += 1
