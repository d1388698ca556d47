"""Live refresh under bursts of writes, on real databases of both backends: a window
others commit into while it is being read is read again before it is shown, the UI
applies only the newest window it was sent, and rows that did not change reach the table
as the same objects."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.message import Message

from db_targets import DbTarget
from homelab_approvals.domain.enums import ActionStatus, ActionType
from homelab_approvals.domain.views import ActionPage
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.tui.live import ActionsFetched, LiveFeed
from homelab_approvals.tui.topbar import TopBar
from tui_support import (
    frozen_clock,
    other_connection,
    rows,
    run_async,
    running,
    screen,
    wait_until,
)

PENDING = ActionQuery(statuses=(ActionStatus.PENDING,), limit=50)

pytestmark = pytest.mark.backends


def pending_ids(service: ApprovalService) -> list[int]:
    return [view.id for view in service.list_actions(PENDING).rows]


def test_a_window_others_committed_into_while_it_was_read_is_read_again(
    demo_target: DbTarget, demo: ApprovalService
) -> None:
    ids = pending_ids(demo)
    reads: list[ActionPage] = []
    with other_connection(demo_target) as other:

        class CommittedIntoDuringItsFirstRead(ApprovalService):
            """The real service; someone else commits just after its first read."""

            def list_actions(self, query: ActionQuery | None = None) -> ActionPage:
                page = super().list_actions(query)
                reads.append(page)
                if len(reads) == 1:
                    other.approve(ids[0], "bob")
                return page

        racing = CommittedIntoDuringItsFirstRead(demo_target.open(), clock=frozen_clock)
        feed = LiveFeed(racing, PENDING, frozen_clock, interval=0.01)
        posted: list[object] = []

        def post(message: object) -> None:
            posted.append(message)
            feed.stop()  # one window is all this test needs

        try:
            feed.run(post, lambda: False)
        finally:
            racing.db.close()
    assert len(reads) == 2
    assert len(posted) == 1  # the stale first read was never shown
    (message,) = posted
    assert isinstance(message, ActionsFetched)
    assert [view.id for view in message.page.rows] == ids[1:]


def test_rows_that_did_not_change_are_passed_on_as_the_same_objects(
    demo_target: DbTarget, demo: ApprovalService
) -> None:
    everything = ActionQuery()
    feed = LiveFeed(demo, everything, frozen_clock)
    posted: list[ActionsFetched] = []

    def post(message: Message) -> None:
        assert isinstance(message, ActionsFetched)
        posted.append(message)

    feed.post_window(post, feed.current, demo.list_actions(everything))
    decided = pending_ids(demo)[0]
    with other_connection(demo_target) as other:
        other.approve(decided, "bob")
    feed.post_window(post, feed.current, demo.list_actions(everything))
    first, second = posted
    assert second.sequence == feed.latest_sequence == (first.sequence or 0) + 1
    before = {view.id: view for view in first.page.rows}
    assert {view.id for view in second.page.rows} == set(before)
    for view in second.page.rows:
        if view.id == decided:
            assert view.status == ActionStatus.APPROVED
            assert view is not before[view.id]
        else:
            assert view is before[view.id]  # equal: handed on as the very same object


@run_async
async def test_only_the_newest_window_sent_is_applied(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        console = screen(app)
        feed = console.feed
        page = demo.list_actions(feed.current.query)
        older = replace(page, rows=page.rows[1:])
        newer = replace(page, rows=page.rows[3:])
        before = console.refreshes
        # Both arrive before the UI gets to either (it runs this test): the older one is
        # superseded, and must not be applied, neither first nor after the newer one.
        feed.post_window(console.post_message, feed.current, newer)
        console.post_message(ActionsFetched(feed.current, older, console.now, sequence=1))
        feed.post_window(console.post_message, feed.current, older)
        feed.post_window(console.post_message, feed.current, newer)
        await wait_until(pilot, lambda: console.refreshes > before, "a refresh")
        await pilot.pause()
        assert rows(app) == [view.id for view in newer.rows]
        assert console.refreshes == before + 1


@run_async
async def test_a_burst_of_commits_from_another_connection_ends_in_the_right_table(
    demo_target: DbTarget, demo: ApprovalService
) -> None:
    ids = pending_ids(demo)
    async with running(demo) as (app, pilot):
        console = screen(app)
        console.table.select_id(ids[-1])
        with other_connection(demo_target) as other:
            for number, action_id in enumerate(ids[:-2]):
                other.approve(action_id, "bob")
                if number % 4 == 0:
                    other.create_action(
                        "pi-4", ActionType.RESTART_SERVICE, f"unit-{number}", actor="cron"
                    )
        expected = pending_ids(demo)
        await wait_until(pilot, lambda: rows(app) == expected, "the table after the burst")
        assert console.query_one(TopBar).pending == len(expected)
        assert console.table.highlighted_id == ids[-1]  # the cursor stayed on its action
