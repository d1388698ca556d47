"""The console's decisions: a, r and c on the highlighted action; marks (space, ctrl+a)
and A or R on every marked action.

Each decision runs in a thread worker and comes back as a message that becomes a toast;
the rules (who may decide, which transitions exist) are the service's. A decision made
while a deferred start is still opening the database waits for it (tui/opening.py)."""

from __future__ import annotations

from collections.abc import Sequence
from time import monotonic
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from homelab_approvals.domain.enums import CANCELLABLE, DECIDABLE
from homelab_approvals.domain.errors import (
    ApprovalsError,
    InvalidTransition,
    PlanChanged,
    StorageError,
    ValidationError,
)
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionView
from homelab_approvals.domain.votes import waiting_line
from homelab_approvals.service.bulk import BulkResult, Decision
from homelab_approvals.service.preview_settings import PlanCheck
from homelab_approvals.tui.bulk import ConfirmApproval, listing, plural, summary
from homelab_approvals.tui.console_part import ConsolePart
from homelab_approvals.tui.formatting import action_title
from homelab_approvals.tui.toast import toast

if TYPE_CHECKING:
    from homelab_approvals.tui.table import ActionTable

#: The highlighted row's decision keys, the marking keys, and the keys for marked rows:
#: which of them are available depends on the row, the marks and the database.
SINGLE_KEYS = ("approve", "reject", "cancel_action")
MARKING_KEYS = ("toggle_mark", "mark_all")
BULK_KEYS = ("approve_marked", "reject_marked")
DECISION_KEYS = (*SINGLE_KEYS, *MARKING_KEYS, *BULK_KEYS)
#: A bulk result with problems stays up longer than the usual toast: it is a list.
BULK_PROBLEM_SECONDS = 15.0
#: Approving at least this many at once says so when it starts.
BULK_NOTICE_FROM = 50
#: A decision not back after this long says it is waiting (another process holds the
#: database's write lock, up to its busy timeout): a key that seems to do nothing for
#: seconds gets pressed again, or the console looks frozen.
SLOW_DECISION_SECONDS = 0.75
#: When someone else's decision takes the highlighted row away, the cursor lands on the
#: next one; for this long a, r and c are greyed out, so a key pressed for the row that
#: left does not decide one nobody has looked at.
MOVED_ROW_HOLD_SECONDS = 1.5
HOLD_NOTE = "row changed: a r c in a moment"
_DOING = {"approve": "Approving", "cancel": "Cancelling"}


class DecisionFinished(Message):
    """A decision came back from the service: `error` is None on success. Posted, not
    called, from the worker, so a worker never waits on a UI that is shutting down."""

    def __init__(
        self,
        verb: str,
        action_id: int,
        title: str,
        error: ApprovalsError | None,
        *,
        waiting: str | None = None,
    ) -> None:
        super().__init__()
        self.verb = verb
        self.action_id = action_id
        self.title = title
        self.error = error
        #: An approval recorded as a vote: "1 of 2 approvals; waiting for another approver".
        self.waiting = waiting


class BulkFinished(Message):
    """`decide_many` returned `result`, or refused the whole call with `error`."""

    def __init__(
        self,
        decision: Decision,
        action_ids: Sequence[int],
        result: BulkResult | None,
        error: ApprovalsError | None = None,
    ) -> None:
        super().__init__()
        self.decision = decision
        self.action_ids = tuple(action_ids)
        self.result = result
        self.error = error


class DecisionsMixin(ConsolePart):
    """The decision keys of ConsoleScreen (console.py), which mixes this in."""

    def __init__(self) -> None:
        super().__init__()
        self._deciding: set[int] = set()  # action ids with a decision on its way
        self._decided_here: set[int] = set()  # ids this console decided (or tried to)
        self._hold_until = 0.0  # monotonic(): a, r and c wait until then (see below)
        self._hold_timer: Timer | None = None
        self._bulk_running = False  # A or R on marked rows is on its way
        self._marks_text = ""

    def _decision_key_state(self, action: str, table: ActionTable) -> bool | None:
        """check_action for DECISION_KEYS: None greys a key out in the footer."""
        if action in SINGLE_KEYS:
            if self.read_only_reason or self._open_error:
                return None
            if monotonic() < self._hold_until:
                return None  # the row under the cursor was just replaced by another
            if self.view_changing:
                # A filter, sort, page or p has asked for other rows: the highlighted row
                # is about to be replaced, and "/nginx, enter, a" means the new top row.
                return None
            if self.page is None:
                # Before the first rows arrive: as they will most likely be (a pending
                # row on top), so the footer is not rebuilt as the first screen paints.
                return True
            view = table.highlighted_view
            allowed = CANCELLABLE if action == "cancel_action" else DECIDABLE
            if view is None or view.status not in allowed:
                return None
            # The rules may keep this person from this row (the detail pane says why).
            return None if self._rule_refusal(action, view) is not None else True
        if action in MARKING_KEYS:
            return None if self.read_only_reason else True
        if self.read_only_reason or self._open_error or self._bulk_running:
            return None
        if not table.marked_ids:
            return None
        return True

    # -- the highlighted action ------------------------------------------------------------

    def _after_live_change(self, before: ActionView | None) -> None:
        """After a live refresh: if someone else's decision took away the highlighted
        row, say so, and hold the decision keys briefly (MOVED_ROW_HOLD_SECONDS)."""
        after = self.table.highlighted_view
        if before is None or after is None or after.id == before.id:
            return  # the table keeps the cursor on its row while the row is there
        if before.id in self._decided_here:
            return  # this console decided it: moving on to the next row is the point
        self._hold_until = monotonic() + MOVED_ROW_HOLD_SECONDS
        if self._hold_timer is not None:
            self._hold_timer.stop()  # another row left meanwhile: the hold starts again
        self._hold_timer = self.set_timer(MOVED_ROW_HOLD_SECONDS, self._end_hold)
        # Greyed keys alone do not say why, nor when they come back.
        self.detail.set_note(self._hold_note())
        toast(
            self,
            f"{action_title(before)} was decided elsewhere. Now on #{after.id}.",
            title="The highlighted action left",
            severity="warning",
        )

    def _end_hold(self) -> None:
        self._hold_timer = None
        self._hold_until = 0.0  # ends with the note, whatever the timer's precision
        self.detail.set_note("")
        self._update_keys()

    def action_approve(self) -> None:
        self._start_decision("approve")

    def action_cancel_action(self) -> None:
        self._start_decision("cancel")

    def _start_decision(self, verb: str) -> None:
        view = self.table.highlighted_view  # captured now: a refresh may move rows later
        if view is None or view.id in self._deciding:
            return  # a second key press while the first is on its way decides nothing
        self._deciding.add(view.id)
        self._decided_here.add(view.id)
        title = action_title(view)
        # The plan the pane shows now is the one approved (None: no plan was shown).
        self._decide(verb, view.id, title, self.detail.shown_digest(view.id))
        self.set_timer(SLOW_DECISION_SECONDS, lambda: self._still_deciding(verb, view.id, title))

    def _still_deciding(self, verb: str, action_id: int, title: str) -> None:
        if action_id not in self._deciding:
            return
        # Before the deferred open is done, that is the wait (seconds on a slow Pi);
        # after it, only another writer's lock holds a decision up this long.
        why = "to open" if self.service is None else "(another program is writing to it)"
        toast(self, f"{title}: waiting for the database {why}…", title=_DOING[verb])

    def action_reject(self) -> None:
        view = self.table.highlighted_view
        if view is None:
            return
        from homelab_approvals.tui.reject import RejectScreen  # first use only

        action_id, title = view.id, action_title(view)

        def reject(reason: str) -> ActionView:
            self._decided_here.add(action_id)  # a set: safe to add to from the worker
            return self._opened_service().reject(action_id, self.actor, reason)

        def done(reason: str | None) -> None:
            self.feed.poke()
            if reason is not None:
                toast(self, title, title="Rejected")

        modal = RejectScreen(title, reject, self._refused, command=view.command)
        self.app.push_screen(modal, done)

    @work(thread=True, group="decide", exit_on_error=False)
    def _decide(self, verb: str, action_id: int, title: str, shown: str | None = None) -> None:
        error: ApprovalsError | None = None
        waiting: str | None = None
        try:
            service = self._opened_service()
            if verb == "approve":
                view = service.approve(action_id, self.actor, plan=PlanCheck.expect(shown))
            else:
                view = service.cancel(action_id, self.actor)
            if verb == "approve" and view.status in DECIDABLE:  # a vote, short of its quorum
                tally = service.approval_tally(action_id)
                waiting = waiting_line(tally.count, tally.required)
        except ApprovalsError as refused:
            error = refused
        self.post_message(DecisionFinished(verb, action_id, title, error, waiting=waiting))

    @on(DecisionFinished)
    def _decision_finished(self, message: DecisionFinished) -> None:
        self._deciding.discard(message.action_id)
        self.feed.poke()
        if message.error is not None:
            self._refused(message.error)
            return
        if message.waiting is not None:
            text = f"{message.title}: {message.waiting}"
            toast(self, text, title="Approval recorded")
            return
        done = {"approve": "Approved", "cancel": "Cancelled"}[message.verb]
        toast(self, message.title, title=done)

    def _refused(self, error: ApprovalsError) -> None:
        """A decision the service refused: a toast, and the app carries on."""
        if isinstance(error, PlanChanged):
            title, severity = "The plan changed", "warning"
        elif isinstance(error, InvalidTransition):
            title, severity = "Someone else decided first", "warning"
        elif isinstance(error, StorageError):
            title, severity = "Database", "error"
        elif isinstance(error, ValidationError):
            title, severity = "Not valid", "error"
        else:
            title, severity = "Not done", "error"
        toast(self, visible(error.message), title=title, severity=severity)

    # -- marks and the marked actions ------------------------------------------------------

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
            toast(
                self,
                f"Marked {plural(len(pending), 'pending action')} in this window; "
                f"{beyond:,} more match beyond it. Narrow the filter, or page with ].",
                title="Marked",
            )

    def _hold_note(self) -> str:
        """HOLD_NOTE, naming the decision keys in force."""
        keys = " ".join(self.keys.named(name) for name in ("approve", "reject", "cancel"))
        return HOLD_NOTE.replace("a r c", keys)

    def _marks_changed(self) -> None:
        """Show or hide the marks bar; runs after every refresh, so it touches the bar
        only when its text changes."""
        marked = len(self.table.marked_ids)
        named = self.keys.named
        text = (
            f"{marked:,} marked · {named('approve-marked')} approves them · "
            f"{named('reject-marked')} rejects them · {named('clear-filter')} unmarks"
        )
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
                self._decided_here.update(ids)
                self._update_keys()
                if len(ids) >= BULK_NOTICE_FROM:  # a Pi takes a while over many
                    toast(self, f"{plural(len(ids))}…", title="Approving")
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
            self._decided_here.update(ids)
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
        toast(self, text, title=title, severity=severity, timeout=timeout)
