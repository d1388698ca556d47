"""The executor's loop: claim what waits, run it over SSH, record the result.

Waiting costs next to nothing: the loop asks the database whether anything changed (the
console's own check, `PRAGMA data_version` on SQLite) ten times a second and reads the
claimable actions only when it did, or when a run ends and frees a slot. Each claimed
action runs in a thread of its own; the claim itself (service/executions.py) is what makes
a run happen at most once, across any number of executor processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from homelab_approvals.domain.errors import ApprovalsError, StorageError
from homelab_approvals.domain.execution import NO_EXIT_CODE, SudoMode, remote_command
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionView
from homelab_approvals.executor import transport
from homelab_approvals.executor.live_output import LiveOutput
from homelab_approvals.executor.log import TransitionLog
from homelab_approvals.executor.previews import PLAN_CHANGED, PreviewTaker
from homelab_approvals.service.executions import Claim, ExecutionService

POLL_S = 0.1  # new approvals are picked up well within 1 s
#: Pending actions are looked at for due previews on every change, and at least this
#: often (a preview goes stale with time alone).
PREVIEW_SCAN_S = 5.0
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
    def __init__(
        self,
        service: ExecutionService,
        settings: Settings,
        log: TransitionLog,
        previews: PreviewTaker | None = None,
        *,
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        """`previews`: take previews of pending actions (not with `once`), check an apt
        action's plan right before running it, and write live output. `housekeeping`:
        run at start and with every heartbeat (the expiry sweep)."""
        self.service = service
        self.previews = previews
        self._probing: set[int] = set()  # pending actions being previewed now
        self.settings = settings
        self.log = log
        self.housekeeping = housekeeping
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
        self._keep_house()  # before anything is claimed: a stale approval never runs
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
        scan_previews = self.previews is not None and self.previews.enabled and not s.once
        next_scan = 0.0
        try:
            while not self.stopping.is_set():
                try:
                    fresh = self.service.db.change_token()
                    if fresh != token:
                        token, look = fresh, True
                        next_scan = 0.0  # something changed: a new pending action, perhaps
                    if look and self.running() < s.concurrency:
                        look = False
                        self._claim_more(started, todo)
                    if scan_previews and time.monotonic() >= next_scan:
                        next_scan = time.monotonic() + PREVIEW_SCAN_S
                        self._preview_more()
                    if todo is not None and not todo and not self.running():
                        break
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + beat_every
                        self.service.heartbeat(s.name, s.lease, started)
                        self._prune()
                        self._keep_house()
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

    def _keep_house(self) -> None:
        if self.housekeeping is not None:
            self.housekeeping()

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

    # -- previews, in threads of their own ------------------------------------------------------

    def _preview_more(self) -> None:
        """Start a probe for each pending action whose preview is missing, stale or asked
        for, at most `concurrency` at once."""
        taker = self.previews
        assert taker is not None
        with self._lock:
            free = self.settings.concurrency - len(self._probing)
        if free <= 0:
            return
        try:
            due = taker.due()
        except StorageError as error:
            self.log.message(f"previews: {error.message}")
            return
        for action in due:
            if free <= 0 or self.stopping.is_set():
                return
            with self._lock:
                if action.id in self._probing:
                    continue
                self._probing.add(action.id)
            free -= 1
            threading.Thread(target=self._preview, args=(action,), daemon=True).start()

    def _preview(self, action: ActionView) -> None:
        taker = self.previews
        assert taker is not None
        try:
            preview = taker.take(action)
            if preview is not None:
                self.log.message(f"#{action.id}: preview: {visible(preview.summary)}")
        except StorageError as error:
            self.log.message(f"#{action.id}: preview not recorded: {error.message}")
        finally:
            with self._lock:
                self._probing.discard(action.id)

    def _plan_changed(self, claim: Claim) -> str | None:
        """Right before an apt action runs: its plan taken again. The stderr to fail it
        with when the plan holds anything the approved one did not; else None."""
        taker = self.previews
        if taker is None:
            return None
        started = time.monotonic()
        changes = taker.check_plan(claim.action, (claim.destination, claim.login))
        if changes is None:
            return None
        took = time.monotonic() - started
        if not changes:
            self.log.message(f"#{claim.action.id}: plan checked in {took:.2f} s: nothing added")
            return None
        why = "\n".join([f"{PLAN_CHANGED}:", *(f"  {visible(c)}" for c in changes)])
        if not taker.binds:
            self.log.message(f"#{claim.action.id}: {why} (preview.bind is false: run anyway)")
            return None
        return why

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
            changed = self._plan_changed(claim)
            if changed is not None:  # nothing is sent
                self._finish(claim, NO_EXIT_CODE, None, changed, 0.0, changed, PLAN_CHANGED)
                return
            command = remote_command(claim.action.command, s.sudo)
            live = None
            if self.previews is not None:
                write = self.previews.approvals.add_output
                live = LiveOutput(claim.action.id, write, self.log.message)
            try:
                running = transport.start(
                    claim.destination,
                    command,
                    login=claim.login,
                    ssh_config=s.ssh_config,
                    timeout=s.timeout,
                    on_output=None if live is None else live.feed,
                )
            except OSError as error:  # no ssh client installed, say
                if live is not None:
                    live.close()
                why = f"ssh could not be started: {error.strerror or error}"
                self._finish(claim, NO_EXIT_CODE, None, why, 0.0, why)
                return
            with self._lock:
                self._runs[claim.action.id] = running
            result = running.wait()
            if live is not None:
                live.close()  # before the result: a follower sees all output, then the end
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
        reason: str | None = None,
    ) -> None:
        if reason is None and note is not None and note.startswith("not run:"):
            reason = note
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
