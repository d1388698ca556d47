"""When someone else's decision takes the highlighted row away, the cursor lands on the
next row. A key pressed for the row that left must not decide that one: the console says
what happened and holds a, r and c for a moment."""

from __future__ import annotations

import pytest

from db_targets import DbTarget
from homelab_approvals.service import ApprovalService
from homelab_approvals.tui import decisions
from tui_support import (
    highlighted_id,
    other_connection,
    rows,
    run_async,
    running,
    screen,
    toasts,
    wait_until,
)

pytestmark = pytest.mark.backends


@run_async
async def test_a_row_taken_away_by_someone_else_holds_the_decision_keys(
    demo_target: DbTarget, demo: ApprovalService
) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        first, second = rows(app)[:2]
        assert highlighted_id(app) == first
        with other_connection(demo_target) as other:
            other.approve(first, "bob")
        await wait_until(pilot, lambda: first not in rows(app), "the decided row to leave")
        assert highlighted_id(app) == second
        assert console.check_action("approve", ()) is None  # greyed out: held
        assert console.check_action("reject", ()) is None
        assert console.check_action("cancel_action", ()) is None
        assert console.detail.note == decisions.HOLD_NOTE  # the pane's title says why
        await pilot.press("a")  # meant for the row that left
        assert ("warning", "The highlighted action left") in [t[:2] for t in toasts(app)]
        (message,) = [m for s, t, m in toasts(app) if t == "The highlighted action left"]
        assert message.endswith(f"was decided elsewhere. Now on #{second}.")
        # The hold ends by itself; then a decides the row now highlighted.
        await wait_until(
            pilot,
            lambda: console.check_action("approve", ()) is True,
            "the hold to end",
            timeout=decisions.MOVED_ROW_HOLD_SECONDS + 5,
        )
        assert demo.get_action(second).status == "pending"  # the held key did nothing
        assert console.detail.note == ""
        await pilot.press("a")
        await wait_until(pilot, lambda: second not in rows(app), "the approval")
        assert demo.get_action(second).status == "approved"


@run_async
async def test_moving_on_after_your_own_decision_is_not_held(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        first, second = rows(app)[:2]
        await pilot.press("a")
        await wait_until(pilot, lambda: first not in rows(app), "the approval")
        assert highlighted_id(app) == second
        assert console.check_action("approve", ()) is True  # approve, approve, approve…
        assert "The highlighted action left" not in [t for _, t, _ in toasts(app)]
