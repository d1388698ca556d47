"""What the CLI's fast decision hands back (storage/backends.decide_fast): the row as the
decision left it and, when asked for (--json), what `show --json` adds to it, read under
the decision's lock. No SQLAlchemy."""

from __future__ import annotations

from typing import NamedTuple

from homelab_approvals.domain.rows import ActionView, Approval, EventView
from homelab_approvals.storage.preview_rows import PreviewRow


class Decided(NamedTuple):
    view: ActionView
    #: Whose approvals it has, oldest first (the service's approval_tally); () unless read.
    approvals: tuple[Approval, ...] = ()
    #: Its newest preview (the service's get_preview); None when none, or not read.
    preview: PreviewRow | None = None


class ShownPage(NamedTuple):
    """What `show ID` reads (storage/backends.read_page_fast): `Decided`'s with --json,
    the preview the last approval was bound to, and the action's events, oldest first."""

    shown: Decided
    bound: PreviewRow | None
    events: tuple[EventView, ...]
