"""The execution verbs: claim an approved action, finish it, keep a heartbeat, and mark
runs whose executor died as outcome unknown. Every transition is one conditional UPDATE
plus its event row (and, for a claim, the claim row naming the executor), in one
transaction. Executors (executor/, the demo's simulation) call these; no rule lives there.

Only actions whose approval homelab-approvals recorded (an approval event in
action_events, including a create's auto-approval) are ever claimed: HomelabCmd runs the
ones its own API approved, and taking those too would run a command twice."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, delete, exists, insert, select, true, update

from homelab_approvals.domain import execution
from homelab_approvals.domain.enums import ActionStatus
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.domain.text import storable
from homelab_approvals.domain.timestamps import utcnow
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service.queries import ROW_QUERY, to_view
from homelab_approvals.storage import Database
from homelab_approvals.storage.execution_tables import (
    SERVER_ROUTE,
    executor_claims,
    executor_heartbeats,
    route_columns,
)
from homelab_approvals.storage.tables import ActionEvent as E
from homelab_approvals.storage.tables import RemediationAction as A

_APPROVED = ActionStatus.APPROVED.value
_EXECUTING = ActionStatus.EXECUTING.value
_COMPLETED = ActionStatus.COMPLETED.value
_FAILED = ActionStatus.FAILED.value

#: An approval we recorded: the mark of an action this tool may run.
_OURS = exists().where(E.action_id == A.id, E.to_status == _APPROVED)
_CLAIMABLE = select(A.id).where(A.status == _APPROVED, _OURS).order_by(A.approved_at, A.id)
_APPROVED_COMMAND = select(E.command).where(E.to_status == _APPROVED).order_by(E.id.desc()).limit(1)
_HB = executor_heartbeats.c
_CLAIMS = executor_claims.c


@dataclass(frozen=True, slots=True)
class Claim:
    """An action this executor now holds (status executing), and where to run it.
    `refusal` says why it must not be sent; the executor then finishes it as failed."""

    action: ActionView
    executor: str
    destination: str | None
    login: str | None
    refusal: str | None

    @property
    def server(self) -> str:
        return self.action.server_label or self.action.server_id


class ExecutionService:
    """Thread-safe; each call is its own transaction."""

    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime] = utcnow,
        *,
        approved_expiry: timedelta | None = None,
    ) -> None:
        """`approved_expiry` (the config's expiry.approved): an approval older than this
        is never claimed, even before a sweeper has marked it failed."""
        self.db = db
        self.clock = clock
        self.approved_expiry = approved_expiry
        self._routes: tuple[str, ...] | None = None

    def _fresh(self, now: datetime) -> ColumnElement[bool]:
        if self.approved_expiry is None:
            return true()
        return A.approved_at >= now - self.approved_expiry

    def check_writable(self) -> None:
        """An executor on a database it cannot write would claim nothing: say so first."""
        if self.db.read_only:
            raise StorageError(
                f"an executor needs to write the database, and it is open read-only "
                f"({self.db.read_only_reason}): {self.db.label}"
            )

    # -- what waits ------------------------------------------------------------------------

    def claimable(self, limit: int | None = None) -> list[int]:
        """Ids of our approved actions, longest-approved first."""
        stmt = _CLAIMABLE.where(self._fresh(self.clock())).limit(limit)
        with self.db.reading() as conn:
            return list(conn.execute(stmt).scalars())

    def waiting_without_executor(self) -> bool:
        """One of our approved actions waits and no executor's heartbeat is live."""
        with self.db.reading() as conn:
            if conn.execute(_CLAIMABLE.limit(1)).first() is None:
                return False
            return not self._live(conn, self.clock())

    def executor_live(self) -> bool:
        with self.db.reading() as conn:
            return self._live(conn, self.clock())

    @staticmethod
    def _live(conn: Connection, now: datetime) -> bool:
        for beat_at, lease in conn.execute(select(_HB.beat_at, _HB.lease_seconds)):
            if beat_at + timedelta(seconds=lease) >= now:
                return True
        return False

    # -- claim and finish ------------------------------------------------------------------

    def claim(self, action_id: int, executor: str) -> Claim | None:
        """approved -> executing, for this executor; None when someone else was faster
        (or the action is not ours to run)."""
        now = self.clock()
        with self.db.writing() as conn:
            taken = conn.execute(
                update(A)
                .where(A.id == action_id, A.status == _APPROVED, _OURS, self._fresh(now))
                .values(status=_EXECUTING, executed_at=now)
            ).rowcount
            if not taken:
                return None
            self._event(conn, action_id, _APPROVED, _EXECUTING, executor, now)
            conn.execute(
                insert(executor_claims).values(
                    action_id=action_id, executor=executor, claimed_at=now
                )
            )
            view = to_view(conn.execute(ROW_QUERY.where(A.id == action_id)).one())
            approved = conn.execute(_APPROVED_COMMAND.where(E.action_id == action_id)).scalar()
            destination, login = self._route(conn, view.server_id)
        refusal = execution.refusal(view.action_type, view.service_name, view.command, approved)
        if refusal is None:
            if destination is None and login is None and not self._server_exists(view.server_id):
                refusal = f"Server {view.server_id} not found"  # HomelabCmd's words
            else:
                refusal = execution.route_refusal(destination, login)
        return Claim(view, executor, destination, login, refusal)

    def _route(self, conn: Connection, server_id: str) -> tuple[str | None, str | None]:
        """(destination, login) in HomelabCmd's order: tailscale_hostname, ip_address,
        hostname; the login is ssh_username when set."""
        if self._routes is None:
            self._routes = route_columns(conn)
        names = self._routes
        row = conn.execute(
            select(*(SERVER_ROUTE.c[name] for name in names)).where(SERVER_ROUTE.c.id == server_id)
        ).first()
        if row is None:
            return None, None
        values = dict(zip(names, row, strict=True))
        destination = next(
            (
                str(values[name])
                for name in ("tailscale_hostname", "ip_address", "hostname")
                if values.get(name)
            ),
            None,
        )
        login = values.get("ssh_username") or None
        return destination, None if login is None else str(login)

    def route(self, server_id: str) -> tuple[str | None, str | None, str | None]:
        """(destination, login, refusal) for reaching `server_id`, as a claim works them
        out: for a preview's probe, which goes where the action would."""
        with self.db.reading() as conn:
            destination, login = self._route(conn, server_id)
        if destination is None and login is None and not self._server_exists(server_id):
            return None, None, f"Server {server_id} not found"
        return destination, login, execution.route_refusal(destination, login)

    def _server_exists(self, server_id: str) -> bool:
        with self.db.reading() as conn:
            return (
                conn.execute(
                    select(SERVER_ROUTE.c.id).where(SERVER_ROUTE.c.id == server_id)
                ).first()
                is not None
            )

    def finish(
        self,
        action_id: int,
        executor: str,
        exit_code: int,
        stdout: str | None,
        stderr: str | None,
        reason: str | None = None,
    ) -> ActionView | None:
        """executing -> completed (exit 0) or failed, with the run's results. None when the
        action is no longer this executor's run (another process marked it outcome unknown)."""
        now = self.clock()
        status = _COMPLETED if exit_code == 0 else _FAILED
        mine = exists().where(_CLAIMS.action_id == A.id, _CLAIMS.executor == executor)
        with self.db.writing() as conn:
            done = conn.execute(
                update(A)
                .where(A.id == action_id, A.status == _EXECUTING, mine)
                .values(
                    status=status,
                    completed_at=now,
                    exit_code=exit_code,
                    stdout=storable(stdout),
                    stderr=storable(stderr),
                )
            ).rowcount
            if not done:
                return None
            self._event(conn, action_id, _EXECUTING, status, executor, now, reason)
            return to_view(conn.execute(ROW_QUERY.where(A.id == action_id)).one())

    @staticmethod
    def _event(
        conn: Connection,
        action_id: int,
        from_status: str,
        to_status: str,
        actor: str,
        at: datetime,
        reason: str | None = None,
    ) -> None:
        conn.execute(
            insert(E).values(
                action_id=action_id,
                from_status=from_status,
                to_status=to_status,
                actor=actor,
                at=at,
                reason=reason,
            )
        )

    # -- heartbeats and dead executors -----------------------------------------------------

    def heartbeat(self, name: str, lease_seconds: float, started_at: datetime) -> None:
        """Renew this executor's lease (call at a third of it)."""
        now = self.clock()
        values = {
            "lease_seconds": lease_seconds,
            "beat_at": now,
            "started_at": started_at,
            "pid": os.getpid(),
        }
        with self.db.writing() as conn:
            renewed = conn.execute(
                update(executor_heartbeats).where(_HB.name == name).values(**values)
            ).rowcount
            if not renewed:
                conn.execute(insert(executor_heartbeats).values(name=name, **values))

    def retire(self, name: str) -> None:
        """A clean stop: no heartbeat left behind, so nobody waits for this executor."""
        with self.db.writing() as conn:
            conn.execute(delete(executor_heartbeats).where(_HB.name == name))

    def prune_stalled(
        self, actor: str, restarted: tuple[str, datetime] | None = None
    ) -> list[ActionView]:
        """Mark `executing` actions whose executor's heartbeat is past its lease (or gone)
        as failed, outcome unknown. They are never run again. `restarted` is (name, start) of
        an executor starting afresh: that name's claims from before it started are dead,
        whatever its heartbeat says (the name is the same, the process is not).
        Reads first and writes only when there is something to mark, so calling this
        often (the console does) costs no write lock."""
        now = self.clock()
        with self.db.reading() as conn:
            if not self._stalled(conn, now, restarted):
                return []
        marked: list[ActionView] = []
        with self.db.writing() as conn:
            for action_id, executor in self._stalled(conn, now, restarted):  # under the lock
                stderr = execution.outcome_unknown(executor)
                changed = conn.execute(
                    update(A)
                    .where(A.id == action_id, A.status == _EXECUTING)
                    .values(
                        status=_FAILED,
                        completed_at=now,
                        exit_code=execution.NO_EXIT_CODE,
                        stderr=stderr,
                    )
                ).rowcount
                if changed:
                    self._event(conn, action_id, _EXECUTING, _FAILED, actor, now, stderr)
                    marked.append(to_view(conn.execute(ROW_QUERY.where(A.id == action_id)).one()))
        return marked

    @staticmethod
    def _stalled(
        conn: Connection, now: datetime, restarted: tuple[str, datetime] | None
    ) -> list[tuple[int, str]]:
        rows = conn.execute(
            select(A.id, _CLAIMS.executor, _CLAIMS.claimed_at, _HB.beat_at, _HB.lease_seconds)
            .join(executor_claims, _CLAIMS.action_id == A.id)
            .outerjoin(executor_heartbeats, _HB.name == _CLAIMS.executor)
            .where(A.status == _EXECUTING)
        ).all()
        stalled = []
        for action_id, executor, claimed_at, beat_at, lease in rows:
            gone = beat_at is None or beat_at + timedelta(seconds=lease) < now
            if restarted is not None and executor == restarted[0] and claimed_at < restarted[1]:
                gone = True
            if gone:
                stalled.append((action_id, executor))
        return stalled


__all__ = ["Claim", "ExecutionService"]
