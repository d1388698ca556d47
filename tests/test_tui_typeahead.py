"""Keys that arrive together (a fast typist over SSH, a laggy link delivering several
keystrokes in one read, a paste) reach the app back to back, before it has handled the
first. Whatever the first key opens must take the rest: "/apt" is a filter, never an
approval of the highlighted action."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from textual import events
from textual.keys import _character_to_key

from db_targets import DbTarget
from homelab_approvals.domain.views import ActionPage
from homelab_approvals.service import ActionQuery, ApprovalService
from homelab_approvals.tui.help import HelpScreen
from tui_support import (
    frozen_clock,
    highlighted_id,
    run_async,
    running,
    screen,
    wait_until,
)

pytestmark = pytest.mark.backends


def arrive_together(app: Any, text: str) -> None:
    """Post the keys of `text` as the terminal driver does for one read: all queued
    before the app handles any of them."""
    for character in text:
        app.post_message(events.Key(_character_to_key(character), character))


def decisions_started(app: Any) -> int:
    return sum(1 for worker in app.workers if worker.group == "decide")


@run_async
async def test_a_filter_typed_fast_goes_into_the_filter(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        first = highlighted_id(app)
        assert first is not None
        field = screen(app).filter_input
        arrive_together(app, "/apt")
        await wait_until(pilot, lambda: field.value == "apt", "the keys after / in the field")
        assert field.has_focus
        assert decisions_started(app) == 0
        assert demo.get_action(first).status == "pending"


@run_async
async def test_help_typed_ahead_of_a_key_takes_that_key(demo: ApprovalService) -> None:
    async with running(demo) as (app, pilot):
        first = highlighted_id(app)
        assert first is not None
        arrive_together(app, "?a")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await pilot.press("escape")  # the help closes: every key before it was handled
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")
        assert decisions_started(app) == 0
        assert demo.get_action(first).status == "pending"


class SlowToList(ApprovalService):
    """The real service, whose reads of rows wait while `gate` is closed: a Pi under
    load, or a big database, between a new filter and its rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.gate.set()

    def list_actions(self, query: ActionQuery | None = None) -> ActionPage:
        self.gate.wait(30)
        return super().list_actions(query)


@run_async
async def test_a_decision_waits_for_the_rows_a_new_filter_asked_for(
    demo_target: DbTarget,
) -> None:
    service = SlowToList(demo_target.open(), clock=frozen_clock)
    try:
        async with running(service) as (app, pilot):
            console = screen(app)
            before = highlighted_id(app)
            assert before is not None
            service.gate.clear()
            await pilot.press("slash", *"unbound", "enter")
            await wait_until(pilot, lambda: console.table.has_focus, "the filter applied")
            assert console.view_changing  # its rows are on their way
            assert console.check_action("approve", ()) is None
            await pilot.press("a")  # meant for the row the filter will bring, not `before`
            assert decisions_started(app) == 0
            service.gate.set()
            await wait_until(pilot, lambda: not console.view_changing, "the filtered rows")
            assert highlighted_id(app) != before  # the filter brought other rows
            assert console.check_action("approve", ()) is True
            assert service.get_action(before).status == "pending"
    finally:
        service.db.close()
