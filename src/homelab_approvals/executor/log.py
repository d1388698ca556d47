"""One line per transition on stderr: action, server, command, result and duration.
With --json, one JSON object per line instead. Text from the database or from a remote
command is made inert (domain/text.py) in the human form; JSON escapes it anyway."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionView


class TransitionLog:
    def __init__(self, stream: TextIO, *, as_json: bool, executor: str) -> None:
        self._stream = stream
        self._json = as_json
        self._executor = executor
        self._lock = threading.Lock()  # run threads log too: whole lines only

    def transition(
        self,
        action: ActionView,
        from_status: str,
        to_status: str,
        *,
        exit_code: int | None = None,
        seconds: float | None = None,
        note: str | None = None,
    ) -> None:
        server = action.server_label or action.server_id
        if self._json:
            self._write_json(
                event="transition",
                action_id=action.id,
                server=server,
                command=action.command,
                from_status=from_status,
                to_status=to_status,
                exit_code=exit_code,
                duration_s=None if seconds is None else round(seconds, 3),
                note=note,
            )
            return
        result = []
        if exit_code is not None:
            result.append(f"exit {exit_code}")
        if seconds is not None:
            result.append(f"{seconds:.1f} s")
        if note:
            result.append(visible(note.strip().splitlines()[-1] if note.strip() else note))
        detail = f" ({', '.join(result)})" if result else ""
        self._write_line(
            f"#{action.id} on {visible(server)}: {from_status} -> {to_status}{detail}: "
            f"{visible(action.command)}"
        )

    def message(self, text: str, **fields: Any) -> None:
        if self._json:
            self._write_json(event="message", message=text, **fields)
        else:
            self._write_line(visible(text))

    def _write_json(self, **fields: Any) -> None:
        record = {"at": _now(), "executor": self._executor, **fields}
        self._emit(json.dumps(record, ensure_ascii=True))

    def _write_line(self, text: str) -> None:
        self._emit(f"{_now()} {visible(self._executor)} {text}")

    def _emit(self, line: str) -> None:
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed stderr must not stop the runs


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
