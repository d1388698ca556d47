"""The main screen: top bar, the live table of actions, the detail pane, the keys."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from time import perf_counter
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from homelab_approvals.domain.enums import CANCELLABLE, DECIDABLE, ActionStatus, SortOrder
from homelab_approvals.domain.errors import (
    ApprovalsError,
    InvalidTransition,
    StorageError,
    ValidationError,
)
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.validation import SEARCH_MAX
from homelab_approvals.domain.views import ActionPage, ActionView
from homelab_approvals.service.availability import database_read_only_reason
from homelab_approvals.service.bulk import BulkResult, Decision
from homelab_approvals.service.listing import DEFAULT_WINDOW, ActionQuery
from homelab_approvals.storage.first_window import FIRST_WINDOW
from homelab_approvals.tui.bulk import BulkFinished, ConfirmApproval, listing, plural, summary
from homelab_approvals.tui.collector import resume_collector
from homelab_approvals.tui.detail import ActionDetail
from homelab_approvals.tui.formatting import action_title
from homelab_approvals.tui.keys import CONSOLE_BINDINGS
from homelab_approvals.tui.live import (
    ActionsFetched,
    DecisionFinished,
    EventsFetched,
    LiveFeed,
    RefreshFailed,
    RefreshRecovered,
)
from homelab_approvals.tui.startup import DeferredStart, ServiceFailed, ServiceReady
from homelab_approvals.tui.table import ActionTable
from homelab_approvals.tui.topbar import TopBar

if TYPE_CHECKING:
    from textual.command import Provider

    from homelab_approvals.service import ApprovalService
    from homelab_approvals.tui.help import KeyHelp

#: The default view: the queue, oldest first (the longest-waiting action on top).
PENDING_QUERY = ActionQuery(statuses=(ActionStatus.PENDING,), sort=SortOrder.OLDEST)
#: How long a decision made during a deferred start waits for the database to open.
OPEN_WAIT = 30.0
#: "3m ago" is re-rendered this often; only cells whose text changed are touched.
AGE_TICK_SECONDS = 15.0
#: The detail pane follows the cursor after it has rested this long, so holding an
#: arrow key does not render (and read the history of) every row it passes.
DETAIL_DEBOUNCE = 0.05
_SORT_NAMES = {
    SortOrder.OLDEST: "oldest first",
    SortOrder.NEWEST: "newest first",
    SortOrder.SERVER: "by server",
    SortOrder.ACTION: "by action",
}
_DECISIONS = ("approve", "reject", "cancel_action")
_MARKING = ("toggle_mark", "mark_all")
_BULK = ("approve_marked", "reject_marked")
#: The actions whose availability changes with the row or the view.
_DYNAMIC = (
    *_DECISIONS,
    *_MARKING,
    *_BULK,
    "show_all",
    "show_pending",
    "next_window",
    "previous_window",
)
#: A bulk result with problems stays up longer than the usual toast: it is a list.
BULK_PROBLEM_SECONDS = 15.0
#: Approving at least this many at once says so when it starts.
BULK_NOTICE_FROM = 50
#: The table's own keys that make sense with a row cursor (enter is "Details" here).
_MOVES = frozenset(
    {"cursor_up", "cursor_down", "page_up", "page_down", "scroll_top", "scroll_bottom"}
)


def _console_commands() -> type[Provider]:
    from homelab_approvals.tui.commands import ConsoleCommands  # only when ctrl+p is pressed

    return ConsoleCommands


class ConsoleScreen(Screen[None]):
    # Textual sets the class matching the terminal size on the screen (see console.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]  # noqa: RUF012
    ESCAPE_TO_MINIMIZE: ClassVar[bool | None] = False  # the detail pane handles escape
    AUTO_FOCUS = "#actions"
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {_console_commands}

    BINDINGS: ClassVar[list[BindingType]] = CONSOLE_BINDINGS

    def __init__(
        self,
        service: ApprovalService | None,
        actor: str,
        *,
        read_only_reason: str | None,
        clock: Callable[[], datetime],
        poll_interval: float,
        window: int = DEFAULT_WINDOW,
        deferred: DeferredStart | None = None,
    ) -> None:
        """`service` is None for a `deferred` start: the screen then draws the first
        window it was given and opens the service after that (see tui/startup.py)."""
        super().__init__()
        self.service = service
        self.deferred = deferred
        self._opened = threading.Event()  # set once `service` is (see _opened_service)
        self._open_error: str | None = None
        if service is not None:
            self._opened.set()
            self.database_label = service.db.label
        elif deferred is not None:
            self.database_label = deferred.first.label
        else:
            raise ValueError("give either a service or a deferred start")
        self.actor = actor
        self.read_only_reason = read_only_reason
        self.clock = clock
        self.feed = LiveFeed(service, PENDING_QUERY.with_(limit=window), clock, poll_interval)
        self.page: ActionPage | None = None
        self.now = clock()
        self._shown_generation = -1
        self._shown_partial = False
        self._detail_events_for: int | None = None
        self._key_state: tuple[bool | None, ...] = ()
        self._deciding: set[int] = set()  # action ids with a decision on its way
        self._bulk_running = False  # A or R on marked rows is on its way
        self._marks_text = ""
        self._table_title = ""
        self._detail_timer: Timer | None = None
        #: For benchmarks and tests: refreshes applied, and how long the last one took.
        self.refreshes = 0
        self.last_apply_seconds = 0.0
        self._preset_breakpoints()

    def _preset_breakpoints(self) -> None:
        """Set the breakpoint classes for the terminal's size now, as Textual will on the
        first resize: then that resize changes no class, and the first screen is not
        restyled (and every visible cell rendered again) right after it is drawn."""
        size = self.app.size
        for dimension, breakpoints in (
            (size.width, self.HORIZONTAL_BREAKPOINTS),
            (size.height, self.VERTICAL_BREAKPOINTS),
        ):
            # Textual's own choice, the one its resize handler makes (pinned textual<9).
            for name in self._get_breakpoint_classes(dimension, list(breakpoints or [])):
                self.add_class(name, update=False)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar(self.actor, self.database_label, id="topbar")
        if self.read_only_reason:
            yield self._read_only_banner()
        yield Static("", id="refresh-error", markup=False)
        with Horizontal(id="body"):
            with Vertical(id="list"):
                yield ActionTable(id="actions")
                with Horizontal(id="filter-bar"):
                    yield Label("Filter", id="filter-label")
                    yield Input(
                        placeholder="server, service, command or #id · enter applies",
                        max_length=SEARCH_MAX,
                        id="filter",
                    )
                yield Static("", id="marks-bar", markup=False)
            yield ActionDetail(id="detail")
        yield Footer(compact=True)

    def _read_only_banner(self) -> Static:
        text = f"READ-ONLY · {self.read_only_reason} · approve, reject and cancel are off"
        return Static(text, id="banner", markup=False)

    @property
    def table(self) -> ActionTable:
        return self.query_one("#actions", ActionTable)

    @property
    def detail(self) -> ActionDetail:
        return self.query_one("#detail", ActionDetail)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#filter", Input)

    @property
    def settled(self) -> bool:
        """The asked-for view is on screen in full, and the detail pane has its history.
        For scripts, benchmarks and tests that wait on the console."""
        if self.refreshes == 0 or self._shown_partial:
            return False
        if self._shown_generation != self.feed.current.generation:
            return False
        detail = self.detail
        if self._detail_timer is not None or detail.view != self.table.highlighted_view:
            return False
        return detail.view is None or detail.events is not None

    @property
    def view_query(self) -> ActionQuery:
        """The view being shown (or asked for)."""
        return self.feed.current.query

    def on_mount(self) -> None:
        self.query_one("#filter-bar").display = False
        self.query_one("#marks-bar").display = False
        self.query_one("#refresh-error").display = False
        self.table.border_title = "Loading…"
        if self.deferred is None:
            self._watch_database()
            self.call_after_refresh(resume_collector)  # paused by an entry point, if at all
        else:
            self._show_first_window(self.deferred.first.page)
            # The database is opened (and SQLAlchemy imported) only after the first
            # window has been painted, so as not to delay it.
            self.call_after_refresh(self._open_service)
        self.set_interval(AGE_TICK_SECONDS, self._tick_ages)

    def _show_first_window(self, page: ActionPage) -> None:
        """A deferred start's first rows, applied as the live feed's first rows of the
        view would be: when the window holds more, the feed fills it up once it runs."""
        request = self.feed.current
        limit = request.query.limit
        rows = page.rows[:limit]
        partial = len(rows) == FIRST_WINDOW < limit
        fetched = ActionsFetched(request, replace(page, rows=rows), self.clock(), partial=partial)
        self._apply(fetched)

    def on_resize(self) -> None:
        # At 80 columns the decision keys need the whole footer; ctrl+p is in the help.
        self.query_one(Footer).show_command_palette = self.size.width >= 100

    def on_unmount(self) -> None:
        self.feed.stop()

    # -- live refresh ----------------------------------------------------------------------

    @work(thread=True, group="live", exit_on_error=False, name="live refresh")
    def _watch_database(self) -> None:
        worker = get_current_worker()
        self.feed.run(self.post_message, lambda: worker.is_cancelled)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        if event.worker.group == "live":
            self._show_refresh_error(f"live refresh stopped: {event.worker.error}")
        elif event.worker.group == "open":
            error = event.worker.error
            self._service_failed(ServiceFailed(f"unexpected {type(error).__name__}: {error}"))

    # -- a deferred start (tui/startup.py) -------------------------------------------------

    def _opened_service(self) -> ApprovalService:
        """The service, for a worker thread. A decision made while a deferred start is
        still opening the database (its first few hundred ms) waits for it here, in its
        own thread, rather than being refused or lost."""
        if self.service is None:
            self._opened.wait(OPEN_WAIT)
        service = self.service
        if service is None:
            raise StorageError(self._open_error or "the database is not open yet; try again")
        return service

    @work(thread=True, group="open", exit_on_error=False, name="open database")
    def _open_service(self) -> None:
        deferred = self.deferred
        assert deferred is not None
        worker = get_current_worker()
        try:
            service = deferred.open_service()
        except ApprovalsError as error:
            self.post_message(ServiceFailed(error.message))
            return
        if worker.is_cancelled or not self.post_message(ServiceReady(service)):
            service.db.close()  # the console has gone meanwhile

    @on(ServiceReady)
    def _service_ready(self, message: ServiceReady) -> None:
        service = message.service
        self.service = service
        self.feed.service = service
        self._opened.set()  # decisions made meanwhile go ahead
        # The file may have turned read-only since the first window was read.
        reason = database_read_only_reason(service.db)
        if reason and not self.read_only_reason:
            self.read_only_reason = reason
            self.mount(self._read_only_banner(), before="#refresh-error")
        self._watch_database()
        self._update_keys()
        self._sync_detail()  # the history, which waited for the service
        resume_collector()  # SQLAlchemy is in: freeze the startup's objects (collector.py)

    @on(ServiceFailed)
    def _service_failed(self, message: ServiceFailed) -> None:
        self._open_error = f"cannot open the database: {message.message}"
        self._opened.set()  # decisions made meanwhile fail with that
        self._update_keys()
        self._show_refresh_error(
            f"cannot open the database: decisions are off and the list is not refreshed. "
            f"{message.message}"
        )
        self.notify(message.message, title="Database", severity="error", markup=False)
        resume_collector()

    @on(ActionsFetched)
    def _apply(self, message: ActionsFetched) -> None:
        request = message.request
        if request.generation != self.feed.current.generation:
            return  # a newer view was asked for; its rows are on the way
        if message.sequence is not None and message.sequence < self.feed.latest_sequence:
            return  # a newer window is on its way (the UI was busy): only the latest counts
        started = perf_counter()
        # Rows are "new" (highlighted) only when a live change brought them, not when a
        # view first appears or its window fills up after the first rows.
        first_of_view = request.generation != self._shown_generation
        same_view = not first_of_view and not self._shown_partial
        self.page = message.page
        self.now = message.at
        self.table.show(
            message.page.rows,
            message.at,
            mark_new=same_view,
            cursor_to_top=request.cursor_to_top and first_of_view,
        )
        self._shown_generation = request.generation
        self._shown_partial = message.partial
        self._show_counts()
        self._marks_changed()
        self._sync_detail()
        self._update_keys()
        self.last_apply_seconds = perf_counter() - started
        self.refreshes += 1
        if message.partial:
            self.call_after_refresh(self.feed.painted)

    @on(RefreshFailed)
    def _refresh_failed_message(self, message: RefreshFailed) -> None:
        self._show_refresh_error(f"cannot refresh (retrying): {message.message}")
        if message.attempts == 1:
            self.notify(message.message, title="Database", severity="error", markup=False)

    @on(RefreshRecovered)
    def _refresh_recovered(self) -> None:
        self.query_one("#refresh-error").display = False

    def _show_refresh_error(self, text: str) -> None:
        banner = self.query_one("#refresh-error", Static)
        banner.update(visible(text))
        banner.display = True

    def _show_counts(self) -> None:
        page = self.page
        if page is None:
            return
        topbar = self.query_one(TopBar)
        topbar.pending = page.pending
        topbar.total = page.grand_total
        topbar.filtered = bool(self.view_query.search)
        query = self.view_query
        scope = "Pending" if query.statuses else "All"
        parts = [scope, _SORT_NAMES[query.sort]]
        shown = len(page.rows)
        if shown:
            first = query.offset + 1
            parts.append(f"{first:,}–{query.offset + shown:,} of {page.total:,}")
        else:
            parts.append(f"none of {page.total:,}" if query.offset else "nothing to show")
        if query.search:
            parts.append(f'filter "{visible(query.search)}"')
        title = " · ".join(parts)
        if title != self._table_title:  # setting it repaints the whole table
            self._table_title = title
            self.table.border_title = Text(title)  # Text: never read as markup

    def _tick_ages(self) -> None:
        self.now = self.clock()
        self.table.refresh_ages(self.now)

    # -- the detail pane -------------------------------------------------------------------

    @on(DataTable.RowHighlighted, "#actions")
    def _highlighted(self) -> None:
        self._update_keys()
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DEBOUNCE, self._sync_detail)

    @on(DataTable.RowSelected, "#actions")
    def _selected(self) -> None:
        self.action_focus_detail()

    def _sync_detail(self) -> None:
        if self._detail_timer is not None:  # a refresh got here before the debounce
            self._detail_timer.stop()
            self._detail_timer = None
        view = self.table.highlighted_view
        detail = self.detail
        if view is None:
            empty = "Nothing here."
            if self.page is not None and self.view_query.statuses and not self.view_query.search:
                empty = "No pending actions. Press p to see all actions."
            elif self.view_query.search:
                empty = "No action matches the filter. Press escape to clear it."
            detail.show(None, None, self.now, empty=empty)
            return
        if detail.view == view:
            if detail.events is None and self._detail_events_for != view.id:
                self._fetch_events(view.id)  # the last read failed (or waited): try again
            return
        same_action = detail.view is not None and detail.view.id == view.id
        events = detail.events if same_action else None
        detail.show(view, events, self.now)
        self._fetch_events(view.id)

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
            self.notify(message.error or "", title="History", severity="warning", markup=False)
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

    # -- decisions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        try:
            table = self.table
        except NoMatches:  # not composed yet
            return True
        if action in _DECISIONS:
            if self.read_only_reason or self._open_error:
                return None
            if self.page is None:
                # Before the first rows arrive: as they will most likely be (a pending
                # row on top), so the footer is not rebuilt as the first screen paints.
                return True
            view = table.highlighted_view
            allowed = CANCELLABLE if action == "cancel_action" else DECIDABLE
            return True if view is not None and view.status in allowed else None
        if action in _MARKING:
            return None if self.read_only_reason else True
        if action in _BULK:
            if self.read_only_reason or self._open_error or self._bulk_running:
                return None
            if not table.marked_ids:
                return None
            return True
        if action == "show_all":
            return bool(self.view_query.statuses)  # False hides it: p then means "Pending"
        if action == "show_pending":
            return not self.view_query.statuses
        if action == "next_window":
            page = self.page
            more = page is not None and self.view_query.offset + len(page.rows) < page.total
            return True if more else None
        if action == "previous_window":
            return True if self.view_query.offset > 0 else None
        return True

    def _update_keys(self) -> None:
        """Re-draw the footer only when a key's state changed: the footer rebuilds all
        its keys on every refresh_bindings, which is not free on a Pi."""
        state = tuple(self.check_action(action, ()) for action in _DYNAMIC)
        if state != self._key_state:
            self._key_state = state
            self.refresh_bindings()

    def action_approve(self) -> None:
        self._start_decision("approve")

    def action_cancel_action(self) -> None:
        self._start_decision("cancel")

    def _start_decision(self, verb: str) -> None:
        view = self.table.highlighted_view  # captured now: a refresh may move rows later
        if view is None or view.id in self._deciding:
            return  # a second key press while the first is on its way decides nothing
        self._deciding.add(view.id)
        self._decide(verb, view.id, action_title(view))

    def action_reject(self) -> None:
        view = self.table.highlighted_view
        if view is None:
            return
        from homelab_approvals.tui.reject import RejectScreen  # first use only

        action_id, title = view.id, action_title(view)

        def reject(reason: str) -> ActionView:
            return self._opened_service().reject(action_id, self.actor, reason)

        def done(reason: str | None) -> None:
            self.feed.poke()
            if reason is not None:
                self.notify(title, title="Rejected", markup=False)

        modal = RejectScreen(title, reject, self._refused, command=view.command)
        self.app.push_screen(modal, done)

    @work(thread=True, group="decide", exit_on_error=False)
    def _decide(self, verb: str, action_id: int, title: str) -> None:
        error: ApprovalsError | None = None
        try:
            service = self._opened_service()
            decide = {"approve": service.approve, "cancel": service.cancel}[verb]
            decide(action_id, self.actor)
        except ApprovalsError as refused:
            error = refused
        self.post_message(DecisionFinished(verb, action_id, title, error))

    @on(DecisionFinished)
    def _decision_finished(self, message: DecisionFinished) -> None:
        self._deciding.discard(message.action_id)
        self.feed.poke()
        if message.error is not None:
            self._refused(message.error)
            return
        done = {"approve": "Approved", "cancel": "Cancelled"}[message.verb]
        self.notify(message.title, title=done, markup=False)

    def _refused(self, error: ApprovalsError) -> None:
        """A decision the service refused: a toast, and the app carries on."""
        if isinstance(error, InvalidTransition):
            title, severity = "Someone else decided first", "warning"
        elif isinstance(error, StorageError):
            title, severity = "Database", "error"
        elif isinstance(error, ValidationError):
            title, severity = "Not valid", "error"
        else:
            title, severity = "Not done", "error"
        self.notify(visible(error.message), title=title, severity=severity, markup=False)  # type: ignore[arg-type]

    # -- marks and bulk decisions ----------------------------------------------------------

    def action_toggle_mark(self) -> None:
        """space: mark or unmark the highlighted row, then move down (as in mc or ranger),
        so space, space, space marks three rows. Only pending actions can be marked."""
        table = self.table
        view = table.highlighted_view
        if view is None:
            return
        marked = table.is_marked(view.id)
        if not marked and view.status not in DECIDABLE:
            self.app.bell()
            return
        table.set_marked([view.id], not marked)
        table.action_cursor_down()
        self._marks_changed()

    def action_mark_all(self) -> None:
        """ctrl+a: mark every pending row the table holds for the current view (its
        filter, status toggle and window). Never rows beyond the window: an operator
        confirms only what the console can list."""
        table = self.table
        pending = [
            aid
            for aid in table.action_ids
            if (view := table.view_of(aid)) is not None and view.status in DECIDABLE
        ]
        table.set_marked(pending)
        self._marks_changed()
        page = self.page
        beyond = 0 if page is None else page.total - self.view_query.offset - len(page.rows)
        if beyond > 0:
            self.notify(
                f"Marked {plural(len(pending), 'pending action')} in this window; "
                f"{beyond:,} more match beyond it. Narrow the filter, or page with ].",
                title="Marked",
                markup=False,
            )

    def action_clear_marks_or_filter(self) -> None:
        """escape: while editing the filter, it is the filter's; else marks go first."""
        if not self.filter_input.has_focus and self.table.clear_marks():
            self._marks_changed()
            return
        self.action_clear_filter()

    def _marks_changed(self) -> None:
        """Show or hide the marks bar; runs after every refresh, so it touches the bar
        only when its text changes."""
        marked = len(self.table.marked_ids)
        text = f"{marked:,} marked · A approves them · R rejects them · escape unmarks"
        bar = self.query_one("#marks-bar", Static)
        if marked and text != self._marks_text:
            bar.update(text)
        self._marks_text = text if marked else ""
        bar.display = bool(marked)
        self._update_keys()

    def _marked_views(self) -> list[ActionView]:
        table = self.table
        return [view for aid in table.marked_ids if (view := table.view_of(aid)) is not None]

    def action_approve_marked(self) -> None:
        # The list is fixed now: what the modal shows is exactly what gets decided.
        views = self._marked_views()
        if not views or self._bulk_running:
            return
        ids = [view.id for view in views]

        def confirmed(go: bool | None) -> None:
            if go and not self._bulk_running:
                self._bulk_running = True
                self._update_keys()
                if len(ids) >= BULK_NOTICE_FROM:  # a Pi takes a while over many
                    self.notify(f"{plural(len(ids))}…", title="Approving", markup=False)
                self._decide_many(Decision.APPROVE, ids)

        title = f"Approve {plural(len(views), 'marked action')}?"
        self.app.push_screen(ConfirmApproval(title, views), confirmed)

    def action_reject_marked(self) -> None:
        views = self._marked_views()
        if not views or self._bulk_running:
            return
        from homelab_approvals.tui.reject import RejectScreen  # first use only

        ids = [view.id for view in views]
        outcome: list[BulkResult] = []

        def reject(reason: str) -> object:
            # Runs in the modal's worker: a reason the service refuses stays in the modal.
            result = self._opened_service().decide_many(ids, self.actor, Decision.REJECT, reason)
            outcome.append(result)
            return result

        def done(reason: str | None) -> None:
            if outcome:
                self._bulk_finished(BulkFinished(Decision.REJECT, ids, outcome[0]))
            else:
                self.feed.poke()

        title = plural(len(views), "marked action")
        modal = RejectScreen(title, reject, self._refused, lines=listing(views).splitlines())
        self.app.push_screen(modal, done)

    @work(thread=True, group="decide", exit_on_error=False)
    def _decide_many(self, decision: Decision, ids: list[int]) -> None:
        try:
            result = self._opened_service().decide_many(ids, self.actor, decision)
        except ApprovalsError as refused:  # the whole call: e.g. not an approver
            self.post_message(BulkFinished(decision, ids, None, refused))
        else:
            self.post_message(BulkFinished(decision, ids, result))

    @on(BulkFinished)
    def _bulk_finished(self, message: BulkFinished) -> None:
        self._bulk_running = False
        self.feed.poke()
        result = message.result
        if result is None:
            self._update_keys()
            if message.error is not None:
                self._refused(message.error)
            return
        # Decided (by us or by someone else): unmark. Not attempted: stay marked, so
        # pressing the key again retries exactly those.
        self.table.set_marked(result.settled_ids, marked=False)
        self._marks_changed()
        title, text, severity = summary(result)
        timeout = None if result.complete else BULK_PROBLEM_SECONDS
        self.notify(text, title=title, severity=severity, timeout=timeout, markup=False)  # type: ignore[arg-type]

    # -- the view: filter, toggle, sort, windows -------------------------------------------

    def _ask(self, query: ActionQuery, *, cursor_to_top: bool) -> None:
        self.feed.request(query, cursor_to_top=cursor_to_top)
        self._update_keys()

    def action_filter(self) -> None:
        bar = self.query_one("#filter-bar")
        bar.display = True
        field = self.filter_input
        field.value = self.view_query.search or ""
        field.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            query = self.view_query.with_(search=event.value, offset=0)
        except ValidationError as error:
            self.notify(visible(error.message), title="Filter", severity="error", markup=False)
            return
        self.query_one("#filter-bar").display = bool(query.search)
        self.table.focus()
        self._ask(query, cursor_to_top=True)

    def action_clear_filter(self) -> None:
        editing = self.filter_input.has_focus
        if editing:
            self.table.focus()
        if not self.view_query.search:
            self.query_one("#filter-bar").display = False
            return
        if editing and self.filter_input.value != self.view_query.search:
            self.filter_input.value = self.view_query.search  # escape undoes the edit first
            return
        self.filter_input.value = ""
        self.query_one("#filter-bar").display = False
        self._ask(self.view_query.with_(search=None, offset=0), cursor_to_top=False)

    def action_show_all(self) -> None:
        query = self.view_query.with_(statuses=(), sort=SortOrder.NEWEST, offset=0)
        self._ask(query, cursor_to_top=True)

    def action_show_pending(self) -> None:
        query = self.view_query.with_(
            statuses=PENDING_QUERY.statuses, sort=PENDING_QUERY.sort, offset=0
        )
        self._ask(query, cursor_to_top=True)

    def action_cycle_sort(self) -> None:
        self._ask(
            self.view_query.with_(sort=self.view_query.sort.next(), offset=0), cursor_to_top=True
        )

    def action_next_window(self) -> None:
        query = self.view_query
        self._ask(query.with_(offset=query.offset + query.limit), cursor_to_top=True)

    def action_previous_window(self) -> None:
        query = self.view_query
        self._ask(query.with_(offset=max(0, query.offset - query.limit)), cursor_to_top=True)

    # -- help and quit ---------------------------------------------------------------------

    def key_help(self) -> list[tuple[str, list[KeyHelp]]]:
        from homelab_approvals.tui.help import describe

        app = self.app
        palette = [
            Binding(
                app.COMMAND_PALETTE_BINDING,
                "command_palette",
                "Command palette",
                tooltip="Search the commands above by name",
            )
        ]
        return [
            ("Actions and view", describe(app, self.BINDINGS)),
            ("Moving around", describe(app, [*DataTable.BINDINGS, *ActionTable.BINDINGS], _MOVES)),
            ("Details pane", describe(app, ActionDetail.BINDINGS)),
            ("Anywhere", describe(app, [*palette, *app.BINDINGS])),
        ]

    def action_help(self) -> None:
        from homelab_approvals.tui.help import HelpScreen

        self.app.push_screen(HelpScreen(self.key_help()))

    def action_quit(self) -> None:
        self.app.exit(0)
