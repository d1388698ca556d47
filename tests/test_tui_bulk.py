"""Bulk decisions in the console (k9s-style marks), driven headless through Pilot on real
databases of both backends: space, ctrl+a, escape, A (with its confirmation) and R (one
reason)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from db_targets import DbTarget
from homelab_approvals.service import ApprovalService
from homelab_approvals.tui.app import ApprovalsApp
from homelab_approvals.tui.bulk import ConfirmApproval
from homelab_approvals.tui.console import ConsoleScreen
from homelab_approvals.tui.reject import REASON_REQUIRED, RejectScreen
from homelab_approvals.tui.table import MARK
from tui_support import (
    FAST_POLL,
    RecordingApp,
    frozen_clock,
    highlighted_id,
    other_connection,
    rows,
    run_async,
    running,
    screen,
    text_of,
    toasts,
    wait_settled,
    wait_until,
)

pytestmark = pytest.mark.backends

SERVICES = ("nginx", "sshd", "cron", "docker")


@pytest.fixture
def queue_target(db_target: DbTarget) -> DbTarget:
    """Four pending actions on a paused server (#1-#4), and one approved on an active
    one (#5)."""
    db = db_target.open()
    try:
        service = ApprovalService(db, clock=frozen_clock)
        service.add_server("pi-4", "pi4.lan", "PI-4", paused=True)
        service.add_server("nas", "nas.lan")
        for unit in SERVICES:
            service.create_action("pi-4", "restart_service", unit, actor="automation")
        service.create_action("nas", "clear_logs", actor="automation")
    finally:
        db.close()
    return db_target


@pytest.fixture
def queue(queue_target: DbTarget) -> Iterator[ApprovalService]:
    service = ApprovalService(queue_target.open(), clock=frozen_clock)
    yield service
    service.db.close()


def marked(app: ApprovalsApp) -> list[int]:
    return screen(app).table.marked_ids


def marks_bar(app: ApprovalsApp) -> Static:
    return screen(app).query_one("#marks-bar", Static)


def statuses(target: DbTarget) -> dict[int, tuple[str, str | None, str | None, str | None]]:
    found = target.execute(
        "SELECT id, status, approved_by, rejected_by, rejection_reason"
        " FROM remediation_actions ORDER BY id"
    )
    return {row[0]: tuple(row[1:]) for row in found}  # type: ignore[misc]


@contextmanager
def writer_holding(target: DbTarget, *action_ids: int) -> Iterator[None]:
    """Another writer, its transaction open: on SQLite the write lock on the whole file,
    on PostgreSQL the rows of `action_ids`."""
    if target.path is not None:
        blocker = sqlite3.connect(target.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.rollback()
            blocker.close()
        return
    with psycopg.connect(str(target.url)) as conn:
        conn.execute(
            "SELECT 1 FROM remediation_actions WHERE id = ANY(%s) FOR UPDATE", (list(action_ids),)
        )
        yield
        conn.rollback()


def toast_titled(app: ApprovalsApp, start: str) -> tuple[str, str, str] | None:
    return next((t for t in toasts(app) if t[1].startswith(start)), None)


async def mark(pilot: Pilot[Any], app: ApprovalsApp, *action_ids: int) -> None:
    """Put the cursor on each action and press space."""
    for action_id in action_ids:
        assert screen(app).table.select_id(action_id)
        await pilot.press("space")
        await wait_until(pilot, lambda a=action_id: a in marked(app), f"#{action_id} marked")


# -- marking -------------------------------------------------------------------------------


@run_async
async def test_space_marks_moves_down_and_unmarks(queue: ApprovalService) -> None:
    async with running(queue) as (app, pilot):
        assert rows(app) == [1, 2, 3, 4]
        table = screen(app).table
        await pilot.press("space")
        assert marked(app) == [1]
        assert highlighted_id(app) == 2  # moved down, so space, space marks two rows
        await pilot.press("space")
        assert marked(app) == [1, 2]
        assert table.cell_of(1, "mark").plain == MARK
        assert table.cell_of(3, "mark").plain == ""
        await wait_until(pilot, lambda: marks_bar(app).display, "the marks bar")
        bar = text_of(marks_bar(app))
        assert "2 marked" in bar
        assert "A approves them" in bar
        assert "R rejects them" in bar
        table.select_id(1)
        await pilot.press("space")
        assert marked(app) == [2]
        assert table.cell_of(1, "mark").plain == ""
        assert "1 marked" in text_of(marks_bar(app))


@run_async
async def test_only_pending_rows_can_be_marked(queue: ApprovalService) -> None:
    async with running(queue) as (app, pilot):
        await pilot.press("p")  # all actions, newest first: #5 (approved) on top
        await wait_until(pilot, lambda: rows(app)[:1] == [5], "the all view")
        await wait_settled(pilot, app)
        assert highlighted_id(app) == 5
        await pilot.press("space")
        assert marked(app) == []
        await pilot.press("ctrl+a")
        assert marked(app) == [4, 3, 2, 1]  # every pending row in view, in view order


@run_async
async def test_ctrl_a_marks_what_the_filter_shows(queue: ApprovalService) -> None:
    async with running(queue) as (app, pilot):
        await pilot.press("slash", *"docker", "enter")
        await wait_until(pilot, lambda: rows(app) == [4], "the filtered view")
        await pilot.press("ctrl+a")
        assert marked(app) == [4]
        # Escape with marks set clears the marks first, then (again) the filter.
        await pilot.press("escape")
        assert marked(app) == []
        assert not marks_bar(app).display
        assert screen(app).view_query.search == "docker"
        await pilot.press("escape")
        await wait_until(pilot, lambda: rows(app) == [1, 2, 3, 4], "the filter cleared")


@run_async
async def test_ctrl_a_marks_only_the_window_and_says_so(queue: ApprovalService) -> None:
    async with running(queue, window=2) as (app, pilot):
        assert rows(app) == [1, 2]
        await pilot.press("ctrl+a")
        assert marked(app) == [1, 2]
        note = toast_titled(app, "Marked")
        assert note is not None
        assert "2 more match beyond it" in note[2]


@run_async
async def test_marks_survive_refreshes_and_go_with_their_row(
    queue_target: DbTarget, queue: ApprovalService
) -> None:
    async with running(queue) as (app, pilot):
        await mark(pilot, app, 1, 3)
        console = screen(app)
        with other_connection(queue_target) as bob_side:
            bob_side.set_paused("nas", True)
            new = bob_side.create_action("nas", "apt_update", actor="automation").id
        await wait_until(pilot, lambda: new in rows(app), "the new action")
        assert marked(app) == [1, 3]
        with other_connection(queue_target) as bob_side:
            bob_side.approve(3, "bob")
        await wait_until(pilot, lambda: 3 not in rows(app), "#3 to leave the queue")
        assert marked(app) == [1]
        assert "1 marked" in text_of(marks_bar(app))
        assert console.check_action("approve_marked", ()) is True


# -- A: approve the marked -----------------------------------------------------------------


@run_async
async def test_approve_marked_after_a_confirmation_listing_them(
    queue_target: DbTarget, queue: ApprovalService
) -> None:
    async with running(queue) as (app, pilot):
        await mark(pilot, app, 1, 2, 4)
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval), "the modal")
        assert "Approve 3 marked actions?" in text_of(app.screen.query_one("#confirm-title"))
        listed = [
            line.split() for line in text_of(app.screen.query_one("#confirm-list")).splitlines()
        ]
        assert listed == [
            ["#", "server", "action"],
            ["1", "PI-4", "restart", "nginx"],
            ["2", "PI-4", "restart", "sshd"],
            ["4", "PI-4", "restart", "docker"],
        ]
        await pilot.press("y")
        await wait_until(pilot, lambda: rows(app) == [3], "the approved rows to leave")
        assert {aid: s[:2] for aid, s in statuses(queue_target).items() if aid != 5} == {
            1: ("approved", "alice"),
            2: ("approved", "alice"),
            3: ("pending", None),
            4: ("approved", "alice"),
        }
        done = toast_titled(app, "Approved")
        assert done == ("information", "Approved 3 actions", "#1, #2, #4")
        assert marked(app) == []
        assert not marks_bar(app).display


@run_async
async def test_escape_on_the_confirmation_decides_nothing_and_keeps_the_marks(
    queue_target: DbTarget, queue: ApprovalService
) -> None:
    before = statuses(queue_target)
    async with running(queue) as (app, pilot):
        await mark(pilot, app, 1, 2)
        for cancel in ("escape", "n"):
            await pilot.press("A")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval))
            await pilot.press(cancel)
            await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        assert marked(app) == [1, 2]
    assert statuses(queue_target) == before


@run_async
async def test_a_conflict_is_named_and_never_stops_the_rest(
    queue_target: DbTarget, queue: ApprovalService
) -> None:
    async with running(queue) as (app, pilot):
        await mark(pilot, app, 1, 2, 3)
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval))
        # bob decides #2 while alice reads the list; the list she confirms still has it.
        with other_connection(queue_target) as bob_side:
            bob_side.reject(2, "bob", "flapping")
        await pilot.press("enter")
        await wait_until(pilot, lambda: toast_titled(app, "Approved") is not None, "a result")
        result = toast_titled(app, "Approved")
        assert result is not None
        severity, title, message = result
        assert (severity, title) == ("warning", "Approved 2 of 3 actions")
        assert "Approved: #1, #3" in message
        assert "Someone else decided first: #2" in message
        assert "rejected by bob" in message
        assert statuses(queue_target)[1][:2] == ("approved", "alice")
        assert statuses(queue_target)[2] == ("rejected", None, "bob", "flapping")
        assert statuses(queue_target)[3][:2] == ("approved", "alice")
        await wait_until(pilot, lambda: rows(app) == [4], "the decided rows to leave")
        assert marked(app) == []


@run_async
async def test_a_busy_database_stops_the_batch_and_keeps_the_rest_marked(
    queue_target: DbTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    # New connections wait 50 ms for a lock instead of 5 s, so the test is quick.
    monkeypatch.setattr("homelab_approvals.storage.sqlite.opening.BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr("homelab_approvals.storage.postgres.opening.LOCK_TIMEOUT_MS", 50)
    service = ApprovalService(queue_target.open(), clock=frozen_clock)
    try:
        async with running(service) as (app, pilot):
            await mark(pilot, app, 1, 2)
            await pilot.press("A")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval))
            with writer_holding(queue_target, 1, 2):
                await pilot.press("y")
                await wait_until(pilot, lambda: toast_titled(app, "Approved") is not None)
            result = toast_titled(app, "Approved")
            assert result is not None
            severity, title, message = result
            assert (severity, title) == ("error", "Approved 0 of 2 actions")
            assert "busy" in message
            assert "still marked: #1, #2" in message
            assert marked(app) == [1, 2]  # so A again retries exactly those
            await pilot.press("A")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval))
            await pilot.press("y")
            await wait_until(pilot, lambda: rows(app) == [3, 4], "the retry to go through")
    finally:
        service.db.close()


# -- R: reject the marked with one reason --------------------------------------------------


@run_async
async def test_reject_marked_with_one_reason(
    queue_target: DbTarget, queue: ApprovalService
) -> None:
    async with running(queue) as (app, pilot):
        await mark(pilot, app, 2, 3)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen), "the modal")
        modal = app.screen
        assert isinstance(modal, RejectScreen)
        assert "Reject 2 marked actions" in text_of(modal.query_one("#reject-title"))
        listed = text_of(modal.query_one("#reject-command"))
        assert "#2 · restart sshd on PI-4" in listed
        assert "#3 · restart cron on PI-4" in listed
        await pilot.press("enter")  # blank: refused in the modal
        await wait_until(pilot, lambda: modal.error_text == REASON_REQUIRED)
        assert isinstance(app.screen, RejectScreen)
        await pilot.press(*"maintenance window")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen), "the modal gone")
        await wait_until(pilot, lambda: rows(app) == [1, 4], "the rejected rows to leave")
        for action_id in (2, 3):
            assert statuses(queue_target)[action_id] == (
                "rejected",
                None,
                "alice",
                "maintenance window",
            )
        assert toast_titled(app, "Rejected") == ("information", "Rejected 2 actions", "#2, #3")
        assert marked(app) == []


@run_async
async def test_escape_in_the_reason_modal_rejects_nothing(
    queue_target: DbTarget, queue: ApprovalService
) -> None:
    before = statuses(queue_target)
    async with running(queue) as (app, pilot):
        await mark(pilot, app, 1, 4)
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen))
        await pilot.press(*"half a rea", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ConsoleScreen))
        assert marked(app) == [1, 4]
    assert statuses(queue_target) == before


# -- who may ---------------------------------------------------------------------------------


@run_async
async def test_read_only_offers_no_marks_and_no_bulk_decisions(queue_target: DbTarget) -> None:
    service = ApprovalService(queue_target.open(read_only=True), clock=frozen_clock)
    try:
        async with running(service) as (app, pilot):
            console = screen(app)
            for action in ("toggle_mark", "mark_all", "approve_marked", "reject_marked"):
                assert console.check_action(action, ()) is None, action
            await pilot.press("space", "ctrl+a", "A", "R")
            await pilot.pause()
            assert marked(app) == []
            assert isinstance(app.screen, ConsoleScreen)
    finally:
        service.db.close()


@run_async
async def test_bulk_keys_do_nothing_without_marks(
    queue_target: DbTarget, queue: ApprovalService
) -> None:
    before = statuses(queue_target)
    async with running(queue) as (app, pilot):
        console = screen(app)
        assert console.check_action("approve_marked", ()) is None
        assert console.check_action("reject_marked", ()) is None
        await pilot.press("A", "R")
        await pilot.pause()
        assert isinstance(app.screen, ConsoleScreen)
    assert statuses(queue_target) == before


# -- how it looks ----------------------------------------------------------------------------

SnapCompare = Callable[..., bool]


@pytest.mark.sqlite_only("a snapshot, as in test_snapshots.py: one picture of the screen")
def test_marked_rows_and_the_confirmation_80x24(
    snap_compare: SnapCompare, queue: ApprovalService
) -> None:
    queue.db.label = "/srv/homelab/approvals.db"  # the temp path differs on every run
    app = RecordingApp(queue, "alice", clock=frozen_clock, poll_interval=FAST_POLL)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("space", "down", "space")
        await wait_until(pilot, lambda: marked(app) == [1, 3])
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
