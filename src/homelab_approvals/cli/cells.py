"""Database text as the CLI shows it in a sentence or a table cell: made inert, and "-"
for nothing. Light on purpose (no json, csv or dataclasses): the fast decision's sentence
(cli/fast.py) is written with it too; output.py re-exports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homelab_approvals.domain.text import visible

if TYPE_CHECKING:
    from homelab_approvals.domain.views import ActionView

NONE = "-"


def text(value: str | None) -> str:
    """Database text made inert for a terminal; NONE for null or empty."""
    return visible(value) or NONE


def server_cell(action: ActionView) -> str:
    return text(action.server_label or action.server_id)
