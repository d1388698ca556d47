"""The console's one way to show a toast: its text and title made inert first.

tests/test_architecture.py forbids calling `notify()` anywhere else in the package, so
a driver's error, an exception or a row's text can never reach the terminal raw."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.notifications import SeverityLevel
from textual.widget import Widget

from homelab_approvals.domain.text import visible

_SEVERITIES: tuple[SeverityLevel, ...] = ("information", "warning", "error")


def toast(
    node: Widget | App[Any],
    message: object,
    *,
    title: object = "",
    severity: str = "information",
    timeout: float | None = None,
) -> None:
    """A toast of `message` under `title`, both through visible() (keeping the message's
    line breaks), never read as markup."""
    level: SeverityLevel = "error"
    for known in _SEVERITIES:
        if known == severity:
            level = known
    # Line by line: a toast may have several lines (a bulk summary); a line break is
    # no escape sequence, and every other control character is replaced.
    text = "\n".join(visible(line) for line in visible_lines(message))
    node.notify(text, title=visible(title), severity=level, timeout=timeout, markup=False)


def visible_lines(message: object) -> list[str]:
    return (message if isinstance(message, str) else visible(message)).split("\n")
