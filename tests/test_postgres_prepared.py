"""PostgreSQL's decision path (storage/postgres/prepared.py): the service's statements,
compiled once and run on the pooled connection's psycopg connection, must send exactly
what SQLAlchemy's ordinary execution sends, give the same results, translate errors the
same way, and never leave a connection behind or in a bad state."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.engine import Connection, ExecutionContext

from homelab_approvals.domain.durations import parse_duration
from homelab_approvals.domain.errors import ApprovalsError, ConstraintRefused, StorageError
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.service import approvals as statements
from homelab_approvals.service.policy import Expiry, TypeRule
from homelab_approvals.service.preview_settings import PlanCheck
from homelab_approvals.storage import Database, open_database
from homelab_approvals.storage.postgres.prepared import PreparedStatement
from homelab_approvals.storage.tables import RemediationAction as A
from pg_support import PgServer

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
T0 = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
POLICY = Policy(
    approvers=frozenset({"alice", "bob", "carol", "dave"}),
    allow_self_approval=False,
    rules={
        "apt_upgrade_all": TypeRule(approvals=2),
        "clear_logs": TypeRule(approvers=frozenset({"alice"})),
    },
    expiry=Expiry(pending=parse_duration("24h")),
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def pg_db(pg_server: PgServer) -> Iterator[Database]:
    url = pg_server.fresh()
    db = open_database(url=url)
    yield db
    db.close()
    pg_server.drop_url(url)


@pytest.fixture
def pending(pg_db: Database) -> int:
    service = ApprovalService(pg_db)
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    return service.create_action("pi-4", "restart_service", "nginx", actor="robot").id


def status_of(db: Database, aid: int) -> tuple[str, int]:
    """The action's status and how many events it has, as committed."""
    with db.reading() as conn:
        status = conn.execute(select(A.status).where(A.id == aid)).scalar_one()
        events = conn.exec_driver_sql(
            "SELECT count(*) FROM action_events WHERE action_id = %(aid)s", {"aid": aid}
        ).scalar_one()
    return status, events


def checked_out(db: Database) -> int:
    return db.engine.pool.checkedout()  # type: ignore[attr-defined,no-any-return]


def outcome(call: Callable[[], object]) -> object:
    """What a service call gave: its result, or its error's class and message."""
    try:
        return call()
    except ApprovalsError as error:
        return (type(error).__name__, str(error))


def decisions(service: ApprovalService, clock: Clock) -> list[object]:
    """Every kind of decision the service makes in a write transaction, with refusals."""
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    new = service.create_action
    plain = new("pi-4", "restart_service", "nginx", actor="robot").id
    voted = new("pi-4", "apt_upgrade_all", actor="robot").id
    own = new("pi-4", "restart_service", "sshd", actor="alice").id
    narrowed = new("pi-4", "clear_logs", actor="robot").id
    stale = new("pi-4", "restart_service", "cron", actor="robot").id
    steps: list[Callable[[], object]] = [
        lambda: service.approve(plain, "alice"),
        lambda: service.approve(plain, "bob"),  # already approved
        lambda: service.cancel(plain, "carol"),  # IN (approved, pending)
        lambda: service.cancel(plain, "carol"),  # already cancelled: how it got there
        lambda: service.approve(voted, "alice", plan=PlanCheck.bind_current()),  # 1 of 2
        lambda: service.approve(voted, "alice"),  # the same voter twice
        lambda: service.approve(voted, "bob", plan=PlanCheck.expect(None)),  # quorum
        lambda: service.approve(own, "alice"),  # no self-approval
        lambda: service.reject(own, "bob", "not tonight: see the ticket"),
        lambda: service.approve(narrowed, "dave"),  # the type's approvers
        lambda: service.approve(10**6, "alice"),  # no such action
    ]
    results = [outcome(step) for step in steps]
    clock.now = T0 + timedelta(hours=25)
    results.append(outcome(service.expire))
    results.append(outcome(lambda: service.get_action(stale)))
    return results


def contents(db: Database) -> list[list[tuple[Any, ...]]]:
    with db.reading() as conn:
        return [
            [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")]
            for table in ("remediation_actions", "action_events", "approval_plan_bindings")
        ]


def test_decisions_give_what_sqlalchemys_own_execution_gives(pg_server: PgServer) -> None:
    results, stored = [], []
    for precompiled in (True, False):
        url = pg_server.fresh()
        db = open_database(url=url)
        try:
            db.backend.precompiled = precompiled  # type: ignore[attr-defined]
            clock = Clock()
            results.append(decisions(ApprovalService(db, POLICY, clock=clock), clock))
            stored.append(contents(db))
            assert checked_out(db) == (1 if precompiled else 0)  # one kept for the next
        finally:
            db.close()
            pg_server.drop_url(url)
    assert results[0] == results[1]
    assert stored[0] == stored[1]
    # The scenario did what it says: decisions, refusals, a vote, an expiry.
    kinds = [r[0] if isinstance(r, tuple) else type(r).__name__ for r in results[0]]
    assert kinds.count("InvalidTransition") == 3
    assert kinds.count("PermissionDenied") == 2
    assert "ActionNotFound" in kinds
    expired, stale = results[0][-2:]
    assert len(expired) == 2  # type: ignore[arg-type]
    assert stale.rejected_by == "expiry"  # type: ignore[attr-defined]


def test_each_statement_sends_the_sql_and_parameters_sqlalchemy_sends(pg_db: Database) -> None:
    """The ordinary path runs the scenario; every statement it sent is compiled here and
    must come out as the same SQL text with the same driver parameters."""
    pg_db.backend.precompiled = False  # type: ignore[attr-defined]
    sent: list[tuple[Any, str, Any, Any]] = []

    def record(
        _conn: Connection,
        _cursor: object,
        sql: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        statement = getattr(context, "invoked_statement", None)
        if statement is not None and not executemany:
            given = context.compiled_parameters[0]  # type: ignore[union-attr]
            sent.append((statement, sql, parameters, given))

    event.listen(pg_db.engine, "before_cursor_execute", record)
    clock = Clock()
    decisions(ApprovalService(pg_db, POLICY, clock=clock), clock)
    event.remove(pg_db.engine, "before_cursor_execute", record)
    checked: list[str] = []
    for statement, sql, parameters, given in sent:
        try:
            prepared = PreparedStatement(statement, pg_db.engine.dialect)
        except ValueError:
            assert sql.startswith("SELECT")  # a listing's IN list given per call
            continue
        assert prepared.sql == sql
        assert prepared.parameters(given) == parameters
        checked.append(sql)
    # Among them every kind of statement a decision runs.
    assert any(s.startswith("UPDATE") and " IN (%(status_1_1)s" in s for s in checked)  # cancel
    assert any(s.startswith("UPDATE") and "count(DISTINCT" in s for s in checked)  # quorum
    assert any(s.startswith("INSERT INTO action_events") for s in checked)
    assert any(s.endswith("FOR UPDATE") for s in checked)  # a vote's lock
    assert any("approval_previews" in s for s in checked)  # binding a plan


def test_a_select_reads_what_sqlalchemy_reads(pg_db: Database, pending: int) -> None:
    with pg_db.write_transaction() as tx:
        as_dict = tx.first(statements._ONE_ACTION, {"aid": pending})
        as_list = tx.first_values(statements._ONE_ACTION, {"aid": pending})
        missing = tx.first(statements._ONE_ACTION, {"aid": pending + 1000})
    with pg_db.reading() as conn:
        row = conn.execute(statements._ONE_ACTION, {"aid": pending}).one()
    assert as_dict == dict(row._mapping)
    assert as_list == list(row)
    assert missing is None
    assert as_dict is not None
    assert as_dict["created_at"].tzinfo is UTC  # the UTCDateTime processor ran
    assert as_dict["server_paused"] is True
    assert checked_out(pg_db) == 1  # kept for the next decision


def test_a_driver_error_is_translated_by_sqlstate_and_changes_nothing(
    pg_db: Database, pending: int
) -> None:
    at = datetime.now(UTC)
    params = {"aid": pending, "actor": "alice", "at": at}
    event_row = {**params, "from_status": "pending", "to_status": None}
    with (  # noqa: PT012
        pytest.raises(ConstraintRefused, match="not-null") as caught,
        pg_db.write_transaction() as tx,
    ):
        assert tx.run(statements._APPROVE, params) == 1
        tx.run(statements._EVENT, {**event_row, "reason": None, "command": None})
    assert caught.value.constraint == "23502"
    assert status_of(pg_db, pending) == ("pending", 1)  # the UPDATE was rolled back
    assert checked_out(pg_db) == 1  # rolled back cleanly: kept
    assert ApprovalService(pg_db).approve(pending, "alice").status == "approved"


def test_an_exception_in_the_transaction_rolls_back_and_propagates(
    pg_db: Database, pending: int
) -> None:
    params = {"aid": pending, "actor": "alice", "at": datetime.now(UTC)}
    with pytest.raises(KeyError), pg_db.write_transaction() as tx:  # noqa: PT012
        tx.run(statements._APPROVE, params)
        raise KeyError("not a database error")
    assert status_of(pg_db, pending) == ("pending", 1)
    assert checked_out(pg_db) == 1
    assert ApprovalService(pg_db).approve(pending, "alice").status == "approved"


def test_in_lists_given_per_call_are_refused_rather_than_rendered_per_call(
    pg_db: Database, pending: int
) -> None:
    per_call = select(A.id).where(A.status.in_(bindparam("statuses", expanding=True)))
    with pytest.raises(ValueError, match="can be precompiled"), pg_db.write_transaction() as tx:
        tx.first(per_call, {"statuses": ["pending"]})
    assert checked_out(pg_db) == 1


def test_closing_returns_the_kept_connections(pg_db: Database, pending: int) -> None:
    pool = pg_db.engine.pool
    ApprovalService(pg_db).approve(pending, "alice")
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    pg_db.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_closing_during_a_transaction_closes_its_connection_when_it_ends(
    pg_db: Database, pending: int
) -> None:
    pool = pg_db.engine.pool
    with pg_db.write_transaction() as tx:
        assert tx.first(statements._ONE_ACTION, {"aid": pending}) is not None
        pg_db.backend._prepared.close()  # type: ignore[attr-defined]  # another thread, say
        assert pool.checkedout() == 1  # type: ignore[attr-defined]  # still in use
    assert pool.checkedout() == 0  # type: ignore[attr-defined]  # not kept: closed


def _terminate(admin_url: str, pid: int) -> None:
    """End one server process, and wait until it has gone."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
            admin.execute("SELECT pg_sleep(0.01)")  # the server's pace, not ours


_PID = select(func.pg_backend_pid().label("pid"))


def test_a_connection_the_server_closed_is_replaced_before_a_decision(
    pg_db: Database, pg_server: PgServer, pending: int
) -> None:
    with pg_db.write_transaction() as tx:
        pooled = tx.first(_PID, {})
    assert pooled is not None
    _terminate(pg_server.admin_url, pooled["pid"])
    view = ApprovalService(pg_db).approve(pending, "alice")
    assert view.status == "approved"
    with pg_db.write_transaction() as tx:
        assert tx.first(_PID, {}) != pooled  # a new session


def test_a_connection_lost_mid_decision_is_one_line_and_never_reused(
    pg_db: Database, pg_server: PgServer, pending: int
) -> None:
    params = {"aid": pending, "actor": "alice", "at": datetime.now(UTC)}
    with (  # noqa: PT012
        pytest.raises(StorageError, match="database unreachable") as caught,
        pg_db.write_transaction() as tx,
    ):
        assert tx.run(statements._APPROVE, params) == 1
        row = tx.first(_PID, {})
        assert row is not None
        _terminate(pg_server.admin_url, row["pid"])
        tx.first(statements._ONE_ACTION, params)
    assert "\n" not in str(caught.value)
    assert checked_out(pg_db) == 0  # dropped, not kept
    assert status_of(pg_db, pending) == ("pending", 1)  # never half-applied
    assert ApprovalService(pg_db).approve(pending, "alice").status == "approved"


def test_the_benchmarks_raw_side_does_the_same_work_as_approve(
    pg_server: PgServer, tmp_path: Path
) -> None:
    """benchmarks/_pg.py: plain psycopg runs approve's SQL, compiled from the service's
    statements, with every parameter given by hand; both sides must leave the same
    actions and events (it checks, and raises otherwise)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _pg  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(BENCHMARKS))
    result = _pg.measure_approve(pg_server.admin_url, tmp_path, rounds=2, chunk=5)
    assert result["pg_raw_per_s"] > 0
    assert result["pg_approve_per_s"] > 0
