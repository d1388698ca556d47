"""The console's one way to show a toast: its text and title made inert first.

tests/test_architecture.py forbids calling `notify()` anywhere else in the package, so
a driver's error, an exception or a row's text can never reach the terminal raw."""

from __future__ import annotations

from typing import Literal

from textual.app import App
from textual.dom import DOMNode

from homelab_approvals.domain.text import visible

Severity = Literal["information", "warning", "error"]


def toast(
    node: DOMNode | App[object],
    message: object,
    *,
    title: object = "",
    severity: Severity = "information",
    timeout: float | None = None,
) -> None:
    """A toast of `message` under `title`, both through visible(), never read as markup."""
    node.notify(
        visible(message), title=visible(title), severity=severity, timeout=timeout, markup=False
    )
