"""What a listing asks for. No SQL here (see queries.py), so the console can name its
views before SQLAlchemy is imported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from homelab_approvals.domain import validation
from homelab_approvals.domain.enums import ActionStatus, ActionType, SortOrder
from homelab_approvals.domain.views import ActionPage, ActionView, ServerView

#: The console never holds more than this many rows; the header shows true totals.
DEFAULT_WINDOW = 1000


@dataclass(frozen=True, slots=True)
class ActionQuery:
    statuses: tuple[ActionStatus, ...] = ()
    server_id: str | None = None
    action_type: ActionType | None = None
    search: str | None = None
    sort: SortOrder = SortOrder.OLDEST
    limit: int = DEFAULT_WINDOW
    offset: int = 0

    def __post_init__(self) -> None:
        if self.limit < 0 or self.offset < 0:
            from homelab_approvals.domain.errors import ValidationError

            raise ValidationError("limit and offset must not be negative")
        object.__setattr__(self, "search", validation.search_text(self.search))
        if self.server_id is not None:
            validation.server_ref(self.server_id)

    @property
    def narrowed(self) -> bool:
        """Filtered by more than status. A page's per-status counts honour these filters
        too (ActionPage.counts), so with them, no rows means "none match", not "none yet"."""
        return self.server_id is not None or self.action_type is not None or bool(self.search)

    def with_(self, **changes: object) -> ActionQuery:
        return replace(self, **changes)  # type: ignore[arg-type]


# -- the values a listing binds, and its shape: the service's statements (queries.py) and
# the CLI's fast read (fast_reading.py) both take them from here, so they cannot differ.

#: The LIKE escape character of the search (SQLAlchemy's autoescape uses the same).
LIKE_ESCAPE = "/"
#: The search matches an id too when it is digits (or "#" and digits), up to this many.
_ID_DIGITS = 18


def like_escaped(text: str) -> str:
    """`text` as a LIKE pattern's literal part: the escape character, % and _ escaped."""
    escaped = text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
    return escaped.replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")


def search_id(text: str) -> int | None:
    """The action id a search for `text` also matches ("42" or "#42"), or None."""
    digits = text.removeprefix("#")
    if digits.isascii() and digits.isdigit() and len(digits) <= _ID_DIGITS:
        return int(digits)
    return None


def list_parameters(query: ActionQuery) -> dict[str, object]:
    """The named values `query`'s statements bind, only those its filters use (which
    ones are present is its shape, see `list_shape`), then limit and offset."""
    values: dict[str, object] = {}
    if query.statuses:
        values["statuses"] = [s.value for s in query.statuses]
    if query.server_id is not None:
        values["server_id"] = query.server_id
    if query.action_type is not None:
        values["action_type"] = query.action_type.value
    if query.search:
        values["search"] = like_escaped(query.search)
        found = search_id(query.search)
        if found is not None:
            values["search_id"] = found
    values["limit"] = query.limit
    values["offset"] = query.offset
    return values


_PAGING = ("limit", "offset")


def list_shape(query: ActionQuery) -> str:
    """The name of the rows statement `query` makes (storage/sqlite/sql/reads.sql)."""
    names = [name for name in list_parameters(query) if name not in _PAGING]
    return "__".join(["rows", query.sort.value, *names])


def counts_shape(query: ActionQuery) -> str:
    """The name of its counts statement (by status, so without the status filter)."""
    names = [name for name in list_parameters(query) if name not in (*_PAGING, "statuses")]
    return "__".join(["counts", *names])


def page_of(
    query: ActionQuery,
    rows: tuple[ActionView, ...],
    counts: dict[str, int],
    votes: dict[int, tuple[str, ...]] | None = None,
) -> ActionPage:
    """The page a listing's rows and per-status counts make: its total is of the statuses
    asked for (all of them when none were)."""
    wanted = {s.value for s in query.statuses} or set(counts)
    total = sum(n for status, n in counts.items() if status in wanted)
    return ActionPage(rows, total, counts, votes or {})


def event_parameters(action_id: int | None, since: datetime | None) -> dict[str, object]:
    """The named values the audit trail's statement binds: `aid` (one action's events),
    `since` (from that moment on), only those given; `since` needs a UTC offset."""
    values: dict[str, object] = {}
    if action_id is not None:
        values["aid"] = action_id
    if since is not None:
        if since.tzinfo is None:
            from homelab_approvals.domain.errors import ValidationError

            raise ValidationError("--since needs a UTC offset or Z, e.g. 2026-11-27T10:00Z")
        values["since"] = since
    return values


def events_shape(values: dict[str, object]) -> str:
    """The name of the events statement for `event_parameters`' values."""
    return "__".join(["events", *values])


def server_view(
    id: str, hostname: str, display_name: str | None, is_paused: object, paused_at: datetime | None
) -> ServerView:
    """A servers row (the service's columns) as its view: is_paused as a bool."""
    return ServerView(id, hostname, display_name, bool(is_paused), paused_at)


def query_from_options(
    statuses: Sequence[str],
    server_id: str | None,
    action_type: str | None,
    search: str | None,
    sort: str,
    limit: int | None,
    offset: int,
) -> ActionQuery:
    """`list`'s options as a query: statuses once each, in the order given; no --limit
    means the default window. ValueError or ValidationError for what is no such value."""
    query = ActionQuery(
        statuses=tuple(dict.fromkeys(ActionStatus(v) for v in statuses)),
        server_id=server_id,
        action_type=ActionType(action_type) if action_type else None,
        search=search,
        sort=SortOrder(sort),
        offset=offset,
    )
    return query if limit is None else query.with_(limit=limit)
