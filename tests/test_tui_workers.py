"""A console worker that raises what it does not expect (a bug, not a refused decision)
ends as a message from the one handler for failed workers, and the console carries on."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from homelab_approvals.service import ApprovalService
from tui_support import rows, run_async, running, screen, text_of, toasts, wait_until

pytestmark = pytest.mark.backends


def _boom() -> None:
    raise RuntimeError("boom")


@pytest.mark.parametrize("group", ["decide", "events"])
@run_async
async def test_a_crashed_decision_or_history_worker_is_a_toast(
    demo: ApprovalService, group: str
) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        shown = rows(app)
        console.run_worker(_boom, thread=True, group=group, exit_on_error=False)
        await wait_until(
            pilot,
            lambda: ("error", "Not done", "unexpected RuntimeError: boom") in toasts(app),
            "the toast",
        )
        assert app.is_running
        assert rows(app) == shown
        await pilot.press("down")  # still answering keys
        assert console.table.cursor_row == 1


@run_async
async def test_a_crashed_live_refresh_says_it_stopped(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        console.run_worker(_boom, thread=True, group="live", exit_on_error=False)
        banner = console.query_one("#refresh-error", Static)
        await wait_until(pilot, lambda: banner.display, "the banner")
        assert "live refresh stopped: boom" in text_of(banner)
        assert app.is_running
