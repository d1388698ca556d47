"""The detail pane: everything known about the highlighted action, and its history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from homelab_approvals.domain.damaged import DamagedTime, shown_moment
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionView, EventView
from homelab_approvals.tui.formatting import (
    action_title,
    age,
    duration,
    lines_text,
    safe,
    server_label,
    status_label,
    status_text,
    when,
)

_LABEL_STYLE = "bold"
_LABEL_WIDTH = 9


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
    ) -> None:
        moved = view is None or self.view is None or view.id != self.view.id
        self.view = view
        self.events = None if events is None else tuple(events)
        body = self.query_one("#detail-body", Static)
        if view is None:
            self.border_title = "Details"
            body.update(Text(empty, style="italic"))
            return
        self._show_title()
        body.update(render_detail(view, self.events, now, no_executor=self.no_executor))
        if moved:
            self.scroll_home(animate=False)

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
    *,
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
    return Group(*parts, _history(events))


def _approved_by_us(events: tuple[EventView, ...] | None) -> bool:
    """An approval event is ours: only such actions are any executor's to run."""
    return bool(events) and any(e.to_status == ActionStatus.APPROVED for e in events or ())


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
