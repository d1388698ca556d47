"""The write hot path (storage/sqlite/prepared.py): precompiled Core statements on a held SQLite
connection must behave exactly like SQLAlchemy's own execution, and leave nothing behind."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import DateTime, bindparam, insert, select, update
from sqlalchemy.dialects import sqlite

from homelab_approvals.domain.damaged import problem_of
from homelab_approvals.domain.errors import StorageError
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import Database, open_database
from homelab_approvals.storage.sqlite.prepared import HeldConnections
from homelab_approvals.storage.tables import RemediationAction as A
from homelab_approvals.storage.tables import Server as S
from homelab_approvals.storage.types import UTCDateTime

AT = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
_ROW = select(*A.__table__.c).where(A.id == bindparam("aid"))
_SERVER = select(S.id, S.is_paused, S.paused_at).where(S.id == bindparam("sid"))
_APPROVE = (
    update(A)
    .where(A.id == bindparam("aid"), A.status == "pending")
    .values(status="approved", approved_at=bindparam("at"), approved_by=bindparam("who"))
    .returning(A.id, A.status, A.approved_at, A.approved_by, A.created_at)
)


@pytest.fixture
def action(seeded: ApprovalService) -> int:
    return seeded.create_action("pi-4", "restart_service", "nginx", actor="homelabcmd").id


def core_row(db: Database, statement: object, **params: object) -> dict[str, object] | None:
    with db.reading() as conn:
        row = conn.execute(statement, params).first()  # type: ignore[call-overload]
    return None if row is None else dict(row._mapping)


def test_a_select_reads_what_sqlalchemy_reads(db: Database, action: int) -> None:
    with db.write_transaction() as tx:
        fast = tx.first(_ROW, {"aid": action})
        server = tx.first(_SERVER, {"sid": "pi-4"})
        missing = tx.first(_ROW, {"aid": action + 1000})
    assert fast == core_row(db, _ROW, aid=action)
    assert server == core_row(db, _SERVER, sid="pi-4")
    assert server is not None
    assert server["is_paused"] is True  # the Boolean processor ran
    assert fast is not None
    created = fast["created_at"]
    assert isinstance(created, datetime)
    assert created.tzinfo is UTC  # the UTCDateTime processor ran
    assert missing is None


def test_first_values_are_the_row_in_column_order(db: Database, action: int) -> None:
    with db.write_transaction() as tx:
        as_dict = tx.first(_ROW, {"aid": action})
        as_list = tx.first_values(_ROW, {"aid": action})
        assert tx.first_values(_ROW, {"aid": action + 1000}) is None
    assert as_dict is not None
    assert as_list == list(as_dict.values())
    assert list(as_dict) == [c.name for c in A.__table__.c]


_SQLITE = sqlite.dialect()
_MOMENTS = [
    AT,
    datetime(2026, 11, 27, 10, 0, tzinfo=UTC),  # microsecond 0: still six digits
    datetime(2026, 11, 27, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 3, 29, 0, 30, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year below 1000: zero-padded
]


@pytest.mark.parametrize("moment", _MOMENTS, ids=str)
def test_date_times_bind_as_sqlalchemys_text_and_read_back_as_utc(moment: datetime) -> None:
    bind = UTCDateTime().bind_processor(_SQLITE)
    read = UTCDateTime().result_processor(_SQLITE, None)
    assert bind is not None
    assert read is not None
    sqlalchemy_bind = DateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)
    assert sqlalchemy_bind is not None
    naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
    text = bind(moment)
    assert text == sqlalchemy_bind(naive_utc)
    assert bind(moment) == text  # the same moment again (a decision binds it twice)
    back = read(text)
    assert back == moment
    assert back.tzinfo is UTC


def test_binding_remembers_only_the_very_same_moment() -> None:
    bind = UTCDateTime().bind_processor(_SQLITE)
    assert bind is not None
    first = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert bind(first) == "2026-11-27 10:00:00.000000"
    # Equal instant, other object and zone; then a different instant: never a stale text.
    assert bind(first.astimezone(timezone(timedelta(hours=1)))) == "2026-11-27 10:00:00.000000"
    assert bind(first + timedelta(microseconds=1)) == "2026-11-27 10:00:00.000001"
    with pytest.raises(ValueError, match="naive"):
        bind(datetime(2026, 11, 27, 10, 0))  # naive: refused


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        timezones=st.one_of(
            st.just(UTC),
            st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))),
        )
    )
)
def test_any_moment_binds_exactly_as_sqlalchemy_and_reads_back(moment: datetime) -> None:
    """The bind keeps "YYYY-MM-DD HH:MM:" per minute (types.py): never a stale one."""
    bind = UTCDateTime().bind_processor(_SQLITE)
    read = UTCDateTime().result_processor(_SQLITE, None)
    sqlalchemy_bind = DateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)
    assert bind is not None
    assert read is not None
    assert sqlalchemy_bind is not None
    try:
        naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        return  # not a representable UTC moment
    text = bind(moment)
    assert text == sqlalchemy_bind(naive_utc)
    fresh = "".join(text)  # an equal string, as the driver would return it
    for stored in (text, fresh):
        back = read(stored)
        assert back == moment
        assert back.tzinfo is UTC


def test_reading_back_the_moment_just_bound_skips_nothing_else() -> None:
    """A decision reads back the text it has just written: that gives the very moment;
    any other text is still parsed."""
    bind = UTCDateTime().bind_processor(_SQLITE)
    read = UTCDateTime().result_processor(_SQLITE, None)
    assert bind is not None
    assert read is not None
    text = bind(AT)
    assert read(text) is AT
    assert read("2026-11-27 10:00:00.123457") == AT + timedelta(microseconds=1)
    assert read(text) is AT
    other = datetime(2026, 11, 27, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    text = bind(other)  # the same instant, written from another zone
    back = read(text)
    assert back == AT
    assert back.tzinfo is UTC


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-11-27 10:00:00.123456", datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-27 10:00:00", datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
        ("2026-11-27T12:00:00+02:00", datetime(2026, 11, 27, 10, 0, tzinfo=UTC)),
        ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),  # 3.11 reads date+offset naive
    ],
)
def test_stored_date_times_read_as_aware_utc(stored: str, expected: datetime) -> None:
    read = UTCDateTime().result_processor(_SQLITE, None)
    assert read is not None
    value = read(stored)
    assert value == expected
    assert value.tzinfo is UTC


def test_an_update_returning_binds_and_stores_like_sqlalchemy(
    db: Database, db_path: Path, action: int
) -> None:
    with db.write_transaction() as tx:
        row = tx.first(_APPROVE, {"aid": action, "at": AT, "who": "alice"})
    assert row is not None
    assert row["status"] == "approved"
    assert row["approved_at"] == AT
    assert row["approved_by"] == "alice"
    # Stored in SQLAlchemy's SQLite text form, as HomelabCmd writes it.
    raw = sqlite3.connect(db_path)
    try:
        stored = raw.execute(
            "SELECT approved_at FROM remediation_actions WHERE id = ?", (action,)
        ).fetchone()
    finally:
        raw.close()
    assert stored == ("2026-11-27 10:00:00.123456",)
    # The conditional UPDATE matches nothing the second time.
    with db.write_transaction() as tx:
        assert tx.first(_APPROVE, {"aid": action, "at": AT, "who": "bob"}) is None


def test_an_exception_rolls_back_and_the_connection_is_reused(db: Database, action: int) -> None:
    def approve_then_fail() -> None:
        with db.write_transaction() as tx:
            tx.first(_APPROVE, {"aid": action, "at": AT, "who": "alice"})
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        approve_then_fail()
    assert core_row(db, _ROW, aid=action)["status"] == "pending"  # type: ignore[index]
    # The next transaction starts cleanly on the same held connection.
    with db.write_transaction() as tx:
        assert tx.first(_APPROVE, {"aid": action, "at": AT, "who": "alice"}) is not None
    assert core_row(db, _ROW, aid=action)["status"] == "approved"  # type: ignore[index]


def test_a_driver_error_becomes_a_storage_error_and_changes_nothing(
    db: Database, action: int
) -> None:
    duplicate = insert(S).values(id=bindparam("sid"), hostname="again")

    def approve_then_break() -> None:
        with db.write_transaction() as tx:
            tx.first(_APPROVE, {"aid": action, "at": AT, "who": "alice"})
            tx.run(duplicate, {"sid": "pi-4"})  # primary key taken: IntegrityError

    with pytest.raises(StorageError) as caught:
        approve_then_break()
    assert "\n" not in caught.value.message
    assert core_row(db, _ROW, aid=action)["status"] == "pending"  # type: ignore[index]
    with db.write_transaction() as tx:  # and the connection still works
        assert tx.first(_SERVER, {"sid": "pi-4"}) is not None


def test_in_lists_of_constants_are_rendered_once_and_read_as_sqlalchemy_reads(
    db: Database, action: int
) -> None:
    """The service writes `in_()` as anywhere else; the precompiled path renders the list
    once: text and integers as literals (as sql/decisions.sql has them), anything else
    one placeholder per value, in its place among the other parameters."""
    statement = (
        select(A.id, A.status)
        .where(A.status.in_(["pending", "approved"]), A.id == bindparam("aid"))
        .where(A.server_id.in_(["pi-4"]))
    )
    with db.write_transaction() as tx:
        fast = tx.first(statement, {"aid": action})
        none = tx.first(statement, {"aid": action + 1000})
    assert fast == core_row(db, statement, aid=action)
    assert fast == {"id": action, "status": "pending"}
    assert none is None
    prepared = db.backend._held.prepared(statement)  # type: ignore[attr-defined]
    assert "IN ('pending', 'approved')" in prepared.sql
    assert "POSTCOMPILE" not in prepared.sql
    created = core_row(db, _ROW, aid=action)["created_at"]  # type: ignore[index]
    by_time = (
        select(A.id)
        .where(A.created_at.in_([created, AT]), A.id == bindparam("aid"))
        .where(A.status.in_(["pending"]))
    )
    with db.write_transaction() as tx:
        assert tx.first(by_time, {"aid": action}) == {"id": action}
    prepared = db.backend._held.prepared(by_time)  # type: ignore[attr-defined]
    # Date-times are bound, through their processor (and then so is the rest).
    assert "created_at IN (?, ?)" in prepared.sql
    assert "status IN (?)" in prepared.sql


def test_in_lists_given_per_call_are_refused_rather_than_rendered_per_call(
    db: Database, action: int
) -> None:
    statement = select(A.id).where(A.status.in_(bindparam("statuses", expanding=True)))
    # A programming error, not a database one: it says so, and nothing is left open.
    with pytest.raises(ValueError, match="can be precompiled"), db.write_transaction() as tx:
        tx.first(statement, {"statuses": ["pending"]})
    with db.write_transaction() as tx:
        assert tx.first(_ROW, {"aid": action}) is not None


def test_read_only_databases_refuse_before_any_transaction(db_path: Path, action: int) -> None:
    read_only = open_database(db_path, read_only=True)
    try:
        with pytest.raises(StorageError, match="read-only"), read_only.write_transaction():
            pass
    finally:
        read_only.close()


def test_close_returns_the_held_connections(db_path: Path, action: int) -> None:
    db = open_database(db_path)
    with db.write_transaction() as tx:
        tx.first(_ROW, {"aid": action})
    pool = db.engine.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]  # held for the next decision
    db.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


def test_run_says_how_many_rows_changed(db: Database, action: int) -> None:
    """What a conditional UPDATE without RETURNING is judged by."""
    approve = (
        update(A)
        .where(A.id == bindparam("aid"), A.status == "pending")
        .values(status="approved", approved_at=bindparam("at"), approved_by=bindparam("who"))
    )
    params = {"aid": action, "at": AT, "who": "alice"}
    with db.write_transaction() as tx:
        assert tx.run(approve, params) == 1
        assert tx.run(approve, params) == 0  # no longer pending
        assert tx.run(approve, {**params, "aid": action + 1000}) == 0


def test_closing_during_a_transaction_closes_its_connection_when_it_ends(
    db_path: Path, action: int
) -> None:
    db = open_database(db_path)
    pool = db.engine.pool
    with db.write_transaction() as tx:
        assert tx.first(_ROW, {"aid": action}) is not None
        held = db.backend._held  # type: ignore[attr-defined]  # what close() closes first, before the engine
        assert held is not None
        held.close()  # another thread shutting down, say
        assert pool.checkedout() == 1  # type: ignore[attr-defined]  # still in use
    assert pool.checkedout() == 0  # type: ignore[attr-defined]  # not kept: closed
    db.close()


def _damage(db: Database, action: int) -> None:
    """Bytes that are not UTF-8 in one text column and a BLOB in another, as a
    hand-edited row may hold."""
    with db.writing() as conn:
        conn.exec_driver_sql(
            "UPDATE remediation_actions SET service_name = CAST(x'6e67ff' AS TEXT),"
            " stdout = x'00ff' WHERE id = ?",
            (action,),
        )


def test_a_decision_reads_text_that_is_not_utf8_as_every_other_read(
    db: Database, seeded: ApprovalService, action: int
) -> None:
    """Held connections read text with the driver's own factory and read again the
    tolerant way only when a value is not UTF-8: the decision's view is what any read
    gives, marked, and the next decision reads the fast way again."""
    _damage(db, action)
    before = seeded.get_action(action)
    view = seeded.approve(action, "alice")
    assert (view.service_name, view.stdout) == (before.service_name, before.stdout)
    assert problem_of(view.service_name) == "invalid UTF-8"
    assert problem_of(view.stdout) == "BLOB, not text"
    assert view == seeded.get_action(action)
    other = seeded.create_action("pi-4", "restart_service", "sshd", actor="homelabcmd").id
    again = seeded.approve(other, "alice")
    assert again.service_name == "sshd"
    assert problem_of(again.service_name) is None


def test_a_connection_given_back_to_the_pool_reads_text_tolerantly(
    db: Database, action: int
) -> None:
    """A held connection beyond the ones kept goes back to the engine's pool with the
    pool's tolerant text factory, so an ordinary read of a damaged row still works."""
    _damage(db, action)
    held = HeldConnections(db.engine, "test", keep=0)
    with held.transaction() as tx:
        assert tx.first(_ROW, {"aid": action}) is not None
    row = core_row(db, _ROW, aid=action)
    assert row is not None
    assert problem_of(row["service_name"]) == "invalid UTF-8"
    held.close()
