"""The executor's loop: claim what waits, run it over SSH, record the result.

Waiting costs next to nothing: the loop asks the database whether anything changed (the
console's own check, `PRAGMA data_version` on SQLite) ten times a second and reads the
claimable actions only when it did, or when a run ends and frees a slot. Each claimed
action runs in a thread of its own; the claim itself (service/executions.py) is what makes
a run happen at most once, across any number of executor processes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from homelab_approvals.domain.errors import ApprovalsError, StorageError
from homelab_approvals.domain.execution import NO_EXIT_CODE, SudoMode, remote_command
from homelab_approvals.domain.text import visible
from homelab_approvals.executor import transport
from homelab_approvals.executor.log import TransitionLog
from homelab_approvals.service.executions import Claim, ExecutionService

POLL_S = 0.1  # new approvals are picked up well within 1 s
_FINISH_ATTEMPTS = 5  # a result is worth waiting for a busy database
_RETRY_S = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    name: str
    ssh_config: Path | None
    timeout: float
    lease: float
    concurrency: int
    once: bool
    sudo: SudoMode


class Worker:
    def __init__(self, service: ExecutionService, settings: Settings, log: TransitionLog) -> None:
        self.service = service
        self.settings = settings
        self.log = log
        self.stopping = threading.Event()
        self._wake = threading.Event()  # a run ended, or a signal came
        self._lock = threading.Lock()
        self._runs: dict[int, transport.Running | None] = {}  # action id -> ssh, once started
        self._threads: list[threading.Thread] = []

    # -- control, from the signal handler ----------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; running commands finish (each up to its timeout)."""
        self.stopping.set()
        self._wake.set()

    def kill_all(self) -> None:
        """End every running ssh at once (a second signal)."""
        with self._lock:
            runs = [run for run in self._runs.values() if run is not None]
        for run in runs:
            run.kill()

    def running(self) -> int:
        with self._lock:
            return len(self._runs)

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        s = self.settings
        self.service.check_writable()
        started = self.service.clock()
        self._prune(restarted=(s.name, started))
        self.service.heartbeat(s.name, s.lease, started)
        self.log.message(
            f"started: up to {s.concurrency} at once, timeout {s.timeout:g} s, "
            f"lease {s.lease:g} s{', once' if s.once else ''}",
        )
        todo = set(self.service.claimable()) if s.once else None
        beat_every = s.lease / 3
        next_beat = time.monotonic() + beat_every
        token: object = None
        look = True
        try:
            while not self.stopping.is_set():
                try:
                    fresh = self.service.db.change_token()
                    if fresh != token:
                        token, look = fresh, True
                    if look and self.running() < s.concurrency:
                        look = False
                        self._claim_more(started, todo)
                    if todo is not None and not todo and not self.running():
                        break
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + beat_every
                        self.service.heartbeat(s.name, s.lease, started)
                        self._prune()
                except StorageError as error:
                    if s.once:
                        raise  # cron sees exit 1
                    # A long-running worker outlives a busy or briefly missing database.
                    self.log.message(f"database error, retrying in {_RETRY_S:g} s: {error.message}")
                    look = True
                    if self._wake.wait(_RETRY_S):
                        self._wake.clear()
                    continue
                if self._wake.wait(POLL_S):
                    self._wake.clear()
                    look = True  # a slot may be free
        finally:
            self._drain(started)
        self.service.retire(s.name)
        self.log.message("stopped")
        return 0

    def _claim_more(self, started: datetime, todo: set[int] | None) -> None:
        free = self.settings.concurrency - self.running()
        for action_id in self.service.claimable():
            if free <= 0 or self.stopping.is_set():
                return
            if todo is not None and action_id not in todo:
                continue
            claim = self.service.claim(action_id, self.settings.name)
            if todo is not None:
                todo.discard(action_id)
            if claim is None:
                continue  # another executor was faster
            self.log.transition(claim.action, "approved", "executing")
            free -= 1
            with self._lock:
                self._runs[action_id] = None
            thread = threading.Thread(target=self._carry_out, args=(claim,), daemon=True)
            self._threads.append(thread)
            thread.start()
        if todo is not None:
            todo.clear()  # what was claimable at start is claimed, or someone else's now

    def _drain(self, started: datetime) -> None:
        """Let running commands finish, renewing the lease meanwhile."""
        s = self.settings
        while self.running():
            if self._wake.wait(min(s.lease / 3, 1.0)):
                self._wake.clear()
            try:
                self.service.heartbeat(s.name, s.lease, started)
            except StorageError as error:
                self.log.message(f"heartbeat not written: {error.message}")
        for thread in self._threads:
            thread.join()

    def _prune(self, restarted: tuple[str, datetime] | None = None) -> None:
        for action in self.service.prune_stalled(self.settings.name, restarted):
            self.log.transition(action, "executing", "failed", note=action.stderr)

    # -- one run, in its own thread ------------------------------------------------------------

    def _carry_out(self, claim: Claim) -> None:
        s = self.settings
        try:
            if claim.refusal is not None:
                self._finish(claim, NO_EXIT_CODE, None, claim.refusal, 0.0, claim.refusal)
                return
            assert claim.destination is not None
            command = remote_command(claim.action.command, s.sudo)
            try:
                running = transport.start(
                    claim.destination,
                    command,
                    login=claim.login,
                    ssh_config=s.ssh_config,
                    timeout=s.timeout,
                )
            except OSError as error:  # no ssh client installed, say
                why = f"ssh could not be started: {error.strerror or error}"
                self._finish(claim, NO_EXIT_CODE, None, why, 0.0, why)
                return
            with self._lock:
                self._runs[claim.action.id] = running
            result = running.wait()
            note = result.stderr if result.exit_code != 0 else None
            self._finish(
                claim, result.exit_code, result.stdout, result.stderr, result.seconds, note
            )
        except Exception as error:  # one line, never a thread's traceback
            self.log.message(
                f"#{claim.action.id}: unexpected {type(error).__name__}: {error}; "
                "it will be marked outcome unknown"
            )
        finally:
            with self._lock:
                self._runs.pop(claim.action.id, None)
            self._wake.set()

    def _finish(
        self,
        claim: Claim,
        exit_code: int,
        stdout: str | None,
        stderr: str | None,
        seconds: float,
        note: str | None,
    ) -> None:
        reason = note if note is not None and note.startswith("not run:") else None
        for attempt in range(_FINISH_ATTEMPTS):
            try:
                done = self.service.finish(
                    claim.action.id, claim.executor, exit_code, stdout, stderr, reason
                )
                break
            except ApprovalsError as error:
                if attempt == _FINISH_ATTEMPTS - 1:
                    self.log.message(
                        f"#{claim.action.id}: result not recorded ({error.message}); "
                        "it will be marked outcome unknown"
                    )
                    return
                time.sleep(1.0)
        if done is None:
            self.log.message(
                f"#{claim.action.id}: result not recorded: the action was no longer "
                f"executing under {visible(claim.executor)} (exit {exit_code})"
            )
            return
        self.log.transition(
            done, "executing", done.status, exit_code=exit_code, seconds=seconds, note=note
        )
