"""approve / reject / cancel at the service level: every acceptance criterion and edge case
of the seed plan (PL0030), plus the audit trail each transition leaves.

Real SQLite files and real PostgreSQL databases (`backend`, tests/conftest.py); rows in
states the service cannot reach (executing, completed, a HomelabCmd-style failure) are
written with plain SQL, as HomelabCmd's executor would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.errors import (
    ActionNotFound,
    ApprovalsError,
    InvalidTransition,
    ValidationError,
)
from homelab_approvals.domain.views import ActionView
from homelab_approvals.service import ApprovalService
from homelab_approvals.service.listing import ActionQuery

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
DECIDED_AT = datetime(2026, 11, 27, 10, 2, 0, tzinfo=UTC)


class Clock:
    """A hand-moved clock, so audit times are exact."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


# Every decision test runs each way a decision's statements can run: on SQLite, the
# precompiled fast path on a held connection and SQLAlchemy's ordinary execution; on
# PostgreSQL, its own. This overrides conftest's `backend` (which `db_target` reads) for
# this module: the two SQLite ways have no PostgreSQL counterpart to multiply.
WAYS = ["sqlite-precompiled", "sqlite-core", "postgresql"]


@pytest.fixture(params=WAYS)
def way(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(way: str) -> str:
    return way.split("-")[0]


@pytest.fixture
def svc(way: str, db_target: DbTarget, clock: Clock) -> Iterator[ApprovalService]:
    database = db_target.open()
    if way.startswith("sqlite-"):
        database.backend.precompiled = way == "sqlite-precompiled"  # type: ignore[attr-defined]
    service = ApprovalService(database, clock=clock)
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    service.add_server("nas", "nas.lan")
    yield service
    database.close()


def action_row(target: DbTarget, action_id: int) -> dict[str, Any]:
    rows = target.rows("SELECT * FROM remediation_actions WHERE id = :id", id=action_id)
    assert len(rows) == 1
    return rows[0]


def event_rows(target: DbTarget, action_id: int | None = None) -> list[dict[str, Any]]:
    if action_id is None:
        return target.rows("SELECT * FROM action_events ORDER BY id")
    return target.rows(
        "SELECT * FROM action_events WHERE action_id = :id ORDER BY id", id=action_id
    )


def snapshot(target: DbTarget) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every action and event row, to prove a refused call changed nothing."""
    actions = target.execute("SELECT * FROM remediation_actions ORDER BY id")
    events = target.execute("SELECT * FROM action_events ORDER BY id")
    return actions, events


def pending(svc: ApprovalService, service_name: str = "nginx", actor: str = "bob") -> ActionView:
    action = svc.create_action("pi-4", "restart_service", service_name, actor=actor)
    assert action.status == "pending"
    return action


def insert_raw_action(target: DbTarget, status: str, **columns: Any) -> int:
    """An action in a state only HomelabCmd's executor reaches, as it would store it."""
    values: dict[str, Any] = {
        "server_id": "pi-4",
        "action_type": "restart_service",
        "status": status,
        "service_name": "sshd",
        "command": "systemctl restart sshd",
        "created_at": "2026-11-27 09:00:00.000000",
        "created_by": "dashboard",
        "approved_at": "2026-11-27 10:02:00.000000",
        "approved_by": "alice",
    }
    values.update(columns)
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    inserted = target.execute(
        f"INSERT INTO remediation_actions ({names}) VALUES ({marks}) RETURNING id", **values
    )
    return int(inserted[0][0])


def in_status(svc: ApprovalService, clock: Clock, db_target: DbTarget, status: str) -> int:
    """An action that alice moved to `status` at 10:02 UTC (by the service where it can)."""
    if status == "approved":
        action = pending(svc)
        clock.set(DECIDED_AT)
        svc.approve(action.id, "alice")
        return action.id
    if status == "rejected":
        action = pending(svc)
        clock.set(DECIDED_AT)
        svc.reject(action.id, "alice", "not now")
        return action.id
    if status == "executing":
        return insert_raw_action(db_target, status, executed_at="2026-11-27 10:03:00.000000")
    if status == "completed":
        return insert_raw_action(
            db_target,
            status,
            executed_at="2026-11-27 10:03:00.000000",
            completed_at="2026-11-27 10:04:00.000000",
            exit_code=0,
        )
    if status == "failed":
        return insert_raw_action(
            db_target,
            status,
            executed_at="2026-11-27 10:03:00.000000",
            completed_at="2026-11-27 10:04:00.000000",
            exit_code=1,
            stderr="Job for sshd.service failed",
        )
    raise AssertionError(status)


# -- AC1 / AC4: approve ------------------------------------------------------------------------


def test_approve_moves_pending_to_approved_with_audit_fields(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = pending(svc)
    clock.set(DECIDED_AT)

    approved = svc.approve(action.id, "alice")

    assert approved.status == "approved"
    assert approved.approved_by == "alice"
    assert approved.approved_at == DECIDED_AT
    assert approved.rejected_at is None
    assert approved.rejected_by is None
    assert approved.rejection_reason is None
    assert approved.completed_at is None
    assert approved.exit_code is None
    # What the caller got is what is stored.
    stored = svc.get_action(action.id)
    assert stored.status == approved.status
    assert stored.approved_at == approved.approved_at
    assert stored.approved_by == approved.approved_by
    # Everything else about the action is untouched.
    assert stored.created_at == T0
    assert stored.created_by == "bob"
    assert stored.command == "systemctl restart nginx"
    row = action_row(db_target, action.id)
    assert row["status"] == "approved"
    assert row["approved_by"] == "alice"
    assert row["approved_at"] == "2026-11-27 10:02:00.000000"


def test_approve_writes_exactly_one_event(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = pending(svc)
    clock.set(DECIDED_AT)
    svc.approve(action.id, "alice")

    events = event_rows(db_target, action.id)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        (None, "pending", "bob"),
        ("pending", "approved", "alice"),
    ]
    assert events[1]["at"] == "2026-11-27 10:02:00.000000"
    assert events[1]["reason"] is None
    views = svc.list_events(action_id=action.id)
    assert [v.at for v in views] == [T0, DECIDED_AT]
    assert all(v.at.tzinfo is UTC for v in views)


@pytest.mark.parametrize("verb", ["approve", "reject", "cancel"])
def test_a_decision_returns_the_action_exactly_as_get_action_shows_it(
    svc: ApprovalService, clock: Clock, verb: str
) -> None:
    """With its server's label and pause state too (the same join as get_action), so
    `approve --json` prints what `show --json` prints."""
    action = pending(svc)
    clock.set(DECIDED_AT)
    decided = decide(svc, verb, action.id, "alice")
    assert decided == svc.get_action(action.id)
    assert type(decided) is ActionView
    assert (decided.server_label, decided.server_paused) == ("PI-4", True)


def test_actor_is_trimmed_before_it_is_recorded(svc: ApprovalService, db_target: DbTarget) -> None:
    action = pending(svc)
    svc.approve(action.id, "  alice  ")
    assert action_row(db_target, action.id)["approved_by"] == "alice"
    assert event_rows(db_target, action.id)[-1]["actor"] == "alice"


# -- AC2 / AC5: reject -------------------------------------------------------------------------


def test_reject_moves_pending_to_rejected_with_reason(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = pending(svc)
    clock.set(DECIDED_AT)

    rejected = svc.reject(action.id, "alice", "  Recovered on its own  ")

    assert rejected.status == "rejected"
    assert rejected.rejected_by == "alice"
    assert rejected.rejected_at == DECIDED_AT
    assert rejected.rejection_reason == "Recovered on its own"
    assert rejected.approved_at is None
    assert rejected.approved_by is None
    row = action_row(db_target, action.id)
    assert row["rejection_reason"] == "Recovered on its own"
    assert row["rejected_at"] == "2026-11-27 10:02:00.000000"
    events = event_rows(db_target, action.id)
    assert len(events) == 2
    assert events[1] | {"id": None} == {
        "id": None,
        "action_id": action.id,
        "from_status": "pending",
        "to_status": "rejected",
        "actor": "alice",
        "at": "2026-11-27 10:02:00.000000",
        "reason": "Recovered on its own",
        "command": None,
    }


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        (None, "required"),
        ("", "required"),
        ("   ", "required"),
        ("\u3000\u2003 ", "required"),  # unicode spaces only
        ("x" * 1001, "at most 1000"),
        ("  " + "x" * 1001 + "  ", "at most 1000"),
        ("line one\nline two", "control characters"),
        ("tab\there", "control characters"),
        ("nul\x00byte", "control characters"),
        ("\x1b[2Jclear the screen", "control characters"),
        ("bell\x07", "control characters"),
        ("del\x7f", "control characters"),
        ("c1\x9bcontrol", "control characters"),
        ("rtl \u202eoverride", "control characters"),
        ("isolate \u2066x\u2069", "control characters"),
        ("line\u2028separator", "control characters"),
    ],
)
def test_bad_rejection_reasons_are_refused_and_change_nothing(
    svc: ApprovalService, db_target: DbTarget, reason: str | None, why: str
) -> None:
    action = pending(svc)
    before = snapshot(db_target)

    with pytest.raises(ValidationError, match=why) as caught:
        svc.reject(action.id, "alice", reason)

    assert caught.value.code == "VALIDATION_ERROR"
    assert snapshot(db_target) == before


@pytest.mark.parametrize(
    "reason",
    [
        "x" * 1000,
        "   " + "y" * 1000 + "   ",  # 1000 after trimming
        "é" * 1000,  # characters, not bytes
        "🙂" * 1000,
        "ok",
        "[bold]not markup[/bold] [@click=app.quit]boom[/]",
        "שלום — مرحبا",
    ],
)
def test_good_rejection_reasons_are_stored_trimmed(
    svc: ApprovalService, db_target: DbTarget, reason: str
) -> None:
    action = pending(svc)
    rejected = svc.reject(action.id, "alice", reason)
    assert rejected.rejection_reason == reason.strip()
    assert action_row(db_target, action.id)["rejection_reason"] == reason.strip()
    assert event_rows(db_target, action.id)[-1]["reason"] == reason.strip()


# -- not found ---------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["approve", "reject", "cancel"])
def test_unknown_action_is_not_found(svc: ApprovalService, db_target: DbTarget, verb: str) -> None:
    pending(svc)
    before = snapshot(db_target)
    with pytest.raises(ActionNotFound, match="action 999 not found") as caught:
        decide(svc, verb, 999, "alice")
    assert caught.value.code == "NOT_FOUND"
    assert snapshot(db_target) == before


@pytest.mark.parametrize("bad_id", [0, -1, -(2**63), 2**63, 10**30])
@pytest.mark.parametrize("verb", ["approve", "reject", "cancel"])
def test_impossible_ids_are_refused(
    svc: ApprovalService, db_target: DbTarget, verb: str, bad_id: int
) -> None:
    pending(svc)
    before = snapshot(db_target)
    with pytest.raises(ValidationError, match="positive integer"):
        decide(svc, verb, bad_id, "alice")
    assert snapshot(db_target) == before


def test_largest_sqlite_id_is_just_not_found(svc: ApprovalService) -> None:
    with pytest.raises(ActionNotFound):
        svc.approve(2**63 - 1, "alice")


@pytest.mark.parametrize("big_id", [2**31, 2**63 - 1])
def test_ids_past_what_the_database_holds_are_not_found_everywhere(
    svc: ApprovalService, big_id: int
) -> None:
    """PostgreSQL's ids are HomelabCmd's 32-bit `integer`: a larger id is no row, not a
    database error ("integer out of range") in any call that takes one."""
    pending(svc)
    for verb in ("approve", "reject", "cancel"):
        with pytest.raises(ActionNotFound, match=f"action {big_id} not found"):
            decide(svc, verb, big_id, "alice")
    with pytest.raises(ActionNotFound, match=f"action {big_id} not found"):
        svc.get_action(big_id)
    with pytest.raises(ActionNotFound, match=f"action {big_id} not found"):
        svc.request_preview(big_id, "alice")
    assert svc.list_events(action_id=big_id) == []
    assert svc.get_preview(big_id) is None
    page = svc.list_actions(ActionQuery(search=f"#{big_id}"))
    assert page.rows == ()


def decide(svc: ApprovalService, verb: str, action_id: int, actor: str) -> ActionView:
    if verb == "approve":
        return svc.approve(action_id, actor)
    if verb == "reject":
        return svc.reject(action_id, actor, "not needed")
    return svc.cancel(action_id, actor)


# -- AC3: conflicts from every non-pending status ----------------------------------------------

NOT_PENDING = ["approved", "rejected", "executing", "completed", "failed"]


@pytest.mark.parametrize("status", NOT_PENDING)
@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_deciding_a_non_pending_action_is_a_conflict(
    svc: ApprovalService, clock: Clock, db_target: DbTarget, verb: str, status: str
) -> None:
    action_id = in_status(svc, clock, db_target, status)
    clock.set(DECIDED_AT + timedelta(minutes=30))
    before = snapshot(db_target)

    with pytest.raises(InvalidTransition) as caught:
        decide(svc, verb, action_id, "carol")

    error = caught.value
    assert error.code == "CONFLICT"
    # The message names the current status, who decided it and when.
    assert f"action {action_id}" in error.message
    assert f"already {status}" in error.message
    assert "alice" in error.message
    assert "2026-11-27 10:02 UTC" in error.message
    assert "\n" not in error.message
    assert snapshot(db_target) == before


@pytest.mark.parametrize("status", ["rejected", "executing", "completed", "failed"])
def test_cancelling_a_finished_or_running_action_is_a_conflict(
    svc: ApprovalService, clock: Clock, db_target: DbTarget, status: str
) -> None:
    action_id = in_status(svc, clock, db_target, status)
    before = snapshot(db_target)

    with pytest.raises(InvalidTransition) as caught:
        svc.cancel(action_id, "carol")

    assert f"already {status}" in caught.value.message
    assert "alice" in caught.value.message
    assert snapshot(db_target) == before


def test_conflict_message_reads_like_the_design(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action_id = in_status(svc, clock, db_target, "approved")
    with pytest.raises(InvalidTransition) as caught:
        svc.approve(action_id, "bob")
    assert caught.value.message == (
        f"cannot approve action {action_id}: already approved by alice at 2026-11-27 10:02 UTC"
    )


def test_conflict_after_auto_approval_names_auto(svc: ApprovalService, clock: Clock) -> None:
    action = svc.create_action("nas", "clear_logs", actor="cron")
    with pytest.raises(InvalidTransition, match="already approved by auto at 2026-11-27 10:00 UTC"):
        svc.reject(action.id, "alice", "no")


def test_conflict_after_cancel_names_who_cancelled(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = pending(svc)
    clock.set(DECIDED_AT)
    svc.cancel(action.id, "alice")
    with pytest.raises(InvalidTransition) as caught:
        svc.approve(action.id, "bob")
    assert caught.value.message == (
        f"cannot approve action {action.id}: "
        "already failed (cancelled by alice at 2026-11-27 10:02 UTC)"
    )


def test_conflict_on_an_executor_owned_row_names_the_approval(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    """HomelabCmd's executor leaves no event; the decision behind the row is the approval."""
    action_id = in_status(svc, clock, db_target, "executing")
    with pytest.raises(InvalidTransition) as caught:
        svc.cancel(action_id, "bob")
    assert caught.value.message == (
        f"cannot cancel action {action_id}: already executing "
        "(approved by alice at 2026-11-27 10:02 UTC); "
        "only approved or pending actions can be cancelled"
    )


def test_second_decision_by_the_same_person_is_also_a_conflict(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    action = pending(svc)
    svc.approve(action.id, "alice")
    with pytest.raises(InvalidTransition):
        svc.approve(action.id, "alice")
    assert len(event_rows(db_target, action.id)) == 2


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_pending_fails_it_like_homelabcmd(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = pending(svc)
    clock.set(DECIDED_AT)

    cancelled = svc.cancel(action.id, "alice")

    assert cancelled.status == "failed"
    assert cancelled.exit_code == -1
    assert cancelled.stderr == "Action cancelled by user"
    assert cancelled.completed_at == DECIDED_AT
    assert cancelled.approved_by is None
    assert cancelled.rejected_by is None
    row = action_row(db_target, action.id)
    assert (row["status"], row["exit_code"], row["stderr"]) == (
        "failed",
        -1,
        "Action cancelled by user",
    )
    events = event_rows(db_target, action.id)
    assert [(e["from_status"], e["to_status"], e["actor"], e["reason"]) for e in events] == [
        (None, "pending", "bob", None),
        ("pending", "failed", "alice", "cancelled"),  # not a failed run: a cancel
    ]
    assert events[-1]["at"] == "2026-11-27 10:02:00.000000"


def test_cancel_approved_keeps_the_approval_and_records_where_it_came_from(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = pending(svc)
    clock.set(DECIDED_AT)
    svc.approve(action.id, "alice")
    clock.set(DECIDED_AT + timedelta(minutes=5))

    cancelled = svc.cancel(action.id, "carol")

    assert cancelled.status == "failed"
    assert cancelled.exit_code == -1
    assert cancelled.stderr == "Action cancelled by user"
    assert cancelled.approved_by == "alice"
    assert cancelled.approved_at == DECIDED_AT
    assert cancelled.completed_at == DECIDED_AT + timedelta(minutes=5)
    events = event_rows(db_target, action.id)
    assert [(e["from_status"], e["to_status"], e["actor"], e["reason"]) for e in events] == [
        (None, "pending", "bob", None),
        ("pending", "approved", "alice", None),
        ("approved", "failed", "carol", "cancelled"),
    ]


def test_cancel_an_auto_approved_action(svc: ApprovalService, db_target: DbTarget) -> None:
    action = svc.create_action("nas", "apt_update", actor="cron")
    svc.cancel(action.id, "alice")
    events = event_rows(db_target, action.id)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        (None, "pending", "cron"),
        ("pending", "approved", "auto"),
        ("approved", "failed", "alice"),
    ]


def test_cancel_a_homelabcmd_approved_row_with_no_events(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    action_id = insert_raw_action(db_target, "approved")
    svc.cancel(action_id, "alice")
    assert [(e["from_status"], e["to_status"]) for e in event_rows(db_target, action_id)] == [
        ("approved", "failed")
    ]


# -- who may act: the actor itself is input ----------------------------------------------------


@pytest.mark.parametrize(
    "actor", ["", "   ", "a" * 51, "ali\x00ce", "ali\nce", "\x1b[31mred", "bob\u202e"]
)
@pytest.mark.parametrize("verb", ["approve", "reject", "cancel"])
def test_bad_actor_names_are_refused_and_change_nothing(
    svc: ApprovalService, db_target: DbTarget, verb: str, actor: str
) -> None:
    action = pending(svc)
    before = snapshot(db_target)
    with pytest.raises(ValidationError):
        decide(svc, verb, action.id, actor)
    assert snapshot(db_target) == before


# -- time --------------------------------------------------------------------------------------


def test_times_from_another_zone_are_stored_as_utc(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = pending(svc)
    clock.set(datetime(2026, 11, 27, 12, 2, 0, tzinfo=timezone(timedelta(hours=2))))
    approved = svc.approve(action.id, "alice")
    assert approved.approved_at == DECIDED_AT
    assert approved.approved_at is not None
    assert approved.approved_at.utcoffset() == timedelta(0)
    assert action_row(db_target, action.id)["approved_at"] == "2026-11-27 10:02:00.000000"
    with pytest.raises(InvalidTransition, match="10:02 UTC"):
        svc.approve(action.id, "bob")


def test_real_clock_times_are_aware_utc_with_microseconds(db_target: DbTarget) -> None:
    database = db_target.open()
    try:
        service = ApprovalService(database)
        service.add_server("pi-4", "pi4.lan", paused=True)
        action = service.create_action("pi-4", "clear_logs", actor="bob")
        decided = service.approve(action.id, "alice")
    finally:
        database.close()
    assert decided.created_at.tzinfo is UTC
    assert decided.approved_at is not None
    assert decided.approved_at.tzinfo is UTC
    assert decided.approved_at >= decided.created_at
    stored = action_row(db_target, action.id)["approved_at"]
    assert datetime.strptime(stored, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC) == (
        decided.approved_at
    )


def test_every_error_is_one_line_with_a_code(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action_id = in_status(svc, clock, db_target, "rejected")
    errors: list[ApprovalsError] = []
    for call in (
        lambda: svc.approve(action_id, "bob"),
        lambda: svc.approve(12345, "bob"),
        lambda: svc.reject(action_id, "bob", ""),
        lambda: svc.cancel(action_id, "bob"),
    ):
        with pytest.raises(ApprovalsError) as caught:
            call()
        errors.append(caught.value)
    assert [e.code for e in errors] == ["CONFLICT", "NOT_FOUND", "VALIDATION_ERROR", "CONFLICT"]
    assert all(e.message and "\n" not in e.message for e in errors)
