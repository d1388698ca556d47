"""The console's detail pane (the ActionDetail widget, detail.py) kept on the highlighted
action: it follows the cursor once the cursor rests, and reads the action's history in a
thread worker. enter (or a click on a row) moves the focus into the pane."""

from __future__ import annotations

from textual import on, work
from textual.message import Message
from textual.timer import Timer

from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.domain.views import EventView
from homelab_approvals.tui.console_part import ConsolePart
from homelab_approvals.tui.table import ActionTable
from homelab_approvals.tui.toast import toast

#: The detail pane follows the cursor after it has rested this long, so holding an
#: arrow key does not render (and read the history of) every row it passes.
DETAIL_DEBOUNCE = 0.05


class EventsFetched(Message):
    """An action's history; `error` instead when it could not be read."""

    def __init__(
        self, action_id: int, events: list[EventView] | None, error: str | None = None
    ) -> None:
        super().__init__()
        self.action_id = action_id
        self.events = events
        self.error = error


class DetailSyncMixin(ConsolePart):
    """The detail pane of ConsoleScreen (console.py), which mixes this in."""

    def __init__(self) -> None:
        super().__init__()
        self._detail_events_for: int | None = None
        self._detail_timer: Timer | None = None

    @property
    def _detail_settled(self) -> bool:
        """The pane shows the highlighted action (or says there is none) with its history."""
        detail = self.detail
        if self._detail_timer is not None or detail.view != self.table.highlighted_view:
            return False
        return detail.view is None or detail.events is not None

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
        if detail.view == view:
            if detail.events is None and self._detail_events_for != view.id:
                self._fetch_events(view.id)  # the last read failed (or waited): try again
            return
        same_action = detail.view is not None and detail.view.id == view.id
        events = detail.events if same_action else None
        detail.show(view, events, self.now)
        self._fetch_events(view.id)

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

    @on(EventsFetched)
    def _events_fetched(self, message: EventsFetched) -> None:
        if message.events is None:
            if self._detail_events_for == message.action_id:
                self._detail_events_for = None  # the next refresh tries again
            toast(self, message.error or "", title="History", severity="warning")
            return
        view = self.detail.view
        if view is not None and view.id == message.action_id:
            self.detail.show(view, message.events, self.now)

    def action_focus_detail(self) -> None:
        detail = self.detail
        if detail.view is None:
            return
        detail.focus()
        if self.has_class("-narrow"):
            self.maximize(detail, container=False)
