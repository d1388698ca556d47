"""The executor's own tables, beside action_events on the same metadata.

`executor_claims`: which executor took which action (one row per action, written in the
claim's own transaction). `executor_heartbeats`: one row per running executor, with the
lease it promised to renew within; a row past its lease means that executor is gone.
`SERVER_ROUTE` names the HomelabCmd `servers` columns an executor routes by; our own
databases lack some of them, so callers select only those `route_columns` finds."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Integer, String, Table, column, inspect, table
from sqlalchemy.exc import NoSuchTableError

from homelab_approvals.storage.tables import Base
from homelab_approvals.storage.types import UTCDateTime

executor_claims = Table(
    "executor_claims",
    Base.metadata,
    Column("action_id", Integer, primary_key=True),
    Column("executor", String(100), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
)

executor_heartbeats = Table(
    "executor_heartbeats",
    Base.metadata,
    Column("name", String(100), primary_key=True),
    Column("lease_seconds", Float, nullable=False),
    Column("beat_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("pid", Integer),
)

#: HomelabCmd's destination order, then the login column.
ROUTE_COLUMNS = ("tailscale_hostname", "ip_address", "hostname", "ssh_username")
SERVER_ROUTE = table("servers", column("id"), *(column(name) for name in ROUTE_COLUMNS))


def route_columns(conn: Connection) -> tuple[str, ...]:
    """Which of ROUTE_COLUMNS this database's `servers` table has, in that order."""
    present = {info["name"] for info in inspect(conn).get_columns("servers")}
    return tuple(name for name in ROUTE_COLUMNS if name in present)


def event_has_command(conn: Connection) -> bool:
    """Whether action_events has its `command` column (schema version 3 on). Without the
    table at all, True: reading it then fails with the usual "no approvals tables"."""
    try:
        columns = inspect(conn).get_columns("action_events")
    except NoSuchTableError:
        return True
    return any(info["name"] == "command" for info in columns)
