"""decide_many: each action its own transition; conflicts are per action and never stop
the rest; refusals of the whole call change nothing. Real SQLite files and real
PostgreSQL databases (`backends`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.errors import (
    ActionNotFound,
    InvalidTransition,
    PermissionDenied,
    StorageError,
    ValidationError,
)
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.service.bulk import Decision
from homelab_approvals.storage import open_database


def pending(service: ApprovalService, count: int) -> list[int]:
    return [
        service.create_action("pi-4", "restart_service", f"unit{n}", actor="automation").id
        for n in range(count)
    ]


def statuses(target: DbTarget) -> dict[int, tuple[Any, ...]]:
    rows = target.execute(
        "SELECT id, status, approved_by, rejected_by, rejection_reason"
        " FROM remediation_actions ORDER BY id"
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def events(target: DbTarget) -> int:
    return int(target.execute("SELECT count(*) FROM action_events")[0][0])


@pytest.mark.backends
def test_approves_each_in_order(seeded: ApprovalService, db_target: DbTarget) -> None:
    ids = pending(seeded, 3)
    result = seeded.decide_many(ids, "alice", Decision.APPROVE)
    assert result.succeeded_ids == tuple(ids)
    assert result.complete
    assert result.conflicts == {}
    assert result.refused == {}
    assert result.error is None
    assert all(view.approved_by == "alice" for view in result.succeeded)
    assert {aid: statuses(db_target)[aid][:2] for aid in ids} == dict.fromkeys(
        ids, ("approved", "alice")
    )


@pytest.mark.backends
def test_rejects_each_with_the_one_reason(seeded: ApprovalService, db_target: DbTarget) -> None:
    ids = pending(seeded, 2)
    result = seeded.decide_many(ids, "bob", "reject", "  not during the backup  ")
    assert result.succeeded_ids == tuple(ids)
    for aid in ids:
        assert statuses(db_target)[aid] == ("rejected", None, "bob", "not during the backup")


@pytest.mark.backends
def test_a_conflict_names_the_winner_and_never_stops_the_rest(
    seeded: ApprovalService, db_target: DbTarget
) -> None:
    first, taken, last = pending(seeded, 3)
    seeded.reject(taken, "bob", "flapping")
    result = seeded.decide_many([first, taken, last], "alice", Decision.APPROVE)
    assert result.succeeded_ids == (first, last)
    assert list(result.conflicts) == [taken]
    assert "rejected by bob" in result.conflicts[taken]
    assert not result.complete
    assert result.settled_ids == {first, taken, last}
    assert statuses(db_target)[taken] == ("rejected", None, "bob", "flapping")


@pytest.mark.backends
def test_a_missing_action_is_a_conflict_too(seeded: ApprovalService) -> None:
    (aid,) = pending(seeded, 1)
    result = seeded.decide_many([aid, 999], "alice", Decision.APPROVE)
    assert result.succeeded_ids == (aid,)
    assert "not found" in result.conflicts[999]


@pytest.mark.backends
def test_duplicates_are_decided_once(seeded: ApprovalService, db_target: DbTarget) -> None:
    (aid,) = pending(seeded, 1)
    before = events(db_target)
    result = seeded.decide_many([aid, aid], "alice", Decision.APPROVE)
    assert result.succeeded_ids == (aid,)
    assert result.complete
    assert events(db_target) == before + 1


@pytest.mark.backends
def test_self_approval_is_refused_per_action(db_target: DbTarget) -> None:
    db = db_target.open()
    try:
        service = ApprovalService(db, Policy(allow_self_approval=False))
        service.add_server("pi-4", "pi4.lan", paused=True)
        own = service.create_action("pi-4", "clear_logs", actor="alice").id
        other = service.create_action("pi-4", "apt_update", actor="automation").id
        result = service.decide_many([own, other], "alice", Decision.APPROVE)
        assert result.succeeded_ids == (other,)
        assert list(result.refused) == [own]
        assert statuses(db_target)[own][0] == "pending"
    finally:
        db.close()


@pytest.mark.parametrize(
    ("actor", "decision", "reason", "error"),
    [
        ("mallory", Decision.APPROVE, None, PermissionDenied),
        ("alice", Decision.REJECT, "   ", ValidationError),
        ("alice", Decision.REJECT, None, ValidationError),
        ("alice", Decision.REJECT, "bad\x1b[2J", ValidationError),
        ("", Decision.APPROVE, None, ValidationError),
    ],
)
@pytest.mark.backends
def test_whole_call_refusals_change_nothing(
    db_target: DbTarget,
    actor: str,
    decision: Decision,
    reason: str | None,
    error: type[Exception],
) -> None:
    db = db_target.open()
    try:
        service = ApprovalService(db, Policy(approvers=frozenset({"alice"})))
        service.add_server("pi-4", "pi4.lan", paused=True)
        ids = pending(service, 2)
        before = (statuses(db_target), events(db_target))
        with pytest.raises(error):
            service.decide_many(ids, actor, decision, reason)
        assert (statuses(db_target), events(db_target)) == before
    finally:
        db.close()


@pytest.mark.backends
def test_an_invalid_id_refuses_the_whole_call(seeded: ApprovalService, db_target: DbTarget) -> None:
    (aid,) = pending(seeded, 1)
    with pytest.raises(ValidationError):
        seeded.decide_many([aid, -1], "alice", Decision.APPROVE)
    assert statuses(db_target)[aid][0] == "pending"


@pytest.mark.backends
def test_unknown_decision_is_refused(seeded: ApprovalService) -> None:
    with pytest.raises(ValueError, match="delete"):
        seeded.decide_many([1], "alice", "delete")


def test_a_storage_failure_stops_the_batch_and_lists_what_was_not_tried(
    seeded: ApprovalService, db_path: Path, db_target: DbTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = pending(seeded, 3)
    # Keep the test fast: new connections wait 50 ms for the lock, not the default 5 s.
    monkeypatch.setattr("homelab_approvals.storage.sqlite.opening.BUSY_TIMEOUT_MS", 50)
    busy = ApprovalService(open_database(db_path))
    # Another process holds the write lock for longer than the busy timeout.
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = busy.decide_many(ids, "alice", Decision.APPROVE)
    finally:
        blocker.rollback()
        blocker.close()
        busy.db.close()
    assert result.succeeded_ids == ()
    assert result.error is not None
    assert "busy" in result.error
    assert result.not_attempted == tuple(ids)
    assert not result.complete
    assert all(status[0] == "pending" for status in statuses(db_target).values())


@pytest.mark.backends
def test_cancels_each_and_keeps_every_outcome_in_order(
    seeded: ApprovalService, db_target: DbTarget
) -> None:
    first, taken, last = pending(seeded, 3)
    seeded.reject(taken, "carol", "no")
    result = seeded.decide_many([last, 999, taken, first], "alice", Decision.CANCEL)
    assert list(result.outcomes) == [last, 999, taken, first]
    assert result.succeeded_ids == (last, first)
    assert isinstance(result.outcomes[999], ActionNotFound)
    assert isinstance(result.outcomes[taken], InvalidTransition)
    assert "rejected by carol" in result.outcomes[taken].message  # type: ignore[union-attr]
    assert statuses(db_target)[first][0] == statuses(db_target)[last][0] == "failed"


def test_what_a_storage_failure_left_untried_says_where_the_batch_stopped(
    seeded: ApprovalService, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = pending(seeded, 2)
    monkeypatch.setattr("homelab_approvals.storage.sqlite.opening.BUSY_TIMEOUT_MS", 50)
    busy = ApprovalService(open_database(db_path))
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = busy.decide_many(ids, "alice", Decision.APPROVE)
    finally:
        blocker.rollback()
        blocker.close()
        busy.db.close()
    first, second = (result.outcomes[aid] for aid in ids)
    assert isinstance(first, StorageError)
    assert isinstance(second, StorageError)
    assert second.code == first.code
    assert f"action {ids[1]} not attempted: the database failed on action {ids[0]}" in (
        second.message
    )
