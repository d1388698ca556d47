"""The detail pane: everything known about the highlighted action, and its history."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ClassVar, NamedTuple

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from homelab_approvals.domain.damaged import DamagedTime, shown_moment
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.previews import (
    NO_PREVIEW_YET,
    PreviewView,
    preview_headline,
    short_digest,
)
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionView, EventView
from homelab_approvals.tui.formatting import (
    WARNING_STYLE,
    action_title,
    age,
    duration,
    expires_in,
    lines_text,
    safe,
    server_label,
    status_label,
    status_text,
    when,
)

_LABEL_STYLE = "bold"
_LABEL_WIDTH = 9
_AUTO_APPROVER = "auto"  # the service's actor for a server not in maintenance


class DetailExtras(NamedTuple):
    """What the rules add to an action's details (None when there are no rules)."""

    approvals_required: int
    voters: tuple[str, ...]  # who has approved a still-pending action, oldest first
    expires_at: datetime | None
    notes: tuple[str, ...]  # why keys are off for this row


#: How many lines of a plan the pane shows; enter (the pane full screen) shows them all.
PREVIEW_LINES = 5
#: The end of a running action's output the pane keeps, as `tail -f` shows it.
OUTPUT_TAIL_LINES = 12


class ActionDetail(VerticalScroll):
    """Scrollable, focusable (enter from the table); escape goes back to the table."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="detail.back", tooltip="Back to the list of actions")
    ]
    ALLOW_MAXIMIZE = True  # enter at 80 columns shows it full screen

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: ActionView | None = None
        self.events: tuple[EventView, ...] | None = None  # None: not loaded yet
        self.note = ""  # said after the action's title, e.g. why its keys wait
        self.extras: DetailExtras | None = None
        #: The newest preview of `preview_for` (the action shown), once read.
        self.preview: PreviewView | None = None
        self.preview_for: int | None = None
        self._now: datetime | None = None
        #: Live output of `output_for` while it runs: (stream, line) pairs, the last line
        #: possibly unfinished, and the id of the last chunk read.
        self.output_for: int | None = None
        self.output_lines: list[tuple[str, str]] = []
        self.output_last = 0
        #: Our approved actions wait and no executor is alive (tui/executor_watch.py).
        self.no_executor = False
        self.border_title = "Details"

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-body", markup=False)

    def action_back(self) -> None:
        self.screen.minimize()
        self.screen.query_one("#actions").focus()

    def show(
        self,
        view: ActionView | None,
        events: Sequence[EventView] | None,
        now: datetime,
        *,
        empty: str = "",
        extras: DetailExtras | None = None,
    ) -> None:
        moved = view is None or self.view is None or view.id != self.view.id
        self.view = view
        self.extras = extras
        self.events = None if events is None else tuple(events)
        self._now = now
        body = self.query_one("#detail-body", Static)
        if view is None:
            self.border_title = "Details"
            body.update(Text(empty, style="italic"))
            return
        self._show_title()
        self._render_body()
        if moved:
            self.scroll_home(animate=False)

    def show_preview(self, action_id: int, preview: PreviewView | None) -> None:
        """The newest preview of `action_id`, read in a worker; shown if it is the action
        on display."""
        if self.view is None or self.view.id != action_id:
            return
        if self.preview_for == action_id and self.preview == preview:
            return
        self.preview_for, self.preview = action_id, preview
        self._render_body()

    def add_output(self, action_id: int, chunks: list[tuple[str, str]], last: int) -> None:
        """Append live output of `action_id` (read in a worker), keeping its tail. Like
        `tail -f`, the pane stays at its end, unless the operator scrolled up."""
        first = self.output_for != action_id or not self.output_lines
        following = first or self.scroll_y >= self.max_scroll_y - 1
        if self.output_for != action_id:
            self.output_for, self.output_lines, self.output_last = action_id, [], 0
        if last <= self.output_last:
            return
        self.output_last = last
        lines = self.output_lines
        for stream, text in chunks:
            pieces = text.split("\n")
            if lines and lines[-1][0] == stream and not lines[-1][1].endswith("\n"):
                lines[-1] = (stream, lines[-1][1] + pieces[0] + ("\n" if len(pieces) > 1 else ""))
                pieces = pieces[1:]
            for index, piece in enumerate(pieces):
                last_piece = index == len(pieces) - 1
                if last_piece and not piece:
                    break
                lines.append((stream, piece if last_piece else piece + "\n"))
        del lines[: max(0, len(lines) - OUTPUT_TAIL_LINES)]
        if self.view is not None and self.view.id == action_id:
            self._render_body()
            if following:
                self.call_after_refresh(self.scroll_end, animate=False)

    def shown_digest(self, action_id: int) -> str | None:
        """The digest of the plan on display for `action_id` (None: no plan shown)."""
        if self.preview_for != action_id or self.preview is None:
            return None
        return self.preview.digest

    # Run before Widget's own handlers set has_focus, hence the explicit `full`.
    def on_focus(self) -> None:
        self._render_body(full=True)  # enter: every line of the plan

    def on_blur(self) -> None:
        self._render_body(full=False)

    def _render_body(self, *, full: bool | None = None) -> None:
        view, now = self.view, self._now
        if view is None or now is None:
            return
        loaded = self.preview_for == view.id
        preview = self.preview if loaded else None
        full = self.has_focus if full is None else full
        section = render_preview(view, preview, loaded, now, full=full)
        tail = None
        if view.status == ActionStatus.EXECUTING:  # its output last: the pane's end
            lines = self.output_lines if self.output_for == view.id else []
            tail = render_live_output(lines)
        body = self.query_one("#detail-body", Static)
        body.update(
            render_detail(
                view,
                self.events,
                now,
                section,
                tail,
                extras=self.extras,
                no_executor=self.no_executor,
            )
        )

    def set_note(self, note: str) -> None:
        self.note = note
        if self.view is not None:
            self._show_title()

    def _show_title(self) -> None:
        assert self.view is not None
        title = action_title(self.view)
        # Text: a str would be read as markup.
        self.border_title = Text(f"{title} · {self.note}" if self.note else title)


#: Said in the detail of an approved action of ours when no executor is alive.
START_EXECUTOR = (
    "Waiting for an executor, and none is running. Start one with "
    "'homelab-approvals executor' (the README has a systemd unit), or run what is "
    "approved now with 'homelab-approvals executor --once'."
)


def render_detail(
    view: ActionView,
    events: tuple[EventView, ...] | None,
    now: datetime,
    preview: RenderableType | None = None,
    tail: RenderableType | None = None,
    *,
    extras: DetailExtras | None = None,
    no_executor: bool = False,
) -> RenderableType:
    fields = Table.grid(padding=(0, 1), expand=True)
    fields.add_column(style=_LABEL_STYLE, width=_LABEL_WIDTH, no_wrap=True)
    fields.add_column(ratio=1, overflow="fold")

    def add(label: str, *values: Text | str) -> None:
        line = Text(end="")
        for value in values:
            line.append_text(value if isinstance(value, Text) else Text(value))
        fields.add_row(label, line)

    add("Status", status_text(view))
    for note in extras.notes if extras is not None else ():
        add("Keys", safe(note, "italic"))  # first: why a or r does nothing on this row
    add("Command", safe(view.command, "bold"))
    where = safe(server_label(view))
    if view.server_label and view.server_label != view.server_id:
        where.append(" (")
        where.append_text(safe(view.server_id))
        where.append(")")
    if view.server_paused is None:
        where.append(" · server not found", style="italic")
    elif view.server_paused:
        where.append(" · in maintenance (paused)")
    else:
        where.append(" · active, not in maintenance")
    add("Server", where)
    add(
        "Created",
        safe(view.created_by, "bold"),
        f" · {when(view.created_at)} · {age(view.created_at, now)}",
    )
    if view.approved_by or view.approved_at:
        add("Approved", safe(view.approved_by, "bold"), f" · {when(view.approved_at)}")
    if extras is not None:
        _add_rules(add, view, events, now, extras)
    if view.rejected_by or view.rejected_at:
        add("Rejected", safe(view.rejected_by, "bold"), f" · {when(view.rejected_at)}")
    if view.rejection_reason:
        add("Reason", safe(view.rejection_reason))
    if view.executed_at:
        started = when(view.executed_at)
        if view.status == ActionStatus.EXECUTING and not isinstance(view.executed_at, DamagedTime):
            started += f" · running for {duration((now - view.executed_at).total_seconds())}"
        add("Started", started)
    if view.completed_at:
        label = "Cancelled" if status_label(view) == "cancelled" else "Finished"
        add(label, when(view.completed_at))
    if view.exit_code is not None:
        add("Exit code", str(view.exit_code))
    if view.stdout:
        add("stdout", lines_text(view.stdout))
    if view.stderr:
        add("stderr", lines_text(view.stderr))
    parts: list[RenderableType] = [fields, Text("")]
    if no_executor and view.status == ActionStatus.APPROVED and _approved_by_us(events):
        parts += [Text(START_EXECUTOR, style="italic"), Text("")]
    if preview is not None:
        parts += [preview, Text("")]
    parts.append(_history(events))
    if tail is not None:
        parts += [Text(""), tail]
    return Group(*parts)


def render_live_output(lines: list[tuple[str, str]]) -> RenderableType:
    """The end of a running action's output, stderr in red; inert like all output."""
    heading = Text("Output (live)", style=_LABEL_STYLE)
    if not lines:
        return Group(heading, Text("waiting for output…", style="dim"))
    body = Text()
    for stream, line in lines:
        body.append_text(safe(line.rstrip("\n"), "red" if stream == "stderr" else ""))
        body.append("\n")
    return Group(heading, body)


def render_preview(
    view: ActionView, preview: PreviewView | None, loaded: bool, now: datetime, *, full: bool
) -> RenderableType:
    """The plan's summary (or why there is none), its age and its first packages; all of
    them when `full`. Probe output is hostile: every line goes through safe()."""
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(style=_LABEL_STYLE, width=_LABEL_WIDTH, no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    if not loaded:
        grid.add_row("Preview", Text("loading…", style="dim"))
        return grid
    headline = preview_headline(view.action_type, view.service_name, preview, view.status)
    if preview is not None and preview.plan is None:
        line = Text("no plan: ", style="italic")
        line.append_text(safe(preview.error or "the probe gave no output"))
    else:
        warned = preview is not None and bool(preview.warnings)
        line = safe(headline, WARNING_STYLE if warned else "")
    grid.add_row("Preview", line)
    if preview is None:
        if headline == NO_PREVIEW_YET and view.status == ActionStatus.PENDING:
            grid.add_row("", Text("v asks the executor for one", style="dim"))
        return grid
    taken = f"taken {age(preview.taken_at, now)} · {when(preview.taken_at)}"
    if preview.digest:
        taken += f" · plan {short_digest(preview.digest)}"
    grid.add_row("", Text(taken, style="dim"))
    lines = preview.lines
    shown = lines if full else lines[:PREVIEW_LINES]
    for text in shown:
        grid.add_row("", safe(text))
    if len(shown) < len(lines):
        more = f"… {len(lines) - len(shown)} more: enter shows them all"
        grid.add_row("", Text(more, style="italic"))
    return grid


def _approved_by_us(events: tuple[EventView, ...] | None) -> bool:
    """An approval event is ours: only such actions are any executor's to run."""
    return bool(events) and any(e.to_status == ActionStatus.APPROVED for e in events or ())


def _add_rules(
    add: Callable[..., None],
    view: ActionView,
    events: tuple[EventView, ...] | None,
    now: datetime,
    extras: DetailExtras,
) -> None:
    """Approvals so far (two-person approval), and when it expires."""
    if extras.approvals_required > 1 and view.status in ("pending", "approved"):
        if events is not None:  # votes, then the approval that completed them
            approvals = [
                (e.actor, e.at)
                for e in events
                if e.from_status == "pending"
                and e.to_status in ("pending", "approved")
                and e.actor != _AUTO_APPROVER
            ]
            line = Text(f"{len(approvals)} of {extras.approvals_required}")
            for index, (actor, at) in enumerate(approvals):
                line.append(": " if index == 0 else ", ")
                line.append_text(safe(actor, "bold"))
                line.append(f" {when(at)}")
            add("Approvals", line)
        else:
            voters = ", ".join(extras.voters)
            count = f"{len(extras.voters)} of {extras.approvals_required}"
            add("Approvals", safe(f"{count}: {voters}" if voters else count))
    if extras.expires_at is not None:
        add("Expires", f"{expires_in(extras.expires_at, now)} · {when(extras.expires_at)}")


def _history(events: tuple[EventView, ...] | None) -> RenderableType:
    heading = Text("History (UTC)", style=_LABEL_STYLE)  # as the CLI's "AT (UTC)"
    # A last line without its newline (Text(end="")) is drawn but not counted in the
    # widget's height, so it was cut off: these end their line.
    if events is None:
        return Group(heading, Text("loading…", style="dim"))
    if not events:
        return Group(heading, Text("no events recorded", style="italic"))
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column(no_wrap=True, style="dim")
    table.add_column(ratio=1, overflow="fold")
    for event in events:
        step = Text(end="")
        step.append_text(safe(event.from_status or "created"))
        step.append(" → ")
        step.append_text(safe(event.to_status))
        step.append(" by ")
        step.append_text(safe(event.actor, "bold"))
        if event.reason:
            step.append(": ")
            step.append_text(safe(event.reason, "italic"))
        table.add_row(Text(visible(shown_moment(event.at, "%m-%d %H:%M"))), step)
    return Group(heading, table)
