"""The console's detail pane (the ActionDetail widget, detail.py) kept on the highlighted
action: it follows the cursor once the cursor rests, and reads the action's history in a
thread worker. enter (or a click on a row) moves the focus into the pane."""

from __future__ import annotations

from textual import on, work
from textual.message import Message
from textual.timer import Timer

from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.domain.previews import PreviewView
from homelab_approvals.domain.views import EventView
from homelab_approvals.tui.console_part import ConsolePart
from homelab_approvals.tui.table import ActionTable
from homelab_approvals.tui.toast import toast

#: The detail pane follows the cursor after it has rested this long, so holding an
#: arrow key does not render (and read the history of) every row it passes.
DETAIL_DEBOUNCE = 0.05
#: A running action's output is read this often while its detail is shown (tail -f).
OUTPUT_POLL = 0.25


class EventsFetched(Message):
    """An action's history; `error` instead when it could not be read."""

    def __init__(
        self, action_id: int, events: list[EventView] | None, error: str | None = None
    ) -> None:
        super().__init__()
        self.action_id = action_id
        self.events = events
        self.error = error


class PreviewFetched(Message):
    """The newest preview of an action (None: none taken), for the detail pane."""

    def __init__(self, action_id: int, preview: PreviewView | None) -> None:
        super().__init__()
        self.action_id = action_id
        self.preview = preview


class OutputFetched(Message):
    """Live output of a running action: (stream, text) chunks up to chunk id `last`."""

    def __init__(self, action_id: int, chunks: list[tuple[str, str]], last: int) -> None:
        super().__init__()
        self.action_id = action_id
        self.chunks = chunks
        self.last = last


class DetailSyncMixin(ConsolePart):
    """The detail pane of ConsoleScreen (console.py), which mixes this in."""

    def __init__(self) -> None:
        super().__init__()
        self._detail_events_for: int | None = None
        self._detail_timer: Timer | None = None
        self._output_timer: Timer | None = None

    @property
    def _detail_settled(self) -> bool:
        """The pane shows the highlighted action (or says there is none) with its history."""
        detail = self.detail
        if self._detail_timer is not None or detail.view != self.table.highlighted_view:
            return False
        view = detail.view
        return view is None or (detail.events is not None and detail.preview_for == view.id)

    @on(ActionTable.Highlighted, "#actions")
    def _highlighted(self) -> None:
        self._update_keys()
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DEBOUNCE, self._sync_detail)

    @on(ActionTable.Selected, "#actions")
    def _selected(self) -> None:
        self.action_focus_detail()

    def _sync_detail(self) -> None:
        if self._detail_timer is not None:  # a refresh got here before the debounce
            self._detail_timer.stop()
            self._detail_timer = None
        view = self.table.highlighted_view
        detail = self.detail
        if view is None:
            detail.show(None, None, self.now, empty=self._why_empty())
            return
        extras = self._detail_extras(view)
        if detail.view == view and detail.extras == extras:
            if detail.events is None and self._detail_events_for != view.id:
                self._fetch_events(view.id)  # the last read failed (or waited): try again
            self._fetch_preview(view.id)  # something changed: a new preview, perhaps
            self._follow_output()
            return
        # A vote changes the history (and the extras) but not the row: read it again.
        same_action = detail.view is not None and detail.view.id == view.id
        events = detail.events if same_action else None
        detail.show(view, events, self.now, extras=extras)
        self._fetch_events(view.id)
        self._fetch_preview(view.id)
        self._follow_output()

    def _why_empty(self) -> str:
        query, page = self.view_query, self.page
        if query.narrowed:
            clear = self.keys.named("clear-filter")
            return f"No action matches the filter. Press {clear} to clear it."
        if page is not None and not page.grand_total:
            return "No actions yet. They appear here as soon as one is proposed."
        if page is not None and query.statuses:
            return f"No pending actions. Press {self.keys.named('view')} to see all actions."
        return "Nothing here."

    def _fetch_events(self, action_id: int) -> None:
        if self.service is None:
            return  # a deferred start: read once the service is ready (_service_ready)
        self._detail_events_for = action_id
        self._load_events(action_id)

    @work(thread=True, group="events", exclusive=True, exit_on_error=False)
    def _load_events(self, action_id: int) -> None:
        try:
            events = self._opened_service().list_events(action_id)
        except ApprovalsError as error:
            self.post_message(EventsFetched(action_id, None, error.message))
        else:
            self.post_message(EventsFetched(action_id, events))

    def _follow_output(self) -> None:
        """Read the running action's output every OUTPUT_POLL s while its detail is
        shown; the table and its cursor are not touched."""
        view = self.detail.view
        running = view is not None and view.status == ActionStatus.EXECUTING
        if running and self._output_timer is None:
            self._output_timer = self.set_interval(OUTPUT_POLL, self._tail_output)
            self._tail_output()
        elif not running and self._output_timer is not None:
            self._output_timer.stop()
            self._output_timer = None

    def _tail_output(self) -> None:
        view = self.detail.view
        if view is None or self.service is None:
            return
        after = self.detail.output_last if self.detail.output_for == view.id else 0
        self._load_output(view.id, after)

    @work(thread=True, group="output", exclusive=True, exit_on_error=False)
    def _load_output(self, action_id: int, after: int) -> None:
        try:
            rows, last = self._opened_service().output_since(action_id, after)
        except ApprovalsError:
            return  # the next tick reads again
        chunks = [(row.stream, row.text) for row in rows]
        self.post_message(OutputFetched(action_id, chunks, last if rows else after))

    @on(OutputFetched)
    def _output_fetched(self, message: OutputFetched) -> None:
        self.detail.add_output(message.action_id, message.chunks, message.last)

    def _fetch_preview(self, action_id: int) -> None:
        if self.service is not None:
            self._load_preview(action_id)

    @work(thread=True, group="preview", exclusive=True, exit_on_error=False)
    def _load_preview(self, action_id: int) -> None:
        try:
            preview = self._opened_service().get_preview(action_id)
        except ApprovalsError:
            return  # the pane keeps what it shows; the next refresh reads again
        self.post_message(PreviewFetched(action_id, preview))

    @on(PreviewFetched)
    def _preview_fetched(self, message: PreviewFetched) -> None:
        self.detail.show_preview(message.action_id, message.preview)

    @on(EventsFetched)
    def _events_fetched(self, message: EventsFetched) -> None:
        if message.events is None:
            if self._detail_events_for == message.action_id:
                self._detail_events_for = None  # the next refresh tries again
            toast(self, message.error or "", title="History", severity="warning")
            return
        view = self.detail.view
        if view is not None and view.id == message.action_id:
            self.detail.show(view, message.events, self.now, extras=self._detail_extras(view))

    def action_focus_detail(self) -> None:
        detail = self.detail
        if detail.view is None:
            return
        detail.focus()
        if self.has_class("-narrow"):
            self.maximize(detail, container=False)
