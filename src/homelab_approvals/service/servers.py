"""Servers: list, add, pause and unpause (maintenance mode)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from homelab_approvals.domain import validation
from homelab_approvals.domain.errors import (
    ActionNotFound,
    ConstraintRefused,
    InvalidTransition,
    StorageError,
)
from homelab_approvals.domain.views import ServerView
from homelab_approvals.service.listing import server_view
from homelab_approvals.storage import Database
from homelab_approvals.storage.tables import Server as S

_SERVER_COLUMNS = (S.id, S.hostname, S.display_name, S.is_paused, S.paused_at)
#: Every server, by id (`servers`; the CLI's fast read runs it rendered).
LIST_SERVERS = select(*_SERVER_COLUMNS).order_by(S.id)


def _view(row: Any) -> ServerView:
    return server_view(*row)


class ServerOps:
    db: Database
    clock: Callable[[], datetime]

    def list_servers(self) -> list[ServerView]:
        with self.db.reading() as conn:
            rows = conn.execute(LIST_SERVERS).all()
        return [_view(r) for r in rows]

    def get_server(self, server_id: str) -> ServerView:
        server_id = validation.server_ref(server_id)
        with self.db.reading() as conn:
            r = conn.execute(select(*_SERVER_COLUMNS).where(S.id == server_id)).one_or_none()
        if r is None:
            raise ActionNotFound(f"server {server_id!r} not found")
        return _view(r)

    def add_server(
        self,
        server_id: str,
        hostname: str,
        display_name: str | None = None,
        *,
        paused: bool = False,
    ) -> ServerView:
        sid = validation.server_id(server_id)
        host = validation.hostname(hostname)
        label = validation.display_name(display_name)
        now = self.clock()
        try:
            with self.db.writing() as conn:
                if conn.execute(select(S.id).where(S.id == sid)).scalar() is not None:
                    raise InvalidTransition(f"server {sid!r} already exists")
                conn.execute(
                    insert(S).values(
                        id=sid,
                        hostname=host,
                        display_name=label,
                        is_paused=paused,
                        paused_at=now if paused else None,
                    )
                )
        except ConstraintRefused as error:
            raise StorageError(
                "cannot add servers to this database: its servers table needs columns "
                f"homelab-approvals does not manage ({error}); add the server in HomelabCmd"
            ) from error
        return self.get_server(sid)

    def set_paused(self, server_id: str, paused: bool) -> ServerView:
        """Maintenance mode on or off. Idempotent; paused_at records when it went on."""
        server_id = validation.server_ref(server_id)
        with self.db.writing() as conn:
            result = conn.execute(
                update(S)
                .where(S.id == server_id)
                .values(is_paused=paused, paused_at=self.clock() if paused else None)
            )
            if result.rowcount == 0:
                raise ActionNotFound(f"server {server_id!r} not found")
        return self.get_server(server_id)
