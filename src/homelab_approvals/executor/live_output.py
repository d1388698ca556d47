"""A run's output on its way to the database while the command runs: chunks are gathered
as ssh delivers them and written in one small transaction at most every 0.25 s, so a
chatty `apt-get` costs at most four writes a second however much it prints. The console's
detail pane and `show ID --follow` read them; the final stdout and stderr columns are
still written by the run's result, in HomelabCmd's form."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Callable, Iterable

from homelab_approvals.domain.errors import StorageError

#: Seconds between writes of gathered output.
FLUSH_EVERY = 0.25
#: Characters of live output kept per run; past this only the final columns keep the end.
LIVE_MAX = 1_000_000
CUT_NOTE = "\n[live output stops here: more than 1,000,000 characters; the end is in the result]\n"

Writer = Callable[[int, Iterable[tuple[str, str]]], None]


class LiveOutput:
    """Thread-safe: ssh's reader threads call `feed`; a thread of its own writes."""

    def __init__(self, action_id: int, write: Writer, on_error: Callable[[str], None]) -> None:
        self.action_id = action_id
        self.writes = 0  # transactions written (the figure for the report)
        self._write = write
        self._on_error = on_error
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str]] = []
        self._decoders = {
            stream: codecs.getincrementaldecoder("utf-8")("replace")
            for stream in ("stdout", "stderr")
        }
        self._stopped = threading.Event()
        self._failed = False
        self._kept = 0  # characters taken so far
        self._thread = threading.Thread(target=self._loop, daemon=True, name="live-output")
        self._thread.start()

    def feed(self, stream: str, data: bytes) -> None:
        text = self._decoders[stream].decode(data)
        if not text or self._kept > LIVE_MAX:
            return
        with self._lock:
            self._kept += len(text)
            if self._kept > LIVE_MAX:
                text = text[: max(0, len(text) - (self._kept - LIVE_MAX))] + CUT_NOTE
            self._pending.append((stream, text))

    def close(self) -> None:
        """Write what is left (the run has ended) and stop."""
        for stream, decoder in self._decoders.items():
            if rest := decoder.decode(b"", final=True):
                with self._lock:
                    self._pending.append((stream, rest))
        self._stopped.set()
        self._thread.join(timeout=10)
        self._flush()

    def _loop(self) -> None:
        while not self._stopped.wait(FLUSH_EVERY):
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch or self._failed:
            return
        merged: list[tuple[str, str]] = []
        for stream, text in batch:  # neighbouring pieces of one stream: one row
            if merged and merged[-1][0] == stream:
                merged[-1] = (stream, merged[-1][1] + text)
            else:
                merged.append((stream, text))
        try:
            self._write(self.action_id, merged)
            self.writes += 1
        except StorageError as error:
            # Live output is a courtesy: the run and its result go on without it.
            self._failed = True
            self._on_error(f"#{self.action_id}: live output stopped ({error.message})")
