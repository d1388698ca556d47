"""Live refresh: one background thread watches the database's change token and fetches
the current window only when it moved (or the view changed), then posts the rows to
the UI. The next check is armed only after the last one finished.

A burst of commits (a script deciding a hundred actions) becomes one refresh: a window
that others committed into while it was being read is read again once they pause. And
the UI applies only the newest window it has been sent."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from time import monotonic, sleep
from typing import TYPE_CHECKING

from textual.message import Message

from homelab_approvals.domain.errors import ApprovalsError, DatabaseReplaced, DatabaseUnreachable
from homelab_approvals.domain.previews import WARNED_TYPES
from homelab_approvals.domain.views import ActionPage, ActionView
from homelab_approvals.service.listing import ActionQuery
from homelab_approvals.storage.first_window import FIRST_WINDOW

if TYPE_CHECKING:
    from homelab_approvals.service import ApprovalService

#: Seconds between change checks. A check is one `PRAGMA data_version` (a few µs), so
#: checking often costs nothing measurable, and a change shows within ~0.1 s + the read.
POLL_INTERVAL = 0.1
# FIRST_WINDOW (a new view is first fetched this many rows deep, painted, then filled up
# to the full window) lives with the reader of the console's very first window.
#: The longest the fill-up waits for the first rows to be painted.
PAINT_WAIT = 0.5
#: After a failure the delay doubles up to this, so a locked or vanished database
#: is retried without spinning.
MAX_BACKOFF = 5.0
#: A window others committed into while it was read is read again once nobody has
#: committed for this long (commits in a burst are well under a millisecond apart)...
SETTLE = 0.01
#: ...at most this many times, waiting at most this long in all for the writes to
#: pause: under a steady stream of writes the screen still moves on.
MAX_REREADS = 2
CATCH_UP = 0.15
#: The banner while the database server cannot be reached (issue 12's exact words).
UNREACHABLE_BANNER = "database unreachable, retrying"


@dataclass(frozen=True, slots=True)
class ViewRequest:
    """What the UI wants to see. A newer generation makes older results stale."""

    generation: int
    query: ActionQuery
    cursor_to_top: bool = False


class ActionsFetched(Message):
    """A fresh window of rows for `request`, read at `at` (the app's clock). `partial`:
    only the first rows of a new view; the full window follows at once. `sequence`:
    its place among the windows the feed has posted (None: not from the feed)."""

    def __init__(
        self,
        request: ViewRequest,
        page: ActionPage,
        at: datetime,
        *,
        partial: bool = False,
        sequence: int | None = None,
        warnings: dict[int, tuple[str, ...]] | None = None,
    ) -> None:
        super().__init__()
        self.request = request
        self.page = page
        self.at = at
        self.partial = partial
        self.sequence = sequence
        #: Rows whose newest plan removes packages or installs a new kernel.
        self.warnings = warnings or {}


class RefreshFailed(Message):
    def __init__(
        self, message: str, attempts: int, *, replaced: bool = False, unreachable: bool = False
    ) -> None:
        super().__init__()
        self.message = message
        self.attempts = attempts
        self.replaced = replaced  # the database file was replaced under us
        self.unreachable = unreachable  # the server went away (restart, network drop)


class RefreshRecovered(Message):
    pass


_UNSEEN = object()


class Waker:
    """threading.Event's set/clear/wait, that can also wait on a socket (the database's
    change signal). For that, set() also writes a byte to a socket pair, made on the
    first such wait and closed by close() (a later wait makes a new one)."""

    def __init__(self) -> None:
        self._flag = threading.Event()
        self._pair: tuple[socket.socket, socket.socket] | None = None

    def set(self) -> None:
        self._flag.set()
        pair = self._pair
        if pair is not None:
            with contextlib.suppress(OSError):  # full (it wakes anyway), or closed
                pair[1].send(b"\0")

    def clear(self) -> None:
        self._flag.clear()
        pair = self._pair
        if pair is not None:
            with contextlib.suppress(OSError):  # nothing (more) to read
                while pair[0].recv(4096):
                    pass

    def wait(self, timeout: float, *, also: int | None = None) -> None:
        """Until set() or `timeout` seconds, or until `also` is readable."""
        if also is None:
            self._flag.wait(timeout)
            return
        if self._pair is None:
            pair = socket.socketpair()
            for end in pair:
                end.setblocking(False)
            self._pair = pair
        # The pair exists before the flag is read: a set() from here on writes to it.
        if self._flag.is_set():
            return
        poller = select.poll()  # no descriptor of its own, unlike epoll
        poller.register(self._pair[0], select.POLLIN)
        poller.register(also, select.POLLIN)
        with contextlib.suppress(OSError):  # `also` closed meanwhile: the next check says
            poller.poll(timeout * 1000)

    def close(self) -> None:
        pair, self._pair = self._pair, None
        if pair is not None:
            for end in pair:
                end.close()


class LiveFeed:
    """Shared between the UI thread (which asks for views) and the polling thread."""

    def __init__(
        self,
        service: ApprovalService | None,
        query: ActionQuery,
        clock: Callable[[], datetime],
        interval: float = POLL_INTERVAL,
    ) -> None:
        """`service` may come later (a deferred start), but before `run()`."""
        self._service = service
        self.clock = clock
        self.interval = interval
        self._request = ViewRequest(0, query)
        self._wake = Waker()
        self._painted = threading.Event()
        self._stopped = False
        self._posted: dict[int, ActionView] = {}  # the rows of the last window posted
        self._sequence = 0

    @property
    def latest_sequence(self) -> int:
        """The `sequence` of the newest window posted: older ones are superseded."""
        return self._sequence

    @property
    def service(self) -> ApprovalService:
        if self._service is None:
            raise RuntimeError("LiveFeed has no service yet")
        return self._service

    @service.setter
    def service(self, service: ApprovalService) -> None:
        self._service = service

    @property
    def current(self) -> ViewRequest:
        return self._request

    def request(self, query: ActionQuery, *, cursor_to_top: bool = False) -> ViewRequest:
        """Ask for a new view (UI thread). Results for older views are then stale."""
        self._request = ViewRequest(self._request.generation + 1, query, cursor_to_top)
        self._wake.set()
        return self._request

    def painted(self) -> None:
        """The UI has drawn the first rows of a view (UI thread, after the refresh)."""
        self._painted.set()

    def poke(self) -> None:
        """Check now rather than at the next tick (e.g. right after our own decision)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        self._painted.set()

    def run(self, post: Callable[[Message], object], cancelled: Callable[[], bool]) -> None:
        """The polling loop; runs in a thread worker until stopped or cancelled."""
        try:
            self._poll(post, cancelled)
        finally:
            self._wake.close()

    def _poll(self, post: Callable[[Message], object], cancelled: Callable[[], bool]) -> None:
        seen_token: object = _UNSEEN
        seen_generation = -1
        partial = False  # what was last posted was a new view's first rows only
        failures = 0
        while not (self._stopped or cancelled()):
            # Clear before reading the request, so a request made from here on wakes
            # the next wait instead of being lost.
            self._wake.clear()
            request = self._request
            try:
                token = self.service.change_token()
                new_view = request.generation != seen_generation
                if new_view or partial or token != seen_token:
                    query = request.query
                    partial = new_view and query.limit > FIRST_WINDOW
                    if partial:
                        query = query.with_(limit=FIRST_WINDOW)
                    page, token = self._read(request, query, token)
                    if page is None:
                        continue  # a newer view was asked for meanwhile
                    partial = partial and len(page.rows) == FIRST_WINDOW  # else that was all
                    self.post_window(post, request, page, partial=partial)
                    seen_token, seen_generation = token, request.generation
                    if partial:
                        # The rest of the window once those rows are on screen, so the
                        # first paint does not wait behind converting 1,000 rows.
                        self._painted.wait(PAINT_WAIT)
                        self._painted.clear()
                        continue
                if failures:
                    failures = 0
                    post(RefreshRecovered())
            except ApprovalsError as error:
                failures += 1
                post(
                    RefreshFailed(
                        error.message,
                        failures,
                        replaced=isinstance(error, DatabaseReplaced),
                        unreachable=isinstance(error, DatabaseUnreachable),
                    )
                )
            if failures:
                self._wake.wait(min(MAX_BACKOFF, self.interval * 2**failures))
            else:
                # A notification wakes it at once (PostgreSQL): no poll interval to wait.
                self._wake.wait(self.interval, also=self.service.change_signal())

    def _read(
        self, request: ViewRequest, query: ActionQuery, token: object
    ) -> tuple[ActionPage | None, object]:
        """The window for `query`, and the change token read before it. If others
        committed while it was being read, it is already stale: read it again once they
        pause (bounded), so a burst shows as one refresh rather than one per poll.
        None if a newer view was asked for (or the feed stopped) meanwhile."""
        page = self.service.list_actions(query)
        deadline = monotonic() + CATCH_UP
        for _ in range(MAX_REREADS):
            # Fresh: a commit made while the window was read must be seen now, not
            # once its notification arrives, or the stale window would be shown.
            latest = self.service.change_token(fresh=True)
            if latest == token:
                break
            token = self._settled_token(latest, deadline)
            if self._request is not request or self._stopped:
                return None, token
            page = self.service.list_actions(query)
        return page, token

    def _settled_token(self, token: object, deadline: float) -> object:
        """The change token once it has held still for SETTLE (or at `deadline`)."""
        while True:
            sleep(SETTLE)
            latest = self.service.change_token(fresh=True)
            if latest == token or monotonic() >= deadline:
                return latest
            token = latest

    def post_window(
        self,
        post: Callable[[Message], object],
        request: ViewRequest,
        page: ActionPage,
        *,
        partial: bool = False,
    ) -> None:
        """Send a window to the UI as the newest one (polling thread; tests too)."""
        rows = self._reuse_unchanged(page.rows)
        # Only apt plans remove packages or bring a kernel: most windows ask for nothing.
        apt = [view.id for view in rows if view.action_type in WARNED_TYPES]
        warnings = self.service.preview_marks(apt) if apt else {}
        self._sequence += 1
        post(
            ActionsFetched(
                request,
                replace(page, rows=rows),
                self.clock(),
                partial=partial,
                sequence=self._sequence,
                warnings=warnings,
            )
        )

    def _reuse_unchanged(self, rows: Sequence[ActionView]) -> tuple[ActionView, ...]:
        """Rows equal to ones posted last time, as those very objects: the table then
        tells an unchanged row by identity, and comparing a thousand views field by
        field happens here, off the UI thread. (The table still compares rows that are
        not identical, so a window the UI skipped changes nothing.)"""
        posted = self._posted
        kept = []
        for view in rows:
            old = posted.get(view.id)
            kept.append(old if old is not None and old == view else view)
        result = tuple(kept)
        self._posted = {view.id: view for view in result}
        return result
