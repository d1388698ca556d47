"""Snapshot tests: the console as a person sees it, at fixed sizes with a frozen clock.

Every screen a user sees, at 80x24, and at 120x40 where the layout changes (the detail
pane moves beside the list from 120 columns). The bulk confirmation is in
test_tui_bulk.py. Regenerate after an intended change with
`pytest tests/test_snapshots.py --snapshot-update` and look at the SVGs under
tests/__snapshots__/ before committing them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from homelab_approvals.service import ApprovalService
from homelab_approvals.storage import open_database
from homelab_approvals.tui.app import ApprovalsApp
from homelab_approvals.tui.bulk import ConfirmApproval
from homelab_approvals.tui.help import HelpScreen
from homelab_approvals.tui.reject import REASON_REQUIRED, RejectScreen
from tui_support import (
    FAST_POLL,
    RecordingApp,
    demo_service,
    frozen_clock,
    no_blink,
    other_connection,
    screen,
    toasts,
    wait_settled,
    wait_until,
)

LABEL = "/srv/homelab/approvals.db"  # the temp path differs on every run

SnapCompare = Callable[..., bool]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ApprovalService]:
    service = demo_service(tmp_path / "approvals.db")
    service.db.label = LABEL
    yield service
    service.db.close()


def app_for(service: ApprovalService, **options: Any) -> ApprovalsApp:
    return RecordingApp(service, "alice", clock=frozen_clock, poll_interval=FAST_POLL, **options)


def settle(app: ApprovalsApp) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)

    return run_before


def test_main_screen_80x24(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    app = app_for(demo)
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle(app))


def test_main_screen_120x40(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    app = app_for(demo)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle(app))


def test_reject_modal(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    app = app_for(demo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen))
        no_blink(app)
        await pilot.press(*"Backup running until 02:00")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_read_only(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    app = app_for(demo, read_only_reason="--read-only was given")
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle(app))


def _sizes(test: Callable[..., None]) -> Callable[..., None]:
    """Run a snapshot test at 80x24 and at 120x40."""
    return pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])(test)


@_sizes
def test_all_view(snap_compare: SnapCompare, demo: ApprovalService, size: tuple[int, int]) -> None:
    app = app_for(demo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("p")
        await wait_until(pilot, lambda: not screen(app).view_query.statuses)
        await wait_settled(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def _decided_action_in_detail(app: ApprovalsApp) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """The all view, on the newest completed action (it has output), detail focused."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("p")
        await wait_until(pilot, lambda: not screen(app).view_query.statuses)
        await wait_settled(pilot, app)
        table = screen(app).table
        done = next(
            aid
            for aid in table.action_ids
            if (view := table.view_of(aid)) is not None and view.status == "completed"
        )
        table.select_id(done)
        await wait_settled(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen(app).detail.has_focus)
        await pilot.pause()

    return run_before


def test_detail_full_screen_80x24(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    """enter at 80 columns: the detail fills the screen."""
    app = app_for(demo)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_decided_action_in_detail(app))


def test_detail_pane_120x40(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    """enter at 120 columns: the detail pane beside the list takes the focus."""
    app = app_for(demo)
    assert snap_compare(app, terminal_size=(120, 40), run_before=_decided_action_in_detail(app))


def test_reject_modal_showing_its_error(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    app = app_for(demo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, RejectScreen))
        no_blink(app)
        await pilot.press("enter")  # no reason given
        modal = app.screen
        assert isinstance(modal, RejectScreen)
        await wait_until(pilot, lambda: modal.error_text == REASON_REQUIRED)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_bulk_result_with_a_conflict(
    snap_compare: SnapCompare, demo: ApprovalService, tmp_path: Path
) -> None:
    app = app_for(demo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        table = screen(app).table
        first, second, third = table.action_ids[:3]
        await pilot.press("space", "space", "space")
        await wait_until(pilot, lambda: table.marked_ids == [first, second, third])
        await pilot.press("A")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmApproval))
        # bob decides one of them while alice reads the list.
        with other_connection(tmp_path / "approvals.db") as bob_side:
            bob_side.reject(second, "bob", "flapping")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: any(title.startswith("Approved 2 of 3") for _, title, _ in toasts(app))
        )
        await wait_until(pilot, lambda: second not in table.action_ids)
        await wait_settled(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_active_filter(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    app = app_for(demo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("slash", *"pihole", "enter")
        await wait_until(pilot, lambda: screen(app).view_query.search == "pihole")
        await wait_settled(pilot, app)
        no_blink(app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_empty_database(snap_compare: SnapCompare, tmp_path: Path) -> None:
    service = ApprovalService(open_database(tmp_path / "empty.db"), clock=frozen_clock)
    service.db.label = LABEL
    try:
        app = app_for(service)
        assert snap_compare(app, terminal_size=(80, 24), run_before=settle(app))
    finally:
        service.db.close()


@_sizes
def test_help_screen(
    snap_compare: SnapCompare, demo: ApprovalService, size: tuple[int, int]
) -> None:
    app = app_for(demo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_command_palette(snap_compare: SnapCompare, demo: ApprovalService) -> None:
    app = app_for(demo)

    async def run_before(pilot: Pilot[Any]) -> None:
        await wait_settled(pilot, app)
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        no_blink(app)
        await pilot.press(*"sort")
        commands = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: commands.option_count > 0)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
