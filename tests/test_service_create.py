"""create_action: the command whitelist, unit-name validation, paused vs active servers,
duplicates, unknown servers, and the events creation leaves."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionType
from homelab_approvals.domain.errors import ActionNotFound, InvalidTransition, ValidationError
from homelab_approvals.service import ApprovalService

NOW = datetime(2026, 11, 27, 5, 2, 8, 485256, tzinfo=UTC)


@pytest.fixture
def svc(db_target: DbTarget) -> Iterator[ApprovalService]:
    database = db_target.open()
    service = ApprovalService(database, clock=lambda: NOW)
    service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
    service.add_server("nas", "nas.lan")
    yield service
    database.close()


def rows(db_path: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def counts(target: DbTarget) -> tuple[int, int]:
    actions = target.execute("SELECT count(*) FROM remediation_actions")[0][0]
    events = target.execute("SELECT count(*) FROM action_events")[0][0]
    return actions, events


EXPECTED_COMMANDS = {
    "clear_logs": "journalctl --vacuum-time=7d",
    "apt_update": "DEBIAN_FRONTEND=noninteractive apt-get update -q -o APT::Sandbox::User=root",
    "apt_upgrade_all": (
        "DEBIAN_FRONTEND=noninteractive apt-get dist-upgrade -q -y "
        '-o Dpkg::Options::="--force-confdef" -o Dpkg::Options::="--force-confold" '
        "-o APT::Sandbox::User=root"
    ),
}


@pytest.mark.backends
@pytest.mark.parametrize(("action_type", "command"), sorted(EXPECTED_COMMANDS.items()))
def test_fixed_commands_come_from_the_whitelist(
    svc: ApprovalService, action_type: str, command: str
) -> None:
    action = svc.create_action("pi-4", action_type, actor="bob")
    assert action.command == command
    assert action.service_name is None


@pytest.mark.backends
def test_security_upgrade_is_a_fixed_non_interactive_command(svc: ApprovalService) -> None:
    action = svc.create_action("pi-4", ActionType.APT_UPGRADE_SECURITY, actor="bob")
    assert action.command.startswith("DEBIAN_FRONTEND=noninteractive ")
    assert not re.search(r"[;&|`$<>]", action.command.replace("DEBIAN_FRONTEND=", ""))


@pytest.mark.backends
def test_every_action_type_has_a_command(svc: ApprovalService) -> None:
    for kind in ActionType:
        service = "nginx" if kind is ActionType.RESTART_SERVICE else None
        action = svc.create_action("pi-4", kind, service, actor="bob")
        assert action.command
        assert action.action_type == kind.value


@pytest.mark.backends
@pytest.mark.parametrize(
    "unit",
    [
        "nginx",
        "nginx.service",
        "getty@tty1.service",
        "systemd-journald.service",
        "foo:bar_baz-1.socket",
        "a",
        "a" * 255,
        "0day",
    ],
)
def test_valid_unit_names_reach_the_command_unchanged(svc: ApprovalService, unit: str) -> None:
    action = svc.create_action("pi-4", "restart_service", unit, actor="bob")
    assert action.service_name == unit
    assert action.command == f"systemctl restart {unit}"


@pytest.mark.backends
@pytest.mark.parametrize(
    "unit",
    [
        None,
        "",
        " ",
        "-nginx",  # systemctl would read it as an option
        "--force",
        "nginx;reboot",
        "nginx && reboot",
        "$(reboot)",
        "`reboot`",
        "nginx service",
        " nginx",
        "nginx\n",
        "nginx\x00",
        "ngínx",
        "nginx/../../bin",
        "a" * 256,
        "nginx'",
        'nginx"',
        "*",
    ],
)
def test_invalid_unit_names_never_reach_a_command(
    svc: ApprovalService, db_target: DbTarget, unit: str | None
) -> None:
    before = counts(db_target)
    with pytest.raises(ValidationError) as caught:
        svc.create_action("pi-4", "restart_service", unit, actor="bob")
    assert caught.value.code == "VALIDATION_ERROR"
    assert counts(db_target) == before


@pytest.mark.backends
@pytest.mark.parametrize("action_type", ["clear_logs", "apt_update", "apt_upgrade_all"])
def test_fixed_commands_take_no_service_name(
    svc: ApprovalService, db_target: DbTarget, action_type: str
) -> None:
    before = counts(db_target)
    with pytest.raises(ValidationError, match="takes no service name"):
        svc.create_action("pi-4", action_type, "nginx", actor="bob")
    assert counts(db_target) == before


@pytest.mark.backends
@pytest.mark.parametrize("action_type", ["reboot", "RESTART_SERVICE", "", "rm -rf /"])
def test_unknown_action_types_are_refused(
    svc: ApprovalService, db_target: DbTarget, action_type: str
) -> None:
    before = counts(db_target)
    with pytest.raises(ValidationError, match="unknown action type"):
        svc.create_action("pi-4", action_type, actor="bob")
    assert counts(db_target) == before


def test_paused_server_starts_pending_with_one_creation_event(
    svc: ApprovalService, db_path: Path
) -> None:
    action = svc.create_action("pi-4", "restart_service", "nginx", actor="bob")

    assert action.status == "pending"
    assert action.created_by == "bob"
    assert action.created_at == NOW
    assert action.approved_at is None
    assert action.approved_by is None
    assert action.server_label == "PI-4"
    assert action.server_paused is True
    [event] = rows(db_path, "SELECT * FROM action_events WHERE action_id = ?", action.id)
    assert event | {"id": None} == {
        "id": None,
        "action_id": action.id,
        "from_status": None,
        "to_status": "pending",
        "actor": "bob",
        "at": "2026-11-27 05:02:08.485256",
        "reason": None,
        "command": None,  # only an approval records a command
    }


def test_active_server_auto_approves_with_two_events(svc: ApprovalService, db_path: Path) -> None:
    action = svc.create_action("nas", "restart_service", "smbd", actor="bob")

    assert action.status == "approved"
    assert action.approved_by == "auto"
    assert action.approved_at == NOW
    assert action.created_by == "bob"
    events = rows(db_path, "SELECT * FROM action_events WHERE action_id = ? ORDER BY id", action.id)
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        (None, "pending", "bob"),
        ("pending", "approved", "auto"),
    ]
    assert {e["at"] for e in events} == {"2026-11-27 05:02:08.485256"}
    assert events[1]["reason"]  # why it was approved without a person
    assert events[1]["command"] == "systemctl restart smbd"  # what was approved


@pytest.mark.backends
def test_unpausing_changes_where_new_actions_start(svc: ApprovalService) -> None:
    svc.set_paused("pi-4", False)
    assert svc.create_action("pi-4", "clear_logs", actor="bob").status == "approved"
    svc.set_paused("pi-4", True)
    assert svc.create_action("pi-4", "apt_update", actor="bob").status == "pending"


@pytest.mark.backends
def test_second_pending_action_for_the_same_service_is_a_conflict(
    svc: ApprovalService, db_target: DbTarget
) -> None:
    first = svc.create_action("pi-4", "restart_service", "nginx", actor="bob")
    before = counts(db_target)

    with pytest.raises(InvalidTransition) as caught:
        svc.create_action("pi-4", "restart_service", "nginx", actor="carol")

    assert caught.value.code == "CONFLICT"
    assert f"action {first.id} is already pending" in caught.value.message
    assert counts(db_target) == before


@pytest.mark.backends
def test_duplicate_fixed_command_is_a_conflict(svc: ApprovalService) -> None:
    svc.create_action("pi-4", "apt_update", actor="bob")
    with pytest.raises(InvalidTransition):
        svc.create_action("pi-4", "apt_update", actor="bob")


@pytest.mark.backends
def test_similar_but_different_actions_are_not_duplicates(svc: ApprovalService) -> None:
    svc.create_action("pi-4", "restart_service", "nginx", actor="bob")
    svc.create_action("pi-4", "restart_service", "nginx.service", actor="bob")
    svc.create_action("pi-4", "restart_service", "sshd", actor="bob")
    svc.add_server("pi-5", "pi5.lan", paused=True)
    svc.create_action("pi-5", "restart_service", "nginx", actor="bob")
    svc.create_action("pi-4", "clear_logs", actor="bob")


@pytest.mark.backends
def test_once_decided_the_same_action_may_be_proposed_again(svc: ApprovalService) -> None:
    first = svc.create_action("pi-4", "restart_service", "nginx", actor="bob")
    svc.reject(first.id, "alice", "not now")
    second = svc.create_action("pi-4", "restart_service", "nginx", actor="bob")
    assert second.id != first.id
    assert second.status == "pending"


@pytest.mark.backends
def test_auto_approved_actions_never_block_each_other(svc: ApprovalService) -> None:
    first = svc.create_action("nas", "clear_logs", actor="cron")
    second = svc.create_action("nas", "clear_logs", actor="cron")
    assert (first.status, second.status) == ("approved", "approved")


@pytest.mark.backends
@pytest.mark.parametrize("server_id", ["nope", "PI-4", "pi-4 ", "", "pi-4'; DROP TABLE servers;--"])
def test_unknown_server_is_not_found_and_nothing_is_written(
    svc: ApprovalService, db_target: DbTarget, server_id: str
) -> None:
    before = counts(db_target)
    with pytest.raises(ActionNotFound, match="not found") as caught:
        svc.create_action(server_id, "clear_logs", actor="bob")
    assert caught.value.code == "NOT_FOUND"
    assert counts(db_target) == before


@pytest.mark.backends
@pytest.mark.parametrize("actor", ["", "  ", "x" * 51, "bo\nb", "\x1b]0;pwned\x07"])
def test_creator_name_is_validated(svc: ApprovalService, db_target: DbTarget, actor: str) -> None:
    before = counts(db_target)
    with pytest.raises(ValidationError):
        svc.create_action("pi-4", "clear_logs", actor=actor)
    assert counts(db_target) == before


def test_created_at_is_stored_in_sqlalchemys_sqlite_text_format(
    svc: ApprovalService, db_path: Path
) -> None:
    action = svc.create_action("nas", "clear_logs", actor="bob")
    [row] = rows(
        db_path,
        "SELECT created_at, approved_at, typeof(created_at) AS t FROM remediation_actions "
        "WHERE id = ?",
        action.id,
    )
    assert row == {
        "created_at": "2026-11-27 05:02:08.485256",
        "approved_at": "2026-11-27 05:02:08.485256",
        "t": "text",
    }
    assert action.created_at.tzinfo is UTC
