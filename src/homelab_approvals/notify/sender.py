"""The sender: every target gets every notice it asked for, at least once, in order.

For each target: read its cursor, send the notices after it one by one, and move the
cursor past each as soon as the target acknowledged it (2xx). A target that fails is
left alone for a while (1 s, doubling up to 5 minutes) and then resumes where it
stopped, with the same message ids; the other targets go on meanwhile. Killed between a
send and its acknowledgement, the sender sends that notice again on its next start:
a receiver that drops repeated ids sees it once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.notify.delivery import DeliveryFailed, post
from homelab_approvals.notify.formats import Message, render
from homelab_approvals.notify.targets import Target
from homelab_approvals.service import ApprovalService

BATCH = 100
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
#: How often a caught-up sender looks for new events.
POLL_S = 2.0


@dataclass
class _State:
    failures: int = 0
    next_try: float = 0.0


@dataclass
class Pass:
    """What one pass over the targets did."""

    sent: int = 0
    #: target.shown -> why it failed this time.
    failed: dict[str, str] = field(default_factory=dict)


class Sender:
    def __init__(
        self,
        service: ApprovalService,
        targets: Sequence[Target],
        *,
        send: Callable[[Message], None] = post,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.targets = tuple(targets)
        self._send = send
        self._monotonic = monotonic
        self._state = {target.key: _State() for target in self.targets}

    def start(self) -> None:
        """Set every new target's cursor at the end of the trail now: what happens from
        here on is sent, even if the first pass comes later."""
        for target in self.targets:
            self.service.notice_cursor(target.key)

    def run_once(self) -> Pass:
        """One pass: each target that is not backing off is brought up to date."""
        result = Pass()
        now = self._monotonic()
        for target in self.targets:
            state = self._state[target.key]
            if state.next_try > now:
                continue
            try:
                result.sent += self._catch_up(target)
            except DeliveryFailed as failure:
                state.failures += 1
                delay = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (state.failures - 1))
                state.next_try = self._monotonic() + delay
                result.failed[target.shown] = str(failure)
            else:
                state.failures = 0
                state.next_try = 0.0
        return result

    def next_due(self) -> float | None:
        """Seconds until a backing-off target may be tried again (None: none is)."""
        waits = [s.next_try - self._monotonic() for s in self._state.values() if s.failures]
        return max(0.0, min(waits)) if waits else None

    def run_forever(self, stop: threading.Event, report: Callable[[Pass], None]) -> None:
        """Pass after pass until `stop` is set; a database error is reported and retried."""
        self.start()
        while not stop.is_set():
            try:
                result = self.run_once()
            except ApprovalsError as error:
                result = Pass(failed={"database": error.message})
            if result.sent or result.failed:
                report(result)
            due = self.next_due()
            stop.wait(POLL_S if due is None else min(POLL_S, max(due, 0.05)))

    def _catch_up(self, target: Target) -> int:
        sent = 0
        cursor = self.service.notice_cursor(target.key)
        while True:
            notices = self.service.notices_after(cursor, BATCH)
            if not notices:
                return sent
            for notice in notices:
                if notice.kind in target.on:
                    self._send(render(notice, target))
                    sent += 1
                    self.service.acknowledge(target.key, notice.event_id)
                cursor = notice.event_id
            # Notices this target did not ask for: passed over in one write.
            self.service.acknowledge(target.key, cursor)
            if len(notices) < BATCH:
                return sent
