"""The console's keys, in one place: the footer, the help screen and the command palette
are all generated from these. Each binding has an id (for keymaps) and a tooltip."""

from __future__ import annotations

from textual.binding import Binding, BindingType

CONSOLE_BINDINGS: list[BindingType] = [
    Binding("a", "approve", "Approve", id="approve", tooltip="Approve the highlighted action"),
    Binding(
        "r", "reject", "Reject", id="reject", tooltip="Reject the highlighted action (a reason)"
    ),
    Binding(
        "c",
        "cancel_action",
        "Cancel",
        id="cancel",
        tooltip="Cancel the highlighted pending or approved action",
    ),
    # Bulk decisions (k9s-style marks). While rows are marked, a bar above the footer
    # names these keys (the footer has no room for them at 80 columns); each marked
    # action is decided in its own transaction.
    Binding(
        "space",
        "toggle_mark",
        "Mark",
        id="mark",
        show=False,
        tooltip="Mark or unmark the highlighted pending action, then move down",
    ),
    Binding(
        "ctrl+a",
        "mark_all",
        "Mark all",
        id="mark-all",
        show=False,
        tooltip="Mark every pending action in view (its filter, its window of rows)",
    ),
    Binding(
        "A",
        "approve_marked",
        "Approve marked",
        id="approve-marked",
        show=False,
        tooltip="Approve every marked action, after a confirmation listing them",
    ),
    Binding(
        "R",
        "reject_marked",
        "Reject marked",
        id="reject-marked",
        show=False,
        tooltip="Reject every marked action, with one reason",
    ),
    Binding(
        "slash",
        "filter",
        "Filter",
        id="filter",
        tooltip="Narrow the rows by server, service, command or #id",
        # Priority: the app runs it as the key arrives, so the field has focus before
        # the next key is routed. Otherwise "/apt" typed fast (or arriving in one SSH
        # read) sent "apt" to the table, and its "a" approved the highlighted action.
        priority=True,
    ),
    # Two bindings on one key: check_action hides the one that does not apply, so
    # the footer says what p will do ("All" or "Pending"). One id: [keys] moves both.
    Binding(
        "p",
        "show_all",
        "All",
        id="view",
        tooltip="Show all actions, newest first",
    ),
    Binding(
        "p",
        "show_pending",
        "Pending",
        id="view",
        tooltip="Show only pending actions, oldest first",
    ),
    Binding("s", "cycle_sort", "Sort", id="sort", tooltip="Oldest, newest, server, action"),
    Binding(
        "v",
        "fresh_preview",
        "Preview",
        id="fresh-preview",
        show=False,
        tooltip="Ask the executor for a fresh dry-run preview of the highlighted pending action",
    ),
    Binding(
        "enter",
        "focus_detail",
        "Details",
        id="details",
        show=False,
        key_display="enter",  # "⏎" is missing from the Linux console font
        tooltip="Read the whole action and its history (escape returns)",
    ),
    Binding(
        "escape",
        "clear_marks_or_filter",
        "Clear",
        id="clear-filter",
        show=False,
        tooltip="Unmark every row; with no marks, drop the filter",
    ),
    Binding(
        "right_square_bracket",
        "next_window",
        "Next rows",
        id="next-window",
        show=False,
        tooltip="The table holds a window of rows; show the next one",
    ),
    Binding(
        "left_square_bracket",
        "previous_window",
        "Previous rows",
        id="previous-window",
        show=False,
        tooltip="Show the previous window of rows",
    ),
    Binding("question_mark", "help", "Help", id="help", tooltip="Every key, explained"),
    Binding("q", "quit", "Quit", id="quit", tooltip="Leave the console (exit status 0)"),
]
