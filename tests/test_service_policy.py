"""Who may decide (issue 5), enforced in the service so the CLI and the console share it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.errors import (
    ActionNotFound,
    InvalidTransition,
    PermissionDenied,
    ValidationError,
)
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.storage import Database

pytestmark = pytest.mark.backends


@pytest.fixture
def database(db_target: DbTarget) -> Iterator[Database]:
    db = db_target.open()
    setup = ApprovalService(db)
    setup.add_server("pi-4", "pi4.lan", paused=True)
    yield db
    db.close()


def new_pending(db: Database, service_name: str = "nginx", actor: str = "bob") -> int:
    return (
        ApprovalService(db).create_action("pi-4", "restart_service", service_name, actor=actor).id
    )


ONLY_ALICE = Policy(approvers=frozenset({"alice"}))


@pytest.mark.parametrize("verb", ["approve", "reject", "cancel"])
def test_non_approvers_are_forbidden(database: Database, db_target: DbTarget, verb: str) -> None:
    action_id = new_pending(database)
    service = ApprovalService(database, ONLY_ALICE)
    before = db_target.snapshot()

    with pytest.raises(PermissionDenied) as caught:
        decide(service, verb, action_id, "mallory")

    assert caught.value.code == "FORBIDDEN"
    assert "'mallory'" in caught.value.message
    assert "approvers" in caught.value.message
    assert db_target.snapshot() == before
    assert not service.may_decide("mallory")


@pytest.mark.parametrize("verb", ["approve", "reject", "cancel"])
def test_approvers_may_decide(database: Database, verb: str) -> None:
    action_id = new_pending(database)
    service = ApprovalService(database, ONLY_ALICE)
    assert service.may_decide("alice")
    assert decide(service, verb, action_id, "alice").status != "pending"


def test_approver_names_match_after_trimming_and_exactly(database: Database) -> None:
    service = ApprovalService(database, ONLY_ALICE)
    first, second = new_pending(database, "a"), new_pending(database, "b")
    assert service.approve(first, "  alice ").approved_by == "alice"
    with pytest.raises(PermissionDenied):
        service.approve(second, "Alice")  # names are case-sensitive, like Unix logins


def test_forbidden_comes_before_not_found(database: Database) -> None:
    """A non-approver learns nothing about which ids exist."""
    service = ApprovalService(database, ONLY_ALICE)
    with pytest.raises(PermissionDenied):
        service.approve(424242, "mallory")
    with pytest.raises(ActionNotFound):
        service.approve(424242, "alice")


def test_an_empty_approvers_list_means_nobody_decides(database: Database) -> None:
    action_id = new_pending(database)
    service = ApprovalService(database, Policy(approvers=frozenset()))
    with pytest.raises(PermissionDenied):
        service.approve(action_id, "alice")


def test_non_approvers_may_still_read_and_propose(database: Database) -> None:
    service = ApprovalService(database, ONLY_ALICE)
    action = service.create_action("pi-4", "clear_logs", actor="mallory")
    assert service.get_action(action.id).created_by == "mallory"
    assert service.list_actions().total == 1


NO_SELF = Policy(allow_self_approval=False)


def test_self_approval_can_be_forbidden(database: Database, db_target: DbTarget) -> None:
    action_id = new_pending(database, actor="bob")
    service = ApprovalService(database, NO_SELF)
    before = db_target.snapshot()

    with pytest.raises(PermissionDenied) as caught:
        service.approve(action_id, "bob")

    assert caught.value.code == "FORBIDDEN"
    assert "allow_self_approval" in caught.value.message
    assert db_target.snapshot() == before
    # Someone else may.
    assert service.approve(action_id, "alice").approved_by == "alice"


def test_self_approval_check_uses_the_trimmed_name(database: Database) -> None:
    action_id = new_pending(database, actor="bob")
    with pytest.raises(PermissionDenied):
        ApprovalService(database, NO_SELF).approve(action_id, " bob ")


def test_rejecting_or_cancelling_your_own_action_stays_allowed(database: Database) -> None:
    service = ApprovalService(database, NO_SELF)
    first, second = new_pending(database, "a", actor="bob"), new_pending(database, "b", actor="bob")
    assert service.reject(first, "bob", "changed my mind").status == "rejected"
    assert service.cancel(second, "bob").status == "failed"


def test_self_approval_of_a_decided_action_is_a_conflict_not_forbidden(
    database: Database,
) -> None:
    action_id = new_pending(database, actor="bob")
    service = ApprovalService(database, NO_SELF)
    service.approve(action_id, "alice")
    with pytest.raises(InvalidTransition, match="already approved by alice"):
        service.approve(action_id, "bob")


def test_self_approval_of_an_unknown_action_is_not_found(database: Database) -> None:
    with pytest.raises(ActionNotFound):
        ApprovalService(database, NO_SELF).approve(99, "bob")


def test_the_default_policy_matches_the_single_user_seed(database: Database) -> None:
    action_id = new_pending(database, actor="bob")
    service = ApprovalService(database)
    assert service.policy == Policy()
    assert service.may_decide("anyone")
    assert service.approve(action_id, "bob").approved_by == "bob"


def test_both_rules_together(database: Database) -> None:
    policy = Policy(approvers=frozenset({"alice", "bob"}), allow_self_approval=False)
    service = ApprovalService(database, policy)
    action_id = new_pending(database, actor="bob")
    with pytest.raises(PermissionDenied):
        service.approve(action_id, "bob")
    with pytest.raises(PermissionDenied):
        service.approve(action_id, "carol")
    assert service.approve(action_id, "alice").status == "approved"


def test_a_bad_actor_is_a_validation_error_before_any_policy(database: Database) -> None:
    service = ApprovalService(database, ONLY_ALICE)
    with pytest.raises(ValidationError):
        service.approve(1, "")


def decide(service: ApprovalService, verb: str, action_id: int, actor: str) -> Any:
    if verb == "approve":
        return service.approve(action_id, actor)
    if verb == "reject":
        return service.reject(action_id, actor, "no")
    return service.cancel(action_id, actor)
