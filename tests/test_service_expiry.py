"""Expiry through the service: stale pending actions are rejected by "expiry", stale
approvals fail and are never run, and each expiry is atomic against a decision or a claim
landing at the same moment. Real SQLite files and PostgreSQL databases (`backends`); the
claim is HomelabCmd's executor's conditional UPDATE, in plain SQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.durations import parse_duration
from homelab_approvals.domain.errors import ApprovalsError
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.service.policy import Expiry

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
pytestmark = pytest.mark.backends

EXPIRY = Policy(expiry=Expiry(pending=parse_duration("24h"), approved=parse_duration("2h")))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(db_target: DbTarget, clock: Clock) -> Iterator[ApprovalService]:
    database = db_target.open()
    service = ApprovalService(database, EXPIRY, clock=clock)
    service.add_server("pi-4", "pi4.lan", paused=True)
    service.add_server("nas", "nas.lan")
    yield service
    database.close()


def events(target: DbTarget, action_id: int) -> list[tuple[str | None, str, str, str | None]]:
    rows = target.execute(
        "SELECT from_status, to_status, actor, reason FROM action_events "
        "WHERE action_id = :id ORDER BY id",
        id=action_id,
    )
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def claim(target: DbTarget, action_id: int) -> bool:
    """What an executor does: one conditional UPDATE from approved to executing."""
    claimed = target.execute(
        "UPDATE remediation_actions SET status = 'executing' "
        "WHERE id = :id AND status = 'approved' RETURNING id",
        id=action_id,
    )
    return len(claimed) == 1


def test_a_stale_pending_action_is_rejected_by_expiry(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    old = svc.create_action("pi-4", "apt_update", actor="robot")
    clock.now = T0 + timedelta(hours=1)
    young = svc.create_action("pi-4", "clear_logs", actor="robot")
    clock.now = T0 + timedelta(hours=24, seconds=1)
    expired = svc.expire()
    assert [v.id for v in expired] == [old.id]
    view = svc.get_action(old.id)
    assert (view.status, view.rejected_by, view.rejection_reason) == (
        "rejected",
        "expiry",
        "expired: pending for more than 24h",
    )
    assert view.rejected_at == clock.now
    assert events(db_target, old.id)[-1] == (
        "pending",
        "rejected",
        "expiry",
        "expired: pending for more than 24h",
    )
    assert svc.get_action(young.id).status == "pending"
    assert svc.expire() == []  # nothing twice


def test_a_stale_approval_fails_and_is_never_claimed(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    action = svc.create_action("nas", "apt_update", actor="robot")  # approved at once
    assert svc.expire() == []
    clock.now = T0 + timedelta(hours=2, seconds=1)
    [expired] = svc.expire()
    assert (expired.status, expired.exit_code, expired.stderr) == (
        "failed",
        -1,
        "approval expired before it ran",
    )
    assert expired.completed_at == clock.now
    assert events(db_target, action.id)[-1][:3] == ("approved", "failed", "expiry")
    assert not claim(db_target, action.id)


def test_without_expiry_nothing_expires(db_target: DbTarget, clock: Clock) -> None:
    database = db_target.open()
    try:
        service = ApprovalService(database, clock=clock)
        service.add_server("pi-4", "pi4.lan", paused=True)
        action = service.create_action("pi-4", "apt_update", actor="robot")
        clock.now = T0 + timedelta(days=400)
        assert service.expire() == []
        assert service.get_action(action.id).status == "pending"
        assert service.expires_at(action) is None
    finally:
        database.close()


def test_expires_at(svc: ApprovalService) -> None:
    pending = svc.create_action("pi-4", "apt_update", actor="robot")
    approved = svc.create_action("nas", "apt_update", actor="robot")
    assert svc.expires_at(pending) == T0 + timedelta(hours=24)
    assert svc.expires_at(approved) == T0 + timedelta(hours=2)


def test_a_decision_between_the_sweep_and_its_update_wins(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    """The sweep's read found the action stale; a person approved it before the sweep's
    UPDATE ran. The UPDATE re-checks the status, so the approval stands, alone."""
    action = svc.create_action("pi-4", "apt_update", actor="robot")
    clock.now = T0 + timedelta(hours=25)
    original = svc._candidates

    def approve_first(stmt: object, cutoff: datetime) -> list[int]:
        found = original(stmt, cutoff)  # type: ignore[arg-type]
        if action.id in found and svc.get_action(action.id).status == "pending":
            svc.approve(action.id, "alice")
        return found

    svc._candidates = approve_first  # type: ignore[method-assign]
    assert svc.expire() == []
    view = svc.get_action(action.id)
    assert (view.status, view.approved_by) == ("approved", "alice")
    assert [e[2] for e in events(db_target, action.id)] == ["robot", "alice"]


def _race(target_a: object, target_b: object) -> list[object]:
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(index: int, target: object) -> None:
        barrier.wait(10)
        try:
            results[index] = target()  # type: ignore[operator]
        except ApprovalsError as error:
            results[index] = error

    threads = [
        threading.Thread(target=run, args=(i, t)) for i, t in enumerate([target_a, target_b])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.parametrize("round_", range(15))
def test_expiry_racing_a_decision_leaves_one_consistent_outcome(
    db_target: DbTarget, round_: int
) -> None:
    clock = Clock()
    first = db_target.open()
    second = db_target.open()
    try:
        sweeper = ApprovalService(first, EXPIRY, clock=clock)
        decider = ApprovalService(second, EXPIRY, clock=clock)
        sweeper.add_server("pi-4", "pi4.lan", paused=True)
        action = sweeper.create_action("pi-4", "apt_update", actor="robot")
        clock.now = T0 + timedelta(hours=30)
        _race(sweeper.expire, lambda: decider.approve(action.id, "alice"))
        view = sweeper.get_action(action.id)
        trail = events(db_target, action.id)
        assert len(trail) == 2, trail
        if view.status == "approved":
            assert (view.approved_by, view.rejected_by) == ("alice", None)
            assert trail[1][:3] == ("pending", "approved", "alice")
        else:
            assert (view.status, view.rejected_by, view.approved_by) == (
                "rejected",
                "expiry",
                None,
            )
            assert trail[1][:3] == ("pending", "rejected", "expiry")
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("round_", range(15))
def test_expiry_racing_a_claim_leaves_one_consistent_outcome(
    db_target: DbTarget, round_: int
) -> None:
    clock = Clock()
    database = db_target.open()
    try:
        sweeper = ApprovalService(database, EXPIRY, clock=clock)
        sweeper.add_server("nas", "nas.lan")
        action = sweeper.create_action("nas", "apt_update", actor="robot")
        clock.now = T0 + timedelta(hours=3)
        expired, claimed = _race(sweeper.expire, lambda: claim(db_target, action.id))
        view = sweeper.get_action(action.id)
        trail = events(db_target, action.id)
        if claimed:
            assert expired == []
            assert view.status == "executing"
            assert len(trail) == 2
        else:
            assert view.status == "failed"
            assert view.stderr == "approval expired before it ran"
            assert trail[-1][:3] == ("approved", "failed", "expiry")
    finally:
        database.close()


# -- the executor: a stale approval is never claimed, and the daemon sweeps -----------------


def test_the_executor_never_claims_a_stale_approval(
    svc: ApprovalService, clock: Clock, db_target: DbTarget
) -> None:
    from homelab_approvals.service.executions import ExecutionService

    stale = svc.create_action("nas", "apt_update", actor="robot")  # approved at T0
    clock.now = T0 + timedelta(hours=1, minutes=30)
    fresh = svc.create_action("nas", "clear_logs", actor="robot")
    clock.now = T0 + timedelta(hours=2, seconds=1)  # before any sweep has run
    executions = ExecutionService(svc.db, clock=clock, approved_expiry=timedelta(hours=2))
    assert executions.claimable() == [fresh.id]
    assert executions.claim(stale.id, "executor@test") is None
    assert svc.get_action(stale.id).status == "approved"  # the sweep will fail it
    [expired] = svc.expire()
    assert (expired.id, expired.status) == (stale.id, "failed")


def test_executor_once_sweeps_expiry_before_claiming(
    svc: ApprovalService, db_target: DbTarget, tmp_path: Path
) -> None:
    """The daemon's own sweep: a stale approval fails as expired and is never run (so no
    ssh is ever started for it)."""
    import subprocess
    import sys

    action = svc.create_action("nas", "apt_update", actor="robot")
    old = (datetime.now(UTC) - timedelta(hours=3)).replace(tzinfo=None).isoformat(" ")
    db_target.execute(
        "UPDATE remediation_actions SET approved_at = :old WHERE id = :id", old=old, id=action.id
    )
    config = tmp_path / "config.toml"
    config.write_text('[expiry]\napproved = "2h"\n', encoding="utf-8")
    argv = [sys.executable, "-m", "homelab_approvals", *db_target.cli_args]
    argv += ["--config", str(config), "executor", "--once", "--name", "executor@test"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    view = svc.get_action(action.id)
    assert (view.status, view.exit_code, view.stderr) == (
        "failed",
        -1,
        "approval expired before it ran",
    )
    assert events(db_target, action.id)[-1][:3] == ("approved", "failed", "expiry")
    assert "executing" not in [e[1] for e in events(db_target, action.id)]
