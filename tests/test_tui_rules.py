"""The rules in the console, headless through Pilot on real databases of both backends:
two-person approval, per-type approvers, expiry, the terminal title and the bell."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from textual.widgets import Static

from db_targets import DbTarget
from homelab_approvals.domain.durations import parse_duration
from homelab_approvals.service import ApprovalService, Policy
from homelab_approvals.service.policy import Expiry, TypeRule
from tui_support import (
    NOW,
    frozen_clock,
    highlighted_id,
    other_connection,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_refresh,
    wait_until,
)

pytestmark = pytest.mark.backends

RULES = Policy(
    approvers=frozenset({"alice", "bob", "carol"}),
    rules={
        "apt_upgrade_all": TypeRule(approvals=2),
        "apt_update": TypeRule(approvers=frozenset({"bob"})),
    },
    expiry=Expiry(pending=parse_duration("24h")),
)


def made_at(target: DbTarget, action_id: int, age: timedelta) -> None:
    """As HomelabCmd would have stored it: the action created `age` before NOW."""
    when = (NOW - age).replace(tzinfo=None).isoformat(" ")
    target.execute(
        "UPDATE remediation_actions SET created_at = :when WHERE id = :id", when=when, id=action_id
    )


@pytest.fixture
def ruled(db_target: DbTarget) -> Iterator[ApprovalService]:
    """Three pending actions: an upgrade needing two approvals (#1), an update only bob
    may decide (#2), a restart (#3, created 23.5 h ago: it expires within the hour)."""
    service = ApprovalService(db_target.open(), RULES, clock=frozen_clock)
    service.add_server("pi-4", "pi4.lan", paused=True)
    service.create_action("pi-4", "apt_upgrade_all", actor="robot")
    service.create_action("pi-4", "apt_update", actor="robot")
    service.create_action("pi-4", "restart_service", "nginx", actor="robot")
    made_at(db_target, 3, timedelta(hours=23, minutes=30))
    yield service
    service.db.close()


def _detail(console: object) -> str:
    return text_of(console.query_one("#detail-body", Static))  # type: ignore[attr-defined]


def _cells(app: object, action_id: int) -> list[str]:
    table = screen(app).table  # type: ignore[arg-type]
    return [c.plain for c in table._cells[action_id]]


@run_async
async def test_a_first_vote_shows_1_of_2_and_greys_out_a_second(
    ruled: ApprovalService, db_target: DbTarget
) -> None:
    async with running(ruled, "alice") as (app, pilot):
        console = screen(app)
        await wait_until(pilot, lambda: highlighted_id(app) == 3)  # oldest first
        await pilot.press("down")  # #1: rows are oldest first, #3 was made older
        await wait_until(pilot, lambda: highlighted_id(app) == 1)
        assert console.check_action("approve", ()) is True
        before = console.refreshes
        await pilot.press("a")
        await wait_until(
            pilot, lambda: any(t[1] == "Approval recorded" for t in toasts(app)), "the toast"
        )
        note = next(t[2] for t in toasts(app) if t[1] == "Approval recorded")
        assert note.endswith("1 of 2 approvals; waiting for another approver")
        await wait_refresh(pilot, app, before)
        await wait_until(pilot, lambda: _cells(app, 1)[-1] == "1/2", "1/2 in decided by")
        assert ruled.get_action(1).status == "pending"
        assert console.check_action("approve", ()) is None  # greyed out: already voted
        assert console.check_action("reject", ()) is True  # a reject still ends it
        await wait_until(pilot, lambda: "you approved it already" in _detail(console))
        detail = _detail(console)
        assert "a off: you approved it already (1 of 2)" in detail
        assert "1 of 2: alice" in detail
        # bob completes it, from another process: the row leaves the pending view.
        with other_connection(db_target) as other:
            ApprovalService(other.db, RULES).approve(1, "bob")
        await wait_until(pilot, lambda: 1 not in console.table.action_ids, "the row to leave")


@run_async
async def test_a_type_reserved_to_others_greys_out_a_and_r_and_says_why(
    ruled: ApprovalService,
) -> None:
    async with running(ruled, "alice") as (app, pilot):
        console = screen(app)
        console.table.select_id(2)
        await wait_until(pilot, lambda: highlighted_id(app) == 2)
        assert console.check_action("approve", ()) is None
        assert console.check_action("reject", ()) is None
        assert console.check_action("cancel_action", ()) is True
        await wait_until(pilot, lambda: "a, r off" in _detail(console))
        assert "a, r off: only bob may approve or reject apt_update" in _detail(console)
        await pilot.press("a")  # greyed out: nothing happens
        await pilot.pause()
        assert ruled.get_action(2).status == "pending"
        console.table.select_id(3)
        await wait_until(pilot, lambda: console.check_action("approve", ()) is True)


@run_async
async def test_expiring_rows_are_marked_and_the_detail_says_when(
    ruled: ApprovalService,
) -> None:
    async with running(ruled, "alice") as (app, pilot):
        console = screen(app)
        assert _cells(app, 3)[5] == "!23h ago"  # within the hour
        assert _cells(app, 1)[5] == "just now"
        console.table.select_id(3)
        await wait_until(pilot, lambda: "Expires" in _detail(console))
        assert "in 30m · 2026-11-27 10:30 UTC" in _detail(console)


@run_async
async def test_the_console_sweeps_expiry_off_the_event_loop(
    ruled: ApprovalService, db_target: DbTarget
) -> None:
    made_at(db_target, 3, timedelta(hours=25))
    async with running(ruled, "alice", sweep_interval=0.05) as (app, pilot):
        console = screen(app)
        await wait_until(pilot, lambda: 3 not in console.table.action_ids, "the sweep")
        expired = ruled.get_action(3)
        assert (expired.status, expired.rejected_by) == ("rejected", "expiry")
        assert expired.rejection_reason == "expired: pending for more than 24h"


@run_async
async def test_title_counts_the_queue_and_the_bell_rings_on_a_new_one(
    ruled: ApprovalService, db_target: DbTarget
) -> None:
    async with running(ruled, "carol", bell=True) as (app, pilot):
        assert app.terminal_title == "homelab-approvals · 3 pending"
        before = screen(app).refreshes
        with other_connection(db_target) as other:
            other.create_action("pi-4", "clear_logs", actor="robot")
        await wait_refresh(pilot, app, before)
        await wait_until(pilot, lambda: app.terminal_title == "homelab-approvals · 4 pending")
        assert app.pending_bells == 1
        before = screen(app).refreshes
        with other_connection(db_target) as other:
            ApprovalService(other.db, RULES).reject(3, "bob", "no")
        await wait_until(pilot, lambda: app.terminal_title == "homelab-approvals · 3 pending")
        assert app.pending_bells == 1  # fewer pending: no bell


@run_async
async def test_no_bell_unless_asked(ruled: ApprovalService, db_target: DbTarget) -> None:
    async with running(ruled, "carol") as (app, pilot):
        with other_connection(db_target) as other:
            other.create_action("pi-4", "clear_logs", actor="robot")
        await wait_until(pilot, lambda: app.terminal_title == "homelab-approvals · 4 pending")
        assert app.pending_bells == 0
