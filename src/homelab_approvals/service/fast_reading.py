"""What the CLI's read commands (`list`, `show`, `events`, `servers`) print, read without
SQLAlchemy, when the backend can (storage.backends; SQLite).

Each function here gives what the service's reading methods give for the same question,
built by the same rules (service/listing.py: which values a listing binds, its page and
totals, a server's view, the events' filter; the policy's approvals required; a preview's
view), from rows read by the service's own statements, rendered (sql/reads.sql). None
means: ask the service (nothing was changed), which then answers, or words the error, as
always.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from homelab_approvals.domain import validation
from homelab_approvals.domain.errors import ValidationError
from homelab_approvals.domain.views import ApprovalTally
from homelab_approvals.service.listing import (
    ActionQuery,
    counts_shape,
    event_parameters,
    events_shape,
    list_parameters,
    list_shape,
    page_of,
    server_view,
)
from homelab_approvals.service.preview_views import to_preview_view
from homelab_approvals.storage.backends import (
    read_events_fast,
    read_list_fast,
    read_page_fast,
    read_servers_fast,
)

if TYPE_CHECKING:
    from homelab_approvals.domain.previews import PreviewView
    from homelab_approvals.domain.views import ActionPage, ActionView, EventView, ServerView
    from homelab_approvals.service.policy import Policy


def list_file(
    path: Path, query: ActionQuery, *, with_previews: bool
) -> tuple[ActionPage, dict[int, PreviewView]] | None:
    """`list_actions(query)` (without votes: the CLI's list shows none) and, with
    `with_previews`, `previews_for` its rows."""
    values = list_parameters(query)
    read = read_list_fast(
        path, list_shape(query), counts_shape(query), values, with_previews=with_previews
    )
    if read is None:
        return None
    views, counts, previews = read
    shown = {aid: to_preview_view(row) for aid, row in previews.items()}
    return page_of(query, views, counts), shown


class ShowPage(NamedTuple):
    """What `show ID` prints: the service's get_action, approval_tally, get_preview,
    bound_preview and list_events(action_id) of the action."""

    action: ActionView
    tally: ApprovalTally
    preview: PreviewView | None
    bound: PreviewView | None
    events: tuple[EventView, ...]


def show_page_file(path: Path, action_id: int, policy: Policy | None) -> ShowPage | None:
    """`policy` None: no config file, so `Policy()`'s defaults."""
    try:
        aid = validation.action_id(action_id)
    except ValidationError:
        return None
    read = read_page_fast(path, aid, events_shape(event_parameters(aid, None)))
    if read is None:
        return None
    from homelab_approvals.service.policy import Policy

    view, approvals, preview = read.shown
    required = (policy or Policy()).approvals_required(view.action_type)
    return ShowPage(
        view,
        ApprovalTally(required, approvals),
        None if preview is None else to_preview_view(preview),
        None if read.bound is None else to_preview_view(read.bound),
        read.events,
    )


def events_file(
    path: Path, action_id: int | None, since: datetime | None
) -> list[EventView] | None:
    """`list_events(action_id=..., since=...)`."""
    values = event_parameters(action_id, since)
    return read_events_fast(path, events_shape(values), values)


def servers_file(path: Path) -> list[ServerView] | None:
    """`list_servers()`."""
    rows = read_servers_fast(path)
    return None if rows is None else [server_view(*row) for row in rows]
