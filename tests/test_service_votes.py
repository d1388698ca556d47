"""Two-person approval and per-type approvers, through the service, on real SQLite files
and real PostgreSQL databases (`pytest.mark.backends`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.errors import InvalidTransition, PermissionDenied
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.service.bulk import Decision
from homelab_approvals.service.policy import TypeRule

TWO_PERSON = Policy(
    approvers=frozenset({"alice", "bob", "carol", "dave"}),
    allow_self_approval=False,
    rules={
        "apt_upgrade_all": TypeRule(approvals=2),
        "apt_update": TypeRule(approvers=frozenset({"alice"})),
        "clear_logs": TypeRule(approvals=2, approvers=frozenset({"alice", "bob", "carol"})),
    },
)


pytestmark = pytest.mark.backends


@pytest.fixture
def svc(db_target: DbTarget) -> Iterator[ApprovalService]:
    database = db_target.open()
    service = ApprovalService(database, TWO_PERSON)
    service.add_server("pi-4", "pi4.lan", paused=True)
    yield service
    database.close()


def events(db_target: DbTarget, action_id: int) -> list[tuple[object, ...]]:
    return db_target.execute(
        "SELECT from_status, to_status, actor, reason FROM action_events "
        "WHERE action_id = :action_id ORDER BY id",
        action_id=action_id,
    )


def test_two_votes_approve_and_the_second_voter_is_approved_by(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    action = svc.create_action("pi-4", "apt_upgrade_all", actor="robot")
    first = svc.approve(action.id, "alice")
    assert first.status == "pending"
    assert first.approved_by is None
    tally = svc.approval_tally(action.id)
    assert (tally.required, [a.actor for a in tally.approvals]) == (2, ["alice"])
    second = svc.approve(action.id, "bob")
    assert (second.status, second.approved_by) == ("approved", "bob")
    assert events(db_target, action.id) == [
        (None, "pending", "robot", None),
        ("pending", "pending", "alice", "approval 1 of 2"),
        ("pending", "approved", "bob", "approval 2 of 2"),
    ]
    assert [a.actor for a in svc.approval_tally(action.id).approvals] == ["alice", "bob"]


def test_the_same_person_twice_is_a_conflict_and_changes_nothing(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    action = svc.create_action("pi-4", "apt_upgrade_all", actor="robot")
    svc.approve(action.id, "alice")
    with pytest.raises(InvalidTransition, match=r"^already approved by you: 1 of 2$"):
        svc.approve(action.id, "alice")
    assert len(events(db_target, action.id)) == 2
    assert svc.get_action(action.id).status == "pending"


def test_the_creator_may_not_vote_without_self_approval(svc: ApprovalService) -> None:
    action = svc.create_action("pi-4", "apt_upgrade_all", actor="alice")
    with pytest.raises(PermissionDenied, match="created action"):
        svc.approve(action.id, "alice")
    assert svc.approval_tally(action.id).count == 0


def test_any_permitted_reject_ends_a_half_approved_action(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    action = svc.create_action("pi-4", "apt_upgrade_all", actor="robot")
    svc.approve(action.id, "alice")
    rejected = svc.reject(action.id, "bob", "not tonight")
    assert (rejected.status, rejected.rejected_by) == ("rejected", "bob")
    with pytest.raises(InvalidTransition, match="already rejected by bob"):
        svc.approve(action.id, "carol")


def test_other_types_keep_one_approval(svc: ApprovalService) -> None:
    action = svc.create_action("pi-4", "restart_service", "nginx", actor="robot")
    assert svc.approve(action.id, "alice").approved_by == "alice"
    assert svc.approval_tally(action.id).required == 1


def test_narrowed_approvers_forbid_that_type_only(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    update = svc.create_action("pi-4", "apt_update", actor="robot")
    for deny in (lambda: svc.approve(update.id, "bob"), lambda: svc.reject(update.id, "bob", "no")):
        with pytest.raises(PermissionDenied, match=r"rules\.apt_update\.approvers: alice"):
            deny()
    assert len(events(db_target, update.id)) == 1
    restart = svc.create_action("pi-4", "restart_service", "nginx", actor="robot")
    assert svc.approve(restart.id, "bob").status == "approved"
    assert svc.approve(update.id, "alice").approved_by == "alice"


def test_narrowed_and_voting_together(svc: ApprovalService) -> None:
    action = svc.create_action("pi-4", "clear_logs", actor="robot")
    with pytest.raises(PermissionDenied):
        svc.approve(action.id, "dave")
    svc.approve(action.id, "carol")
    assert svc.approve(action.id, "alice").approved_by == "alice"


def test_bulk_follows_the_rule_per_action(svc: ApprovalService) -> None:
    upgrade = svc.create_action("pi-4", "apt_upgrade_all", actor="robot")
    update = svc.create_action("pi-4", "apt_update", actor="robot")
    restart = svc.create_action("pi-4", "restart_service", "nginx", actor="robot")
    result = svc.decide_many([upgrade.id, update.id, restart.id], "bob", Decision.APPROVE)
    assert {v.id: v.status for v in result.succeeded} == {
        upgrade.id: "pending",
        restart.id: "approved",
    }
    assert list(result.refused) == [update.id]
    assert result.votes == (upgrade.id,)


def test_a_page_carries_the_votes_of_its_pending_rows(svc: ApprovalService) -> None:
    upgrade = svc.create_action("pi-4", "apt_upgrade_all", actor="robot")
    logs = svc.create_action("pi-4", "clear_logs", actor="robot")
    svc.approve(upgrade.id, "alice")
    svc.approve(logs.id, "carol")
    svc.approve(logs.id, "bob")  # the quorum: approved, no longer waiting
    assert svc.list_actions().votes == {upgrade.id: ("alice",)}
    assert svc.voters([svc.get_action(upgrade.id), svc.get_action(logs.id)]) == {
        upgrade.id: ("alice",)
    }


def test_without_rules_a_page_reads_no_votes(db_target: DbTarget) -> None:
    database = db_target.open()
    try:
        service = ApprovalService(database)
        service.add_server("pi-4", "pi4.lan", paused=True)
        action = service.create_action("pi-4", "apt_upgrade_all", actor="robot")
        service.approve(action.id, "alice")
        assert service.list_actions().votes == {}
    finally:
        database.close()
