"""Previews in the service, on real SQLite files and PostgreSQL databases (`backends`):
recording probe results, staleness, the plan an approval binds, what a later plan adds,
and live output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus, ActionType
from homelab_approvals.domain.errors import InvalidTransition, ValidationError
from homelab_approvals.domain.probes import ProbeRun, probe_for
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.service.policy import TypeRule
from homelab_approvals.service.preview_settings import PlanCheck, PreviewSettings
from homelab_approvals.storage import Database

pytestmark = pytest.mark.backends

TRANSCRIPTS = Path(__file__).parent / "transcripts"
APT = probe_for(ActionType.APT_UPGRADE_ALL, None)
assert APT is not None


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(db: Database, clock: Clock) -> ApprovalService:
    service = ApprovalService(db, clock=clock)
    service.add_server("nas", "nas.lan", paused=True)
    return service


def transcript(name: str) -> str:
    return (TRANSCRIPTS / name).read_text()


def ok(name: str) -> ProbeRun:
    return ProbeRun(0, transcript(name))


def test_a_preview_keeps_the_whole_plan_but_caps_the_stored_output(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    assert svc.get_preview(action.id) is None
    output = transcript("apt-get-s-dist-upgrade-root.txt")
    assert len(output) > 10_000
    preview = svc.record_preview(action.id, APT, ProbeRun(0, output))
    assert preview.summary == "upgrade 105"
    assert preview.output is not None
    assert len(preview.output) == 10_000
    assert output.startswith(preview.output)
    assert preview.digest is not None
    assert len(preview.digest) == 64
    again = svc.get_preview(action.id)
    assert again == preview
    [row] = db_target.execute(
        "SELECT probe_command, exit_code, length(output) FROM approval_previews"
    )
    assert row == (APT.command, 0, 10_000)


def test_a_failed_probe_says_why_in_its_own_words(svc: ApprovalService) -> None:
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    refused = ProbeRun(
        255, "", "ssh: connect to host nas.lan port 22: Connection refused\r\n", failure=None
    )
    preview = svc.record_preview(action.id, APT, refused)
    assert preview.plan is None
    assert preview.digest is None
    assert preview.summary == "no plan: ssh: connect to host nas.lan port 22: Connection refused"
    timed_out = ProbeRun(None, "Reading package lists...\n", failure="timed out after 30 s")
    assert svc.record_preview(action.id, APT, timed_out).error == "timed out after 30 s"
    garbage = ProbeRun(0, "E: something odd\n")
    assert "neither operations nor its summary" in str(
        svc.record_preview(action.id, APT, garbage).error
    )


def test_stale_previews_are_taken_again_while_pending(svc: ApprovalService, clock: Clock) -> None:
    apt = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    nginx = svc.create_action("nas", "restart_service", "nginx", actor="bot")
    update = svc.create_action("nas", "apt_update", actor="bot")  # no probe
    actions = svc.list_actions().rows
    assert {a.id for a in svc.actions_needing_preview(actions)} == {apt.id, nginx.id}
    svc.record_preview(apt.id, APT, ok("apt-get-s-remove-zip.txt"))
    assert {a.id for a in svc.actions_needing_preview(actions)} == {nginx.id}
    clock.now += timedelta(minutes=15)
    assert {a.id for a in svc.actions_needing_preview(actions)} == {apt.id, nginx.id}
    svc.reject(nginx.id, "alice", "not now")
    actions = svc.list_actions().rows
    assert {a.id for a in svc.actions_needing_preview(actions)} == {apt.id}
    assert update.id not in {a.id for a in svc.actions_needing_preview(actions)}
    custom = ApprovalService(
        svc.db, clock=clock, preview_settings=PreviewSettings(max_age=timedelta(hours=1))
    )
    assert custom.actions_needing_preview(actions) == []


def test_the_approval_binds_the_plan_the_approver_saw(svc: ApprovalService) -> None:
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    shown = svc.record_preview(action.id, APT, ok("apt-get-s-dist-upgrade-kernel-removal.txt"))
    svc.approve(action.id, "alice", plan=PlanCheck.expect(shown.digest))
    bound = svc.bound_preview(action.id)
    assert bound is not None
    assert bound.digest == shown.digest


def test_a_plan_that_changed_since_it_was_shown_refuses_and_changes_nothing(
    svc: ApprovalService,
) -> None:
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    shown = svc.record_preview(action.id, APT, ok("apt-get-s-remove-zip.txt"))
    svc.record_preview(action.id, APT, ok("apt-get-s-dist-upgrade-kernel-removal.txt"))
    with pytest.raises(InvalidTransition, match="plan changed since it was shown") as refusal:
        svc.approve(action.id, "alice", plan=PlanCheck.expect(shown.digest))
    assert "upgrade 8, install 13 (new kernel), remove 1" in str(refusal.value)
    assert svc.get_action(action.id).status == ActionStatus.PENDING
    assert svc.bound_preview(action.id) is None
    assert [e.to_status for e in svc.list_events(action.id)] == ["pending"]
    # Shown nothing, but a plan exists now: refused as well.
    with pytest.raises(InvalidTransition):
        svc.approve(action.id, "alice", plan=PlanCheck.expect(None))


def test_bind_current_and_no_preview(svc: ApprovalService) -> None:
    first = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    current = svc.record_preview(first.id, APT, ok("apt-get-s-remove-zip.txt"))
    svc.approve(first.id, "alice", plan=PlanCheck.bind_current())
    bound = svc.bound_preview(first.id)
    assert bound is not None
    assert bound.digest == current.digest
    svc.add_server("pi", "pi.lan", paused=True)
    second = svc.create_action("pi", "apt_upgrade_all", actor="bot")
    svc.approve(second.id, "alice", plan=PlanCheck.bind_current())  # no preview: nothing
    assert svc.bound_preview(second.id) is None
    failed = svc.create_action("pi", "apt_upgrade_security", actor="bot")
    security = probe_for(ActionType.APT_UPGRADE_SECURITY, None)
    assert security is not None
    svc.record_preview(failed.id, security, ProbeRun(1, "", "sudo: a password is required\n"))
    svc.approve(failed.id, "alice", plan=PlanCheck.expect(None))  # a failed preview binds nothing
    assert svc.bound_preview(failed.id) is None


def test_informing_previews_neither_bind_nor_refuse(svc: ApprovalService) -> None:
    action = svc.create_action("nas", "restart_service", "nginx", actor="bot")
    probe = probe_for(ActionType.RESTART_SERVICE, "nginx")
    assert probe is not None
    svc.record_preview(action.id, probe, ProbeRun(0, "ActiveState=failed\nNRestarts=3\n"))
    svc.approve(action.id, "alice", plan=PlanCheck.expect("0" * 64))
    assert svc.bound_preview(action.id) is None


def test_plan_changes_before_the_run(svc: ApprovalService) -> None:
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    svc.record_preview(action.id, APT, ok("apt-get-s-dist-upgrade-kernel-removal.txt"))
    svc.approve(action.id, "alice", plan=PlanCheck.bind_current())
    same = svc.record_preview(action.id, APT, ok("apt-get-s-dist-upgrade-kernel-removal.txt"))
    assert svc.plan_changes(action.id, same) == []
    shrunk = svc.record_preview(action.id, APT, ok("apt-get-s-remove-zip.txt"))
    assert svc.plan_changes(action.id, shrunk) == []
    grown = svc.record_preview(action.id, APT, ok("apt-get-s-dist-upgrade-root.txt"))
    changes = svc.plan_changes(action.id, grown)
    assert changes is not None
    assert "added: upgrade bash 5.2.15-2+b13" in changes
    assert len(changes) == 105 - 8 + sum(1 for c in changes if c.startswith("other version"))
    failed = svc.record_preview(action.id, APT, ProbeRun(255, "", "Connection refused"))
    assert svc.plan_changes(action.id, failed) == ["no plan now: Connection refused"]


def test_live_output_in_order(svc: ApprovalService) -> None:
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    svc.add_output(action.id, [("stdout", "Reading package lists...\n"), ("stderr", "W: x\n")])
    svc.add_output(action.id, [("stdout", ""), ("stdout", "Done\n")])
    chunks, last = svc.output_since(action.id)
    assert [(c.stream, c.text) for c in chunks] == [
        ("stdout", "Reading package lists...\n"),
        ("stderr", "W: x\n"),
        ("stdout", "Done\n"),
    ]
    assert svc.output_since(action.id, last) == ([], last)
    assert svc.output_since(action.id + 1) == ([], 0)


def test_every_vote_must_be_for_the_same_plan(db: Database, clock: Clock) -> None:
    """Two-person approval: the plan changed between the votes, so the second is refused
    and the action stays pending; a vote for the plan of the first completes it."""
    rules = {"apt_upgrade_all": TypeRule(approvals=2)}
    svc = ApprovalService(db, Policy(rules=rules), clock=clock)
    svc.add_server("nas", "nas.lan", paused=True)
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    first = svc.record_preview(action.id, APT, ok("apt-get-s-remove-zip.txt"))
    assert svc.approve(action.id, "alice", plan=PlanCheck.expect(first.digest)).status == "pending"
    svc.record_preview(action.id, APT, ok("apt-get-s-dist-upgrade-kernel-removal.txt"))
    with pytest.raises(InvalidTransition, match="alice approved another plan"):
        svc.approve(action.id, "bob", plan=PlanCheck.bind_current())
    assert svc.get_action(action.id).status == ActionStatus.PENDING
    assert svc.approval_tally(action.id).count == 1
    svc.record_preview(action.id, APT, ok("apt-get-s-remove-zip.txt"))  # the plan came back
    assert svc.approve(action.id, "bob", plan=PlanCheck.bind_current()).status == "approved"
    bound = svc.bound_preview(action.id)
    assert bound is not None
    assert bound.digest == first.digest


def test_an_operator_asks_for_a_fresh_preview(svc: ApprovalService, clock: Clock) -> None:
    action = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    svc.record_preview(action.id, APT, ok("apt-get-s-remove-zip.txt"))
    actions = svc.list_actions().rows
    assert svc.actions_needing_preview(actions) == []
    clock.now += timedelta(seconds=5)
    svc.request_preview(action.id, "alice")
    assert [a.id for a in svc.actions_needing_preview(actions)] == [action.id]
    clock.now += timedelta(seconds=5)
    svc.record_preview(action.id, APT, ok("apt-get-s-remove-zip.txt"))
    assert svc.actions_needing_preview(actions) == []
    update = svc.create_action("nas", "apt_update", actor="bot")
    with pytest.raises(ValidationError, match="has no preview"):
        svc.request_preview(update.id, "alice")
    svc.approve(action.id, "alice")
    with pytest.raises(InvalidTransition, match="previews are taken while it is pending"):
        svc.request_preview(action.id, "alice")


def test_rows_are_marked_for_removals_and_a_new_kernel(svc: ApprovalService) -> None:
    risky = svc.create_action("nas", "apt_upgrade_all", actor="bot")
    svc.record_preview(risky.id, APT, ok("apt-get-s-dist-upgrade-kernel-removal.txt"))
    svc.add_server("pi", "pi.lan", paused=True)
    plain = svc.create_action("pi", "apt_upgrade_all", actor="bot")
    svc.record_preview(plain.id, APT, ok("apt-get-s-dist-upgrade-root.txt"))
    assert svc.preview_marks([risky.id, plain.id]) == {risky.id: ("removes 1", "new kernel")}
