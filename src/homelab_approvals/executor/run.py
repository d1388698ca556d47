"""`homelab-approvals executor`: the worker with its signals and log, on an open service."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from homelab_approvals.executor.log import TransitionLog
from homelab_approvals.executor.previews import PreviewTaker
from homelab_approvals.executor.signals import graceful_stop
from homelab_approvals.executor.worker import Settings, Worker
from homelab_approvals.service.executions import ExecutionService


def run_executor(
    service: ExecutionService,
    settings: Settings,
    *,
    as_json: bool,
    stream: TextIO | None = None,
    previews: PreviewTaker | None = None,
    housekeeping: Callable[[], object] | None = None,
) -> int:
    """Run until stopped (or, with `once`, until what was claimable at start is done).
    Exit 0 whatever the commands' exit codes; a database error propagates (exit 1).
    `housekeeping` runs at start and with every heartbeat (the expiry sweep)."""
    log = TransitionLog(stream or sys.stderr, as_json=as_json, executor=settings.name)
    worker = Worker(service, settings, log, previews, housekeeping=housekeeping)
    with graceful_stop(worker):
        return worker.run()
