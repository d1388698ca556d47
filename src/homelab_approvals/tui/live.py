"""Live refresh: one background thread watches the database's change token and fetches
the current window only when it moved (or the view changed), then posts the rows to
the UI. The next check is armed only after the last one finished."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from textual.message import Message

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.domain.views import ActionPage, EventView
from homelab_approvals.service import ActionQuery, ApprovalService

#: Seconds between change checks. A check is one `PRAGMA data_version` (a few µs), so
#: checking often costs nothing measurable, and a change shows within ~0.1 s + the read.
POLL_INTERVAL = 0.1
#: A new view is first fetched this many rows deep (more than a tall terminal shows),
#: painted, then filled up to the full window: the first screen comes sooner.
FIRST_WINDOW = 100
#: The longest the fill-up waits for the first rows to be painted.
PAINT_WAIT = 0.5
#: After a failure the delay doubles up to this, so a locked or vanished database
#: is retried without spinning.
MAX_BACKOFF = 5.0


@dataclass(frozen=True, slots=True)
class ViewRequest:
    """What the UI wants to see. A newer generation makes older results stale."""

    generation: int
    query: ActionQuery
    cursor_to_top: bool = False


class ActionsFetched(Message):
    """A fresh window of rows for `request`, read at `at` (the app's clock). `partial`:
    only the first rows of a new view; the full window follows at once."""

    def __init__(
        self, request: ViewRequest, page: ActionPage, at: datetime, *, partial: bool = False
    ) -> None:
        super().__init__()
        self.request = request
        self.page = page
        self.at = at
        self.partial = partial


class RefreshFailed(Message):
    def __init__(self, message: str, attempts: int) -> None:
        super().__init__()
        self.message = message
        self.attempts = attempts


class RefreshRecovered(Message):
    pass


class EventsFetched(Message):
    """An action's history; `error` instead when it could not be read."""

    def __init__(
        self, action_id: int, events: list[EventView] | None, error: str | None = None
    ) -> None:
        super().__init__()
        self.action_id = action_id
        self.events = events
        self.error = error


class DecisionFinished(Message):
    """A decision came back from the service: `error` is None on success. Posted, not
    called, from the worker, so a worker never waits on a UI that is shutting down."""

    def __init__(self, verb: str, action_id: int, title: str, error: ApprovalsError | None) -> None:
        super().__init__()
        self.verb = verb
        self.action_id = action_id
        self.title = title
        self.error = error


_UNSEEN = object()


class LiveFeed:
    """Shared between the UI thread (which asks for views) and the polling thread."""

    def __init__(
        self,
        service: ApprovalService,
        query: ActionQuery,
        clock: Callable[[], datetime],
        interval: float = POLL_INTERVAL,
    ) -> None:
        self.service = service
        self.clock = clock
        self.interval = interval
        self._request = ViewRequest(0, query)
        self._wake = threading.Event()
        self._painted = threading.Event()
        self._stopped = False

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
                    page = self.service.list_actions(query)
                    partial = partial and len(page.rows) == FIRST_WINDOW  # else that was all
                    post(ActionsFetched(request, page, self.clock(), partial=partial))
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
                post(RefreshFailed(error.message, failures))
            delay = min(MAX_BACKOFF, self.interval * 2**failures) if failures else self.interval
            self._wake.wait(delay)
