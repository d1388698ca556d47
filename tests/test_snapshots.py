"""Snapshot tests: the console as a person sees it, at fixed sizes with a frozen clock.

Regenerate after an intended change with `pytest tests/test_snapshots.py --snapshot-update`
and look at the SVGs under tests/__snapshots__/ before committing them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from homelab_approvals.service import ApprovalService
from homelab_approvals.tui.app import ApprovalsApp
from homelab_approvals.tui.reject import RejectScreen
from tui_support import FAST_POLL, demo_service, frozen_clock, no_blink, wait_settled, wait_until

SnapCompare = Callable[..., bool]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[ApprovalService]:
    service = demo_service(tmp_path / "approvals.db")
    service.db.label = "/srv/homelab/approvals.db"  # the temp path differs on every run
    yield service
    service.db.close()


def app_for(service: ApprovalService, **options: Any) -> ApprovalsApp:
    return ApprovalsApp(service, "alice", clock=frozen_clock, poll_interval=FAST_POLL, **options)


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
