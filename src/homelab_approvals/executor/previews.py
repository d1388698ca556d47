"""Previews over SSH: a read-only probe of what an action would do, taken the way the action
itself would run (same ssh config, host-key checking, BatchMode, login and destination,
the command one argument after `--`, no local shell), with its own timeout.

The executor takes one for each pending action whose preview is missing or stale (and
again right before running an apt action); `homelab-approvals preview` does the same
without a daemon. What a probe printed is parsed whole in the service, which stores it
capped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from homelab_approvals.domain import validation
from homelab_approvals.domain.commands import command_for
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.domain.execution import SudoMode, remote_command, timed_out
from homelab_approvals.domain.previews import PreviewView
from homelab_approvals.domain.probes import Probe, ProbeRun
from homelab_approvals.domain.views import ActionView
from homelab_approvals.executor.transport import ssh_argv
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.service.executions import ExecutionService
from homelab_approvals.service.preview_settings import PreviewSettings
from homelab_approvals.service.probe_choice import probe_of

#: How a run stopped by a grown plan begins its stderr (and names its event).
PLAN_CHANGED = "plan changed since approval"
#: What a probe may print in all: far above any real one (apt-get -s of 140 packages
#: prints about 27,000 characters), and a bound on what a hostile server can make us hold.
PROBE_OUTPUT_MAX = 4 * 1024 * 1024
_CHUNK = 65536
#: The pending actions a preview is taken for: the queue's window, oldest first.
PENDING = ActionQuery(statuses=(ActionStatus.PENDING,))


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    ssh_config: Path | None
    sudo: SudoMode
    preview: PreviewSettings


def probe_command(action: ActionView, probe: Probe, sudo: SudoMode) -> str:
    """The probe as sent: `sudo -n` in front exactly when the action's own command (worked
    out from its type and unit, not read from the row) would get it."""
    if not probe.privileged:
        return probe.command
    unit = action.service_name
    try:
        real = command_for(action.action_type, validation.unit_name(unit) if unit else None)  # type: ignore[arg-type]
    except (ValueError, ValidationError, KeyError):
        return probe.command
    sudo_prefix = "sudo -n "
    if remote_command(real, sudo).startswith(sudo_prefix):
        return sudo_prefix + probe.command
    return probe.command


class _Reader:
    """Drains a pipe in a thread, keeping at most PROBE_OUTPUT_MAX bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.data = bytearray()
        self.overflow = False
        self._stream = stream
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        read = self._stream.read1 if hasattr(self._stream, "read1") else self._stream.read
        while chunk := read(_CHUNK):
            room = PROBE_OUTPUT_MAX - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > room:
                self.overflow = True
        self._stream.close()

    def text(self) -> str:
        self._thread.join(timeout=5)
        return bytes(self.data).decode("utf-8", "replace")


def run_probe(
    destination: str, login: str | None, command: str, ssh_config: Path | None, timeout: float
) -> ProbeRun:
    """Run `command` over ssh; ssh's own words when it fails, "timed out after N s"."""
    argv = ssh_argv(destination, command, login=login, ssh_config=ssh_config)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: killed whole on timeout
            close_fds=True,
        )
    except OSError as error:
        return ProbeRun(None, "", failure=f"ssh could not be started: {error.strerror or error}")
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = _Reader(process.stdout), _Reader(process.stderr)
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return ProbeRun(None, out.text(), err.text(), failure=timed_out(timeout))
    if code is not None and code < 0:
        code = None  # killed by a signal from outside
    stdout, stderr = out.text(), err.text()
    if out.overflow:
        return ProbeRun(code, stdout, stderr, failure="the probe printed more than 4 MiB")
    return ProbeRun(code, stdout, stderr)


class PreviewTaker:
    """Takes previews: route from the execution verbs, probe over ssh, record in the
    service. Thread-safe (each call its own transactions and process)."""

    def __init__(
        self, approvals: ApprovalService, executions: ExecutionService, settings: ProbeSettings
    ) -> None:
        self.approvals = approvals
        self.executions = executions
        self.settings = settings

    @property
    def enabled(self) -> bool:
        return self.settings.preview.enabled

    @property
    def binds(self) -> bool:
        return self.settings.preview.bind

    def due(self) -> list[ActionView]:
        """Pending actions whose preview is missing, stale or asked for."""
        pending = self.approvals.list_actions(PENDING).rows
        return self.approvals.actions_needing_preview(pending)

    def check_plan(
        self, action: ActionView, route: tuple[str | None, str | None]
    ) -> list[str] | None:
        """Right before `action` runs: its binding plan taken again, and what it now holds
        that the approved plan did not ([] when nothing). None when there is nothing to
        check: previews off, a probe that only informs, or an approval bound to no plan."""
        probe = probe_of(action)
        if not self.enabled or probe is None or not probe.binding:
            return None
        if self.approvals.bound_preview(action.id) is None:
            return None
        fresh = self.take(action, route)
        assert fresh is not None
        return self.approvals.plan_changes(action.id, fresh)

    def take(
        self, action: ActionView, route: tuple[str | None, str | None] | None = None
    ) -> PreviewView | None:
        """Probe `action` now and record what it gave; None when its type has no probe.
        `route`: (destination, login) when the caller already worked them out (a claim)."""
        probe = probe_of(action)
        if probe is None:
            return None
        if route is None:
            destination, login, refusal = self.executions.route(action.server_id)
        else:
            (destination, login), refusal = route, None
        if refusal is not None or destination is None:
            run = ProbeRun(None, "", failure=refusal or "the server has no host name")
        else:
            s = self.settings
            command = probe_command(action, probe, s.sudo)
            run = run_probe(destination, login, command, s.ssh_config, s.preview.timeout_for(probe))
        return self.approvals.record_preview(action.id, probe, run)


#: How often `preview` without --once looks for due previews (and at every change).
LOOP_POLL_S = 0.5
SCAN_S = 5.0


def run_previews(
    taker: PreviewTaker,
    actions: list[ActionView] | None,
    *,
    concurrency: int,
    once: bool,
    said: Callable[[ActionView, PreviewView | None], None],
) -> int:
    """`homelab-approvals preview`: `actions` now (or, without them, every pending action
    whose preview is due), at most `concurrency` probes at once, each said as it ends.
    With `once` (or `actions`) that is all; otherwise again whenever one is due, until
    interrupted. Probes only read, so an interrupted one leaves nothing half done."""
    lock = threading.Lock()
    busy: set[int] = set()

    def one(action: ActionView) -> None:
        try:
            shown = taker.take(action)
            with lock:
                said(action, shown)
        finally:
            with lock:
                busy.discard(action.id)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="probe") as pool:
        if once:
            todo = actions if actions is not None else taker.due()
            for future in [pool.submit(one, action) for action in todo]:
                future.result()  # a database error ends the command (exit 1)
            return 0
        token: object = None
        next_scan = 0.0
        while True:
            fresh = taker.approvals.change_token()
            # On every change, and now and then: a preview goes stale with time alone.
            if fresh != token or time.monotonic() >= next_scan:
                token, next_scan = fresh, time.monotonic() + SCAN_S
                for action in taker.due():
                    with lock:
                        if action.id in busy:
                            continue
                        busy.add(action.id)
                    pool.submit(one, action)
            time.sleep(LOOP_POLL_S)
