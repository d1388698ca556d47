"""The main screen: top bar, the live table of actions, the detail pane, the keys.

ConsoleScreen mixes in its larger parts, each a module of its own: the decision keys
(decisions.py: a, r, c, marks, A and R), the detail pane following the cursor
(detail_sync.py) and how the screen gets its service (opening.py: given, or opened
after the first paint). The layout, the live refresh, which keys are available, and
the view (filter, toggle, sort, windows) are here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from time import perf_counter
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from homelab_approvals.domain.enums import AUDIT_RESTORED, DECIDABLE, ActionStatus, SortOrder
from homelab_approvals.domain.errors import ApprovalsError, ValidationError
from homelab_approvals.domain.probes import probe_for
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.validation import SEARCH_MAX
from homelab_approvals.domain.views import ActionPage, ActionView
from homelab_approvals.service.listing import DEFAULT_WINDOW, ActionQuery
from homelab_approvals.tui.collector import resume_collector
from homelab_approvals.tui.decisions import DECISION_KEYS, DecisionsMixin
from homelab_approvals.tui.detail import ActionDetail
from homelab_approvals.tui.detail_sync import DetailSyncMixin
from homelab_approvals.tui.executor_watch import ExecutorWatchMixin
from homelab_approvals.tui.formatting import action_title
from homelab_approvals.tui.inputs import OneLineInput
from homelab_approvals.tui.keymap import KeysInForce
from homelab_approvals.tui.keys import CONSOLE_BINDINGS
from homelab_approvals.tui.live import (
    UNREACHABLE_BANNER,
    ActionsFetched,
    LiveFeed,
    RefreshFailed,
    RefreshRecovered,
)
from homelab_approvals.tui.opening import OpeningMixin, ServiceFailed
from homelab_approvals.tui.rules import RulesMixin
from homelab_approvals.tui.table import ActionTable
from homelab_approvals.tui.toast import toast
from homelab_approvals.tui.topbar import TopBar
from homelab_approvals.tui.view_state import PENDING_QUERY

if TYPE_CHECKING:
    from textual.command import Provider

    from homelab_approvals.service import ApprovalService
    from homelab_approvals.tui.help import KeyHelp
    from homelab_approvals.tui.startup import DeferredStart

#: "3m ago" is re-rendered this often; only cells whose text changed are touched.
AGE_TICK_SECONDS = 15.0
_SORT_NAMES = {
    SortOrder.OLDEST: "oldest first",
    SortOrder.NEWEST: "newest first",
    SortOrder.SERVER: "by server",
    SortOrder.ACTION: "by action",
}
#: The actions whose availability changes with the row or the view.
_DYNAMIC = (
    *DECISION_KEYS,
    "show_all",
    "show_pending",
    "next_window",
    "previous_window",
    "fresh_preview",
)
#: The table's own keys that make sense with a row cursor (enter is "Details" here).
_MOVES = frozenset(
    {
        "cursor_up",
        "cursor_down",
        "page_up",
        "page_down",
        "half_page_up",
        "half_page_down",
        "scroll_top",
        "scroll_bottom",
    }
)


#: Binding id -> its place in the footer.
_DECLARED_ORDER: dict[str | None, int] = {
    binding.id: place
    for place, binding in enumerate(Binding.make_bindings(CONSOLE_BINDINGS))
    if binding.id
}


def breakpoint_class(dimension: int, breakpoints: Sequence[tuple[int, str]]) -> str | None:
    """The class Textual sets for a terminal `dimension` cells wide (or high): that of
    the largest breakpoint it reaches (Textual's documented breakpoint rule)."""
    reached = [(at, name) for at, name in breakpoints if dimension >= at]
    return max(reached)[1] if reached else None


def _console_commands() -> type[Provider]:
    from homelab_approvals.tui.commands import ConsoleCommands  # only when ctrl+p is pressed

    return ConsoleCommands


class FilterInput(OneLineInput):
    """The filter field; its footer names what enter and escape do while it is edited."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Apply", key_display="enter", tooltip="Apply the filter"),
        Binding(
            "escape",
            "screen.clear_filter",
            "Clear",
            tooltip="Undo the edit; with none, drop the filter",
        ),
    ]


class ConsoleScreen(DecisionsMixin, DetailSyncMixin, RulesMixin, ExecutorWatchMixin, OpeningMixin):
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
        view: ActionQuery | None = None,
        keys: KeysInForce | None = None,
    ) -> None:
        """`service` is None for a `deferred` start: the screen then draws the first
        window it was given and opens the service after that (see tui/startup.py).
        `view`: the view to start with (remembered from last time), else the queue.
        `keys`: the keys in force ([keys] in the config), for every hint naming one."""
        super().__init__()
        self.keys = keys or KeysInForce()
        self.database_label = self._use_service(service, deferred)
        self.actor = actor
        self.read_only_reason = read_only_reason
        self.clock = clock
        first_view = (view or PENDING_QUERY).with_(limit=window, offset=0)
        self.feed = LiveFeed(service, first_view, clock, poll_interval)
        #: A remembered filter, named as such in the table's title until it is changed:
        #: rows it hides must not look like rows that are gone.
        self.restored_search = first_view.search
        self.page: ActionPage | None = None
        self.now = clock()
        self._shown_generation = -1
        self._shown_partial = False
        self._key_state: tuple[bool | None, ...] = ()
        self._table_title = ""
        #: For benchmarks and tests: refreshes applied, and how long the last one took.
        self.refreshes = 0
        self.last_apply_seconds = 0.0
        self._preset_breakpoints()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, in the order the bindings are declared: Textual's keymap moves a
        remapped binding to the end, and the footer would then list approve last."""
        found = super().active_bindings
        if not self.keys.keymap:
            return found
        last = len(_DECLARED_ORDER)
        return dict(
            sorted(found.items(), key=lambda item: _DECLARED_ORDER.get(item[1].binding.id, last))
        )

    def _preset_breakpoints(self) -> None:
        """Set the breakpoint classes for the terminal's size now, as Textual will on the
        first resize: then that resize changes no class, and the first screen is not
        restyled (and every visible cell rendered again) right after it is drawn."""
        size = self.app.size
        for dimension, breakpoints in (
            (size.width, self.HORIZONTAL_BREAKPOINTS),
            (size.height, self.VERTICAL_BREAKPOINTS),
        ):
            name = breakpoint_class(dimension, breakpoints or [])
            if name is not None:
                self.add_class(name, update=False)

    # -- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TopBar(self.actor, self.database_label, id="topbar")
        if self.read_only_reason:
            yield self._read_only_banner()
        yield Static("", id="audit-banner")
        yield Static("", id="file-banner")
        yield Static("", id="refresh-error")
        with Horizontal(id="body"):
            with Vertical(id="list"):
                yield ActionTable(id="actions")
                with Horizontal(id="filter-bar"):
                    yield Label("Filter", id="filter-label")
                    yield FilterInput(
                        placeholder="server, service, command or #id · enter applies",
                        max_length=SEARCH_MAX,
                        id="filter",
                    )
                yield Static("", id="marks-bar")
            yield ActionDetail(id="detail")
        yield Footer(compact=True)

    def _read_only_banner(self) -> Static:
        text = f"READ-ONLY · {self.read_only_reason} · approve, reject and cancel are off"
        return Static(text, id="banner")

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
        if not self.executors_known:
            return False
        return self._detail_settled

    @property
    def view_changing(self) -> bool:
        """Other rows have been asked for (filter, sort, page, p) and are not shown yet."""
        return self.page is not None and self._shown_generation != self.feed.current.generation

    @property
    def view_query(self) -> ActionQuery:
        """The view being shown (or asked for)."""
        return self.feed.current.query

    def on_mount(self) -> None:
        self.query_one("#filter-bar").display = bool(self.view_query.search)
        self.filter_input.value = self.view_query.search or ""
        self.query_one("#marks-bar").display = False
        self.query_one("#refresh-error").display = False
        self.query_one("#audit-banner").display = False
        self.query_one("#file-banner").display = False
        self.table.border_title = "Loading…"
        self._start_rules()  # before the first rows: they show the rules too
        if self.deferred is None:
            if self.service is not None:
                self._show_audit_repairs(self.service.db.audit_repairs)
            self._watch_database()
            self._watch_executors()
            self.call_after_refresh(resume_collector)  # paused by an entry point, if at all
        else:
            self._show_first_window(self.deferred.first.page)
            # The database is opened (and SQLAlchemy imported) only after the first
            # window has been painted, so as not to delay it.
            self.call_after_refresh(self._open_service)
        self.set_interval(AGE_TICK_SECONDS, self._tick_ages)

    def on_resize(self) -> None:
        # At 80 columns the decision keys need the whole footer; ctrl+p is in the help.
        self.query_one(Footer).show_command_palette = self.size.width >= 100

    def on_unmount(self) -> None:
        self.feed.stop()
        self._stop_watching_executors()

    # -- live refresh ----------------------------------------------------------------------

    @work(thread=True, group="live", exit_on_error=False, name="live refresh")
    def _watch_database(self) -> None:
        worker = get_current_worker()
        self.feed.run(self.post_message, lambda: worker.is_cancelled)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """The one place for a worker of this screen that raised (each turns the errors
        it expects into a message of its own; this is for anything else): it becomes a
        message, never a crash."""
        if event.state is not WorkerState.ERROR:
            return
        error = event.worker.error
        unexpected = f"unexpected {type(error).__name__}: {error}"
        if event.worker.group == "live":
            self._show_refresh_error(f"live refresh stopped: {error}")
        elif event.worker.group == "open":
            self._service_failed(ServiceFailed(unexpected))
        else:  # a decision, or an action's history
            toast(self, unexpected, title="Not done", severity="error")
            self._update_keys()

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
        # A live change may take the highlighted row away (someone else decided it).
        before = self.table.highlighted_view if same_view else None
        page = message.page
        # A pending action that arrived live (for the bell): only looked for when asked.
        arrived = same_view and self._bell_wanted and self._new_pending(page.rows)
        self.page = page
        self.now = message.at
        self.table.show(
            page.rows,
            message.at,
            mark_new=same_view,
            cursor_to_top=request.cursor_to_top and first_of_view,
            warnings=message.warnings,
            votes=page.votes,
        )
        self._shown_generation = request.generation
        self._shown_partial = message.partial
        self._show_counts()
        self._show_queue(page, same_view=same_view, arrived=arrived)
        self._marks_changed()
        self._after_live_change(before)
        self._sync_detail()
        self._update_keys()
        self.last_apply_seconds = perf_counter() - started
        self.refreshes += 1
        if message.partial:
            self.call_after_refresh(self.feed.painted)

    @on(RefreshFailed)
    def _refresh_failed_message(self, message: RefreshFailed) -> None:
        if message.replaced:
            self._file_replaced(message.message)
            return
        if message.unreachable:
            # The words are fixed, so they read the same on every host and retry; which
            # error it was (refused, reset, shut down) is in the first attempt's toast.
            self._show_refresh_error(UNREACHABLE_BANNER)
        else:
            self._show_refresh_error(f"cannot refresh (retrying): {message.message}")
        if message.attempts == 1:
            toast(self, message.message, title="Database", severity="error")

    @on(RefreshRecovered)
    def _refresh_recovered(self) -> None:
        self.query_one("#refresh-error").display = False

    def _show_audit_repairs(self, repairs: list[str]) -> None:
        """The audit triggers were found changed or removed when the database was opened,
        and restored (issue 16): the operator must know someone tampered with them."""
        if repairs:
            banner = self.query_one("#audit-banner", Static)
            banner.update(visible(f"{AUDIT_RESTORED} ({'; '.join(repairs)})"))
            banner.display = True

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
        if query.search and query.search == self.restored_search:
            clear = self.keys.named("clear-filter")
            parts.append(f'restored filter "{visible(query.search)}" · {clear} clears')
        elif query.search:
            parts.append(f'filter "{visible(query.search)}"')
        title = " · ".join(parts)
        if title != self._table_title:  # setting it repaints the whole table
            self._table_title = title
            self.table.border_title = Text(title)  # Text: never read as markup

    @property
    def _bell_wanted(self) -> bool:
        return bool(getattr(self.app, "bell_on_pending", False))

    def _new_pending(self, rows: tuple[ActionView, ...]) -> bool:
        table = self.table
        return any(v.status in DECIDABLE and table.view_of(v.id) is None for v in rows)

    def _tick_ages(self) -> None:
        self.now = self.clock()
        self.table.refresh_ages(self.now)

    # -- which keys are available ----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        try:
            table = self.table
        except NoMatches:  # not composed yet
            return True
        if action in DECISION_KEYS:
            return self._decision_key_state(action, table)
        if action == "filter":
            # While the field is being edited, "/" is typed into it: no footer entry.
            return not self.filter_input.has_focus
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
        if action == "fresh_preview":
            view = table.highlighted_view
            wanted = view is not None and view.status == ActionStatus.PENDING
            has_probe = view is not None and probe_for(view.action_type, view.service_name)
            return True if wanted and has_probe and not self.read_only_reason else None
        return True

    def _update_keys(self) -> None:
        """Re-draw the footer only when a key's state changed: the footer rebuilds all
        its keys on every refresh_bindings, which is not free on a Pi."""
        state = tuple(self.check_action(action, ()) for action in _DYNAMIC)
        if state != self._key_state:
            self._key_state = state
            self.refresh_bindings()

    # -- the view: filter, toggle, sort, windows -------------------------------------------

    def _ask(self, query: ActionQuery, *, cursor_to_top: bool) -> None:
        if query.search != self.view_query.search:
            self.restored_search = None  # the operator's own filter from now on
        self.feed.request(query, cursor_to_top=cursor_to_top)
        self._update_keys()

    def action_filter(self) -> None:
        bar = self.query_one("#filter-bar")
        bar.display = True
        field = self.filter_input
        field.value = self.view_query.search or ""
        # At once, not `focus()` (which waits for the message queue): the keys typed
        # after "/" are routed to whatever has focus when the app reads them.
        self.set_focus(field)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            query = self.view_query.with_(search=event.value, offset=0)
        except ValidationError as error:
            toast(self, visible(error.message), title="Filter", severity="error")
            return
        self.query_one("#filter-bar").display = bool(query.search)
        self.table.focus()
        self._ask(query, cursor_to_top=True)

    def action_clear_marks_or_filter(self) -> None:
        """escape: while editing the filter, it is the filter's; else marks go first."""
        if not self.filter_input.has_focus and self.table.clear_marks():
            self._marks_changed()
            return
        self.action_clear_filter()

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

    # -- previews --------------------------------------------------------------------------

    def action_fresh_preview(self) -> None:
        view = self.table.highlighted_view
        if view is None or self.check_action("fresh_preview", ()) is not True:
            return
        self._ask_for_preview(view.id, action_title(view))

    @work(thread=True, group="preview-request", exit_on_error=False)
    def _ask_for_preview(self, action_id: int, title: str) -> None:
        try:
            self._opened_service().request_preview(action_id, self.actor)
        except ApprovalsError as error:
            self.app.call_from_thread(toast, self, error.message, title="Preview", severity="error")
            return
        self.app.call_from_thread(
            toast, self, f"{title}: asked the executor for a fresh preview", title="Preview"
        )

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
        in_force = self.keys.in_force
        moves = in_force(ActionTable.BINDINGS)
        return [
            ("Actions and view", describe(app, in_force(self.BINDINGS))),
            ("Moving around", describe(app, moves, _MOVES)),
            ("Details pane", describe(app, ActionDetail.BINDINGS)),
            ("Anywhere", describe(app, [*palette, *app.BINDINGS])),
        ]

    def action_help(self) -> None:
        from homelab_approvals.tui.help import HelpScreen

        self.app.push_screen(HelpScreen(self.key_help()))

    def action_quit(self) -> None:
        self.app.exit(0)
