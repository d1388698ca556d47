"""The demo database and its simulator, on both backends (`homelab-approvals demo` takes
--database-url too): the same demo, row for row, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus, SortOrder
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.service.demo import SERVERS, DemoSimulator, build_demo
from homelab_approvals.storage import open_database
from homelab_approvals.tui.formatting import status_label
from tui_support import NOW, frozen_clock

pytestmark = pytest.mark.backends

EVERYTHING = ActionQuery(sort=SortOrder.OLDEST)


def build(where: Path | DbTarget, seed: int = 0) -> ApprovalService:
    db = where.open() if isinstance(where, DbTarget) else open_database(where)
    service = ApprovalService(db, clock=frozen_clock)
    build_demo(service, now=NOW, seed=seed)
    return service


def test_the_demo_is_deterministic_for_a_clock_and_seed(
    db_target: DbTarget, tmp_path: Path
) -> None:
    # The test's backend against a SQLite file: the demo_target fixture relies on that.
    one, two = build(db_target), build(tmp_path / "two.db")
    other = build(tmp_path / "other.db", seed=1)
    try:
        rows_one = one.list_actions(EVERYTHING).rows
        assert rows_one == two.list_actions(EVERYTHING).rows
        assert one.list_events() == two.list_events()
        assert one.list_servers() == two.list_servers()
        assert rows_one != other.list_actions(EVERYTHING).rows
    finally:
        for service in (one, two, other):
            service.db.close()


def test_the_demo_has_every_status_and_paused_and_active_servers(db_target: DbTarget) -> None:
    service = build(db_target)
    try:
        rows = service.list_actions(EVERYTHING).rows
        assert {row.status for row in rows} == {status.value for status in ActionStatus}
        assert "cancelled" in {status_label(row) for row in rows}
        servers = service.list_servers()
        assert len(servers) == len(SERVERS)
        assert {server.is_paused for server in servers} == {True, False}
        pending = [row for row in rows if row.status == ActionStatus.PENDING]
        assert len(pending) >= 8
        assert all(row.created_at <= NOW for row in rows)
        # Every action's history starts with its creation and ends in its status.
        for row in rows:
            events = service.list_events(row.id)
            assert events[0].from_status is None
            assert events[-1].to_status == row.status
        rejected = [row for row in rows if row.status == ActionStatus.REJECTED]
        assert all(row.rejection_reason and row.rejected_by for row in rejected)
        completed = [row for row in rows if row.status == ActionStatus.COMPLETED]
        assert all(row.exit_code == 0 and row.completed_at for row in completed)
    finally:
        service.db.close()


def test_the_simulator_adds_pending_actions_and_stops_cleanly(db_target: DbTarget) -> None:
    service = build(db_target)
    live = replace_clock(service)
    try:
        before = live.list_actions(ActionQuery(statuses=(ActionStatus.PENDING,))).total
        simulator = DemoSimulator(live, interval=0.01, seed=3)
        simulator.start()
        deadline = time.monotonic() + 10
        while simulator.created < 2:
            assert time.monotonic() < deadline, "the simulator added nothing"
            threading.Event().wait(0.01)
        simulator.stop()
        assert not any(t.name == "demo-simulator" for t in threading.enumerate())
        created = simulator.created
        after = live.list_actions(ActionQuery(statuses=(ActionStatus.PENDING,))).total
        assert after == before + created
    finally:
        service.db.close()


def replace_clock(service: ApprovalService) -> ApprovalService:
    """The simulator runs in real time, as in `homelab-approvals demo`."""
    return ApprovalService(service.db, replace(service.policy))
