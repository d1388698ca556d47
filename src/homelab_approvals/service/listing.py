"""What a listing asks for. No SQL here (see queries.py), so the console can name its
views before SQLAlchemy is imported."""

from __future__ import annotations

from dataclasses import dataclass, replace

from homelab_approvals.domain import validation
from homelab_approvals.domain.enums import ActionStatus, ActionType, SortOrder

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
