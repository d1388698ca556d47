"""Notifications end to end through a real loopback HTTP receiver: every format and its
escaping, a target that is down and then up, no duplicates on a rerun, and a sender
killed between sending and acknowledging."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from homelab_approvals.domain.notices import NoticeKind
from homelab_approvals.notify.sender import Sender
from homelab_approvals.notify.targets import Target
from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from notify_receiver import Receiver

ALL = frozenset(NoticeKind)
HOSTILE = "<!channel> *bold* [x](http://evil) & \x1b[2J @here"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def svc(db_path: Path) -> Iterator[ApprovalService]:
    database = open_database(db_path)
    service = ApprovalService(database)
    service.add_server("pi-4", "pi4.lan", paused=True)
    with sqlite3.connect(db_path) as conn:  # as HomelabCmd may hold it: not ours to vet
        conn.execute("UPDATE servers SET display_name = ?", (HOSTILE,))
    yield service
    database.close()


def _failed_run(db_path: Path, action_id: int) -> None:
    """What an executor leaves for a failed run, with its event."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE remediation_actions SET status = 'failed', exit_code = 100, "
            "stderr = ? WHERE id = ?",
            ("\n".join(f"line {n}" for n in range(1, 9)) + "\n<!here> E: broken", action_id),
        )
        conn.execute(
            "INSERT INTO action_events (action_id, from_status, to_status, actor, at) "
            "VALUES (?, 'executing', 'failed', 'executor', '2026-11-27 10:05:00.000000')",
            (action_id,),
        )


def test_slack_escapes_and_pings_nobody(svc: ApprovalService, receiver: Receiver) -> None:
    target = Target(receiver.url("/services/T0/B0/secret"), "slack", ALL)
    sender = Sender(svc, [target])
    sender.start()
    svc.create_action("pi-4", "restart_service", "nginx", actor="robot")
    assert sender.run_once().sent == 1
    [got] = receiver.received
    assert got.path == "/services/T0/B0/secret"
    payload = got.json()
    assert set(payload) == {"text", "mrkdwn"}
    assert payload["mrkdwn"] is False
    text = payload["text"]
    assert "<" not in text
    assert ">" not in text
    assert "&lt;!channel&gt;" in text
    assert "&amp;" in text
    assert "\x1b" not in text
    assert "␛[2J" in text
    assert text.startswith("Waiting for approval: restart nginx on &lt;!channel&gt;")
    assert got.message_id == "homelab-approvals-event-1"


def test_ntfy_publishes_json_with_title_priority_tags(
    svc: ApprovalService, receiver: Receiver, db_path: Path
) -> None:
    target = Target(receiver.url("/my-homelab"), "ntfy", ALL)
    sender = Sender(svc, [target])
    sender.start()
    action = svc.create_action("pi-4", "apt_update", actor="robot")
    svc.approve(action.id, "alice")
    _failed_run(db_path, action.id)
    assert sender.run_once().sent == 2
    pending, failed = (r.json() for r in receiver.received)
    assert receiver.received[0].path == "/"
    assert pending["topic"] == "my-homelab"
    assert pending["title"].startswith("Waiting for approval: apt update on <!channel>")
    assert pending["priority"] == 4
    assert pending["tags"] == ["hourglass_flowing_sand"]
    assert pending["markdown"] is False
    assert "\x1b" not in pending["title"]
    assert failed["title"].startswith("Failed: apt update")
    assert failed["tags"] == ["x"]
    message = failed["message"]
    assert "exit code 100" in message
    assert "line 1\n" not in message
    assert "line 5" in message
    assert message.rstrip().endswith("<!here> E: broken")


def test_json_carries_event_action_server_command_who(
    svc: ApprovalService, receiver: Receiver
) -> None:
    target = Target(receiver.url(), "json", ALL)
    sender = Sender(svc, [target])
    sender.start()
    action = svc.create_action("pi-4", "restart_service", "nginx", actor="robot")
    sender.run_once()
    [got] = receiver.received
    body = got.json()
    assert body["id"] == got.message_id
    assert body["event"] == "pending"
    assert body["who"] == "robot"
    assert body["action"]["id"] == action.id
    assert body["action"]["command"] == "systemctl restart nginx"
    assert body["server"] == {"id": "pi-4", "label": HOSTILE}
    assert got.body.isascii()


def test_only_the_events_a_target_asked_for(svc: ApprovalService, receiver: Receiver) -> None:
    target = Target(receiver.url(), "json", frozenset({NoticeKind.FAILED}))
    sender = Sender(svc, [target])
    sender.start()
    svc.create_action("pi-4", "apt_update", actor="robot")
    assert sender.run_once().sent == 0
    assert receiver.received == []
    assert svc.notice_cursor(target.key) == svc.latest_event_id()


def test_a_new_target_starts_from_now(svc: ApprovalService, receiver: Receiver) -> None:
    svc.create_action("pi-4", "apt_update", actor="robot")
    sender = Sender(svc, [Target(receiver.url(), "json", ALL)])
    assert sender.run_once().sent == 0


def test_receiver_down_then_up_loses_nothing_and_keeps_ids(
    svc: ApprovalService, receiver: Receiver
) -> None:
    target = Target(receiver.url(), "json", ALL)
    clock = [0.0]
    sender = Sender(svc, [target], monotonic=lambda: clock[0])
    sender.start()
    svc.create_action("pi-4", "apt_update", actor="robot")
    svc.create_action("pi-4", "clear_logs", actor="robot")
    port = receiver.port
    receiver.stop()  # down: connection refused
    first = sender.run_once()
    assert first.sent == 0
    assert next(iter(first.failed.values()))
    assert sender.next_due() == pytest.approx(1.0)
    assert sender.run_once().failed == {}  # backing off: not even tried
    clock[0] = 1.5
    sender.run_once()
    assert sender.next_due() == pytest.approx(2.0)  # the wait doubles
    up = Receiver(port)
    try:
        clock[0] = 10.0
        result = sender.run_once()
        assert (result.sent, result.failed) == (2, {})
        assert [r.message_id for r in up.received] == [
            "homelab-approvals-event-1",
            "homelab-approvals-event-2",
        ]
    finally:
        up.stop()


def test_a_refusal_is_retried_and_nothing_is_sent_twice(
    svc: ApprovalService, receiver: Receiver, db_path: Path
) -> None:
    target = Target(receiver.url(), "json", ALL)
    clock = [0.0]
    Sender(svc, [target]).start()
    svc.create_action("pi-4", "apt_update", actor="robot")
    receiver.status = 503
    sender = Sender(svc, [target], monotonic=lambda: clock[0])
    assert sender.run_once().failed
    receiver.status = 200
    clock[0] = 5.0
    assert sender.run_once().sent == 1
    # A rerun, as a new process would: everything acknowledged stays sent.
    database = open_database(db_path)
    try:
        again = Sender(ApprovalService(database), [target])
        assert again.run_once().sent == 0
    finally:
        database.close()
    ids = [r.message_id for r in receiver.received]
    assert ids == ["homelab-approvals-event-1", "homelab-approvals-event-1"]  # 503, then 200


def test_each_target_has_its_own_cursor(svc: ApprovalService, receiver: Receiver) -> None:
    good = Target(receiver.url("/a"), "json", ALL)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_port = unused.getsockname()[1]
    dead = Target(f"http://127.0.0.1:{dead_port}/b", "json", ALL)
    sender = Sender(svc, [good, dead])
    sender.start()
    svc.create_action("pi-4", "apt_update", actor="robot")
    result = sender.run_once()
    assert result.sent == 1
    assert list(result.failed) == [f"json target http://127.0.0.1:{dead_port}"]
    assert svc.notice_cursor(good.key) > svc.notice_cursor(dead.key)
