"""Our tables, and how a row of remediation_actions read with the standard library's
sqlite3 becomes the ActionView the service would return (and the other rows the CLI's
fast reads read). Shared by the console's first window (first_window.py), the CLI's fast
decision (fast_decision.py) and its fast reads (fast_reads.py); no SQLAlchemy, no
dataclasses (start-up time)."""

from __future__ import annotations

from typing import Any

from homelab_approvals.domain.damaged import stored_text
from homelab_approvals.domain.rows import ActionView
from homelab_approvals.storage.datetimes import utc_from_stored

#: An action row's columns (first_window.ROWS_SQL, decisions.sql's one_action) that
#: SQLAlchemy converts on the way out (UTCDateTime and Boolean); every other column
#: arrives as the driver gives it.
DATETIME_COLUMNS = frozenset(
    {"created_at", "approved_at", "rejected_at", "executed_at", "completed_at"}
)
BOOLEAN_COLUMNS = frozenset({"server_paused"})
#: Those that are integers as SQLite returns them; every other is text (`StoredText`: a
#: BLOB there reads as "⟨3 bytes⟩").
INTEGER_COLUMNS = frozenset({"id", "alert_id", "exit_code"})
#: What `ensure_schema` would find missing in a database that is not up to date.
TABLES = frozenset(
    {
        "servers",
        "remediation_actions",
        "action_events",
        "approvals_schema",
        "approval_previews",
        "approval_plan_bindings",
        "approval_output_chunks",
        "approval_preview_requests",
        "executor_claims",
        "executor_heartbeats",
    }
)
TRIGGERS = frozenset(
    {"action_events_no_replace", "action_events_no_update", "action_events_no_delete"}
)  # sql/triggers.sql's names, written out: reading that file would cost start-up time


def _as_is(value: Any) -> Any:
    return value


def as_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)  # as SQLAlchemy's Boolean on SQLite


def converters(columns: list[str]) -> list[Any]:
    """For each column of an action row, what turns its stored value into the view's."""
    return [
        utc_from_stored
        if name in DATETIME_COLUMNS
        else as_bool
        if name in BOOLEAN_COLUMNS
        else _as_is
        if name in INTEGER_COLUMNS
        else stored_text
        for name in columns
    ]


#: The service's approvals query (actor, at) and the newest-preview query (the preview
#: table's columns), column by column as their SQLAlchemy types read them;
#: tests/test_cli_fast.py checks them against those types.
APPROVAL_CONVERTERS = (stored_text, utc_from_stored)
PREVIEW_CONVERTERS = (
    _as_is,
    _as_is,
    utc_from_stored,
    _as_is,
    _as_is,
    _as_is,
    _as_is,
    _as_is,
    _as_is,
)


#: The audit trail's columns (approvals.EVENT_COLUMNS), the servers listing's
#: (servers.LIST_SERVERS), a plan binding's (previews.BINDINGS) and the listing's counts
#: by status; checked against their types like those above.
EVENT_CONVERTERS = (_as_is, _as_is, stored_text, stored_text, stored_text, utc_from_stored,
                    stored_text, stored_text)  # fmt: skip
SERVER_CONVERTERS = (stored_text, stored_text, stored_text, as_bool, utc_from_stored)
BINDING_CONVERTERS = (_as_is, _as_is, utc_from_stored, _as_is, _as_is)
COUNT_CONVERTERS = (stored_text, _as_is)


def convert(row: tuple[Any, ...], converters: tuple[Any, ...]) -> list[Any]:
    return [f(v) for f, v in zip(converters, row, strict=True)]


def action_view(columns: list[str], row: tuple[Any, ...]) -> ActionView:
    """One action row (`columns` named as ActionView's fields) as the service's view."""
    convert = converters(columns)
    return ActionView._make([f(v) for f, v in zip(convert, row, strict=True)])
