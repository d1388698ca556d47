"""SIGTERM and SIGINT: the first stops claiming and lets running commands finish (each up
to its timeout), then the executor exits 0. A second ends it at once: its ssh clients are
killed and it exits 128 + the signal. The actions it was running then stay `executing`
until its lease runs out, when any executor or console marks them outcome unknown; they
are never run again."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from homelab_approvals.executor.worker import Worker

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def graceful_stop(worker: Worker) -> Iterator[None]:
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        name = signal.Signals(signum).name
        if len(received) == 1:
            running = worker.running()
            worker.log.message(
                f"{name}: stopping; waiting for {running} running command"
                f"{'' if running == 1 else 's'} (a second signal ends them at once)"
            )
            worker.stop()
            return
        worker.kill_all()
        worker.log.message(f"{name} again: stopped at once; running actions end outcome unknown")
        sys.stderr.flush()
        os._exit(128 + signum)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
