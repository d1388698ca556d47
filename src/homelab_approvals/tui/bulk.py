"""Bulk decisions on marked rows: the approval confirmation, and how a result is reported.

The rule (each action its own transition; a conflict never stops the rest) is the
service's `decide_many`; this module only asks and tells."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from homelab_approvals.domain.text import visible
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.bulk import BulkResult, Decision
from homelab_approvals.tui.formatting import action_title, cell, server_label

#: A result toast names at most this many conflicts one by one, then counts the rest.
SHOWN_PROBLEMS = 3
#: Listed in the reject modal before "… and N more".
LISTED = 6
_DONE = {Decision.APPROVE: "Approved", Decision.REJECT: "Rejected", Decision.CANCEL: "Cancelled"}


def plural(count: int, noun: str = "action") -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def id_list(ids: Sequence[int]) -> str:
    return ", ".join(f"#{aid}" for aid in ids)


def listing(views: Sequence[ActionView]) -> str:
    """ "#3 · restart nginx on pi-4" lines, for the reject modal, cut at LISTED."""
    lines = [action_title(view) for view in views[:LISTED]]
    if len(views) > LISTED:
        lines.append(f"… and {len(views) - LISTED:,} more")
    return "\n".join(lines)


def summary(result: BulkResult) -> tuple[str, str, str]:
    """(title, message, severity) of the toast reporting `result`: exactly which actions
    were decided, which someone else decided first, and which were not done."""
    done = _DONE[result.decision]
    tried = len(result.succeeded) + len(result.conflicts) + len(result.refused)
    tried += len(result.not_attempted)
    # Two-person approval: an approval may be a vote, the action still pending.
    waiting = f"Your approval recorded, still waiting for more: {id_list(result.votes)}"
    if result.complete:
        text = id_list(result.succeeded_ids)
        return (
            f"{done} {plural(tried)}",
            f"{text}\n{waiting}" if result.votes else text,
            "information",
        )
    lines = []
    if result.succeeded:
        lines.append(f"{done}: {id_list(result.succeeded_ids)}")
    else:
        lines.append(f"{done}: none")
    if result.votes:
        lines.append(waiting)
    problems = [*result.conflicts.values(), *result.refused.values()]
    if result.conflicts:
        lines.append(f"Someone else decided first: {id_list(list(result.conflicts))}")
    if result.refused:
        lines.append(f"Not allowed: {id_list(list(result.refused))}")
    lines += [f"· {visible(problem)}" for problem in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"· and {len(problems) - SHOWN_PROBLEMS:,} more")
    if result.error is not None:
        lines.append(
            f"Stopped: {visible(result.error)}. Not done, still marked: "
            f"{id_list(result.not_attempted)}"
        )
    title = f"{done} {len(result.succeeded):,} of {plural(tried)}"
    return title, "\n".join(lines), "error" if result.error else "warning"


class MarkedList(DataTable[Text]):
    """The confirmation's list: the action column takes the width left, so a long
    action is cut with an ellipsis rather than pushed past the dialog's edge (where it
    was cut mid-word, under a horizontal scrollbar)."""

    def on_resize(self) -> None:
        columns = self.ordered_columns
        if len(columns) != 3:
            return
        action = columns[-1]
        used = sum(column.get_render_width(self) for column in columns[:-1])
        room = self.size.width - self.styles.scrollbar_size_vertical - used
        action.auto_width = False
        action.width = max(8, room - 2 * self.cell_padding)
        total = used + action.get_render_width(self)
        self.virtual_size = Size(total, self.virtual_size.height)
        self.refresh()


class ConfirmApproval(ModalScreen[bool]):
    """ "Approve these N actions?", listing each (id, server, action). True to go ahead.

    The list is a DataTable, which renders only the rows in sight, so a thousand marked
    rows open at once; arrows and page keys scroll it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # priority: the list has focus, and would otherwise take enter for itself.
        Binding(
            "enter,y",
            "confirm",
            "Approve them",
            id="confirm.yes",
            priority=True,
            key_display="enter",  # "⏎" is missing from the Linux console font
        ),
        Binding(
            "escape,n", "cancel", "Cancel", id="confirm.no", priority=True, tooltip="Decide nothing"
        ),
    ]

    def __init__(self, title: str, views: Sequence[ActionView]) -> None:
        super().__init__()
        self.title_text = title
        self.views = tuple(views)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.title_text, id="confirm-title", markup=False)
            yield MarkedList(
                id="confirm-list", cursor_type="none", zebra_stripes=False, show_cursor=False
            )
            yield Static(
                "enter or y approves each one · escape or n cancels",
                id="confirm-hint",
                markup=False,
            )
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#confirm-list", DataTable)
        table.add_column("#", key="id")
        table.add_column("server", key="server", width=24)
        table.add_column("action", key="action")
        table.add_rows(
            (
                Text(str(view.id), justify="right", end=""),
                cell(server_label(view)),
                cell(view.summary),
            )
            for view in self.views
        )

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
