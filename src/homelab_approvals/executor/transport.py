"""One command over SSH, through the system OpenSSH client.

`ssh -F FILE -o BatchMode=yes -T [-l LOGIN] -- DESTINATION COMMAND`: the command is one
argument and no local shell sees it; host keys are checked as the user's known_hosts and
ssh config say (never turned off here). The client runs in its own process group, which is
killed whole on timeout. Output is read as it comes, keeping only the end of each stream,
so a command that prints gigabytes costs no memory."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from homelab_approvals.domain.execution import NO_EXIT_CODE, OUTPUT_LIMIT, kept_output, timed_out

#: Bytes kept of each stream: enough for OUTPUT_LIMIT characters of any UTF-8.
_KEEP_BYTES = OUTPUT_LIMIT * 4
_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class RunResult:
    exit_code: int
    stdout: str | None
    stderr: str | None
    seconds: float
    timed_out: bool = False


class _Tail:
    """Drains a pipe in a thread, keeping its last _KEEP_BYTES and counting the rest;
    `on_chunk` also gets each piece as it arrives (live output)."""

    def __init__(self, stream: IO[bytes], on_chunk: Callable[[bytes], None] | None = None) -> None:
        self._on_chunk = on_chunk
        self.kept = bytearray()
        self.total = 0
        self._stream = stream
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        read = self._stream.read1 if hasattr(self._stream, "read1") else self._stream.read
        while chunk := read(_CHUNK):
            if self._on_chunk is not None:
                self._on_chunk(chunk)
            self.total += len(chunk)
            self.kept += chunk
            if len(self.kept) > _KEEP_BYTES:
                del self.kept[: len(self.kept) - _KEEP_BYTES]
        self._stream.close()

    def text(self) -> str | None:
        self._thread.join(timeout=5)  # the group is dead or done: the pipe ends at once
        return kept_output(bytes(self.kept), self.total)


def ssh_argv(
    destination: str, command: str, *, login: str | None, ssh_config: Path | None
) -> list[str]:
    argv = ["ssh"]
    if ssh_config is not None:
        argv += ["-F", str(ssh_config)]
    argv += ["-o", "BatchMode=yes", "-T"]
    if login:
        argv += ["-l", login]
    return [*argv, "--", destination, command]


class Running:
    """A started ssh process; `wait` gives its result. `kill` ends its whole group."""

    def __init__(
        self,
        argv: list[str],
        timeout: float,
        on_output: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.timeout = timeout
        self.started = time.monotonic()
        self._process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: killed whole on timeout
            close_fds=True,
        )
        assert self._process.stdout is not None
        assert self._process.stderr is not None

        def stream(name: str) -> Callable[[bytes], None] | None:
            return None if on_output is None else functools.partial(on_output, name)

        self._out = _Tail(self._process.stdout, stream("stdout"))
        self._err = _Tail(self._process.stderr, stream("stderr"))

    def kill(self) -> None:
        # Only while the client is not yet reaped: after that its pid (and group id)
        # could belong to someone else.
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)

    def wait(self) -> RunResult:
        late = False
        try:
            code = self._process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            late = True
            self.kill()
            self._process.wait()
            code = NO_EXIT_CODE
        seconds = time.monotonic() - self.started
        stdout, stderr = self._out.text(), self._err.text()
        if late:
            note = timed_out(self.timeout)
            stderr = f"{stderr.rstrip()}\n{note}"[-OUTPUT_LIMIT:] if stderr else note
        elif code < 0:  # killed by a signal from outside
            code = NO_EXIT_CODE
        return RunResult(code, stdout, stderr, seconds, late)


def start(
    destination: str,
    command: str,
    *,
    login: str | None,
    ssh_config: Path | None,
    timeout: float,
    on_output: Callable[[str, bytes], None] | None = None,
) -> Running:
    """`on_output(stream, data)`: each piece of stdout or stderr as it arrives."""
    argv = ssh_argv(destination, command, login=login, ssh_config=ssh_config)
    return Running(argv, timeout, on_output)
