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
    Binding(
        "slash",
        "filter",
        "Filter",
        id="filter",
        tooltip="Narrow the rows by server, service, command or #id",
    ),
    # Two bindings on one key: check_action hides the one that does not apply, so
    # the footer says what p will do ("All" or "Pending").
    Binding(
        "p",
        "show_all",
        "All",
        id="show-all",
        tooltip="Show all actions, newest first",
    ),
    Binding(
        "p",
        "show_pending",
        "Pending",
        id="show-pending",
        tooltip="Show only pending actions, oldest first",
    ),
    Binding("s", "cycle_sort", "Sort", id="sort", tooltip="Oldest, newest, server, action"),
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
        "clear_filter",
        "Clear filter",
        id="clear-filter",
        show=False,
        tooltip="Drop the filter and show every row of the view",
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
