"""The top bar: app name, operator, database, and the true pending and total counts."""

from __future__ import annotations

import os

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from homelab_approvals.domain.text import visible

TITLE = "homelab-approvals"
NO_EXECUTOR = "no executor"
_SEPARATOR = " │ "


def shorten_path(label: str, width: int) -> str:
    """`~` for the home folder, then the tail that fits: the file name matters most."""
    home = os.path.expanduser("~")
    if home not in ("", "/", "~") and (label == home or label.startswith(home + os.sep)):
        label = "~" + label[len(home) :]
    if len(label) <= width:
        return label
    if width <= 1:
        return "…"[:width]
    return "…" + label[-(width - 1) :]


class TopBar(Widget):
    """One line. Everything from outside (operator, database label) is shown inert."""

    pending: reactive[int | None] = reactive(None)
    total: reactive[int | None] = reactive(None)
    filtered: reactive[bool] = reactive(False)
    #: One of our approved actions waits and no executor is alive (tui/executor_watch.py).
    no_executor: reactive[bool] = reactive(False)

    def __init__(self, operator: str, database: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.operator = visible(operator)
        self.database = visible(database)

    def render(self) -> Text:
        width = self.size.width
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        line.append(f" {TITLE}", style="bold")
        line.append(_SEPARATOR, style="dim")
        line.append(self.operator, style="bold")
        counts = f"{self._counts()} "
        warning = f"{NO_EXECUTOR} · " if self.no_executor else ""
        room = width - len(line.plain) - len(_SEPARATOR) - len(counts) - len(warning) - 1
        if room >= 8:
            line.append(_SEPARATOR, style="dim")
            line.append(shorten_path(self.database, room))
        line.append(" " * max(1, width - len(line.plain) - len(counts) - len(warning)))
        if warning:
            # The theme's warning colour; with NO_COLOR the words alone say it.
            colour = self.app.current_theme.warning or "yellow"
            line.append(NO_EXECUTOR, style=Style(color=colour, bold=True))
            line.append(" · ", style="dim")
        line.append(counts, style="bold")
        return line

    def _counts(self) -> str:
        if self.pending is None or self.total is None:
            return "loading…"
        scope = " matching" if self.filtered else ""
        return f"{self.pending:,} pending · {self.total:,} total{scope}"
